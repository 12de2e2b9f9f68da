// The KV client over 4 in-process shards: routing by the key's hash, ordered fan-out scans with
// limits and resume keys, and resolution of intents left by a coordinator that went away.
import { HASH_SPACE, encodeIndexKey } from '@weft/storage';
import { ShardMap } from './shard-map';
import { mergePages } from './kv-client';
import { openLocalCluster, rowKey, tableSpan, type LocalCluster } from './test-support/local-cluster';

const b = (s: string): Buffer => Buffer.from(s);
const txnId = (n: number): Buffer => Buffer.alloc(16, n);

describe('ShardMap', () => {
  it('splits the hash space evenly and routes system keys to the system shard', () => {
    const m = ShardMap.uniform(4);
    expect(m.ranges.map((r) => [r.shardId, r.hashLo, r.hashHi])).toEqual([
      [1, 0, 16384],
      [2, 16384, 32768],
      [3, 32768, 49152],
      [4, 49152, HASH_SPACE],
    ]);
    const catalogKey = encodeIndexKey({ tableId: 1, indexId: 2, types: ['text'], directions: ['asc'] }, [{ type: 'text', value: 'version' }]);
    expect(m.forKey(catalogKey)).toBe(1);
    const catalogSpan = [encodeIndexKey({ tableId: 1, indexId: 1, types: ['int8'], directions: ['asc'] }, []), encodeIndexKey({ tableId: 1, indexId: 2, types: ['int8'], directions: ['asc'] }, [])];
    expect(m.forSpan(catalogSpan[0], catalogSpan[1])).toEqual([1]);
    const { start, end } = tableSpan();
    expect(m.forSpan(start, end)).toEqual([1, 2, 3, 4]);
  });

  it('spreads rows of a hashed table over every shard and keeps a row prefix on one shard', () => {
    const m = ShardMap.uniform(4);
    const per = new Map<number, number>();
    for (let i = 0; i < 400; i++) per.set(m.forKey(rowKey(i)), (per.get(m.forKey(rowKey(i))) ?? 0) + 1);
    expect([...per.keys()].sort()).toEqual([1, 2, 3, 4]);
    for (const n of per.values()) expect(n).toBeGreaterThan(60);
    const k = rowKey(7);
    expect(m.forSpan(k, Buffer.concat([k, b('\x00')]))).toEqual([m.forKey(k)]);
  });

  it('refuses maps with gaps or overlaps', () => {
    expect(() => new ShardMap(1, [{ shardId: 1, hashLo: 0, hashHi: 100 }], 1)).toThrow(/ranges end at 100/);
    expect(() => new ShardMap(1, [{ shardId: 1, hashLo: 0, hashHi: 100 }, { shardId: 2, hashLo: 90, hashHi: HASH_SPACE }], 1)).toThrow(/gap or overlaps/);
  });
});

describe('mergePages', () => {
  const row = (k: string) => ({ key: b(k), value: b('v'), ts: 1n });
  it('drops rows past a shard that stopped early and resumes there', () => {
    const page = mergePages([{ rows: [row('a'), row('d'), row('f')] }, { rows: [row('b'), row('c')], resumeKey: b('c\x00') }], false, undefined);
    expect(page.rows.map((r) => r.key.toString())).toEqual(['a', 'b', 'c']);
    expect(page.resumeKey?.toString()).toBe('c\x00');
  });
  it('cuts at the limit in reverse order', () => {
    const page = mergePages([{ rows: [row('f'), row('d')] }, { rows: [row('e'), row('b')] }], true, 3);
    expect(page.rows.map((r) => r.key.toString())).toEqual(['f', 'e', 'd']);
    expect(page.resumeKey?.toString()).toBe('d');
  });
});

