// Materializer benchmark: apply throughput of one replica (entries/s, writes/s), and point reads
// (hot and cold block cache) and 100-row scans served through the materializer, each next to raw
// RocksDB puts/gets through the same binding in the same run, so the MVCC + apply overhead is a
// ratio. Not part of CI. Run: npm run build && node dist/bench/materialize.js
// Env: BENCH_ROWS (default 100000), BENCH_OPS (default 100000), BENCH_ENTRIES (default 20000).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogEntry, WriteOp, encodeEntry } from '@weft/logentry';
import { Materializer } from '@weft/materialize';
import { IndexKeySpec, MvccStore, RocksBatch, RocksDb, encodeIndexKey, encodeRow } from '@weft/storage';
import { entryStream } from '../libs/materialize/src/testing/entries';
import { measureSync, type SyncResult } from './stats';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const OPS = Number(process.env.BENCH_OPS ?? 100_000);
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 20_000);
const SCANS = Math.max(500, Math.floor(OPS / 50));
const spec: IndexKeySpec = { tableId: 42, indexId: 1, types: ['int8'], directions: ['asc'] };
const keyOf = (i: number): Buffer => encodeIndexKey(spec, [{ type: 'int8', value: BigInt(i) }]);
const rowOf = (i: number, v: number): Buffer =>
  encodeRow([
    [1, { type: 'int8', value: BigInt(i) }],
    [2, { type: 'text', value: `customer-${i % 9973}` }],
    [3, { type: 'numeric', value: `${i}.${v}5` }],
    [4, { type: 'timestamptz', value: 700_000_000_000_000n + BigInt(i) }],
    [5, { type: 'bool', value: i % 2 === 0 }],
  ]);
// A fixed pseudo-random sequence so both sides touch the same keys in the same order.
const pick = (i: number): number => (i * 2654435761) % ROWS >>> 0;


