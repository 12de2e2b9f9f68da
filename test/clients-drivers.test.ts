import { Client, Pool, type DatabaseError } from 'pg';
import postgres from 'postgres';
import { stopStartedServers, type SqlServer } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// Starting servers can take a while on a loaded machine (the project-level testTimeout does
// not apply to hooks run this way); the catch-all afterAll stops servers whose start outlived
// a failed beforeAll.
jest.setTimeout(120_000);
afterAll(() => stopStartedServers());

// The two most used Node drivers, as applications use them: node-postgres (`pg`, extended
// protocol for parameterized queries, a pool, named prepared statements) and postgres.js
// (tagged templates, implicit prepared statements, sql.begin transactions, helpers).

describe.each(clientTargets(true))('node-postgres (pg) against %s', (kind) => {
  let server: SqlServer;
  let pool: Pool;
  const label = targetLabel(kind);
  // Errors on idle pooled connections (the server closing them) are events, not query
  // failures: record them so a test can assert there were none while the server was up.
  const idleErrors: Error[] = [];

  beforeAll(async () => {
    server = await startServer(kind);
    pool = new Pool({ host: server.host, port: server.port, user: server.user, database: server.database, max: 4 });
    pool.on('error', (e) => idleErrors.push(e));
    await pool.query(`CREATE TABLE pg_orders (
      id bigserial PRIMARY KEY, customer text NOT NULL, total numeric(12, 2) NOT NULL, paid boolean NOT NULL DEFAULT false,
      placed_at timestamptz NOT NULL, meta jsonb, tags text[], ref uuid UNIQUE, blob bytea)`);
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
  });

  it(`inserts with parameters and reads values back as JavaScript types on ${label}`, async () => {
    const placed = new Date('2024-03-04T05:06:07.089Z');
    const r = await pool.query<{ id: string }>(
      'INSERT INTO pg_orders (customer, total, placed_at, meta, tags, ref, blob) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
      ['ann', '19.99', placed, { items: [1, 2], note: 'café' }, ['a', 'b c'], '6f1c2a3e-8f00-4d6b-9a1e-0c9d2b7a5e10', Buffer.from([0, 1, 255])],
    );
    expect(r.rowCount).toBe(1);
    expect(r.rows[0].id).toBe('1'); // int8 arrives as a string
    const got = await pool.query('SELECT * FROM pg_orders WHERE id = $1', [r.rows[0].id]);
    expect(got.rows).toEqual([
      {
        id: '1',
        customer: 'ann',
        total: '19.99',
        paid: false,
        placed_at: placed,
        meta: { items: [1, 2], note: 'café' },
        tags: ['a', 'b c'],
        ref: '6f1c2a3e-8f00-4d6b-9a1e-0c9d2b7a5e10',
        blob: Buffer.from([0, 1, 255]),
      },
    ]);
    expect(got.fields.map((f) => f.name)).toEqual(['id', 'customer', 'total', 'paid', 'placed_at', 'meta', 'tags', 'ref', 'blob']);
  });

  it(`binds NULL, numbers and booleans and filters with them on ${label}`, async () => {
    await pool.query('INSERT INTO pg_orders (customer, total, placed_at, paid, meta) VALUES ($1, $2, now(), $3, $4), ($5, $6, now(), $7, $8)', [
      'bob', 5, true, null, 'cy', 7.5, false, null,
    ]);
    const r = await pool.query<{ customer: string; total: string }>(
      'SELECT customer, total FROM pg_orders WHERE paid = $1 AND total >= $2 AND meta IS NULL ORDER BY customer',
      [false, 6],
    );
    expect(r.rows).toEqual([{ customer: 'cy', total: '7.50' }]);
    const agg = await pool.query<{ n: string; s: string }>('SELECT count(*) AS n, sum(total) AS s FROM pg_orders');
    expect(agg.rows[0]).toEqual({ n: '3', s: '32.49' });
  });

  it(`reuses a named prepared statement on ${label}`, async () => {
    const client = await pool.connect();
    try {
      for (const [name, expected] of [['ann', 1], ['bob', 1], ['zed', 0]] as const) {
        const r = await client.query({ name: 'by-customer', text: 'SELECT id FROM pg_orders WHERE customer = $1', values: [name] });
        expect(r.rowCount).toBe(expected);
      }
    } finally {
      client.release();
    }
  });

  it(`commits and rolls back transactions on one pooled connection on ${label}`, async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query("UPDATE pg_orders SET paid = true WHERE customer = 'ann'");
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      await client.query("UPDATE pg_orders SET total = total + 1 WHERE customer = 'cy'");
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const r = await pool.query<{ customer: string; paid: boolean; total: string }>("SELECT customer, paid, total FROM pg_orders WHERE customer IN ('ann', 'cy') ORDER BY customer");
    expect(r.rows).toEqual([
      { customer: 'ann', paid: false, total: '19.99' },
      { customer: 'cy', paid: false, total: '8.50' },
    ]);
  });

  it(`reports errors with SQLSTATE, constraint and position, and the connection stays usable on ${label}`, async () => {
    const client = new Client({ host: server.host, port: server.port, user: server.user, database: server.database });
    await client.connect();
    try {
      const dup = await client
        .query("INSERT INTO pg_orders (customer, total, placed_at, ref) VALUES ('dup', 1, now(), '6f1c2a3e-8f00-4d6b-9a1e-0c9d2b7a5e10')")
        .catch((e: DatabaseError) => e);
      expect(dup).toMatchObject({ code: '23505', constraint: 'pg_orders_ref_key', table: 'pg_orders' });
      const syntax = await client.query('SELECT id FROM pg_orders WHER id = 1').catch((e: DatabaseError) => e);
      expect(syntax).toMatchObject({ code: '42601', position: '31' });
      const notNull = await client.query('INSERT INTO pg_orders (total, placed_at) VALUES (1, now())').catch((e: DatabaseError) => e);
      expect(notNull).toMatchObject({ code: '23502', column: 'customer' });
      const badParam = await client.query('SELECT id FROM pg_orders WHERE id = $1', ['x']).catch((e: DatabaseError) => e);
      expect(badParam).toMatchObject({ code: '22P02' });
      expect((await client.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await client.end();
    }
  });

  it(`kept every pooled connection healthy while the server was up on ${label}`, () => {
    expect(idleErrors.map((e) => e.message)).toEqual([]);
  });
});

describe.each(clientTargets(true))('postgres.js against %s', (kind) => {
  let server: SqlServer;
  let sql: postgres.Sql;
  const label = targetLabel(kind);

  beforeAll(async () => {
    server = await startServer(kind);
    sql = postgres({ host: server.host, port: server.port, user: server.user, database: server.database, max: 4, onnotice: () => undefined });
    await sql`CREATE TABLE pjs_users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text, age int, created timestamptz DEFAULT now())`;
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await server?.stop();
  });

  it(`inserts rows through the object helper and returns them on ${label}`, async () => {
    const rows: { email: string; name: string; age: number | null }[] = [
      { email: 'a@x.io', name: 'Ann', age: 31 },
      { email: 'b@x.io', name: 'Bob', age: null },
    ];
    const inserted = await sql<{ id: number; email: string }[]>`INSERT INTO pjs_users ${sql(rows)} RETURNING id, email`;
    expect(inserted.map((r) => ({ ...r }))).toEqual([
      { id: 1, email: 'a@x.io' },
      { id: 2, email: 'b@x.io' },
    ]);
    expect(inserted.count).toBe(2);
    expect(inserted.command).toBe('INSERT');
  });

  it(`runs parameterized queries as implicit prepared statements on ${label}`, async () => {
    for (const minAge of [0, 30, 40]) {
      const r = await sql<{ name: string }[]>`SELECT name FROM pjs_users WHERE age >= ${minAge} ORDER BY id`;
      expect(r.map((x) => x.name)).toEqual(minAge <= 31 ? ['Ann'] : []);
    }
    const byIds = await sql<{ email: string }[]>`SELECT email FROM pjs_users WHERE id IN ${sql([1, 2])} ORDER BY email`;
    expect(byIds.map((r) => r.email)).toEqual(['a@x.io', 'b@x.io']);
    const [row] = await sql<{ created: Date; age: number | null }[]>`SELECT created, age FROM pjs_users WHERE email = ${'b@x.io'}`;
    expect(row.created).toBeInstanceOf(Date);
    expect(row.age).toBeNull();
  });

  it(`commits sql.begin and rolls it back when the callback throws on ${label}`, async () => {
    await sql.begin(async (tx) => {
      await tx`UPDATE pjs_users SET age = 32 WHERE email = 'a@x.io'`;
      await tx`INSERT INTO pjs_users (email, name) VALUES ('c@x.io', 'Cy')`;
    });
    const err = await sql
      .begin(async (tx) => {
        await tx`UPDATE pjs_users SET age = 99`;
        await tx`INSERT INTO pjs_users (email) VALUES ('a@x.io')`;
      })
      .catch((e: postgres.PostgresError) => e);
    expect(err).toMatchObject({ code: '23505', constraint_name: 'pjs_users_email_key' });
    const ages = await sql<{ email: string; age: number | null }[]>`SELECT email, age FROM pjs_users ORDER BY email`;
    expect(ages.map((r) => [r.email, r.age])).toEqual([
      ['a@x.io', 32],
      ['b@x.io', null],
      ['c@x.io', null],
    ]);
  });

  it(`runs a savepoint inside a transaction on ${label}`, async () => {
    await sql.begin(async (tx) => {
      await tx`INSERT INTO pjs_users (email) VALUES ('d@x.io')`;
      await tx.savepoint(async (sp) => sp`INSERT INTO pjs_users (email) VALUES ('a@x.io')`).catch(() => undefined);
      await tx`INSERT INTO pjs_users (email) VALUES ('e@x.io')`;
    });
    const [{ n }] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM pjs_users`;
    expect(n).toBe('5');
  });

  it(`runs unsafe multi-statement text and reports errors with SQLSTATE on ${label}`, async () => {
    const results = (await sql.unsafe('SELECT 1 AS a; SELECT 2 AS b')) as unknown as { a?: number; b?: number }[][];
    expect(results.map((r) => ({ ...r[0] }))).toEqual([{ a: 1 }, { b: 2 }]);
    const err = await sql`SELECT * FROM pjs_missing`.catch((e: postgres.PostgresError) => e);
    expect(err).toMatchObject({ code: '42P01' });
    const [{ ok }] = await sql<{ ok: number }[]>`SELECT 1 AS ok`;
    expect(ok).toBe(1);
  });
});
