// MVCC on RocksDB: versioned reads at a timestamp, tombstones, intents (provisional writes of
// 2PC transactions), and garbage collection. Layout: mvcc-keys.ts; values: mvcc-values.ts.
//
// Everything here is synchronous: RocksDB reads of hot data are block-cache hits, and an event
// loop hop per read would cost more than the read. Writes go through one WriteBatch per logical
// operation (MvccBatch), optionally together with local keys such as the applied index, so an
// apply is atomic.

import { RocksBatch, RocksDb, RocksIterator, RocksOptions } from './rocks';
import {
  Timestamp, afterVersions, checkTimestamp, dataLowerBound, dataUpperBound, intentKey, isIntentSlot, localKey,
  prefixLength, timestampOf, userKeyOf, versionKey, versionPrefix,
} from './mvcc-keys';
import { Intent, TOMBSTONE, decodeIntent, decodeVersion, encodeIntent, encodeVersion } from './mvcc-values';

/** 25 hours in microseconds: the PITR window. */
export const DEFAULT_GC_TTL: Timestamp = 25n * 3600n * 1_000_000n;

/** An intent a reader ran into, with the user key it sits on. */
export interface KeyedIntent extends Intent {
  readonly key: Buffer;
}

/** A read met another transaction's intent at or below its timestamp; the txn layer decides. */
export interface IntentConflict {
  readonly kind: 'intent-conflict';
  readonly intents: readonly KeyedIntent[];
}

/**
 * A committed version above the read timestamp but within the reader's uncertainty limit: it
 * may have committed before the reader began (a clock ahead of the reader's), so the reader
 * must move its timestamp up to `ts` and read again rather than miss it.
 */
export interface Uncertain {
  readonly kind: 'uncertain';
  /** The newest such version's timestamp. */
  readonly ts: Timestamp;
}

export type GetResult =
  | { readonly kind: 'found'; readonly value: Buffer; readonly ts: Timestamp }
  | { readonly kind: 'not-found' }
  | IntentConflict
  | Uncertain;

export interface ScanRow {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly ts: Timestamp;
}

export type ScanResult =
  | {
      readonly kind: 'rows';
      readonly rows: readonly ScanRow[];
      /**
       * Set when the scan stopped early, at `limit` rows or at its per-call work budget (then
       * possibly with fewer rows): continue from here (as `start` forward, `end` reverse).
       */
      readonly resumeKey?: Buffer;
      /** With `countOnly`: how many visible rows the scan kept (`rows` is then empty). */
      readonly count?: number;
    }
  | IntentConflict
  | Uncertain;

/**
 * What the caller knows of another transaction's intent: that transaction committed at
 * `committedAt` (the intent reads as a version at that timestamp), or the intent is to be read
 * past ('ignore': aborted, or open but certain to commit above every read served so far).
 */
export type IntentVerdict = { readonly committedAt: Timestamp } | 'ignore';

export interface ReadOptions {
  /** The reading transaction: its own intents are visible to it instead of conflicting. */
  readonly txnId?: string;
  /**
   * The fate of other transactions' intents, when the caller knows it (undefined: it does not,
   * and an intent at or below the read timestamp is a conflict).
   */
  readonly intentStatus?: (txnId: string) => IntentVerdict | undefined;
  /**
   * The reader's uncertainty limit (above readTs): a version committed in (readTs, limit]
   * makes the read `uncertain` instead of invisible, and an undecided intent at or below the
   * limit is a conflict. Absent: readTs is the limit.
   */
  readonly uncertaintyLimit?: Timestamp;
}

/** What an intent of another transaction means for a read at readTs with uncertainty limit `limit`. */
function judgeIntent(
  intent: Intent, readTs: Timestamp, limit: Timestamp, verdict: IntentVerdict | undefined,
): 'conflict' | 'skip' | Uncertain | { value: Buffer | null; ts: Timestamp } {
  if (verdict === undefined) return intent.ts <= limit ? 'conflict' : 'skip';
  if (verdict === 'ignore' || verdict.committedAt > limit) return 'skip';
  if (verdict.committedAt > readTs) return { kind: 'uncertain', ts: verdict.committedAt };
  return { value: intent.value, ts: verdict.committedAt };
}

