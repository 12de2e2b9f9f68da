// The engine through a real PgServer and node-postgres over a LocalShard: what a user sees.
import { DatabaseError, type Client } from 'pg';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

let srv: SqlTestServer;
let c: Client;
beforeAll(async () => {
  srv = await startSqlServer({ shards: 4 }); // four shards: multi-shard commits, fan-out scans
  c = await srv.client();
});
afterAll(async () => {
  await srv.close();
});
afterEach(() => {
  expect(srv.internalErrors.splice(0)).toEqual([]);
});

describe('round trips', () => {
  it('an autocommit point SELECT makes one shard call: the row, with the catalog version it was planned at checked in the same call', async () => {
    await c.query('create table rt_accounts (id int primary key, balance int)');
    await c.query('insert into rt_accounts values (1, 10), (2, 20)');
    await c.query('select balance from rt_accounts where id = 1'); // plan cached, catalog loaded
    srv.shardCalls.length = 0;
    const r = await c.query('select balance from rt_accounts where id = 2');
    expect(r.rows).toEqual([{ balance: 20 }]);
    expect(srv.shardCalls).toHaveLength(1);
    expect(srv.shardCalls[0]).toMatch(/^getNow s\d$/);
    srv.shardCalls.length = 0;
    const missing = await c.query('select balance from rt_accounts where id = 3');
    expect(missing.rows).toEqual([]);
    expect(srv.shardCalls).toHaveLength(1);
  });

  it('a single-row autocommit UPDATE makes two: the row lock (which picks the snapshot and reads the catalog version there), the commit', async () => {
    await c.query('create table rt_upd (id int primary key, n int)');
    await c.query('insert into rt_upd values (1, 0)');
    await c.query('update rt_upd set n = n + 1 where id = 1');
    srv.shardCalls.length = 0;
    await c.query('update rt_upd set n = n + 1 where id = 1');
    expect(srv.shardCalls.map((x) => x.split(' ')[0])).toEqual(['lockRead', 'propose']);
    expect((await c.query('select n from rt_upd')).rows).toEqual([{ n: 2 }]);
  });
});

describe('expressions', () => {
  it('evaluates literals, arithmetic, casts and functions', async () => {
    const r = await c.query("select 1 + 2 as a, 7 / 2 as b, 7.0 / 2 as c, 'x' || 'y' as d, '42'::int8 as e, 2::float8 ^ 10 as f, upper('abc') as g, coalesce(null, 5) as h");
    expect(r.rows[0]).toEqual({ a: 3, b: 3, c: '3.5000000000000000', d: 'xy', e: '42', f: 1024, g: 'ABC', h: 5 });
  });

  it('exact numeric arithmetic', async () => {
    const r = await c.query('select 0.1 + 0.2 as s, 1.10 * 3 as m, 1::numeric / 3 as d, round(2.345, 2) as r');
    expect(r.rows[0]).toEqual({ s: '0.3', m: '3.30', d: '0.33333333333333333333', r: '2.35' });
  });

  it('CASE, LIKE, IN, BETWEEN, IS DISTINCT FROM', async () => {
    const r = await c.query("select case when 2 > 1 then 'yes' else 'no' end as c, 'hello' like 'h%o' as l, 'Hello' ilike 'h%' as il, 3 in (1,2,3) as i, 5 between 1 and 4 as b, null is distinct from 1 as d");
    expect(r.rows[0]).toEqual({ c: 'yes', l: true, il: true, i: true, b: false, d: true });
  });

  it('date/time and interval arithmetic', async () => {
    const r = await c.query("select date '2024-02-28' + 2 as d, timestamp '2024-01-31 10:00' + interval '1 month' as t, extract(year from date '2024-05-06') as y, interval '1 day 2 hours' as i");
    expect((r.rows[0] as { d: unknown }).d).toBeInstanceOf(Date);
    const txt = await c.query("select (date '2024-02-28' + 2)::text as d, (timestamp '2024-01-31 10:00' + interval '1 month')::text as t, extract(year from date '2024-05-06')::text as y, (interval '1 day 2 hours')::text as i");
    expect(txt.rows[0]).toEqual({ d: '2024-03-01', t: '2024-02-29 10:00:00', y: '2024', i: '1 day 02:00:00' });
  });

  it('jsonb operators and functions', async () => {
    const r = await c.query(`select '{"a":{"b":[1,2,3]}}'::jsonb -> 'a' -> 'b' ->> 1 as x, '{"b":1,"a":2}'::jsonb::text as canon, jsonb_build_object('k', 1, 'v', 'two')::text as o, '{"a":1,"b":2}'::jsonb @> '{"a":1}' as c`);
    expect(r.rows[0]).toEqual({ x: '2', canon: '{"a": 2, "b": 1}', o: '{"k": 1, "v": "two"}', c: true });
  });

  it('syntax errors are 42601 with a position; bad input 22P02; overflow 22003; division 22012', async () => {
    const e = await c.query('select 1; selec 2').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DatabaseError);
    expect((e as DatabaseError).code).toBe('42601');
    expect((e as DatabaseError).position).toBe('11');
    expect(await sqlstate(c.query("select 'abc'::int"))).toBe('22P02');
    expect(await sqlstate(c.query('select 2147483647::int4 + 1'))).toBe('22003');
    expect(await sqlstate(c.query('select 1 / 0'))).toBe('22012');
    expect(await sqlstate(c.query('select nosuchfn(1)'))).toBe('42883');
    expect(await sqlstate(c.query('select * from nosuchtable'))).toBe('42P01');
  });

  it('SET, SHOW, RESET and version()', async () => {
    await c.query("set application_name = 'tests'");
    expect((await c.query('show application_name')).rows).toEqual([{ application_name: 'tests' }]);
    await c.query('reset application_name');
    expect((await c.query('show application_name')).rows).toEqual([{ application_name: '' }]);
    expect(await sqlstate(c.query('set no_such_setting = 1'))).toBe('42704');
    const v = await c.query('select version(), current_database(), current_schema(), pg_backend_pid() > 0 as pid');
    expect(v.rows[0]).toMatchObject({ current_database: 'weft', current_schema: 'public', pid: true });
    expect((v.rows[0] as { version: string }).version).toMatch(/^PostgreSQL 15/);
  });
});

