import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { devCluster } from '../apps/cli/src/dev-cluster';

// docker-compose.yml is for users with Docker; `npm start` runs the same cluster as processes.
// The two must describe the same services with the same configuration.
describe('docker-compose.yml and the process-based dev cluster', () => {
  interface ComposeService {
    command?: string[];
    environment?: Record<string, string | number>;
  }
  const compose = parse(readFileSync(path.join(__dirname, '..', 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  const processes = devCluster({
    dataDir: '/data',
    pgPort: 5433,
    kafkaBrokers: 'kafka:9092',
    host: '0.0.0.0',
    addressOf: (service) => service,
  });
  // Values that legitimately differ between a container and a local process.
  const local = new Set(['WEFT_DATA_DIR']);

  it('runs the same Weft services', () => {
    const weftServices = Object.keys(compose.services).filter((s) => s !== 'kafka').sort();
    expect(weftServices).toEqual(processes.map((p) => p.name).sort());
  });

  it.each(processes.map((p) => [p.name, p] as const))('%s has the same entry point and variables', (name, proc) => {
    const svc = compose.services[name];
    expect(svc.command).toEqual(['node', proc.entry]);
    const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, String(v)]));
    expect(Object.keys(env).sort()).toEqual(Object.keys(proc.env).sort());
    for (const [k, v] of Object.entries(proc.env)) {
      if (!local.has(k)) expect([k, env[k]]).toEqual([k, v]);
    }
  });
});
