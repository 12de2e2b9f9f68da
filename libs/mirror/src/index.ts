// @weft/mirror: every shard's committed Raft log, mirrored to Kafka by its leader (node side),
// and the record format consumers read back.
export { KafkaAdminSession } from './admin-session';
export { NodeMirror } from './node-mirror';
export type { NodeMirrorOptions, NodeMirrorStats, NodeMirrorLogger } from './node-mirror';
export { ShardMirror } from './shard-mirror';
export type { ShardMirrorStats, ShardMirrorState, MirrorKafka } from './shard-mirror';
export { nodeHostSource, isEmptyEntry } from './source';
export type { ShardLogSource } from './source';
export { HEADER, LogRecordError, fromMessage, toMessage } from './log-record';
export type { LogRecord, MirroredOutcome } from './log-record';
export { kafkaEnv, kafkaSettings, createKafka, KafkaSettingsError, CONSUMER_GROUP_TIMING, KAFKA_REQUEST_TIMEOUT_MS, heartbeatDue } from './kafka-config';
export type { KafkaEnv, KafkaSettings } from './kafka-config';
export { DEFAULT_TOPIC_PREFIX, logTopic, shardOfLogTopic, mirrorProgressGroup, mirrorTransactionalId } from './topics';
// Consumer side: starting a log consumer from a node's shard snapshot (decision 0036; used by
// apps/materializer and apps/cdc).
export { fetchShardSnapshot, snapshotUrl, SnapshotFetchError } from './snapshot-fetch';
export type { FetchShardSnapshotOptions, FetchedSnapshot } from './snapshot-fetch';
export { startOffsetAfter, START_OFFSET_SKEW_MARGIN_MS } from './start-offset';
export type { SnapshotPosition } from './start-offset';
export { watchConsumerCrashes } from './consumer-crash';
export type { ConsumerCrashLogger } from './consumer-crash';
