// Filter pushdown (decision 0038): full and span scans send the WHERE conjuncts their shards can
// evaluate. Every query here runs with pushdown on and off over four shards: the answers must be
// the same (a shard must never drop a row the gateway would keep), and with it on the shards
// must send back only the rows that match.
import type { Client } from 'pg';
import { sqlstate, startSqlServer, type SqlTestServer } from '../test-support/server';

let srv: SqlTestServer;
let c: Client;
const N = 400;

beforeAll(async () => {
  srv = await startSqlServer({ shards: 4 });
  c = await srv.client();
  await c.query(`create table pd (
    id int primary key, v int, big bigint, name text, price numeric(10, 2), at timestamptz, flag boolean, doc jsonb, tags text[]
  )`);
  const rows: string[] = [];
  for (let i = 1; i <= N; i++) {
    const v = i % 7 === 0 ? 'null' : String(i % 50);
    const name = i % 11 === 0 ? 'null' : `'${i % 3 === 0 ? 'Alpha' : 'beta'}-${i}'`;
    const at = `'2024-01-01 00:00:00+00'::timestamptz + interval '${i} hours'`;
    rows.push(`(${i}, ${v}, ${i * 1_000_000_007}, ${name}, ${(i * 1.25).toFixed(2)}, ${at}, ${i % 2 === 0}, '{"k": ${i % 5}, "s": "x${i % 4}"}', array['t${i % 3}', 't${i % 5}'])`);
  }
  await c.query(`insert into pd values ${rows.join(', ')}`);
});
afterAll(async () => {
  await srv.close();
});
afterEach(() => {
  expect(srv.internalErrors.splice(0)).toEqual([]);
});

/**
 * Runs `sql` with pushdown on, then off: the rows of each, and with it on and off the rows the
 * shards' scans returned (`shippedOn`, `shippedOff`) and the rows they counted (`counted`, on).
 */
async function both(sql: string, params: unknown[] = []): Promise<{ on: unknown[]; off: unknown[]; shippedOn: number; shippedOff: number; counted: number }> {
  await c.query('set weft.filter_pushdown = on');
  let before = srv.shardRows.returned;
  const counted0 = srv.shardRows.counted;
  const on = (await c.query(sql, params)).rows;
  const shippedOn = srv.shardRows.returned - before;
  const counted = srv.shardRows.counted - counted0;
  await c.query('set weft.filter_pushdown = off');
  before = srv.shardRows.returned;
  const off = (await c.query(sql, params)).rows;
  const shippedOff = srv.shardRows.returned - before;
  await c.query('set weft.filter_pushdown = on');
  return { on, off, shippedOn, shippedOff, counted };
}

const PREDICATES: readonly [string, unknown[]][] = [
  ['v > 40', []],
  ['v = $1', [7]],
  ['v between 10 and 12 or v is null', []],
  ['v is distinct from 3 and v < 5', []],
  ['big >= $1', ['300000000000']],
  ["name like 'Alpha-%'", []],
  ["name ilike 'ALPHA-1%'", []],
  ["lower(name) = 'alpha-36'", []],
  ['length(name) = 6 and not flag', []],
  ['price > 400.5', []],
  ['price * 2 < $1', [30]],
  ["at < '2024-01-02 00:00:00+00'", []],
  ["at >= $1::timestamptz", ['2024-01-15T12:00:00Z']],
  ['flag', []],
  ['flag is not true', []],
  ["doc->>'s' = 'x1' and (doc->>'k')::int > 2", []],
  ["doc @> '{\"k\": 3}'", []],
  ["'t4' = any(tags)", []],
  ['v in (1, 2, 3, $1)', [49]],
  ['coalesce(v, -1) = -1', []],
  ['case when v > 25 then true else false end', []],
  ['id % 97 = 0', []],
];

it.each(PREDICATES)('WHERE %s gives the same rows with pushdown on and off, and the shards send only the matches', async (where, params) => {
  const r = await both(`select * from pd where ${where} order by id`, params);
  expect(r.on).toEqual(r.off);
  expect(r.on.length).toBeGreaterThan(0);
  expect(r.on.length).toBeLessThan(N);
  // Each row is read once: the shards' parts are read one after another, not merged per page.
  expect(r.shippedOff).toBe(N);
  expect(r.shippedOn).toBe(r.on.length);
});

it('a prepared statement re-executed with other parameters filters with each execution\'s values', async () => {
  await c.query('set weft.filter_pushdown = on');
  for (const p of [3, 17, 49]) {
    const before = srv.shardRows.returned;
    const r = await c.query({ name: 'pd_by_v', text: 'select id from pd where v = $1 order by id', values: [p] });
    expect(r.rows.length).toBeGreaterThan(0);
    expect(r.rows.every((row: { id: number }) => row.id % 50 === p && row.id % 7 !== 0)).toBe(true);
    expect(srv.shardRows.returned - before).toBe(r.rows.length);
  }
});