/** The upper end of a read's uncertainty window (readTs itself when it has none). */
function limitOf(readTs: Timestamp, options: ReadOptions): Timestamp {
  const l = options.uncertaintyLimit;
  return l !== undefined && l > readTs ? l : readTs;
}

const isUncertain = (j: unknown): j is Uncertain => (j as { kind?: unknown }).kind === 'uncertain';

export interface ScanOptions extends ReadOptions {
  /** At most this many kept rows (counted after `keep`). */
  readonly limit?: number;
  readonly reverse?: boolean;
  /**
   * A row filter evaluated here, on each visible row's value: rows it rejects are stepped over
   * (they still count toward the per-call work budget). A filter pushed down by the SQL layer.
   */
  readonly keep?: (value: Buffer) => boolean;
  /** Count the kept rows instead of returning them (ScanResult.count). */
  readonly countOnly?: boolean;
}

/** Collects a scan's visible rows through its filter, as rows or as a count. */
class ScanCollector {
  readonly rows: ScanRow[] = [];
  kept = 0;

  constructor(private readonly options: ScanOptions) {}

  /** A visible row stored under raw version key `raw` (`prefixLen` as userKeyOf takes it). */
  add(raw: Buffer, prefixLen: number | undefined, value: Buffer, ts: Timestamp): void {
    const keep = this.options.keep;
    if (keep !== undefined && !keep(value)) return;
    this.kept++;
    if (!this.options.countOnly) this.rows.push({ key: userKeyOf(raw, prefixLen), value, ts });
  }

  result(resumeKey: Buffer | undefined): ScanResult {
    const base = this.options.countOnly ? { kind: 'rows' as const, rows: this.rows, count: this.kept } : { kind: 'rows' as const, rows: this.rows };
    return resumeKey === undefined ? base : { ...base, resumeKey };
  }
}

export interface WriteOptions {
  /** fsync the RocksDB WAL before returning (the Raft log is usually the durable copy). */
  readonly sync?: boolean;
}

export type ResolveOutcome = { readonly commit: Timestamp } | 'abort';

export interface GcOptions {
  /** Current time as a timestamp (microseconds since the epoch). */
  readonly now: Timestamp;
  /** Versions older than now - ttl are collected (default 25 h). */
  readonly ttl?: Timestamp;
  /** User-key span to collect, [start, end); the whole store by default. */
  readonly start?: Buffer;
  readonly end?: Buffer;
  /** Deletes per write batch (batches are cut only between user keys). */
  readonly batchSize?: number;
}

export interface GcStats {
  readonly keysVisited: number;
  readonly versionsRemoved: number;
}

/**
 * Writes of one logical operation, applied atomically by MvccStore.write(). Reads do not see a
 * batch until it is written.
 */
export class MvccBatch {
  /** @internal */
  readonly raw = new RocksBatch();

  put(key: Uint8Array, ts: Timestamp, value: Uint8Array): this {
    checkTimestamp(ts);
    this.raw.put(versionKey(versionPrefix(key), ts), encodeVersion(value));
    return this;
  }

  /** Writes a tombstone: reads at or after ts see no value. */
  delete(key: Uint8Array, ts: Timestamp): this {
    checkTimestamp(ts);
    this.raw.put(versionKey(versionPrefix(key), ts), TOMBSTONE);
    return this;
  }

  /** Lays (or replaces) the key's intent. Conflict checks are the caller's: see MvccStore.putIntent. */
  putIntent(key: Uint8Array, intent: Intent): this {
    checkTimestamp(intent.ts);
    this.raw.put(intentKey(versionPrefix(key)), encodeIntent(intent));
    return this;
  }

  clearIntent(key: Uint8Array): this {
    this.raw.del(intentKey(versionPrefix(key)));
    return this;
  }

