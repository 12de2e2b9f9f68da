import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { devCluster, PORT_SPAN, type DevService } from './dev-cluster';
import { waitHealthy } from './health';
import { pidAlive, readState, writeState, type DemoState } from './state';

export interface DemoOptions {
  readonly dataDir: string;
  readonly pgPort: number;
  readonly shardCount: number;
  /** Kafka bootstrap brokers: the nodes mirror every shard's log there (`--kafka`). */
  readonly kafka?: string;
}

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/**
 * Restart policy: a service that exits unexpectedly is restarted after 0.5 s, doubling per
 * recent crash up to 5 s; the 5th crash within 60 s means it will not recover by itself
 * (a corrupt data directory, a port taken by someone else), so the demo gives up.
 */
export const RESTART_POLICY = { firstDelayMs: 500, maxDelayMs: 5_000, windowMs: 60_000, maxCrashes: 5 } as const;

/** The delay before restarting after the n-th crash (1-based) within the window. */
export function restartDelayMs(crashesInWindow: number): number {
  return Math.min(RESTART_POLICY.firstDelayMs * 2 ** Math.max(0, crashesInWindow - 1), RESTART_POLICY.maxDelayMs);
}

/** How long a service gets to stop on SIGTERM before it is killed. */
const STOP_GRACE_MS = 15_000;
/** A service that exits with 2 has a bad configuration: restarting cannot help. */
const EXIT_BAD_CONFIG = 2;

interface Supervised {
  readonly svc: DevService;
  child?: ChildProcess;
  /** Times of unexpected exits within the last RESTART_POLICY.windowMs. */
  crashes: number[];
  restarts: number;
  timer?: NodeJS.Timeout;
}

const say = (line: string): void => void process.stdout.write(`weft: ${line}\n`);
const warn = (line: string): void => void process.stderr.write(`weft: ${line}\n`);

/** Resolves with the first port of `ports` something already listens on, or null. */
async function firstBusyPort(host: string, ports: readonly number[]): Promise<number | null> {
  for (const port of ports) {
    const busy = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(true));
      srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
    });
    if (busy) return port;
  }
  return null;
}

