// Kafka mirror benchmark: the same insert load on `weft demo` three times in one run — without
// Kafka, with the nodes mirroring every shard's log to Kafka (WEFT_KAFKA_BROKERS on the nodes),
// and with `--kafka` (mirror + the materializer and the CDC service applying the topics; the mode
// is named "mirror+materializer") — so the write throughput
// with the mirror on vs off is the cost of going public. With the mirror on it also reports
// the mirror's own throughput (entries/s, MB/s of entry bytes, from the nodes' GET /mirror), the
// largest backlog seen during the load, and how long the mirror took to drain it afterwards.
// Not part of CI; needs a broker (npm run kafka:start).
//
// Run: npm run build && node dist/bench/mirror.js
// Env: BENCH_KAFKA (default 127.0.0.1:9092), BENCH_SECONDS (default 20), BENCH_CLIENTS
//      (default 16), BENCH_SHARDS (default 4), BENCH_MODES (default "off,mirror,mirror+materializer").

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { devPorts, PORT_SPAN } from '../apps/cli/src/dev-cluster';
import { fmt, percentiles } from './stats';

const ROOT = path.resolve(__dirname, '..', '..');
const KAFKA = process.env.BENCH_KAFKA ?? '127.0.0.1:9092';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 4);
const MODES = (process.env.BENCH_MODES ?? 'off,mirror,mirror+materializer').split(',').map((s) => s.trim());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ShardView {
  shardId: number;
  state: string;
  mirroredIndex: number;
  appliedIndex: number;
  backlogEntries: number;
  entriesProduced: number;
  bytesProduced: number;
}

const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });

async function freeBlock(): Promise<number> {
  for (;;) {
    const base = 20_000 + PORT_SPAN * Math.floor(Math.random() * Math.floor(12_000 / PORT_SPAN));
    let ok = true;
    for (let p = base; ok && p < base + PORT_SPAN; p++) ok = await bindable(p);
    if (ok) return base;
  }
}

