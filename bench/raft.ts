/**
 * Raft commit benchmark: Weft's multi-Raft host (3 processes, real WAL fdatasync, TCP on
 * loopback) against a 3-member etcd cluster (Debian's etcd-server) on the same machine in the
 * same run, same value size and concurrency. Then the idle cost of 1,000 groups per process.
 *
 *   npm run build && node dist/bench/raft.js [--seconds 5] [--concurrency 1,64,1024] [--idle-groups 1000] [--idle-only] [--skip-etcd]
 *
 * Honest caveat printed with the results: Weft's proposers run inside the leader process
 * (no client RPC hop); etcd is driven by the etcd3 gRPC client from this process.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { fmt, percentiles } from './stats';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,64,1024' },
    'idle-groups': { type: 'string', default: '1000' },
    'skip-etcd': { type: 'boolean', default: false },
    'idle-only': { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
const LEVELS = args.concurrency.split(',').map(Number);
const IDLE_GROUPS = Number(args['idle-groups']);
const VALUE_BYTES = 128;

interface LoadResult {
  ops: number;
  secs: number;
  errors: number;
  latencies: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function request<T>(child: ChildProcess, msg: object): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(msg);
  });
}

async function startWeft(groups: number, basePort: number, quiesce = true): Promise<{ nodes: ChildProcess[]; dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-raft-'));
  const ids = [1, 2, 3];
  const peers = ids.map((id) => `${id}=${basePort + id}`).join(',');
  const nodes = ids.map((id) =>
    fork(path.join(__dirname, 'raft-node.js'), [String(id), path.join(dir, `n${id}`), String(basePort + id), peers, String(groups)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, WEFT_RAFT_QUIESCE: quiesce ? '1' : '0' },
    }),
  );
  await Promise.all(nodes.map((n) => new Promise((r) => n.once('message', r))));
  return { nodes, dir };
}

async function stopAll(nodes: ChildProcess[]): Promise<void> {
  await Promise.all(
    nodes.map(
      (n) =>
        new Promise<void>((resolve) => {
          if (n.exitCode !== null) return resolve();
          n.once('exit', () => resolve());
          n.send({ cmd: 'stop' });
          setTimeout(() => n.kill('SIGKILL'), 10000).unref();
        }),
    ),
  );
}

async function leaderOf(nodes: ChildProcess[], group: number, timeoutMs = 30000): Promise<ChildProcess> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const n of nodes) {
      const st = await request<{ leaders: number[] }>(n, { cmd: 'status' });
      if (st.leaders.includes(group)) return n;
    }
    await sleep(100);
  }
  throw new Error(`no leader for group ${group} within ${timeoutMs} ms`);
}

async function benchWeft(): Promise<Map<number, LoadResult>> {
  const { nodes, dir } = await startWeft(1, 27100);
  const out = new Map<number, LoadResult>();
  try {
    const leader = await leaderOf(nodes, 1);
    await request(leader, { cmd: 'run', group: 1, concurrency: 16, durationMs: 1000, valueBytes: VALUE_BYTES }); // warm-up
    for (const c of LEVELS) out.set(c, await request<LoadResult>(leader, { cmd: 'run', group: 1, concurrency: c, durationMs: SECONDS * 1000, valueBytes: VALUE_BYTES }));
  } finally {
    await stopAll(nodes);
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function benchEtcd(): Promise<Map<number, LoadResult>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-etcd-'));
  const names = ['e1', 'e2', 'e3'];
  const client = (i: number) => `http://127.0.0.1:${23790 + i}`;
  const peer = (i: number) => `http://127.0.0.1:${23800 + i}`;
  const cluster = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  const procs = names.map((name, i) =>
    spawn('etcd', [
      '--name', name, '--data-dir', path.join(dir, name),
      '--listen-client-urls', client(i), '--advertise-client-urls', client(i),
      '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i),
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'weft-bench',
      '--log-level', 'error',
    ], { stdio: ['ignore', 'ignore', 'inherit'] }),
  );
  const etcd = new Etcd3({ hosts: names.map((_, i) => client(i)) });
  const out = new Map<number, LoadResult>();
  try {
    const end = Date.now() + 30000;
    for (;;) {
      try {
        await etcd.put('warmup').value('x');
        break;
      } catch (e) {
        if (Date.now() > end) throw e;
        await sleep(200);
      }
    }
    const value = Buffer.alloc(VALUE_BYTES, 0x61);
    for (const c of LEVELS) {
      const lat: number[] = [];
      let errors = 0;
      const stopAt = performance.now() + SECONDS * 1000;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: c }, async (_, w) => {
          let k = 0;
          while (performance.now() < stopAt) {
            const s = performance.now();
            try {
              await etcd.put(`k${w}-${k++ % 100}`).value(value);
              lat.push(performance.now() - s);
            } catch {
              errors++;
            }
          }
        }),
      );
      out.set(c, { ops: lat.length, secs: (performance.now() - t0) / 1000, errors, latencies: lat });
    }
  } finally {
    etcd.close();
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function benchIdle(quiesce: boolean): Promise<{ cpuPercent: number; rssMiB: number }[]> {
  const { nodes, dir } = await startWeft(IDLE_GROUPS, 27200, quiesce);
  try {
    // Let every group elect a leader and settle.
    const end = Date.now() + 60000;
    for (;;) {
      const st = await Promise.all(nodes.map((n) => request<{ leaders: number[] }>(n, { cmd: 'status' })));
      if (st.reduce((a, s) => a + s.leaders.length, 0) >= IDLE_GROUPS || Date.now() > end) break;
      await sleep(500);
    }
    await sleep(3000);
    return await Promise.all(nodes.map((n) => request<{ cpuPercent: number; rssMiB: number }>(n, { cmd: 'idle', ms: 10000 })));
  } finally {
    await stopAll(nodes);
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(name: string, c: number, r: LoadResult | undefined): string {
  if (!r) return `| ${name} | ${c} | n/a | | | | |`;
  const p = percentiles(r.latencies);
  return `| ${name} | ${c} | ${fmt(r.ops / r.secs, 0)} | ${fmt(p.p50, 2)} | ${fmt(p.p95, 2)} | ${fmt(p.p99, 2)} | ${r.errors} |`;
}

async function main(): Promise<void> {
  if (!args['idle-only']) await benchCommits();
  if (IDLE_GROUPS > 0) {
    for (const quiesce of [false, true]) {
      const idle = await benchIdle(quiesce);
      process.stdout.write(
        `\nidle: ${IDLE_GROUPS} groups × 3 replicas over 3 processes (tick 100 ms, heartbeat every tick), quiescence ${quiesce ? 'on' : 'off'}\n`,
      );
      idle.forEach((r, i) => process.stdout.write(`  node ${i + 1}: ${fmt(r.cpuPercent)}% of one core, RSS ${fmt(r.rssMiB, 0)} MiB\n`));
    }
  }
}

async function benchCommits(): Promise<void> {
  process.stdout.write(`raft bench: ${VALUE_BYTES}-byte entries, ${SECONDS}s per level, concurrency ${LEVELS.join('/')}\n`);
  const weft = await benchWeft();
  const etcd = args['skip-etcd'] ? new Map<number, LoadResult>() : await benchEtcd();
  const lines = ['| system | concurrency | commits/s | p50 ms | p95 ms | p99 ms | errors |', '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const c of LEVELS) {
    lines.push(row('Weft raft', c, weft.get(c)));
    lines.push(row('etcd 3.4', c, etcd.get(c)));
  }
  lines.push('', '| concurrency | Weft/etcd throughput | Weft/etcd p99 |', '| --- | --- | --- |');
  for (const c of LEVELS) {
    const w = weft.get(c);
    const e = etcd.get(c);
    if (!w || !e) continue;
    lines.push(`| ${c} | ${fmt(w.ops / w.secs / (e.ops / e.secs), 2)}× | ${fmt(percentiles(w.latencies).p99 / percentiles(e.latencies).p99, 2)}× |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/raft: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
