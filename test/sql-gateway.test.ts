import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, DatabaseError } from 'pg';
import { freePort } from './support/ports';
import { libpqEnv, PG_BIN } from './support/postgres';
import { spawnNode } from './support/process';
import { freeDemoPort, spawnDemo, waitForSql, type Demo } from './support/weft-server';

// The SQL gateway as a user runs it: `weft demo` (meta, three node processes replicating the
// shard with Raft, the gateway) on a data directory. The catalog and rows survive a restart of
// the whole cluster, psql's COPY and \d work, two sessions see each other's commits and
// conflicting writers get 40001, a cancelled query answers 57014, and an unknown database is
// refused with 3D000. Then the gateway of a real deployment (`weft start --role gateway`)
// reached from a non-loopback address: WEFT_PASSWORD over SCRAM-SHA-256.
jest.setTimeout(120_000);
const exec = promisify(execFile);

describe('weft-gateway serving SQL', () => {
  let dataDir: string;
  let gw: Demo;
  const clients: Client[] = [];
  const connect = async (database = 'weft'): Promise<Client> => {
    const c = new Client({ host: '127.0.0.1', port: gw.pgPort, user: 'weft', database });
    await c.connect();
    clients.push(c);
    return c;
  };
  const psql = async (args: string[], input?: string): Promise<string> => {
    const child = exec(path.join(PG_BIN, 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', ...args], {
      env: { ...process.env, ...libpqEnv({ host: '127.0.0.1', port: gw.pgPort, user: 'weft', database: 'weft' }) },
      timeout: 30_000,
    });
    if (input !== undefined) child.child.stdin?.end(input);
    const { stdout } = await child;
    return stdout;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-sql-gw-'));
    gw = await spawnDemo({ dataDir, pgPort: await freeDemoPort() });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await gw?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loads rows with psql \\copy and describes the table with \\d', async () => {
    await psql(['-c', 'CREATE TABLE gw_items (id int PRIMARY KEY, name text NOT NULL, price numeric(8,2))']);
    const csv = Array.from({ length: 500 }, (_v, i) => `${i + 1},item ${i + 1},${(i + 1) / 4}`).join('\n') + '\n';
    const out = await psql(['-c', '\\copy gw_items FROM STDIN WITH (FORMAT csv)'], csv);
    expect(out).toContain('COPY 500');
    const d = await psql(['-c', '\\d gw_items']);
    expect(d).toContain('Table "public.gw_items"');
    expect(d).toMatch(/price\s+\|\s+numeric\(8,2\)/);
    expect(d).toContain('"gw_items_pkey" PRIMARY KEY, btree (id)');
    const c = await connect();
    expect((await c.query('SELECT count(*)::int AS n, sum(price)::text AS s FROM gw_items')).rows).toEqual([{ n: 500, s: '31312.50' }]);
  });

  it('two sessions: commits are visible, a conflicting writer gets 40001', async () => {
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query("UPDATE gw_items SET name = 'a' WHERE id = 1");
    await b.query("UPDATE gw_items SET name = 'b' WHERE id = 1");
    await a.query('COMMIT');
    const err = await b.query('COMMIT').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseError);
    expect((err as DatabaseError).code).toBe('40001');
    expect((await b.query('SELECT name FROM gw_items WHERE id = 1')).rows).toEqual([{ name: 'a' }]);
  });

  it('cancels a running query with 57014 and keeps the session usable', async () => {
    const c = await connect();
    const pending = c.query('SELECT count(*) FROM generate_series(1, 50000000) a');
    await new Promise((r) => setTimeout(r, 300));
    // A CancelRequest as psql sends it: a fresh connection carrying the session's key.
    const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
    await new Promise<void>((resolve, reject) => {
      const s = netConnect(gw.pgPort, '127.0.0.1', () => {
        const b = Buffer.alloc(16);
        b.writeInt32BE(16, 0);
        b.writeInt32BE(80877102, 4);
        b.writeInt32BE(processID, 8);
        b.writeInt32BE(secretKey, 12);
        s.end(b, () => resolve());
      });
      s.on('error', reject);
    });
    const err = await pending.catch((e: unknown) => e);
    expect((err as DatabaseError).code).toBe('57014');
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('refuses an unknown database with 3D000', async () => {
    const err = await connect('nosuchdb').catch((e: unknown) => e);
    expect((err as DatabaseError).code).toBe('3D000');
  });

  it('keeps the catalog, rows and sequences across a restart', async () => {
    const c = await connect();
    await c.query('CREATE TABLE gw_seq (id serial PRIMARY KEY, v text)');
    await c.query("INSERT INTO gw_seq (v) VALUES ('x'), ('y')");
    for (const x of clients.splice(0)) await x.end().catch(() => undefined);
    const port = gw.pgPort;
    expect(await gw.stop()).toBe(0);
    gw = await spawnDemo({ dataDir, pgPort: port });
    const c2 = await connect();
    expect((await c2.query('SELECT count(*)::int AS n FROM gw_items')).rows).toEqual([{ n: 500 }]);
    expect((await c2.query('SELECT name FROM gw_items WHERE id = 1')).rows).toEqual([{ name: 'a' }]);
    const r = await c2.query("INSERT INTO gw_seq (v) VALUES ('z') RETURNING id");
    // Sequence values are reserved in blocks: after a restart the next value is past every one handed out.
    expect((r.rows[0] as { id: number }).id).toBeGreaterThan(2);
    expect((await c2.query('SELECT v FROM gw_seq ORDER BY id')).rows).toEqual([{ v: 'x' }, { v: 'y' }, { v: 'z' }]);
  });
});

