import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplyOutcome, LogEntry, ReadSpan, WriteOp, encodeEntry } from '@weft/logentry';
import { MvccStore, NS_DATA, RocksBatch, localKey } from '@weft/storage';
import { CorruptEntryError, IntentConflictError, MaterializerStoppedError } from './errors';
import { Materializer } from './materializer';
import { entryStream } from './testing/entries';

const k = (s: string): Buffer => Buffer.from(s);
const put = (key: string, value: string): WriteOp => ({ kind: 'put', key: k(key), value: k(value) });
const insert = (key: string, value: string): WriteOp => ({
  kind: 'put', key: k(key), value: k(value), ifAbsent: { constraint: 'users_pkey', detail: `Key (id)=(${key}) already exists.` },
});
const del = (key: string): WriteOp => ({ kind: 'delete', key: k(key) });
let txnSeq = 0;
const commit = (readTs: bigint, writes: WriteOp[], reads: ReadSpan[] = [], minCommitTs = 0n): LogEntry => ({
  type: 'commit', txnId: Buffer.from(`txn-${++txnSeq}`.padEnd(16, '.')), readTs, minCommitTs, reads, writes,
});

describe('Materializer', () => {
  let dir: string;
  const stores: MvccStore[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-materialize-'));
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const open = async (name = 'a', shardId = 7): Promise<Materializer> => {
    const store = await MvccStore.open(join(dir, name));
    stores.push(store);
    return Materializer.open(store, shardId);
  };
  const reopen = async (m: Materializer, name = 'a'): Promise<Materializer> => {
    await m.store.close();
    stores.splice(stores.indexOf(m.store), 1);
    return open(name, m.shardId);
  };
  /** Applies at the next index. */
  const run = (m: Materializer, e: LogEntry): ApplyOutcome => {
    const r = m.apply(m.appliedIndex + 1, encodeEntry(e));
    if (r === 'already-applied') throw new Error('unexpected already-applied');
    return r;
  };
  const valueAt = (m: Materializer, key: string, ts: bigint): string | undefined => m.read(k(key), ts)?.value.toString();

  it('commits writes at max(minCommitTs, lastCommitTs + 1, readTs + 1) and reads them back', async () => {
    const m = await open();
    expect(run(m, commit(10n, [put('a', '1'), put('b', '2')], [], 50n))).toEqual({ status: 'committed', commitTs: 50n });
    expect(run(m, commit(10n, [put('c', '3')]))).toEqual({ status: 'committed', commitTs: 51n });
    expect(run(m, commit(100n, [put('d', '4')]))).toEqual({ status: 'committed', commitTs: 101n });
    expect(m.appliedIndex).toBe(3);
    expect(m.lastCommitTs).toBe(101n);
    expect(valueAt(m, 'a', 49n)).toBeUndefined();
    expect(valueAt(m, 'a', 50n)).toBe('1');
    expect(m.read(k('b'), 1000n)).toEqual({ key: k('b'), value: k('2'), ts: 50n });
    expect(m.scan(k('a'), k('z'), 1000n, { limit: 2 })).toEqual({
      rows: [{ key: k('a'), value: k('1'), ts: 50n }, { key: k('b'), value: k('2'), ts: 50n }], resumeKey: k('c'),
    });
  });

  it('journals each applied outcome (survives reopen, not in the state hash) until pruned', async () => {
    let m = await open();
    run(m, commit(0n, [insert('a', '1')], [], 100n)); // 1: committed at 100
    run(m, commit(200n, [insert('a', '2')])); // 2: duplicate key
    m.applyEmpty(3);
    run(m, { type: 'closed-timestamp', closedTs: 5n }); // 4: applied
    const other = await open('b');
    run(other, commit(0n, [insert('a', '1')], [], 100n));
    run(other, commit(200n, [insert('a', '2')]));
    other.applyEmpty(3);
    run(other, { type: 'closed-timestamp', closedTs: 5n });
    expect(other.pruneOutcomes(2)).toBe(2);
    // Pruned or not, the replicated state is the same.
    expect(other.stateHash()).toEqual(m.stateHash());
    expect(m.verifyStateHash().ok).toBe(true);

    m = await reopen(m);
    expect(m.outcomeAt(1)).toEqual({ status: 'committed', commitTs: 100n });
    expect(m.outcomeAt(2)).toEqual({ status: 'aborted', sqlstate: '23505' });
    expect(m.outcomeAt(3)).toBeUndefined();
    expect(m.outcomeAt(4)).toEqual({ status: 'applied' });
    expect(m.outcomeAt(5)).toBeUndefined();
    expect(m.pruneOutcomes(3)).toBe(2);
    expect([m.outcomeAt(1), m.outcomeAt(2), m.outcomeAt(4)]).toEqual([undefined, undefined, { status: 'applied' }]);
    expect(other.outcomeAt(4)).toEqual({ status: 'applied' });
    // From a known start (what the caller pruned before): only that range, never below it.
    run(m, { type: 'closed-timestamp', closedTs: 6n }); // 5
    run(m, { type: 'closed-timestamp', closedTs: 7n }); // 6
    expect(m.pruneOutcomes(5, 5)).toBe(1);
    expect([m.outcomeAt(4), m.outcomeAt(5), m.outcomeAt(6)]).toEqual([{ status: 'applied' }, undefined, { status: 'applied' }]);
    expect(m.pruneOutcomes(4, 6)).toBe(0);
    expect(m.pruneOutcomes(6, 6)).toBe(1);
    expect(m.outcomeAt(4)).toEqual({ status: 'applied' });
  });

  it('aborts with 40001 when a written or read key has a version newer than readTs', async () => {
    const m = await open();
    run(m, commit(0n, [put('a', '1'), put('s/2', 'x')], [], 100n)); // commitTs 100
    const conflictShape = { status: 'aborted', sqlstate: '40001', message: 'could not serialize access due to concurrent update' };
    expect(run(m, commit(99n, [put('a', '2')]))).toMatchObject(conflictShape); // write-write
    expect(run(m, commit(99n, [put('b', '2')], [{ kind: 'point', key: k('a') }]))).toMatchObject(conflictShape); // read
    expect(run(m, commit(99n, [put('b', '2')], [{ kind: 'span', start: k('s/'), end: k('s0') }]))).toMatchObject(conflictShape);
    // The aborted entries changed nothing but the applied index.
    expect(m.appliedIndex).toBe(4);
    expect(valueAt(m, 'a', 1000n)).toBe('1');
    expect(valueAt(m, 'b', 1000n)).toBeUndefined();
    // Reading at or above the commit is fine; a span that misses the write is fine.
    expect(run(m, commit(100n, [put('a', '2')], [{ kind: 'point', key: k('a') }]))).toEqual({ status: 'committed', commitTs: 101n });
    expect(run(m, commit(5n, [put('b', '1')], [{ kind: 'span', start: k('s/3'), end: k('s0') }]))).toMatchObject({ status: 'committed' });
  });

  it('aborts with 23505 naming the constraint when ifAbsent meets a visible row', async () => {
    const m = await open();
    run(m, commit(0n, [insert('1', 'alice')]));
    expect(run(m, commit(m.lastCommitTs, [insert('1', 'bob')]))).toEqual({
      status: 'aborted', sqlstate: '23505', message: 'duplicate key value violates unique constraint "users_pkey"',
      constraint: 'users_pkey', detail: 'Key (id)=(1) already exists.',
    });
    // Deleted rows (tombstones) do not count; neither does an earlier delete in the same entry.
    run(m, commit(m.lastCommitTs, [del('1')]));
    expect(run(m, commit(m.lastCommitTs, [insert('1', 'carol')]))).toMatchObject({ status: 'committed' });
    expect(run(m, commit(m.lastCommitTs, [del('1'), insert('1', 'dave')]))).toMatchObject({ status: 'committed' });
    expect(valueAt(m, '1', m.lastCommitTs)).toBe('dave');
    // Inserting the same key twice in one transaction is a duplicate too.
    expect(run(m, commit(m.lastCommitTs, [insert('2', 'x'), insert('2', 'y')]))).toMatchObject({ sqlstate: '23505' });
    // 40001 wins over 23505: the conflict check runs first.
    expect(run(m, commit(0n, [insert('1', 'eve')]))).toMatchObject({ sqlstate: '40001' });
  });

  it('lets the last write of a key in one entry win', async () => {
    const m = await open();
    run(m, commit(0n, [put('a', '1'), put('a', '2'), del('b'), put('b', '3')]));
    expect(valueAt(m, 'a', m.lastCommitTs)).toBe('2');
    expect(valueAt(m, 'b', m.lastCommitTs)).toBe('3');
    run(m, commit(m.lastCommitTs, [put('a', '4'), del('a')]));
    expect(valueAt(m, 'a', m.lastCommitTs)).toBeUndefined();
    expect(m.verifyStateHash().ok).toBe(true);
  });

  it('answers re-delivery with already-applied and rejects gaps', async () => {
    const m = await open();
    const e = encodeEntry(commit(0n, [put('a', '1')]));
    expect(m.apply(1, e)).toMatchObject({ status: 'committed' });
    const hash = m.stateHash();
    expect(m.apply(1, e)).toBe('already-applied');
    expect(m.apply(1, encodeEntry(commit(0n, [put('zzz', 'other')])))).toBe('already-applied');
    expect(m.stateHash()).toEqual(hash);
    expect(() => m.apply(3, e)).toThrow(/shard 7: cannot apply entry 3: applied index is 1, next must be 2/);
    m.applyEmpty(2);
    expect(m.appliedIndex).toBe(2);
    expect(m.stateHash()).toEqual(hash);
  });

  it('rejects a corrupt or truncated entry naming shard and index, and applies nothing after it', async () => {
    const m = await open();
    run(m, commit(0n, [put('a', '1')]));
    const bad = Buffer.from(encodeEntry(commit(m.lastCommitTs, [put('a', '2')])));
    bad[bad.length - 6] ^= 0x40;
    let err: unknown;
    try {
      m.apply(2, bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CorruptEntryError);
    expect((err as CorruptEntryError).message).toMatch(/^shard 7: log entry 2 is corrupt: checksum mismatch/);
    expect(() => m.apply(2, encodeEntry(commit(m.lastCommitTs, [put('a', '3')])))).toThrow(MaterializerStoppedError);
    expect(() => m.applyEmpty(2)).toThrow(MaterializerStoppedError);
    expect(m.appliedIndex).toBe(1);
    expect(valueAt(m, 'a', 1000n)).toBe('1');

    const m2 = await open('b', 3);
    const good = encodeEntry(commit(0n, [put('a', '1')]));
    expect(() => m2.apply(1, good.subarray(0, good.length - 3))).toThrow(/^shard 3: log entry 1 is truncated: entry declares/);
    expect(m2.appliedIndex).toBe(0);
  });

  it('resumes after reopen with the same applied index, timestamps, hash and prepared txns', async () => {
    let m = await open();
    run(m, commit(0n, [put('a', '1')], [], 40n));
    run(m, { type: 'closed-timestamp', closedTs: 60n });
    run(m, { type: 'prepare', txnId: k('p1'), readTs: 60n, minCommitTs: 0n, primaryKey: k('b'), reads: [{ kind: 'point', key: k('r') }], writes: [put('b', '2')] });
    const before = { index: m.appliedIndex, last: m.lastCommitTs, closed: m.closedTs, hash: m.stateHash() };
    m = await reopen(m);
    expect({ index: m.appliedIndex, last: m.lastCommitTs, closed: m.closedTs, hash: m.stateHash() }).toEqual(before);
    expect(m.preparedTxns).toEqual([k('p1').toString('hex')]);
    // The prepared txn's read lock survived the restart.
    expect(run(m, commit(100n, [put('r', 'x')]))).toMatchObject({ sqlstate: '40001' });
    expect(m.verifyStateHash().ok).toBe(true);
    await expect(reopen(m).then(async (x) => { await x.store.close(); stores.splice(stores.indexOf(x.store), 1); return open('a', 8); }))
      .rejects.toThrow(/holds shard 7, not shard 8/);
  });

  it('keeps the closed timestamp monotonic and commits above it', async () => {
    const m = await open();
    expect(run(m, { type: 'closed-timestamp', closedTs: 500n })).toEqual({ status: 'applied' });
    run(m, { type: 'closed-timestamp', closedTs: 300n });
    expect(m.closedTs).toBe(500n);
    expect(run(m, commit(10n, [put('a', '1')]))).toEqual({ status: 'committed', commitTs: 501n });
  });

  it('rejects split and merge with 0A000 without changing state', async () => {
    const m = await open();
    run(m, commit(0n, [put('a', '1')]));
    const hash = m.stateHash();
    expect(run(m, { type: 'split', splitKey: k('m'), newShardId: 9 })).toEqual({ status: 'aborted', sqlstate: '0A000', message: 'split entries are not supported yet' });
    expect(run(m, { type: 'merge', rightShardId: 9 })).toMatchObject({ sqlstate: '0A000' });
    expect(m.appliedIndex).toBe(3);
    expect(m.stateHash()).toEqual(hash);
  });

  it('records schema-change markers in the hashed state', async () => {
    const m = await open();
    const h0 = m.stateHash();
    expect(run(m, { type: 'schema-change', descriptorId: 104, version: 2 })).toEqual({ status: 'applied' });
    const h1 = m.stateHash();
    expect(h1).not.toEqual(h0);
    run(m, { type: 'schema-change', descriptorId: 104, version: 3 });
    expect(m.stateHash()).not.toEqual(h1);
    expect(m.verifyStateHash().ok).toBe(true);
  });

  describe('2PC', () => {
    const T1 = Buffer.alloc(16, 1);
    const T2 = Buffer.alloc(16, 2);
    const prepare = (txnId: Buffer, readTs: bigint, writes: WriteOp[], reads: ReadSpan[] = []): LogEntry => ({
      type: 'prepare', txnId, readTs, minCommitTs: 0n, primaryKey: k('a'), reads, writes,
    });

    it('lays intents that block readers at or above their timestamp and commits them on resolve', async () => {
      const m = await open();
      run(m, commit(0n, [put('a', 'old')], [], 10n));
      expect(run(m, prepare(T1, 10n, [put('a', 'new'), put('b', 'B'), del('c')]))).toEqual({ status: 'applied', ts: 11n });
      expect(valueAt(m, 'a', 10n)).toBe('old'); // below the intent: the old version
      expect(() => m.read(k('a'), 11n)).toThrow(IntentConflictError);
      expect(() => m.scan(k('a'), k('z'), 50n)).toThrow(/read met 3 intent\(s\)/);
      expect(m.read(k('a'), 11n, { txnId: T1 })?.value).toEqual(k('new')); // own intents are visible
      // A 1PC commit touching an intent's key conflicts.
      expect(run(m, commit(20n, [put('b', 'x')]))).toMatchObject({ sqlstate: '40001' });
      expect(run(m, { type: 'resolve', txnId: T1, decision: { kind: 'commit', commitTs: 30n } })).toEqual({ status: 'committed', commitTs: 30n });
      expect(valueAt(m, 'a', 29n)).toBe('old');
      expect(valueAt(m, 'a', 30n)).toBe('new');
      expect(valueAt(m, 'b', 30n)).toBe('B');
      expect(m.lastCommitTs).toBe(30n);
      expect(m.preparedTxns).toEqual([]);
      expect(run(m, commit(30n, [put('b', 'y')]))).toEqual({ status: 'committed', commitTs: 31n });
      expect(m.verifyStateHash().ok).toBe(true);
    });

    it('drops intents on an abort resolve and ignores re-delivered or late entries', async () => {
      const m = await open();
      run(m, prepare(T1, 10n, [put('a', '1')]));
      const hashPrepared = m.stateHash();
      expect(run(m, prepare(T1, 10n, [put('a', '1')]))).toEqual({ status: 'applied', ts: 11n }); // duplicate prepare
      expect(m.stateHash()).toEqual(hashPrepared);
      expect(run(m, { type: 'resolve', txnId: T1, decision: { kind: 'abort' } })).toEqual({ status: 'applied' });
      expect(valueAt(m, 'a', 1000n)).toBeUndefined();
      const hashResolved = m.stateHash();
      expect(run(m, { type: 'resolve', txnId: T1, decision: { kind: 'abort' } })).toEqual({ status: 'applied' });
      const late = run(m, prepare(T1, 10n, [put('a', '1')]));
      expect(late).toMatchObject({ sqlstate: '40001' });
      expect(late.status === 'aborted' && late.detail).toMatch(/already resolved/);
      expect(m.stateHash()).toEqual(hashResolved);
      expect(m.read(k('a'), 1000n)).toBeUndefined();
    });

    it('keeps the decision of a committed transaction through gc: a late abort push still learns it committed', async () => {
      const m = await open();
      run(m, prepare(T1, 10n, [put('a', '1')]));
      expect(run(m, { type: 'resolve', txnId: T1, decision: { kind: 'commit', commitTs: 20n } })).toEqual({ status: 'committed', commitTs: 20n });
      // A participant elsewhere may still hold T1's intent long after the gc ttl (its node was
      // down); whoever recovers it pushes an abort here, and must be told "committed".
      expect(run(m, { type: 'gc', threshold: 500n })).toEqual({ status: 'applied' });
      expect(run(m, { type: 'resolve', txnId: T1, decision: { kind: 'abort' } })).toEqual({ status: 'committed', commitTs: 20n });
      expect(m.verifyStateHash().ok).toBe(true);
    });

    it('locks a prepared transaction\'s reads and rejects a resolve below its prepare timestamp', async () => {
      const m = await open();
      run(m, commit(0n, [put('x', '1')], [], 50n));
      expect(run(m, prepare(T1, 50n, [put('a', '1')], [{ kind: 'span', start: k('x'), end: k('y') }]))).toEqual({ status: 'applied', ts: 51n });
      // Another txn may not write into T1's read span until T1 resolves...
      const locked = run(m, commit(60n, [put('x', '2')]));
      expect(locked.status === 'aborted' && locked.detail).toMatch(/read set of prepared/);
      expect(run(m, prepare(T2, 60n, [put('xx', '2')]))).toMatchObject({ sqlstate: '40001' });
      expect(run(m, { type: 'resolve', txnId: T1, decision: { kind: 'commit', commitTs: 40n } })).toMatchObject({ sqlstate: 'XX000' });
      expect(m.preparedTxns).toHaveLength(1);
      run(m, { type: 'resolve', txnId: T1, decision: { kind: 'commit', commitTs: 70n } });
      // ... and may afterwards.
      expect(run(m, commit(70n, [put('x', '2')]))).toEqual({ status: 'committed', commitTs: 71n });
    });
  });

  it('collects old versions through gc entries, identically on every replica', async () => {
    const m = await open();
    run(m, commit(0n, [put('a', '1'), put('b', '1')], [], 10n));
    run(m, commit(10n, [put('a', '2'), del('b')], [], 20n));
    run(m, commit(20n, [put('a', '3')], [], 30n));
    const versions = (): number => {
      const it = m.store.db.iterator({ gte: Buffer.from([NS_DATA]), lt: Buffer.from([NS_DATA + 1]) });
      try {
        return it.next(100).rows.length / 2;
      } finally {
        it.close();
      }
    };
    expect(versions()).toBe(5);
    expect(run(m, { type: 'gc', threshold: 25n })).toEqual({ status: 'applied' });
    expect(valueAt(m, 'a', 25n)).toBe('2'); // the version a read at the threshold sees stays
    expect(valueAt(m, 'a', 30n)).toBe('3');
    expect(m.read(k('b'), 25n)).toBeUndefined();
    // a@10, and b's tombstone at 20 with everything under it, went.
    expect(versions()).toBe(2);
    // Below the threshold a read would miss collected versions: refused, not answered wrongly.
    expect(() => m.read(k('a'), 15n)).toThrow(expect.objectContaining({ sqlstate: '72000' }) as Error);
    expect(() => m.scan(k('a'), k('z'), 24n)).toThrow(/snapshot too old/);
    // A commit that read below it cannot be validated any more: it restarts.
    expect(run(m, commit(24n, [put('c', '1')]))).toMatchObject({ status: 'aborted', sqlstate: '40001' });
    // The threshold is never lowered, and survives a reopen.
    expect(run(m, { type: 'gc', threshold: 5n })).toEqual({ status: 'applied' });
    expect(m.gcThreshold).toBe(25n);
    expect(m.verifyStateHash().ok).toBe(true);
  });

  it('gives identical state hashes on two replicas of the same random log, and detects tampering', async () => {
    const a = await open('a', 1);
    const b = await open('b', 1);
    const outcomes = { committed: 0, aborted: 0, applied: 0 };
    let i = 0;
    for (const e of entryStream(42, 1500)) {
      const data = encodeEntry(e);
      i++;
      const ra = a.apply(i, data);
      const rb = b.apply(i, data);
      expect(rb).toEqual(ra);
      if (ra !== 'already-applied') outcomes[ra.status]++;
      if (i % 250 === 0) {
        expect(b.stateHash()).toEqual(a.stateHash());
        expect(a.verifyStateHash().ok).toBe(true);
      }
    }
    // The stream exercises every outcome.
    expect(outcomes.committed).toBeGreaterThan(300);
    expect(outcomes.aborted).toBeGreaterThan(100);
    expect(outcomes.applied).toBeGreaterThan(100);
    expect(a.stateHash()).toEqual(b.stateHash());
    expect(a.stateHash().equals(Buffer.alloc(32))).toBe(false);
    expect(b.verifyStateHash().ok).toBe(true);

    // Tamper with one replica's RocksDB directly: flip a byte of one stored version.
    const it = b.store.db.iterator({ gte: Buffer.from([0x02]), lt: Buffer.from([0x03]) });
    const { rows } = it.next(40);
    it.close();
    const [key, value] = [rows[38], Buffer.from(rows[39])];
    value[value.length - 1] ^= 1;
    const batch = new RocksBatch();
    batch.put(key, value);
    b.store.db.write(batch);
    const v = b.verifyStateHash();
    expect(v.ok).toBe(false);
    expect(v.stored).toEqual(a.stateHash());
    expect(v.recomputed).not.toEqual(a.stateHash());
    expect(Materializer.recomputeStateHash(a.store)).toEqual(a.stateHash());

    // Deleting a hashed local key (a schema marker or txn record) is detected too.
    const c = await open('c', 1);
    run(c, { type: 'schema-change', descriptorId: 1, version: 1 });
    const del1 = new RocksBatch();
    del1.del(localKey('h/schema/1'));
    c.store.db.write(del1);
    expect(c.verifyStateHash().ok).toBe(false);
  });
});
