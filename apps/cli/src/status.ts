import path from 'node:path';
import { checkHealth } from './health';
import { DEFAULT_PG_PORT, devCluster } from './dev-cluster';
import { readState, statePath } from './state';

export interface StatusOptions {
  readonly dataDir: string;
  /** An explicit --port wins over the state file the demo wrote into dataDir. */
  readonly pgPort?: number;
}

/**
 * Prints each dev-cluster service's health (and pid, when the demo recorded one); returns the
 * exit code (0 when all are up). The ports come from --port, else from the demo's state file
 * in the data directory (so a demo started with any --port is found), else the defaults.
 */
export async function runStatus(opts: StatusOptions): Promise<number> {
  const dataDir = path.resolve(opts.dataDir);
  const state = readState(dataDir);
  const pgPort = opts.pgPort ?? state?.pgPort ?? DEFAULT_PG_PORT;
  const source = opts.pgPort !== undefined ? '--port' : state ? statePath(dataDir) : 'the default port';
  process.stdout.write(`weft demo on Postgres port ${pgPort} (from ${source})\n`);
  const services = devCluster({ dataDir, pgPort, kafkaBrokers: '127.0.0.1:9092', host: '127.0.0.1' });
  const pids = new Map(state && state.pgPort === pgPort && state.running ? state.services.map((s) => [s.name, s.pid]) : []);
  const results = await Promise.all(services.map((s) => checkHealth('127.0.0.1', s.httpPort)));
  services.forEach((s, i) => {
    const pid = pids.get(s.name);
    process.stdout.write(
      `${s.name.padEnd(8)} ${(results[i] ? 'up' : 'down').padEnd(5)} pid ${String(pid ?? '-').padEnd(7)} http://127.0.0.1:${s.httpPort}/health\n`,
    );
  });
  return results.every(Boolean) ? 0 : 1;
}
