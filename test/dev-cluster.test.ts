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
    ports?: string[];
  }
  const compose = parse(readFileSync(path.join(__dirname, '..', 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, ComposeService>;
  };
  const processes = devCluster({
    dataDir: '/data',
    pgPort: 5433,
    kafkaBrokers: 'kafka:9092',
    // Compose runs a broker, so its nodes mirror their logs to it (`weft demo --kafka`).
    mirror: true,
    host: '0.0.0.0',
    shardCount: 4,
    addressOf: (service) => service,
  });
  // Values that legitimately differ between a container and a local process.
  const local = new Set(['WEFT_DATA_DIR']);
  // Only in containers: a host client reaches the gateway through Docker's network, i.e. from
  // a non-loopback address, so it needs the password; the demo listens on loopback only.
  const composeOnly: Record<string, Set<string>> = { gateway: new Set(['WEFT_PASSWORD']) };

  it('runs the same Weft services', () => {
    // Kafka and the monitoring services (Prometheus, Grafana) are not Weft processes.
    const weftServices = Object.keys(compose.services).filter((s) => !['kafka', 'prometheus', 'grafana'].includes(s)).sort();
    expect(weftServices).toEqual(processes.map((p) => p.name).sort());
  });

  it.each(processes.map((p) => [p.name, p] as const))('%s has the same entry point and variables', (name, proc) => {
    const svc = compose.services[name];
    expect(svc.command).toEqual(['node', proc.entry]);
    const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, String(v)]));
    const only = composeOnly[name] ?? new Set<string>();
    expect(Object.keys(env).filter((k) => !only.has(k)).sort()).toEqual(Object.keys(proc.env).sort());
    for (const [k, v] of Object.entries(proc.env)) {
      if (!local.has(k)) expect([k, env[k]]).toEqual([k, v]);
    }
  });

  it.each(processes.map((p) => [p.name, p] as const))('%s publishes its ports on the host loopback only', (name, proc) => {
    const published = (compose.services[name].ports ?? []).map(String).sort();
    // What a person on the host uses (Postgres, /health, /metrics); cluster-internal ports stay inside.
    const internal = new Set([proc.ports.raft, proc.ports.kv, proc.ports.rpc]);
    expect(published).toEqual(Object.values(proc.ports).filter((p) => !internal.has(p)).map((p) => `127.0.0.1:${p}:${p}`).sort());
  });

  it('passes WEFT_SHARD_COUNT to every meta replica, the meta addresses to every node and the gateway, and a password to the gateway', () => {
    for (const p of processes.filter((x) => x.role === 'meta')) expect([p.name, p.env.WEFT_SHARD_COUNT]).toEqual([p.name, '4']);
    // (The materializer and the CDC service read Kafka only: they need no meta.)
    for (const p of processes.filter((x) => x.role !== 'meta' && x.role !== 'materializer' && x.role !== 'cdc')) expect([p.name, p.env.WEFT_META_ADDRS]).toEqual([p.name, '1@meta-1:5476,2@meta-2:5480,3@meta-3:5484']);
    expect(compose.services.gateway.environment?.WEFT_PASSWORD).toBe('${WEFT_PASSWORD:-weft}');
  });
});
