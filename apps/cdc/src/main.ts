import { int, oneOf, optionalHostPorts, text } from '@weft/config';
import { kafkaEnv } from '@weft/mirror';
import { main } from '@weft/service';
import { CdcModule } from './cdc.module';
import { failpointSetting, optionalTopicPrefix, SNAPSHOT_MODES } from './settings';

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
    /** Change topics are <prefix>.cdc.<db>.<schema>.<table> (empty: WEFT_KAFKA_TOPIC_PREFIX), as Debezium's topic.prefix. */
    WEFT_CDC_TOPIC_PREFIX: optionalTopicPrefix(),
    /**
     * A shard with no published progress: `never` replays its log topic from offset 0; `initial`
     * starts from a node's snapshot (r events) and streams from after it; `when_needed` also
     * re-snapshots past a gap record instead of stopping the shard (decision 0037).
     */
    WEFT_CDC_SNAPSHOT_MODE: oneOf(SNAPSHOT_MODES, 'never'),
    /** With initial / when_needed: the nodes' HTTP addresses (host:port, comma-separated) serving snapshots. */
    WEFT_CDC_SNAPSHOT_FROM: optionalHostPorts(),
    /** After a snapshot, the log is read from records produced this long before its newest timestamp (clock-skew margin). */
    WEFT_CDC_SNAPSHOT_START_MARGIN_MS: int(0, 3_600_000, 5_000),
    /**
     * Most events per Kafka transaction of a snapshot (decision 0043): a snapshot of any size is
     * published in chunks that each commit well within the transaction timeout, and resumed
     * after the committed ones if the service dies meanwhile.
     */
    WEFT_CDC_SNAPSHOT_CHUNK_EVENTS: int(1, 10_000_000, 20_000),
    /** Test only: wait forever at this point (crash tests kill -9 the process there); empty = off. */
    WEFT_CDC_FAILPOINT: failpointSetting(),
  },
  module: (config, runtime) => CdcModule.forRoot(config, runtime),
});
