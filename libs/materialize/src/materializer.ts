// The deterministic state machine of a shard: applies decoded log entries to the MVCC store.
// Semantics are documented in ../README.md; the short version:
//
//  - The outcome of an entry (committed, or aborted with the SQLSTATE the client sees) depends
//    only on the store's state before it, so every replica and every Kafka-fed materializer
//    reaches the same verdict without talking to each other.
//  - Each entry's effects, the new applied index, commit/closed timestamps and the state hash
//    go to RocksDB in ONE write batch: a crash leaves either all of an entry or none of it, and
//    re-delivering an applied index is answered 'already-applied' without touching anything.
//  - The state hash is maintained in the same batch (see state-hash.ts).
//
// The materializer must be the only writer of its store: anything written around it would be
// missing from the state hash.

import { UncertainReadError, type KvRow, type RowFilter, type ScanFilter, type ScanFilterCompiler, type ScanPage, type TxnStatus } from '@weft/kv';
import {
  ApplyOutcome, CommitEntry, EntryDecodeError, GcEntry, IntentRef, LogEntry, PrepareEntry, ReadSpan, ResolveEntry, ResolveStagedEntry,
  ForgetEntry, SchemaChangeEntry, StageEntry, Timestamp, WriteOp, decodeEntry, encodeEntry,
} from '@weft/logentry';
import {
  DROPPED_MARKER_SPAN, IntentVerdict, ReadOptions, MAX_TIMESTAMP, MvccStore, NS_DATA, afterVersions, droppedSpanOf, RocksBatch, TOMBSTONE, dataLowerBound, dataUpperBound,
  decodeIntent, decodeVersion, encodeIntent, encodeVersion, intentKey, isIntentSlot, localKey, prefixLength, timestampOf, userKeyOf, versionKey,
  versionPrefix,
} from '@weft/storage';
import { ApplyOrderError, BelowGcThresholdError, CorruptEntryError, IntentConflictError, MaterializerStoppedError } from './errors';
import { STATE_HASH_BYTES, StateHash } from './state-hash';
import { OutcomeSummary, decodeOutcome, encodeOutcome, outcomeKey, outcomeRange } from './outcome-journal';
import {
  type StagedState, StagedTxn, chunkKey, chunkRange, decodeChunk, decodeMeta, encodeChunk, encodeMeta, metaKey, metaRange, txnIdOfMetaKey,
} from './staged-txns';

/** Local key of the apply state (not hashed: it is the bookkeeping of the hash itself). */
const META_KEY = localKey('materialize/state');
const META_FORMAT = 1;
const META_BYTES = 1 + 4 + 8 + 8 + 8 + STATE_HASH_BYTES;
/** Local keys under this prefix are replicated state and covered by the state hash. */
const HASHED_PREFIX = 'h/';
const PREPARED_PREFIX = Buffer.from('h/txn/');
const RESOLVED_PREFIX = Buffer.from('h/done/');
const SCHEMA_PREFIX = Buffer.from('h/schema/');
/** The shard's gc threshold: replicated state (hashed, and carried by snapshots). */
const GC_THRESHOLD_KEY = localKey('h/gc/threshold');

export const SERIALIZATION_FAILURE = '40001';
export const UNIQUE_VIOLATION = '23505';
export const FEATURE_NOT_SUPPORTED = '0A000';
export const INTERNAL_ERROR = 'XX000';
const CONFLICT_MESSAGE = 'could not serialize access due to concurrent update';
/** Older versions of one key a span check steps over before seeking past the rest. */
const SPAN_SEEK_AFTER = 8;

export interface MaterializerOptions {
  /**
   * Compiles row filters pushed down with scans (decision 0038; the node gives the SQL layer's).
   * Without it every scan returns all its rows and the reader filters them.
   */
  readonly scanFilters?: ScanFilterCompiler;
  /**
   * fsync RocksDB's WAL on every apply. Off by default: the Raft log is the durable copy and a
   * replica re-applies from its applied index after a crash; LocalShard (no Raft) turns it on
   * when asked to be durable against power loss.
   */
  readonly sync?: boolean;
}

export interface ReadRequestOptions {
  /** The reading transaction (16-byte id or its hex): its own intents are visible to it. */
  readonly txnId?: Buffer | string;
  /** Versions in (read ts, this] fail the read with UncertainReadError (decision 0055). */
  readonly uncertaintyLimit?: Timestamp;
}

/** The filter of an empty program: every row (what counting all rows sends). */
const KEEP_ALL: RowFilter = { keep: () => true, unevaluated: () => 0, around: (scan) => scan() };

export interface ScanRequest extends ReadRequestOptions {
  readonly limit?: number;
  readonly reverse?: boolean;
  /** Evaluated here when `MaterializerOptions.scanFilters` can compile it; else ignored. */
  readonly filter?: ScanFilter;
}

/** A prepared (2PC) transaction: its intents on this shard and its read set, which stays locked. */
interface PreparedTxn {
  readonly rawKey: Buffer;
  readonly rawValue: Buffer;
  readonly intentTs: Timestamp;
  readonly primary: Buffer;
  readonly keys: readonly Buffer[];
  readonly reads: readonly ReadSpan[];
}

/** A staged transaction as the replica's sweep sees it. */
export interface StagedTxnInfo {
  readonly txnId: Buffer;
  readonly state: StagedState;
  /** Raft index of the last entry that staged or decided it (unchanged = no progress). */
  readonly lastIndex: number;
  readonly chunks: number;
}

/** A dropped table's or index's data as raw store bounds, and its marker's version prefix. */
interface RawSpan {
  readonly lo: Buffer;
  readonly hi: Buffer;
  readonly marker: Buffer;
}

/** What a probe of one user key found: its intent and newest committed version. */
interface Probe {
  readonly prefix: Buffer;
  readonly intentRaw?: Buffer;
  readonly newestTs?: Timestamp;
  readonly newestIsValue: boolean;
}

type Aborted = Extract<ApplyOutcome, { status: 'aborted' }>;

const conflict = (detail: string, intent?: IntentRef): Aborted =>
  intent === undefined
    ? { status: 'aborted', sqlstate: SERIALIZATION_FAILURE, message: CONFLICT_MESSAGE, detail }
    : { status: 'aborted', sqlstate: SERIALIZATION_FAILURE, message: CONFLICT_MESSAGE, detail, intent };
const APPLIED: ApplyOutcome = { status: 'applied' };
const hex = (b: Buffer | string): string => (typeof b === 'string' ? b : b.toString('hex'));
const maxTs = (...ts: Timestamp[]): Timestamp => ts.reduce((a, b) => (a > b ? a : b));
const inSpan = (key: Buffer, r: ReadSpan): boolean =>
  r.kind === 'point' ? key.equals(r.key) : key.compare(r.start) >= 0 && key.compare(r.end) < 0;

/** One entry's staged effects: the batch and the state hash as it will be once written. */
class Staged {
  constructor(
    readonly batch: RocksBatch,
    readonly hash: StateHash,
  ) {}

  put(rawKey: Buffer, rawValue: Buffer, prior?: Buffer): void {
    this.batch.put(rawKey, rawValue);
    if (prior !== undefined) this.hash.removeEntry(rawKey, prior);
    this.hash.addEntry(rawKey, rawValue);
  }

  del(rawKey: Buffer, prior: Buffer): void {
    this.batch.del(rawKey);
    this.hash.removeEntry(rawKey, prior);
  }
}

export class Materializer {
  private applied: number;
  private lastCommit: Timestamp;
  private closed: Timestamp;
  private hash: StateHash;
  /** Reads and commits below this are refused: gc may have removed the versions they need. */
  private gcFloor: Timestamp = 0n;
  /** The gc threshold the entry being applied raises, taken in once it is written. */
  private gcChange: Timestamp | undefined;
  private readonly prepared = new Map<string, PreparedTxn>();
  /** Staged transactions by hex id (mirrors their h/stg/ records). */
  private readonly stagedTxns = new Map<string, StagedTxn>();
  /** The staged-transaction change of the entry being applied, taken in once it is written. */
  private stagedChange: { readonly id: string; readonly txn: StagedTxn | undefined } | undefined;
  private stopped: Error | undefined;
  private readonly batch = new RocksBatch();

