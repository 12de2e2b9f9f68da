import type { Client } from 'pg';
import { resolveAsOf } from './as-of';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

describe('resolveAsOf', () => {
  const now = 1_000_000_000_000n;
  it('reads negative durations, follower_read_timestamp(), literals and nanosecond decimals', () => {
    expect(resolveAsOf("'-5s'", now)).toBe(now - 5_000_000n);
    expect(resolveAsOf("'-250ms'", now)).toBe(now - 250_000n);
    expect(resolveAsOf('follower_read_timestamp()', now)).toBe(now - 3_000_000n);
    expect(resolveAsOf("'1970-01-12 13:46:40'", now)).toBe(1_000_000_000_000n);
    expect(resolveAsOf("'999000000000000'", now)).toBe(999_000_000_000n);
  });
  it('refuses the future and nonsense with 22023', () => {
    expect(() => resolveAsOf("'2999-01-01'", now)).toThrow(/in the future/);
    let code: string | undefined;
    try {
      resolveAsOf("'soon'", now);
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe('22023');
  });
});

describe('AS OF SYSTEM TIME and weft.max_staleness', () => {
  let srv: SqlTestServer;
  let c: Client;
  /** A wall-clock time (ms) well after the insert and well before the update. */
  let between = 0;
  const iso = (ms: number): string => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
  beforeAll(async () => {
    srv = await startSqlServer({ shards: 4 });
    c = await srv.client();
    await c.query('create table aost (id int primary key, v text)');
    await c.query("insert into aost values (1, 'old')");
    await new Promise((r) => setTimeout(r, 300));
    between = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    await c.query("update aost set v = 'new' where id = 1");
  });
  afterAll(async () => srv.close());

  it('reads the past version at a past timestamp and the present one without', async () => {
    expect((await c.query(`select v from aost as of system time '${iso(between)}' where id = 1`)).rows).toEqual([{ v: 'old' }]);
    expect((await c.query('select v from aost where id = 1')).rows).toEqual([{ v: 'new' }]);
    // The catalog is read at that timestamp too: a minute ago the table did not exist.
    expect(await sqlstate(c.query("select count(*) from aost as of system time '-60s'"))).toBe('42P01');
  });

  it('is read-only, outside blocks, and not in the future', async () => {
    expect(await sqlstate(c.query(`insert into aost select 2, 'x' from aost as of system time '${iso(between)}'`))).toBe('25006');
    await c.query('begin');
    expect(await sqlstate(c.query(`select v from aost as of system time '${iso(between)}'`))).toBe('0A000');
    await c.query('rollback');
    expect(await sqlstate(c.query("select v from aost as of system time '2999-01-01'"))).toBe('22023');
  });

  it('weft.max_staleness makes plain SELECTs bounded-stale; writes and locking reads stay strong', async () => {
    await c.query(`set weft.max_staleness = '${Date.now() - between}ms'`);
    expect((await c.query('select v from aost where id = 1')).rows).toEqual([{ v: 'old' }]);
    expect((await c.query('select v from aost where id = 1 for update')).rows).toEqual([{ v: 'new' }]);
    await c.query('set weft.max_staleness = 0');
    expect((await c.query('select v from aost where id = 1')).rows).toEqual([{ v: 'new' }]);
    expect(await sqlstate(c.query("set weft.max_staleness = 'soonish'"))).toBe('22023');
  });
});
