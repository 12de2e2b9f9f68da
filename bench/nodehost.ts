/**
 * What hosting many shards costs a node process with the current layout (one RocksDB per shard
 * replica, one WAL and one Raft transport per node): for each shard count, three real
 * `weft-node` processes (WEFT_SHARD_COUNT=N, every node a replica of every shard) on loopback —
 * start-up time (spawn to /health, and to a leader for every shard), idle CPU, RSS, threads,
 * open files and disk of each process, and the restart time of one node. Then the storage part
 * alone: N empty MvccStores opened in one process (N = 1 is what one RocksDB per node costs).
 *
 *   npm run build && node dist/bench/nodehost.js [--shards 1,16,64] [--idle-seconds 30] [--settle-seconds 5] [--stores 1,16,64]
 *
 * Reads /proc (Linux only). Prints the load average next to the numbers: on a shared machine
 * idle CPU is only meaningful when nothing else runs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RemoteShardKv } from '@weft/kvrpc';
import { MvccStore } from '@weft/storage';
import { fmt } from './stats';

const { values: args } = parseArgs({
  options: {
    shards: { type: 'string', default: '1,16,64' },
    'idle-seconds': { type: 'string', default: '30' },
    'settle-seconds': { type: 'string', default: '5' },
    stores: { type: 'string', default: '1,16,64' },
    /** Internal: the child process of the storage-only part. */
    'child-stores': { type: 'string' },
    dir: { type: 'string' },
  },
});

const NODE_MAIN = path.join(__dirname, '..', 'apps', 'node', 'src', 'main.js');
const IDS = [1, 2, 3];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(p));
    });
  });
}

// ------------------------------------------------------------------ /proc sampling

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU seconds the process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

interface ProcStats {
  readonly rssMiB: number;
  readonly threads: number;
  readonly fds: number;
}

function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: field('VmRSS') / 1024, threads: field('Threads'), fds: readdirSync(`/proc/${pid}/fd`).length };
}

function duMiB(dir: string): number {
  return Number(execFileSync('du', ['-sk', dir]).toString().split('\t')[0]) / 1024;
}

// ------------------------------------------------------------------ node cluster

interface Ports {
  readonly http: number;
  readonly metrics: number;
  readonly raft: number;
  readonly kv: number;
}

class Cluster {
  readonly procs = new Map<number, ChildProcess>();
  readonly ports = new Map<number, Ports>();
  readonly dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-nodehost-'));
  clients: RemoteShardKv[] = [];
  /** Per node: NodeHost.start() in ms as the node logs it (without the NestJS boot), latest start. */
  readonly hostStartMs = new Map<number, number>();

  constructor(readonly shards: number) {}

  async allocate(): Promise<void> {
    for (const id of IDS) this.ports.set(id, { http: await freePort(), metrics: await freePort(), raft: await freePort(), kv: await freePort() });
    this.clients = Array.from(
      { length: this.shards },
      (_, i) => new RemoteShardKv({ shardId: i + 1, replicas: IDS.map((nodeId) => ({ nodeId, host: '127.0.0.1', port: (this.ports.get(nodeId) as Ports).kv })), requestTimeoutMs: 3000 }),
    );
  }