  private constructor(
    readonly store: MvccStore,
    readonly shardId: number,
    private readonly options: MaterializerOptions,
    meta: { applied: number; lastCommit: Timestamp; closed: Timestamp; hash: StateHash },
  ) {
    this.applied = meta.applied;
    this.lastCommit = meta.lastCommit;
    this.closed = meta.closed;
    this.hash = meta.hash;
  }

  /** Opens the materializer of `shardId` over its store, resuming from the persisted apply state. */
  static async open(store: MvccStore, shardId: number, options: MaterializerOptions = {}): Promise<Materializer> {
    if (!Number.isInteger(shardId) || shardId < 0 || shardId > 0xffffffff) throw new RangeError(`shard id must be a u32: ${shardId}`);
    const raw = store.db.getMany([META_KEY])[0];
    let meta = { applied: 0, lastCommit: 0n, closed: 0n, hash: new StateHash() };
    if (raw !== undefined) {
      if (raw.length !== META_BYTES || raw[0] !== META_FORMAT) {
        throw new Error(`shard ${shardId}: apply state in ${store.db.location} is unreadable (format ${raw[0]}, ${raw.length} bytes)`);
      }
      const stored = raw.readUInt32BE(1);
      if (stored !== shardId) throw new Error(`store ${store.db.location} holds shard ${stored}, not shard ${shardId}`);
      meta = {
        applied: Number(raw.readBigUInt64BE(5)),
        lastCommit: raw.readBigUInt64BE(13),
        closed: raw.readBigUInt64BE(21),
        hash: StateHash.from(raw.subarray(29)),
      };
    }
    const m = new Materializer(store, shardId, options, meta);
    const gc = store.db.getMany([GC_THRESHOLD_KEY])[0];
    if (gc !== undefined && gc !== null) m.gcFloor = gc.readBigUInt64BE(0);
    m.loadPrepared();
    m.loadStaged();
    return m;
  }

  /** Raft index of the last applied entry (0 = none). */
  get appliedIndex(): number {
    return this.applied;
  }

  /** Largest commit timestamp applied so far: every later commit lands above it. */
  get lastCommitTs(): Timestamp {
    return this.lastCommit;
  }

  /** No later entry commits at or below this (follower reads at or below it are complete). */
  get closedTs(): Timestamp {
    return this.closed;
  }

  /**
   * Where the leader's next gc span should end: the user key about `maxEntries` stored entries
   * after `from` (empty: the start of the data), at a key boundary so one key's versions are
   * never split over two gc entries; undefined when fewer entries remain (the span runs to the
   * end).
   */
  gcBoundary(from: Buffer, maxEntries: number): Buffer | undefined {
    const it = this.store.db.iterator({ gte: from.length === 0 ? Buffer.from([NS_DATA]) : dataLowerBound(from), lt: Buffer.from([NS_DATA + 1]), values: false, fillCache: false });
    try {
      let seen = 0;
      for (;;) {
        const { rows, finished } = it.next(Math.min(1024, Math.max(1, maxEntries - seen + 1)));
        for (let i = 0; i < rows.length; i += 2) {
          if (++seen <= maxEntries) continue;
          const k = rows[i];
          const userKey = userKeyOf(k, prefixLength(k));
          // Never return `from` itself (a key with more versions than maxEntries): move past it.
          return userKey.equals(from) ? this.gcBoundary(Buffer.concat([from, Buffer.from([0])]), maxEntries) : userKey;
        }
        if (finished || rows.length === 0) return undefined;
      }
    } finally {
      it.close();
    }
  }

  /** Reads below this timestamp are refused (72000): gc entries have collected what they need. */
  get gcThreshold(): Timestamp {
    return this.gcFloor;
  }

  /** Transactions prepared on this shard and not yet resolved (hex ids). */
  get preparedTxns(): readonly string[] {
    return [...this.prepared.keys()];
  }

  /** Staged transactions not yet fully resolved (for the leader's sweep). */
  stagedTransactions(): readonly StagedTxnInfo[] {
    return [...this.stagedTxns.values()].map((t) => ({ txnId: t.txnId, state: t.state, lastIndex: t.lastIndex, chunks: t.chunks }));
  }

  /**
   * What this shard knows of a transaction: prepared or staged here and undecided, decided
   * (from its record or its resolved marker), or unknown. A transaction's primary shard is the
   * one whose answer is authoritative: its `resolve` entry is the decision.
   */
  txnStatus(txnId: Buffer): TxnStatus {
    const id = hex(txnId);
    const prep = this.prepared.get(id);
    if (prep !== undefined) return { kind: 'pending', ts: prep.intentTs, primary: prep.primary };
    const st = this.stagedTxns.get(id);
    if (st !== undefined) {
      if (st.state === 'committed') return { kind: 'committed', ts: st.commitTs };
      if (st.state === 'aborted') return { kind: 'aborted' };
      return { kind: 'pending', ts: st.readTs + 1n };
    }
    const done = this.store.db.getMany([resolvedKey(txnId)])[0];
    if (done !== undefined) return done[0] === 1 ? { kind: 'committed', ts: done.readBigUInt64BE(1) } : { kind: 'aborted' };
    return { kind: 'unknown' };
  }

  /**
   * Read refresh check: the conflict that stops a transaction that read `reads` at `fromTs` from
   * moving its read timestamp up (a newer committed version, another transaction's intent), or
   * undefined. The caller serves it like a read at the new timestamp.
   */
  checkReads(txnId: Buffer, fromTs: Timestamp, reads: readonly ReadSpan[]): { readonly detail: string; readonly intent?: IntentRef } | undefined {
    const v = this.validate(hex(txnId), fromTs, reads, [], new Map());
    return v === undefined ? undefined : { detail: v.detail ?? v.message, ...(v.intent === undefined ? {} : { intent: v.intent }) };
  }

  /**
   * The keys a transaction has written on this shard and not settled yet: its 2PC intents (while
   * prepared here) and its staged chunks. Change capture (apps/cdc) reads them before the entry
   * that decides the transaction applies, because apply forgets the prepared key list.
   */
  pendingTxnKeys(txnId: Buffer): { readonly prepared: boolean; readonly staged: StagedState | undefined; readonly keys: readonly Buffer[] } {
    const id = hex(txnId);
    const prep = this.prepared.get(id);
    const keys: Buffer[] = prep === undefined ? [] : prep.keys.map((k) => Buffer.from(k));
    const staged = this.stagedTxns.get(id)?.state;
    if (staged !== undefined) {
      const [gte, lt] = chunkRange(txnId);
      const it = this.store.db.iterator({ gte, lt });
      try {
        for (;;) {
          const { rows, finished } = it.next(64);
          for (let i = 1; i < rows.length; i += 2) keys.push(...decodeChunk(rows[i]));
          if (finished || rows.length === 0) break;
        }
      } finally {
        it.close();
      }
    }
    return { prepared: prep !== undefined, staged, keys };
  }

  /** Timestamp of the newest committed version of `key` (a tombstone counts), 0 if none. */
  newestVersionTs(key: Buffer): Timestamp {
    return this.probe(key).newestTs ?? 0n;
  }

  /**
   * The outcome of the entry applied at `index`, from the outcome journal; undefined for Raft
   * no-op/conf-change entries, entries applied before the journal existed, and pruned ones.
   */
  outcomeAt(index: number): OutcomeSummary | undefined {
    const raw = this.store.db.getMany([outcomeKey(index)])[0];
    return raw === undefined ? undefined : decodeOutcome(raw);
  }

  /**
   * Drops journaled outcomes at or below `upTo` (called when the Raft log is compacted there:
   * an entry no longer in the log cannot be mirrored, so neither is its outcome needed).
   * Returns how many were dropped. `from`: where the caller knows the journal starts (what it
   * pruned before), so the scan does not walk the tombstones of earlier prunes.
   */
  pruneOutcomes(upTo: number, from = 0): number {
    if (upTo < from) return 0;
    const it = this.store.db.iterator({ ...outcomeRange(upTo, from), fillCache: false });
    const batch = new RocksBatch();
    try {
      for (;;) {
        const { rows, finished } = it.next(1024);
        for (let i = 0; i < rows.length; i += 2) batch.del(rows[i]);
        if (finished || rows.length === 0) break;
      }
    } finally {
      it.close();
    }
    const n = batch.count;
    if (n > 0) this.store.db.write(batch, false);
    return n;
  }

