// Losing meta's quorum (`weft demo`: 3 meta replicas, 3 nodes): schema changes are refused with
// a clear error (57P03) and change nothing, while reads and writes of data go on — they never
// ask meta. Once the quorum is back, DDL works again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freeDemoPort, spawnDemo, type Demo } from './support/weft-server';

describe('meta quorum loss on weft demo', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'weft-meta-quorum-'));
  let demo: Demo | undefined;
  let c: Client;
  let paused: number[] = [];

  beforeAll(async () => {
    demo = await spawnDemo({ dataDir, pgPort: await freeDemoPort() });
    c = new Client({ host: '127.0.0.1', port: demo.pgPort, user: 'weft', database: 'weft' });
    await c.connect();
  }, 120_000);

  afterAll(async () => {
    for (const pid of paused) process.kill(pid, 'SIGCONT');
    await c?.end().catch(() => undefined);
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses DDL with 57P03 while two of three meta replicas are down, keeps serving data, and accepts DDL again after', async () => {
    await c.query('CREATE TABLE orders (id int PRIMARY KEY, total int NOT NULL)');
    await c.query('INSERT INTO orders SELECT g, g FROM generate_series(1, 50) g');

    // SIGSTOP: the supervisor restarts processes that exit, not paused ones.
    const metas = (demo?.state()?.services ?? []).filter((s) => s.name.startsWith('meta-'));
    expect(metas.map((s) => s.name)).toEqual(['meta-1', 'meta-2', 'meta-3']);
    paused = metas.slice(1).map((s) => s.pid as number);
    for (const pid of paused) process.kill(pid, 'SIGSTOP');
    // The meta leader may still hold a lease its quorum granted just before (at most an election
    // timeout, ~1-2 s): timestamps it hands out meanwhile are still correct.
    await new Promise((r) => setTimeout(r, 3000));

    const started = Date.now();
    await expect(c.query('CREATE TABLE refunds (id int PRIMARY KEY)')).rejects.toMatchObject({
      code: '57P03',
      message: expect.stringContaining('schema changes are refused while the meta service has no quorum') as unknown,
    });
    expect(Date.now() - started).toBeLessThan(30_000);
    await expect(c.query('ALTER TABLE orders ADD COLUMN note text')).rejects.toMatchObject({ code: '57P03' });
    // Nothing of the refused statements exists.
    await expect(c.query('SELECT * FROM refunds')).rejects.toMatchObject({ code: '42P01' });
    expect((await c.query('SELECT * FROM orders WHERE id = 1')).fields.map((f) => f.name)).toEqual(['id', 'total']);

    // Data statements do not need meta.
    await c.query('INSERT INTO orders SELECT g, g FROM generate_series(51, 100) g');
    await c.query('UPDATE orders SET total = total + 1 WHERE id <= 10');
    expect((await c.query<{ n: string; s: string }>('SELECT count(*)::text AS n, sum(total)::text AS s FROM orders')).rows[0]).toEqual({ n: '100', s: String(5050 + 10) });

    for (const pid of paused) process.kill(pid, 'SIGCONT');
    paused = [];
    let created = false;
    for (let i = 0; i < 60 && !created; i++) {
      try {
        await c.query('CREATE TABLE refunds (id int PRIMARY KEY)');
        created = true;
      } catch (e) {
        expect((e as { code?: string }).code).toBe('57P03');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    expect(created).toBe(true);
    await c.query('INSERT INTO refunds VALUES (1)');
    expect((await c.query('SELECT id FROM refunds')).rows).toEqual([{ id: 1 }]);
  }, 180_000);
});
