/**
 * Shard replica benchmark: three `weft-node` processes on loopback (real WAL with fdatasync,
 * RocksDB materializer, Raft transport) form one 3-replica shard; a RemoteShardKv client in this
 * process proposes 1PC commit entries (one 100-byte put each) through the KV RPC with a fixed
 * number in flight, and measures committed writes/s and latency (request → apply outcome).
 *
 *   npm run build && node dist/bench/shard.js [--seconds 5] [--concurrency 1,16,64]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RemoteShardKv } from '@weft/kvrpc';
import type { CommitEntry } from '@weft/logentry';
import { fmt, percentiles } from './stats';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(p));
    });
  });
}

async function waitHealthy(port: number): Promise<void> {
  const end = Date.now() + 30000;
  while (Date.now() < end) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node on http port ${port} did not become healthy`);
}

async function main(): Promise<void> {
  const seconds = Number(arg('seconds', '5'));
  const levels = arg('concurrency', '1,16,64').split(',').map(Number);
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-shard-'));
  const entry = path.join(__dirname, '..', 'apps/node/src/main.js');
  const ports = new Map<number, { http: number; raft: number; kv: number; metrics: number }>();
  for (const id of [1, 2, 3]) ports.set(id, { http: await freePort(), raft: await freePort(), kv: await freePort(), metrics: await freePort() });
  const peers = [...ports].map(([id, p]) => `${id}@127.0.0.1:${p.raft}`).join(',');
  const procs: ChildProcess[] = [];
  try {
    for (const [id, p] of ports) {
      procs.push(
        spawn(process.execPath, [entry], {
          env: {
            ...process.env,
            WEFT_NODE_ID: String(id),
            WEFT_DATA_DIR: path.join(dir, `node-${id}`),
            WEFT_HTTP_PORT: String(p.http),
            WEFT_METRICS_PORT: String(p.metrics),
            WEFT_RAFT_PORT: String(p.raft),
            WEFT_KV_PORT: String(p.kv),
            WEFT_RAFT_PEERS: peers,
            WEFT_LOG_LEVEL: 'warn',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    }
    for (const p of ports.values()) await waitHealthy(p.http);
    const kv = new RemoteShardKv({ shardId: 1, replicas: [...ports].map(([nodeId, p]) => ({ nodeId, host: '127.0.0.1', port: p.kv })) });
    const value = Buffer.alloc(100, 7);
    let seq = 0;
    const commit = (readTs: bigint): CommitEntry => {
      const n = ++seq;
      const txnId = Buffer.alloc(16);
      txnId.writeUInt32BE(n, 12);
      return { type: 'commit', txnId, readTs, minCommitTs: 0n, reads: [], writes: [{ kind: 'put', key: Buffer.from(`bench/${n}`), value }] };
    };
    // Warm up: a leader is elected and the connections are open.
    const ts = await kv.now();
    for (let i = 0; i < 50; i++) await kv.propose(commit(ts));

    process.stdout.write('| in flight | committed writes/s | p50 ms | p95 ms | p99 ms |\n| --- | --- | --- | --- | --- |\n');
    for (const c of levels) {
      const lat: number[] = [];
      const end = Date.now() + seconds * 1000;
      let done = 0;
      const worker = async (): Promise<void> => {
        while (Date.now() < end) {
          const t0 = process.hrtime.bigint();
          const out = await kv.propose(commit(ts));
          lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
          if (out.status === 'committed') done++;
        }
      };
      const t0 = Date.now();
      await Promise.all(Array.from({ length: c }, () => worker()));
      const secs = (Date.now() - t0) / 1000;
      const p = percentiles(lat);
      process.stdout.write(`| ${c} | ${fmt(done / secs, 0)} | ${fmt(p.p50, 2)} | ${fmt(p.p95, 2)} | ${fmt(p.p99, 2)} |\n`);
    }
    kv.close();
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/shard: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
