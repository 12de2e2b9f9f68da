import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from './support/ports';
import { spawnNode, type Spawned } from './support/process';
import { waitForSql } from './support/weft-server';

// `npm start` is `weft demo`: three node processes replicating shard 1 plus meta and the
// gateway. A newcomer's first experience, so it is tested as they would use it: SQL on the
// printed port, a clean stop on SIGTERM, and the data still there after a restart with the
// same --data directory. (The demo's service ports are fixed, as in docker-compose.yml.)
jest.setTimeout(120_000);

describe('weft demo (npm start)', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-demo-test-'));
  let pgPort = 0;
  let demo: Spawned | undefined;

  const start = async (): Promise<Spawned> => {
    const proc = spawnNode('dist/apps/cli/src/main.js', { WEFT_LOG_LEVEL: 'warn' }, ['demo', '--port', String(pgPort), '--data', dataDir]);
    await waitForSql('127.0.0.1', pgPort, 60_000, proc);
    // The gateway can answer SQL a moment before the demo's own health poll sees it and prints
    // the banner: wait for the banner rather than racing it.
    for (let i = 0; i < 300 && !proc.stdout().includes('Press Ctrl-C to stop.'); i++) await new Promise((r) => setTimeout(r, 100));
    return proc;
  };
  const stop = async (proc: Spawned): Promise<number | string> => {
    proc.child.kill('SIGTERM');
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
    const code = await proc.exited;
    clearTimeout(timer);
    return code;
  };
  const connect = async (user: string): Promise<Client> => {
    const c = new Client({ host: '127.0.0.1', port: pgPort, user, database: 'weft' });
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    pgPort = await freePort();
  });
  afterAll(async () => {
    if (demo && demo.child.exitCode === null) await stop(demo);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves SQL on --port over the replicated shard and prints how to connect', async () => {
    demo = await start();
    expect(demo.stdout()).toContain(`data: ${dataDir}`);
    expect(demo.stdout()).toContain(`psql "host=127.0.0.1 port=${pgPort} user=weft dbname=weft"`);
    const c = await connect('weft');
    try {
      await c.query('CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(10,2))');
      await c.query("INSERT INTO orders VALUES (1, 'ada', 12.50), (2, 'bob', 7.25), (3, 'cy', 100.00)");
      const r = await c.query<{ n: string; s: string }>('SELECT count(*) AS n, sum(total) AS s FROM orders');
      expect(r.rows).toEqual([{ n: '3', s: '119.75' }]);
      await expect(c.query("INSERT INTO orders VALUES (1, 'dup', 0)")).rejects.toMatchObject({ code: '23505' });
    } finally {
      await c.end();
    }
  });

  it('stops cleanly on SIGTERM and keeps the data across a restart with the same --data', async () => {
    expect(await stop(demo as Spawned)).toBe(0);
    expect((demo as Spawned).stdout()).toContain('weft: stopped');
    demo = await start();
    // The OS user is accepted without a password on loopback, like `weft`.
    const c = await connect(os.userInfo().username);
    try {
      const r = await c.query<{ id: number; customer: string }>('SELECT id, customer FROM orders ORDER BY id');
      expect(r.rows).toEqual([
        { id: 1, customer: 'ada' },
        { id: 2, customer: 'bob' },
        { id: 3, customer: 'cy' },
      ]);
    } finally {
      await c.end();
    }
  });
});
