import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, DatabaseError } from 'pg';
import { freePort } from './support/ports';
import { libpqEnv, PG_BIN } from './support/postgres';
import { spawnNode, type Spawned } from './support/process';
import { waitForSql } from './support/weft-server';

// The gateway process as a user runs it (dist/apps/gateway, LocalShard in WEFT_DATA_DIR): the
// catalog and rows survive a restart, psql's COPY and \d work, two sessions see each other's
// commits and conflicting writers get 40001, a cancelled query answers 57014, and an unknown
// database is refused with 3D000.
const exec = promisify(execFile);

interface Gateway {
  readonly port: number;
  readonly proc: Spawned;
  stop(): Promise<void>;
}

async function startGateway(dataDir: string, port: number): Promise<Gateway> {
  const proc = spawnNode('dist/apps/gateway/src/main.js', {
    WEFT_BIND_HOST: '127.0.0.1',
    WEFT_PG_PORT: String(port),
    WEFT_HTTP_PORT: String(await freePort()),
    WEFT_METRICS_PORT: String(await freePort()),
    WEFT_DATA_DIR: dataDir,
    WEFT_LOG_LEVEL: 'warn',
  });
  await waitForSql('127.0.0.1', port, 30_000, proc);
  return {
    port,
    proc,
    async stop() {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill('SIGTERM');
        await proc.exited;
      }
    },
  };
}

describe('weft-gateway serving SQL', () => {
  let dataDir: string;
  let gw: Gateway;
  const clients: Client[] = [];
  const connect = async (database = 'weft'): Promise<Client> => {
    const c = new Client({ host: '127.0.0.1', port: gw.port, user: 'weft', database });
    await c.connect();
    clients.push(c);
    return c;
  };
  const psql = async (args: string[], input?: string): Promise<string> => {
    const child = exec(path.join(PG_BIN, 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', ...args], {
      env: { ...process.env, ...libpqEnv({ host: '127.0.0.1', port: gw.port, user: 'weft', database: 'weft' }) },
      timeout: 30_000,
    });
    if (input !== undefined) child.child.stdin?.end(input);
    const { stdout } = await child;
    return stdout;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-sql-gw-'));
    gw = await startGateway(dataDir, await freePort());
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
      const s = netConnect(gw.port, '127.0.0.1', () => {
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
    const port = gw.port;
    await gw.stop();
    gw = await startGateway(dataDir, port);
    const c2 = await connect();
    expect((await c2.query('SELECT count(*)::int AS n FROM gw_items')).rows).toEqual([{ n: 500 }]);
    expect((await c2.query('SELECT name FROM gw_items WHERE id = 1')).rows).toEqual([{ name: 'a' }]);
    const r = await c2.query("INSERT INTO gw_seq (v) VALUES ('z') RETURNING id");
    // Sequence values are reserved in blocks: after a restart the next value is past every one handed out.
    expect((r.rows[0] as { id: number }).id).toBeGreaterThan(2);
    expect((await c2.query('SELECT v FROM gw_seq ORDER BY id')).rows).toEqual([{ v: 'x' }, { v: 'y' }, { v: 'z' }]);
  });
});
