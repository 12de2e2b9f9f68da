import { hostPorts, int, nodeAddresses, port, text } from '@weft/config';
import { main } from '@weft/service';
import { MetaModule } from './meta.module';

main({
  name: 'meta',
  defaults: { httpPort: 8280, metricsPort: 9466 },
  env: {
    WEFT_KAFKA_BROKERS: hostPorts('127.0.0.1:9092'),
    /** This replica's id in the meta group (1-65535, distinct from nothing else: meta ids are their own space). */
    WEFT_META_ID: int(1, 65535, 1),
    /** Every meta replica as id@host:raft-port, this one included (default: a lone meta replica). */
    WEFT_META_PEERS: nodeAddresses('1@127.0.0.1:7300'),
    /** Meta RPC port (tso, heartbeat, nodes, shardMap, status) for gateways and nodes. */
    WEFT_META_RPC_PORT: port(7400),
    /** The meta replica's directory: wal/ (meta Raft log) and meta.sqlite (TypeORM catalog). */
    WEFT_DATA_DIR: text('.weft/meta-1'),
    /** A node not heard from this long is marked dead. */
    WEFT_META_DEAD_AFTER_MS: int(1_000, 3_600_000, 10_000),
    /** At most one replica moves to a less loaded node this often, while all nodes are live (0: never). */
    WEFT_META_REBALANCE_INTERVAL_MS: int(0, 3_600_000, 10_000),
    /** How far ahead of the clock the TSO high-water mark is persisted. */
    WEFT_META_TSO_WINDOW_MS: int(10, 60_000, 1_000),
    /** An empty shard map is bootstrapped with this many uniform shards (as the nodes' WEFT_SHARD_COUNT). */
    WEFT_SHARD_COUNT: int(1, 4096, 1),
  },
  module: (config, runtime) => MetaModule.forRoot(config, runtime),
});
