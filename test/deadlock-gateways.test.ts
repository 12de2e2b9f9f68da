// A deadlock between sessions on two different gateways (`weft demo` plus a second gateway
// process routed by the same meta): neither gateway sees the whole cycle, so it is found from
// the shards' lock tables (KV RPC LockWaits). Exactly one statement fails with 40P01, the other
// transaction goes on and commits, as PostgreSQL does within one server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from './support/ports';
import { spawnNode, type Spawned } from './support/process';
import { freeDemoPort, spawnDemo, waitForSql, type Demo } from './support/weft-server';

describe('deadlock across two gateways', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'weft-deadlock-'));
  let demo: Demo | undefined;
  let second: Spawned | undefined;
  let a: Client;
  let b: Client;

  beforeAll(async () => {
    demo = await spawnDemo({ dataDir, pgPort: await freeDemoPort() });
    const metas = (demo.state()?.services ?? []).filter((s) => s.name.startsWith('meta-'));
    const pgPort = await freePort();
    second = spawnNode('dist/apps/gateway/src/main.js', {
      WEFT_BIND_HOST: '127.0.0.1',
      WEFT_PG_PORT: String(pgPort),
      WEFT_HTTP_PORT: String(await freePort()),
      WEFT_METRICS_PORT: String(await freePort()),
      WEFT_DATA_DIR: path.join(dataDir, 'gateway-2'),
      WEFT_META_ADDRS: metas.map((m, i) => `${i + 1}@127.0.0.1:${m.ports.rpc}`).join(','),
      WEFT_LOG_LEVEL: 'warn',
    });
    await waitForSql('127.0.0.1', pgPort, 60_000, second);
    a = new Client({ host: '127.0.0.1', port: demo.pgPort, user: 'weft', database: 'weft' });
    b = new Client({ host: '127.0.0.1', port: pgPort, user: 'weft', database: 'weft' });
    await a.connect();
    await b.connect();
  }, 120_000);

  afterAll(async () => {
    await a?.end().catch(() => undefined);
    await b?.end().catch(() => undefined);
    if (second && second.child.exitCode === null) {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    await demo?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails exactly one of the two with 40P01 within seconds, and the other commits', async () => {
    await a.query('CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL)');
    await a.query('INSERT INTO acct VALUES (1, 100), (2, 100)');
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query('UPDATE acct SET balance = balance - 10 WHERE id = 1');
    await b.query('UPDATE acct SET balance = balance - 20 WHERE id = 2');
    const started = Date.now();
    const results = await Promise.allSettled([
      a.query('UPDATE acct SET balance = balance + 10 WHERE id = 2'),
      b.query('UPDATE acct SET balance = balance + 20 WHERE id = 1'),
    ]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(failed[0].reason).toMatchObject({ code: '40P01' });
    // Found by the cross-gateway look (after 1 s), not by the 10 s lock lease.
    expect(Date.now() - started).toBeLessThan(8000);
    const [victim, survivor] = results[0].status === 'rejected' ? [a, b] : [b, a];
    await victim.query('ROLLBACK');
    await survivor.query('COMMIT');
    const rows = (await a.query<{ id: number; balance: number }>('SELECT id, balance FROM acct ORDER BY id')).rows;
    // The survivor's transfer happened whole, the victim's not at all.
    expect(rows).toEqual(survivor === a ? [{ id: 1, balance: 90 }, { id: 2, balance: 110 }] : [{ id: 1, balance: 120 }, { id: 2, balance: 80 }]);
  }, 120_000);
});
