// Two gateways over the same shards, each with its own catalog cache. A gateway plans with its
// cached catalog and only assumes the version (checked with the statement's first read), so
// DDL through the other gateway must never give stale shapes, missing tables or wrong rows.
import type { Client } from 'pg';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

let srv: SqlTestServer;
let a: Client; // gateway 0: runs the DDL
let b: Client; // gateway 1: has the catalog cached from before the DDL
beforeAll(async () => {
  srv = await startSqlServer({ shards: 4, gateways: 2 });
  a = await srv.client('weft', 0);
  b = await srv.client('weft', 1);
});
afterAll(async () => {
  await srv.close();
});
afterEach(() => {
  expect(srv.internalErrors.splice(0)).toEqual([]);
});

/** Makes gateway 1 load (and cache) the current catalog. */
const warm = async (table: string): Promise<void> => {
  await b.query(`select * from ${table} limit 1`);
};

it('a column added through another gateway shows at once, with its default, in point reads and scans', async () => {
  await a.query('create table cc_shape (id int primary key, v text)');
  await a.query("insert into cc_shape values (1, 'one'), (2, 'two')");
  await warm('cc_shape');
  await b.query("select v from cc_shape where id = 1"); // plan cached on gateway 1
  await a.query('alter table cc_shape add column n int not null default 7');
  expect((await b.query('select * from cc_shape where id = 1')).rows).toEqual([{ id: 1, v: 'one', n: 7 }]);
  expect((await b.query('select * from cc_shape order by id')).rows).toEqual([{ id: 1, v: 'one', n: 7 }, { id: 2, v: 'two', n: 7 }]);
});

it('a table created through another gateway can be used at once (no stale "does not exist")', async () => {
  await warm('cc_shape');
  await a.query('create table cc_new (id int primary key, v int)');
  await b.query('insert into cc_new values (1, 10)');
  expect((await b.query('select v from cc_new where id = 1')).rows).toEqual([{ v: 10 }]);
  await a.query('drop table cc_new');
  expect(await sqlstate(b.query('select v from cc_new where id = 1'))).toBe('42P01');
});

it('a table dropped and created again under the same name is read from its new rows, never the old ones', async () => {
  await a.query('create table cc_again (id int primary key, v text)');
  await a.query("insert into cc_again values (1, 'old')");
  expect((await b.query('select v from cc_again where id = 1')).rows).toEqual([{ v: 'old' }]);
  await a.query('drop table cc_again');
  await a.query('create table cc_again (id int primary key, v text)');
  await a.query("insert into cc_again values (1, 'new')");
  expect((await b.query('select v from cc_again where id = 1')).rows).toEqual([{ v: 'new' }]);
  expect((await b.query('select count(*)::int as n from cc_again')).rows).toEqual([{ n: 1 }]);
});

it('a blind INSERT planned with a stale catalog runs again with the new one, inside a transaction block too', async () => {
  await a.query('create table cc_blind (id int primary key, v int)');
  await warm('cc_blind');
  await a.query('alter table cc_blind add column tag text not null default $$fresh$$');
  await b.query('insert into cc_blind (id, v) values (1, 1)');
  await warm('cc_blind');
  await a.query('alter table cc_blind alter column tag set default $$newer$$');
  await b.query('begin');
  await b.query('insert into cc_blind (id, v) values (2, 2)');
  await b.query('insert into cc_blind (id, v) values (3, 3)');
  await b.query('commit');
  expect((await a.query('select id, v, tag from cc_blind order by id')).rows).toEqual([
    { id: 1, v: 1, tag: 'fresh' },
    { id: 2, v: 2, tag: 'newer' },
    { id: 3, v: 3, tag: 'newer' },
  ]);
});

it('after DDL elsewhere, the first point read reloads the catalog and the next ones are one shard call again', async () => {
  await a.query('create table cc_rt (id int primary key, v int)');
  await a.query('insert into cc_rt values (1, 1)');
  await b.query('select v from cc_rt where id = 1');
  await a.query('create index cc_rt_v on cc_rt (v)');
  srv.shardCalls.length = 0;
  expect((await b.query('select v from cc_rt where id = 1')).rows).toEqual([{ v: 1 }]);
  expect(srv.shardCalls.length).toBeGreaterThan(1); // the failed check, then the catalog at the snapshot
  srv.shardCalls.length = 0;
  expect((await b.query('select v from cc_rt where id = 1')).rows).toEqual([{ v: 1 }]);
  expect(srv.shardCalls).toHaveLength(1);
});

