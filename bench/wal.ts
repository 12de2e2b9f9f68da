/**
 * WAL micro-benchmark: appends of one 128-byte entry each (plus nothing else), from C
 * concurrent writers spread over many Raft groups, on the real file system with real
 * fdatasync. Reports acknowledged appends per second, fdatasyncs per second, appends per sync
 * (the group-commit factor) and p50/p99 append latency, at concurrency 1, 64 and 1024.
 *
 *   npm run build && node dist/bench/wal.js [--seconds 3] [--entry-bytes 128] [--groups 256]
 *     [--dir /path/on/the/disk/to/test] [--preallocate]
 *
 * The default directory is under the OS temp dir; point --dir at the disk you care about
 * (a tmpfs /tmp would make fdatasync free and the numbers meaningless).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EntryType } from '../libs/raft/src/types';
import { Wal } from '../libs/wal/src';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

function strArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Result {
  concurrency: number;
  ops: number;
  opsPerSec: number;
  syncsPerSec: number;
  perSync: number;
  p50: number;
  p99: number;
  syncMsAvg: number;
}

async function run(dir: string, concurrency: number, seconds: number, entryBytes: number, groups: number, preallocate: boolean): Promise<Result> {
  fs.rmSync(dir, { recursive: true, force: true });
  const wal = await Wal.open(dir, { preallocate });
  const data = Buffer.alloc(entryBytes, 0x5a);
  const next = new Array<number>(groups).fill(1);
  const latencies: number[] = [];
  let turn = 0;
  const before = wal.stats();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const g = turn++ % groups;
      const index = next[g]++;
      const start = performance.now();
      await wal.append([{ type: 'entries', group: g, entries: [{ index, term: 1, type: EntryType.Normal, data }] }]);
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  const after = wal.stats();
  await wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const sorted = Float64Array.from(latencies).sort();
  const syncs = after.syncs - before.syncs;
  return {
    concurrency,
    ops: latencies.length,
    opsPerSec: latencies.length / elapsed,
    syncsPerSec: syncs / elapsed,
    perSync: latencies.length / Math.max(1, syncs),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    syncMsAvg: (after.syncMsTotal - before.syncMsTotal) / Math.max(1, syncs),
  };
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 3);
  const entryBytes = arg('entry-bytes', 128);
  const groups = arg('groups', 256);
  const preallocate = process.argv.includes('--preallocate');
  const base = strArg('dir') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'weft-wal-bench-'));
  console.log(`wal bench: ${entryBytes}-byte entries, ${groups} groups, ${seconds}s per run, dir ${base}${preallocate ? ', preallocated' : ''}`);
  const rows: Result[] = [];
  for (const c of [1, 64, 1024]) rows.push(await run(path.join(base, `c${c}`), c, seconds, entryBytes, groups, preallocate));
  console.table(
    rows.map((r) => ({
      concurrency: r.concurrency,
      'appends/s': Math.round(r.opsPerSec),
      'syncs/s': Math.round(r.syncsPerSec),
      'appends/sync': Number(r.perSync.toFixed(1)),
      'fdatasync ms': Number(r.syncMsAvg.toFixed(2)),
      'p50 ms': Number(r.p50.toFixed(2)),
      'p99 ms': Number(r.p99.toFixed(2)),
    })),
  );
  if (!strArg('dir')) fs.rmSync(base, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
