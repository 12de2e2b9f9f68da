// Advisory locks between gateways (decision 0050): two engines over the same shards, as two
// gateway processes would be, and the lease rules on the class itself with a hand-moved clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvError } from '@weft/kv';
import { KvClient } from '@weft/kvclient';
import { LocalShard } from '@weft/materialize';
import { PgError } from '@weft/pgwire';
import { Txn } from '@weft/txn';
import { ClusterAdvisoryLocks } from './cluster-advisory-locks';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('advisory locks across gateways', () => {
  let srv: SqlTestServer;
  beforeAll(async () => {
    srv = await startSqlServer({ shards: 4, gateways: 2 });
  });
  afterAll(() => srv.close());

  it('a session lock on one gateway excludes sessions on another until unlocked, then a waiter there gets it', async () => {
    const a = await srv.client('weft', 0);
    const b = await srv.client('weft', 1);
    await a.query('SELECT pg_advisory_lock(100)');
    expect((await b.query('SELECT pg_try_advisory_lock(100) AS ok')).rows).toEqual([{ ok: false }]);
    let granted = false;
    const waiting = b.query('SELECT pg_advisory_lock(100)').then(() => (granted = true));
    await sleep(300);
    expect(granted).toBe(false);
    await a.query('SELECT pg_advisory_unlock(100)');
    await waiting;
    expect((await a.query('SELECT pg_try_advisory_lock(100) AS ok')).rows).toEqual([{ ok: false }]);
    await b.query('SELECT pg_advisory_unlock_all()');
    // Released by the other gateway: the first gateway may take it again.
    for (let i = 0; i < 50 && !(await a.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(100) AS ok')).rows[0].ok; i++) await sleep(20);
    expect((await b.query('SELECT pg_try_advisory_lock(100) AS ok')).rows).toEqual([{ ok: false }]);
    await a.query('SELECT pg_advisory_unlock_all()');
  });

  it('shared holds on two gateways coexist and keep out an exclusive one; a transaction lock ends with its transaction', async () => {
    const a = await srv.client('weft', 0);
    const b = await srv.client('weft', 1);
    await a.query('SELECT pg_advisory_lock_shared(7)');
    expect((await b.query('SELECT pg_try_advisory_lock_shared(7) AS s')).rows).toEqual([{ s: true }]);
    expect((await b.query('SELECT pg_try_advisory_lock(7) AS x')).rows).toEqual([{ x: false }]);
    await a.query('SELECT pg_advisory_unlock_all()');
    await b.query('SELECT pg_advisory_unlock_all()');

    await a.query('BEGIN');
    await a.query('SELECT pg_advisory_xact_lock(55)');
    expect((await b.query('SELECT pg_try_advisory_lock(55) AS ok')).rows).toEqual([{ ok: false }]);
    await a.query('COMMIT');
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await b.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(55) AS ok')).rows[0].ok;
      if (!ok) await sleep(20);
    }
    expect(ok).toBe(true);
  });

  it('a session that disconnects gives its locks to a session on the other gateway; a cancelled wait leaves nothing held', async () => {
    const a = await srv.client('weft', 0);
    const b = await srv.client('weft', 1);
    await a.query('SELECT pg_advisory_lock(900)');
    await b.query("SET statement_timeout = '200ms'");
    expect(await sqlstate(b.query('SELECT pg_advisory_lock(900)'))).toBe('57014');
    await b.query('SET statement_timeout = 0');
    const waiting = b.query('SELECT pg_advisory_lock(900)');
    await a.end();
    await waiting;
    const c = await srv.client('weft', 0);
    expect((await c.query('SELECT pg_try_advisory_lock(900) AS ok')).rows).toEqual([{ ok: false }]);
    await b.query('SELECT pg_advisory_unlock(900)');
  });
});

describe('cluster advisory lock leases', () => {
  // A LocalShard: its timestamps follow the wall clock, as the cluster's do (leases are judged in them).
  let dir: string;
  let shard: LocalShard;
  let kv: KvClient;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-advisory-'));
    shard = await LocalShard.open(join(dir, 'shard-1'), { shardId: 1 });
    kv = KvClient.single(shard);
  });
  afterEach(async () => {
    await shard.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const retry = async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof PgError && e.code === '40001') || i > 20) throw e;
      }
    }
  };

  it('a gateway that stops renewing (crashed) loses its hold after the lease; another gateway then gets the lock', async () => {
    const crashed = new ClusterAdvisoryLocks({ newTxn: () => new Txn(kv), retry, leaseMs: 600, marginMs: 100 });
    const other = new ClusterAdvisoryLocks({ newTxn: () => new Txn(kv), retry, leaseMs: 600, marginMs: 100 });
    expect(await crashed.acquire(1, 'b:1', 'exclusive', 'session', false)).toBe(true);
    crashed.close(); // no more renewals, and no release: as if the process died
    expect(await other.acquire(2, 'b:1', 'exclusive', 'session', false)).toBe(false);
    const t0 = Date.now();
    expect(await other.acquire(2, 'b:1', 'exclusive', 'session', true)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThan(300);
    other.close();
  });

  it('a live gateway renews its hold past the lease, and gives it up (FATAL for its session) when it cannot renew in time', async () => {
    let down = false;
    let clock = 0;
    const lostPids: number[] = [];
    const newTxn = (): Txn => {
      if (down) throw new KvError('unavailable', 'system shard unreachable');
      return new Txn(kv);
    };
    const live = new ClusterAdvisoryLocks({ newTxn, retry, leaseMs: 600, marginMs: 100, nowMs: () => clock, onLost: (p) => lostPids.push(...p) });
    const other = new ClusterAdvisoryLocks({ newTxn: () => new Txn(kv), retry, leaseMs: 600, marginMs: 100 });
    expect(await live.acquire(7, 'b:2', 'exclusive', 'session', false)).toBe(true);
    // Renewed over three leases of real time: still held.
    for (let i = 0; i < 9; i++) {
      await sleep(200);
      clock += 200;
      await live.renew();
    }
    expect(await other.acquire(8, 'b:2', 'exclusive', 'session', false)).toBe(false);
    expect(lostPids).toEqual([]);
    // Cut off: past lease - margin since the last confirmed renewal, the hold is given up.
    down = true;
    clock += 400;
    await live.renew();
    expect(lostPids).toEqual([]);
    clock += 200;
    await live.renew();
    expect(lostPids).toEqual([7]);
    expect(live.clusterMode('b:2')).toBeUndefined();
    let fatal: unknown;
    try {
      live.checkLost(7);
    } catch (e) {
      fatal = e;
    }
    expect(fatal instanceof PgError ? [fatal.code, fatal.severity] : fatal).toEqual(['57P01', 'FATAL']);
    expect(() => live.checkLost(7)).not.toThrow();
    live.close();
    other.close();
  });
});
