// Data-modifying CTEs (INSERT/UPDATE/DELETE in WITH) through a real PgServer and node-postgres.
import type { Client } from 'pg';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

let srv: SqlTestServer;
let c: Client;
beforeAll(async () => {
  srv = await startSqlServer({ memory: true });
  c = await srv.client();
});
afterAll(async () => {
  await srv.close();
});
beforeEach(async () => {
  await c.query('DROP TABLE IF EXISTS w_log');
  await c.query('DROP TABLE IF EXISTS w_t');
  await c.query('CREATE TABLE w_t (id int PRIMARY KEY, v int, tag text)');
  await c.query('CREATE INDEX w_t_tag ON w_t (tag)');
  await c.query('CREATE TABLE w_log (n serial PRIMARY KEY, what text)');
  await c.query("INSERT INTO w_t VALUES (1, 10, 'a'), (2, 20, 'a'), (3, 30, 'b')");
});
afterEach(() => {
  expect(srv.internalErrors.splice(0)).toEqual([]);
});

const rows = async (sql: string, params: unknown[] = []): Promise<unknown[][]> => (await c.query({ text: sql, values: params, rowMode: 'array' })).rows as unknown[][];

describe('data-modifying CTEs', () => {
  it('RETURNING rows feed the main query, and the writes are done', async () => {
    const r = await c.query('WITH d AS (DELETE FROM w_t WHERE v < 25 RETURNING id, v * 2 AS twice) SELECT id, twice FROM d ORDER BY id');
    expect(r.command).toBe('SELECT');
    expect(r.rows).toEqual([
      { id: 1, twice: 20 },
      { id: 2, twice: 40 },
    ]);
    expect(await rows('SELECT id FROM w_t ORDER BY id')).toEqual([[3]]);
  });

  it('every part reads the snapshot from the start of the statement (full scan, index scan, point get)', async () => {
    const r = await rows(
      "WITH d AS (DELETE FROM w_t WHERE id = 1 RETURNING id), i AS (INSERT INTO w_t VALUES (4, 40, 'a') RETURNING id) " +
        "SELECT (SELECT count(*) FROM w_t), (SELECT count(*) FROM w_t WHERE tag = 'a'), (SELECT v FROM w_t WHERE id = 1), (SELECT v FROM w_t WHERE id = 4)",
    );
    expect(r).toEqual([['3', '2', 10, null]]);
    expect(await rows('SELECT id FROM w_t ORDER BY id')).toEqual([[2], [3], [4]]);
  });

  it('UPDATE in WITH: the main query sees old values, RETURNING the new ones', async () => {
    const r = await rows('WITH u AS (UPDATE w_t SET v = v + 1 RETURNING id, v) SELECT u.id, u.v, t.v FROM u JOIN w_t t USING (id) ORDER BY u.id');
    expect(r).toEqual([
      [1, 11, 10],
      [2, 21, 20],
      [3, 31, 30],
    ]);
  });

  it('inside a transaction block, the transaction’s earlier writes are part of the snapshot', async () => {
    await c.query('BEGIN');
    await c.query("INSERT INTO w_t VALUES (10, 100, 'a')");
    await c.query('DELETE FROM w_t WHERE id = 3');
    const r = await rows("WITH d AS (DELETE FROM w_t WHERE tag = 'a' RETURNING id) SELECT (SELECT array_agg(id ORDER BY id) FROM w_t), (SELECT array_agg(id ORDER BY id) FROM d)");
    expect(r).toEqual([[[1, 2, 10], [1, 2, 10]]]);
    expect(await rows('SELECT count(*) FROM w_t')).toEqual([['0']]);
    await c.query('ROLLBACK');
    expect(await rows('SELECT id FROM w_t ORDER BY id')).toEqual([[1], [2], [3]]);
  });

  it('moves rows between tables: DELETE ... RETURNING feeding INSERT ... SELECT', async () => {
    const r = await c.query("WITH d AS (DELETE FROM w_t WHERE tag = 'a' RETURNING id) INSERT INTO w_log (what) SELECT 'moved ' || id FROM d");
    expect(r.command).toBe('INSERT');
    expect(r.rowCount).toBe(2);
    expect(await rows('SELECT what FROM w_log ORDER BY what')).toEqual([['moved 1'], ['moved 2']]);
    expect(await rows('SELECT id FROM w_t')).toEqual([[3]]);
  });

  it('runs each CTE exactly once, read or not', async () => {
    await c.query("WITH l AS (INSERT INTO w_log (what) VALUES ('unread')) SELECT 1");
    const r = await rows("WITH l AS (INSERT INTO w_log (what) VALUES ('twice') RETURNING n) SELECT a.n = b.n FROM l a, l b");
    expect(r).toEqual([[true]]);
    expect(await rows('SELECT what FROM w_log ORDER BY n')).toEqual([['unread'], ['twice']]);
  });

  it('a row changed by an earlier part is skipped by a later UPDATE or DELETE', async () => {
    const u = await c.query('WITH d AS (DELETE FROM w_t WHERE id = 1 RETURNING id) UPDATE w_t SET v = -1 WHERE id IN (SELECT id FROM d)');
    expect(u.rowCount).toBe(0);
    const d = await c.query('WITH u AS (UPDATE w_t SET v = 0 WHERE id = 2 RETURNING id) DELETE FROM w_t WHERE id IN (SELECT id FROM u) OR id = 3');
    expect(d.rowCount).toBe(1);
    expect(await rows('SELECT id, v FROM w_t')).toEqual([[2, 0]]);
  });

  it('prepared with parameters: each execution runs the CTE again with its own rows', async () => {
    const q = { name: 'w_del', text: 'WITH d AS (DELETE FROM w_t WHERE id = $1 RETURNING v) SELECT v + $2 AS x FROM d', rowMode: 'array' as const };
    expect((await c.query({ ...q, values: [1, 5] })).rows).toEqual([[15]]);
    expect((await c.query({ ...q, values: [2, 7] })).rows).toEqual([[27]]);
    expect((await c.query({ ...q, values: [2, 7] })).rows).toEqual([]);
  });

  it('errors: missing table 42P01, unreferenceable CTE 0A000, nested 0A000, read-only 25006; a failed statement writes nothing', async () => {
    expect(await sqlstate(c.query('WITH i AS (INSERT INTO w_nope VALUES (1) RETURNING *) SELECT * FROM i'))).toBe('42P01');
    expect(await sqlstate(c.query('WITH d AS (DELETE FROM w_t) SELECT * FROM d'))).toBe('0A000');
    expect(await sqlstate(c.query('SELECT * FROM (WITH d AS (DELETE FROM w_t RETURNING *) SELECT * FROM d) s'))).toBe('0A000');
    expect(await sqlstate(c.query('WITH a AS (WITH b AS (DELETE FROM w_t RETURNING id) SELECT * FROM b) SELECT * FROM a'))).toBe('0A000');
    expect(await sqlstate(c.query("WITH i AS (INSERT INTO w_t VALUES (9, 9, 'x')) INSERT INTO w_t VALUES (9, 10, 'y')"))).toBe('23505');
    expect(await sqlstate(c.query("WITH d AS (DELETE FROM w_t RETURNING id) INSERT INTO w_t VALUES (1, 1, 'x'), (1, 2, 'y')"))).toBe('23505');
    await c.query('BEGIN READ ONLY');
    expect(await sqlstate(c.query('WITH d AS (DELETE FROM w_t RETURNING id) SELECT * FROM d'))).toBe('25006');
    await c.query('ROLLBACK');
    expect(await rows('SELECT id FROM w_t ORDER BY id')).toEqual([[1], [2], [3]]);
    expect(await rows('SELECT count(*) FROM w_log')).toEqual([['0']]);
  });

  it('plain UPDATE/DELETE: subqueries in SET and RETURNING read the snapshot, not the statement’s own writes', async () => {
    await c.query('BEGIN');
    await c.query("INSERT INTO w_t VALUES (4, 40, 'b')");
    const u = await rows('UPDATE w_t t SET v = (SELECT v FROM w_t p WHERE p.id = t.id - 1) RETURNING id, v');
    expect(u.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [1, null],
      [2, 10],
      [3, 20],
      [4, 30],
    ]);
    // RETURNING comes in storage order, which PostgreSQL does not promise either: sort.
    expect((await rows('DELETE FROM w_t WHERE id > 2 RETURNING id, (SELECT count(*) FROM w_t)')).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [3, '4'],
      [4, '4'],
    ]);
    await c.query('COMMIT');
    expect(await rows('SELECT id, v FROM w_t ORDER BY id')).toEqual([
      [1, null],
      [2, 10],
    ]);
  });

  it('EXPLAIN shows the CTE and its DML', async () => {
    const lines = (await rows('EXPLAIN WITH d AS (DELETE FROM w_t WHERE id = 1 RETURNING id) SELECT * FROM d')).map((r) => r[0]);
    expect(lines[0]).toContain('CTE Scan on d');
    expect(lines).toContain('  CTE d');
    expect(lines.some((l) => String(l).includes('Delete on w_t'))).toBe(true);
    expect(await rows('SELECT count(*) FROM w_t')).toEqual([['3']]);
  });
});