it('a transaction that read under one catalog version cannot write after DDL changed it (40001, then ROLLBACK)', async () => {
  await a.query('create table cc_ser (id int primary key, v int)');
  await a.query('insert into cc_ser values (1, 1)');
  await b.query('begin');
  expect((await b.query('select v from cc_ser where id = 1')).rows).toEqual([{ v: 1 }]);
  await a.query('alter table cc_ser add column w int');
  expect(await sqlstate(b.query('update cc_ser set v = 2 where id = 1'))).toBe('40001');
  expect((await b.query('commit')).command).toBe('ROLLBACK');
  expect((await a.query('select v, w from cc_ser')).rows).toEqual([{ v: 1, w: null }]);
});

describe('the extended protocol (Parse plans with the cache, Execute checks it)', () => {
  it('a parameterized point read is one shard call', async () => {
    await a.query('create table cc_ext (id int primary key, v text)');
    await a.query("insert into cc_ext values (1, 'x'), (2, 'y')");
    await b.query('select v from cc_ext where id = $1', [1]);
    srv.shardCalls.length = 0;
    expect((await b.query('select v from cc_ext where id = $1', [2])).rows).toEqual([{ v: 'y' }]);
    expect(srv.shardCalls).toHaveLength(1);
  });

  it('Parse of a table created through another gateway succeeds (the cache is checked before "does not exist")', async () => {
    await warm('cc_ext');
    await a.query('create table cc_ext_new (id int primary key, v int)');
    await b.query('insert into cc_ext_new values ($1, $2)', [1, 5]);
    expect((await b.query('select v from cc_ext_new where id = $1', [1])).rows).toEqual([{ v: 5 }]);
  });

  it('a prepared statement whose result shape changed fails with 0A000 instead of sending rows of another shape', async () => {
    await a.query('create table cc_shape2 (id int primary key, v int)');
    await a.query('insert into cc_shape2 values (1, 1)');
    const q = { name: 'cc_shape2_q', text: 'select * from cc_shape2 where id = $1', values: [1] };
    expect((await b.query(q)).rows).toEqual([{ id: 1, v: 1 }]);
    await a.query('alter table cc_shape2 add column w int default 3');
    const e = await b.query(q).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: '0A000', message: 'cached plan must not change result type' });
    // A statement whose shape did not change keeps working.
    const same = { name: 'cc_shape2_v', text: 'select v from cc_shape2 where id = $1', values: [1] };
    expect((await b.query(same)).rows).toEqual([{ v: 1 }]);
    await a.query('create index cc_shape2_v on cc_shape2 (v)');
    expect((await b.query(same)).rows).toEqual([{ v: 1 }]);
  });
});

it('INSERT ... RETURNING * and a multi-statement query after DDL elsewhere return the new shape', async () => {
  await a.query('create table cc_ret (id int primary key, v int)');
  await b.query('insert into cc_ret values (1, 1) returning *');
  await a.query('alter table cc_ret add column w text default $$w$$');
  expect((await b.query('insert into cc_ret values (2, 2) returning *')).rows).toEqual([{ id: 2, v: 2, w: 'w' }]);
  await a.query('alter table cc_ret drop column v');
  const multi = await b.query('insert into cc_ret (id) values (3); select * from cc_ret order by id');
  expect((multi as unknown as { rows: unknown[] }[])[1].rows).toEqual([{ id: 1, w: 'w' }, { id: 2, w: 'w' }, { id: 3, w: 'w' }]);
});

it('an UPDATE by key planned with a stale catalog (its lock read carries the version check) runs again with the new one', async () => {
  await a.query('create table cc_upd (id int primary key, v int)');
  await a.query('insert into cc_upd values (1, 1)');
  await b.query('update cc_upd set v = v + 1 where id = 1');
  await a.query('alter table cc_upd add column w int not null default 5');
  srv.shardCalls.length = 0;
  expect((await b.query('update cc_upd set v = v + 1 where id = 1 returning *')).rows).toEqual([{ id: 1, v: 3, w: 5 }]);
  expect(srv.shardCalls.length).toBeGreaterThan(2); // the failed check, the catalog at the snapshot, then the update
  srv.shardCalls.length = 0;
  expect((await b.query('update cc_upd set v = v + 1 where id = 1 returning v')).rows).toEqual([{ v: 4 }]);
  expect(srv.shardCalls.map((x) => x.split(' ')[0])).toEqual(['lockRead', 'propose']);
});
