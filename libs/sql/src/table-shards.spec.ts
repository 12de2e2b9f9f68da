// CREATE TABLE ... WITH (shards = N) and weft.default_table_shards (issue 10, step 3): a table's
// rows, and its secondary index entries, live on N shards of the cluster's 8, and the table
// answers every query as an ordinary one.
import { indexSpan } from '@weft/storage';
import { indexSpec } from './catalog/table-data';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

describe('tables over a chosen number of shards', () => {
  let srv: SqlTestServer;
  beforeAll(async () => {
    srv = await startSqlServer({ shards: 8 });
  });
  afterAll(() => srv.close());

  /** Shards holding at least one key of the table's index `which` (0: primary). */
  async function shardsHolding(table: string, which = 0): Promise<number[]> {
    const engine = srv.factory.engine;
    const cat = await engine.catalogFor(engine.newTxn());
    const t = [...cat.byId.values()].find((d) => d.kind === 'table' && d.name === table);
    if (t?.kind !== 'table') throw new Error(`no table ${table}`);
    const idx = which === 0 ? t.primary : t.indexes[which - 1];
    const { start, end } = indexSpan(indexSpec(t, idx, !idx.primary));
    const out: number[] = [];
    for (const id of engine.kv.map.shardIds()) {
      const shard = engine.kv.shard(id);
      const page = await shard.scan(start, end, await shard.now(), { limit: 1 });
      if (page.rows.length > 0) out.push(id);
    }
    return out;
  }

  it('WITH (shards = 2) keeps rows and index entries on two shards; queries, constraints and writes behave as usual', async () => {
    const c = await srv.client();
    await c.query('CREATE TABLE few (id int PRIMARY KEY, email text UNIQUE, v int) WITH (shards = 2)');
    await c.query('CREATE INDEX few_v ON few (v)');
    await c.query("INSERT INTO few SELECT g, 'u' || g || '@x', g % 7 FROM generate_series(1, 300) g");
    await c.query('CREATE TABLE many (id int PRIMARY KEY, v int)');
    await c.query('INSERT INTO many SELECT g, g FROM generate_series(1, 300) g');
    expect((await shardsHolding('few')).length).toBe(2);
    expect((await shardsHolding('few', 1)).length).toBe(2);
    expect((await shardsHolding('few', 2)).length).toBe(2);
    expect((await shardsHolding('many')).length).toBe(8);

    expect((await c.query('SELECT count(*)::int AS n, sum(id)::int AS s FROM few')).rows).toEqual([{ n: 300, s: 45150 }]);
    expect((await c.query('SELECT id FROM few ORDER BY id LIMIT 3')).rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect((await c.query('SELECT id, v FROM few WHERE id = 10')).rows).toEqual([{ id: 10, v: 3 }]);
    expect((await c.query("SELECT id FROM few WHERE email = 'u77@x'")).rows).toEqual([{ id: 77 }]);
    expect((await c.query('SELECT count(*)::int AS n FROM few WHERE v = 3')).rows).toEqual([{ n: 43 }]);
    expect((await c.query('SELECT count(*)::int AS n FROM few JOIN many USING (id) WHERE many.v <= 100')).rows).toEqual([{ n: 100 }]);
    expect(await sqlstate(c.query("INSERT INTO few VALUES (1, 'other@x', 0)"))).toBe('23505');
    expect(await sqlstate(c.query("INSERT INTO few VALUES (1000, 'u5@x', 0)"))).toBe('23505');
    await c.query('UPDATE few SET v = v + 100 WHERE id <= 50');
    await c.query('DELETE FROM few WHERE id > 250');
    expect((await c.query('SELECT count(*)::int AS n, max(v)::int AS m FROM few')).rows).toEqual([{ n: 250, m: 106 }]);
    const ranges = await c.query('SHOW RANGES FROM TABLE few');
    expect(ranges.rows.length).toBe(2);
    expect((await c.query("SELECT reloptions FROM pg_class WHERE relname = 'few'")).rows).toEqual([{ reloptions: ['shards=2'] }]);
    expect((await c.query("SELECT reloptions FROM pg_class WHERE relname = 'many'")).rows).toEqual([{ reloptions: null }]);
  });

  it('weft.default_table_shards sets the count for tables created without WITH; bad counts and changes are refused', async () => {
    const c = await srv.client();
    await c.query('SET weft.default_table_shards = 1');
    await c.query('CREATE TABLE one (id int PRIMARY KEY)');
    await c.query('INSERT INTO one SELECT generate_series(1, 100)');
    expect(await shardsHolding('one')).toHaveLength(1);
    await c.query('RESET weft.default_table_shards');
    await c.query("CREATE TABLE quoted (id int PRIMARY KEY) WITH (shards = '3', fillfactor = 90)");
    await c.query('INSERT INTO quoted SELECT generate_series(1, 100)');
    expect(await shardsHolding('quoted')).toHaveLength(3);
    for (const bad of ['0', '-1', '70000', "'x'", '1.5']) {
      expect([bad, await sqlstate(c.query(`CREATE TABLE bad (id int PRIMARY KEY) WITH (shards = ${bad})`))]).toEqual([bad, '22023']);
    }
    expect(await sqlstate(c.query('SET weft.default_table_shards = -1'))).toBe('22023');
    expect(await sqlstate(c.query('ALTER TABLE one SET (shards = 4)'))).toBe('0A000');
    await c.query('ALTER TABLE one SET (fillfactor = 80)');
    expect((await c.query('SELECT count(*)::int AS n FROM one')).rows).toEqual([{ n: 100 }]);
  });
});
