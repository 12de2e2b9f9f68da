// What a replica needs from the pieces around it, as interfaces so the same replica logic runs
// in the node process (MultiRaftHost, RocksDB materializer) and in the deterministic simulator.
import type { KvRow, ReadRequestOptions, ScanPage, ScanRequestOptions, TxnStatus } from '@weft/kv';
import type { ApplyOutcome, IntentRef, ReadSpan, Timestamp } from '@weft/logentry';
import type { StagedTxnView } from './staged-sweep';

/**
 * The shard's state machine: @weft/materialize's Materializer satisfies this structurally.
 * `apply` is synchronous and deterministic; it throws on an entry it cannot decode.
 */
export interface ShardStateMachine {
  readonly shardId: number;
  readonly appliedIndex: number;
  readonly lastCommitTs: Timestamp;
  readonly closedTs: Timestamp;
  stateHash(): Buffer;
  apply(index: number, data: Uint8Array): ApplyOutcome | 'already-applied';
  applyEmpty(index: number): void;
  read(key: Buffer, ts: Timestamp, options?: ReadRequestOptions): KvRow | undefined;
  scan(start: Buffer, end: Buffer, ts: Timestamp, options?: ScanRequestOptions): ScanPage;
  /** Staged transactions not yet settled, for the leader's sweep (absent: nothing to sweep). */
  stagedTransactions?(): readonly StagedTxnView[];
  /**
   * For the leader's gc walk (absent: no gc): the user key `maxEntries` stored entries after
   * `from` (empty: the start), where the next gc span should end; undefined when fewer remain.
   */
  gcBoundary?(from: Buffer, maxEntries: number): Buffer | undefined;
  /** What the applied state knows of a transaction (prepared, staged, decided, unknown). */
  txnStatus(txnId: Buffer): TxnStatus;
  /** Read refresh check (see Materializer.checkReads). */
  checkReads(txnId: Buffer, fromTs: Timestamp, reads: readonly ReadSpan[]): { readonly detail: string; readonly intent?: IntentRef } | undefined;
  /** Timestamp of the newest committed version of a key (tombstones count), 0 if none. */
  newestVersionTs(key: Buffer): Timestamp;
}

/** The replica's view of its Raft group. */
export interface ReplicaRaft {
  /**
   * Appends `data` if this replica leads; resolves with its log index once it is committed and
   * applied here (the apply callback has run for it). Rejects when not leader or when
   * leadership is lost before the entry applies.
   */
  propose(data: Uint8Array): Promise<number>;
  /** Leader and term as this replica currently knows them (leader 0 = unknown). */
  status(): { readonly id: number; readonly leader: number; readonly term: number; readonly voters?: readonly number[] };
  /** True while a quorum has acknowledged this leader within the lease window. */
  leaseValid(): boolean;
  /**
   * A linearizable read point without a log write (Raft ReadIndex): resolves with an index once
   * a quorum has confirmed this replica led when the call was made and every entry up to that
   * index has been through the apply callback here. Rejects when this replica does not lead or
   * loses leadership first, and when no quorum answers in time.
   */
  readIndex(): Promise<number>;
  /** Asks the group to hand leadership to replica `to` (Raft leadership transfer); absent where unsupported. */
  transferLeader?(to: number): void;
}

/** Periodic timers, injected so the simulator runs them in virtual time. */
export interface ReplicaTimers {
  every(ms: number, fn: () => void): { stop(): void };
}

export const realTimers: ReplicaTimers = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return { stop: () => clearInterval(t) };
  },
};

/** One committed Raft entry as handed to the replica (all of them, or only the non-empty ones). */
export interface CommittedEntry {
  readonly index: number;
  readonly term: number;
  /** Empty for Raft's own no-op entries; conf changes are passed as `conf: true`. */
  readonly data: Uint8Array;
  readonly conf?: boolean;
}