  /** A per-replica key outside the MVCC keyspace, e.g. the applied index, in the same batch. */
  putLocal(name: string | Uint8Array, value: Uint8Array): this {
    this.raw.put(localKey(name), Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return this;
  }

  deleteLocal(name: string | Uint8Array): this {
    this.raw.del(localKey(name));
    return this;
  }

  get count(): number {
    return this.raw.count;
  }
}

const NOT_FOUND: GetResult = { kind: 'not-found' };
const EMPTY_PREFIX = Buffer.alloc(0);
/** Versions of one key stepped over with next() before seeking past them instead. */
const SEEK_AFTER = 8;
/**
 * User keys one scan call looks at before it returns what it has with a resume key. Bounds
 * the work of one call (a few ms) when a range holds long runs of deleted keys, which would
 * otherwise make a 256-row page walk a million tombstones in one synchronous call.
 */
const SCAN_KEY_BUDGET = 16_384;

export interface MvccOptions extends RocksOptions {
  /**
   * Serve point reads from one reused tailing iterator (seek + next: two native calls) instead
   * of creating a bounded iterator per read. About twice as fast on live data (bench/storage.ts),
   * but an unbounded seek skips every deleted entry after the key, so a long run of deleted
   * keys (a rolled-back bulk load's intents) makes each read cost as much as the run. Default
   * false since large transactions; opt in for read-mostly stores without such runs.
   */
  readonly tailingReads?: boolean;
}

export class MvccStore {
  private tailing: RocksIterator | undefined;
  private readonly scratch = new MvccBatch();

  private constructor(
    readonly db: RocksDb,
    private readonly tailingReads: boolean,
  ) {}

  static async open(location: string, options: MvccOptions = {}): Promise<MvccStore> {
    return new MvccStore(await RocksDb.open(location, options), options.tailingReads ?? false);
  }

  async close(): Promise<void> {
    this.tailing?.close();
    this.tailing = undefined;
    await this.db.close();
  }

  batch(): MvccBatch {
    return new MvccBatch();
  }

  write(batch: MvccBatch, options: WriteOptions = {}): void {
    this.db.write(batch.raw, options.sync ?? false);
  }

  put(key: Uint8Array, ts: Timestamp, value: Uint8Array, options?: WriteOptions): void {
    this.write(this.scratchBatch().put(key, ts, value), options);
  }

  delete(key: Uint8Array, ts: Timestamp, options?: WriteOptions): void {
    this.write(this.scratchBatch().delete(key, ts), options);
  }

  /** Single-op writes reuse one native batch: creating one per put costs as much as the put. */
  private scratchBatch(): MvccBatch {
    this.scratch.raw.clear();
    return this.scratch;
  }

  getLocal(name: string | Uint8Array): Buffer | undefined {
    return this.db.getMany([localKey(name)])[0];
  }

  /** The key's intent, if any. */
  getIntent(key: Uint8Array): Intent | undefined {
    const raw = this.db.getMany([intentKey(versionPrefix(key))])[0];
    return raw === undefined ? undefined : decodeIntent(raw);
  }

  /** Timestamp of the newest committed version (value or tombstone), for write-write conflict checks. */
  latestCommitTs(key: Uint8Array): Timestamp | undefined {
    const prefix = versionPrefix(key);
    const it = this.db.iterator({ gte: versionKey(prefix, (1n << 64n) - 2n), lt: afterVersions(prefix) });
    try {
      const { rows } = it.next(1);
      return rows.length === 0 ? undefined : timestampOf(rows[0]);
    } finally {
      it.close();
    }
  }

  /**
   * Lays an intent unless another transaction holds one on the key (then returns the conflict).
   * Re-laying by the same transaction replaces its intent.
   */
  putIntent(key: Uint8Array, intent: Intent, options?: WriteOptions): IntentConflict | undefined {
    const existing = this.getIntent(key);
    if (existing !== undefined && existing.txnId !== intent.txnId) {
      return { kind: 'intent-conflict', intents: [{ ...existing, key: Buffer.from(key) }] };
    }
    this.write(this.batch().putIntent(key, intent), options);
    return undefined;
  }

  /**
   * Commits (as a version at `commit`) or aborts the intent `txnId` holds on `key`, staging the
   * writes into `batch` when given (the caller writes it) or writing them now. Returns
   * 'no-intent' when the key carries no intent of that transaction, so re-delivery is harmless.
   */
  resolveIntent(key: Uint8Array, txnId: string, outcome: ResolveOutcome, batch?: MvccBatch, options?: WriteOptions): 'committed' | 'aborted' | 'no-intent' {
    const intent = this.getIntent(key);
    if (intent === undefined || intent.txnId !== txnId) return 'no-intent';
    const b = batch ?? this.batch();
    b.clearIntent(key);
    if (outcome !== 'abort') {
      if (outcome.commit < intent.ts) {
        throw new RangeError(`commit ts ${outcome.commit} is below the intent's ts ${intent.ts} (txn ${txnId})`);
      }
      if (intent.value === null) b.delete(key, outcome.commit);
      else b.put(key, outcome.commit, intent.value);
    }
    if (batch === undefined) this.write(b, options);
    return outcome === 'abort' ? 'aborted' : 'committed';
  }

