import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogEntry } from '@weft/logentry';
import { LocalShard } from './local-shard';
import type { Clock } from './clock';

const k = (s: string): Buffer => Buffer.from(s);

describe('LocalShard', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-local-shard-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A clock the test moves by hand (and may move backwards). */
  const manual = (start: bigint): Clock & { t: bigint } => {
    const c = { t: start, now: () => c.t };
    return c;
  };
  const commit = (readTs: bigint, key: string, value: string, ifAbsent = false): LogEntry => ({
    type: 'commit', txnId: Buffer.alloc(16, 7), readTs, minCommitTs: 0n, reads: [],
    writes: [ifAbsent ? { kind: 'put', key: k(key), value: k(value), ifAbsent: { constraint: 't_pkey' } } : { kind: 'put', key: k(key), value: k(value) }],
  });

  it('proposes, applies and serves reads like a replicated shard', async () => {
    const clock = manual(1_000n);
    const shard = await LocalShard.open(dir, { shardId: 3, clock });
    expect(shard.shardId).toBe(3);
    const t0 = await shard.now();
    const r = await shard.propose(commit(t0, 'a', '1'));
    expect(r).toMatchObject({ status: 'committed' });
    const commitTs = r.status === 'committed' ? r.commitTs : 0n;
    expect(commitTs).toBeGreaterThan(t0);
    expect(await shard.now()).toBeGreaterThan(commitTs); // now() covers every acknowledged commit
    expect(await shard.get(k('a'), commitTs)).toEqual({ key: k('a'), value: k('1'), ts: commitTs });
    expect(await shard.get(k('a'), commitTs - 1n)).toBeUndefined();
    expect((await shard.scan(k('a'), k('b'), commitTs)).rows).toHaveLength(1);
    expect(await shard.propose(commit(await shard.now(), 'a', '2', true))).toMatchObject({ status: 'aborted', sqlstate: '23505' });
    await shard.close();
    await expect(shard.get(k('a'), 1n)).rejects.toThrow(/shard 3 is closed/);

    const again = await LocalShard.open(dir, { shardId: 3, clock });
    expect(again.materializer.appliedIndex).toBe(2);
    expect((await again.get(k('a'), await again.now()))?.value).toEqual(k('1'));
    await again.close();
  });

  it('never commits at or below a timestamp a read was served at, even with a clock behind', async () => {
    const clock = manual(100n);
    const shard = await LocalShard.open(dir, { shardId: 1, clock });
    // A reader at a timestamp far ahead of the clock sees nothing at 5000...
    expect(await shard.get(k('x'), 5_000n)).toBeUndefined();
    // ...so a later commit must land above it, or that read would be unrepeatable.
    const r = await shard.propose(commit(100n, 'x', 'late'));
    expect(r.status === 'committed' && r.commitTs > 5_000n).toBe(true);
    expect(await shard.get(k('x'), 5_000n)).toBeUndefined();
    clock.t = 50n; // the wall clock steps back: timestamps keep increasing
    const a = await shard.now();
    const b = await shard.now();
    expect(b).toBeGreaterThan(a);
    expect(a).toBeGreaterThan(5_000n);
    await shard.close();
  });
});
