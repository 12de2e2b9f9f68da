import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { PORT_SPAN } from '../../apps/cli/src/dev-cluster';
import { readState, type DemoState } from '../../apps/cli/src/state';
import { freePort } from './ports';
import { startPostgres, trackStart, type SqlServer } from './postgres';
import { spawnNode, type Spawned } from './process';

export type WeftMode = 'gateway' | 'demo';

export interface WeftServerOptions {
  /**
   * 'gateway': the gateway app alone (dist/apps/gateway/src/main.js) over an in-process
   * LocalShard in its own data directory. 'demo': `weft demo --port --data`, the real cluster
   * (meta, three node processes replicating the shard with Raft, the gateway).
   * Default: WEFT_TEST_SERVER if set, else 'gateway' (see startCluster for the real cluster).
   */
  readonly mode?: WeftMode;
  /** How long to wait for `SELECT 1` to succeed (default 30 s; 60 s for a demo). */
  readonly readyTimeoutMs?: number;
  /** Extra environment for the process (e.g. WEFT_TXN_STAGE_BYTES); `demo` passes it to every service. */
  readonly env?: Readonly<Record<string, string>>;
}

/** WEFT_TEST_SERVER=gateway|demo overrides every suite's choice (e.g. to compare the two). */
function envMode(): WeftMode | undefined {
  const m = process.env.WEFT_TEST_SERVER;
  if (m === undefined || m === '') return undefined;
  if (m !== 'gateway' && m !== 'demo') throw new Error(`WEFT_TEST_SERVER: unknown mode ${JSON.stringify(m)} (gateway, demo)`);
  return m;
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

const isFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });

/**
 * A Postgres port P for a demo such that P .. P+PORT_SPAN-1 were all free a moment ago. Picked
 * below the OS's ephemeral range (32768+ on Linux), where outgoing connections would otherwise
 * take ports the demo derives from P; random, so concurrent test files rarely pick the same.
 */
export async function freeDemoPort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + PORT_SPAN * Math.floor(Math.random() * Math.floor(12_000 / PORT_SPAN));
    let free = true;
    for (let p = base; free && p < base + PORT_SPAN; p++) free = await isFree(p);
    if (free) return base;
  }
  throw new Error(`no block of ${PORT_SPAN} free ports found between 20000 and 32000`);
}

export interface Demo {
  readonly proc: Spawned;
  readonly dataDir: string;
  readonly pgPort: number;
  /** What the demo wrote to DATA/weft-demo.json (pids, ports), or null. */
  state(): DemoState | null;
  /** SIGTERM (SIGKILL after 20 s); resolves with the exit code or signal. */
  stop(): Promise<number | string>;
}

/**
 * Runs `weft demo --port P --data DIR` and waits until it answers SQL and has printed its
 * banner (the gateway can answer a moment before the demo's own health poll sees it).
 */
export async function spawnDemo(opts: {
  dataDir: string;
  pgPort: number;
  env?: Readonly<Record<string, string>>;
  args?: readonly string[];
  readyTimeoutMs?: number;
  /** Own process group (see spawnNode), for tests that send Ctrl-C to the group. */
  detached?: boolean;
}): Promise<Demo> {
  const proc = spawnNode('dist/apps/cli/src/main.js', { WEFT_LOG_LEVEL: 'warn', ...opts.env }, [
    'demo',
    '--port',
    String(opts.pgPort),
    '--data',
    opts.dataDir,
    ...(opts.args ?? []),
  ], { detached: opts.detached });
  const stop = async (): Promise<number | string> => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    }
    return proc.exited;
  };
  try {
    await waitForSql('127.0.0.1', opts.pgPort, opts.readyTimeoutMs ?? 60_000, proc);
    for (let i = 0; i < 300 && !proc.stdout().includes('Press Ctrl-C to stop.'); i++) await new Promise((r) => setTimeout(r, 100));
  } catch (e) {
    await stop();
    throw e;
  }
  return { proc, dataDir: opts.dataDir, pgPort: opts.pgPort, state: () => readState(opts.dataDir), stop };
}

/**
 * Starts Weft from dist/ (build first: `npm run build`) on free loopback ports with a fresh
 * data directory, waits until it answers `SELECT 1`, and returns it. stop() sends SIGTERM
 * (SIGKILL after a grace period) and removes the data directory.
 */
export function startWeft(opts: WeftServerOptions = {}): Promise<SqlServer> {
  return trackStart(startWeftUntracked(opts));
}

/**
 * The real cluster (`weft demo`: three replicas + gateway) unless WEFT_TEST_SERVER says
 * otherwise: what the SQL and client suites run against, so they test the path users run.
 */
export function startCluster(opts: Omit<WeftServerOptions, 'mode'> = {}): Promise<SqlServer> {
  return startWeft({ ...opts, mode: envMode() ?? 'demo' });
}

async function startWeftUntracked(opts: WeftServerOptions): Promise<SqlServer> {
  const mode = opts.mode ?? envMode() ?? 'gateway';
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-test-'));
  const done = (): void => rmSync(dataDir, { recursive: true, force: true });
  if (mode === 'demo') {
    let demo: Demo | undefined;
    // Another process can take a port between freeDemoPort() and the demo's own check (the
    // demo then exits 2 naming it): try another block rather than fail the suite.
    for (let attempt = 1; !demo; attempt++) {
      try {
        demo = await spawnDemo({ dataDir, pgPort: await freeDemoPort(), env: opts.env, readyTimeoutMs: opts.readyTimeoutMs });
      } catch (e) {
        if (attempt < 3 && /is already in use/.test(String(e))) continue;
        done();
        throw e;
      }
    }
    const started = demo;
    const stop = async (): Promise<void> => {
      await started.stop();
      done();
    };
    return { kind: 'weft', host: '127.0.0.1', port: started.pgPort, user: 'postgres', database: 'postgres', stop };
  }
  const pgPort = await freePort();
  const proc = spawnNode('dist/apps/gateway/src/main.js', {
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
    done();
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

let sharedCluster: Promise<SqlServer> | undefined;

/**
 * A server of the given kind: a fresh PostgreSQL 15, or Weft's real cluster shared by the whole
 * test file (one cluster per file keeps CI time in check; the client suites use distinct table
 * names). The shared cluster's stop() is a no-op: the file's afterAll(stopStartedServers)
 * stops it once every describe is done.
 */
export async function startServer(kind: 'postgres' | 'weft'): Promise<SqlServer> {
  if (kind === 'postgres') return startPostgres();
  sharedCluster ??= startCluster();
  const cluster = sharedCluster;
  cluster.catch(() => {
    // A failed start is retried by the next describe rather than failing it too.
    if (sharedCluster === cluster) sharedCluster = undefined;
  });
  const server = await cluster;
  return { ...server, stop: async () => undefined };
}

/** A test-name label: 'PostgreSQL 15' or 'Weft'. */
export const targetLabel = (kind: 'postgres' | 'weft'): string => (kind === 'weft' ? 'Weft' : 'PostgreSQL 15');