describe('KvClient over 4 shards', () => {
  let c: LocalCluster;
  let offsetUs = 0n;
  beforeEach(async () => {
    offsetUs = 0n;
    c = await openLocalCluster(4, { clock: { now: () => BigInt(Date.now()) * 1000n + offsetUs }, sleep: () => new Promise((r) => setImmediate(r)), intentWaitMs: 2000 });
  });
  afterEach(async () => c.close());

  async function seed(n: number): Promise<void> {
    const ts = await c.kv.now();
    const byShard = new Map<number, { kind: 'put'; key: Buffer; value: Buffer }[]>();
    for (let i = 0; i < n; i++) {
      const s = c.kv.map.forKey(rowKey(i));
      byShard.set(s, [...(byShard.get(s) ?? []), { kind: 'put', key: rowKey(i), value: b(`v${i}`) }]);
    }
    for (const [s, writes] of byShard) {
      const out = await c.kv.propose(s, { type: 'commit', txnId: txnId(200 + s), readTs: ts, minCommitTs: ts + 1n, reads: [], writes });
      expect(out.status).toBe('committed');
    }
  }

  async function scanAll(reverse: boolean, limit: number): Promise<string[]> {
    const ts = await c.kv.now();
    let { start, end } = tableSpan();
    const out: string[] = [];
    for (;;) {
      const page = await c.kv.scan(start, end, ts, { limit, reverse });
      out.push(...page.rows.map((r) => r.value.toString()));
      if (page.resumeKey === undefined) return out;
      if (reverse) end = page.resumeKey;
      else start = page.resumeKey;
    }
  }

  it('scans a table spread over all shards in key order, page by page, both directions', async () => {
    await seed(120);
    const keys = [...Array(120).keys()].map((i) => ({ k: rowKey(i), v: `v${i}` })).sort((x, y) => Buffer.compare(x.k, y.k)).map((x) => x.v);
    expect(await scanAll(false, 7)).toEqual(keys);
    expect(await scanAll(true, 11)).toEqual([...keys].reverse());
    for (const s of c.shards.values()) expect((await s.scan(tableSpan().start, tableSpan().end, await c.kv.now())).rows.length).toBeGreaterThan(10);
  });

  it('scanPages reads a table shard after shard: key order, every row once, both directions, any page size', async () => {
    await seed(150);
    const keys = [...Array(150).keys()].map((i) => ({ k: rowKey(i), v: `v${i}` })).sort((x, y) => Buffer.compare(x.k, y.k)).map((x) => x.v);
    let served = 0;
    for (const s of c.shards.values()) {
      const scan = s.scan.bind(s);
      s.scan = async (...args) => {
        const page = await scan(...args);
        served += page.rows.length;
        return page;
      };
    }
    const ts = await c.kv.now();
    const { start, end } = tableSpan();
    expect(c.kv.map.partsOfIndexSpan(start, end)).toEqual([1, 2, 3, 4]);
    for (const [reverse, first, size] of [[false, 5, 9], [true, 1, 13], [false, 256, 256], [true, 40, 3]] as const) {
      served = 0;
      const out: string[] = [];
      for await (const page of c.kv.scanPages(start, end, ts, { limit: first, reverse }, size)) out.push(...page.rows.map((r) => r.value.toString()));
      expect(out).toEqual(reverse ? [...keys].reverse() : keys);
      // Nothing read twice: a shard's part is only continued, never re-read after a merge cut.
      expect(served).toBe(150);
    }
  });

  /** Prepares a two-shard transaction by hand (a coordinator that then goes away). */
  async function prepareAbandoned(id: Buffer, a: Buffer, bKey: Buffer, only?: 'secondary'): Promise<{ primary: number; secondary: number }> {
    const primary = c.kv.map.forKey(a);
    const secondary = c.kv.map.forKey(bKey);
    expect(primary).not.toBe(secondary);
    const ts = await c.kv.now();
    const prep = (shard: number, key: Buffer) =>
      c.kv.propose(shard, { type: 'prepare', txnId: id, readTs: ts, minCommitTs: ts + 1n, primaryKey: a, reads: [], writes: [{ kind: 'put', key, value: b('new') }] });
    if (only !== 'secondary') expect((await prep(primary, a)).status).toBe('applied');
    expect((await prep(secondary, bKey)).status).toBe('applied');
    return { primary, secondary };
  }

  function twoKeysOnDifferentShards(): [Buffer, Buffer] {
    const a = rowKey(1);
    for (let i = 2; ; i++) if (c.kv.map.forKey(rowKey(i)) !== c.kv.map.forKey(a)) return [a, rowKey(i)];
  }

  it('a reader waits on a live transaction, then aborts an expired one at its primary and reads past it', async () => {
    const [a, bKey] = twoKeysOnDifferentShards();
    const id = txnId(1);
    const { primary } = await prepareAbandoned(id, a, bKey);
    // Read well above the intent's timestamp (each in-process shard has its own clock, and a
    // read below an intent rightly reads past it). Not expired yet: the read keeps waiting and
    // finally gives up with a retryable error.
    const above = async (): Promise<bigint> => (await c.kv.now()) + 2_000_000n;
    await expect(c.kv.get(bKey, await above())).rejects.toMatchObject({ code: 'retry' });
    offsetUs = 10_000_000n;
    expect(await c.kv.get(bKey, await above())).toBeUndefined();
    expect(c.kv.stats.pushes).toBe(1);
    // The decision on the primary is final: the coordinator's late commit changes nothing.
    const late = await c.kv.propose(primary, { type: 'resolve', txnId: id, decision: { kind: 'commit', commitTs: await c.kv.now() } });
    expect(late.status).toBe('applied');
    expect(await c.kv.get(a, await c.kv.now())).toBeUndefined();
    for (const s of c.shards.values()) expect(s.materializer.preparedTxns).toEqual([]);
  });

  it('a reader finishes a committed transaction whose coordinator died before resolving the other shard', async () => {
    const [a, bKey] = twoKeysOnDifferentShards();
    const id = txnId(2);
    const { primary } = await prepareAbandoned(id, a, bKey);
    const commitTs = (await c.kv.now()) + 10n;
    expect(await c.kv.propose(primary, { type: 'resolve', txnId: id, decision: { kind: 'commit', commitTs } })).toEqual({ status: 'committed', commitTs });
    const row = await c.kv.get(bKey, commitTs + 1n);
    expect(row?.value.toString()).toBe('new');
    expect(row?.ts).toBe(commitTs);
    expect(c.kv.stats.pushes).toBe(0);
  });

  it('an expired transaction whose primary never prepared is aborted there, and its late prepare is refused', async () => {
    const [a, bKey] = twoKeysOnDifferentShards();
    const id = txnId(3);
    const { primary } = await prepareAbandoned(id, a, bKey, 'secondary');
    offsetUs = 10_000_000n;
    expect(await c.kv.get(bKey, await c.kv.now())).toBeUndefined();
    const ts = await c.kv.now();
    const late = await c.kv.propose(primary, { type: 'prepare', txnId: id, readTs: ts, minCommitTs: ts + 1n, primaryKey: a, reads: [], writes: [{ kind: 'put', key: a, value: b('x') }] });
    expect(late).toMatchObject({ status: 'aborted', sqlstate: '40001' });
  });
});
