// A data transaction depends on the descriptors its statements use, not on the whole catalog
// (decision 0052): DDL on other objects, through either gateway, leaves it alone, while DDL on
// what it used, or on a table joined to it by a foreign key, still fails it at commit (40001)
// rather than let it write under an old layout (an index missing its row, an orphaned child).
import type { Client } from 'pg';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

let srv: SqlTestServer;
let a: Client; // gateway 0
let a2: Client; // gateway 0, a second session
let b: Client; // gateway 1
beforeAll(async () => {
  srv = await startSqlServer({ shards: 4, gateways: 2 });
  a = await srv.client('weft', 0);
  a2 = await srv.client('weft', 0);
  b = await srv.client('weft', 1);
});
afterAll(async () => {
  await srv.close();
});
afterEach(() => {
  expect(srv.internalErrors.splice(0)).toEqual([]);
});

const count = async (c: Client, sql: string): Promise<number> => (await c.query<{ n: number }>(sql)).rows[0].n;

describe('DDL on other objects does not fail a transaction in flight', () => {
  it.each([
    ['through another gateway', (): Client => a],
    ['through the same gateway', (): Client => a2],
  ])('%s: CREATE TABLE, CREATE INDEX, ALTER TABLE and DROP TABLE elsewhere; the writer commits', async (_label, ddl) => {
    const sfx = ddl() === a ? 'o' : 's';
    await a.query(`create table ds_w_${sfx} (id int primary key, v int)`);
    await a.query(`create table ds_x_${sfx} (id int primary key, v int)`);
    await a.query(`insert into ds_x_${sfx} select g, g from generate_series(1, 20) g`);
    await b.query('begin');
    await b.query(`insert into ds_w_${sfx} values (1, 1)`);
    await ddl().query(`create table ds_new_${sfx} (id int primary key)`);
    await b.query(`insert into ds_w_${sfx} values (2, 2)`);
    await ddl().query(`create index ds_x_v_${sfx} on ds_x_${sfx} (v)`);
    await ddl().query(`alter table ds_x_${sfx} add column w text default 'w'`);
    expect((await b.query(`update ds_w_${sfx} set v = v + 10 where id = 1 returning v`)).rows).toEqual([{ v: 11 }]);
    await ddl().query(`drop table ds_new_${sfx}`);
    expect((await b.query('commit')).command).toBe('COMMIT');
    expect((await a.query(`select id, v from ds_w_${sfx} order by id`)).rows).toEqual([{ id: 1, v: 11 }, { id: 2, v: 2 }]);
  });

  it('a COPY transaction (pg_restore -j: TRUNCATE, COPY) commits while another session creates indexes', async () => {
    await a.query('create table ds_load (id int primary key, v text)');
    await a.query('create table ds_other (id int primary key, v int)');
    await b.query('begin');
    await b.query('truncate ds_load');
    await b.query("insert into ds_load select g, 'r' || g from generate_series(1, 200) g");
    await a.query('create index ds_other_v on ds_other (v)');
    await a.query('alter table ds_other add constraint ds_other_v_pos check (v > 0)');
    expect((await b.query('commit')).command).toBe('COMMIT');
    expect(await count(a, 'select count(*)::int as n from ds_load')).toBe(200);
  });
});

