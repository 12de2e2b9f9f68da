// Storage benchmark: MVCC store vs raw RocksDB through the same binding, in the same run, so the
// MVCC overhead is a ratio. Not part of CI. Run: npm run build && node dist/bench/storage.js
// Env: BENCH_ROWS (default 100000), BENCH_OPS (default 200000), BENCH_VERSIONS (default 3).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IndexKeySpec, MvccStore, RocksBatch, RocksDb, encodeIndexKey, encodeRow } from '@weft/storage';
import { measureSync, type SyncResult } from './stats';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const OPS = Number(process.env.BENCH_OPS ?? 200_000);
const VERSIONS = Number(process.env.BENCH_VERSIONS ?? 3);
const SCANS = Math.max(1000, Math.floor(OPS / 50));
const spec: IndexKeySpec = { tableId: 42, indexId: 1, types: ['int8'], directions: ['asc'] };

const keyOf = (i: number): Buffer => encodeIndexKey(spec, [{ type: 'int8', value: BigInt(i) }]);
const rowOf = (i: number, version: number): Buffer =>
  encodeRow([
    [1, { type: 'int8', value: BigInt(i) }],
    [2, { type: 'text', value: `customer-${i % 9973}` }],
    [3, { type: 'numeric', value: `${i}.${version}5` }],
    [4, { type: 'timestamptz', value: 700_000_000_000_000n + BigInt(i) }],
    [5, { type: 'bool', value: i % 2 === 0 }],
  ]);


// A fixed pseudo-random sequence, so both stores read the same keys in the same order.
const pick = (i: number): number => (i * 2654435761) % ROWS >>> 0;

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'weft-bench-storage-'));
  const rows: [string, SyncResult, SyncResult][] = [];
  try {
    let mvcc = await MvccStore.open(join(base, 'mvcc'));
    let raw = await RocksDb.open(join(base, 'raw'));
    const keys = Array.from({ length: ROWS }, (_, i) => keyOf(i));
    const values = Array.from({ length: VERSIONS }, (_, v) => Array.from({ length: ROWS }, (_, i) => rowOf(i, v)));

    // Writes: one atomic batch per put (what a single-row apply costs), then bulk-load the rest.
    const writeN = Math.min(OPS / 4, ROWS);
    const rawBatch = new RocksBatch();
    rows.push([
      `puts, 1 per batch (${writeN})`,
      measureSync(writeN, (i) => mvcc.put(keys[i], 1000n, values[0][i])),
      measureSync(writeN, (i) => {
        rawBatch.clear();
        rawBatch.put(keys[i], values[0][i]);
        raw.write(rawBatch);
      }),
    ]);
    const loadMvcc = (): void => {
      for (let v = 0; v < VERSIONS; v++) {
        for (let i = 0; i < ROWS; i += 100) {
          const b = mvcc.batch();
          for (let j = i; j < Math.min(ROWS, i + 100); j++) b.put(keys[j], 1000n + BigInt(v * 10), values[v][j]);
          mvcc.write(b);
        }
      }
    };
    const loadRaw = (): void => {
      for (let i = 0; i < ROWS; i += 100) {
        rawBatch.clear();
        for (let j = i; j < Math.min(ROWS, i + 100); j++) rawBatch.put(keys[j], values[VERSIONS - 1][j]);
        raw.write(rawBatch);
      }
    };
    const tm = measureSync(1, loadMvcc);
    const tr = measureSync(1, loadRaw);
    rows.push([
      `puts, 100 per batch (${ROWS * VERSIONS} mvcc / ${ROWS} raw)`,
      { opsPerSec: tm.opsPerSec * ROWS * VERSIONS },
      { opsPerSec: tr.opsPerSec * ROWS },
    ]);

    // Reopen so the data is in SST files and reads go through the block cache; then warm it.
    await mvcc.close();
    await raw.close();
    mvcc = await MvccStore.open(join(base, 'mvcc'), { cacheSize: 256 << 20 });
    raw = await RocksDb.open(join(base, 'raw'), { cacheSize: 256 << 20 });
    const latest = 1_000_000n;
    for (let i = 0; i < ROWS; i++) {
      mvcc.get(keys[i], latest);
      raw.getMany([keys[i]]);
    }

    const check = (ok: boolean): void => {
      if (!ok) throw new Error('benchmark read returned nothing');
    };
    rows.push([
      `point reads, hot, latest version (${OPS})`,
      measureSync(OPS, (i) => check(mvcc.get(keys[pick(i)], latest).kind === 'found'), true),
      measureSync(OPS, (i) => check(raw.getMany([keys[pick(i)]])[0] !== undefined), true),
    ]);
    rows.push([
      `point reads, hot, oldest of ${VERSIONS} versions (${OPS})`,
      measureSync(OPS, (i) => check(mvcc.get(keys[pick(i)], 1000n).kind === 'found'), true),
      measureSync(OPS, (i) => check(raw.getMany([keys[pick(i)]])[0] !== undefined), true),
    ]);
    const scanStart = (i: number): number => pick(i) % (ROWS - 100);
    rows.push([
      `100-row range scans (${SCANS})`,
      measureSync(
        SCANS,
        (i) => {
          const r = mvcc.scan(keys[scanStart(i)], undefined, latest, { limit: 100 });
          check(r.kind === 'rows' && r.rows.length === 100);
        },
        true,
      ),
      measureSync(
        SCANS,
        (i) => {
          const it = raw.iterator({ gte: keys[scanStart(i)] });
          try {
            check(it.next(100).rows.length === 200);
          } finally {
            it.close();
          }
        },
        true,
      ),
    ]);
    await mvcc.close();
    await raw.close();
  } finally {
    rmSync(base, { recursive: true, force: true });
  }

  const fmt = (n: number | undefined, digits = 0): string => (n === undefined ? '-' : n.toFixed(digits));
  console.log(`weft storage bench: ${ROWS} rows, ${VERSIONS} MVCC versions per key, node ${process.version}`);
  console.log(['operation'.padEnd(52), 'mvcc ops/s', 'p50 µs', 'p99 µs', ' raw ops/s', 'p50 µs', 'p99 µs', 'mvcc/raw'].join('  '));
  for (const [name, m, r] of rows) {
    console.log(
      [
        name.padEnd(52), fmt(m.opsPerSec).padStart(10), fmt(m.p50us, 1).padStart(6), fmt(m.p99us, 1).padStart(6),
        fmt(r.opsPerSec).padStart(10), fmt(r.p50us, 1).padStart(6), fmt(r.p99us, 1).padStart(6), (m.opsPerSec / r.opsPerSec).toFixed(2).padStart(8),
      ].join('  '),
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
