// Change capture against the replicas' own materializer on a real RocksDB: which entries yield
// changes, with which before/after images.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEntry, type LogEntry, type WriteOp } from '@weft/logentry';
import { Materializer } from '@weft/materialize';
import { encodeIndexKey, MvccStore } from '@weft/storage';
import { applyAndCapture, applyEntryAndCapture, imagesAt, type CommittedChanges } from './capture';
import { ChangeJournal } from './change-journal';

const TABLE = 120;
const row = (id: number): Buffer => encodeIndexKey({ tableId: TABLE, indexId: 1, types: ['int4'], directions: ['asc'], hashColumns: 1 }, [{ type: 'int4', value: id }]);
const secondary = (id: number): Buffer => encodeIndexKey({ tableId: TABLE, indexId: 2, types: ['int4'], directions: ['asc'], hashColumns: 1 }, [{ type: 'int4', value: id }]);
const put = (key: Buffer, v: string): WriteOp => ({ kind: 'put', key, value: Buffer.from(v) });
const del = (key: Buffer): WriteOp => ({ kind: 'delete', key });
const txn = (n: number): Buffer => Buffer.from(`txn-${n}`.padEnd(16, '.'));
const commit = (n: number, readTs: bigint, writes: WriteOp[]): LogEntry => ({ type: 'commit', txnId: txn(n), readTs, minCommitTs: 0n, reads: [], writes });
const images = (c: CommittedChanges | undefined): [string, string | null, string | null][] =>
  (c?.changes ?? []).map((x) => [x.key.equals(row(1)) ? 'r1' : x.key.equals(row(2)) ? 'r2' : x.key.toString('hex'), x.before?.toString() ?? null, x.after?.toString() ?? null]);