it('conjuncts the shards cannot evaluate (subqueries, volatile functions) stay at the gateway; the rest still go', async () => {
  const r = await both('select id from pd where v > 45 and id in (select id from pd where flag) and random() >= 0 order by id');
  expect(r.on).toEqual(r.off);
  expect(r.on.length).toBeGreaterThan(0);
  // The subquery's own scan (flag) is pushed too: the outer scan sends only v > 45.
  expect(r.shippedOn).toBeLessThan(r.shippedOff);
});

it('a LIMIT goes to the shards with a fully pushed filter', async () => {
  const before = srv.shardRows.returned;
  const r = await c.query('select id from pd where v = 20 limit 2');
  expect(r.rows).toHaveLength(2);
  // Each of the four shards sends at most the limit.
  expect(srv.shardRows.returned - before).toBeLessThanOrEqual(8);
});

it('an error a row raises is still raised (the shard keeps rows it cannot evaluate)', async () => {
  expect(await sqlstate(c.query('select id from pd where 100 / (v - 5) > 1'))).toBe('22012');
  await c.query('set weft.filter_pushdown = off');
  expect(await sqlstate(c.query('select id from pd where 100 / (v - 5) > 1'))).toBe('22012');
  await c.query('set weft.filter_pushdown = on');
});

it('a transaction sees its own uncommitted writes through a pushed filter', async () => {
  await c.query('begin');
  try {
    await c.query('update pd set v = 1000 where id = 1');
    await c.query('update pd set v = -5 where id = 2');
    const r = await both('select id, v from pd where v > 999 or v < 0 order by id');
    expect(r.on).toEqual([{ id: 1, v: 1000 }, { id: 2, v: -5 }]);
    expect(r.off).toEqual(r.on);
    const r2 = await both('select id from pd where v = 2 order by id');
    expect(r2.on).toEqual(r2.off);
    expect(r2.on).not.toContainEqual({ id: 2 });
  } finally {
    await c.query('rollback');
  }
});

it('UPDATE and DELETE with a pushed filter change exactly the matching rows', async () => {
  await c.query('create table pd_dml (id int primary key, v int)');
  await c.query('insert into pd_dml select g, g % 10 from generate_series(1, 200) g');
  expect((await c.query('update pd_dml set v = v + 100 where v = 3')).rowCount).toBe(20);
  expect((await c.query('delete from pd_dml where v > 100')).rowCount).toBe(20);
  expect((await c.query('select count(*)::int as n from pd_dml')).rows).toEqual([{ n: 180 }]);
});

it('rows written before ADD COLUMN ... DEFAULT read the default on the shards too', async () => {
  await c.query('create table pd_add (id int primary key, v int)');
  await c.query('insert into pd_add select g, g from generate_series(1, 40) g');
  await c.query('alter table pd_add add column w int not null default 7');
  await c.query('insert into pd_add values (41, 41, 8)');
  const r = await both('select id from pd_add where w = 7 order by id');
  expect(r.on).toEqual(r.off);
  expect(r.on).toHaveLength(40);
});

it('literals read in the session time zone mean the same on the shards', async () => {
  await c.query("set timezone = 'Asia/Tokyo'");
  try {
    const r = await both("select id from pd where at < '2024-01-01 12:00' order by id");
    expect(r.on).toEqual(r.off);
    expect(r.on).toHaveLength(2); // 03:00Z is 12:00 in Tokyo: ids 1 and 2 are before it
  } finally {
    await c.query('reset timezone');
  }
});

it('EXPLAIN says where the filter runs', async () => {
  const plan = (await c.query('explain select * from pd where v > 3')).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
  expect(plan).toContain('Filter: evaluated on the shards');
  const partial = (await c.query('explain select * from pd where v > 3 and random() > 0.5')).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
  expect(partial).toContain('Filter: 1 conjunct(s) evaluated on the shards');
});

it('weft.filter_pushdown takes only Boolean values', async () => {
  expect(await sqlstate(c.query("set weft.filter_pushdown = 'sometimes'"))).toBe('22023');
});

