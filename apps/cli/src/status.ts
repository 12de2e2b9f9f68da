import { checkHealth } from './health';
import { devCluster } from './dev-cluster';

/** Prints each dev-cluster service's health; returns the exit code (0 when all are up). */
export async function runStatus(): Promise<number> {
  const services = devCluster({ dataDir: '.weft-data', pgPort: 5433, kafkaBrokers: '127.0.0.1:9092', host: '127.0.0.1' });
  let down = 0;
  for (const s of services) {
    const up = await checkHealth('127.0.0.1', s.httpPort);
    if (!up) down++;
    process.stdout.write(`${s.name.padEnd(8)} ${up ? 'up' : 'down'}  http://127.0.0.1:${s.httpPort}/health\n`);
  }
  return down === 0 ? 0 : 1;
}
