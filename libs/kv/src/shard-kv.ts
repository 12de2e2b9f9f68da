// What the layers above (transactions, SQL) need from one shard, wherever its replicas are:
// in process (LocalShard, tests and the simulator) or behind the node's KV RPC.
import type { ApplyOutcome, IntentRef, LogEntry, ReadSpan, Timestamp } from '@weft/logentry';
import type { TxnStatus } from './errors';
import type { LockWaitEdge } from './lock-table';

export interface KvRow {
  readonly key: Buffer;
  readonly value: Buffer;
  /** Commit timestamp of the version read. */
  readonly ts: Timestamp;
}

export interface ReadRequestOptions {
  /**
   * The reading transaction's id (16 bytes), when it has staged writes: its own intents are then
   * visible to it. Omitted, a read sees committed data only.
   */
  readonly txnId?: Buffer;
  /**
   * Follower read: the timestamp is old enough that any replica whose closed timestamp covers
   * it may answer (the nearest, not necessarily the leaseholder). A replica that cannot (its
   * closed timestamp is below) refuses, and the client goes to the leaseholder.
   */
  readonly follower?: boolean;
  /**
   * The reader's uncertainty limit (decision 0055): a version committed above the read
   * timestamp and at or below this one fails the read with UncertainReadError instead of being
   * missed. Absent: none (the snapshot came from this shard's own clock, or is historical).
   */
  readonly uncertaintyLimit?: Timestamp;
  /**
   * Told the serving replica's clock reading when it served a read with an uncertainty limit
   * (the shard's observed timestamp, decision 0055): nothing committed there before it, and
   * everything it commits afterwards lands above it.
   */
  readonly onObserved?: (ts: Timestamp) => void;
  /**
   * Client side, never sent: the transaction's observed timestamps by shard. The KV client
   * lowers the limit it sends a shard to that shard's observed timestamp and records the
   * first one each shard reports.
   */
  readonly observed?: Map<number, Timestamp>;
}

export interface ScanRequestOptions extends ReadRequestOptions {
  /** At most this many rows (after `filter`). */
  readonly limit?: number;
  readonly reverse?: boolean;
  /** A row filter for the shard to evaluate (decision 0038). */
  readonly filter?: ScanFilter;
}

/**
 * A row filter pushed down to the shard (decision 0038). Opaque to KV: the SQL layer encodes it
 * and the shard's `ScanFilterCompiler` (given by the node) compiles it. A shard that cannot
 * compile it returns every row (and no `count`): the caller always applies the filter itself
 * too, so a filter is an optimisation, never a change of result.
 */
export interface ScanFilter {
  /** What to evaluate. Equal programs compile once per shard (it is the cache key). */
  readonly program: Buffer;
  /** Values the program refers to (statement parameters). */
  readonly args: Buffer;
  /** Count the kept rows instead of returning them (ScanPage.count). Forward scans only. */
  readonly countOnly?: boolean;
}

/** A compiled ScanFilter: keeps a visible row's value or steps over it. */
export interface RowFilter {
  /** False only when the row certainly fails the filter; a row it cannot evaluate is kept. */
  keep(value: Buffer): boolean;
  /**
   * Rows kept only because evaluating them failed. A count that includes them would hide the
   * error the reader must raise, so a count-only scan that met one answers without a count.
   */
  unevaluated(): number;
  /** Runs a scan in the filter's evaluation context (e.g. the statement's time zone). */
  around<T>(scan: () => T): T;
  /**
   * For an aggregating program: what the rows it was given add up to (opaque to KV; its keep()
   * then takes every row in and returns false). Undefined for a plain filter.
   */
  partial?(): Buffer;
}

/** Compiles pushed-down filters; undefined when the program cannot be evaluated here. */
export type ScanFilterCompiler = (filter: ScanFilter) => RowFilter | undefined;

export interface ScanPage {
  readonly rows: readonly KvRow[];
  /** Set when `limit` cut the scan: continue from here (as start forward, end reverse). */
  readonly resumeKey?: Buffer;
  /** Set when the shard counted the rows its filter kept (ScanFilter.countOnly); rows is empty. */
  readonly count?: number;
  /** Set when the filter's program aggregates (RowFilter.partial): this page's part; rows is empty. */
  readonly partial?: Buffer;
}

