// Partial indexes: a query reads one only when its WHERE implies the predicate (otherwise rows
// outside the index would be missed); the answers are the same either way.
import { startSqlServer, type SqlTestServer } from '../test-support/server';

describe('partial index access paths', () => {
  let srv: SqlTestServer;
  beforeAll(async () => {
    srv = await startSqlServer({ memory: true });
  });
  afterAll(() => srv.close());

  it('uses the index only when the WHERE implies its predicate', async () => {
    const c = await srv.client();
    await c.query('CREATE TABLE pix (id int PRIMARY KEY, email text, deleted boolean NOT NULL, n int)');
    await c.query("INSERT INTO pix SELECT g, 'u' || (g % 10), g % 3 = 0, CASE WHEN g % 4 = 0 THEN NULL ELSE g END FROM generate_series(1, 200) g");
    await c.query('CREATE INDEX pix_live ON pix (email) WHERE NOT deleted');
    await c.query('CREATE INDEX pix_n ON pix (n) WHERE n IS NOT NULL');
    const plan = async (sql: string): Promise<string> => (await c.query(`EXPLAIN ${sql}`)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
    const cases: [string, string | undefined][] = [
      ["SELECT id FROM pix WHERE email = 'u1' AND NOT deleted", 'pix_live'],
      ["SELECT id FROM pix p WHERE p.email = 'u1' AND NOT p.deleted", 'pix_live'],
      ["SELECT id FROM pix WHERE email = 'u1'", undefined],
      ["SELECT id FROM pix WHERE email = 'u1' AND deleted", undefined],
      ['SELECT id FROM pix WHERE n = 5', 'pix_n'],
      ['SELECT id FROM pix WHERE n IS NULL', undefined],
    ];
    for (const [sql, index] of cases) {
      const p = await plan(sql);
      const used = /using (pix_\w+)/.exec(p)?.[1];
      expect({ sql, used }).toEqual({ sql, used: index });
      // Same rows as a scan that cannot use any index (the predicate is hidden in an expression).
      const got = (await c.query<{ id: number }>(`${sql} ORDER BY id`)).rows;
      const want = (await c.query<{ id: number }>(`SELECT id FROM (${sql.replace(/^SELECT id/, 'SELECT id, 1 AS k')}) s WHERE k + 0 = 1 ORDER BY id`)).rows;
      expect({ sql, got }).toEqual({ sql, got: want });
    }
    expect((await c.query("SELECT count(*)::int AS n FROM pix WHERE email = 'u1' AND NOT deleted")).rows).toEqual([{ n: 14 }]);
  });
});
