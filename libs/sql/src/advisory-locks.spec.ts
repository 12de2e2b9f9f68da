// Advisory locks between sessions of one gateway (the single-session rules are in the
// differential corpus, test/sql-corpus/advisory-locks.sql).
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

describe('advisory locks between sessions', () => {
  let srv: SqlTestServer;
  beforeAll(async () => {
    srv = await startSqlServer({ memory: true });
  });
  afterAll(() => srv.close());

  it('a session lock excludes other sessions until unlocked, and waiters are granted in order', async () => {
    const [a, b, c] = [await srv.client(), await srv.client(), await srv.client()];
    await a.query('SELECT pg_advisory_lock(100)');
    expect((await b.query('SELECT pg_try_advisory_lock(100) AS ok')).rows).toEqual([{ ok: false }]);
    const order: string[] = [];
    const bWaits = b.query('SELECT pg_advisory_lock(100)').then(() => order.push('b'));
    await new Promise((r) => setTimeout(r, 50));
    const cWaits = c.query('SELECT pg_advisory_lock(100)').then(() => order.push('c'));
    await new Promise((r) => setTimeout(r, 50));
    expect(order).toEqual([]);
    await a.query('SELECT pg_advisory_unlock(100)');
    await bWaits;
    expect(order).toEqual(['b']);
    await b.query('SELECT pg_advisory_unlock_all()');
    await cWaits;
    expect(order).toEqual(['b', 'c']);
    expect((await a.query('SELECT pg_try_advisory_lock(100) AS ok')).rows).toEqual([{ ok: false }]);
    await c.end(); // the session's end releases its locks
    await new Promise((r) => setTimeout(r, 50));
    expect((await a.query('SELECT pg_try_advisory_lock(100) AS ok')).rows).toEqual([{ ok: true }]);
    await a.query('SELECT pg_advisory_unlock_all()');
  });

  it('shared locks coexist and exclude an exclusive one; (int4, int4) keys differ from bigint keys', async () => {
    const [a, b] = [await srv.client(), await srv.client()];
    await a.query('SELECT pg_advisory_lock_shared(7)');
    expect((await b.query('SELECT pg_try_advisory_lock_shared(7) AS s, pg_try_advisory_lock(7) AS x')).rows).toEqual([{ s: true, x: false }]);
    await a.query('SELECT pg_advisory_lock(0, 7)');
    expect((await b.query('SELECT pg_try_advisory_lock(0, 7) AS pair, pg_try_advisory_lock(8) AS other')).rows).toEqual([{ pair: false, other: true }]);
    await a.query('SELECT pg_advisory_unlock_all()');
    await b.query('SELECT pg_advisory_unlock_all()');
  });

  it('a transaction lock is held until COMMIT or ROLLBACK (autocommit: the statement)', async () => {
    const [a, b] = [await srv.client(), await srv.client()];
    await a.query('BEGIN');
    await a.query('SELECT pg_advisory_xact_lock(55)');
    expect((await b.query('SELECT pg_try_advisory_lock(55) AS ok')).rows).toEqual([{ ok: false }]);
    await a.query('ROLLBACK');
    expect((await b.query('SELECT pg_try_advisory_xact_lock(55) AS ok')).rows).toEqual([{ ok: true }]);
    expect((await a.query('SELECT pg_try_advisory_lock(55) AS ok')).rows).toEqual([{ ok: true }]);
    await a.query('SELECT pg_advisory_unlock(55)');
  });

  it('a waiting lock call honours statement_timeout and cancel (57014) and leaves the queue', async () => {
    const [a, b] = [await srv.client(), await srv.client()];
    await a.query('SELECT pg_advisory_lock(9)');
    await b.query("SET statement_timeout = '100ms'");
    expect(await sqlstate(b.query('SELECT pg_advisory_lock(9)'))).toBe('57014');
    await b.query('RESET statement_timeout');
    await a.query('SELECT pg_advisory_unlock(9)');
    expect((await b.query('SELECT pg_try_advisory_lock(9) AS ok')).rows).toEqual([{ ok: true }]);
    expect((await a.query('SELECT pg_try_advisory_lock(9) AS ok')).rows).toEqual([{ ok: false }]);
  });
});
