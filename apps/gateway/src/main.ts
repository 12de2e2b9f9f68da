import { int, port, text } from '@weft/config';
import { main } from '@weft/service';
import { GatewayModule } from './gateway.module';

main({
  name: 'gateway',
  defaults: { httpPort: 8080, metricsPort: 9464 },
  env: {
    WEFT_PG_PORT: port(5433),
    WEFT_DATA_DIR: text('.weft/gateway'),
    /** Shard 1's replicas (id@host:kv-port,...); `local` runs an in-process LocalShard in WEFT_DATA_DIR. */
    WEFT_KV_REPLICAS: text('local'),
    /** Shards 1..N over the hash space (the nodes must host the same count: WEFT_SHARD_COUNT there). */
    WEFT_SHARD_COUNT: int(1, 4096, 1),
    /** A transaction sends its buffered writes to the shard as intents each time they reach this size. */
    WEFT_TXN_STAGE_BYTES: int(1024, 64 * 1024 * 1024, 1024 * 1024),
  },
  module: (config) => GatewayModule.forRoot(config),
});
