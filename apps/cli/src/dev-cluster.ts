import path from 'node:path';

/** One process of the local development cluster: which app and with what environment. */
export interface DevService {
  /** Process / compose service name: meta-1..meta-3, node-1..node-3, gateway. */
  readonly name: string;
  readonly role: Role;
  /** Compiled entry point, relative to the repository root. */
  readonly entry: string;
  readonly env: Readonly<Record<string, string>>;
  readonly httpPort: number;
  /** Every port the service listens on, by purpose (for the pre-flight check and messages). */
  readonly ports: Readonly<Record<string, number>>;
}

/** The kinds of Weft process; `weft start --role` runs one of them. */
export const ROLES = ['meta', 'node', 'gateway', 'materializer', 'cdc'] as const;
export type Role = (typeof ROLES)[number];

/** Compiled entry point of a role, relative to the repository root. */
export const roleEntry = (role: Role): string => `dist/apps/${role}/src/main.js`;

export interface DevClusterOptions {
  readonly dataDir: string;
  /** The gateway's Postgres port; every other port of the cluster is derived from it. */
  readonly pgPort: number;
  readonly kafkaBrokers: string;
  /**
   * Nodes mirror their shards' logs to kafkaBrokers (WEFT_KAFKA_BROKERS on the nodes), a
   * materializer applies them from there and the CDC service turns them into change topics.
   */
  readonly mirror?: boolean;
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

/** Storage nodes: meta places each shard's 3 replicas on them. */
export const DEV_NODES = [1, 2, 3] as const;
/** Meta replicas: a 3-replica Raft group, so the demo survives losing any one of them. */
export const DEV_META = [1, 2, 3] as const;

export const DEFAULT_PG_PORT = 5433;
export const DEFAULT_SHARD_COUNT = 4;

/**
 * Every port of the cluster is an offset from the Postgres port P, so `--port` moves all of
 * them together and two demos with ports at least PORT_SPAN apart never collide:
 * P pg, P+1/P+2 gateway http/metrics, P+3/P+4 materializer http/metrics, P+5/P+6 CDC
 * http/metrics and P+7 the materializer's KV reads (all with --kafka); for
 * node i (1-3) P+10i raft, P+10i+1 kv, P+10i+2 http, P+10i+3 metrics; for meta replica i (1-3)
 * P+36+4i http, +1 metrics, +2 raft, +3 RPC.
 */
export function devPorts(pgPort: number) {
  const meta = (id: number): number => pgPort + 36 + 4 * id;
  return {
    pg: pgPort,
    gatewayHttp: pgPort + 1,
    gatewayMetrics: pgPort + 2,
    metaHttp: (id: number) => meta(id),
    metaMetrics: (id: number) => meta(id) + 1,
    metaRaft: (id: number) => meta(id) + 2,
    metaRpc: (id: number) => meta(id) + 3,
    materializerHttp: pgPort + 3,
    materializerMetrics: pgPort + 4,
    materializerKv: pgPort + 7,
    cdcHttp: pgPort + 5,
    cdcMetrics: pgPort + 6,
    raft: (id: number) => pgPort + 10 * id,
    kv: (id: number) => pgPort + 10 * id + 1,
    http: (id: number) => pgPort + 10 * id + 2,
    metrics: (id: number) => pgPort + 10 * id + 3,
  };
}

/** How many consecutive ports from P the cluster uses (P .. P+PORT_SPAN-1). */
export const PORT_SPAN = 36 + 4 * (DEV_META.length + 1);

/**
 * The process-based dev cluster. docker-compose.yml describes the same services with the same
 * variables (test/dev-cluster.test.ts keeps the two from drifting).
 */
export function devCluster(opts: DevClusterOptions): DevService[] {
  const addr = opts.addressOf ?? (() => '127.0.0.1');
  const p = devPorts(opts.pgPort);
  const shards = String(opts.shardCount ?? DEFAULT_SHARD_COUNT);
  const common = { WEFT_BIND_HOST: opts.host, WEFT_LOG_LEVEL: 'info' };
  const metaList = (port: (id: number) => number) => DEV_META.map((id) => `${id}@${addr(`meta-${id}`)}:${port(id)}`).join(',');
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
      // Meta places the shards on the nodes and tells each node where the others are.
      WEFT_META_ADDRS: metaList(p.metaRpc),
      WEFT_ADVERTISE_HOST: addr(`node-${id}`),
      ...(opts.mirror ? { WEFT_KAFKA_BROKERS: opts.kafkaBrokers } : {}),
    },
  }));
  const metas: DevService[] = DEV_META.map((id) => ({
    name: `meta-${id}`,
    role: 'meta',
    entry: roleEntry('meta'),
    httpPort: p.metaHttp(id),
    ports: { http: p.metaHttp(id), metrics: p.metaMetrics(id), raft: p.metaRaft(id), rpc: p.metaRpc(id) },
    env: {
      ...common,
      WEFT_HTTP_PORT: String(p.metaHttp(id)),
      WEFT_METRICS_PORT: String(p.metaMetrics(id)),
      WEFT_KAFKA_BROKERS: opts.kafkaBrokers,
      WEFT_META_ID: String(id),
      WEFT_META_PEERS: metaList(p.metaRaft),
      WEFT_META_RPC_PORT: String(p.metaRpc(id)),
      WEFT_DATA_DIR: path.join(opts.dataDir, `meta-${id}`),
      // Meta bootstraps the shard map with this many uniform shards: the gateway's count.
      WEFT_SHARD_COUNT: shards,
    },
  }));
  return [
    ...metas,
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
        // Meta's shard map says which nodes hold each shard; the gateway finds the leader itself.
        WEFT_META_ADDRS: metaList(p.metaRpc),
        // With Kafka: stale reads (AS OF SYSTEM TIME, weft.max_staleness) try the materializer first.
        ...(opts.mirror ? { WEFT_READ_REPLICAS: `${addr('materializer')}:${p.materializerKv}` } : {}),
      },
    },
    ...(opts.mirror ? [materializer(opts, p, shards, addr), cdc(opts, p, shards)] : []),
  ];
}