  /** The incrementally maintained state hash (32 bytes), as persisted with the applied index. */
  stateHash(): Buffer {
    return this.hash.bytes();
  }

  /** Recomputes the state hash from a full scan and compares it with the maintained one. */
  verifyStateHash(): { ok: boolean; stored: Buffer; recomputed: Buffer } {
    const stored = this.hash.bytes();
    const recomputed = Materializer.recomputeStateHash(this.store);
    return { ok: stored.equals(recomputed), stored, recomputed };
  }

  /** The state hash of whatever `store` holds, from a full scan. */
  static recomputeStateHash(store: MvccStore): Buffer {
    const h = new StateHash();
    const ranges: [Buffer, Buffer][] = [
      [Buffer.from([NS_DATA]), Buffer.from([NS_DATA + 1])],
      [localKey(HASHED_PREFIX), localKey(Buffer.from([HASHED_PREFIX.charCodeAt(0), HASHED_PREFIX.charCodeAt(1) + 1]))],
    ];
    for (const [gte, lt] of ranges) {
      const it = store.db.iterator({ gte, lt, fillCache: false });
      try {
        for (;;) {
          const { rows, finished } = it.next(1024);
          for (let i = 0; i < rows.length; i += 2) h.addEntry(rows[i], rows[i + 1]);
          if (finished || rows.length === 0) break;
        }
      } finally {
        it.close();
      }
    }
    return h.bytes();
  }

  /**
   * Applies the entry at `index`. Synchronous. Returns 'already-applied' (and does nothing) for
   * an index at or below the applied index; throws ApplyOrderError for a gap, and
   * CorruptEntryError for undecodable bytes, after which the materializer applies nothing more.
   */
  apply(index: number, data: Uint8Array): ApplyOutcome | 'already-applied' {
    if (this.stopped !== undefined) throw new MaterializerStoppedError(this.shardId, this.stopped);
    if (index <= this.applied) return 'already-applied';
    if (index !== this.applied + 1) throw new ApplyOrderError(this.shardId, index, this.applied);
    let entry: LogEntry;
    try {
      entry = decodeEntry(data);
    } catch (err) {
      if (err instanceof EntryDecodeError) {
        const e = new CorruptEntryError(this.shardId, index, err);
        this.stopped = e;
        throw e;
      }
      throw err;
    }
    return this.applyDecoded(index, entry);
  }

  /** Raft no-op and configuration-change entries: advance the applied index, nothing else. */
  applyEmpty(index: number): void {
    if (this.stopped !== undefined) throw new MaterializerStoppedError(this.shardId, this.stopped);
    if (index <= this.applied) return;
    if (index !== this.applied + 1) throw new ApplyOrderError(this.shardId, index, this.applied);
    this.batch.clear();
    this.persist(index, new Staged(this.batch, this.hash.clone()), this.lastCommit, this.closed);
  }