  /** Spawns node `id`; resolves with ms from spawn to /health answering 200. */
  async start(id: number): Promise<number> {
    const p = this.ports.get(id) as Ports;
    const t0 = Date.now();
    const child = spawn(process.execPath, [NODE_MAIN], {
      env: {
        ...process.env,
        WEFT_NODE_ID: String(id),
        WEFT_DATA_DIR: path.join(this.dir, `node-${id}`),
        WEFT_HTTP_PORT: String(p.http),
        WEFT_METRICS_PORT: String(p.metrics),
        WEFT_RAFT_PORT: String(p.raft),
        WEFT_KV_PORT: String(p.kv),
        WEFT_RAFT_PEERS: [...this.ports].map(([n, q]) => `${n}@127.0.0.1:${q.raft}`).join(','),
        WEFT_SHARD_COUNT: String(this.shards),
        WEFT_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.procs.set(id, child);
    let buf = '';
    child.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.includes('shard replicas started')) continue;
        const m = /"startMs":(\d+)/.exec(line);
        if (m) this.hostStartMs.set(id, Number(m[1]));
      }
    });
    for (;;) {
      if (child.exitCode !== null) throw new Error(`node ${id} exited with ${child.exitCode}`);
      try {
        const r = await fetch(`http://127.0.0.1:${p.http}/health`);
        if (r.status === 200) return Date.now() - t0;
      } catch {
        // not listening yet
      }
      if (Date.now() - t0 > 300_000) throw new Error(`node ${id}: no /health in 300 s`);
      await sleep(25);
    }
  }

  /** Waits until every shard has a replica that reports itself leader. */
  async leaders(): Promise<void> {
    const pending = new Set(this.clients.keys());
    const end = Date.now() + 300_000;
    while (pending.size > 0) {
      if (Date.now() > end) throw new Error(`${pending.size} shards without a leader after 300 s`);
      for (const i of [...pending]) {
        for (const id of IDS) {
          const s = await this.clients[i].replicaStatus(id).catch(() => undefined);
          if (s && s.leader === s.nodeId) {
            pending.delete(i);
            break;
          }
        }
      }
      if (pending.size > 0) await sleep(50);
    }
  }

  async stopNode(id: number): Promise<void> {
    const c = this.procs.get(id);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all(IDS.map((id) => this.stopNode(id)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface NodeRow {
  shards: number;
  healthMs: number[];
  hostStartMs: number[];
  restartHostStartMs: number;
  leadersMs: number;
  cpuPct: number[];
  stats: ProcStats[];
  diskMiB: number[];
  restartHealthMs: number;
  restartLeadersMs: number;
  load: string;
}

async function measureNodes(shards: number, settleS: number, idleS: number): Promise<NodeRow> {
  const c = new Cluster(shards);
  await c.allocate();
  try {
    const t0 = Date.now();
    const healthMs = await Promise.all(IDS.map((id) => c.start(id)));
    const hostStartMs = IDS.map((id) => c.hostStartMs.get(id) ?? NaN);
    await c.leaders();
    const leadersMs = Date.now() - t0;
    await sleep(settleS * 1000);
    const pids = IDS.map((id) => c.procs.get(id)?.pid as number);
    const cpu0 = pids.map(cpuSeconds);
    const w0 = Date.now();
    await sleep(idleS * 1000);
    const wall = (Date.now() - w0) / 1000;
    const cpuPct = pids.map((pid, i) => ((cpuSeconds(pid) - cpu0[i]) / wall) * 100);
    const stats = pids.map(procStats);
    const l = load();
    const diskMiB = IDS.map((id) => duMiB(path.join(c.dir, `node-${id}`)));
    // A clean restart of one node: WAL recovery, every RocksDB reopened, one restart hold-off.
    await c.stopNode(1);
    const r0 = Date.now();
    const restartHealthMs = await c.start(1);
    await c.leaders();
    const restartLeadersMs = Date.now() - r0;
    return { shards, healthMs, hostStartMs, restartHostStartMs: c.hostStartMs.get(1) ?? NaN, leadersMs, cpuPct, stats, diskMiB, restartHealthMs, restartLeadersMs, load: l };
  } finally {
    await c.close();
  }
}

// ------------------------------------------------------------------ storage only

interface StoreRow {
  stores: number;
  openMs: number;
  rssBeforeMiB: number;
  rssMiB: number;
  threads: number;
  fds: number;
  idleCpuPct: number;
  diskMiB: number;
}

/** In a child: opens `n` empty MvccStores, idles, reports. */
async function childStores(n: number, dir: string): Promise<void> {
  const before = procStats(process.pid);
  const t0 = process.hrtime.bigint();
  const stores: MvccStore[] = [];
  for (let i = 0; i < n; i++) {
    const d = path.join(dir, `shard-${i + 1}`);
    mkdirSync(d, { recursive: true });
    stores.push(await MvccStore.open(d));
  }
  const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await sleep(2000);
  const c0 = cpuSeconds(process.pid);
  await sleep(10_000);
  const idleCpuPct = ((cpuSeconds(process.pid) - c0) / 10) * 100;
  const s = procStats(process.pid);
  const row: StoreRow = { stores: n, openMs, rssBeforeMiB: before.rssMiB, rssMiB: s.rssMiB, threads: s.threads, fds: s.fds, idleCpuPct, diskMiB: duMiB(dir) };
  for (const st of stores) await st.close();
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

function measureStores(n: number): Promise<StoreRow> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-stores-'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--child-stores', String(n), '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.once('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`store child exited ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() as string) as StoreRow);
    });
  });
}

// ------------------------------------------------------------------ main

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const range = (xs: number[], d = 1): string => `${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)}`;

async function main(): Promise<void> {
  if (args['child-stores']) {
    await childStores(Number(args['child-stores']), args.dir as string);
    return;
  }
  const settleS = Number(args['settle-seconds']);
  const idleS = Number(args['idle-seconds']);
  process.stdout.write(`nodehost bench: ${new Date().toISOString()}, load average at start ${load()}\n\n`);
  process.stdout.write(
    `Three weft-node processes, every node a replica of shards 1..N (one RocksDB per shard). Idle = no client traffic, ${idleS} s after ${settleS} s settling; per process, min–max of the three.\n\n`,
  );
  process.stdout.write(
    'NodeHost.start = what the node logs (WAL, transport, every RocksDB opened, KV listening, groups joined), without the NestJS boot; a restart includes the one restart hold-off (2 s).\n\n',
  );
  process.stdout.write(
    '| shards | spawn→/health ms | NodeHost.start ms | spawn→all leaders ms | idle CPU % of a core | RSS MiB | threads | open fds | disk MiB (while open) | restart: NodeHost.start / →/health / →leaders ms | load avg (1/5/15) |\n',
  );
  process.stdout.write('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n');
  for (const n of args.shards.split(',').map(Number)) {
    const r = await measureNodes(n, settleS, idleS);
    process.stdout.write(
      `| ${n} | ${range(r.healthMs, 0)} | ${range(r.hostStartMs, 0)} | ${r.leadersMs} | ${range(r.cpuPct, 2)} (mean ${fmt(mean(r.cpuPct), 2)}) | ${range(r.stats.map((s) => s.rssMiB))} | ${range(
        r.stats.map((s) => s.threads),
        0,
      )} | ${range(r.stats.map((s) => s.fds), 0)} | ${range(r.diskMiB)} | ${r.restartHostStartMs} / ${r.restartHealthMs} / ${r.restartLeadersMs} | ${r.load} |\n`,
    );
  }
  process.stdout.write(`\nStorage alone: N empty MvccStores (RocksDB, 64 MiB block cache each, level compaction) opened in one process; idle 10 s.\n\n`);
  process.stdout.write('| stores | open ms | RSS MiB (before → after) | threads | open fds | idle CPU % | disk MiB | load avg |\n');
  process.stdout.write('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n');
  for (const n of args.stores.split(',').map(Number)) {
    const r = await measureStores(n);
    process.stdout.write(`| ${n} | ${fmt(r.openMs, 0)} | ${fmt(r.rssBeforeMiB)} → ${fmt(r.rssMiB)} | ${r.threads} | ${r.fds} | ${fmt(r.idleCpuPct, 2)} | ${fmt(r.diskMiB)} | ${load()} |\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`nodehost bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
