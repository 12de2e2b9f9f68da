// Typed errors of the KV layers (replica, KV RPC, KV client, transactions) and the one table
// that turns them into SQLSTATEs. The layers below SQL throw these (or errors carrying a `code`
// from KvErrorCode); the SQL edge maps them once, with sqlstateOf(), so an error keeps its
// meaning from the replica to the client: a conflict is 40001, an unknown outcome 40003, a
// shard that cannot be reached 57P03, a damaged replica XX001.
import type { IntentRef, Timestamp } from '@weft/logentry';

export type KvErrorCode =
  /** This replica cannot serve the request (not the leader / read above its closed ts). Retry elsewhere. */
  | 'not-leader'
  /** A proposal left but its fate is unknown: it may or may not have applied. */
  | 'ambiguous'
  /** The read timestamp is too far ahead of the replica's clock; retry with a new timestamp. */
  | 'read-ts-too-far'
  /** The replica stopped applying (damaged log or state). */
  | 'stopped'
  /** No replica answered in time; nothing is known to have happened. */
  | 'unavailable'
  /** The node hosts no replica of the shard (a stale shard map). */
  | 'unknown-shard'
  /** A malformed request (a bug or a version mismatch). */
  | 'bad-request'
  /** A read met another transaction's intent the client must resolve first. */
  | 'write-intent'
  /** The transaction must restart (serialization conflict found before commit). */
  | 'retry'
  /** The statement ran out of time. */
  | 'timeout'
  /** lock_timeout passed while waiting for a row lock. */
  | 'lock-timeout'
  /** Waiting for a row lock would close a cycle of waiting transactions. */
  | 'deadlock'
  /** The read timestamp is below the shard's gc threshold: the versions it needs may be gone. */
  | 'snapshot-too-old'
  /** A read met a version within its uncertainty window: move the snapshot up and read again. */
  | 'uncertain'
  | 'internal';

/** The SQLSTATE each code becomes at the SQL edge. */
export const KV_SQLSTATE: Readonly<Record<KvErrorCode, string>> = {
  'not-leader': '40001',
  ambiguous: '40003',
  'read-ts-too-far': '40001',
  stopped: 'XX001',
  unavailable: '57P03',
  'unknown-shard': '40001',
  'bad-request': '08P01',
  'write-intent': '40001',
  retry: '40001',
  timeout: '57014',
  'lock-timeout': '55P03',
  deadlock: '40P01',
  'snapshot-too-old': '72000',
  uncertain: '40001',
  internal: 'XX000',
};

/** Base of the KV layers' own errors. */
export class KvError extends Error {
  constructor(
    readonly code: KvErrorCode,
    message: string,
    /** The shard the error is about, when there is one. */
    readonly shardId?: number,
  ) {
    super(message);
    this.name = 'KvError';
  }

  get sqlstate(): string {
    return KV_SQLSTATE[this.code];
  }
}

/** An intent of another transaction, as a read met it. */
export type MetIntent = IntentRef;

/**
 * A read at `ts` met provisional writes of other transactions at or below `ts`: the reader must
 * wait for them to be decided, or find out (and if the owner is gone, decide) their fate
 * through the owner's primary, and read again.
 */
export class WriteIntentError extends KvError {
  constructor(
    shardId: number,
    readonly intents: readonly MetIntent[],
  ) {
    super('write-intent', `shard ${shardId}: read met ${intents.length} intent(s) of other transaction(s) (first: txn ${intents[0]?.txnId ?? '?'})`, shardId);
    this.name = 'WriteIntentError';
  }
}

/**
 * A read at `readTs` met a version committed at `valueTs`, above readTs but within the reader's
 * uncertainty limit: a clock ahead of the reader's may have committed it before the reader
 * began, so the reader may not simply miss it. The transaction moves its snapshot up to
 * valueTs (a read refresh) and reads again (decision 0055).
 */
export class UncertainReadError extends KvError {
  constructor(
    shardId: number,
    readonly readTs: Timestamp,
    readonly valueTs: Timestamp,
  ) {
    super('uncertain', `shard ${shardId}: a value committed at ${valueTs} is within the uncertainty window of a read at ${readTs}`, shardId);
    this.name = 'UncertainReadError';
  }
}

/** Where a transaction stands, as its primary's shard knows it. */
export type TxnStatus =
  /**
   * Prepared (or staged and open) here, not decided. `ts` is its provisional timestamp;
   * `primary` is the key whose shard decides it, once it is prepared (2PC).
   */
  | { readonly kind: 'pending'; readonly ts: Timestamp; readonly primary?: Buffer }
  | { readonly kind: 'committed'; readonly ts: Timestamp }
  | { readonly kind: 'aborted' }
  /** Nothing known here (never prepared, or its record was collected). */
  | { readonly kind: 'unknown' };

const CODES = new Set<string>(Object.keys(KV_SQLSTATE));

/**
 * The SQLSTATE of an error from the KV layers, or undefined if it is not one of theirs. Errors
 * from other KV-layer classes (ReplicaError, KvRpcError) qualify by carrying a known `code`.
 */
export function sqlstateOf(err: unknown): string | undefined {
  if (err instanceof KvError) return err.sqlstate;
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; sqlstate?: unknown };
  if (typeof e.sqlstate === 'string' && /^[0-9A-Z]{5}$/.test(e.sqlstate)) return e.sqlstate;
  if (typeof e.code === 'string' && CODES.has(e.code)) return KV_SQLSTATE[e.code as KvErrorCode];
  return undefined;
}
