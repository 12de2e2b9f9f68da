// @weft/replica: one replica of a shard (Raft group + materializer) serving ShardKv.
export { ShardReplica, type ShardReplicaOptions } from './replica';
export { HybridClock, systemClock, type WallClock } from './hlc';
export { realTimers, type CommittedEntry, type ReplicaRaft, type ReplicaTimers, type ShardStateMachine } from './ports';
export { HostGroupRaft, toCommitted } from './host-raft';
export {
  AmbiguousResultError,
  NotLeaderError,
  ReadTsTooFarError,
  ReplicaError,
  ReplicaStoppedError,
  ReplicaUnavailableError,
  type ReplicaErrorCode,
} from './errors';
export {
  SNAPSHOT_FORMAT,
  SnapshotDecoder,
  SnapshotFormatError,
  decodeSnapshotRef,
  encodeSnapshotRef,
  type SnapshotFrame,
  type SnapshotTrailer,
} from './snapshot-format';
export { ShardSnapshotSource, STORE_RANGE, streamShardState, syncStore } from './snapshot-source';
export { ShardSnapshotSink, SnapshotRejectedError, type ShardSnapshotSinkOptions, type ShardSnapshotSinkStats, type StagedShardState } from './snapshot-sink';
export { ShardStateDir, ShardStateDirError } from './snapshot-dirs';
export { StagedSweep, type StagedSweepOptions, type StagedTxnView } from './staged-sweep';
export { GcSweep, DEFAULT_GC_TTL_US, type GcSweepOptions } from './gc-sweep';