describe('weft start --role gateway reached from a non-loopback address', () => {
  // The address of this machine on its network: a connection to it arrives from a
  // non-loopback address, as one through Docker's published port does.
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  let dataDir: string;
  let port = 0;
  let stop = async (): Promise<void> => undefined;

  beforeAll(async () => {
    if (!external) throw new Error('this machine has no non-loopback IPv4 address to test remote logins from');
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-gw-remote-'));
    port = await freePort();
    const proc = spawnNode(
      'dist/apps/cli/src/main.js',
      {
        WEFT_BIND_HOST: '0.0.0.0',
        WEFT_PG_PORT: String(port),
        WEFT_HTTP_PORT: String(await freePort()),
        WEFT_METRICS_PORT: String(await freePort()),
        WEFT_DATA_DIR: dataDir,
        WEFT_KV_REPLICAS: 'local',
        WEFT_PASSWORD: 'pa55 word',
        WEFT_LOG_LEVEL: 'warn',
      },
      ['start', '--role', 'gateway'],
    );
    stop = async () => {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
      await proc.exited;
    };
    await waitForSql('127.0.0.1', port, 30_000, proc);
  });
  afterAll(async () => {
    await stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const login = async (host: string, user: string, password?: string): Promise<unknown> => {
    const c = new Client({ host, port, user, password, database: 'weft', connectionTimeoutMillis: 5000 });
    try {
      await c.connect();
      return (await c.query<{ one: number }>('SELECT 1 AS one')).rows[0].one;
    } catch (e) {
      return e;
    } finally {
      await c.end().catch(() => undefined);
    }
  };

  it('lets weft and postgres in with WEFT_PASSWORD (node-postgres and psql, SCRAM-SHA-256)', async () => {
    expect(await login(external as string, 'weft', 'pa55 word')).toBe(1);
    expect(await login(external as string, 'postgres', 'pa55 word')).toBe(1);
    const { stdout } = await exec(path.join(PG_BIN, 'psql'), ['-X', '-tA', '-c', 'SELECT 40 + 2'], {
      env: { ...process.env, ...libpqEnv({ host: external as string, port, user: 'weft', database: 'weft' }), PGPASSWORD: 'pa55 word' },
      timeout: 30_000,
    });
    expect(stdout).toBe('42\n');
  });

  it('refuses a wrong password, a missing one and other users', async () => {
    expect(((await login(external as string, 'weft', 'wrong')) as DatabaseError).code).toBe('28P01');
    expect(((await login(external as string, 'alice', 'pa55 word')) as DatabaseError).code).toBe('28P01');
    expect(String(await login(external as string, 'weft'))).toMatch(/password/i);
    expect(((await login(external as string, os.userInfo().username === 'weft' ? 'nobody' : os.userInfo().username, 'pa55 word')) as DatabaseError).code).toBe('28P01');
  });

  it('still trusts loopback without a password', async () => {
    expect(await login('127.0.0.1', 'weft')).toBe(1);
  });
});
