import { int, optionalHostPorts, optionalNodeAddresses, port, text } from '@weft/config';
import { main } from '@weft/service';
import { GatewayModule } from './gateway.module';

main({
  name: 'gateway',
  defaults: { httpPort: 8080, metricsPort: 9464 },
  env: {
    WEFT_PG_PORT: port(5433),
    WEFT_DATA_DIR: text('.weft/gateway'),
    /**
     * The meta service (id@host:rpc-port,...): the gateway routes by meta's shard map and finds
     * each shard's replicas through it. When set, WEFT_KV_REPLICAS and WEFT_SHARD_COUNT are not used.
     */
    WEFT_META_ADDRS: optionalNodeAddresses(),
    /** Without meta: every node's KV address (id@host:kv-port,...), each hosting every shard; `local` runs in-process LocalShards in WEFT_DATA_DIR. */
    WEFT_KV_REPLICAS: text('local'),
    /** Without meta: shards 1..N over the hash space (the nodes must host the same count: WEFT_SHARD_COUNT there). */
    WEFT_SHARD_COUNT: int(1, 4096, 1),
    /** A transaction sends its buffered writes to the shard as intents each time they reach this size. */
    WEFT_TXN_STAGE_BYTES: int(1024, 64 * 1024 * 1024, 1024 * 1024),
    /**
     * Read replicas (host:kv-port,...): Kafka-fed materializers serving reads at or below their
     * closed timestamps. AS OF SYSTEM TIME and bounded-staleness reads try them first.
     */
    WEFT_READ_REPLICAS: optionalHostPorts(),
  },
  module: (config, runtime) => GatewayModule.forRoot(config, runtime),
});
