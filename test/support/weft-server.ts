import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from './ports';
import { startPostgres, trackStart, type SqlServer } from './postgres';
import { spawnNode, type Spawned } from './process';

export interface WeftServerOptions {
  /**
   * 'gateway' (default): the gateway app alone (dist/apps/gateway/src/main.js) with its own
   * data directory. 'demo': `weft demo --port --data`, the whole local cluster.
   * WEFT_TEST_SERVER=demo selects the latter for every test.
   */
  readonly mode?: 'gateway' | 'demo';
  /** How long to wait for `SELECT 1` to succeed (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** Extra environment for the process (e.g. WEFT_TXN_STAGE_BYTES); `demo` passes it to every service. */
  readonly env?: Readonly<Record<string, string>>;
}

/** Answers once `SELECT 1` over the Postgres protocol returns 1, or throws the last error. */
export async function waitForSql(host: string, port: number, deadlineMs: number, proc?: Spawned): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last: unknown = new Error('no attempt made');
  let exited: number | string | undefined;
  void proc?.exited.then((c) => (exited = c));
  while (Date.now() < until) {
    if (exited !== undefined) break;
    const client = new Client({ host, port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      const r = await client.query<{ one: number }>('SELECT 1 AS one');
      if (r.rows[0]?.one === 1) return;
      last = new Error(`SELECT 1 returned ${JSON.stringify(r.rows)}`);
    } catch (e) {
      last = e;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const why = exited !== undefined ? `the process exited (${exited})` : `no answer within ${deadlineMs} ms`;
  const tail = proc ? `\n--- stderr ---\n${proc.stderr().slice(-3000)}\n--- stdout ---\n${proc.stdout().slice(-3000)}` : '';
  throw new Error(`Weft on 127.0.0.1:${port} did not answer SELECT 1: ${why}; last error: ${String(last)}${tail}`);
}

/**
 * Starts a Weft gateway from dist/ (build first: `node tools/build.js`) on free loopback ports
 * with a fresh data directory, waits until it answers `SELECT 1`, and returns it. stop() sends
 * SIGTERM (SIGKILL after 10 s) and removes the data directory.
 */
export function startWeft(opts: WeftServerOptions = {}): Promise<SqlServer> {
  return trackStart(startWeftUntracked(opts));
}

async function startWeftUntracked(opts: WeftServerOptions): Promise<SqlServer> {
  const mode = opts.mode ?? (process.env.WEFT_TEST_SERVER === 'demo' ? 'demo' : 'gateway');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-test-'));
  const pgPort = await freePort();
  const proc =
    mode === 'demo'
      ? spawnNode('dist/apps/cli/src/main.js', { WEFT_LOG_LEVEL: 'warn', ...opts.env }, ['demo', '--port', String(pgPort), '--data', dataDir])
      : spawnNode('dist/apps/gateway/src/main.js', {
          WEFT_BIND_HOST: '127.0.0.1',
          WEFT_PG_PORT: String(pgPort),
          WEFT_HTTP_PORT: String(await freePort()),
          WEFT_METRICS_PORT: String(await freePort()),
          WEFT_DATA_DIR: dataDir,
          WEFT_LOG_LEVEL: 'warn',
          ...opts.env,
        });
  const stop = async (): Promise<void> => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
      await proc.exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForSql('127.0.0.1', pgPort, opts.readyTimeoutMs ?? 30_000, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return { kind: 'weft', host: '127.0.0.1', port: pgPort, user: 'postgres', database: 'postgres', stop };
}

/**
 * Which servers a client test runs against. `weftPasses` is true for the clients Weft is known
 * to pass (then: PostgreSQL 15 and Weft); otherwise PostgreSQL 15 only, so the test body stays
 * proven and the test names say where they ran. WEFT_CLIENT_TARGETS (comma-separated
 * 'postgres', 'weft') overrides the list for every client, e.g. to try Weft on all of them.
 */
export function clientTargets(weftPasses: boolean): ('postgres' | 'weft')[] {
  const env = process.env.WEFT_CLIENT_TARGETS;
  if (!env) return weftPasses ? ['postgres', 'weft'] : ['postgres'];
  const raw = env.split(',').map((s) => s.trim());
  for (const t of raw) {
    if (t !== 'postgres' && t !== 'weft') throw new Error(`WEFT_CLIENT_TARGETS: unknown target ${JSON.stringify(t)} (postgres, weft)`);
  }
  return raw as ('postgres' | 'weft')[];
}

/** Starts a fresh server of the given kind. */
export function startServer(kind: 'postgres' | 'weft'): Promise<SqlServer> {
  return kind === 'weft' ? startWeft() : startPostgres();
}

/** A test-name label: 'PostgreSQL 15' or 'Weft'. */
export const targetLabel = (kind: 'postgres' | 'weft'): string => (kind === 'weft' ? 'Weft' : 'PostgreSQL 15');
