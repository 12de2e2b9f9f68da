// Staged (large) transactions: chunks laid as intents, a commit decision, chunked resolution.
import type { LogEntry, ReadSpan, WriteOp } from '@weft/logentry';
import type { Materializer } from './materializer';
import { applyNext, tempMaterializers } from './testing/stores';

const k = (s: string): Buffer => Buffer.from(s);
const put = (key: string, value: string): WriteOp => ({ kind: 'put', key: k(key), value: k(value) });
const insert = (key: string, value: string): WriteOp => ({ kind: 'put', key: k(key), value: k(value), ifAbsent: { constraint: 't_pkey' } });
const del = (key: string): WriteOp => ({ kind: 'delete', key: k(key) });
const id = (n: number): Buffer => Buffer.from(`staged-${n}`.padEnd(16, '.'));
const stage = (txn: number, readTs: bigint, seq: number, writes: WriteOp[]): LogEntry => ({ type: 'stage', txnId: id(txn), readTs, seq, writes });
const commit = (txn: number, readTs: bigint, writes: WriteOp[] = [], reads: ReadSpan[] = []): LogEntry => ({
  type: 'commit', txnId: id(txn), readTs, minCommitTs: 0n, reads, writes,
});
const resolve = (txn: number, abort = false): LogEntry => ({ type: 'resolve-staged', txnId: id(txn), abort });