const check = (ok: boolean): void => {
  if (!ok) throw new Error('benchmark operation returned an unexpected result');
};

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'weft-bench-materialize-'));
  const table: [string, SyncResult, SyncResult, string][] = [];
  let txn = 0;
  const txnId = (): Buffer => {
    const b = Buffer.alloc(16);
    b.writeUInt32BE(++txn, 12);
    return b;
  };
  try {
    let store = await MvccStore.open(join(base, 'mvcc'));
    let m = await Materializer.open(store, 1);
    let raw = await RocksDb.open(join(base, 'raw'));
    const keys = Array.from({ length: ROWS }, (_, i) => keyOf(i));
    const rows = Array.from({ length: ROWS }, (_, i) => rowOf(i, 0));
    const rawBatch = new RocksBatch();
    let index = 0;
    let ts = 1_000n;
    const apply = (e: LogEntry): void => {
      const r = m.apply(++index, encodeEntry(e));
      check(r !== 'already-applied' && r.status !== 'aborted');
    };

    // Load: 100 inserts (ifAbsent, the PK check) per entry.
    const loadEntries = Math.ceil(ROWS / 100);
    const load = measureSync(loadEntries, (e) => {
      const writes: WriteOp[] = [];
      for (let i = e * 100; i < Math.min(ROWS, e * 100 + 100); i++) writes.push({ kind: 'put', key: keys[i], value: rows[i], ifAbsent: { constraint: 't_pkey' } });
      apply({ type: 'commit', txnId: txnId(), readTs: ts, minCommitTs: 0n, reads: [], writes });
    });
    const rawLoad = measureSync(loadEntries, (e) => {
      rawBatch.clear();
      for (let i = e * 100; i < Math.min(ROWS, e * 100 + 100); i++) rawBatch.put(keys[i], rows[i]);
      raw.write(rawBatch);
    });
    table.push([`apply: insert 100 rows per entry (${loadEntries} entries)`, load, rawLoad, `${(load.opsPerSec * 100).toFixed(0)} writes/s`]);

    // Single-row updates with the read validated (the common OLTP commit).
    const n1 = Math.min(ENTRIES, ROWS);
    const upd = measureSync(n1, (i) => {
      const k = keys[pick(i)];
      ts = m.lastCommitTs;
      apply({ type: 'commit', txnId: txnId(), readTs: ts, minCommitTs: 0n, reads: [{ kind: 'point', key: k }], writes: [{ kind: 'put', key: k, value: rows[pick(i)] }] });
    }, true);
    const rawUpd = measureSync(n1, (i) => {
      rawBatch.clear();
      rawBatch.put(keys[pick(i)], rows[pick(i)]);
      raw.write(rawBatch);
    }, true);
    table.push([`apply: 1-row update, read validated (${n1})`, upd, rawUpd, `${upd.opsPerSec.toFixed(0)} writes/s`]);

    // 10-row transactions.
    const n10 = Math.floor(ENTRIES / 5);
    const upd10 = measureSync(n10, (i) => {
      const writes: WriteOp[] = [];
      for (let j = 0; j < 10; j++) writes.push({ kind: 'put', key: keys[pick(i * 10 + j)], value: rows[pick(i * 10 + j)] });
      apply({ type: 'commit', txnId: txnId(), readTs: m.lastCommitTs, minCommitTs: 0n, reads: [], writes });
    }, true);
    const rawUpd10 = measureSync(n10, (i) => {
      rawBatch.clear();
      for (let j = 0; j < 10; j++) rawBatch.put(keys[pick(i * 10 + j)], rows[pick(i * 10 + j)]);
      raw.write(rawBatch);
    }, true);
    table.push([`apply: 10-row update (${n10})`, upd10, rawUpd10, `${(upd10.opsPerSec * 10).toFixed(0)} writes/s`]);

    // A mixed random log (conflicts, 2PC, gc, closed ts) on a separate store: no raw equivalent.
    {
      const mixedStore = await MvccStore.open(join(base, 'mixed'));
      const mixed = await Materializer.open(mixedStore, 2);
      const entries = [...entryStream(1, ENTRIES, { keys: 2000 })].map(encodeEntry);
      const r = measureSync(entries.length, (i) => void mixed.apply(i + 1, entries[i]), true);
      table.push([`apply: mixed random log, 2,000 keys (${entries.length})`, r, { opsPerSec: NaN }, 'see README']);
      await mixedStore.close();
    }

    // Reads: reopen so data sits in SST files, then warm the block cache.
    await store.close();
    await raw.close();
    store = await MvccStore.open(join(base, 'mvcc'), { cacheSize: 256 << 20 });
    m = await Materializer.open(store, 1);
    raw = await RocksDb.open(join(base, 'raw'), { cacheSize: 256 << 20 });
    const latest = m.lastCommitTs;
    for (let i = 0; i < ROWS; i++) {
      m.read(keys[i], latest);
      raw.getMany([keys[i]]);
    }
    table.push([
      `point reads, hot cache (${OPS})`,
      measureSync(OPS, (i) => check(m.read(keys[pick(i)], latest) !== undefined), true),
      measureSync(OPS, (i) => check(raw.getMany([keys[pick(i)]])[0] !== undefined), true),
      '',
    ]);
    const scanStart = (i: number): number => pick(i) % (ROWS - 100);
    table.push([
      `100-row range scans, hot cache (${SCANS})`,
      measureSync(SCANS, (i) => check(m.scan(keys[scanStart(i)], keys[scanStart(i) + 100], latest, { limit: 100 }).rows.length === 100), true),
      measureSync(SCANS, (i) => {
        const it = raw.iterator({ gte: keys[scanStart(i)], lt: keys[scanStart(i) + 100] });
        try {
          check(it.next(100).rows.length === 200);
        } finally {
          it.close();
        }
      }, true),
      '',
    ]);

    // Cold: a 64 KiB block cache, so nearly every read misses it (the OS page cache is warm).
    await store.close();
    await raw.close();
    store = await MvccStore.open(join(base, 'mvcc'), { cacheSize: 64 << 10 });
    m = await Materializer.open(store, 1);
    raw = await RocksDb.open(join(base, 'raw'), { cacheSize: 64 << 10 });
    const coldOps = Math.floor(OPS / 2);
    table.push([
      `point reads, cold block cache (${coldOps})`,
      measureSync(coldOps, (i) => check(m.read(keys[pick(i + 7)], latest) !== undefined), true),
      measureSync(coldOps, (i) => check(raw.getMany([keys[pick(i + 7)]])[0] !== undefined), true),
      '',
    ]);
    const verify = measureSync(1, () => check(m.verifyStateHash().ok));
    table.push([`verifyStateHash full scan (${ROWS} rows + versions)`, verify, { opsPerSec: NaN }, `${(1000 / verify.opsPerSec).toFixed(0)} ms`]);
    await store.close();
    await raw.close();
  } finally {
    rmSync(base, { recursive: true, force: true });
  }

  const fmt = (n: number | undefined, digits = 0): string => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));
  console.log(`weft materializer bench: ${ROWS} rows, node ${process.version}`);
  console.log(['operation'.padEnd(50), 'weft ops/s', 'p50 µs', 'p99 µs', ' raw ops/s', 'p50 µs', 'p99 µs', 'weft/raw', 'note'].join('  '));
  for (const [name, w, r, note] of table) {
    console.log(
      [
        name.padEnd(50), fmt(w.opsPerSec).padStart(10), fmt(w.p50us, 1).padStart(6), fmt(w.p99us, 1).padStart(6),
        fmt(r.opsPerSec).padStart(10), fmt(r.p50us, 1).padStart(6), fmt(r.p99us, 1).padStart(6),
        fmt(w.opsPerSec / r.opsPerSec, 2).padStart(8), note,
      ].join('  '),
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
