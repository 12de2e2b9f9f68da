// Strict serializability across shards with clocks that disagree (decision 0055): a write
// acknowledged on a shard whose clock runs ahead must be visible to any transaction that
// starts afterwards, through another gateway, even when that transaction's snapshot came from a
// slower clock. Reads on other shards treat versions just above the snapshot as uncertain and
// move the snapshot up to them.
import { KvClient } from '@weft/kvclient';
import { PgError } from '@weft/pgwire';
import { systemClock } from '@weft/materialize';
import { openLocalCluster, rowKey, tableSpan, type LocalCluster } from '../../kvclient/src/test-support/local-cluster';
import { Txn } from './txn';

const b = (s: string): Buffer => Buffer.from(s);
/** The fast shard's clock runs this far ahead: within the 750 ms window of a 250 ms max offset. */
const AHEAD_US = 400_000n;
const FAST = 3;

describe('Txn reads with clocks up to the max offset apart', () => {
  let c: LocalCluster;
  beforeEach(async () => {
    c = await openLocalCluster(4, {}, (id) => (id === FAST ? { now: () => systemClock.now() + AHEAD_US } : systemClock));
  });
  afterEach(async () => {
    await c.kv.flushForgets();
    await c.close();
  });

  const shardOf = (i: number): number => c.kv.map.forKey(rowKey(i));
  const keyOn = (shard: number, from = 0): number => {
    for (let i = from; ; i++) if (shardOf(i) === shard) return i;
  };
  /** Another gateway: its own KV client over the same shards, which has seen no timestamps. */
  const gateway = (): KvClient => new KvClient({ map: c.kv.map, shards: c.shards });
  /**
   * Writes as an UPDATE does: the first key is read first, so its shard's clock picks the
   * snapshot (a blind write snapshotted on a slower clock would conflict with the key's own
   * newer version, a different matter).
   */
  const write = async (kv: KvClient, pairs: [number, string][]): Promise<void> => {
    const t = new Txn(kv);
    await t.get(rowKey(pairs[0][0]));
    for (const [i, v] of pairs) t.put(rowKey(i), b(v));
    await t.commit();
  };

  it('a read-only transaction whose snapshot came from a slower clock still sees a write acknowledged before it began', async () => {
    const x = keyOn(FAST);
    const y = keyOn(2);
    await write(gateway(), [[x, 'old'], [y, 'y']]);
    await write(gateway(), [[x, 'new']]);
    const t = new Txn(gateway());
    expect((await t.get(rowKey(y)))?.toString()).toBe('y'); // the snapshot: shard 2's clock
    expect((await t.get(rowKey(x)))?.toString()).toBe('new');
    expect(t.uncertainRestarts).toBe(1);
    await t.commit();
  });

  it('a scan over every shard sees it too, and the snapshot-choosing shard needs no check', async () => {
    const x = keyOn(FAST);
    await write(gateway(), [[x, 'old']]);
    await write(gateway(), [[x, 'new']]);
    const t = new Txn(gateway());
    const seen = new Map<string, string>();
    for await (const r of t.scan(tableSpan().start, tableSpan().end)) seen.set(r.key.toString('hex'), r.value.toString());
    expect(seen.get(rowKey(x).toString('hex'))).toBe('new');
    expect(t.uncertainRestarts).toBe(1);
    // A transaction whose snapshot the fast shard chose reads the others without restarting.
    const u = new Txn(gateway());
    expect((await u.get(rowKey(x)))?.toString()).toBe('new');
    for await (const _r of u.scan(tableSpan().start, tableSpan().end)) void _r;
    expect(u.uncertainRestarts).toBe(0);
  });

  it('a value within the window that follows a change to what the transaction already read is a 40001, never a mixed snapshot', async () => {
    const x = keyOn(FAST);
    const y = keyOn(2);
    await write(gateway(), [[x, 'x1'], [y, 'y1']]);
    const t = new Txn(gateway());
    expect((await t.get(rowKey(y)))?.toString()).toBe('y1');
    await write(gateway(), [[x, 'x2'], [y, 'y2']]);
    const err = await t.get(rowKey(x)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgError);
    expect((err as PgError).code).toBe('40001');
  });

  it('a count pushed to the shards restarts too, and counts the acknowledged insert', async () => {
    const x = keyOn(FAST);
    const y = keyOn(2);
    await write(gateway(), [[y, 'y']]);
    await write(gateway(), [[x, 'x']]);
    const t = new Txn(gateway());
    expect(await t.count(tableSpan().start, tableSpan().end, { program: Buffer.alloc(0), args: Buffer.alloc(0) })).toBe(2);
    expect(t.uncertainRestarts).toBe(1);
  });
});