async function startDemo(mode: string, prefix: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freeBlock();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'weft-bench-mirror-'));
  const args = ['demo', '--port', String(port), '--data', dataDir, '--shards', String(SHARDS)];
  if (mode === 'mirror+materializer') args.push('--kafka', KAFKA);
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG_LEVEL: 'warn', WEFT_KAFKA_TOPIC_PREFIX: prefix };
  if (mode === 'mirror') env.WEFT_KAFKA_BROKERS = KAFKA; // the nodes mirror; no materializer
  else if (mode === 'off') delete env.WEFT_KAFKA_BROKERS;
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const until = Date.now() + 90_000;
  for (;;) {
    const c = new Client({ host: '127.0.0.1', port, user: 'weft', database: 'weft', connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch {
      await c.end().catch(() => undefined);
      if (Date.now() > until || child.exitCode !== null) {
        await stop();
        throw new Error(`weft demo (${mode}) did not answer SQL`);
      }
      await sleep(300);
    }
  }
  return { port, stop };
}

async function mirrorViews(pgPort: number): Promise<ShardView[]> {
  const p = devPorts(pgPort);
  const all = await Promise.all(
    [1, 2, 3].map(async (id) => {
      const res = await fetch(`http://127.0.0.1:${p.http(id)}/mirror`);
      return ((await res.json()) as { shards?: ShardView[] }).shards ?? [];
    }),
  );
  return all.flat();
}
const produced = (v: ShardView[]) => v.reduce((a, s) => ({ entries: a.entries + s.entriesProduced, bytes: a.bytes + s.bytesProduced }), { entries: 0, bytes: 0 });
const maxBacklog = (v: ShardView[]) => Math.max(0, ...v.filter((s) => s.state === 'mirroring').map((s) => s.backlogEntries));

interface Result {
  mode: string;
  tps: number;
  p50: number;
  p99: number;
  errors: number;
  mirrorEntriesPerSec?: number;
  mirrorMBPerSec?: number;
  maxBacklog?: number;
  drainMs?: number;
}

async function runMode(mode: string): Promise<Result> {
  const demo = await startDemo(mode, `bench${Date.now().toString(36)}`);
  try {
    const setup = new Client({ host: '127.0.0.1', port: demo.port, user: 'weft', database: 'weft' });
    await setup.connect();
    await setup.query('CREATE TABLE bench_rows (id bigint PRIMARY KEY, v text)');
    await setup.end();
    const mirrored = mode !== 'off';
    // Let every shard's mirror take over before measuring.
    if (mirrored) for (let i = 0; i < 100 && (await mirrorViews(demo.port)).filter((s) => s.state === 'mirroring').length < SHARDS; i++) await sleep(200);
    const lat: number[] = [];
    let errors = 0;
    let backlog = 0;
    const before = mirrored ? produced(await mirrorViews(demo.port)) : undefined;
    const t0 = Date.now();
    const end = t0 + SECONDS * 1000;
    const sampler = mirrored
      ? (async () => {
          while (Date.now() < end) {
            backlog = Math.max(backlog, maxBacklog(await mirrorViews(demo.port)));
            await sleep(500);
          }
        })()
      : Promise.resolve();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, ci) => {
        const c = new Client({ host: '127.0.0.1', port: demo.port, user: 'weft', database: 'weft' });
        await c.connect();
        let n = 0;
        while (Date.now() < end) {
          const s = process.hrtime.bigint();
          try {
            await c.query({ name: 'ins', text: 'INSERT INTO bench_rows VALUES ($1, $2)', values: [ci * 1_000_000_000 + n++, 'x'.repeat(100)] });
            lat.push(Number(process.hrtime.bigint() - s) / 1e6);
          } catch {
            errors++;
          }
        }
        await c.end();
      }),
    );
    const secs = (Date.now() - t0) / 1000;
    await sampler;
    const r: Result = { mode, tps: lat.length / secs, ...pick(percentiles(lat)), errors };
    if (mirrored && before) {
      const after = produced(await mirrorViews(demo.port));
      r.mirrorEntriesPerSec = (after.entries - before.entries) / secs;
      r.mirrorMBPerSec = (after.bytes - before.bytes) / secs / 1e6;
      r.maxBacklog = backlog;
      const t1 = Date.now();
      while (Date.now() - t1 < 120_000) {
        const v = await mirrorViews(demo.port);
        if (v.filter((s) => s.state === 'mirroring').every((s) => s.mirroredIndex >= s.appliedIndex - 2)) break;
        await sleep(100);
      }
      r.drainMs = Date.now() - t1;
    }
    return r;
  } finally {
    await demo.stop();
  }
}
const pick = (p: { p50: number; p99: number }) => ({ p50: p.p50, p99: p.p99 });

async function main(): Promise<void> {
  if (MODES.some((m) => m !== 'off')) {
    try {
      execFileSync(process.execPath, [path.join(ROOT, 'tools/kafka/wait-ready.js'), KAFKA, '3000'], { stdio: 'ignore' });
    } catch {
      throw new Error(`no Kafka broker answers on ${KAFKA}: npm run kafka:start (or set BENCH_KAFKA)`);
    }
  }
  const results: Result[] = [];
  for (const m of MODES) {
    if (!['off', 'mirror', 'mirror+materializer'].includes(m)) throw new Error(`BENCH_MODES: unknown mode ${m}`);
    process.stderr.write(`mirror bench: ${m}...\n`);
    results.push(await runMode(m));
  }
  const base = results.find((r) => r.mode === 'off');
  process.stdout.write(`Insert load: ${CLIENTS} clients, single-row autocommit INSERT (100-byte value), ${SECONDS} s, weft demo with ${SHARDS} shards\n\n`);
  process.stdout.write('| mode | inserts/s | vs off | p50 ms | p99 ms | errors | mirror entries/s | mirror MB/s | max backlog | drain ms |\n|---|---|---|---|---|---|---|---|---|---|\n');
  for (const r of results) {
    process.stdout.write(
      `| ${r.mode} | ${fmt(r.tps, 0)} | ${base ? fmt(r.tps / base.tps, 2) + 'x' : '-'} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.errors} | ` +
        `${r.mirrorEntriesPerSec === undefined ? '-' : fmt(r.mirrorEntriesPerSec, 0)} | ${r.mirrorMBPerSec === undefined ? '-' : fmt(r.mirrorMBPerSec, 3)} | ` +
        `${r.maxBacklog ?? '-'} | ${r.drainMs ?? '-'} |\n`,
    );
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`mirror bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
