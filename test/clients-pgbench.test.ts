import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { libpqEnv, PG_BIN, type SqlServer, stopStartedServers } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// Starting servers can take a while on a loaded machine (the project-level testTimeout does
// not apply to hooks run this way); the catch-all afterAll stops servers whose start outlived
// a failed beforeAll.
jest.setTimeout(120_000);
afterAll(() => stopStartedServers());

// The real pgbench (PostgreSQL 15): `pgbench -i` (DDL, client-side COPY load, primary keys,
// vacuum) then short, bounded runs of the built-in TPC-B-like and select-only scripts in the
// simple and prepared protocols. After the TPC-B runs, the benchmark's own invariant must hold:
// every delta lands once in accounts, tellers, branches and history.
const exec = promisify(execFile);

describe.each(clientTargets(true))('pgbench against %s', (kind) => {
  let server: SqlServer;
  const label = targetLabel(kind);

  const pgbench = async (args: string[], timeoutMs = 90_000): Promise<string> => {
    try {
      const { stdout, stderr } = await exec(path.join(PG_BIN, 'pgbench'), args, {
        env: { ...process.env, ...libpqEnv(server) },
        timeout: timeoutMs,
      });
      return stdout + stderr;
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      throw new Error(`pgbench ${args.join(' ')} exited ${err.code}:\n${err.stdout ?? ''}${err.stderr ?? String(e)}`, { cause: e });
    }
  };
  const scalar = async (sql: string): Promise<string> => {
    const c = new Client({ host: server.host, port: server.port, user: server.user, database: server.database });
    await c.connect();
    try {
      const r = await c.query<{ v: string }>({ text: sql, types: { getTypeParser: () => (v: string) => v } });
      return r.rows[0].v;
    } finally {
      await c.end();
    }
  };
  const processed = (out: string): string => /number of transactions actually processed: (\d+\/\d+)/.exec(out)?.[1] ?? out;
  const failed = (out: string): string => /number of failed transactions: (\d+)/.exec(out)?.[1] ?? out;

  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(async () => {
    await server?.stop();
  });

  // Weft is the real cluster here (three replicas, every write quorum-fsynced): loading 100,000
  // rows and adding the primary key takes ~40 s on the in-process shard and ~75 s on the
  // cluster on a loaded 2-core CI machine, so this one step gets more time than the others.
  it(`initializes scale 1 with client-side COPY on ${label}`, async () => {
    // -I dtgvp: drop, create tables, client-side generate (COPY FROM STDIN), vacuum, primary keys.
    const out = await pgbench(['-i', '-s', '1', '-I', 'dtgvp', '-q'], 240_000);
    expect(out).toContain('done in');
    expect(await scalar('SELECT count(*) AS v FROM pgbench_accounts')).toBe('100000');
    expect(await scalar('SELECT count(*) AS v FROM pgbench_tellers')).toBe('10');
    expect(await scalar('SELECT count(*) AS v FROM pgbench_branches')).toBe('1');
    expect(await scalar('SELECT sum(abalance) AS v FROM pgbench_accounts')).toBe('0');
    expect(await scalar("SELECT count(*) AS v FROM pg_indexes WHERE indexname = 'pgbench_accounts_pkey'")).toBe('1');
  }, 300_000);

  it.each(['simple', 'prepared'])(`runs the TPC-B-like script (%s protocol) without failures on ${label}`, async (mode) => {
    // Every TPC-B transaction updates the one branch row of scale 1: under serializable
    // isolation concurrent ones may fail with 40001, which pgbench retries (--max-tries).
    const out = await pgbench(['-n', '-M', mode, '-c', '2', '-j', '1', '-t', '50', '--max-tries', '100', '-b', 'tpcb-like']);
    expect(out).toContain('transaction type: <builtin: TPC-B (sort of)>');
    expect(processed(out)).toBe('100/100');
    expect(failed(out)).toBe('0');
  });

  it(`keeps the TPC-B invariant: the same total in accounts, tellers, branches and history on ${label}`, async () => {
    const history = await scalar('SELECT count(*) AS v FROM pgbench_history');
    expect(history).toBe('200');
    const total = await scalar('SELECT sum(delta) AS v FROM pgbench_history');
    expect(await scalar('SELECT sum(abalance) AS v FROM pgbench_accounts')).toBe(total);
    expect(await scalar('SELECT sum(tbalance) AS v FROM pgbench_tellers')).toBe(total);
    expect(await scalar('SELECT sum(bbalance) AS v FROM pgbench_branches')).toBe(total);
  });

  it.each(['simple', 'prepared'])(`runs the select-only script (%s protocol) on ${label}`, async (mode) => {
    const out = await pgbench(['-n', '-M', mode, '-c', '4', '-j', '1', '-t', '50', '-S']);
    expect(out).toContain('transaction type: <builtin: select only>');
    expect(processed(out)).toBe('200/200');
    expect(failed(out)).toBe('0');
  });
});
