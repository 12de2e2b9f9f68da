// Arrays of more than one dimension are not supported yet: every way in is refused with 0A000,
// never turned into a different value (ARRAY[[1,2],[3,4]] used to come back as the 1-D text
// array {"{1,2}","{3,4}"}). test/sql-corpus/pending/multidim-arrays.sql holds PostgreSQL's answers.
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

describe('multidimensional arrays', () => {
  let srv: SqlTestServer;
  beforeAll(async () => {
    srv = await startSqlServer({ memory: true });
  });
  afterAll(() => srv.close());

  it('are refused with 0A000 from literals, constructors and parameters', async () => {
    const c = await srv.client();
    for (const sql of [
      "SELECT '{{1,2},{3,4}}'::int[]",
      "SELECT '{ {a}, {b} }'::text[]",
      'SELECT ARRAY[[1,2],[3,4]]',
      'SELECT ARRAY[ARRAY[1,2], ARRAY[3,4]]',
    ]) {
      expect({ sql, code: await sqlstate(c.query(sql)) }).toEqual({ sql, code: '0A000' });
    }
    expect(await sqlstate(c.query('SELECT $1::int[]', ['{{1},{2}}']))).toBe('0A000');
    await c.query('CREATE TABLE md_t (id int PRIMARY KEY, a int[])');
    expect(await sqlstate(c.query("INSERT INTO md_t VALUES (1, '{{1,2},{3,4}}')"))).toBe('0A000');
    // One dimension, quoted elements that look like arrays, and the session all keep working.
    expect((await c.query<{ a: string[] }>("SELECT '{\"{1,2}\",x}'::text[] AS a")).rows).toEqual([{ a: ['{1,2}', 'x'] }]);
    await c.query("INSERT INTO md_t VALUES (2, '{1,2}'), (3, ARRAY[3])");
    expect((await c.query<{ a: number[] }>('SELECT a FROM md_t ORDER BY id')).rows).toEqual([{ a: [1, 2] }, { a: [3] }]);
  });
});