  /** The newest version of `key` at or below readTs; a tombstone reads as not found. */
  get(key: Uint8Array, readTs: Timestamp, options: ReadOptions = {}): GetResult {
    checkTimestamp(readTs);
    const limit = limitOf(readTs, options);
    const prefix = versionPrefix(key);
    const plen = prefix.length;
    // A reused tailing iterator has no per-key bounds, so check that each entry is still ours.
    const ours = (rows: Buffer[]): boolean => rows.length > 0 && rows[0].length === plen + 8 && rows[0].compare(prefix, 0, plen, 0, plen) === 0;
    let it: RocksIterator;
    if (this.tailingReads) {
      it = this.tailing ??= this.db.iterator({ tailing: true });
      it.seek(prefix);
    } else {
      it = this.db.iterator({ gte: prefix, lt: afterVersions(prefix) });
    }
    try {
      let { rows } = it.next(1);
      if (!ours(rows)) return NOT_FOUND;
      if (isIntentSlot(rows[0])) {
        const intent = decodeIntent(rows[1]);
        if (options.txnId !== undefined && intent.txnId === options.txnId) {
          return intent.value === null ? NOT_FOUND : { kind: 'found', value: intent.value, ts: intent.ts };
        }
        const judged = judgeIntent(intent, readTs, limit, options.intentStatus?.(intent.txnId));
        if (judged === 'conflict') return { kind: 'intent-conflict', intents: [{ ...intent, key: Buffer.from(key) }] };
        if (isUncertain(judged)) return judged;
        if (judged !== 'skip') return judged.value === null ? NOT_FOUND : { kind: 'found', value: judged.value, ts: judged.ts };
        ({ rows } = it.next(1));
        if (!ours(rows)) return NOT_FOUND;
      }
      if (timestampOf(rows[0]) > limit) {
        it.seek(versionKey(prefix, limit));
        ({ rows } = it.next(1));
        if (!ours(rows)) return NOT_FOUND;
      }
      const ts = timestampOf(rows[0]);
      if (ts > readTs) return { kind: 'uncertain', ts };
      const value = decodeVersion(rows[1]);
      return value === null ? NOT_FOUND : { kind: 'found', value, ts: timestampOf(rows[0]) };
    } finally {
      if (it !== this.tailing) it.close();
    }
  }

  /**
   * The visible version of each user key in [start, end) at readTs, in key order (or reverse).
   * Older versions are stepped over a few at a time and then skipped with a seek. Intents of other
   * transactions at or below readTs make the whole scan an IntentConflict listing all of them.
   */
  scan(start: Buffer | undefined, end: Buffer | undefined, readTs: Timestamp, options: ScanOptions = {}): ScanResult {
    checkTimestamp(readTs);
    const limit = options.limit ?? Infinity;
    if (!(limit > 0)) throw new RangeError(`scan limit must be positive: ${limit}`);
    const it = this.db.iterator({ gte: dataLowerBound(start), lt: dataUpperBound(end), reverse: options.reverse ?? false });
    try {
      return options.reverse ? this.scanReverse(it, readTs, limit, options) : this.scanForward(it, readTs, limit, options);
    } finally {
      it.close();
    }
  }

