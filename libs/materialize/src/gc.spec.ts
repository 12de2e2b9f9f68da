// MVCC gc through the log: spans, the gc threshold, and dropped tables' data.
import type { ApplyOutcome, LogEntry, WriteOp } from '@weft/logentry';
import { NS_DATA, droppedDataMarker, encodeIndexKey } from '@weft/storage';
import type { Materializer } from './materializer';
import { applyNext, tempMaterializers } from './testing/stores';

const row = (table: number, index: number, id: number): Buffer =>
  encodeIndexKey({ tableId: table, indexId: index, types: ['int8'], directions: ['asc'], hashColumns: 1 }, [{ type: 'int8', value: BigInt(id) }]);
const put = (key: Buffer, v = 'v'): WriteOp => ({ kind: 'put', key, value: Buffer.from(v) });
let txn = 0;
const commit = (readTs: bigint, writes: WriteOp[], minCommitTs = 0n): LogEntry => ({
  type: 'commit', txnId: Buffer.from(`gc-spec-${txn++}`.padEnd(16, '.')), readTs, minCommitTs, reads: [], writes,
});

describe('Materializer: gc', () => {
  const { open, reopen } = tempMaterializers('weft-gc-');
  const run = applyNext;
  /** Raw entries in the data namespace (versions, intents, markers). */
  const stored = (m: Materializer): number => {
    const it = m.store.db.iterator({ gte: Buffer.from([NS_DATA]), lt: Buffer.from([NS_DATA + 1]), values: false });
    let n = 0;
    try {
      for (;;) {
        const { rows, finished } = it.next(1000);
        n += rows.length / 2;
        if (finished || rows.length === 0) return n;
      }
    } finally {
      it.close();
    }
  };

  it('a forget entry drops settled 2PC markers, keeps a prepared one, and a late prepare still lays no intents', async () => {
    const m = await open();
    const b = await open('b');
    const both = (e: LogEntry): ApplyOutcome => {
      const r = run(m, e);
      expect(run(b, e)).toEqual(r);
      return r;
    };
    const id = (n: number): Buffer => Buffer.from(`forget-spec-${n}`.padEnd(16, '.'));
    const key = row(100, 1, 1);
    const prepare = (n: number, k: Buffer): LogEntry => ({ type: 'prepare', txnId: id(n), readTs: 5n, minCommitTs: 10n, primaryKey: k, reads: [], writes: [put(k, `t${n}`)] });
    expect(both(prepare(1, key))).toMatchObject({ status: 'applied' });
    expect(both({ type: 'resolve', txnId: id(1), decision: { kind: 'commit', commitTs: 20n } })).toEqual({ status: 'committed', commitTs: 20n });
    expect(both(prepare(2, row(100, 1, 2)))).toMatchObject({ status: 'applied' });
    expect(m.resolvedMarkerCount()).toBe(1);
    expect(both({ type: 'forget', txnIds: [id(1), id(2), id(3)] })).toEqual({ status: 'applied' });
    expect(m.resolvedMarkerCount()).toBe(0);
    expect(m.txnStatus(id(2))).toMatchObject({ kind: 'pending' });
    expect(m.read(key, 30n)?.value.toString()).toBe('t1');
    // A prepare of the forgotten transaction delivered late: its own commit is above its
    // snapshot, so validation refuses it and no orphan intent appears.
    expect(both(prepare(1, key))).toMatchObject({ status: 'aborted', sqlstate: '40001' });
    expect(m.read(key, 30n)?.value.toString()).toBe('t1');
    expect(m.verifyStateHash().ok).toBe(true);
    expect(m.stateHash().equals(b.stateHash())).toBe(true);
  });

  it('collects only inside an entry span, and keeps its threshold across a reopen', async () => {
    const m = await open();
    const keys = Array.from({ length: 20 }, (_v, i) => row(100, 1, i));
    run(m, commit(0n, keys.map((k) => put(k, '1')), 10n));
    run(m, commit(10n, keys.map((k) => put(k, '2')), 20n));
    expect(stored(m)).toBe(40);
    const sorted = [...keys].sort(Buffer.compare);
    // The first half of the keys in key order: their old versions go, the rest stay.
    expect(run(m, { type: 'gc', threshold: 25n, span: { start: Buffer.alloc(0), end: sorted[10] } })).toEqual({ status: 'applied' });
    expect(stored(m)).toBe(30);
    expect(m.gcThreshold).toBe(25n);
    const again = await reopen(m);
    expect(again.gcThreshold).toBe(25n);
    expect(() => again.read(keys[0], 24n)).toThrow(/snapshot too old/);
    expect(again.read(keys[0], 25n)?.value.toString()).toBe('2');
    expect(again.verifyStateHash().ok).toBe(true);
  });

  it('deletes a dropped table once the drop is at or below the threshold, then its marker', async () => {
    const m = await open();
    const b = await open('b');
    const log: LogEntry[] = [];
    const both = (e: LogEntry): ApplyOutcome => {
      log.push(e);
      const r = run(m, e);
      expect(run(b, e)).toEqual(r);
      return r;
    };
    const dropped = Array.from({ length: 30 }, (_v, i) => row(100, 1, i));
    const droppedIndex = Array.from({ length: 5 }, (_v, i) => row(101, 2, i));
    const kept = Array.from({ length: 5 }, (_v, i) => row(101, 1, i));
    both(commit(0n, [...dropped, ...droppedIndex, ...kept].map((k) => put(k)), 10n));
    // DROP TABLE 100 at 20 and DROP INDEX 101/2 at 30: one marker each, nothing else written.
    both(commit(10n, [put(droppedDataMarker(100), '\x01')], 20n));
    both(commit(20n, [put(droppedDataMarker(101, 2), '\x01')], 30n));
    expect(stored(m)).toBe(42);
    // A threshold below the drops: the data stays (a read at 15 may still need it).
    both({ type: 'gc', threshold: 15n });
    expect(stored(m)).toBe(42);
    // Past the table's drop only, over a span holding the markers and table 100 (not 101): the
    // table's rows go and, its data gone, its marker; the index's drop is newer and waits.
    both({ type: 'gc', threshold: 25n, span: { start: Buffer.alloc(0), end: row(101, 0, 0) } });
    expect(stored(m)).toBe(11); // 10 rows of 101 + the index's marker
    // Past both, in the leader's order (spans in key order: markers sort before user tables):
    // the first span meets the marker while its data is still there, so the marker stays for a
    // later pass; the data goes in the second span.
    both({ type: 'gc', threshold: 35n, span: { start: Buffer.alloc(0), end: row(100, 0, 0) } });
    both({ type: 'gc', threshold: 35n, span: { start: row(100, 0, 0), end: Buffer.alloc(0) } });
    expect(stored(m)).toBe(6);
    both({ type: 'gc', threshold: 36n });
    expect(stored(m)).toBe(5);
    expect(kept.map((k) => m.read(k, 40n)?.value.toString())).toEqual(['v', 'v', 'v', 'v', 'v']);
    expect(m.stateHash().equals(b.stateHash())).toBe(true);
    expect(m.verifyStateHash().ok).toBe(true);
  });

  it('keeps a marker while an intent is left in the dropped span', async () => {
    const m = await open();
    const keys = Array.from({ length: 3 }, (_v, i) => row(100, 1, i));
    run(m, commit(0n, keys.map((k) => put(k)), 10n));
    // An open staged transaction still holds an intent on a row of the table.
    const stagedId = Buffer.from('gc-spec-staged..');
    expect(run(m, { type: 'stage', txnId: stagedId, readTs: 10n, seq: 0, writes: [put(keys[0], 'x')] })).toMatchObject({ status: 'applied' });
    run(m, commit(10n, [put(droppedDataMarker(100), '\x01')], 20n));
    run(m, { type: 'gc', threshold: 30n });
    expect(stored(m)).toBe(2); // the intent and the marker
    run(m, { type: 'resolve-staged', txnId: stagedId, abort: true });
    run(m, { type: 'gc', threshold: 40n });
    expect(stored(m)).toBe(0);
    expect(m.verifyStateHash().ok).toBe(true);
  });

  it('walks the shard in spans that cover every key once and never split one key', async () => {
    const m = await open();
    const keys = Array.from({ length: 50 }, (_v, i) => row(100, 1, i));
    run(m, commit(0n, keys.map((k) => put(k, '1')), 10n));
    // Three versions of each of the first ten keys.
    run(m, commit(10n, keys.slice(0, 10).map((k) => put(k, '2')), 20n));
    run(m, commit(20n, keys.slice(0, 10).map((k) => put(k, '3')), 30n));
    const spans: [Buffer, Buffer][] = [];
    let from: Buffer = Buffer.alloc(0);
    for (;;) {
      const end = m.gcBoundary(from, 7);
      spans.push([from, end ?? Buffer.alloc(0)]);
      if (end === undefined) break;
      from = end;
    }
    expect(spans.length).toBeGreaterThanOrEqual(8);
    for (const [s, e] of spans) run(m, { type: 'gc', threshold: 35n, span: { start: s, end: e } });
    // Each key keeps exactly its newest version: no key was split (a split key keeps two).
    expect(stored(m)).toBe(50);
    expect(keys.slice(0, 10).map((k) => m.read(k, 35n)?.value.toString())).toEqual(Array(10).fill('3'));
  });
});
