// Transactions over 4 in-process shards (the real materializer): one-shard commits stay 1PC,
// multi-shard ones commit atomically through 2PC, refusals on any shard roll back every shard,
// serializability holds across shards, and a bank keeps its total under concurrent transfers.
import type { ShardKv } from '@weft/kv';
import type { ApplyOutcome, LogEntry } from '@weft/logentry';
import { KvClient } from '@weft/kvclient';
import { PgError } from '@weft/pgwire';
import { openLocalCluster, rowKey, tableSpan, type LocalCluster } from '../../kvclient/src/test-support/local-cluster';
import { Txn } from './txn';

const b = (s: string): Buffer => Buffer.from(s);
const num = (v: Buffer | undefined): number => Number(v?.toString() ?? 'NaN');

describe('Txn over 4 shards', () => {
  let c: LocalCluster;
  const proposed: { shard: number; type: LogEntry['type'] }[] = [];
  beforeEach(async () => {
    proposed.length = 0;
    c = await openLocalCluster(4);
    for (const [id, s] of c.shards) {
      const inner = s.propose.bind(s);
      s.propose = (e: LogEntry): Promise<ApplyOutcome> => {
        proposed.push({ shard: id, type: e.type });
        return inner(e);
      };
    }
  });
  afterEach(async () => {
    // Queued forgets must not reach the next test's shards (they share `proposed`).
    await c.kv.flushForgets();
    await c.close();
  });

  const shardOf = (i: number): number => c.kv.map.forKey(rowKey(i));
  function onOtherShard(i: number): number {
    for (let j = i + 1; ; j++) if (shardOf(j) !== shardOf(i)) return j;
  }
  const read = async (i: number): Promise<string | undefined> => (await new Txn(c.kv).get(rowKey(i)))?.toString();
  const noLeftovers = (): void => {
    for (const s of c.shards.values()) {
      expect(s.materializer.preparedTxns).toEqual([]);
      expect(s.materializer.stagedTransactions()).toEqual([]);
    }
  };

  it('commits a one-shard transaction with a single commit entry (1PC)', async () => {
    const t = new Txn(c.kv);
    t.put(rowKey(1), b('a'));
    await t.get(rowKey(1));
    await t.commit();
    expect(proposed).toEqual([{ shard: shardOf(1), type: 'commit' }]);
  });

  it('commits writes on several shards atomically through prepare and resolve', async () => {
    const t = new Txn(c.kv);
    for (let i = 0; i < 40; i++) t.put(rowKey(i), b(`v${i}`));
    const ts = await t.commit();
    expect(ts).toBeDefined();
    expect(new Set(proposed.filter((p) => p.type === 'prepare').map((p) => p.shard))).toEqual(new Set([1, 2, 3, 4]));
    expect(proposed.filter((p) => p.type === 'resolve')).toHaveLength(4);
    for (let i = 0; i < 40; i++) expect(await read(i)).toBe(`v${i}`);
    // Every row carries the one commit timestamp.
    const rows = [];
    for await (const r of new Txn(c.kv).scan(tableSpan().start, tableSpan().end)) rows.push(r);
    expect(rows).toHaveLength(40);
    const versions = await Promise.all([...Array(40).keys()].map((i) => c.kv.get(rowKey(i), (ts as bigint) + 1n)));
    expect(new Set(versions.map((v) => v?.ts))).toEqual(new Set([ts]));
    noLeftovers();
  });

  it('rolls back every shard when one shard refuses (unique violation)', async () => {
    const seed = new Txn(c.kv);
    seed.put(rowKey(5), b('old'));
    await seed.commit();
    const other = onOtherShard(5);
    const t = new Txn(c.kv);
    t.put(rowKey(other), b('new'));
    t.put(rowKey(5), b('dup'), { constraint: 't_pkey' });
    await expect(t.commit()).rejects.toMatchObject({ code: '23505', fields: { constraint: 't_pkey' } });
    expect(await read(other)).toBeUndefined();
    expect(await read(5)).toBe('old');
    noLeftovers();
  });

  it('prevents write skew across shards (each reads what the other writes)', async () => {
    const x = 10;
    const y = onOtherShard(x);
    const seed = new Txn(c.kv);
    seed.put(rowKey(x), b('1'));
    seed.put(rowKey(y), b('1'));
    await seed.commit();
    const t1 = new Txn(c.kv);
    const t2 = new Txn(c.kv);
    // Each sees both on call, and removes one if the other is still there.
    expect(num(await t1.get(rowKey(x))) + num(await t1.get(rowKey(y)))).toBe(2);
    expect(num(await t2.get(rowKey(x))) + num(await t2.get(rowKey(y)))).toBe(2);
    t1.put(rowKey(x), b('0'));
    t2.put(rowKey(y), b('0'));
    const results = await Promise.allSettled([t1.commit(), t2.commit()]);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect((failed[0]).reason).toMatchObject({ code: '40001' });
    expect(num(b((await read(x)) ?? '')) + num(b((await read(y)) ?? ''))).toBe(1);
    noLeftovers();
  });

  it('keeps a bank total through concurrent cross-shard transfers, and snapshot reads always see it', async () => {
    const ACCOUNTS = 24;
    const seed = new Txn(c.kv);
    for (let i = 0; i < ACCOUNTS; i++) seed.put(rowKey(i), b('100'));
    await seed.commit();
    let seq = 7;
    const rand = (n: number): number => {
      seq = (seq * 1103515245 + 12345) % 2 ** 31;
      return seq % n;
    };
    let committed = 0;
    const transfer = async (): Promise<void> => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const from = rand(ACCOUNTS);
        const to = (from + 1 + rand(ACCOUNTS - 1)) % ACCOUNTS;
        const t = new Txn(c.kv);
        try {
          const a = num(await t.get(rowKey(from)));
          const z = num(await t.get(rowKey(to)));
          const amount = Math.min(a, 1 + rand(20));
          t.put(rowKey(from), b(String(a - amount)));
          t.put(rowKey(to), b(String(z + amount)));
          await t.commit();
          committed++;
          return;
        } catch (e) {
          if (!(e instanceof PgError) || e.code !== '40001') throw e;
          t.rollback();
        }
      }
    };
    const audits: number[] = [];
    let auditRetries = 0;
    // A read-only audit may have to restart (40001) when a value within its uncertainty window
    // (decision 0055) changed what it had read; an autocommit SELECT is retried the same way.
    const audit = async (): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        let sum = 0;
        try {
          for await (const r of new Txn(c.kv).scan(tableSpan().start, tableSpan().end)) {
            const v = num(r.value);
            expect(v).toBeGreaterThanOrEqual(0);
            sum += v;
          }
        } catch (e) {
          if (!(e instanceof PgError) || e.code !== '40001' || attempt >= 20) throw e;
          auditRetries++;
          continue;
        }
        audits.push(sum);
        return;
      }
    };
    const workers = [...Array(6).keys()].map(async () => {
      for (let i = 0; i < 15; i++) {
        await transfer();
        if (i % 5 === 0) await audit();
      }
    });
    await Promise.all(workers);
    await audit();
    expect(committed).toBeGreaterThan(45);
    expect(new Set(audits)).toEqual(new Set([ACCOUNTS * 100]));
    expect(auditRetries).toBeLessThan(audits.length * 5);
    expect(proposed.some((p) => p.type === 'prepare')).toBe(true);
    noLeftovers();
  });

  it('stages a large transaction on every shard and commits or rolls it back whole', async () => {
    const t = new Txn(c.kv, { stageBytes: 1024 });
    for (let i = 0; i < 300; i++) t.put(rowKey(i), b(`big${i}`.padEnd(40, '.')));
    await t.settle();
    expect(new Set(proposed.filter((p) => p.type === 'stage').map((p) => p.shard)).size).toBe(4);
    // Open: invisible to others, visible to itself.
    expect(await read(3)).toBeUndefined();
    expect((await t.get(rowKey(3)))?.toString()).toMatch(/^big3\./);
    await t.commit();
    for (const i of [0, 1, 150, 299]) expect(await read(i)).toMatch(new RegExp(`^big${i}\\.`));
    noLeftovers();

    const r = new Txn(c.kv, { stageBytes: 1024 });
    for (let i = 300; i < 500; i++) r.put(rowKey(i), b('gone'.padEnd(40, '.')));
    await r.settle();
    r.rollback();
    await r.cleanedUp;
    for (const i of [300, 420, 499]) expect(await read(i)).toBeUndefined();
    noLeftovers();
  });

  it('forgets the resolved markers of staged transactions once every chunk is settled, one shard or many', async () => {
    const markers = (): number => [...c.shards.values()].reduce((n, s) => n + s.materializer.resolvedMarkerCount(), 0);
    const many = new Txn(c.kv, { stageBytes: 1024 });
    for (let i = 0; i < 300; i++) many.put(rowKey(i), b(`big${i}`.padEnd(40, '.')));
    await many.commit();
    const home = shardOf(0);
    const one = new Txn(c.kv, { stageBytes: 1024 });
    for (let i = 1000, n = 0; n < 100; i++) {
      if (shardOf(i) !== home) continue;
      one.put(rowKey(i), b(`one${i}`.padEnd(40, '.')));
      n++;
    }
    await one.commit();
    expect(proposed.filter((p) => p.type === 'stage').length).toBeGreaterThan(4);
    expect(markers()).toBeGreaterThanOrEqual(5);
    await c.kv.flushForgets();
    expect(markers()).toBe(0);
    for (const i of [0, 150, 299]) expect(await read(i)).toMatch(new RegExp(`^big${i}\\.`));
    noLeftovers();
  });

  it('writers of a hot row queue on its lock instead of failing (no 40001), and the count is exact', async () => {
    const seed = new Txn(c.kv);
    seed.put(rowKey(1), b('0'));
    const other = onOtherShard(1);
    seed.put(rowKey(other), b('0'));
    await seed.commit();
    // Each also writes a row on another shard: the hot row's lock is held across a 2PC.
    const results = await Promise.allSettled(
      [...Array(12).keys()].map(async (i) => {
        const t = new Txn(c.kv);
        await t.get(rowKey(1000 + i)); // an earlier read that the refresh must validate
        const v = num(await t.getForUpdate(rowKey(1)));
        t.put(rowKey(1), b(String(v + 1)));
        t.put(rowKey(other), b(String(i)));
        await t.commit();
        return t.refreshes;
      }),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await read(1)).toBe('12');
    expect(results.some((r) => r.status === 'fulfilled' && r.value > 0)).toBe(true);
    noLeftovers();
  });

  it('a lock wait that closes a cycle is a deadlock (40P01); lock_timeout gives 55P03', async () => {
    const x = 20;
    const y = onOtherShard(x);
    const t1 = new Txn(c.kv);
    const t2 = new Txn(c.kv);
    await t1.getForUpdate(rowKey(x));
    await t2.getForUpdate(rowKey(y));
    const r = await Promise.allSettled([t1.getForUpdate(rowKey(y)), t2.getForUpdate(rowKey(x))]);
    const failed = r.filter((p): p is PromiseRejectedResult => p.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(failed[0].reason).toMatchObject({ code: 'deadlock', sqlstate: '40P01' });
    // The victim rolls back; the survivor got its lock and commits.
    const [victim, survivor] = r[0].status === 'rejected' ? [t1, t2] : [t2, t1];
    victim.rollback();
    survivor.put(rowKey(x), b('w'));
    await survivor.commit();

    const holder = new Txn(c.kv);
    await holder.getForUpdate(rowKey(x));
    const waiter = new Txn(c.kv);
    const started = Date.now();
    await expect(waiter.getForUpdate(rowKey(x), { lockTimeoutMs: 300 })).rejects.toMatchObject({ sqlstate: '55P03' });
    expect(Date.now() - started).toBeLessThan(2000);
    waiter.rollback();
    holder.rollback();
  });

  it('a deadlock between transactions of two gateways is found from the shards\' lock tables: one gets 40P01', async () => {
    // A second gateway: its own KvClient (own waits-for graph) over the same shards.
    const other = new KvClient({ map: c.kv.map, shards: c.shards });
    const x = 30;
    const y = onOtherShard(x);
    const t1 = new Txn(c.kv);
    const t2 = new Txn(other);
    await t1.getForUpdate(rowKey(x));
    await t2.getForUpdate(rowKey(y));
    const started = Date.now();
    const r = await Promise.allSettled([t1.getForUpdate(rowKey(y)), t2.getForUpdate(rowKey(x))]);
    const failed = r.filter((p): p is PromiseRejectedResult => p.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(failed[0].reason).toMatchObject({ code: 'deadlock', sqlstate: '40P01' });
    // Found after the first cross-gateway look (1 s), not by a lock lease running out (10 s).
    expect(Date.now() - started).toBeLessThan(5000);
    const [victim, survivor] = r[0].status === 'rejected' ? [t1, t2] : [t2, t1];
    victim.rollback();
    survivor.put(rowKey(x), b('w2'));
    await survivor.commit();
    expect(await read(x)).toBe('w2');
    // The victim is the cycle's larger transaction id: both gateways agree on it.
    expect(victim.id.toString('hex') > survivor.id.toString('hex')).toBe(true);
  });

  it('forgets the resolved markers of settled 2PC transactions in one entry per shard, and keeps the data', async () => {
    const markers = (): number => [...c.shards.values()].reduce((n, s) => n + s.materializer.resolvedMarkerCount(), 0);
    const partner = (i: number, from = 1000 + 100 * i): number => {
      for (let j = from; ; j++) if (shardOf(j) !== shardOf(i)) return j;
    };
    for (let i = 0; i < 10; i++) {
      const t = new Txn(c.kv);
      t.put(rowKey(i), b(`a${i}`));
      t.put(rowKey(partner(i)), b(`b${i}`));
      await t.commit();
    }
    // A 2PC that one shard refuses is settled too (every prepare answered).
    const refused = new Txn(c.kv);
    refused.put(rowKey(partner(0, 5000)), b('x'));
    refused.put(rowKey(0), b('dup'), { constraint: 't_pkey' });
    await expect(refused.commit()).rejects.toMatchObject({ code: '23505' });
    expect(markers()).toBeGreaterThanOrEqual(22);
    await c.kv.flushForgets();
    expect(markers()).toBe(0);
    const forgets = proposed.filter((p) => p.type === 'forget');
    expect(forgets.length).toBeLessThanOrEqual(4);
    expect(new Set(forgets.map((p) => p.shard)).size).toBe(forgets.length);
    for (let i = 0; i < 10; i++) {
      expect(await read(i)).toBe(`a${i}`);
      expect(await read(partner(i))).toBe(`b${i}`);
    }
    noLeftovers();
  });

  it('a committed 2PC transaction whose coordinator died before resolving the other shards is finished by its readers', async () => {
    // Drop the resolves that follow the decision on the primary: the coordinator "died".
    const primaryShard = shardOf(1);
    const shards = new Map<number, ShardKv>();
    for (const [id, s] of c.shards) {
      shards.set(id, {
        shardId: id,
        now: () => s.now(),
        get: (k, ts, o) => s.get(k, ts, o),
        scan: (st, en, ts, o) => s.scan(st, en, ts, o),
        txnStatus: (x) => s.txnStatus(x),
        propose: (e) => (e.type === 'resolve' && id !== primaryShard ? Promise.reject(new Error('coordinator died')) : s.propose(e)),
      });
    }
    const dying = new KvClient({ map: c.kv.map, shards });
    const t = new Txn(dying);
    t.put(rowKey(1), b('p'));
    const other = onOtherShard(1);
    t.put(rowKey(other), b('s'));
    await t.commit();
    expect(c.shards.get(shardOf(other))?.materializer.preparedTxns).toHaveLength(1);
    // Not every participant resolved: the primary's commit marker must stay for the reader.
    await dying.flushForgets();
    expect(proposed.filter((p) => p.type === 'forget')).toEqual([]);
    expect(c.shards.get(primaryShard)?.materializer.resolvedMarkerCount()).toBe(1);
    expect(await read(other)).toBe('s');
    noLeftovers();
  });
});
