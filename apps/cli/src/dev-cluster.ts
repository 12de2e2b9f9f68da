import path from 'node:path';

/** One process of the local development cluster: which app and with what environment. */
export interface DevService {
  readonly name: 'meta' | 'node' | 'gateway';
  /** Compiled entry point, relative to the repository root. */
  readonly entry: string;
  readonly env: Readonly<Record<string, string>>;
  readonly httpPort: number;
}

export interface DevClusterOptions {
  readonly dataDir: string;
  readonly pgPort: number;
  readonly kafkaBrokers: string;
  readonly host: string;
}

/**
 * The process-based dev cluster. docker-compose.yml describes the same services with the same
 * variables (test/dev-cluster.test.ts keeps the two from drifting).
 */
export function devCluster(opts: DevClusterOptions): DevService[] {
  const common = { WEFT_BIND_HOST: opts.host, WEFT_LOG_LEVEL: 'info' };
  return [
    {
      name: 'meta',
      entry: 'dist/apps/meta/src/main.js',
      httpPort: 8280,
      env: { ...common, WEFT_HTTP_PORT: '8280', WEFT_METRICS_PORT: '9466', WEFT_KAFKA_BROKERS: opts.kafkaBrokers },
    },
    {
      name: 'node',
      entry: 'dist/apps/node/src/main.js',
      httpPort: 8180,
      env: {
        ...common,
        WEFT_HTTP_PORT: '8180',
        WEFT_METRICS_PORT: '9465',
        WEFT_NODE_ID: '1',
        WEFT_DATA_DIR: path.join(opts.dataDir, 'node-1'),
        WEFT_RAFT_PORT: '7100',
        WEFT_KV_PORT: '7200',
        // A lone replica of shard 1; a 3-node cluster lists all three (id@host:raft-port).
        WEFT_RAFT_PEERS: '1@127.0.0.1:7100',
      },
    },
    {
      name: 'gateway',
      entry: 'dist/apps/gateway/src/main.js',
      httpPort: 8080,
      env: { ...common, WEFT_HTTP_PORT: '8080', WEFT_METRICS_PORT: '9464', WEFT_PG_PORT: String(opts.pgPort) },
    },
  ];
}
