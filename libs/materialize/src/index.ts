// @weft/materialize: the deterministic apply of shard log entries, its state hash, and an
// in-process shard built on it.
export { Materializer, SERIALIZATION_FAILURE, UNIQUE_VIOLATION, FEATURE_NOT_SUPPORTED, INTERNAL_ERROR } from './materializer';
export type { MaterializerOptions, ReadRequestOptions, ScanRequest } from './materializer';
export { ApplyOrderError, CorruptEntryError, IntentConflictError, MaterializerStoppedError } from './errors';
export { StateHash, entryDigest, STATE_HASH_BYTES } from './state-hash';
export { LocalShard } from './local-shard';
export type { LocalShardOptions } from './local-shard';
export { Hlc, systemClock } from './clock';
export type { Clock } from './clock';
export type { OutcomeSummary } from './outcome-journal';
export { isOutcomeKey } from './outcome-journal';
export type { StagedState } from './staged-txns';
