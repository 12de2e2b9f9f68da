import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { devCluster, type DevService } from './dev-cluster';
import { waitHealthy } from './health';

export interface DemoOptions {
  readonly dataDir: string;
  readonly pgPort: number;
}

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/**
 * Starts the local cluster as child processes, waits for each to answer /health, prints what
 * runs, and stops everything on Ctrl-C / SIGTERM (or when any service dies).
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const services = devCluster({ dataDir, pgPort: opts.pgPort, kafkaBrokers: '127.0.0.1:9092', host: '127.0.0.1' });
  const children: ChildProcess[] = [];
  let stopping = false;

  const stopAll = (code: number): void => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    const waitAll = children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r))));
    void Promise.all(waitAll).then(() => {
      process.stdout.write('weft: stopped\n');
      process.exit(code);
    });
  };
  process.once('SIGINT', () => stopAll(0));
  process.once('SIGTERM', () => stopAll(0));

  const start = (s: DevService): void => {
    const child = spawn(process.execPath, [path.join(ROOT, s.entry)], {
      env: { ...process.env, ...s.env },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(child);
    child.once('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`weft: ${s.name} exited (${signal ?? `code ${code}`}); stopping the cluster\n`);
      stopAll(1);
    });
  };
  const healthy = async (group: readonly DevService[]): Promise<boolean> => {
    for (const s of group) start(s);
    const results = await Promise.all(group.map((s) => waitHealthy('127.0.0.1', s.httpPort, 30_000)));
    const bad = group.filter((_, i) => !results[i]);
    for (const s of bad) process.stderr.write(`weft: ${s.name} did not become healthy on port ${s.httpPort}\n`);
    return bad.length === 0;
  };

  // The shard's replicas start together so they can elect a leader; the gateway comes last.
  const tiers = [
    services.filter((s) => s.name === 'meta'),
    services.filter((s) => s.name.startsWith('node-')),
    services.filter((s) => s.name === 'gateway'),
  ];
  for (const tier of tiers) {
    if (!(await healthy(tier))) {
      stopAll(1);
      return;
    }
  }

  process.stdout.write(
    [
      '',
      `Weft is running (data: ${dataDir})`,
      ...services.map((s) => `  ${s.name.padEnd(8)} http://127.0.0.1:${s.httpPort}/health  metrics :${s.env.WEFT_METRICS_PORT}/metrics`),
      '',
      'Shard 1 is replicated by the three node processes (Raft); the gateway speaks the Postgres protocol.',
      'Connect with:',
      `  psql "host=127.0.0.1 port=${opts.pgPort} user=weft dbname=weft"`,
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}