  /** Applies an already decoded entry (what apply() does after decoding). */
  applyDecoded(index: number, entry: LogEntry): ApplyOutcome {
    if (this.stopped !== undefined) throw new MaterializerStoppedError(this.shardId, this.stopped);
    if (index !== this.applied + 1) throw new ApplyOrderError(this.shardId, index, this.applied);
    this.batch.clear();
    const staged = new Staged(this.batch, this.hash.clone());
    let lastCommit = this.lastCommit;
    let closed = this.closed;
    this.stagedChange = undefined;
    this.gcChange = undefined;
    const preparedBefore = entry.type === 'prepare' || entry.type === 'resolve' ? new Map(this.prepared) : undefined;
    let outcome: ApplyOutcome;
    try {
      switch (entry.type) {
        case 'commit': {
          const r = this.applyCommit(entry, staged, index);
          outcome = r;
          if (r.status === 'committed') lastCommit = r.commitTs;
          break;
        }
        case 'prepare':
          outcome = this.applyPrepare(entry, staged, index);
          break;
        case 'resolve': {
          const r = this.applyResolve(entry, staged, index);
          outcome = r;
          if (r.status === 'committed' && r.commitTs > lastCommit) lastCommit = r.commitTs;
          break;
        }
        case 'closed-timestamp':
          if (entry.closedTs > closed) closed = entry.closedTs;
          outcome = APPLIED;
          break;
        case 'schema-change':
          outcome = this.applySchemaChange(entry, staged);
          break;
        case 'split':
        case 'merge':
          outcome = { status: 'aborted', sqlstate: FEATURE_NOT_SUPPORTED, message: `${entry.type} entries are not supported yet` };
          break;
        case 'gc':
          outcome = this.applyGc(entry, staged);
          break;
        case 'stage':
          outcome = this.applyStage(entry, staged, index);
          break;
        case 'resolve-staged':
          outcome = this.applyResolveStaged(entry, staged, index);
          break;
        case 'forget':
          outcome = this.applyForget(entry, staged);
          break;
      }
      // The outcome journal (outcome-journal.ts): unhashed, in the same batch as the effects.
      staged.batch.put(outcomeKey(index), encodeOutcome(outcome));
      this.persist(index, staged, lastCommit, closed);
      // (Set by the apply methods above; TypeScript cannot see that through the calls.)
      const gcChange = this.gcChange as Timestamp | undefined;
      if (gcChange !== undefined) this.gcFloor = gcChange;
      const change = this.stagedChange as Materializer['stagedChange'];
      if (change !== undefined) {
        if (change.txn === undefined) this.stagedTxns.delete(change.id);
        else this.stagedTxns.set(change.id, change.txn);
      }
    } catch (err) {
      // Staged-but-unwritten effects are dropped; in-memory txn state goes back to what is on disk.
      if (preparedBefore !== undefined) {
        this.prepared.clear();
        for (const [k, v] of preparedBefore) this.prepared.set(k, v);
      }
      this.stopped = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
    return outcome;
  }

  private persist(index: number, staged: Staged, lastCommit: Timestamp, closed: Timestamp): void {
    const hash = staged.hash.bytes();
    const meta = Buffer.allocUnsafe(META_BYTES);
    meta[0] = META_FORMAT;
    meta.writeUInt32BE(this.shardId, 1);
    meta.writeBigUInt64BE(BigInt(index), 5);
    meta.writeBigUInt64BE(lastCommit, 13);
    meta.writeBigUInt64BE(closed, 21);
    hash.copy(meta, 29);
    staged.batch.put(META_KEY, meta);
    this.store.db.write(staged.batch, this.options.sync ?? false);
    this.applied = index;
    this.lastCommit = lastCommit;
    this.closed = closed;
    this.hash = staged.hash;
  }

  // -------------------------------------------------------------------------------------------
  // Reads (ShardKv shapes)

  /** The visible version of `key` at `ts`; throws IntentConflictError on another txn's intent. */
  read(key: Buffer, ts: Timestamp, options: ReadRequestOptions = {}): KvRow | undefined {
    if (ts < this.gcFloor) throw new BelowGcThresholdError(this.shardId, ts, this.gcFloor);
    const r = this.store.get(key, ts, this.readOptions(options));
    if (r.kind === 'intent-conflict') throw new IntentConflictError(this.shardId, r.intents);
    if (r.kind === 'uncertain') throw new UncertainReadError(this.shardId, ts, r.ts);
    return r.kind === 'found' ? { key, value: r.value, ts: r.ts } : undefined;
  }

  /** Keys in [start, end) visible at ts; throws IntentConflictError listing the intents met. */
  scan(start: Buffer, end: Buffer, ts: Timestamp, options: ScanRequest = {}): ScanPage {
    if (ts < this.gcFloor) throw new BelowGcThresholdError(this.shardId, ts, this.gcFloor);
    const filter = options.filter === undefined ? undefined : options.filter.program.length === 0 ? KEEP_ALL : this.options.scanFilters?.(options.filter);
    // A filter this shard cannot evaluate is ignored (the reader filters anyway), and then it
    // must not count either: the reader counts the rows it gets.
    const countOnly = filter !== undefined && options.filter?.countOnly === true && options.reverse !== true;
    const scan = (): ScanPage => {
      const keep = filter === undefined || filter === KEEP_ALL ? undefined : (v: Buffer): boolean => filter.keep(v);
      const r = this.store.scan(start, end, ts, { limit: options.limit, reverse: options.reverse, keep, countOnly, ...this.readOptions(options) });
      if (r.kind === 'intent-conflict') throw new IntentConflictError(this.shardId, r.intents);
      if (r.kind === 'uncertain') throw new UncertainReadError(this.shardId, ts, r.ts);
      // A row whose filter failed to evaluate must reach the reader, which raises the error:
      // without a count or partial aggregate, the reader scans the rows itself.
      const aggregates = filter?.partial !== undefined;
      if ((countOnly || aggregates) && filter.unevaluated() > 0) return { rows: [] };
      const partial = aggregates ? filter.partial?.() : undefined;
      const page: ScanPage = partial !== undefined ? { rows: [], partial } : r.count === undefined ? { rows: r.rows } : { rows: r.rows, count: r.count };
      return r.resumeKey === undefined ? page : { ...page, resumeKey: r.resumeKey };
    };
    return filter === undefined ? scan() : filter.around(scan);
  }

  private readOptions(options: ReadRequestOptions): ReadOptions {
    const txnId = options.txnId === undefined ? undefined : hex(options.txnId);
    const intentStatus = this.stagedTxns.size === 0 ? undefined : this.intentVerdict;
    const uncertaintyLimit = options.uncertaintyLimit;
    return { ...(txnId === undefined ? {} : { txnId }), ...(intentStatus === undefined ? {} : { intentStatus }), ...(uncertaintyLimit === undefined ? {} : { uncertaintyLimit }) };
  }

  /**
   * How reads treat a staged transaction's intent: a committed one is a version at its commit
   * timestamp; an open or aborted one is read past. An open transaction may do that safely
   * because its commit will be stamped above every read served so far (the commit floor), so
   * no read already answered could have seen it. Undefined for 2PC intents: those conflict.
   */
  private readonly intentVerdict = (txnId: string): IntentVerdict | undefined => {
    const t = this.stagedTxns.get(txnId);
    if (t === undefined || t.state === 'prepared') return undefined;
    return t.state === 'committed' ? { committedAt: t.commitTs } : 'ignore';
  };

  /**
   * How an intent reads in the committed state as applied so far (a consistent copy of the shard
   * at appliedIndex, e.g. CDC's initial snapshot): a staged transaction committed here reads as a
   * version at its commit timestamp; any other intent — open, prepared (2PC) or aborted — is not
   * committed at this index and is read past. Unlike reads served to transactions, a prepared
   * intent is not a conflict here: whatever its fate, it is decided by a later entry.
   */
  readonly committedIntentVerdict = (txnId: string): IntentVerdict => {
    const t = this.stagedTxns.get(txnId);
    return t !== undefined && t.state === 'committed' ? { committedAt: t.commitTs } : 'ignore';
  };

  // -------------------------------------------------------------------------------------------
  // Entry types

  /**
   * 1PC commit. For a staged transaction this is also the decision: its remaining writes become
   * versions here, its intents read as versions at commitTs from now on, and resolve-staged
   * entries turn them into versions chunk by chunk.
   */
  private applyCommit(e: CommitEntry, staged: Staged, index: number): ApplyOutcome {
    const txn = hex(e.txnId);
    const rec = this.stagedTxns.get(txn);
    // A re-proposed commit of a decided staged transaction answers with the decision.
    if (rec?.state === 'committed') return { status: 'committed', commitTs: rec.commitTs };
    if (rec?.state === 'aborted') return conflict(`transaction ${txn} was aborted before its commit arrived`);
    if (rec?.state === 'prepared') return conflict(`transaction ${txn} is prepared for a multi-shard commit; only its decision can end it`);
    const probes = new Map<string, Probe>();
    const verdict = this.validate(txn, e.readTs, e.reads, e.writes, probes);
    if (verdict !== undefined) {
      if (rec !== undefined) this.putStaged(staged, rec, { ...rec, state: 'aborted', lastIndex: index });
      return verdict;
    }
    const commitTs = maxTs(e.minCommitTs, this.lastCommit + 1n, e.readTs + 1n, this.closed + 1n);
    if (commitTs > MAX_TIMESTAMP) return { status: 'aborted', sqlstate: INTERNAL_ERROR, message: `commit timestamp ${commitTs} is out of range` };
    this.settleForeignIntents(txn, probes, staged);
    // commitTs is above every version in the store (lastCommitTs covers resolves too), so each
    // version key written here is new: nothing to remove from the hash.
    for (const [k, op] of lastWriteWins(e.writes)) {
      const p = probes.get(k) as Probe;
      // A key this transaction staged earlier: this later write replaces the intent.
      if (p.intentRaw !== undefined && decodeIntent(p.intentRaw).txnId === txn) staged.del(intentKey(p.prefix), p.intentRaw);
      staged.put(versionKey(p.prefix, commitTs), op.kind === 'put' ? encodeVersion(op.value) : TOMBSTONE);
    }
    if (rec !== undefined) this.putStaged(staged, rec, { ...rec, state: 'committed', commitTs, lastIndex: index });
    return { status: 'committed', commitTs };
  }

  /** One chunk of a large transaction's writes, validated and laid as intents. */
  private applyStage(e: StageEntry, staged: Staged, index: number): ApplyOutcome {
    const txn = hex(e.txnId);
    const rec = this.stagedTxns.get(txn);
    if (rec === undefined) {
      if (this.store.db.getMany([resolvedKey(e.txnId)])[0] !== undefined) {
        return conflict(`transaction ${txn} was already resolved on shard ${this.shardId}; a late chunk lays no intents`);
      }
      if (e.seq !== 0) return conflict(`chunk ${e.seq} of transaction ${txn} arrived without chunk 0`);
    } else {
      if (rec.state !== 'pending') return conflict(`transaction ${txn} is already ${rec.state}`);
      if (e.seq < rec.nextSeq) return APPLIED; // re-delivered chunk
      if (e.seq > rec.nextSeq) {
        this.putStaged(staged, rec, { ...rec, state: 'aborted', lastIndex: index });
        return conflict(`chunk ${e.seq} of transaction ${txn} arrived before chunk ${rec.nextSeq}`);
      }
    }
    const probes = new Map<string, Probe>();
    const verdict = this.validate(txn, e.readTs, [], e.writes, probes);
    if (verdict !== undefined) {
      if (rec !== undefined) this.putStaged(staged, rec, { ...rec, state: 'aborted', lastIndex: index });
      return verdict;
    }
    const intentTs = maxTs(e.readTs + 1n, this.lastCommit + 1n, this.closed + 1n);
    if (intentTs > MAX_TIMESTAMP) return { status: 'aborted', sqlstate: INTERNAL_ERROR, message: `intent timestamp ${intentTs} is out of range` };
    this.settleForeignIntents(txn, probes, staged);
    const keys: Buffer[] = [];
    for (const [k, op] of lastWriteWins(e.writes)) {
      const p = probes.get(k) as Probe;
      const own = p.intentRaw !== undefined && decodeIntent(p.intentRaw).txnId === txn ? p.intentRaw : undefined;
      staged.put(intentKey(p.prefix), encodeIntent({ txnId: txn, ts: intentTs, value: op.kind === 'put' ? op.value : null }), own);
      keys.push(op.key);
    }
    staged.put(chunkKey(e.txnId, e.seq), encodeChunk(keys));
    const next: StagedTxn = rec === undefined
      ? { txnId: Buffer.from(e.txnId), state: 'pending', readTs: e.readTs, commitTs: 0n, nextSeq: 1, chunks: 1, lastIndex: index }
      : { ...rec, nextSeq: e.seq + 1, chunks: rec.chunks + 1, lastIndex: index };
    this.putStaged(staged, rec, next);
    return { status: 'applied', ts: intentTs };
  }

  /** Settles the lowest remaining chunk of a decided staged transaction (aborting it first if asked). */
  private applyResolveStaged(e: ResolveStagedEntry, staged: Staged, index: number): ApplyOutcome {
    const txn = hex(e.txnId);
    const rec = this.stagedTxns.get(txn);
    if (rec === undefined) return APPLIED;
    if ((rec.state === 'pending' && !e.abort) || rec.state === 'prepared') return APPLIED;
    const next: StagedTxn = rec.state === 'pending' ? { ...rec, state: 'aborted', lastIndex: index } : { ...rec };
    const [gte, lt] = chunkRange(e.txnId);
    const it = this.store.db.iterator({ gte, lt });
    let chunk: Buffer[];
    try {
      chunk = it.next(1).rows.map((b) => Buffer.from(b));
    } finally {
      it.close();
    }
    if (chunk.length === 2) {
      for (const p of this.intentsOf(decodeChunk(chunk[1]))) {
        if (p.intentRaw === undefined) continue;
        const intent = decodeIntent(p.intentRaw);
        if (intent.txnId !== txn) continue; // replaced by a later write of this txn, or settled by another writer
        staged.del(intentKey(p.prefix), p.intentRaw);
        if (next.state === 'committed') staged.put(versionKey(p.prefix, next.commitTs), versionOf(intent.value));
      }
      staged.del(chunk[0], chunk[1]);
      next.chunks--;
    } else {
      next.chunks = 0;
    }
    if (next.chunks > 0) {
      this.putStaged(staged, rec, next);
      return APPLIED;
    }
    // Last chunk: the record gives way to a resolved marker (which also stops late chunks).
    staged.del(metaKey(e.txnId), encodeMeta(rec));
    const doneKey = resolvedKey(e.txnId);
    const committed = next.state === 'committed';
    const marker = resolvedMarker(committed, committed ? next.commitTs : this.lastCommit);
    staged.put(doneKey, marker, this.store.db.getMany([doneKey])[0]);
    this.stagedChange = { id: txn, txn: undefined };
    return APPLIED;
  }

  /** Stages the new record of a staged transaction; the in-memory map follows once it is written. */
  private putStaged(staged: Staged, prior: StagedTxn | undefined, next: StagedTxn): void {
    staged.put(metaKey(next.txnId), encodeMeta(next), prior === undefined ? undefined : encodeMeta(prior));
    this.stagedChange = { id: hex(next.txnId), txn: next };
  }

  /**
   * Keys about to be written that still carry a decided staged transaction's intent: settle it
   * first (a version at its commit ts, or nothing if it aborted), so the new write stacks above
   * it and the later chunk resolution finds the intent gone.
   */
  private settleForeignIntents(txn: string, probes: ReadonlyMap<string, Probe>, staged: Staged): void {
    for (const p of probes.values()) {
      if (p.intentRaw === undefined) continue;
      const intent = decodeIntent(p.intentRaw);
      if (intent.txnId === txn) continue;
      const owner = this.stagedTxns.get(intent.txnId);
      if (owner === undefined || owner.state === 'pending') continue; // validate() refused these
      staged.del(intentKey(p.prefix), p.intentRaw);
      if (owner.state === 'committed') staged.put(versionKey(p.prefix, owner.commitTs), versionOf(intent.value));
    }
  }

  /**
   * 2PC phase one on this shard: validate, then lay the writes as intents naming the primary.
   * A transaction that staged chunks here first (a large multi-shard transaction) becomes
   * 'prepared': its staged intents now wait for the decision like the new ones.
   */
  private applyPrepare(e: PrepareEntry, staged: Staged, index: number): ApplyOutcome {
    const txn = hex(e.txnId);
    const existing = this.prepared.get(txn);
    // A re-proposed prepare (retry after an ambiguous failure) is idempotent.
    if (existing !== undefined) return { status: 'applied', ts: existing.intentTs };
    if (this.store.db.getMany([resolvedKey(e.txnId)])[0] !== undefined) {
      return conflict(`transaction ${txn} was already resolved on shard ${this.shardId}; a late prepare lays no intents`);
    }
    const rec = this.stagedTxns.get(txn);
    if (rec !== undefined && rec.state !== 'pending') return conflict(`transaction ${txn} is already ${rec.state} on shard ${this.shardId}`);
    const probes = new Map<string, Probe>();
    const verdict = this.validate(txn, e.readTs, e.reads, e.writes, probes);
    if (verdict !== undefined) return verdict;
    this.settleForeignIntents(txn, probes, staged);
    const intentTs = maxTs(e.minCommitTs, this.lastCommit + 1n, e.readTs + 1n, this.closed + 1n);
    if (intentTs > MAX_TIMESTAMP) return { status: 'aborted', sqlstate: INTERNAL_ERROR, message: `prepare timestamp ${intentTs} is out of range` };
    const writes = lastWriteWins(e.writes);
    const keys: Buffer[] = [];
    for (const [k, op] of writes) {
      keys.push(op.key);
      const p = probes.get(k) as Probe;
      // A key this transaction staged earlier: the new intent replaces the staged one.
      const own = p.intentRaw !== undefined && decodeIntent(p.intentRaw).txnId === txn ? p.intentRaw : undefined;
      staged.put(intentKey(p.prefix), encodeIntent({ txnId: txn, ts: intentTs, value: op.kind === 'put' ? op.value : null, primary: e.primaryKey }), own);
    }
    if (rec !== undefined) this.putStaged(staged, rec, { ...rec, state: 'prepared', lastIndex: index });
    const rawKey = localKey(Buffer.concat([PREPARED_PREFIX, e.txnId]));
    const rawValue = encodeEntry({
      type: 'prepare', txnId: e.txnId, readTs: e.readTs, minCommitTs: intentTs, primaryKey: e.primaryKey, reads: e.reads,
      writes: keys.map((key) => ({ kind: 'delete', key })),
    });
    staged.put(rawKey, rawValue);
    this.prepared.set(txn, { rawKey, rawValue, intentTs, primary: e.primaryKey, keys, reads: e.reads });
    return { status: 'applied', ts: intentTs };
  }

  /**
   * 2PC phase two. On the primary's shard the first resolve to apply IS the decision: a late
   * one (the coordinator's commit after a recoverer's abort, or the other way round) changes
   * nothing and answers with the decision already taken. A staged record follows the decision
   * (its chunks are then settled by resolve-staged entries).
   */
  private applyResolve(e: ResolveEntry, staged: Staged, index: number): ApplyOutcome {
    const txn = hex(e.txnId);
    const st = this.stagedTxns.get(txn);
    if (st !== undefined && (st.state === 'pending' || st.state === 'prepared')) {
      if (e.decision.kind === 'commit' && st.state === 'pending') {
        return { status: 'aborted', sqlstate: INTERNAL_ERROR, message: `transaction ${txn} cannot commit on shard ${this.shardId}: it was never prepared here` };
      }
      const decided: StagedTxn = e.decision.kind === 'commit'
        ? { ...st, state: 'committed', commitTs: e.decision.commitTs, lastIndex: index }
        : { ...st, state: 'aborted', lastIndex: index };
      this.putStaged(staged, st, decided);
    } else if (st !== undefined) {
      // Already decided here: answer with that decision.
      return st.state === 'committed' ? { status: 'committed', commitTs: st.commitTs } : APPLIED;
    }
    const rec = this.prepared.get(txn);
    const doneKey = resolvedKey(e.txnId);
    const doneBefore = this.store.db.getMany([doneKey])[0];
    // The marker remembers the decision so a late duplicate prepare cannot lay orphan intents;
    // its timestamp lets gc entries drop it once it is older than the gc threshold.
    const marker = resolvedMarker(e.decision.kind === 'commit', e.decision.kind === 'commit' ? e.decision.commitTs : this.lastCommit);
    if (rec === undefined) {
      // Nothing prepared here (the prepare aborted, or this is a re-delivered resolve).
      if (doneBefore === undefined) staged.put(doneKey, marker);
      // Already decided here: answer with THAT decision, whatever this resolve asked for. A
      // recoverer pushing an abort onto a transaction that committed must learn it committed
      // (answering "applied" made it resolve the other shards as aborted: money vanished in
      // the multi-shard simulator, seed 283).
      return doneBefore !== undefined && doneBefore[0] === 1 ? { status: 'committed', commitTs: doneBefore.readBigUInt64BE(1) } : APPLIED;
    }
    if (e.decision.kind === 'commit' && e.decision.commitTs < rec.intentTs) {
      return {
        status: 'aborted', sqlstate: INTERNAL_ERROR,
        message: `resolve of transaction ${txn} commits at ${e.decision.commitTs}, below its prepare timestamp ${rec.intentTs} on shard ${this.shardId}`,
      };
    }
    for (const p of this.intentsOf(rec.keys)) {
      if (p.intentRaw === undefined) continue;
      const intent = decodeIntent(p.intentRaw);
      if (intent.txnId !== txn) continue;
      staged.del(intentKey(p.prefix), p.intentRaw);
      if (e.decision.kind === 'commit') {
        staged.put(versionKey(p.prefix, e.decision.commitTs), versionOf(intent.value));
      }
    }
    staged.del(rec.rawKey, rec.rawValue);
    staged.put(doneKey, marker, doneBefore);
    this.prepared.delete(txn);
    return e.decision.kind === 'commit' ? { status: 'committed', commitTs: e.decision.commitTs } : APPLIED;
  }

  /**
   * Drops the resolved markers of transactions every participant has settled (decision 0054).
   * A transaction still prepared or staged here keeps its marker: the entry may have raced a
   * re-delivered prepare, and the marker is what its recovery reads.
   */
  private applyForget(e: ForgetEntry, staged: Staged): ApplyOutcome {
    const keys: Buffer[] = [];
    for (const id of e.txnIds) {
      const txn = hex(id);
      if (this.prepared.has(txn) || this.stagedTxns.has(txn)) continue;
      keys.push(resolvedKey(id));
    }
    if (keys.length === 0) return APPLIED;
    const markers = this.store.db.getMany(keys);
    const seen = new Set<string>();
    for (let i = 0; i < keys.length; i++) {
      const marker = markers[i];
      const k = keys[i].toString('latin1');
      if (marker === undefined || seen.has(k)) continue;
      seen.add(k);
      staged.del(keys[i], marker);
    }
    return APPLIED;
  }

  /** How many resolved-transaction markers this shard holds (diagnostics and tests; walks them all). */
  resolvedMarkerCount(): number {
    const it = this.store.db.iterator({ ...resolvedMarkerBounds(), values: false, fillCache: false });
    let n = 0;
    try {
      for (;;) {
        const { rows, finished } = it.next(1024);
        n += rows.length / 2;
        if (finished || rows.length === 0) return n;
      }
    } finally {
      it.close();
    }
  }

  private applySchemaChange(e: SchemaChangeEntry, staged: Staged): ApplyOutcome {
    const rawKey = localKey(Buffer.concat([SCHEMA_PREFIX, Buffer.from(String(e.descriptorId))]));
    const value = Buffer.allocUnsafe(8);
    value.writeBigUInt64BE(BigInt(e.version), 0);
    const prior = this.store.db.getMany([rawKey])[0];
    if (prior === undefined || !prior.equals(value)) staged.put(rawKey, value, prior);
    return APPLIED;
  }

  /**
   * Per key, versions at or below the threshold go except the newest of them (what a read at the
   * threshold sees), which goes too if it is a tombstone. Intents stay. Data of tables and
   * indexes dropped at or below the threshold goes entirely (versions; intents stay), and so do
   * their markers once nothing of the data is left here. Abort markers of resolved transactions
   * at or below the threshold go as well (commit markers wait for `forget`: see below). The entry's span bounds the data visited; the threshold
   * becomes the shard's gc threshold (never lowered).
   */
  private applyGc(e: GcEntry, staged: Staged): ApplyOutcome {
    const threshold = e.threshold > this.gcFloor ? e.threshold : this.gcFloor;
    const dropped = this.droppedSpans(threshold);
    const lo = e.span === undefined ? Buffer.from([NS_DATA]) : dataLowerBound(e.span.start);
    const hi = e.span === undefined || e.span.end.length === 0 ? Buffer.from([NS_DATA + 1]) : dataLowerBound(e.span.end);
    // Markers are left to dropEmptiedMarkers (which removes all of a marker's versions).
    const markersLo = dataLowerBound(DROPPED_MARKER_SPAN.start);
    const markersHi = dataLowerBound(DROPPED_MARKER_SPAN.end);
    const it = this.store.db.iterator({ gte: lo, lt: hi, fillCache: false });
    try {
      let cur: Buffer | undefined;
      let seenVisible = false;
      let drop: RawSpan | undefined;
      let marker = false;
      for (;;) {
        const { rows, finished } = it.next(1024);
        for (let i = 0; i < rows.length; i += 2) {
          const k = rows[i];
          const plen = prefixLength(k);
          if (cur === undefined || cur.length !== plen || k.compare(cur, 0, plen, 0, plen) !== 0) {
            cur = k.subarray(0, plen);
            seenVisible = false;
            drop = dropped.find((d) => k.compare(d.lo) >= 0 && k.compare(d.hi) < 0);
            marker = k.compare(markersLo) >= 0 && k.compare(markersHi) < 0;
          }
          if (marker || isIntentSlot(k)) continue;
          if (drop === undefined) {
            if (timestampOf(k) > threshold) continue;
            if (!seenVisible) {
              seenVisible = true;
              if (decodeVersion(rows[i + 1]) !== null) continue;
            }
          }
          staged.del(k, rows[i + 1]);
        }
        if (finished || rows.length === 0) break;
      }
    } finally {
      it.close();
    }
    this.dropEmptiedMarkers(dropped, lo, hi, staged);
    const dit = this.store.db.iterator({ ...resolvedMarkerBounds(), fillCache: false });
    try {
      for (;;) {
        const { rows, finished } = dit.next(1024);
        for (let i = 0; i < rows.length; i += 2) {
          // Only abort markers go. A commit marker is how a recoverer that finds a participant's
          // intent learns the transaction committed; without it the primary's shard would take
          // an abort for it and the other participants would drop their half (money vanished
          // in bank-faults with a 5 s ttl). It goes with a `forget` entry, which the coordinator
          // proposes once every participant applied its resolve (decision 0054); an abort
          // marker's absence answers the same as the marker.
          if (rows[i + 1][0] !== 1 && rows[i + 1].readBigUInt64BE(1) <= threshold) staged.del(rows[i], rows[i + 1]);
        }
        if (finished || rows.length === 0) break;
      }
    } finally {
      dit.close();
    }
    if (threshold > this.gcFloor) {
      const raw = Buffer.allocUnsafe(8);
      raw.writeBigUInt64BE(threshold, 0);
      const prior = this.store.db.getMany([GC_THRESHOLD_KEY])[0];
      staged.put(GC_THRESHOLD_KEY, raw, prior ?? undefined);
      this.gcChange = threshold;
    }
    return APPLIED;
  }

  /**
   * Dropped tables and indexes whose data gc may delete: markers committed at or below the
   * threshold (a marker that is still an intent, or newer, waits). Bounds are raw store keys.
   */
  private droppedSpans(threshold: Timestamp): RawSpan[] {
    const out: RawSpan[] = [];
    const it = this.store.db.iterator({ gte: dataLowerBound(DROPPED_MARKER_SPAN.start), lt: dataLowerBound(DROPPED_MARKER_SPAN.end), fillCache: false });
    // (Few: one per dropped table or index not yet collected here.)
    try {
      let cur: Buffer | undefined;
      for (;;) {
        const { rows, finished } = it.next(256);
        for (let i = 0; i < rows.length; i += 2) {
          const k = rows[i];
          const plen = prefixLength(k);
          if (isIntentSlot(k)) continue;
          if (cur !== undefined && cur.length === plen && k.compare(cur, 0, plen, 0, plen) === 0) continue; // an older version
          cur = Buffer.from(k.subarray(0, plen));
          if (timestampOf(k) > threshold || decodeVersion(rows[i + 1]) === null) continue;
          const span = droppedSpanOf(userKeyOf(k, plen));
          out.push({ lo: dataLowerBound(span.start), hi: dataLowerBound(span.end), marker: cur });
        }
        if (finished || rows.length === 0) break;
      }
    } finally {
      it.close();
    }
    return out;
  }

  /**
   * A marker goes when the entry covers it and its dropped data is gone from this shard (what
   * lies in the entry's own span counts as gone: the entry deletes it). Markers sort before
   * user tables, so in the leader's key-order walk the pass that deletes a table's data meets
   * its marker first and keeps it; a later pass removes it. An intent left in the span keeps
   * the marker too: the intent is resolved later, then collected.
   */
  private dropEmptiedMarkers(dropped: readonly RawSpan[], lo: Buffer, hi: Buffer, staged: Staged): void {
    for (const d of dropped) {
      if (d.marker.compare(lo) < 0 || d.marker.compare(hi) >= 0) continue;
      const it = this.store.db.iterator({ gte: d.lo, lt: d.hi, values: false, fillCache: false });
      let left = false;
      try {
        for (;;) {
          const { rows, finished } = it.next(256);
          for (let i = 0; i < rows.length && !left; i += 2) {
            const k = rows[i];
            // What lies inside this entry's span was deleted by it, except intents.
            left = isIntentSlot(k) || k.compare(lo) < 0 || k.compare(hi) >= 0;
          }
          if (left || finished || rows.length === 0) break;
        }
      } finally {
        it.close();
      }
      if (left) continue;
      const mit = this.store.db.iterator({ gte: d.marker, lt: afterVersions(d.marker, d.marker.length), fillCache: false });
      try {
        for (;;) {
          const { rows, finished } = mit.next(64);
          for (let i = 0; i < rows.length; i += 2) if (!isIntentSlot(rows[i])) staged.del(rows[i], rows[i + 1]);
          if (finished || rows.length === 0) break;
        }
      } finally {
        mit.close();
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Validation

  /**
   * Serializability check of a transaction that read at readTs: nothing it read or writes may
   * have a committed version above readTs or another transaction's intent, and nothing it
   * writes may sit in the read set of a prepared transaction (those reads stay locked until
   * resolve). Returns the abort outcome, or undefined when the transaction may commit; then
   * checks ifAbsent writes in entry order (an earlier write of the same key in the entry counts).
   */
  private validate(
    txn: string, readTs: Timestamp, reads: readonly ReadSpan[], writes: readonly WriteOp[], probes: Map<string, Probe>,
  ): Aborted | undefined {
    // Below the gc threshold a conflicting version may be gone (a collected tombstone): the
    // transaction cannot be validated, so it restarts with a new read timestamp.
    if (readTs < this.gcFloor) return conflict(`read timestamp ${readTs} is below the gc threshold ${this.gcFloor} of shard ${this.shardId}`);
    const pointKeys: Buffer[] = [];
    for (const r of reads) if (r.kind === 'point') pointKeys.push(r.key);
    for (const op of writes) pointKeys.push(op.key);
    const found = this.probeMany(pointKeys);
    for (const r of reads) {
      const v = r.kind === 'point' ? this.checkKey(txn, readTs, r.key, found.get(r.key.toString('hex')) as Probe, false) : this.checkSpan(txn, readTs, r.start, r.end);
      if (v !== undefined) return v;
    }
    for (const op of writes) {
      const k = op.key.toString('hex');
      if (probes.has(k)) continue;
      const p = found.get(k) as Probe;
      probes.set(k, p);
      const v = this.checkKey(txn, readTs, op.key, p, true);
      if (v !== undefined) return v;
      for (const [other, rec] of this.prepared) {
        if (other !== txn && rec.reads.some((span) => inSpan(op.key, span))) {
          return conflict(`key ${k} is in the read set of prepared transaction ${other}`, { key: Buffer.from(op.key), txnId: other, ts: rec.intentTs, primary: rec.primary });
        }
      }
    }
    const exists = new Map<string, boolean>();
    for (const op of writes) {
      const k = op.key.toString('hex');
      if (op.kind === 'put' && op.ifAbsent !== undefined) {
        const p = probes.get(k);
        const present = exists.get(k) ?? (p !== undefined && this.hasValue(txn, p));
        if (present) {
          return {
            status: 'aborted', sqlstate: UNIQUE_VIOLATION,
            message: `duplicate key value violates unique constraint "${op.ifAbsent.constraint}"`,
            constraint: op.ifAbsent.constraint,
            ...(op.ifAbsent.detail === undefined ? {} : { detail: op.ifAbsent.detail }),
          };
        }
      }
      exists.set(k, op.kind === 'put');
    }
    return undefined;
  }

  /** Whether the key holds a value as `txn` sees it (its own intent, a committed staged intent, or the newest version). */
  private hasValue(txn: string, p: Probe): boolean {
    if (p.intentRaw !== undefined) {
      const intent = decodeIntent(p.intentRaw);
      if (intent.txnId === txn || this.stagedTxns.get(intent.txnId)?.state === 'committed') return intent.value !== null;
    }
    return p.newestTs !== undefined && p.newestIsValue;
  }

  /**
   * A read (or, with `write`, a written) key conflicts on another transaction's intent, except a
   * staged transaction's: a committed one counts as a version at its commit ts, an aborted one
   * not at all, and an open one only for writers (readers read past it, as reads do).
   */
  private checkKey(txn: string, readTs: Timestamp, key: Buffer, p: Probe, write: boolean): Aborted | undefined {
    if (p.intentRaw !== undefined) {
      const intent = decodeIntent(p.intentRaw);
      if (intent.txnId !== txn) {
        const v = this.intentConflict(intent.txnId, readTs, write);
        if (v !== undefined) return conflict(`key ${key.toString('hex')} ${v}`, intentRef(key, intent));
      }
    }
    if (p.newestTs !== undefined && p.newestTs > readTs) {
      return conflict(`key ${key.toString('hex')} has a version committed at ${p.newestTs}, after read timestamp ${readTs}`);
    }
    return undefined;
  }

  /** The values of the intent slots among `rows` (keys at even positions) from position `from` on. */
  private intentValuesFrom(rows: readonly Buffer[], from: number): Map<number, Buffer> {
    const at: number[] = [];
    for (let j = from; j < rows.length; j += 2) if (isIntentSlot(rows[j])) at.push(j);
    const values = this.store.db.getMany(at.map((j) => rows[j]));
    return new Map(at.map((j, n) => [j, values[n] as Buffer]));
  }

  private checkSpan(txn: string, readTs: Timestamp, start: Buffer, end: Buffer): Aborted | undefined {
    if (start.compare(end) >= 0) return undefined;
    // Per key only the intent slot and the newest version can conflict (versions sort newest
    // first). Entries come in batches (a table-sized span has a million keys: one native call
    // per key would stall apply for seconds); a key's older versions are stepped over, or
    // sought past when there are many (they may hide gc tombstones).
    const it = this.store.db.iterator({ gte: dataLowerBound(start), lt: dataUpperBound(end), values: false });
    try {
      let cur: Buffer | undefined;
      let decided = false; // the current key's newest version has been checked
      let stepped = 0;
      for (;;) {
        const { rows, finished } = it.next(512);
        let sought = false;
        let intents: Map<number, Buffer> | undefined; // this batch's intent values, fetched at the first
        for (let i = 0; i < rows.length; i += 2) {
          const k = rows[i];
          const plen = prefixLength(k);
          if (cur === undefined || cur.length !== plen || k.compare(cur, 0, plen, 0, plen) !== 0) {
            cur = k.subarray(0, plen);
            decided = false;
            stepped = 0;
          } else if (decided) {
            if (++stepped >= SPAN_SEEK_AFTER) {
              it.seek(afterVersions(k, plen));
              sought = true;
              break;
            }
            continue;
          }
          if (isIntentSlot(k)) {
            // Keys only: fetch the values of just the intents, those of the batch in one call (a
            // staged transaction's span read meets its own intent on every key it rewrote).
            intents ??= this.intentValuesFrom(rows, i);
            const intent = decodeIntent(intents.get(i) as Buffer);
            if (intent.txnId !== txn) {
              const v = this.intentConflict(intent.txnId, readTs, false);
              if (v !== undefined) return conflict(`span read: ${v}`, intentRef(userKeyOf(k), intent));
            }
            continue;
          }
          decided = true;
          const ts = timestampOf(k);
          if (ts > readTs) return conflict(`span read has a version committed at ${ts}, after read timestamp ${readTs}`);
        }
        if (!sought && (finished || rows.length === 0)) return undefined;
      }
    } finally {
      it.close();
    }
  }

  /** Why another transaction's intent conflicts with a transaction reading at readTs, if it does. */
  private intentConflict(owner: string, readTs: Timestamp, write: boolean): string | undefined {
    const t = this.stagedTxns.get(owner);
    if (t === undefined || t.state === 'prepared') return `has an intent of transaction ${owner}`;
    if (t.state === 'committed') return t.commitTs > readTs ? `has a version committed at ${t.commitTs}, after read timestamp ${readTs}` : undefined;
    if (t.state === 'pending' && write) return `has an intent of open transaction ${owner}`;
    return undefined;
  }

  /**
   * probe() for many keys (keyed by the user key's hex), with one iterator: creating a RocksDB
   * iterator costs more than a seek, and it was a quarter of a node's CPU while a bulk load
   * applied. Keys are visited in key order, and where a seek lands past a key's versions that
   * landing answers "nothing here" for every following key before it without another seek. A
   * run of deleted entries (a rolled-back load's intents) is thus skipped once per entry, not
   * once per key, which is what made per-key bounded iterators necessary before.
   */
  private probeMany(keys: readonly Buffer[]): Map<string, Probe> {
    const out = new Map<string, Probe>();
    if (keys.length === 1) {
      out.set(keys[0].toString('hex'), this.probe(keys[0]));
      return out;
    }
    const byPrefix = new Map<string, { hex: string; prefix: Buffer }>();
    for (const key of keys) {
      const hex = key.toString('hex');
      if (!byPrefix.has(hex)) byPrefix.set(hex, { hex, prefix: versionPrefix(key) });
    }
    const items = [...byPrefix.values()].sort((a, b) => a.prefix.compare(b.prefix));
    if (items.length === 0) return out;
    const last = items[items.length - 1].prefix;
    const it = this.store.db.iterator({ gte: items[0].prefix, lt: afterVersions(last, last.length) });
    try {
      const read = (): Buffer[] | null => {
        const { rows } = it.next(1);
        return rows.length === 0 ? null : rows;
      };
      // The first live entry at or after the position sought last; undefined: seek again.
      let head: Buffer[] | null | undefined;
      for (const { hex, prefix } of items) {
        if (head === undefined || (head !== null && head[0].compare(prefix) < 0)) {
          it.seek(prefix);
          head = read();
        }
        const end = afterVersions(prefix, prefix.length);
        if (head === null || head[0].compare(end) >= 0) {
          out.set(hex, { prefix, newestIsValue: false });
          continue;
        }
        let intentRaw: Buffer | undefined;
        if (isIntentSlot(head[0])) {
          intentRaw = head[1];
          head = read();
          if (head === null || head[0].compare(end) >= 0) {
            out.set(hex, { prefix, intentRaw, newestIsValue: false });
            continue;
          }
        }
        out.set(hex, { prefix, intentRaw, newestTs: timestampOf(head[0]), newestIsValue: decodeVersion(head[1]) !== null });
        // The iterator now sits among this key's older versions (maybe gc tombstones): seek.
        head = undefined;
      }
    } finally {
      it.close();
    }
    return out;
  }

  /**
   * The intent slot of each distinct key, as of the state before this entry. Resolution needs
   * only the intent, whose key is exact: one MultiGet instead of a seek and one or two iterator
   * steps per key (those were a third of a node's CPU in `pgbench -i`).
   */
  private intentsOf(keys: readonly Buffer[]): { prefix: Buffer; intentRaw: Buffer | undefined }[] {
    const seen = new Set<string>();
    const prefixes: Buffer[] = [];
    for (const key of keys) {
      const hex = key.toString('hex');
      if (seen.has(hex)) continue;
      seen.add(hex);
      prefixes.push(versionPrefix(key));
    }
    if (prefixes.length === 0) return [];
    const raws = this.store.db.getMany(prefixes.map(intentKey));
    return prefixes.map((prefix, i) => ({ prefix, intentRaw: raws[i] }));
  }

  /** The intent and newest version of `key` as of the state before this entry. */
  private probe(key: Buffer): Probe {
    const prefix = versionPrefix(key);
    const plen = prefix.length;
    // A bounded iterator per probe, not the store's shared tailing one: an unbounded seek has to
    // skip every deleted entry after the key, and a rolled-back bulk load leaves long runs of
    // deleted intents (a 20,000-row COPY after such a rollback took 48 s instead of 2 s).
    const it = this.store.db.iterator({ gte: prefix, lt: afterVersions(prefix, plen) });
    try {
      // One entry at a time: asking for two would make RocksDB skip every deleted (gc'd) older
      // version behind a key's only live one just to find a second entry we do not need.
      let { rows } = it.next(1);
      let intentRaw: Buffer | undefined;
      if (rows.length > 0 && isIntentSlot(rows[0])) {
        intentRaw = rows[1];
        ({ rows } = it.next(1));
      }
      if (rows.length === 0) return { prefix, intentRaw, newestIsValue: false };
      return { prefix, intentRaw, newestTs: timestampOf(rows[0]), newestIsValue: decodeVersion(rows[1]) !== null };
    } finally {
      it.close();
    }
  }

  private loadStaged(): void {
    const [gte, lt] = metaRange();
    const it = this.store.db.iterator({ gte, lt });
    const metas: [Buffer, Buffer][] = [];
    try {
      for (;;) {
        const { rows, finished } = it.next(256);
        for (let i = 0; i < rows.length; i += 2) metas.push([Buffer.from(rows[i]), Buffer.from(rows[i + 1])]);
        if (finished || rows.length === 0) break;
      }
    } finally {
      it.close();
    }
    for (const [key, raw] of metas) {
      const txnId = txnIdOfMetaKey(key);
      const [cgte, clt] = chunkRange(txnId);
      const cit = this.store.db.iterator({ gte: cgte, lt: clt, values: false });
      let chunks = 0;
      try {
        for (;;) {
          const { rows, finished } = cit.next(1024);
          chunks += rows.length / 2;
          if (finished || rows.length === 0) break;
        }
      } finally {
        cit.close();
      }
      this.stagedTxns.set(hex(txnId), decodeMeta(txnId, raw, chunks));
    }
  }

  private loadPrepared(): void {
    const lo = localKey(PREPARED_PREFIX);
    const hi = localKey(Buffer.concat([PREPARED_PREFIX.subarray(0, -1), Buffer.from([PREPARED_PREFIX[PREPARED_PREFIX.length - 1] + 1])]));
    const it = this.store.db.iterator({ gte: lo, lt: hi });
    try {
      for (;;) {
        const { rows, finished } = it.next(256);
        for (let i = 0; i < rows.length; i += 2) {
          const e = decodeEntry(rows[i + 1]);
          if (e.type !== 'prepare') throw new Error(`shard ${this.shardId}: prepared-transaction record ${rows[i].toString('hex')} is not a prepare`);
          this.prepared.set(hex(e.txnId), {
            rawKey: Buffer.from(rows[i]), rawValue: Buffer.from(rows[i + 1]), intentTs: e.minCommitTs, primary: Buffer.from(e.primaryKey),
            keys: e.writes.map((w) => Buffer.from(w.key)), reads: e.reads,
          });
        }
        if (finished || rows.length === 0) break;
      }
    } finally {
      it.close();
    }
  }
}

/** What a conflict reports about the intent behind it (so the proposer can resolve it). */
function intentRef(key: Buffer, intent: { txnId: string; ts: Timestamp; primary?: Buffer }): IntentRef {
  const k = Buffer.from(key);
  return intent.primary === undefined ? { key: k, txnId: intent.txnId, ts: intent.ts } : { key: k, txnId: intent.txnId, ts: intent.ts, primary: Buffer.from(intent.primary) };
}

/** The resolved-transaction marker's local key (decision + ts; stops late prepares and chunks). */
function resolvedKey(txnId: Buffer): Buffer {
  return localKey(Buffer.concat([RESOLVED_PREFIX, txnId]));
}

/** The raw store bounds of every resolved marker. */
function resolvedMarkerBounds(): { gte: Buffer; lt: Buffer } {
  const last = RESOLVED_PREFIX.length - 1;
  return { gte: localKey(RESOLVED_PREFIX), lt: localKey(Buffer.concat([RESOLVED_PREFIX.subarray(0, last), Buffer.from([RESOLVED_PREFIX[last] + 1])])) };
}

/** A resolved marker: u8 decision (1 commit, 0 abort), u64 ts (gc drops it once below the threshold). */
function resolvedMarker(committed: boolean, ts: Timestamp): Buffer {
  const m = Buffer.allocUnsafe(9);
  m[0] = committed ? 1 : 0;
  m.writeBigUInt64BE(ts, 1);
  return m;
}

/** The stored version for an intent's value (null: a deletion). */
function versionOf(value: Buffer | null): Buffer {
  return value === null ? TOMBSTONE : encodeVersion(value);
}

/** The last write of each key, keyed by hex (a later write of a key replaces an earlier one). */
function lastWriteWins(writes: readonly WriteOp[]): Map<string, WriteOp> {
  const out = new Map<string, WriteOp>();
  for (const op of writes) {
    const k = op.key.toString('hex');
    out.delete(k);
    out.set(k, op);
  }
  return out;
}
