import { int, oneOf, optionalHostPorts, text } from '@weft/config';
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
    /**
     * How a shard with an empty store starts, and what a gap record does: `log` reads the topic
     * from offset 0 and stops at a gap; `snapshot` installs a node's snapshot of the shard and
     * reads from the record after it, also to get past a gap (decision 0036).
     */
    WEFT_MATERIALIZER_BOOTSTRAP: oneOf(['log', 'snapshot'] as const, 'log'),
    /** With bootstrap=snapshot: the nodes' HTTP addresses (host:port, comma-separated) serving snapshots. */
    WEFT_MATERIALIZER_SNAPSHOT_FROM: optionalHostPorts(),
    /** After a snapshot, the log is read from records produced this long before its newest timestamp (clock-skew margin). */
    WEFT_MATERIALIZER_START_MARGIN_MS: int(0, 3_600_000, 5_000),
  },
  module: (config, runtime) => MaterializerModule.forRoot(config, runtime),
});
