import path from 'node:path';

/** One process of the local development cluster: which app and with what environment. */
export interface DevService {
  /** Process / compose service name: meta, node-1..node-3, gateway. */
  readonly name: string;
  /** Compiled entry point, relative to the repository root. */
  readonly entry: string;
  readonly env: Readonly<Record<string, string>>;
  readonly httpPort: number;
}

export interface DevClusterOptions {
  readonly dataDir: string;
  readonly pgPort: number;
  readonly kafkaBrokers: string;
  /** Address the services bind to (127.0.0.1 locally, 0.0.0.0 in containers). */
  readonly host: string;
  /**
   * How one service reaches another: 127.0.0.1 for local processes, the service name under
   * Docker Compose. Defaults to 127.0.0.1.
   */
  readonly addressOf?: (service: string) => string;
}

/** Replicas of shard 1: one per node process, so a 3-node cluster is a 3-replica shard. */
export const DEV_NODES = [1, 2, 3] as const;

export const devPorts = {
  raft: (id: number) => 7100 + id,
  kv: (id: number) => 7200 + id,
  http: (id: number) => 8180 + id,
  metrics: (id: number) => 9470 + id,
};

/**
 * The process-based dev cluster. docker-compose.yml describes the same services with the same
 * variables (test/dev-cluster.test.ts keeps the two from drifting).
 */
export function devCluster(opts: DevClusterOptions): DevService[] {
  const addr = opts.addressOf ?? (() => '127.0.0.1');
  const common = { WEFT_BIND_HOST: opts.host, WEFT_LOG_LEVEL: 'info' };
  const list = (port: (id: number) => number) => DEV_NODES.map((id) => `${id}@${addr(`node-${id}`)}:${port(id)}`).join(',');
  const nodes: DevService[] = DEV_NODES.map((id) => ({
    name: `node-${id}`,
    entry: 'dist/apps/node/src/main.js',
    httpPort: devPorts.http(id),
    env: {
      ...common,
      WEFT_HTTP_PORT: String(devPorts.http(id)),
      WEFT_METRICS_PORT: String(devPorts.metrics(id)),
      WEFT_NODE_ID: String(id),
      WEFT_DATA_DIR: path.join(opts.dataDir, `node-${id}`),
      WEFT_RAFT_PORT: String(devPorts.raft(id)),
      WEFT_KV_PORT: String(devPorts.kv(id)),
      WEFT_RAFT_PEERS: list(devPorts.raft),
    },
  }));
  return [
    {
      name: 'meta',
      entry: 'dist/apps/meta/src/main.js',
      httpPort: 8280,
      env: { ...common, WEFT_HTTP_PORT: '8280', WEFT_METRICS_PORT: '9466', WEFT_KAFKA_BROKERS: opts.kafkaBrokers },
    },
    ...nodes,
    {
      name: 'gateway',
      entry: 'dist/apps/gateway/src/main.js',
      httpPort: 8080,
      env: {
        ...common,
        WEFT_HTTP_PORT: '8080',
        WEFT_METRICS_PORT: '9464',
        WEFT_PG_PORT: String(opts.pgPort),
        // The KV RPC addresses of shard 1's replicas; the gateway finds the leader itself.
        WEFT_KV_REPLICAS: list(devPorts.kv),
      },
    },
  ];
}