describe('DDL on what the transaction used still fails it (never a write under an old layout)', () => {
  it('CREATE INDEX on the table a transaction writes: 40001, and the index holds every committed row', async () => {
    await a.query('create table ds_ix (id int primary key, v int)');
    await a.query('insert into ds_ix select g, g % 7 from generate_series(1, 50) g');
    await b.query('begin');
    await b.query('insert into ds_ix values (100, 3)');
    await a.query('create index ds_ix_v on ds_ix (v)');
    expect(await sqlstate(b.query('commit'))).toBe('40001');
    await b.query('insert into ds_ix values (101, 3)'); // planned with the new index
    const byIndex = await count(a, 'select count(*)::int as n from ds_ix where v = 3');
    const byScan = await count(a, 'select count(*)::int as n from ds_ix where v + 0 = 3');
    expect(byIndex).toBe(byScan);
    expect(byScan).toBe(8); // 7 of 1..50, and 101
  });

  it('a foreign key added since the snapshot: deleting the parent row fails (40001), leaving no orphan', async () => {
    await a.query('create table ds_parent (id int primary key)');
    await a.query('create table ds_child (id int primary key, pid int)');
    await a.query('insert into ds_parent values (1), (2)');
    await a.query('insert into ds_child values (10, 1)');
    await b.query('begin');
    expect((await b.query('delete from ds_parent where id = 1')).rowCount).toBe(1);
    await a.query('alter table ds_child add constraint ds_child_fk foreign key (pid) references ds_parent (id)');
    expect(await sqlstate(b.query('commit'))).toBe('40001');
    expect(await count(a, 'select count(*)::int as n from ds_child c where not exists (select 1 from ds_parent p where p.id = c.pid)')).toBe(0);
    // With the constraint known, the delete is refused as in PostgreSQL.
    expect(await sqlstate(b.query('delete from ds_parent where id = 1'))).toBe('23503');
  });

  it('a cascading delete whose child table was changed since the snapshot fails (40001); the child index stays exact', async () => {
    await a.query('create table ds_cp (id int primary key)');
    await a.query('create table ds_cc (id int primary key, pid int references ds_cp (id) on delete cascade, v int)');
    await a.query('insert into ds_cp values (1), (2)');
    await a.query('insert into ds_cc select g, 1 + g % 2, g % 5 from generate_series(1, 40) g');
    await b.query('begin');
    await b.query('delete from ds_cp where id = 1');
    await a.query('create index ds_cc_v on ds_cc (v)');
    expect(await sqlstate(b.query('commit'))).toBe('40001');
    expect(await count(a, 'select count(*)::int as n from ds_cc where v = 2')).toBe(await count(a, 'select count(*)::int as n from ds_cc where v + 0 = 2'));
    await b.query('delete from ds_cp where id = 1');
    expect(await count(a, 'select count(*)::int as n from ds_cc')).toBe(20);
    expect(await count(a, 'select count(*)::int as n from ds_cc where v = 1')).toBe(await count(a, 'select count(*)::int as n from ds_cc where v + 0 = 1'));
  });

  it('a child table dropped since the snapshot: the cascading delete fails (40001) rather than write into the dropped table', async () => {
    await a.query('create table ds_dp (id int primary key)');
    await a.query('create table ds_dc (id int primary key, pid int references ds_dp (id) on delete cascade)');
    await a.query('insert into ds_dp values (1)');
    await a.query('insert into ds_dc values (1, 1)');
    await b.query('begin');
    await b.query('delete from ds_dp where id = 1');
    await a.query('drop table ds_dc');
    expect(await sqlstate(b.query('commit'))).toBe('40001');
    expect(await count(a, 'select count(*)::int as n from ds_dp')).toBe(1);
  });

  it('concurrent DDL still serializes: both statements succeed (autocommit retries) and both changes are there', async () => {
    await a.query('create table ds_ddl1 (id int primary key, v int)');
    await a.query('create table ds_ddl2 (id int primary key, v int)');
    await Promise.all([
      a.query('create index ds_ddl1_v on ds_ddl1 (v)'),
      b.query('alter table ds_ddl2 add column w int'),
      a2.query('create table ds_ddl3 (id int primary key)'),
    ]);
    const idx = await a.query("select indexname from pg_indexes where tablename = 'ds_ddl1' and indexname = 'ds_ddl1_v'");
    expect(idx.rowCount).toBe(1);
    expect((await a.query('select * from ds_ddl2')).fields.map((f) => f.name)).toEqual(['id', 'v', 'w']);
    expect((await a.query('select * from ds_ddl3')).rowCount).toBe(0);
  });
});
