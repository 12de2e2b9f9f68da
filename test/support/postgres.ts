import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';
import { ROOT } from './process';

const run = promisify(execFile);

/** Where the PostgreSQL 15 binaries (server, psql, pgbench) live; PG_BIN overrides. */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** How a client reaches a Postgres-speaking server: a real PostgreSQL 15 or a Weft gateway. */
export interface SqlServer {
  /** 'postgres' for the reference PostgreSQL 15, 'weft' for Weft. */
  readonly kind: 'postgres' | 'weft';
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** Stops the server and removes its data. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Every server start begun in this process, so a test file's afterAll can stop the ones its
 * own references never received (a beforeAll that timed out while a start was in flight).
 */
const starts = new Set<Promise<SqlServer>>();

/** Records a start so stopStartedServers() can find its server later. */
export function trackStart(start: Promise<SqlServer>): Promise<SqlServer> {
  starts.add(start);
  start.catch(() => starts.delete(start));
  return start;
}

/** Waits for every start begun in this process and stops each server (stop() is idempotent). */
export async function stopStartedServers(): Promise<void> {
  const all = [...starts];
  starts.clear();
  await Promise.all(all.map((p) => p.then((s) => s.stop(), () => undefined)));
}

/** The subset of a server that a driver needs (what the client tests take). */
export type ConnectionConfig = Pick<SqlServer, 'host' | 'port' | 'user' | 'database'>;

function pgScript(command: string, port: number, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return run('bash', [path.join(ROOT, 'tools/postgres/pg.sh'), command], {
    env: { ...process.env, PG_PORT: String(port), PG_BIN, ...env },
    timeout: 120_000,
  });
}

/**
 * Starts a fresh PostgreSQL 15 cluster on a free loopback port through tools/postgres/pg.sh
 * (initdb + start, about a second) and returns it; stop() shuts it down and deletes its data.
 * A server that cannot start fails the caller with the script's message: never skipped.
 */
export function startPostgres(): Promise<SqlServer> {
  return trackStart(startPostgresUntracked());
}

async function startPostgresUntracked(): Promise<SqlServer> {
  // A port that was free a moment ago may be taken by the time the server binds it, possibly by
  // another test file's cluster: PG_FRESH makes pg.sh refuse to share, and we try another port.
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      await pgScript('start', port, { PG_FRESH: '1' });
    } catch (e) {
      lastError = ((e as { stderr?: string }).stderr ?? '').trim() || String(e);
      if (/PG_FRESH|already accepts|could not bind|Address already in use/.test(lastError)) continue;
      throw new Error(`PostgreSQL 15 could not start on 127.0.0.1:${port}: ${lastError}`, { cause: e });
    }
    let stopped = false;
    return {
      kind: 'postgres',
      host: '127.0.0.1',
      port,
      user: 'postgres',
      database: 'postgres',
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await pgScript('destroy', port);
      },
    };
  }
  throw new Error(`PostgreSQL 15 could not start on a free port after 5 attempts: ${lastError}`);
}

/** libpq-style environment (for psql, pgbench) pointing at a server. */
export function libpqEnv(server: ConnectionConfig): Record<string, string> {
  return {
    PGHOST: server.host,
    PGPORT: String(server.port),
    PGUSER: server.user,
    PGDATABASE: server.database,
    PGSSLMODE: 'disable',
    PGCONNECT_TIMEOUT: '10',
  };
}