  private scanForward(it: RocksIterator, readTs: Timestamp, limit: number, options: ScanOptions): ScanResult {
    const { txnId, intentStatus } = options;
    const out = new ScanCollector(options);
    const intents: KeyedIntent[] = [];
    const top = limitOf(readTs, options);
    const topKey = versionKey(EMPTY_PREFIX, top);
    let uncertain: Timestamp | undefined; // the newest version met in (readTs, top]
    const finish = (resumeKey: Buffer | undefined): ScanResult =>
      intents.length > 0 ? { kind: 'intent-conflict', intents } : uncertain !== undefined ? { kind: 'uncertain', ts: uncertain } : out.result(resumeKey);
    let cur: Buffer | undefined; // version prefix of the key being processed
    let done = false; // the current key's visible version (or verdict) is known
    let stepped = 0; // entries of the current key stepped over
    // Compare stored (inverted) timestamps as bytes: no BigInt per stepped-over entry.
    const readTsKey = versionKey(EMPTY_PREFIX, readTs);
    let keys = 0;
    let finished = false;
    while (!finished) {
      const want = Math.min(1024, Math.max(16, limit === Infinity ? 1024 : limit - out.kept + 1));
      const batch = it.next(want);
      finished = batch.finished;
      const raw = batch.rows;
      for (let i = 0; i < raw.length; i += 2) {
        const k = raw[i];
        const plen = prefixLength(k);
        if (cur === undefined || cur.length !== plen || k.compare(cur, 0, plen, 0, plen) !== 0) {
          if (out.kept >= limit || keys >= SCAN_KEY_BUDGET) return finish(userKeyOf(k));
          keys++;
          cur = k.subarray(0, plen);
          done = false;
          stepped = 0;
        } else if (done) {
          if (++stepped >= SEEK_AFTER) {
            it.seek(afterVersions(cur));
            finished = false;
            break;
          }
          continue;
        }
        if (isIntentSlot(k)) {
          const intent = decodeIntent(raw[i + 1]);
          if (txnId !== undefined && intent.txnId === txnId) {
            done = true;
            if (intent.value !== null) out.add(k, undefined, intent.value, intent.ts);
          } else {
            const judged = judgeIntent(intent, readTs, top, intentStatus?.(intent.txnId));
            if (judged === 'conflict') {
              done = true;
              intents.push({ ...intent, key: userKeyOf(k) });
            } else if (isUncertain(judged)) {
              done = true;
              if (uncertain === undefined || judged.ts > uncertain) uncertain = judged.ts;
            } else if (judged !== 'skip') {
              done = true;
              if (judged.value !== null) out.add(k, undefined, judged.value, judged.ts);
            }
          }
          continue;
        }
        if (k.compare(readTsKey, 0, 8, plen, plen + 8) < 0) {
          // Newer than readTs: within the uncertainty window, or above it (stepped over).
          if (top !== readTs && k.compare(topKey, 0, 8, plen, plen + 8) >= 0) {
            done = true;
            const ts = timestampOf(k);
            if (uncertain === undefined || ts > uncertain) uncertain = ts;
            continue;
          }
          if (++stepped >= SEEK_AFTER) {
            it.seek(versionKey(cur, top));
            stepped = 0;
            finished = false;
            break;
          }
          continue;
        }
        done = true;
        const value = decodeVersion(raw[i + 1]);
        if (value !== null) out.add(k, undefined, value, timestampOf(k));
      }
    }
    return finish(undefined);
  }