describe('count(*) on the shards', () => {
  it.each([
    ['select count(*) from pd', []],
    ['select count(*) as n, count(*) * 2 as twice from pd where v > $1', [20]],
    ["select count(*) from pd where name like 'Alpha%' and flag", []],
    ['select count(*) from pd where id between 10 and 30', []],
  ] as [string, unknown[]][])('%s: the same count, and no row is sent', async (sql, params) => {
    const r = await both(sql, params);
    expect(r.on).toEqual(r.off);
    expect(r.shippedOn).toBe(0);
    expect(r.counted).toBeGreaterThan(0);
  });

  it('falls back to scanning when a conjunct cannot be pushed, and counts right', async () => {
    const r = await both('select count(*) from pd where v > 3 and random() >= 0');
    expect(r.on).toEqual(r.off);
    expect(r.counted).toBe(0);
  });

  it('a row whose filter raises an error is not counted silently: the error is raised', async () => {
    expect(await sqlstate(c.query('select count(*) from pd where 100 / (v - 5) > 1'))).toBe('22012');
  });

  it('inside a transaction that wrote to the table, counts include its own writes', async () => {
    await c.query('begin');
    try {
      const before = Number((await c.query<{ n: string }>('select count(*) as n from pd')).rows[0].n);
      await c.query('insert into pd (id, v) values (100001, 1), (100002, 2)');
      await c.query('delete from pd where id = 3');
      expect(Number((await c.query<{ n: string }>('select count(*) as n from pd')).rows[0].n)).toBe(before + 1);
    } finally {
      await c.query('rollback');
    }
  });

  it('EXPLAIN shows where the count is taken', async () => {
    const plan = (await c.query('explain select count(*) from pd where v > 3')).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('Count: on the shards');
  });

  it('count of an empty span is zero without asking', async () => {
    expect((await c.query('select count(*)::int as n from pd where id > 5 and id < 5')).rows).toEqual([{ n: 0 }]);
  });
});

it('a count taken on the shards is in the read set: a concurrent insert makes the counting writer retry (40001)', async () => {
  await c.query('create table pd_oncall (id int primary key, on_call boolean)');
  await c.query('insert into pd_oncall values (1, true), (2, true)');
  const other = await srv.client();
  await c.query('begin');
  expect((await c.query('select count(*)::int as n from pd_oncall where on_call')).rows).toEqual([{ n: 2 }]);
  await other.query('insert into pd_oncall values (3, true)');
  // The UPDATE's locking read refreshes the snapshot and finds the insert, or the commit does.
  const failed = (await sqlstate(c.query('update pd_oncall set on_call = false where id = 1'))) ?? (await sqlstate(c.query('commit')));
  expect(failed).toBe('40001');
  await c.query('rollback');
  expect((await c.query('select id from pd_oncall where on_call order by id')).rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
});

describe('partial aggregates on the shards', () => {
  it.each([
    ['select v % 5 as k, count(*), count(name), sum(v), sum(big), sum(price), min(name), max(at), min(price) from pd group by 1 order by 1', []],
    ['select flag, count(*) as n, max(v) from pd where v > $1 group by flag order by flag', [10]],
    ["select name is null as anon, sum(v) from pd where name like 'beta%' or name is null group by 1 order by 1", []],
    ['select count(v), sum(v), min(v), max(v) from pd', []],
    ['select count(*), sum(v), min(name) from pd where v > 1000', []],
    ['select v, count(*) from pd where v > 45 group by v having count(*) > 5 order by v', []],
    ['select date_trunc(\'day\', at) as day, count(*) from pd group by 1 order by 1 limit 3', []],
    // avg travels as sum and count (NULL arguments count for neither): int, bigint, numeric.
    ['select v % 7 as k, avg(v), avg(big), avg(price), avg(case when v % 2 = 0 then v end) from pd group by 1 order by 1', []],
    ['select avg(v), avg(price) from pd where v > 1000', []],
  ] as [string, unknown[]][])('%s: the same rows, and no row is sent', async (sql, params) => {
    const r = await both(sql, params);
    expect(r.on).toEqual(r.off);
    expect(r.on.length).toBeGreaterThan(0);
    if (!sql.includes('date_trunc')) expect(r.shippedOn).toBe(0);
  });

  it('aggregates the shards cannot take (DISTINCT, sums and averages of floats) still come out right', async () => {
    const r = await both('select v % 3 as k, avg(v::float8), count(distinct name), sum(price::float8) from pd group by 1 order by 1');
    expect(r.on).toEqual(r.off);
    expect(r.shippedOn).toBeGreaterThan(0);
  });

  it('a row whose argument raises an error makes the statement fail, not drop the row', async () => {
    expect(await sqlstate(c.query('select v, sum(100 / (v - 5)) from pd group by v'))).toBe('22012');
  });

  it('EXPLAIN shows partial aggregates on the shards', async () => {
    const plan = (await c.query('explain select v, count(*) from pd group by v')).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('Partial aggregates: on the shards');
  });

  it('inside a transaction that wrote to the table, aggregates include its own writes', async () => {
    await c.query('begin');
    try {
      await c.query('insert into pd (id, v) values (100003, 7777)');
      expect((await c.query('select max(v) as m from pd')).rows).toEqual([{ m: 7777 }]);
    } finally {
      await c.query('rollback');
    }
  });
});