describe('applyAndCapture', () => {
  let dir: string;
  let store: MvccStore;
  let sm: Materializer;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cdc-capture-'));
    store = await MvccStore.open(dir);
    sm = await Materializer.open(store, 2);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const run = (e: LogEntry) => applyAndCapture(sm, sm.appliedIndex + 1, encodeEntry(e));
  const now = (): bigint => sm.lastCommitTs;

  it('1PC commits: insert, update, delete with the previous version as before-image; secondary index entries are not rows', () => {
    const a = run(commit(1, 0n, [put(row(1), 'v1'), put(secondary(1), '')]));
    expect(a.outcome).toMatchObject({ status: 'committed' });
    expect(images(a.committed)).toEqual([['r1', null, 'v1']]);
    expect(a.committed?.txId).toBe(txn(1).toString('hex'));
    expect(images(run(commit(2, now(), [put(row(1), 'v2')])).committed)).toEqual([['r1', 'v1', 'v2']]);
    expect(images(run(commit(3, now(), [del(row(1))])).committed)).toEqual([['r1', 'v2', null]]);
    // Two writes of one key in an entry: one change, the last write.
    expect(images(run(commit(4, now(), [put(row(2), 'x'), put(row(2), 'y')])).committed)).toEqual([['r2', null, 'y']]);
  });

  it('an aborted commit (conflict) yields nothing and changes nothing', () => {
    run(commit(1, 0n, [put(row(1), 'v1')]));
    const stale = run(commit(2, 0n, [put(row(1), 'lost')]));
    expect(stale.outcome).toMatchObject({ status: 'aborted', sqlstate: '40001' });
    expect(stale.committed).toBeUndefined();
  });

  it('2PC: nothing at prepare, the rows at the commit resolve; an aborted resolve and a re-delivered one yield nothing', () => {
    run(commit(1, 0n, [put(row(1), 'v1')]));
    const prepare = (n: number): LogEntry => ({ type: 'prepare', txnId: txn(n), readTs: now(), minCommitTs: 0n, primaryKey: row(1), reads: [], writes: [put(row(1), `p${n}`), put(row(2), `q${n}`)] });
    const p = run(prepare(2));
    expect(p.outcome).toMatchObject({ status: 'applied' });
    expect(p.committed).toBeUndefined();
    const ts = (p.outcome as { ts: bigint }).ts + 5n;
    const r = run({ type: 'resolve', txnId: txn(2), decision: { kind: 'commit', commitTs: ts } });
    expect(r.committed?.commitTs).toBe(ts);
    expect(images(r.committed)).toEqual([['r1', 'v1', 'p2'], ['r2', null, 'q2']]);
    expect(run({ type: 'resolve', txnId: txn(2), decision: { kind: 'commit', commitTs: ts } }).committed).toBeUndefined();
    run(prepare(3));
    expect(run({ type: 'resolve', txnId: txn(3), decision: { kind: 'abort' } }).committed).toBeUndefined();
    expect(images(run(commit(4, now(), [put(row(1), 'v4')])).committed)).toEqual([['r1', 'p2', 'v4']]);
  });

  it('a staged transaction yields every row once, whole, at its commit; its chunk resolution and a rollback yield nothing', () => {
    run(commit(1, 0n, [put(row(1), 'v1')]));
    const readTs = now();
    expect(run({ type: 'stage', txnId: txn(2), readTs, seq: 0, writes: [put(row(1), 's1')] }).committed).toBeUndefined();
    expect(run({ type: 'stage', txnId: txn(2), readTs, seq: 1, writes: [put(row(2), 's2')] }).committed).toBeUndefined();
    const c = run(commit(2, readTs, [put(row(3), 's3')]));
    expect(c.outcome).toMatchObject({ status: 'committed' });
    expect(c.committed?.changes.map((x) => [x.before?.toString() ?? null, x.after?.toString() ?? null])).toEqual([['v1', 's1'], [null, 's2'], [null, 's3']]);
    // Re-proposed commit and the chunk resolutions: nothing more.
    expect(run(commit(2, readTs, [put(row(3), 's3')])).committed).toBeUndefined();
    for (let i = 0; i < 3; i++) expect(run({ type: 'resolve-staged', txnId: txn(2), abort: false }).committed).toBeUndefined();
    // A rolled-back staged transaction: nothing at all.
    const t2 = now();
    run({ type: 'stage', txnId: txn(3), readTs: t2, seq: 0, writes: [put(row(1), 'never')] });
    expect(run({ type: 'resolve-staged', txnId: txn(3), abort: true }).committed).toBeUndefined();
    expect(images(run(commit(4, now(), [put(row(1), 'v4')])).committed)).toEqual([['r1', 's1', 'v4']]);
  });

  it('after later entries, the journal + outcome journal + MVCC history give back every entry\'s changes as captured (crash recovery, decision 0039)', () => {
    const journal = new ChangeJournal(store.db);
    journal.cover(sm.appliedIndex);
    const captured = new Map<number, CommittedChanges>();
    const step = (e: LogEntry): void => {
      const index = sm.appliedIndex + 1;
      const got = applyEntryAndCapture(sm, index, e, (txnId, keys) => journal.record(index, { txnId, keys }, 0));
      if (got.committed !== undefined) captured.set(index, got.committed);
    };
    step(commit(1, 0n, [put(row(1), 'v1'), put(row(2), 'w1')]));
    step(commit(2, now(), [put(row(1), 'v2')]));
    step(commit(3, 0n, [put(row(1), 'conflict')]));
    // 2PC whose keys the resolve does not list.
    const prep: LogEntry = { type: 'prepare', txnId: txn(4), readTs: now(), minCommitTs: 0n, primaryKey: row(1), reads: [], writes: [put(row(1), 'p4'), del(row(2))] };
    step(prep);
    const ts4 = sm.lastCommitTs + 10n;
    step({ type: 'resolve', txnId: txn(4), decision: { kind: 'commit', commitTs: ts4 } });
    // A staged transaction, its chunks resolved (the chunk records are gone) and its rows overwritten later.
    const readTs = now();
    step({ type: 'stage', txnId: txn(5), readTs, seq: 0, writes: [put(row(2), 's2')] });
    step({ type: 'stage', txnId: txn(5), readTs, seq: 1, writes: [put(row(3), 's3')] });
    step(commit(5, readTs, [put(row(4), 's4')]));
    step({ type: 'resolve-staged', txnId: txn(5), abort: false });
    step(commit(6, now(), [put(row(3), 'v6'), del(row(4))]));
    for (let i = 0; i < 2; i++) step({ type: 'resolve-staged', txnId: txn(5), abort: false });
    step(commit(7, now(), [put(row(2), 'v7'), put(row(1), 'v7')]));
    expect([...captured.keys()]).toEqual([1, 2, 5, 8, 10, 13]);

    // Re-derived at the final state, as recover() does.
    const again = new Map<number, CommittedChanges>();
    for (const index of journal.recordedAfter(0)) {
      const outcome = sm.outcomeAt(index);
      const rec = journal.read(index);
      if (outcome?.status !== 'committed' || rec === undefined) continue;
      again.set(index, imagesAt(sm, index, rec.txnId, outcome.commitTs, rec.keys));
    }
    expect(again).toEqual(captured);
    // Records at or below the published index go with the next record's write or a prune.
    journal.record(14, { txnId: txn(9), keys: [] }, 10);
    expect(journal.recordedAfter(0)).toEqual([13, 14]);
    journal.prune(14);
    expect(journal.recordedAfter(0)).toEqual([]);
    expect(journal.coveredFrom()).toBe(1);
  });

  it('answers already-applied for an index at or below the applied one', () => {
    run(commit(1, 0n, [put(row(1), 'v1')]));
    expect(applyAndCapture(sm, 1, encodeEntry(commit(1, 0n, [put(row(1), 'v1')]))).outcome).toBe('already-applied');
  });
});