/**
 * Starts the local cluster as child processes and supervises them like a service manager: it
 * waits for each to answer /health, prints what runs, restarts a service that dies (same data
 * directory, bounded backoff), and stops everything on Ctrl-C / SIGTERM. The pids and ports are
 * kept in DATA/weft-demo.json for `weft status` (and for whoever wants to kill -9 a node).
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const host = '127.0.0.1';
  const services = devCluster({
    dataDir,
    pgPort: opts.pgPort,
    kafkaBrokers: opts.kafka ?? '127.0.0.1:9092',
    mirror: opts.kafka !== undefined,
    host,
    shardCount: opts.shardCount,
  });

  // Two demos on one data directory would corrupt it; refuse before starting anything.
  const previous = readState(dataDir);
  if (previous?.running && previous.pid !== process.pid && pidAlive(previous.pid)) {
    warn(`a demo (pid ${previous.pid}) is already running on ${dataDir}; stop it or choose another --data`);
    process.exit(2);
  }
  const portOwner = new Map(services.flatMap((s) => Object.entries(s.ports).map(([what, p]) => [p, `${s.name} ${what}`] as const)));
  const busy = await firstBusyPort(host, [...portOwner.keys()]);
  if (busy !== null) {
    // A demo killed with SIGKILL cannot stop its services: say so if that is what holds the port.
    const orphans = (previous?.services ?? []).map((s) => s.pid).filter((pid): pid is number => pid !== null && pidAlive(pid));
    warn(
      orphans.length > 0
        ? `port ${busy} (${portOwner.get(busy)}) is held by services a previous demo on ${dataDir} left running (pids ${orphans.join(', ')}); stop them first`
        : `port ${busy} (${portOwner.get(busy)}) is already in use; choose another --port ` +
            `(the demo uses ${opts.pgPort}-${opts.pgPort + PORT_SPAN - 1}, so two demos need ports at least ${PORT_SPAN} apart)`,
    );
    process.exit(2);
  }

  const sup: Supervised[] = services.map((svc) => ({ svc, crashes: [], restarts: 0 }));
  let stopping = false;

  const saveState = (running: boolean): void => {
    const state: DemoState = {
      pid: process.pid,
      running,
      pgPort: opts.pgPort,
      shardCount: opts.shardCount,
      services: sup.map((s) => ({
        name: s.svc.name,
        pid: running && s.child && s.child.exitCode === null && s.child.signalCode === null ? (s.child.pid ?? null) : null,
        httpPort: s.svc.httpPort,
        ports: s.svc.ports,
        restarts: s.restarts,
      })),
    };
    try {
      writeState(dataDir, state);
    } catch (e) {
      warn(`could not write the state file in ${dataDir}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  const stopAll = (code: number): void => {
    if (stopping) return;
    stopping = true;
    const live = sup.filter((s) => {
      clearTimeout(s.timer);
      return s.child && s.child.exitCode === null && s.child.signalCode === null;
    });
    const exits = live.map(
      (s) =>
        new Promise<void>((resolve) => {
          const child = s.child as ChildProcess;
          const kill = setTimeout(() => {
            warn(`${s.svc.name} did not stop within ${STOP_GRACE_MS / 1000} s; killing it`);
            child.kill('SIGKILL');
          }, STOP_GRACE_MS);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    );
    void Promise.all(exits).then(() => {
      saveState(false);
      process.stdout.write('weft: stopped\n');
      process.exit(code);
    });
  };
  process.once('SIGINT', () => stopAll(0));
  process.once('SIGTERM', () => stopAll(0));
  // A closed terminal: stop the services rather than leave them running without a supervisor.
  process.once('SIGHUP', () => stopAll(0));

  const start = (s: Supervised): void => {
    // WEFT_DEMO_NODE_ARGS: extra node flags for every service (e.g. `--cpu-prof` to profile a
    // run; NODE_OPTIONS refuses profiling flags).
    const nodeArgs = (process.env.WEFT_DEMO_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, s.svc.entry)], {
      env: { ...process.env, ...s.svc.env },
      stdio: ['ignore', 'inherit', 'inherit'],
      // Own process group: Ctrl-C in a terminal signals the whole foreground group, and a
      // service that saw SIGINT before the demo did would exit and be "restarted". Only the
      // demo gets the terminal's signals; it stops the services itself.
      detached: true,
    });
    s.child = child;
    saveState(true);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      saveState(true);
      const why = signal ?? `code ${code}`;
      if (code === EXIT_BAD_CONFIG) {
        warn(`${s.svc.name} exited with code 2 (bad configuration, see its message above); stopping the cluster`);
        stopAll(1);
        return;
      }
      const now = Date.now();
      s.crashes = [...s.crashes.filter((t) => now - t < RESTART_POLICY.windowMs), now];
      if (s.crashes.length >= RESTART_POLICY.maxCrashes) {
        warn(
          `${s.svc.name} exited (${why}) for the ${s.crashes.length}th time within ${RESTART_POLICY.windowMs / 1000} s; ` +
            'giving up and stopping the cluster',
        );
        stopAll(1);
        return;
      }
      const delay = restartDelayMs(s.crashes.length);
      warn(`${s.svc.name} (pid ${child.pid}) exited unexpectedly (${why}); restarting it in ${delay / 1000} s`);
      s.timer = setTimeout(() => {
        if (stopping) return;
        s.restarts++;
        start(s);
        const pid = s.child?.pid;
        void waitHealthy(host, s.svc.httpPort, 30_000).then((ok) => {
          if (!stopping && ok && s.child?.pid === pid) say(`${s.svc.name} is back (pid ${pid})`);
        });
      }, delay);
    });
  };
  const healthy = async (group: readonly Supervised[]): Promise<boolean> => {
    for (const s of group) start(s);
    const results = await Promise.all(group.map((s) => waitHealthy(host, s.svc.httpPort, 30_000)));
    const bad = group.filter((_, i) => !results[i]);
    for (const s of bad) warn(`${s.svc.name} did not become healthy on port ${s.svc.httpPort}`);
    return bad.length === 0;
  };

  // The shard's replicas start together so they can elect a leader; the gateway comes next, and
  // the materializer and the CDC service (with --kafka) last.
  const tiers = [
    sup.filter((s) => s.svc.role === 'meta'),
    sup.filter((s) => s.svc.role === 'node'),
    sup.filter((s) => s.svc.role === 'gateway'),
    sup.filter((s) => s.svc.role === 'materializer' || s.svc.role === 'cdc'),
  ].filter((t) => t.length > 0);
  for (const tier of tiers) {
    const ok = await healthy(tier);
    if (stopping) return;
    if (!ok) {
      stopAll(1);
      return;
    }
  }

  process.stdout.write(
    [
      '',
      `Weft is running (data: ${dataDir})`,
      ...sup.map(
        (s) =>
          `  ${s.svc.name.padEnd(12)} pid ${String(s.child?.pid ?? '-').padEnd(7)} http://127.0.0.1:${s.svc.httpPort}/health  ` +
          `metrics :${s.svc.env.WEFT_METRICS_PORT}/metrics`,
      ),
      '',
      `${opts.shardCount} shard${opts.shardCount === 1 ? '' : 's'}, each replicated on 3 node processes (Raft) where the 3-replica meta service placed it; the gateway speaks the Postgres protocol.`,
      'A service that dies is restarted from its data directory; `weft status --data DIR` shows pids and health.',
      ...(opts.kafka === undefined
        ? []
        : [
            `Every shard's log is mirrored to Kafka (${opts.kafka}), topics ${process.env.WEFT_KAFKA_TOPIC_PREFIX || 'weft'}.log.<shard>; ` +
              'the materializer applies them (GET /materializer on its http port); the cdc service publishes row changes to ' +
              `${process.env.WEFT_KAFKA_TOPIC_PREFIX || 'weft'}.cdc.<db>.<schema>.<table> (GET /cdc on its http port).`,
          ]),
      'Connect with:',
      `  psql "host=127.0.0.1 port=${opts.pgPort} user=weft dbname=weft"`,
      `Console: http://127.0.0.1:${sup.find((s) => s.svc.name === 'gateway')?.svc.httpPort}/console`,
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}
