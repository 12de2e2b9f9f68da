import { z } from 'zod';
import { int, nodeAddresses, oneOf, optionalNodeAddresses, port, text, type EnvVar } from '@weft/config';
import { kafkaEnv } from '@weft/mirror';
import { main } from '@weft/service';
import { NodeModule } from './node.module';

/** `node:shard` or empty (see WEFT_TESTING_CORRUPT_APPLY below). */
const corruptApplyVar: EnvVar<string> = { expected: 'node:shard (testing only) or empty', schema: z.union([z.literal(''), z.string().regex(/^\d+:\d+$/)]), default: '' };

main({
  name: 'node',
  defaults: { httpPort: 8180, metricsPort: 9465 },
  env: {
    WEFT_NODE_ID: int(1, 65535, 1),
    WEFT_DATA_DIR: text('.weft/node-1'),
    WEFT_RAFT_PORT: port(7100),
    /** KV RPC port: gateways read and propose through it. */
    WEFT_KV_PORT: port(7200),
    /** Every node as id@host:raft-port, this one included (default: a lone node). Each hosted shard is replicated on all of them. */
    WEFT_RAFT_PEERS: nodeAddresses('1@127.0.0.1:7100'),
    /** Without meta: this node hosts a replica of shards 1..N, replicated on every WEFT_RAFT_PEERS node. */
    WEFT_SHARD_COUNT: int(1, 4096, 1),
    /**
     * The meta service's replicas (id@host:rpc-port,...). When set, meta places shards: the node
     * hosts what meta's shard map puts on it, learns the other nodes' addresses from meta, and
     * WEFT_RAFT_PEERS / WEFT_SHARD_COUNT are not used. Empty: the fixed placement above.
     */
    WEFT_META_ADDRS: optionalNodeAddresses(),
    /** Host other processes reach this node at (default: WEFT_BIND_HOST, or the host name when binding 0.0.0.0). */
    WEFT_ADVERTISE_HOST: text(' '),
    /** Placement labels (meta spreads a shard's replicas over distinct zones when it can). */
    WEFT_REGION: text(' '),
    WEFT_ZONE: text(' '),
    /** Snapshot the shard and compact its Raft log after this many applied entries. */
    WEFT_SNAPSHOT_ENTRIES: int(1, 1_000_000_000, 10_000),
    /** Entries kept in the log below a snapshot (a follower that close behind needs no snapshot). */
    WEFT_SNAPSHOT_MARGIN: int(0, 1_000_000_000, 1_000),
    /** A large (staged) transaction idle this long is presumed abandoned and aborted by the leader. */
    WEFT_STAGED_IDLE_MS: int(1_000, 86_400_000, 300_000),
    /**
     * MVCC garbage collection: versions stay readable (AS OF SYSTEM TIME, long transactions) this
     * long, and dropped tables' data is deleted this long after the drop (default 4 h).
     */
    WEFT_GC_TTL_S: int(1, 30 * 86_400, 4 * 3600),
    /** Minimum time between two gc passes over a shard (0: ttl / 8, between 1 s and 30 min). */
    WEFT_GC_INTERVAL_MS: int(0, 86_400_000, 0),
    /** /health/ready turns not-ready when a replica's state is more than this far behind (closed timestamp). */
    WEFT_READY_MAX_LAG_MS: int(100, 3_600_000, 10_000),
    /**
     * Testing only (health tests): `node:shard` — on the node with that id, the replica of that
     * shard is handed a corrupt entry on its next apply as a follower, and stops. Empty = off.
     */
    WEFT_TESTING_CORRUPT_APPLY: corruptApplyVar,
    /**
     * Check this node's clock against its peers' every second; a node whose clock is off from
     * most of them by more than 80 % of the 250 ms max offset exits with code 3 rather than
     * stamp commits or serve reads outside the bound (decision 0057).
     */
    WEFT_CLOCK_CHECK: oneOf(['on', 'off'] as const, 'on'),
    /** Testing only (clock tests): this node's clock runs this many ms ahead (negative: behind) of the system clock. */
    WEFT_TESTING_CLOCK_SKEW_MS: int(-86_400_000, 86_400_000, 0),
    /** Kafka (WEFT_KAFKA_BROKERS, TLS/SASL, topic prefix): set brokers to mirror every led shard's log. */
    ...kafkaEnv(),
    /** Unmirrored entries per shard past which its Raft log is compacted anyway (the topic then records a gap). */
    WEFT_MIRROR_MAX_BACKLOG: int(1, 1_000_000_000, 500_000),
    WEFT_MIRROR_LINGER_MS: int(0, 5_000, 100),
  },
  module: (config, runtime) => NodeModule.forRoot(config, runtime),
});
