import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { prefixEnd } from '@weft/storage';
import { DemoProcesses, ShardProbe, sleep } from './support/nemesis';
import { freeDemoPort, spawnDemo, type Demo } from './support/weft-server';

// MVCC garbage collection on the real cluster (3 nodes, 4 shards, decision 0048): each shard's
// leader walks its shard and proposes gc entries through the log. With a 2 s ttl this test sees
// what a user would after the ttl: a DROP TABLE's rows disappear from every shard's store (the
// drop itself wrote one marker per shard, not a deletion per row), reads older than the ttl
// are refused with 72000 instead of answering from collected history, current reads are
// unchanged, and every shard's replicas still hold identical state.
jest.setTimeout(180_000);

const SHARDS = [1, 2, 3, 4];

describe('MVCC gc on the demo cluster', () => {
  let dataDir: string;
  let demo: Demo | undefined;
  let probe: ShardProbe | undefined;
  let sql: Client;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-gc-'));
    const pgPort = await freeDemoPort();
    demo = await spawnDemo({ dataDir, pgPort, env: { WEFT_GC_TTL_S: '2', WEFT_GC_INTERVAL_MS: '500' }, readyTimeoutMs: 90_000 });
    probe = new ShardProbe(SHARDS, new DemoProcesses(demo).kvPorts());
    sql = new Client({ host: '127.0.0.1', port: pgPort, user: 'weft', database: 'weft' });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end().catch(() => undefined);
    probe?.close();
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Rows of table `id` (all its indexes) still in any shard's store, read at the current time. */
  async function storedRows(tableId: number): Promise<number> {
    const start = Buffer.from([tableId]);
    const end = prefixEnd(start) as Buffer;
    let n = 0;
    for (const shardId of SHARDS) {
      const kv = probe!.kv(shardId);
      const page = await kv.scan(start, end, await kv.now(), { limit: 10_000 });
      n += page.rows.length;
    }
    return n;
  }

  it('deletes a dropped table from every shard after the ttl, refuses reads older than it, and keeps replicas identical', async () => {
    await sql.query('CREATE TABLE gc_drop (id int PRIMARY KEY, v text)');
    await sql.query('CREATE INDEX gc_drop_v ON gc_drop (v)');
    await sql.query("INSERT INTO gc_drop SELECT g, 'row ' || g FROM generate_series(1, 300) g");
    await sql.query('CREATE TABLE gc_keep (id int PRIMARY KEY, n int)');
    await sql.query('INSERT INTO gc_keep SELECT g, 0 FROM generate_series(1, 40) g');
    for (let i = 1; i <= 5; i++) await sql.query('UPDATE gc_keep SET n = n + 1');
    // Public OIDs are descriptor ids + 16384; a table's keys start with its id.
    const dropId = Number((await sql.query<{ oid: string }>("SELECT oid FROM pg_class WHERE relname = 'gc_drop'")).rows[0].oid) - 16384;
    expect(dropId).toBeLessThan(248); // a one-byte key prefix (see storedRows)
    expect(await storedRows(dropId)).toBe(600); // 300 rows + 300 index entries

    await sql.query('DROP TABLE gc_drop');
    await sql.query('CREATE TABLE gc_drop (id int PRIMARY KEY, v text)'); // the name is free again
    await sql.query("INSERT INTO gc_drop VALUES (1, 'new')");

    // Within a few passes past the 2 s ttl the dropped rows are gone from every shard.
    const deadline = Date.now() + 60_000;
    let left = await storedRows(dropId);
    while (left > 0 && Date.now() < deadline) {
      await sleep(500);
      left = await storedRows(dropId);
    }
    expect(left).toBe(0);

    // History older than the ttl is gone: such a read is refused, not answered from what is left.
    await expect(sql.query("SELECT sum(n) FROM gc_keep AS OF SYSTEM TIME '-30s'")).rejects.toMatchObject({ code: '72000' });
    expect((await sql.query<{ s: string }>('SELECT sum(n) AS s FROM gc_keep')).rows[0].s).toBe('200');
    expect((await sql.query<{ v: string }>('SELECT v FROM gc_drop')).rows).toEqual([{ v: 'new' }]);

    const converged = await probe!.converge(30_000);
    expect(converged.filter((c) => !c.converged || c.divergences.length > 0)).toEqual([]);
  });
});
