import { int, text } from '@weft/config';
import { kafkaEnv } from '@weft/mirror';
import { main } from '@weft/service';
import { CdcModule } from './cdc.module';

main({
  name: 'cdc',
  defaults: { httpPort: 8390, metricsPort: 9468 },
  env: {
    ...kafkaEnv(),
    /** One RocksDB replica per shard (<dir>/shard-<id>): the state before-images are read from. */
    WEFT_DATA_DIR: text('.weft/cdc-1'),
    /** Capture shards 1..N (as the nodes' WEFT_SHARD_COUNT). */
    WEFT_SHARD_COUNT: int(1, 4096, 1),
    /** Names this instance's consumer groups and transactional ids (<prefix>.cdc.<id>...). */
    WEFT_CDC_ID: text('1'),
    /** Partitions of each table's change topic. */
    WEFT_CDC_PARTITIONS: int(1, 1000, 4),
    /** retention.ms of the change topics (default 7 days; -1 keeps them forever). */
    WEFT_CDC_RETENTION_MS: int(-1, 2 ** 31 * 1000, 7 * 24 * 3600 * 1000),
  },
  module: (config) => CdcModule.forRoot(config),
});