describe('tables', () => {
  beforeAll(async () => {
    await c.query('create table acct (id int primary key, owner text not null, balance numeric(12,2) not null default 0 check (balance >= 0), email varchar(20) unique)');
  });

  it('insert, select with point get, update, delete with command tags', async () => {
    const ins = await c.query("insert into acct (id, owner, balance, email) values (1, 'ann', 10, 'ann@x'), (2, 'bob', 20, 'bob@x'), (3, 'cy', 30, null)");
    expect(ins.command).toBe('INSERT');
    expect(ins.rowCount).toBe(3);
    expect((await c.query('select owner, balance from acct where id = $1', [2])).rows).toEqual([{ owner: 'bob', balance: '20.00' }]);
    const up = await c.query('update acct set balance = balance + 5 where id >= 2 returning id, balance');
    expect(up.rowCount).toBe(2);
    // RETURNING comes in storage order (hash order here), which PostgreSQL does not promise either.
    expect([...(up.rows as { id: number }[])].sort((a: { id: number }, b: { id: number }) => a.id - b.id)).toEqual([{ id: 2, balance: '25.00' }, { id: 3, balance: '35.00' }]);
    const del = await c.query('delete from acct where id = 3');
    expect(del.rowCount).toBe(1);
    expect((await c.query('select id from acct order by id')).rows).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('constraint violations carry the SQLSTATE and constraint name', async () => {
    const dup = await c.query("insert into acct values (1, 'x', 0, null)").catch((e: unknown) => e as DatabaseError);
    expect(dup).toMatchObject({ code: '23505', constraint: 'acct_pkey', detail: 'Key (id)=(1) already exists.' });
    const uq = await c.query("insert into acct values (9, 'x', 0, 'ann@x')").catch((e: unknown) => e as DatabaseError);
    expect(uq).toMatchObject({ code: '23505', constraint: 'acct_email_key' });
    expect(await sqlstate(c.query("insert into acct values (10, null, 0, null)"))).toBe('23502');
    const ck = await c.query("insert into acct values (11, 'neg', -1, null)").catch((e: unknown) => e as DatabaseError);
    expect(ck).toMatchObject({ code: '23514', constraint: 'acct_balance_check' });
    expect(await sqlstate(c.query("insert into acct values (12, 'long', 0, 'aaaaaaaaaaaaaaaaaaaaaaaaa')"))).toBe('22001');
    expect(await sqlstate(c.query('select nosuch from acct'))).toBe('42703');
  });

  it('secondary unique index lookups and ON CONFLICT', async () => {
    expect((await c.query("select id from acct where email = 'bob@x'")).rows).toEqual([{ id: 2 }]);
    await c.query("insert into acct values (1, 'dup', 0, null) on conflict do nothing");
    const r = await c.query("insert into acct values (1, 'ann2', 1, null) on conflict (id) do update set owner = excluded.owner returning owner");
    expect(r.rows).toEqual([{ owner: 'ann2' }]);
  });

  it('transactions: commit, rollback, savepoints, failed block', async () => {
    await c.query('begin');
    await c.query("insert into acct values (20, 't', 0, null)");
    await c.query('savepoint s1');
    await c.query("insert into acct values (21, 't', 0, null)");
    await c.query('rollback to savepoint s1');
    await c.query('commit');
    expect((await c.query('select id from acct where id >= 20 order by id')).rows).toEqual([{ id: 20 }]);
    await c.query('begin');
    await c.query("insert into acct values (22, 't', 0, null)");
    expect(await sqlstate(c.query('select 1/0'))).toBe('22012');
    expect(await sqlstate(c.query('select 1'))).toBe('25P02');
    const end = await c.query('commit');
    expect(end.command).toBe('ROLLBACK');
    expect((await c.query('select count(*)::int as n from acct where id = 22')).rows).toEqual([{ n: 0 }]);
  });

  it('concurrent writers: the second UPDATE waits for the row lock; it fails with 40001 only if what it read changed', async () => {
    const c2 = await srv.client();
    await c.query('begin');
    await c2.query('begin');
    await c.query('select balance from acct where id = 2');
    await c2.query('select balance from acct where id = 2');
    await c.query('update acct set balance = balance + 1 where id = 2');
    // As in PostgreSQL: c2 queues behind c's lock, and its earlier read is stale once c commits.
    const blocked = sqlstate(c2.query('update acct set balance = balance + 1 where id = 2'));
    await new Promise((r) => setTimeout(r, 100));
    await c.query('commit');
    expect(await blocked).toBe('40001');
    await c2.query('rollback');
    // A writer that read nothing stale waits, then goes ahead on the newest value: no failure.
    await c.query('begin');
    await c2.query('begin');
    await c.query('update acct set balance = balance + 1 where id = 2');
    const waiting = c2.query('update acct set balance = balance + 1 where id = 2 returning balance');
    await new Promise((r) => setTimeout(r, 100));
    await c.query('commit');
    expect((await waiting).rows).toEqual([{ balance: '28.00' }]); // 25 + the three increments
    await c2.query('commit');
  });

  it('aggregates, GROUP BY/HAVING, joins, subqueries, CTEs, UNION, DISTINCT, LIMIT', async () => {
    await c.query('create table orders (id serial primary key, acct int not null, amount int not null)');
    await c.query('insert into orders (acct, amount) values (1, 5), (1, 7), (2, 1), (2, 2), (2, 3)');
    expect((await c.query('select acct, count(*)::int as n, sum(amount)::int as s from orders group by acct having count(*) > 2 order by acct')).rows).toEqual([{ acct: 2, n: 3, s: 6 }]);
    expect((await c.query('select a.owner, sum(o.amount)::int as s from acct a join orders o on o.acct = a.id group by a.owner order by s desc')).rows).toEqual([{ owner: 'ann2', s: 12 }, { owner: 'bob', s: 6 }]);
    expect((await c.query('select a.id, o.id as oid from acct a left join orders o on o.acct = a.id and o.amount > 100 where a.id < 3 order by a.id')).rows).toEqual([{ id: 1, oid: null }, { id: 2, oid: null }]);
    expect((await c.query('select id from acct a where exists (select 1 from orders o where o.acct = a.id and o.amount = 7)')).rows).toEqual([{ id: 1 }]);
    expect((await c.query('select id from acct where id in (select acct from orders) order by id')).rows).toEqual([{ id: 1 }, { id: 2 }]);
    expect((await c.query('select (select max(amount) from orders) as m')).rows).toEqual([{ m: 7 }]);
    expect((await c.query('with big as (select * from orders where amount > 2) select count(*)::int as n from big')).rows).toEqual([{ n: 3 }]);
    expect((await c.query('select acct from orders union select id from acct order by 1')).rows.map((r: { acct: number }) => r.acct)).toEqual([1, 2, 20]);
    expect((await c.query('select distinct acct from orders order by acct desc limit 1')).rows).toEqual([{ acct: 2 }]);
    expect((await c.query('select id from orders order by id limit 2 offset 1')).rows).toEqual([{ id: 2 }, { id: 3 }]);
  });

  it('EXPLAIN shows the KV access path', async () => {
    const plan = async (q: string): Promise<string> => (await c.query(`explain ${q}`)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
    expect(await plan('select * from acct where id = 1')).toMatch(/Point Get on acct using acct_pkey/);
    expect(await plan('select * from acct where id > 1')).toMatch(/Span Scan on acct/);
    expect(await plan("select * from acct where email = 'x'")).toMatch(/Index Scan on acct using acct_email_key/);
    expect(await plan("select * from acct where owner = 'x'")).toMatch(/Full Scan on acct[\s\S]*Filter/);
  });

  it('prepared statements keep their plan (extended protocol and PREPARE/EXECUTE)', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await c.query({ name: 'byid', text: 'select owner from acct where id = $1', values: [2] });
      expect(r.rows).toEqual([{ owner: 'bob' }]);
    }
    await c.query('prepare q(int) as select owner from acct where id = $1');
    expect((await c.query('execute q(1)')).rows).toEqual([{ owner: 'ann2' }]);
    await c.query('deallocate q');
    expect(await sqlstate(c.query('execute q(1)'))).toBe('26000');
  });

  it('ALTER TABLE ADD/DROP COLUMN without rewriting rows; TRUNCATE', async () => {
    await c.query('create table t2 (id int primary key, a text)');
    await c.query("insert into t2 values (1, 'x')");
    await c.query("alter table t2 add column b int not null default 7");
    expect((await c.query('select * from t2')).rows).toEqual([{ id: 1, a: 'x', b: 7 }]);
    await c.query('alter table t2 drop column a');
    expect((await c.query('select * from t2')).rows).toEqual([{ id: 1, b: 7 }]);
    await c.query('truncate t2');
    expect((await c.query('select count(*)::int as n from t2')).rows).toEqual([{ n: 0 }]);
    await c.query('drop table t2');
    expect(await sqlstate(c.query('select * from t2'))).toBe('42P01');
  });

  it('window functions, set-returning functions and read-only transactions', async () => {
    await c.query('create table w (g text, v int)');
    await c.query("insert into w values ('a', 1), ('a', 3), ('b', 2), ('b', 2), ('b', 5)");
    const r = await c.query('select g, v, row_number() over (partition by g order by v) as rn, rank() over (order by v) as rk, sum(v) over (partition by g) as s from w order by g, v');
    expect(r.rows.map((x: Record<string, unknown>) => [x.g, x.v, x.rn, x.rk, x.s])).toEqual([
      ['a', 1, '1', '1', '4'], ['a', 3, '2', '4', '4'], ['b', 2, '1', '2', '9'], ['b', 2, '2', '2', '9'], ['b', 5, '3', '5', '9'],
    ]);
    expect((await c.query('select * from generate_series(1, 3) as n')).rows).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect((await c.query(`select key, value from jsonb_each('{"x": 1, "y": [2]}') order by key`)).rows).toEqual([{ key: 'x', value: 1 }, { key: 'y', value: [2] }]);
    await c.query('begin read only');
    expect(await sqlstate(c.query("insert into w values ('c', 9)"))).toBe('25006');
    await c.query('rollback');
  });

  it('SET TIME ZONE changes timestamptz input and output', async () => {
    await c.query("set time zone 'America/New_York'");
    const r = await c.query("select '2024-01-02 03:04:05'::timestamptz::text as local, ('2024-01-02 03:04:05+00'::timestamptz at time zone 'UTC')::text as utc");
    expect(r.rows).toEqual([{ local: '2024-01-02 03:04:05-05', utc: '2024-01-02 03:04:05' }]);
    await c.query('reset time zone');
    expect((await c.query("select '2024-01-02 03:04:05-05'::timestamptz::text as t")).rows).toEqual([{ t: '2024-01-02 08:04:05+00' }]);
  });

  it('row comparisons: IN lists, IN subqueries and keyset pagination', async () => {
    await c.query('create table rc (a int, b int, primary key (a, b))');
    await c.query('insert into rc values (1, 1), (1, 2), (2, 1), (2, 2)');
    expect((await c.query('select a, b from rc where (a, b) in ((1, 2), (2, 1)) order by a')).rows).toEqual([{ a: 1, b: 2 }, { a: 2, b: 1 }]);
    expect((await c.query('select a, b from rc where (a, b) > (1, 2) order by a, b')).rows).toEqual([{ a: 2, b: 1 }, { a: 2, b: 2 }]);
    expect((await c.query('select count(*)::int as n from rc where (a, b) in (select a, max(b) from rc group by a)')).rows).toEqual([{ n: 2 }]);
    const plan = (await c.query('explain select * from rc where a = 1 and b = 2')).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Point Get on rc using rc_pkey/);
  });

  it('foreign keys: missing parents 23503, referenced parents refuse deletes, CASCADE and SET NULL', async () => {
    await c.query('create table fk_p (id int primary key, code text unique)');
    await c.query('create table fk_c (id int primary key, p int references fk_p on delete cascade, q text references fk_p (code) on delete set null)');
    await c.query("insert into fk_p values (1, 'a'), (2, 'b')");
    await c.query("insert into fk_c values (10, 1, 'a'), (11, 2, 'b'), (12, null, null)");
    const bad = await c.query("insert into fk_c values (13, 3, null)").catch((e: unknown) => e as DatabaseError);
    expect(bad).toMatchObject({ code: '23503', constraint: 'fk_c_p_fkey', detail: 'Key (p)=(3) is not present in table "fk_p".' });
    await c.query('delete from fk_p where id = 1');
    expect((await c.query('select id, p, q from fk_c order by id')).rows).toEqual([{ id: 11, p: 2, q: 'b' }, { id: 12, p: null, q: null }]);
    await c.query('create table fk_r (id int primary key, p int not null references fk_p)');
    await c.query('insert into fk_r values (1, 2)');
    const refused = await c.query('delete from fk_p where id = 2').catch((e: unknown) => e as DatabaseError);
    expect(refused).toMatchObject({ code: '23503', constraint: 'fk_r_p_fkey' });
    const info = await c.query("select constraint_name from information_schema.table_constraints where table_name = 'fk_r' and constraint_type = 'FOREIGN KEY'");
    expect(info.rows).toEqual([{ constraint_name: 'fk_r_p_fkey' }]);
  });

  it('accepts the hash-sharded primary key syntax PRIMARY KEY ((a, b) HASH, c DESC)', async () => {
    await c.query('create table hk (tenant int, region text, created int, v text, primary key ((tenant, region) hash, created desc))');
    await c.query("insert into hk values (1, 'eu', 10, 'a'), (1, 'eu', 20, 'b'), (2, 'us', 5, 'c')");
    expect((await c.query("select v from hk where tenant = 1 and region = 'eu' and created = 20")).rows).toEqual([{ v: 'b' }]);
    expect((await c.query("select created from hk where tenant = 1 and region = 'eu'")).rows).toEqual([{ created: 20 }, { created: 10 }]);
    const def = await c.query("select indexdef from pg_indexes where tablename = 'hk'");
    expect(def.rows).toEqual([{ indexdef: 'CREATE UNIQUE INDEX hk_pkey ON public.hk USING btree (tenant, region, created DESC)' }]);
    expect(await sqlstate(c.query('create table hk2 (a int, primary key ((a) hash) with (nonsense = 1))'))).toBe('42601');
  });

  it('statement_timeout cancels a long statement with 57014', async () => {
    await c.query("set statement_timeout = '200ms'");
    const err = await c.query('select count(*) from generate_series(1, 100000000)').catch((e: unknown) => e as DatabaseError);
    expect(err).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
    await c.query('reset statement_timeout');
    expect((await c.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it('a multi-statement string is one implicit transaction', async () => {
    await c.query('create table ms (id int primary key)');
    expect(await sqlstate(c.query('insert into ms values (1); insert into ms values (2); insert into ms values (1)'))).toBe('23505');
    expect((await c.query('select count(*)::int as n from ms')).rows).toEqual([{ n: 0 }]);
    await c.query('insert into ms values (1); insert into ms values (2)');
    expect((await c.query('select count(*)::int as n from ms')).rows).toEqual([{ n: 2 }]);
  });
});
