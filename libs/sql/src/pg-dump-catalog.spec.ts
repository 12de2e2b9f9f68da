// The parts of pg_dump's catalog reads whose text differs from PostgreSQL's by design (Weft keeps
// a view's query as written instead of deparsing it), so the differential corpus cannot compare
// them: pg_get_viewdef / pg_views and the view dependencies in pg_depend.
import type { Client } from 'pg';
import { startSqlServer, type SqlTestServer } from './test-support/server';

let srv: SqlTestServer;
let c: Client;
beforeAll(async () => {
  srv = await startSqlServer({ memory: true });
  c = await srv.client();
  await c.query('CREATE TABLE pdv_orders (id int PRIMARY KEY, amount numeric(10,2), customer int)');
  await c.query('CREATE TABLE pdv_customers (id int PRIMARY KEY, email text)');
  await c.query(`CREATE VIEW pdv_big AS WITH pdv_orders_cte AS (SELECT * FROM pdv_orders) SELECT o.id, c.email FROM pdv_orders_cte o JOIN pdv_customers c ON c.id = o.customer WHERE o.amount > 100 AND c.email <> 'x AS y';`);
});
afterAll(async () => {
  await srv.close();
});
afterEach(() => {
  expect(srv.internalErrors.splice(0)).toEqual([]);
});

const one = async (sql: string): Promise<unknown> => ((await c.query({ text: sql, rowMode: 'array' })).rows as unknown[][])[0]?.[0];

describe('pg_get_viewdef', () => {
  it('is the query after AS (it was the whole CREATE VIEW, which pg_dump cut one character short), ending in ;', async () => {
    expect(await one("SELECT pg_get_viewdef('pdv_big'::regclass)")).toBe(
      " WITH pdv_orders_cte AS (SELECT * FROM pdv_orders) SELECT o.id, c.email FROM pdv_orders_cte o JOIN pdv_customers c ON c.id = o.customer WHERE o.amount > 100 AND c.email <> 'x AS y';",
    );
    expect(await one("SELECT definition FROM pg_views WHERE viewname = 'pdv_big'")).toBe(await one("SELECT pg_get_viewdef('pdv_big'::regclass)"));
  });

  it("qualifies relation names (not CTE names) under pg_dump's empty search_path, so the restore finds them", async () => {
    await c.query("SELECT pg_catalog.set_config('search_path', '', false)");
    try {
      expect(await one("SELECT pg_catalog.pg_get_viewdef('public.pdv_big'::pg_catalog.regclass, false)")).toBe(
        " WITH pdv_orders_cte AS (SELECT * FROM public.pdv_orders) SELECT o.id, c.email FROM pdv_orders_cte o JOIN public.pdv_customers c ON c.id = o.customer WHERE o.amount > 100 AND c.email <> 'x AS y';",
      );
    } finally {
      await c.query('RESET search_path');
    }
  });

  it('keeps the column names of CREATE VIEW v (a, b) in the definition, so a restored view has them', async () => {
    await c.query('CREATE VIEW pdv_named (order_id, cents) AS SELECT id, amount * 100 FROM pdv_orders');
    expect(await one("SELECT pg_get_viewdef('pdv_named'::regclass)")).toBe(' SELECT * FROM (SELECT id, amount * 100 FROM pdv_orders) pdv_named(order_id, cents);');
    await c.query(`CREATE VIEW pdv_named_copy AS ${String(await one("SELECT pg_get_viewdef('pdv_named'::regclass)")).replace(/;$/, '')}`);
    const r = await c.query('SELECT * FROM pdv_named_copy');
    expect(r.fields.map((f) => f.name)).toEqual(['order_id', 'cents']);
  });

  it('records in pg_depend that the view reads its tables, so pg_dump creates them first', async () => {
    const r = await c.query(
      `SELECT t.relname FROM pg_depend d JOIN pg_class v ON v.oid = d.objid JOIN pg_class t ON t.oid = d.refobjid
        WHERE d.classid = 'pg_class'::regclass AND v.relname = 'pdv_big' AND d.deptype = 'n' ORDER BY t.relname`,
    );
    expect(r.rows.map((x: { relname: string }) => x.relname)).toEqual(['pdv_customers', 'pdv_orders']);
  });
});
