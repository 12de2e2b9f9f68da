import type { Client } from 'pg';
import { Client as PgClient } from 'pg';
import { startWeft } from './support/weft-server';
import type { SqlServer } from './support/postgres';

// Operator statements on the real cluster (`weft demo`: 3 node processes, 4 shards): SHOW RANGES
// lists every shard of a table with its replicas and leaseholder, and ALTER RANGE ... RELOCATE
// LEASE TO moves a shard's lease to another node, after which reads and writes go on there.

interface Range {
  shard_id: string;
  start_key: string;
  end_key: string;
  replicas: number[];
  lease_holder: string | null;
}

describe('cluster operator statements on weft demo', () => {
  let srv: SqlServer;
  let c: Client;
  beforeAll(async () => {
    srv = await startWeft({ mode: 'demo' });
    c = new PgClient({ host: srv.host, port: srv.port, user: srv.user, database: srv.database });
    await c.connect();
    await c.query('create table ops (id int primary key, v text)');
    await c.query("insert into ops select g, 'v' || g from generate_series(1, 200) g");
  }, 120000);
  afterAll(async () => {
    await c?.end().catch(() => undefined);
    await srv?.stop();
  });

  const ranges = async (): Promise<Range[]> => (await c.query<Range>('show ranges from table ops')).rows;

  it('SHOW RANGES lists every shard with its hash range, three replicas and a leaseholder', async () => {
    const rs = await ranges();
    expect(rs.map((r) => r.shard_id)).toEqual(['1', '2', '3', '4']);
    expect(rs[0].start_key).toMatch(/^\/Table\/\d+\/0000$/);
    for (let i = 1; i < rs.length; i++) expect(rs[i].start_key).toBe(rs[i - 1].end_key);
    for (const r of rs) {
      expect(r.replicas).toEqual([1, 2, 3]);
      expect(['1', '2', '3']).toContain(r.lease_holder);
    }
    await expect(c.query('show ranges from table nope')).rejects.toMatchObject({ code: '42P01' });
  });

  it('ALTER RANGE ... RELOCATE LEASE TO moves the lease, and the shard keeps serving', async () => {
    const before = (await ranges())[1];
    const target = before.lease_holder === '1' ? 2 : 1;
    const r = await c.query(`alter range ${before.shard_id} relocate lease to ${target}`);
    expect(r.command).toBe('ALTER');
    expect((await ranges())[1].lease_holder).toBe(String(target));
    await c.query("update ops set v = 'moved' where id between 1 and 200");
    expect((await c.query<{ n: string }>("select count(*) as n from ops where v = 'moved'")).rows[0].n).toBe('200');
    await expect(c.query('alter range 99 relocate lease to 1')).rejects.toMatchObject({ code: '22023' });
    await expect(c.query(`alter range ${before.shard_id} relocate lease to 7`)).rejects.toMatchObject({ code: '22023' });
  });
});