describe('Materializer: staged transactions', () => {
  const { open, reopen } = tempMaterializers('weft-staged-', 3);
  const run = applyNext;
  const at = (m: Materializer, key: string, ts: bigint, txn?: number): string | undefined =>
    m.read(k(key), ts, txn === undefined ? {} : { txnId: id(txn) })?.value.toString();
  const scan = (m: Materializer, ts: bigint, reverse = false): string[] =>
    m.scan(k('a'), k('z'), ts, { reverse }).rows.map((r) => `${r.key.toString()}=${r.value.toString()}`);
  const baseline = (m: Materializer): void => {
    expect(run(m, { type: 'commit', txnId: id(99), readTs: 5n, minCommitTs: 10n, reads: [], writes: [put('a', 'a0'), put('b', 'b0')] })).toEqual({
      status: 'committed', commitTs: 10n,
    });
  };

  it('keeps chunks private until the commit, which publishes them all at once; resolution makes them plain versions', async () => {
    const m = await open();
    baseline(m);
    expect(run(m, stage(1, 10n, 0, [put('a', 'a1'), insert('c', 'c1')]))).toMatchObject({ status: 'applied' });
    expect(run(m, stage(1, 10n, 1, [del('b'), insert('d', 'd1')]))).toMatchObject({ status: 'applied' });
    // Others read past open intents; the owner sees its own writes.
    expect(scan(m, 1000n)).toEqual(['a=a0', 'b=b0']);
    expect(at(m, 'a', 1000n, 1)).toBe('a1');
    expect(at(m, 'b', 1000n, 1)).toBeUndefined();
    const c = run(m, commit(1, 10n, [put('e', 'e1')]));
    expect(c.status).toBe('committed');
    const commitTs = c.status === 'committed' ? c.commitTs : 0n;
    // Committed but unresolved: every key reads at the commit ts, none before it.
    expect(scan(m, commitTs)).toEqual(['a=a1', 'c=c1', 'd=d1', 'e=e1']);
    expect(scan(m, commitTs, true)).toEqual(['e=e1', 'd=d1', 'c=c1', 'a=a1']);
    expect(scan(m, commitTs - 1n)).toEqual(['a=a0', 'b=b0']);
    expect(m.stagedTransactions()).toEqual([expect.objectContaining({ state: 'committed', chunks: 2 })]);
    expect(run(m, resolve(1))).toEqual({ status: 'applied' });
    expect(m.stagedTransactions()).toEqual([expect.objectContaining({ chunks: 1 })]);
    expect(run(m, resolve(1))).toEqual({ status: 'applied' });
    expect(m.stagedTransactions()).toEqual([]);
    expect(run(m, resolve(1))).toEqual({ status: 'applied' }); // extra: a no-op
    expect(scan(m, commitTs)).toEqual(['a=a1', 'c=c1', 'd=d1', 'e=e1']);
    expect(m.read(k('c'), 10_000n)?.ts).toBe(commitTs);
    expect(m.verifyStateHash().ok).toBe(true);
    // A re-proposed commit of a finished staged transaction does not commit again.
    expect(run(m, stage(1, 10n, 2, [put('x', 'late')])).status).toBe('aborted');
  });

  it('checks unique inserts against earlier chunks and committed rows, and aborts the transaction', async () => {
    const m = await open();
    baseline(m);
    expect(run(m, stage(2, 10n, 0, [insert('c', 'c1')])).status).toBe('applied');
    expect(run(m, stage(2, 10n, 1, [insert('c', 'again')]))).toMatchObject({ status: 'aborted', sqlstate: '23505', constraint: 't_pkey' });
    expect(m.stagedTransactions()).toEqual([expect.objectContaining({ state: 'aborted' })]);
    expect(run(m, commit(2, 10n))).toMatchObject({ status: 'aborted', sqlstate: '40001' });
    expect(run(m, stage(3, 10n, 0, [insert('a', 'dup')]))).toMatchObject({ status: 'aborted', sqlstate: '23505' });
    // A key deleted in an earlier chunk may be inserted again.
    expect(run(m, stage(4, 10n, 0, [del('a')])).status).toBe('applied');
    expect(run(m, stage(4, 10n, 1, [insert('a', 'new')])).status).toBe('applied');
    expect(run(m, commit(4, 10n)).status).toBe('committed');
    expect(at(m, 'a', 10_000n)).toBe('new');
  });

  it('makes other writers conflict with open intents, and settles decided ones under their writes', async () => {
    const m = await open();
    baseline(m);
    expect(run(m, stage(5, 10n, 0, [put('a', 'a5'), put('b', 'b5')])).status).toBe('applied');
    expect(run(m, { type: 'commit', txnId: id(50), readTs: 20n, minCommitTs: 0n, reads: [], writes: [put('a', 'other')] })).toMatchObject({
      status: 'aborted', sqlstate: '40001',
    });
    // Reading a key with an open intent does not make a reader's commit conflict.
    expect(run(m, { type: 'commit', txnId: id(51), readTs: 20n, minCommitTs: 0n, reads: [{ kind: 'point', key: k('a') }], writes: [put('q', '1')] }).status).toBe('committed');
    const c = run(m, commit(5, 10n));
    const commitTs = c.status === 'committed' ? c.commitTs : 0n;
    // A writer that read before the commit ts conflicts; one that read after stacks above it.
    expect(run(m, { type: 'commit', txnId: id(52), readTs: commitTs - 1n, minCommitTs: 0n, reads: [], writes: [put('a', 'x')] }).status).toBe('aborted');
    const later = run(m, { type: 'commit', txnId: id(53), readTs: commitTs, minCommitTs: 0n, reads: [], writes: [put('a', 'newest')] });
    expect(later.status).toBe('committed');
    expect(at(m, 'a', commitTs)).toBe('a5');
    expect(at(m, 'a', 10_000n)).toBe('newest');
    run(m, resolve(5));
    expect(at(m, 'a', commitTs)).toBe('a5');
    expect(at(m, 'a', 10_000n)).toBe('newest');
    expect(at(m, 'b', 10_000n)).toBe('b5');
    expect(m.verifyStateHash().ok).toBe(true);
  });

  it('rolls back on resolve-staged abort, refuses late chunks and commits, and survives a reopen', async () => {
    const m0 = await open();
    baseline(m0);
    expect(run(m0, stage(6, 10n, 0, [put('a', 'a6')])).status).toBe('applied');
    expect(run(m0, stage(6, 10n, 0, [put('a', 'a6')]))).toMatchObject({ status: 'applied' }); // re-delivered chunk
    expect(run(m0, stage(6, 10n, 1, [put('b', 'b6')])).status).toBe('applied');
    // Reopen: the staged state comes back from the store.
    const m = await reopen(m0);
    expect(m.stagedTransactions()).toEqual([expect.objectContaining({ state: 'pending', chunks: 2 })]);
    expect(at(m, 'b', 1000n, 6)).toBe('b6');
    expect(run(m, resolve(6))).toEqual({ status: 'applied' }); // no decision yet: nothing to do
    expect(run(m, resolve(6, true))).toEqual({ status: 'applied' });
    expect(run(m, stage(6, 10n, 2, [put('c', 'c6')])).status).toBe('aborted');
    expect(run(m, commit(6, 10n)).status).toBe('aborted');
    run(m, resolve(6));
    expect(m.stagedTransactions()).toEqual([]);
    expect(scan(m, 10_000n)).toEqual(['a=a0', 'b=b0']);
    expect(run(m, stage(6, 10n, 0, [put('a', 'again')])).status).toBe('aborted');
    // A gap in the chunk sequence aborts the transaction.
    expect(run(m, stage(7, 10n, 0, [put('c', 'c7')])).status).toBe('applied');
    expect(run(m, stage(7, 10n, 2, [put('d', 'd7')])).status).toBe('aborted');
    expect(m.stagedTransactions()).toEqual([expect.objectContaining({ state: 'aborted' })]);
    expect(m.verifyStateHash().ok).toBe(true);
  });

  it('reaches the same state hash on two replicas applying the same log', async () => {
    const a = await open('a');
    const b = await open('b');
    const log: LogEntry[] = [
      { type: 'commit', txnId: id(99), readTs: 5n, minCommitTs: 10n, reads: [], writes: [put('a', 'a0')] },
      stage(8, 10n, 0, [put('a', '1'), put('b', '1')]),
      stage(8, 10n, 1, [put('c', '1')]),
      commit(8, 10n, [put('d', '1')]),
      resolve(8),
      resolve(8),
    ];
    for (const e of log) {
      expect(run(a, e)).toEqual(run(b, e));
      expect(a.stateHash().equals(b.stateHash())).toBe(true);
    }
    expect(a.verifyStateHash().ok).toBe(true);
  });

  it('judges every key of a write set on its own when absent keys, versions, intents and rolled-back runs interleave', async () => {
    const m = await open();
    baseline(m); // a=a0, b=b0 at 10
    // A rolled-back load leaves deleted intents on c0..c9 (between b and d).
    const load = Array.from({ length: 10 }, (_v, i) => put(`c${i}`, 'x'));
    expect(run(m, stage(5, 10n, 0, load))).toMatchObject({ status: 'applied' });
    expect(run(m, resolve(5, true))).toEqual({ status: 'applied' });
    // An open staged transaction holds an intent on d.
    expect(run(m, stage(6, 10n, 0, [put('d', 'd6')]))).toMatchObject({ status: 'applied' });
    // Unique inserts: a and b exist, c5 and e do not (c5's intent was rolled back).
    const dup = run(m, commit(7, 20n, [insert('e', '1'), insert('c5', '1'), insert('b', '1')]));
    expect(dup).toMatchObject({ status: 'aborted', sqlstate: '23505' });
    expect(run(m, commit(7, 20n, [insert('e', '1'), insert('c5', '1'), put('b', 'b7')]))).toMatchObject({ status: 'committed' });
    // Writing d conflicts with the open intent; a stale read of b conflicts with b7.
    expect(run(m, commit(8, 100n, [put('c2', '2'), put('d', '2')]))).toMatchObject({ status: 'aborted', sqlstate: '40001' });
    expect(run(m, commit(8, 15n, [put('c3', '2')], [{ kind: 'point', key: k('b') }, { kind: 'point', key: k('c4') }]))).toMatchObject({ status: 'aborted', sqlstate: '40001' });
    const ok = run(m, commit(8, 100n, [put('c3', '3'), put('a', 'a8')], [{ kind: 'point', key: k('c4') }, { kind: 'point', key: k('e') }]));
    expect(ok.status).toBe('committed');
    expect(scan(m, 1000n)).toEqual(['a=a8', 'b=b7', 'c3=3', 'c5=1', 'e=1']);
    expect(m.verifyStateHash().ok).toBe(true);
  });
  it("validates a span read over its own staged intents, and still finds another transaction's committed intent among them", async () => {
    const m = await open();
    baseline(m);
    const keys = Array.from({ length: 600 }, (_, i) => `k${String(i).padStart(3, '0')}`);
    const span: ReadSpan = { kind: 'span', start: k('k'), end: k('l') };
    // Its own intents fill the span it read (more than one iterator batch): it commits.
    expect(run(m, stage(7, 10n, 0, keys.map((key) => put(key, 'v7'))))).toMatchObject({ status: 'applied' });
    expect(run(m, commit(7, 10n, [], [span])).status).toBe('committed');
    // The same again, with the intent of a transaction that committed after the read timestamp
    // (not yet resolved) in the middle of the span.
    expect(run(m, stage(8, 20_000n, 0, keys.map((key) => put(key, 'v8'))))).toMatchObject({ status: 'applied' });
    expect(run(m, stage(9, 20_000n, 0, [put('k300x', 'v9')]))).toMatchObject({ status: 'applied' });
    expect(run(m, commit(9, 20_000n)).status).toBe('committed');
    expect(run(m, commit(8, 20_000n, [], [span]))).toMatchObject({ status: 'aborted', sqlstate: '40001' });
    expect(m.verifyStateHash().ok).toBe(true);
  });
});
