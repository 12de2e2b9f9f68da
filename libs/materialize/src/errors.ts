// Errors a replica (or a Kafka-fed materializer) must tell apart: a damaged log stops the
// replica; an intent met by a read is the transaction layer's to resolve.
import { KvError, WriteIntentError } from '@weft/kv';
import type { EntryDecodeError } from '@weft/logentry';
import type { KeyedIntent } from '@weft/storage';

/**
 * Entry `index` of shard `shardId` could not be decoded (truncated, corrupt, or a format this
 * build does not know). Nothing of it was applied and the materializer refuses every later
 * entry: applying past a hole would diverge from the other replicas.
 */
export class CorruptEntryError extends Error {
  override readonly name = 'CorruptEntryError';
  constructor(
    readonly shardId: number,
    readonly index: number,
    override readonly cause: EntryDecodeError,
  ) {
    super(`shard ${shardId}: log entry ${index} is ${cause.reason === 'unknown-version' || cause.reason === 'unknown-type' ? 'not readable by this build' : cause.reason}: ${cause.message}; the replica stops applying at this index`);
  }
}

/** Entries must be applied in index order without gaps. */
export class ApplyOrderError extends Error {
  override readonly name = 'ApplyOrderError';
  constructor(
    readonly shardId: number,
    readonly index: number,
    readonly appliedIndex: number,
  ) {
    super(`shard ${shardId}: cannot apply entry ${index}: applied index is ${appliedIndex}, next must be ${appliedIndex + 1}`);
  }
}

/** The materializer stopped after an earlier failure; it applies nothing more until reopened and repaired. */
export class MaterializerStoppedError extends Error {
  override readonly name = 'MaterializerStoppedError';
  constructor(
    readonly shardId: number,
    override readonly cause: Error,
  ) {
    super(`shard ${shardId}: materializer stopped after an earlier failure: ${cause.message}`);
  }
}

/**
 * A read at `ts` met provisional writes (2PC intents) of other transactions at or below `ts`.
 * The transaction layer decides: wait, push, or resolve via the primary's record.
 */
export class IntentConflictError extends WriteIntentError {
  override readonly name = 'IntentConflictError';
  constructor(shardId: number, intents: readonly KeyedIntent[]) {
    super(
      shardId,
      intents.map((i) => (i.primary === undefined ? { key: i.key, txnId: i.txnId, ts: i.ts } : { key: i.key, txnId: i.txnId, ts: i.ts, primary: i.primary })),
    );
  }
}

/**
 * A read below the shard's gc threshold: gc entries may have removed versions it would see, so
 * it is refused rather than answered wrongly (SQLSTATE 72000, PostgreSQL's "snapshot too old").
 */
export class BelowGcThresholdError extends KvError {
  override readonly name = 'BelowGcThresholdError';
  constructor(
    shardId: number,
    readonly ts: bigint,
    readonly threshold: bigint,
  ) {
    super('snapshot-too-old', `snapshot too old: read timestamp ${ts} is below the gc threshold ${threshold} of shard ${shardId}`, shardId);
  }
}
