import { int, text } from '@weft/config';
import { kafkaEnv } from '@weft/mirror';
import { main } from '@weft/service';
import { MaterializerModule } from './materializer.module';

main({
  name: 'materializer',
  defaults: { httpPort: 8380, metricsPort: 9467 },
  env: {
    ...kafkaEnv(),
    /** One RocksDB store per shard: <dir>/shard-<id>. Empty = rebuild from the start of the topics. */
    WEFT_DATA_DIR: text('.weft/materializer-1'),
    /** Materialize shards 1..N (as the nodes' WEFT_SHARD_COUNT). */
    WEFT_SHARD_COUNT: int(1, 4096, 1),
    /** Names this materializer's consumer group (<prefix>.materializer.<id>): its position in the topics. */
    WEFT_MATERIALIZER_ID: text('1'),
    /** Serve reads at or below each shard's closed timestamp over the KV RPC on this port (0: off). */
    WEFT_KV_PORT: int(0, 65535, 0),
  },
  module: (config) => MaterializerModule.forRoot(config),
});