  /** Reverse: a key's entries arrive oldest first and its intent last; decide at the key's end. */
  private scanReverse(it: RocksIterator, readTs: Timestamp, limit: number, options: ScanOptions): ScanResult {
    const { txnId, intentStatus } = options;
    const out = new ScanCollector(options);
    const intents: KeyedIntent[] = [];
    const top = limitOf(readTs, options);
    const topKey = versionKey(EMPTY_PREFIX, top);
    let uncertain: Timestamp | undefined; // the newest version met in (readTs, top]
    const noteUncertain = (ts: Timestamp): void => {
      if (uncertain === undefined || ts > uncertain) uncertain = ts;
    };
    const finish = (resumeKey: Buffer | undefined): ScanResult =>
      intents.length > 0 ? { kind: 'intent-conflict', intents } : uncertain !== undefined ? { kind: 'uncertain', ts: uncertain } : out.result(resumeKey);
    let cur: Buffer | undefined;
    let candKey: Buffer | undefined; // newest version <= readTs seen so far for `cur`
    let candVal: Buffer | undefined;
    let keyUncertain: Timestamp | undefined; // newest version of `cur` in (readTs, top]
    let intent: Intent | undefined;
    const finishKey = (): void => {
      if (cur === undefined) return;
      const judged = intent === undefined || (txnId !== undefined && intent.txnId === txnId) ? undefined : judgeIntent(intent, readTs, top, intentStatus?.(intent.txnId));
      if (intent !== undefined && judged === undefined) {
        if (intent.value !== null) out.add(cur, cur.length, intent.value, intent.ts);
      } else if (intent !== undefined && judged === 'conflict') {
        intents.push({ ...intent, key: userKeyOf(cur, cur.length) });
      } else if (judged !== undefined && isUncertain(judged)) {
        noteUncertain(judged.ts);
      } else if (judged !== undefined && judged !== 'skip' && judged !== 'conflict') {
        if (judged.value !== null) out.add(cur, cur.length, judged.value, judged.ts);
      } else if (keyUncertain !== undefined) {
        noteUncertain(keyUncertain);
      } else if (candKey !== undefined && candVal !== undefined) {
        const value = decodeVersion(candVal);
        if (value !== null) out.add(candKey, undefined, value, timestampOf(candKey));
      }
    };
    const readTsKey = versionKey(EMPTY_PREFIX, readTs);
    let keys = 0;
    let finished = false;
    while (!finished) {
      const batch = it.next(limit === Infinity ? 1024 : Math.min(1024, Math.max(16, limit - out.kept + 1)));
      finished = batch.finished;
      const raw = batch.rows;
      for (let i = 0; i < raw.length; i += 2) {
        const k = raw[i];
        const plen = prefixLength(k);
        if (cur === undefined || cur.length !== plen || k.compare(cur, 0, plen, 0, plen) !== 0) {
          finishKey();
          if ((out.kept >= limit || keys >= SCAN_KEY_BUDGET) && cur !== undefined) {
            // Keys below `cur` are left: it is the exclusive end to resume with.
            return finish(userKeyOf(cur, cur.length));
          }
          keys++;
          cur = k.subarray(0, plen);
          candKey = candVal = intent = keyUncertain = undefined;
        }
        if (isIntentSlot(k)) intent = decodeIntent(raw[i + 1]);
        else if (k.compare(readTsKey, 0, 8, plen, plen + 8) >= 0) {
          candKey = k;
          candVal = raw[i + 1];
        } else if (top !== readTs && k.compare(topKey, 0, 8, plen, plen + 8) >= 0) {
          // Entries come oldest first: the last one in the window is the newest.
          keyUncertain = timestampOf(k);
        }
      }
    }
    finishKey();
    return finish(undefined);
  }

  /**
   * Removes versions no read at or after `now - ttl` can see. Per key, the newest version at or
   * below that threshold is what such reads see, so it is kept, unless it is a tombstone: then
   * it goes too, together with everything older (reads see "not found" either way). Versions
   * above the threshold and intents are never touched. Deletes of one key always share a batch,
   * so a crash cannot remove a tombstone while keeping the versions it hides.
   */
  gc(options: GcOptions): GcStats {
    checkTimestamp(options.now);
    const ttl = options.ttl ?? DEFAULT_GC_TTL;
    const threshold = options.now - ttl;
    if (threshold < 0n) return { keysVisited: 0, versionsRemoved: 0 };
    const batchSize = options.batchSize ?? 1000;
    const it = this.db.iterator({ gte: dataLowerBound(options.start), lt: dataUpperBound(options.end), fillCache: false });
    const batch = new RocksBatch();
    let keysVisited = 0;
    let versionsRemoved = 0;
    let cur: Buffer | undefined;
    let seenVisible = false; // the newest version <= threshold of `cur` has been passed (and kept)
    try {
      let finished = false;
      while (!finished) {
        const next = it.next(1024);
        finished = next.finished;
        const raw = next.rows;
        for (let i = 0; i < raw.length; i += 2) {
          const k = raw[i];
          const plen = prefixLength(k);
          if (cur === undefined || cur.length !== plen || k.compare(cur, 0, plen, 0, plen) !== 0) {
            if (batch.count >= batchSize) {
              this.db.write(batch);
              batch.clear();
            }
            cur = k.subarray(0, plen);
            seenVisible = false;
            keysVisited++;
          }
          if (isIntentSlot(k) || timestampOf(k) > threshold) continue;
          if (seenVisible) {
            batch.del(k);
            versionsRemoved++;
          } else {
            seenVisible = true;
            if (decodeVersion(raw[i + 1]) === null) {
              batch.del(k);
              versionsRemoved++;
            }
          }
        }
      }
      if (batch.count > 0) this.db.write(batch);
    } finally {
      it.close();
    }
    return { keysVisited, versionsRemoved };
  }
}