/** The Kafka-fed replica of every shard (with the mirror on). */
function materializer(opts: DevClusterOptions, p: ReturnType<typeof devPorts>, shards: string, addr: (service: string) => string): DevService {
  return {
    name: 'materializer',
    role: 'materializer',
    entry: roleEntry('materializer'),
    httpPort: p.materializerHttp,
    ports: { http: p.materializerHttp, metrics: p.materializerMetrics, kv: p.materializerKv },
    env: {
      WEFT_BIND_HOST: opts.host,
      WEFT_LOG_LEVEL: 'info',
      WEFT_HTTP_PORT: String(p.materializerHttp),
      WEFT_METRICS_PORT: String(p.materializerMetrics),
      WEFT_KAFKA_BROKERS: opts.kafkaBrokers,
      WEFT_DATA_DIR: path.join(opts.dataDir, 'materializer'),
      WEFT_SHARD_COUNT: shards,
      WEFT_KV_PORT: String(p.materializerKv),
      // An empty store starts from a node's snapshot, and a gap in a log topic (Kafka away past
      // the mirror's backlog) is got past with a new one instead of stopping the shard (0036, 0042).
      WEFT_MATERIALIZER_BOOTSTRAP: 'snapshot',
      WEFT_MATERIALIZER_SNAPSHOT_FROM: DEV_NODES.map((id) => `${addr(`node-${id}`)}:${p.http(id)}`).join(','),
    },
  };
}

/** Per-table change topics (Debezium envelopes) from the log topics (with the mirror on). */
function cdc(opts: DevClusterOptions, p: ReturnType<typeof devPorts>, shards: string): DevService {
  return {
    name: 'cdc',
    role: 'cdc',
    entry: roleEntry('cdc'),
    httpPort: p.cdcHttp,
    ports: { http: p.cdcHttp, metrics: p.cdcMetrics },
    env: {
      WEFT_BIND_HOST: opts.host,
      WEFT_LOG_LEVEL: 'info',
      WEFT_HTTP_PORT: String(p.cdcHttp),
      WEFT_METRICS_PORT: String(p.cdcMetrics),
      WEFT_KAFKA_BROKERS: opts.kafkaBrokers,
      WEFT_DATA_DIR: path.join(opts.dataDir, 'cdc'),
      WEFT_SHARD_COUNT: shards,
    },
  };
}
