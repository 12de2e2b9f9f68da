import path from 'node:path';

/** One process of the local development cluster: which app and with what environment. */
export interface DevService {
  /** Process / compose service name: meta, node-1..node-3, gateway. */
  readonly name: string;
  readonly role: Role;
  /** Compiled entry point, relative to the repository root. */
  readonly entry: string;
  readonly env: Readonly<Record<string, string>>;
  readonly httpPort: number;
  /** Every port the service listens on, by purpose (for the pre-flight check and messages). */
  readonly ports: Readonly<Record<string, number>>;
}

/** The three kinds of Weft process; `weft start --role` runs one of them. */
export const ROLES = ['meta', 'node', 'gateway'] as const;
export type Role = (typeof ROLES)[number];

/** Compiled entry point of a role, relative to the repository root. */
export const roleEntry = (role: Role): string => `dist/apps/${role}/src/main.js`;

export interface DevClusterOptions {
  readonly dataDir: string;
  /** The gateway's Postgres port; every other port of the cluster is derived from it. */
  readonly pgPort: number;
  readonly kafkaBrokers: string;
  /** Address the services bind to (127.0.0.1 locally, 0.0.0.0 in containers). */
  readonly host: string;
  /** WEFT_SHARD_COUNT for the nodes and the gateway (default DEFAULT_SHARD_COUNT). */
  readonly shardCount?: number;
  /**
   * How one service reaches another: 127.0.0.1 for local processes, the service name under
   * Docker Compose. Defaults to 127.0.0.1.
   */
  readonly addressOf?: (service: string) => string;
}

/** Replicas of shard 1: one per node process, so a 3-node cluster is a 3-replica shard. */
export const DEV_NODES = [1, 2, 3] as const;

export const DEFAULT_PG_PORT = 5433;
export const DEFAULT_SHARD_COUNT = 4;

/**
 * Every port of the cluster is an offset from the Postgres port P, so `--port` moves all of
 * them together and two demos with ports at least PORT_SPAN apart never collide:
 * P pg, P+1/P+2 gateway http/metrics, P+3/P+4 meta http/metrics, P+5 meta raft, P+6 meta
 * RPC, and for node i (1-3) P+10i raft, P+10i+1 kv, P+10i+2 http, P+10i+3 metrics.
 */
export function devPorts(pgPort: number) {
  return {
    pg: pgPort,
    gatewayHttp: pgPort + 1,
    gatewayMetrics: pgPort + 2,
    metaHttp: pgPort + 3,
    metaMetrics: pgPort + 4,
    metaRaft: pgPort + 5,
    metaRpc: pgPort + 6,
    raft: (id: number) => pgPort + 10 * id,
    kv: (id: number) => pgPort + 10 * id + 1,
    http: (id: number) => pgPort + 10 * id + 2,
    metrics: (id: number) => pgPort + 10 * id + 3,
  };
}

/** How many consecutive ports from P the cluster uses (P .. P+PORT_SPAN-1). */
export const PORT_SPAN = 10 * DEV_NODES.length + 4;

/**
 * The process-based dev cluster. docker-compose.yml describes the same services with the same
 * variables (test/dev-cluster.test.ts keeps the two from drifting).
 */
export function devCluster(opts: DevClusterOptions): DevService[] {
  const addr = opts.addressOf ?? (() => '127.0.0.1');
  const p = devPorts(opts.pgPort);
  const shards = String(opts.shardCount ?? DEFAULT_SHARD_COUNT);
  const common = { WEFT_BIND_HOST: opts.host, WEFT_LOG_LEVEL: 'info' };
  const list = (port: (id: number) => number) => DEV_NODES.map((id) => `${id}@${addr(`node-${id}`)}:${port(id)}`).join(',');
  const nodes: DevService[] = DEV_NODES.map((id) => ({
    name: `node-${id}`,
    role: 'node',
    entry: roleEntry('node'),
    httpPort: p.http(id),
    ports: { raft: p.raft(id), kv: p.kv(id), http: p.http(id), metrics: p.metrics(id) },
    env: {
      ...common,
      WEFT_HTTP_PORT: String(p.http(id)),
      WEFT_METRICS_PORT: String(p.metrics(id)),
      WEFT_NODE_ID: String(id),
      WEFT_DATA_DIR: path.join(opts.dataDir, `node-${id}`),
      WEFT_RAFT_PORT: String(p.raft(id)),
      WEFT_KV_PORT: String(p.kv(id)),
      WEFT_RAFT_PEERS: list(p.raft),
      WEFT_SHARD_COUNT: shards,
    },
  }));
  return [
    {
      name: 'meta',
      role: 'meta',
      entry: roleEntry('meta'),
      httpPort: p.metaHttp,
      ports: { http: p.metaHttp, metrics: p.metaMetrics, raft: p.metaRaft, rpc: p.metaRpc },
      env: {
        ...common,
        WEFT_HTTP_PORT: String(p.metaHttp),
        WEFT_METRICS_PORT: String(p.metaMetrics),
        WEFT_KAFKA_BROKERS: opts.kafkaBrokers,
        // One meta replica; its Raft log and catalog live in the cluster's data directory.
        WEFT_META_ID: '1',
        WEFT_META_PEERS: `1@${addr('meta')}:${p.metaRaft}`,
        WEFT_META_RPC_PORT: String(p.metaRpc),
        WEFT_DATA_DIR: path.join(opts.dataDir, 'meta'),
        // Meta bootstraps the shard map with this many shards: the same count as the nodes'.
        WEFT_SHARD_COUNT: shards,
      },
    },
    ...nodes,
    {
      name: 'gateway',
      role: 'gateway',
      entry: roleEntry('gateway'),
      httpPort: p.gatewayHttp,
      ports: { pg: p.pg, http: p.gatewayHttp, metrics: p.gatewayMetrics },
      env: {
        ...common,
        WEFT_HTTP_PORT: String(p.gatewayHttp),
        WEFT_METRICS_PORT: String(p.gatewayMetrics),
        WEFT_PG_PORT: String(p.pg),
        // The KV RPC addresses of shard 1's replicas; the gateway finds the leader itself.
        WEFT_KV_REPLICAS: list(p.kv),
        WEFT_SHARD_COUNT: shards,
      },
    },
  ];
}