/**
 * One shard. Reads are served at `ts` only once every entry that could commit at or below `ts`
 * is applied (leaseholder/ReadIndex, or a follower whose closed timestamp is >= ts). Keys are
 * user keys (/<table>/<index>/<tuple>); MVCC versions are the shard's business.
 */
export interface ShardKv {
  readonly shardId: number;
  /** A timestamp at least as new as every commit this shard has acknowledged (HLC now). */
  now(): Promise<Timestamp>;
  get(key: Buffer, ts: Timestamp, options?: ReadRequestOptions): Promise<KvRow | undefined>;
  /**
   * A transaction's first read: reads `keys` (one or more, all on this shard) at this shard's
   * `now()` (raised to `minTs`) and says which timestamp that was, so the snapshot is fixed
   * without a separate `now` round trip. `rows[i]` answers `keys[i]`. Absent where not
   * supported (the caller asks `now()` first).
   */
  getNow?(keys: readonly Buffer[], minTs: Timestamp, options?: ReadRequestOptions): Promise<{ readonly rows: readonly (KvRow | undefined)[]; readonly ts: Timestamp }>;
  /** Keys in [start, end) visible at ts, ascending (descending with reverse). */
  scan(start: Buffer, end: Buffer, ts: Timestamp, options?: ScanRequestOptions): Promise<ScanPage>;
  /**
   * Replicates the entry and resolves with its apply outcome once applied on the leader.
   * Rejects (never resolves 'aborted') only when the outcome is unknown, e.g. the leader was
   * lost mid-flight: the caller must then treat the transaction as ambiguous (SQLSTATE 40003).
   */
  propose(entry: LogEntry): Promise<ApplyOutcome>;
  /**
   * What this shard knows of transaction `txnId` (16 bytes): prepared/open here, decided, or
   * unknown. Asked of a transaction's primary shard by whoever meets one of its intents.
   */
  txnStatus(txnId: Buffer): Promise<TxnStatus>;
  /**
   * Locking read (UPDATE, DELETE, SELECT ... FOR UPDATE by key): waits up to `waitMs` for the
   * row's lock in line, then reads the newest committed value at the leaseholder's clock, but
   * never below `minTs` (the transaction's snapshot: the read must cover it, so that nothing can
   * commit to the key at or below the snapshot afterwards), reporting that timestamp
   * (`readTs`) and the newest version's (`newestTs`, 0 if none, tombstones included). Absent
   * where a shard keeps no locks (the caller then reads without locking).
   */
  lockRead?(key: Buffer, txnId: Buffer, waitMs: number, minTs: Timestamp, options?: ReadRequestOptions, also?: readonly Buffer[]): Promise<LockReadResult>;
  /** Releases every row lock `txnId` holds or waits for here. */
  releaseLocks?(txnId: Buffer): Promise<void>;
  /** Who waits for whom in this shard's lock table (at the leaseholder; empty elsewhere). */
  lockWaits?(): Promise<readonly LockWaitEdge[]>;
  /**
   * Read refresh: whether nothing in `reads` changed in (fromTs, toTs] (and no other
   * transaction's intent sits on it), served like a read at toTs. If so, the transaction may
   * move its read timestamp up to toTs without reading again.
   */
  refresh?(txnId: Buffer, reads: readonly ReadSpan[], fromTs: Timestamp, toTs: Timestamp): Promise<RefreshResult>;
  /** Moves the shard's lease (Raft leadership) to node `to`; resolves once it leads. */
  transferLease?(to: number): Promise<void>;
}

export type LockReadResult =
  | {
      readonly granted: true;
      readonly row: KvRow | undefined;
      readonly readTs: Timestamp;
      readonly newestTs: Timestamp;
      /** The `also` keys (other keys of this shard, e.g. a replicated key's copy) read at readTs. */
      readonly also?: readonly (KvRow | undefined)[];
    }
  /** The wait ran out: `holder` (hex txn id) still holds the lock. */
  | { readonly granted: false; readonly holder: string };

export type RefreshResult = { readonly ok: true } | { readonly ok: false; readonly detail: string; readonly intent?: IntentRef };
