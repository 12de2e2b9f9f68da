// One interactive transaction over the KV client (one or many shards). Reads happen at a fixed
// readTs (taken on first use) and see this transaction's own writes; every key read and every
// span scanned is recorded so that apply can validate, at commit, that nothing newer was
// committed to it (serializable). Writes are buffered in memory. At commit the shards it read or
// wrote are its participants:
//  - one participant: a single `commit` log entry (1PC), validated and applied in one step;
//  - several: two-phase commit. Every participant gets a `prepare` entry (validate, lay intents
//    naming the primary: the latest key it locked and wrote, else its first write); the
//    decision is the `resolve` entry on the primary's shard (the first resolve applied there
//    wins, so a reader that finds the transaction abandoned and aborts it there can never
//    contradict a commit); the commit returns then, and the other participants are resolved in
//    the background.
// A large transaction (a bulk COPY, a table rewrite) sends its buffer to the shards as `stage`
// entries each time it reaches `stageBytes`, laid as intents that only this transaction sees;
// its commit decides them (1PC commit, or prepare + resolve) and `resolve-staged` entries settle
// them: no entry and no buffer ever holds the whole write set. Read-only transactions never
// propose anything.
import { randomFillSync } from 'node:crypto';
import { UncertainReadError, sqlstateOf, type ReadRequestOptions, type ScanFilter, type ScanPage, type ShardKv } from '@weft/kv';
import { KvClient, type LockOptions } from '@weft/kvclient';
import type { ApplyOutcome, IntentRef, LogEntry, ReadSpan, Timestamp, WriteOp } from '@weft/logentry';
import { PgError } from '@weft/pgwire';

export interface TxnOptions {
  /** Random source for transaction ids (injectable for the simulator). */
  readonly randomId?: () => Buffer;
  /** Page size for scans that have no limit. */
  readonly scanPageSize?: number;
  /** Largest write set one transaction may have, in bytes (default DEFAULT_MAX_TXN_BYTES). */
  readonly maxWriteBytes?: number;
  /** Buffered bytes at which the buffer is staged to the shard (default DEFAULT_STAGE_BYTES). */
  readonly stageBytes?: number;
  /** Buffered writes at which the buffer is staged, whatever their size (default DEFAULT_STAGE_OPS). */
  readonly stageOps?: number;
  /**
   * A read-only transaction at a fixed past timestamp (AS OF SYSTEM TIME, bounded staleness):
   * it reads at `asOf`, from any replica whose closed timestamp covers it (follower reads), and
   * refuses writes (25006).
   */
  readonly asOf?: Timestamp;
}

/**
 * A sanity bound on one transaction's writes (staged plus buffered). Staging keeps memory and
 * entry sizes small whatever the total, so this only stops a runaway statement from filling the
 * disk with intents that a rollback then has to remove.
 */
export const DEFAULT_MAX_TXN_BYTES = 8 * 1024 ** 3;

/**
 * The write buffer is staged once it holds this much. One stage entry is one Raft message and
 * one synchronous apply on every replica: at 1 MiB an apply takes about 120 ms (p50; 230 ms
 * max) on the 2-core dev machine, against 340 ms (640 ms max) at 4 MiB, which stalled
 * heartbeats past the 500 ms election timeout and cost the leader its term.
 */
export const DEFAULT_STAGE_BYTES = 1 << 20;

/** Apply cost is per key as much as per byte: 1 MiB of small deletes would be 35k keys. */
export const DEFAULT_STAGE_OPS = 8192;

/** Approximate encoded size of one buffered write (key, value, framing). */
function opBytes(op: WriteOp): number {
  return op.key.length + (op.kind === 'put' ? op.value.length : 0) + 16;
}

export interface TxnRow {
  readonly key: Buffer;
  readonly value: Buffer;
}

export interface ScanOptions {
  readonly reverse?: boolean;
  /** Hint: how many rows the caller expects to consume (first page size). */
  readonly limit?: number;
  /**
   * A row filter the shards apply to their rows (decision 0038); this transaction's own
   * buffered writes are not filtered, so the caller still applies it to every row.
   */
  readonly filter?: ScanFilter;
}

type Buffered = { readonly op: WriteOp; readonly key: Buffer };

/**
 * What a transaction assumes a key holds at its snapshot without having read it (see
 * Txn.assume): the catalog version the gateway's cached descriptors were loaded at.
 */
interface Assumption {
  readonly key: Buffer;
  readonly holds: (value: Buffer | undefined) => boolean;
  /** The check under way or done (rejects with AssumptionFailedError). */
  check: Promise<void> | undefined;
  checked: boolean;
}

/**
 * The value a transaction assumed (Txn.assume) is not what its snapshot holds: whatever it
 * planned from the assumption is stale. Retryable: the caller rolls back to a savepoint taken
 * before the assumption and runs the statement again with what the snapshot really holds.
 * A 40001 if it ever escapes, so an implicit transaction retries it like any conflict.
 */
export class AssumptionFailedError extends PgError {
  constructor(readonly key: Buffer) {
    super('40001', 'could not serialize access: the schema changed while the statement was being planned', {
      hint: 'Retry the transaction.',
    });
  }
}

/**
 * What ROLLBACK TO SAVEPOINT restores: the write buffer (keyed by the key's latin1 string),
 * valid while nothing was staged since.
 */
export interface TxnSavepoint extends ReadonlyMap<string, Buffered> {
  readonly stagedChunks: number;
}

/**
 * Transaction ids are 16 random bytes, drawn from a pool refilled 256 ids at a time: one
 * randomFillSync call per transaction was 2-3 % of a gateway's CPU under pgbench.
 */
const ID_BYTES = 16;
const idPool = Buffer.alloc(ID_BYTES * 256);
let idPoolPos = idPool.length;
function randomTxnId(): Buffer {
  if (idPoolPos === idPool.length) {
    randomFillSync(idPool);
    idPoolPos = 0;
  }
  const id = Buffer.from(idPool.subarray(idPoolPos, idPoolPos + ID_BYTES));
  idPoolPos += ID_BYTES;
  return id;
}

// Keys as latin1 strings compare exactly like the bytes (one code unit per byte), so the write
// buffer can be sorted and range-filtered with plain string comparison.
const k = (b: Buffer): string => b.toString('latin1');

export class Txn {
  private readTsValue: Timestamp | undefined;
  private readTsPromise: Promise<Timestamp> | undefined;
  /**
   * Reads treat versions in (readTs, uncertaintyLimit] as possibly committed before this
   * transaction began (decision 0055), lowered per shard to its observed timestamp (below):
   * the snapshot's first timestamp plus the KV client's uncertainty window. Fixed with the
   * snapshot.
   */
  private uncertaintyLimit: Timestamp | undefined;
  /**
   * Per shard, a clock reading taken there after this transaction began (its observed
   * timestamp): nothing committed there before the transaction began is above it, so reads
   * there look for uncertain versions only up to it. The shard whose clock chose the snapshot
   * observed the snapshot itself.
   */
  private readonly observed = new Map<number, Timestamp>();
  private writes = new Map<string, Buffered>();
  /** Bytes in `writes`. */
  private writeBytes = 0;
  /** Bytes sent in stage entries so far. */
  private stagedBytes = 0;
  /** Stage entries sent, on all shards. */
  private stagedChunks = 0;
  /** Stage entries sent per shard (the next one's seq there). */
  private readonly stagedByShard = new Map<number, number>();
  /** The first key this transaction wrote. */
  private firstWrite: Buffer | undefined;
  /** The key of the latest locking read. */
  private lastLocked: Buffer | undefined;
  /**
   * The latest key the transaction locked and then wrote. It is the 2PC primary (where the
   * decision is recorded) when there is one, else the first write: the primary's shard releases
   * its locks one Raft round before the others, and the lock taken last is the likeliest to be
   * contended (TPC-B's branch row, which every transaction updates last).
   */
  private lockedWrite: Buffer | undefined;
  /** The resolves of the participants other than the primary, running after the commit returned. */
  private settling: Promise<void> | undefined;
  /** Every participant applied its resolve and every prepare was answered (its markers may go). */
  private participantsSettled = false;
  /** Stage proposals not yet answered. */
  private inflight = 0;
  /** The last stage proposal (each waits for the one before: chunks apply in order). */
  private flushing: Promise<void> | undefined;
  /** A stage entry was refused or lost: the transaction cannot commit. */
  private failure: PgError | undefined;
  /** Scans in progress: staging waits for them (a scan must not meet writes made during it). */
  private activeScans = 0;
  /** Spans of the scans in progress (a read refresh must cover what they have yet to read). */
  private readonly scanning = new Set<Extract<ReadSpan, { kind: 'span' }>>();
  /** Shards where this transaction asked for row locks (released when it ends). */
  private readonly lockShards = new Set<number>();
  /** Read refreshes that moved readTs forward (tests, stats). */
  refreshes = 0;
  /** Reads that met a version within the uncertainty window (tests, stats). */
  uncertainRestarts = 0;
  private cleanup: Promise<void> | undefined;
  private readonly reads: ReadSpan[] = [];
  private assumption: Assumption | undefined;
  private readonly readPoints = new Set<string>();
  private done = false;
  /** 16 random bytes naming the transaction in its entries, intents and CDC. */
  readonly id: Buffer;

  /** The KV client the transaction reads and commits through. */
  readonly kv: KvClient;

  constructor(
    kv: KvClient | ShardKv,
    private readonly options: TxnOptions = {},
  ) {
    this.kv = kv instanceof KvClient ? kv : KvClient.single(kv);
    this.id = options.randomId ? options.randomId() : randomTxnId();
  }

  /** The snapshot timestamp; fixed at the first call. */
  async readTs(): Promise<Timestamp> {
    if (this.readTsValue !== undefined) return this.readTsValue;
    if (this.options.asOf !== undefined) return (this.readTsValue = this.options.asOf);
    this.readTsPromise ??= this.kv.now().then((ts) => this.fixSnapshot(ts, this.kv.map.systemShard));
    return this.readTsPromise;
  }

  /** Fixes the snapshot at `ts`, chosen by `shard`'s clock, and the uncertainty limit with it. */
  private fixSnapshot(ts: Timestamp, shard: number | undefined): Timestamp {
    this.readTsValue = ts;
    this.uncertaintyLimit = ts + this.kv.uncertaintyWindowUs;
    if (shard !== undefined) this.observed.set(shard, ts);
    return ts;
  }

  get hasWrites(): boolean {
    return this.writes.size > 0 || this.stagedChunks > 0;
  }

  /** Whether part of the write set already sits on the shard as intents. */
  get staged(): boolean {
    return this.stagedChunks > 0;
  }

  /** Own intents exist on the shard only once something was staged: then reads name the txn. */
  private readOptions(): ReadRequestOptions {
    if (this.options.asOf !== undefined) return { follower: true };
    const own = this.stagedChunks > 0 ? { txnId: this.id } : {};
    const limit = this.uncertaintyLimit;
    if (limit === undefined || this.readTsValue === undefined || limit <= this.readTsValue) return own;
    return { ...own, uncertaintyLimit: limit, observed: this.observed };
  }

  /**
   * readOptions() without the uncertainty limit: catalog reads at the snapshot (nothing
   * refreshes them; descriptor stamps guard what they mean), and lock reads, which read the
   * newest version anyway.
   */
  private snapshotReadOptions(): ReadRequestOptions {
    const { uncertaintyLimit: _limit, observed: _observed, ...rest } = this.readOptions();
    return rest;
  }

  /**
   * Runs a recorded read at the snapshot; when it meets a version within the uncertainty window
   * (UncertainReadError), moves the snapshot up to that version by a read refresh and runs it
   * again. Each round raises readTs, and nothing above the fixed limit is uncertain, so it ends.
   */
  private async readCertain<T>(read: (ts: Timestamp, options: ReadRequestOptions) => Promise<T>, rereads?: ReadSpan): Promise<T> {
    for (;;) {
      try {
        return await read(await this.readTs(), this.readOptions());
      } catch (e) {
        if (!(e instanceof UncertainReadError)) throw e;
        await this.moveUpTo(e, rereads);
      }
    }
  }

  /**
   * Refreshes the snapshot up to the uncertain version's timestamp, or fails the transaction
   * (40001). `rereads`: the recorded read being retried, which the refresh leaves out.
   */
  private async moveUpTo(e: UncertainReadError, rereads?: ReadSpan): Promise<void> {
    this.uncertainRestarts++;
    if (await this.refreshTo(e.valueTs, rereads)) return;
    throw new PgError('40001', 'could not serialize access: a value committed on a faster clock changed what this transaction had read', {
      detail: `${e.message}; something this transaction read earlier changed too, so it cannot move its snapshot up.`,
      hint: 'Retry the transaction.',
    });
  }

  /**
   * Waits for every stage entry sent so far and throws the error that refused one (the
   * transaction can then only roll back). Callers run it at statement end so a failed chunk
   * fails the statement that wrote it.
   */
  async settle(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Backpressure for bulk writers: a promise to await while more than one chunk is on its way
   * (or one failed), else undefined, so a per-row caller pays no event-loop hop.
   */
  yieldToStaging(): Promise<void> | undefined {
    return this.inflight > 1 || this.failure !== undefined ? this.settle() : undefined;
  }

  get finished(): boolean {
    return this.done;
  }

  /**
   * Assumes `key` holds, at this transaction's snapshot, a value `holds` accepts, without reading
   * it first: a gateway plans with its cached catalog and assumes the catalog version the cache
   * was loaded at. The assumption is checked with the first read, in the same round trip (the
   * key's copy on the row's shard rides along in GetNow), or by checkAssumption(); every scan,
   * locking read and commit checks it first, and nothing is staged before it is checked. So a
   * failed check (AssumptionFailedError) finds at most buffered writes, which the caller rolls
   * back to a savepoint taken before it ran. The key joins the read set (validated at commit)
   * unless `validate` is false: the caller then records what it depends on itself (the SQL
   * layer records the stamps of the descriptors its statements use, decision 0052).
   */
  assume(key: Buffer, holds: (value: Buffer | undefined) => boolean, { validate = true }: { validate?: boolean } = {}): void {
    if (!this.fresh) throw new Error('Txn.assume must come before the transaction reads or writes anything');
    this.assumption = { key, holds, check: undefined, checked: false };
    if (validate) this.notePointRead(key);
  }

  /** Nothing read, written or timestamped yet. */
  get fresh(): boolean {
    return this.readTsValue === undefined && this.readTsPromise === undefined && this.reads.length === 0 && !this.hasWrites;
  }

  /** An assumption that no read has checked yet. */
  get assumptionPending(): boolean {
    return this.assumption !== undefined && !this.assumption.checked;
  }

  /** Checks the assumption (if any, once); throws AssumptionFailedError when it does not hold. */
  async checkAssumption(): Promise<void> {
    const a = this.assumption;
    if (a === undefined || a.checked) return;
    if (a.check === undefined) {
      if (this.readTsValue === undefined && this.readTsPromise === undefined && this.options.asOf === undefined) {
        const first = this.kv.getNow([a.key], this.readOptions());
        this.readTsPromise = first.then((r) => this.fixSnapshot(r.ts, this.kv.shardOf(a.key)));
        this.readTsPromise.catch(() => undefined);
        this.settleAssumption(a, first.then((r) => r.rows[0]));
      } else {
        const ts = await this.readTs();
        this.settleAssumption(a, this.kv.get(a.key, ts, this.snapshotReadOptions()));
      }
    }
    await a.check;
  }

  /**
   * Sets `a.check` to judge the value `row` brings. A copy read on a shard other than the system
   * shard may be missing (a shard that did not exist when the version was last written): only
   * the system shard's copy is then authoritative.
   */
  private settleAssumption(a: Assumption, row: Promise<{ value: Buffer } | undefined>): void {
    a.check = (async () => {
      let value = (await row)?.value;
      if (value === undefined && !a.holds(undefined)) value = (await this.kv.get(a.key, await this.readTs(), this.snapshotReadOptions()))?.value;
      if (!a.holds(value)) {
        this.assumption = undefined;
        throw new AssumptionFailedError(a.key);
      }
      a.checked = true;
    })();
    // Awaited by every reader; unawaited (a failed first read), it must not crash the process.
    a.check.catch(() => undefined);
  }

  /**
   * Reads `key` at this transaction's snapshot without recording the read for validation and
   * without this transaction's own writes: for state the caller depends on only through
   * narrower keys it records itself (a data transaction reading the catalog validates the
   * stamps of the descriptors it uses, not every descriptor).
   */
  async getAtSnapshot(key: Buffer): Promise<Buffer | undefined> {
    return (await this.kv.get(key, await this.readTs(), this.snapshotReadOptions()))?.value;
  }

  /** Rows of [start, end) at this transaction's snapshot, unrecorded, as getAtSnapshot. */
  async *scanAtSnapshot(start: Buffer, end: Buffer): AsyncGenerator<TxnRow> {
    const ts = await this.readTs();
    const pageSize = this.options.scanPageSize ?? 256;
    for await (const page of this.kv.scanPages(start, end, ts, { limit: pageSize, ...this.snapshotReadOptions() }, pageSize)) {
      for (const row of page.rows) yield { key: row.key, value: row.value };
    }
  }

  /** Records a point read without reading (e.g. a catalog version the txn depends on). */
  notePointRead(key: Buffer): void {
    this.recordPoint(key);
  }

  /** Records a point read; returns the new record, or undefined if the key was read before. */
  private recordPoint(key: Buffer): ReadSpan | undefined {
    const s = k(key);
    if (this.readPoints.has(s)) return undefined;
    this.readPoints.add(s);
    const r: ReadSpan = { kind: 'point', key };
    this.reads.push(r);
    return r;
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    let own = this.writes.get(k(key));
    if (own === undefined && this.flushing !== undefined) {
      // The key may be in a chunk on its way to the shard.
      await this.settle();
      own = this.writes.get(k(key));
    }
    if (own) return own.op.kind === 'put' ? own.op.value : undefined;
    // A key read for the first time is read again after a move up: the refresh leaves it out.
    const first = this.recordPoint(key);
    const a = this.assumption;
    if (this.readTsValue === undefined && this.readTsPromise === undefined && this.options.asOf === undefined) {
      // The first read fixes the snapshot at the leaseholder in the same round trip, and reads
      // the assumed key's copy there too.
      const keys = a !== undefined && a.check === undefined ? [key, a.key] : [key];
      const first = this.kv.getNow(keys, this.readOptions());
      this.readTsPromise = first.then((r) => this.fixSnapshot(r.ts, this.kv.shardOf(key)));
      // Whoever awaits readTs() sees a failure; unawaited, it must not crash the process.
      this.readTsPromise.catch(() => undefined);
      if (a !== undefined && keys.length > 1) this.settleAssumption(a, first.then((r) => r.rows[1]));
      const { rows } = await first;
      // A row read under a failed assumption is never handed out.
      if (a !== undefined) await this.checkAssumption();
      return rows[0]?.value;
    }
    if (a !== undefined && !a.checked) {
      const [row] = await Promise.all([this.readCertain((ts, o) => this.kv.get(key, ts, o), first), this.checkAssumption()]);
      return row?.value;
    }
    const row = await this.readCertain((ts, o) => this.kv.get(key, ts, o), first);
    return row?.value;
  }

  /**
   * Rows in [start, end) merged with this txn's writes. The span recorded for validation ends
   * at the last key the caller actually consumed, so `LIMIT 1` does not conflict with writes
   * further along the range.
   */
  async *scan(start: Buffer, end: Buffer, options: ScanOptions = {}): AsyncGenerator<TxnRow> {
    const reverse = options.reverse ?? false;
    const pageSize = this.options.scanPageSize ?? 256;
    await this.checkAssumption();
    if (this.flushing !== undefined) await this.settle();
    let ts = await this.readTs();
    const own = [...this.writes.values()]
      .filter((w) => Buffer.compare(w.key, start) >= 0 && Buffer.compare(w.key, end) < 0)
      .sort((a, b) => (reverse ? -1 : 1) * Buffer.compare(a.key, b.key));
    let oi = 0;
    let consumedTo: Buffer | undefined;
    let exhausted = false;
    let pages: AsyncGenerator<ScanPage> | undefined;
    this.activeScans++;
    const active: Extract<ReadSpan, { kind: 'span' }> = { kind: 'span', start, end };
    this.scanning.add(active);
    try {
      const limit = options.limit !== undefined ? Math.max(1, options.limit) : pageSize;
      // What is left to read: the whole span, or after a move up (below) what follows the
      // rows already handed out, which the refresh confirmed unchanged.
      let lo = start;
      let hi = end;
      const nextPage = async (): Promise<ScanPage | undefined> => {
        for (;;) {
          if (pages === undefined) {
            const request = { limit, reverse, ...this.readOptions(), ...(options.filter === undefined ? {} : { filter: options.filter }) };
            pages = this.kv.scanPages(lo, hi, ts, request, pageSize);
          }
          try {
            const r = await pages.next();
            return r.done === true ? undefined : r.value;
          } catch (e) {
            if (!(e instanceof UncertainReadError)) throw e;
            // The rest of this scan is read again at the new snapshot: the refresh need only
            // confirm the part already handed out (other running scans stay whole).
            this.scanning.delete(active);
            const done: Extract<ReadSpan, { kind: 'span' }> | undefined =
              consumedTo === undefined ? undefined : reverse ? { kind: 'span', start: consumedTo, end } : { kind: 'span', start, end: Buffer.concat([consumedTo, Buffer.from([0])]) };
            if (done !== undefined) this.scanning.add(done);
            try {
              await this.moveUpTo(e);
            } finally {
              if (done !== undefined) this.scanning.delete(done);
              this.scanning.add(active);
            }
            ts = await this.readTs();
            pages = undefined;
            if (consumedTo !== undefined) {
              if (reverse) hi = consumedTo;
              else lo = Buffer.concat([consumedTo, Buffer.from([0])]);
            }
          }
        }
      };
      for (let page = await nextPage(); page !== undefined; page = await nextPage()) {
        for (const row of page.rows) {
          // Emit our own writes that sort before this stored row.
          while (oi < own.length && (reverse ? Buffer.compare(own[oi].key, row.key) > 0 : Buffer.compare(own[oi].key, row.key) < 0)) {
            const w = own[oi++];
            consumedTo = w.key;
            if (w.op.kind === 'put') yield { key: w.key, value: w.op.value };
          }
          consumedTo = row.key;
          if (oi < own.length && own[oi].key.equals(row.key)) {
            const w = own[oi++];
            if (w.op.kind === 'put') yield { key: w.key, value: w.op.value };
            continue;
          }
          yield { key: row.key, value: row.value };
        }
      }
      while (oi < own.length) {
        const w = own[oi++];
        consumedTo = w.key;
        if (w.op.kind === 'put') yield { key: w.key, value: w.op.value };
      }
      exhausted = true;
    } finally {
      // A caller that stops early leaves the page reader open: close it (as for-await would).
      await pages?.return(undefined);
      this.scanning.delete(active);
      this.recordSpan(start, end, reverse, exhausted ? undefined : consumedTo);
      this.activeScans--;
      this.maybeStage();
    }
  }

  /**
   * How many rows in [start, end) pass `filter` (decision 0038; an empty program counts every
   * row), counted by the shards without sending the rows. The whole span is recorded for
   * validation, as a scan read to its end. Undefined when the count cannot be taken there: this
   * transaction wrote in the span (its writes are not on the shards), or a shard cannot
   * evaluate the filter; the caller then scans.
   */
  async count(start: Buffer, end: Buffer, filter: ScanFilter): Promise<number | undefined> {
    return this.readWholeSpan(start, end, (ts, o) => this.kv.count(start, end, ts, filter, o));
  }

  /**
   * The partial aggregates the shards compute for an aggregating `filter` program over
   * [start, end) (decision 0038), recorded like count(); undefined under the same conditions.
   */
  async partials(start: Buffer, end: Buffer, filter: ScanFilter): Promise<Buffer[] | undefined> {
    return this.readWholeSpan(start, end, (ts, o) => this.kv.partials(start, end, ts, filter, o));
  }

  /** A read of all of [start, end) done by the shards (count, partials): recorded once it answers. */
  private async readWholeSpan<T>(start: Buffer, end: Buffer, read: (ts: Timestamp, options: ReadRequestOptions) => Promise<T | undefined>): Promise<T | undefined> {
    for (const w of this.writes.values()) if (Buffer.compare(w.key, start) >= 0 && Buffer.compare(w.key, end) < 0) return undefined;
    await this.checkAssumption();
    if (this.flushing !== undefined) await this.settle();
    await this.readTs();
    this.activeScans++;
    const active: Extract<ReadSpan, { kind: 'span' }> = { kind: 'span', start, end };
    this.scanning.add(active);
    let result: T | undefined;
    try {
      // The whole span is read again after a move up, so the refresh leaves it out.
      for (;;) {
        try {
          result = await read(await this.readTs(), this.readOptions());
          return result;
        } catch (e) {
          if (!(e instanceof UncertainReadError)) throw e;
          this.scanning.delete(active);
          try {
            await this.moveUpTo(e);
          } finally {
            this.scanning.add(active);
          }
        }
      }
    } finally {
      this.scanning.delete(active);
      if (result !== undefined) this.recordSpan(start, end, false, undefined);
      this.activeScans--;
      this.maybeStage();
    }
  }

  /**
   * Locking read (UPDATE, DELETE, SELECT ... FOR UPDATE by key): waits for the row's lock
   * instead of conflicting at commit, then reads the newest committed value. If that value is
   * newer than the snapshot, the transaction moves its read timestamp up to the lock read's
   * (a read refresh: allowed only if nothing it read so far changed in between, else 40001).
   */
  async getForUpdate(key: Buffer, opts: Omit<LockOptions, 'readOptions'> = {}): Promise<Buffer | undefined> {
    const own = this.writes.get(k(key));
    if (own !== undefined || this.flushing !== undefined) return this.get(key);
    if (this.readTsValue === undefined && this.readTsPromise === undefined && this.options.asOf === undefined) return this.firstLockRead(key, opts);
    await this.checkAssumption();
    const readTs = await this.readTs();
    this.lockShards.add(this.kv.shardOf(key));
    this.lastLocked = key;
    let locked;
    try {
      locked = await this.kv.lockRead(key, this.id, { ...opts, minTs: readTs, readOptions: this.snapshotReadOptions() });
    } catch (e) {
      // A deadlock victim or a lock timeout can only roll back: let the others through now,
      // not when the client gets round to ROLLBACK.
      this.releaseLocks();
      throw e;
    }
    if (locked === undefined) return this.get(key);
    // The value must be the one the transaction's (possibly moved) snapshot sees. The lock read
    // was served at R >= the snapshot S (so nothing can commit to the key at or below R any
    // more), and the row's newest version N may be above R (a commit applied while the lock
    // read waited for earlier proposals). Move the snapshot up to T = max(R, N), refreshing
    // everything read so far over (S, T] (else 40001), and read the row at T unless the lock
    // read already did. (A lock read served below the snapshot once let a commit land between
    // the two unseen: a lost update the multi-shard simulator found.)
    const { readTs: R, newestTs: N } = locked;
    const T = [readTs, R, N].reduce((a, b) => (a > b ? a : b));
    if (!(await this.refreshTo(T))) {
      throw new PgError('40001', 'could not serialize access due to concurrent update', {
        detail: 'The row was changed after this transaction began, and so was something the transaction had already read.',
        hint: 'Retry the transaction.',
      });
    }
    this.notePointRead(key);
    if (T === R && N <= R) return locked.row?.value;
    return (await this.readCertain((ts, o) => this.kv.get(key, ts, o)))?.value;
  }

  /**
   * A locking read that is the transaction's first read (an autocommit UPDATE by key): the lock
   * read's own timestamp becomes the snapshot, so there is nothing to refresh and no separate
   * snapshot round trip. The assumed key's copy on the row's shard is read at that snapshot in
   * the same call: lock, check and row in one round trip.
   */
  private async firstLockRead(key: Buffer, opts: Omit<LockOptions, 'readOptions' | 'also'>): Promise<Buffer | undefined> {
    this.lockShards.add(this.kv.shardOf(key));
    this.lastLocked = key;
    const a = this.assumption;
    const carry = a !== undefined && a.check === undefined && this.kv.isReplicated(a.key);
    const locking = this.kv.lockRead(key, this.id, { ...opts, readOptions: this.snapshotReadOptions(), ...(carry ? { also: [a.key] } : {}) });
    // Concurrent readers of this transaction wait for the snapshot the lock read picks.
    this.readTsPromise = locking.then(async (locked) =>
      locked === undefined
        ? this.fixSnapshot(await this.kv.now(), this.kv.map.systemShard)
        : this.fixSnapshot([locked.readTs, locked.newestTs].reduce((x, y) => (x > y ? x : y)), this.kv.shardOf(key)),
    );
    this.readTsPromise.catch(() => undefined);
    let locked;
    try {
      locked = await locking;
    } catch (e) {
      this.releaseLocks();
      throw e;
    }
    const T = await this.readTs();
    this.notePointRead(key);
    // The copy was read at the lock read's timestamp; it stands for the snapshot only if that is T.
    if (carry && a.check === undefined && locked?.also !== undefined && T === locked.readTs) this.settleAssumption(a, Promise.resolve(locked.also[0]));
    const [row] = await Promise.all([
      locked !== undefined && T === locked.readTs && locked.newestTs <= T ? locked.row : this.readCertain((ts, o) => this.kv.get(key, ts, o)),
      this.checkAssumption(),
    ]);
    return row?.value;
  }

  /**
   * Moves readTs up to `to` if everything read so far (and what running scans have yet to read)
   * is unchanged in (readTs, to] on every shard: the snapshot is then equally valid at `to`.
   */
  private async refreshTo(to: Timestamp, skip?: ReadSpan): Promise<boolean> {
    const from = await this.readTs();
    if (to <= from) return true;
    const { byShard, replicated } = this.readsByShard(skip);
    for (const s of this.scanning) for (const id of this.kv.map.forSpan(s.start, s.end)) byShard.set(id, [...(byShard.get(id) ?? []), s]);
    if (replicated.length > 0) byShard.set(this.kv.map.systemShard, [...(byShard.get(this.kv.map.systemShard) ?? []), ...replicated]);
    const results = await Promise.all([...byShard].map(([shard, reads]) => this.kv.refresh(shard, this.id, reads, from, to)));
    for (const [i, r] of results.entries()) {
      if (r.ok) continue;
      if (r.intent !== undefined) await this.resolveBlocker(r.intent, [...byShard.keys()][i]);
      return false;
    }
    this.readTsValue = to;
    this.refreshes++;
    return true;
  }

  private recordSpan(start: Buffer, end: Buffer, reverse: boolean, consumedTo: Buffer | undefined): void {
    if (consumedTo === undefined) {
      this.reads.push({ kind: 'span', start, end });
    } else if (reverse) {
      this.reads.push({ kind: 'span', start: consumedTo, end });
    } else {
      this.reads.push({ kind: 'span', start, end: Buffer.concat([consumedTo, Buffer.from([0])]) });
    }
  }

  /** Buffers a write. `ifAbsent` makes apply reject the commit with 23505 if the key exists. */
  put(key: Buffer, value: Buffer, ifAbsent?: { constraint: string; detail?: string }): void {
    this.checkWritable();
    const prev = this.writes.get(k(key));
    // Re-inserting a key this txn deleted: the committed version is expected to exist.
    const cond = prev?.op.kind === 'delete' ? undefined : ifAbsent;
    const op: WriteOp = cond ? { kind: 'put', key, value, ifAbsent: cond } : { kind: 'put', key, value };
    this.buffer(key, op, prev);
  }

  private buffer(key: Buffer, op: WriteOp, prev: Buffered | undefined): void {
    const bytes = this.writeBytes + opBytes(op) - (prev ? opBytes(prev.op) : 0);
    const max = this.options.maxWriteBytes ?? DEFAULT_MAX_TXN_BYTES;
    if (bytes + this.stagedBytes > max) {
      throw new PgError('54000', `transaction is too large: its writes exceed ${Math.round(max / (1 << 20))} MiB`, {
        detail: `One transaction may write at most ${max} bytes.`,
        hint: 'Split the work into smaller transactions, e.g. several COPY or INSERT statements of fewer rows.',
      });
    }
    this.writeBytes = bytes;
    this.writes.set(k(key), { key, op });
    this.firstWrite ??= key;
    if (this.lastLocked !== undefined && this.lastLocked.equals(key)) this.lockedWrite = key;
    this.maybeStage();
  }

  /** Stages the buffer once it is big enough and no scan is running. */
  private maybeStage(): void {
    if (this.done || this.activeScans > 0 || this.assumptionPending) return;
    if (this.writeBytes < (this.options.stageBytes ?? DEFAULT_STAGE_BYTES) && this.writes.size < (this.options.stageOps ?? DEFAULT_STAGE_OPS)) return;
    const groups = this.writesByShard([...this.writes.values()].map((w) => w.op));
    this.writes = new Map();
    this.stagedBytes += this.writeBytes;
    this.writeBytes = 0;
    const chunks: { shard: number; seq: number; writes: WriteOp[] }[] = [];
    for (const [shard, writes] of groups) {
      const seq = this.stagedByShard.get(shard) ?? 0;
      this.stagedByShard.set(shard, seq + 1);
      this.stagedChunks++;
      chunks.push({ shard, seq, writes });
    }
    const prev = this.flushing;
    this.inflight++;
    let p: Promise<void> | undefined = undefined;
    p = (async (): Promise<void> => {
      try {
        if (prev !== undefined) await prev;
        if (this.failure !== undefined) return;
        const readTs = await this.readTs();
        const outcomes = await Promise.all(chunks.map((c) => this.proposeIdempotent(c.shard, { type: 'stage', txnId: this.id, readTs, seq: c.seq, writes: c.writes })));
        for (const [i, outcome] of outcomes.entries()) {
          if (outcome.status !== 'aborted' || this.failure !== undefined) continue;
          if (outcome.intent !== undefined) await this.resolveBlocker(outcome.intent, chunks[i].shard);
          this.failure = new PgError(outcome.sqlstate, outcome.message, { detail: outcome.detail, constraint: outcome.constraint });
        }
      } catch (e) {
        // Nothing is committed yet, so the transaction can simply fail and be retried.
        this.failure = new PgError('40001', 'could not stage the transaction\'s writes: the shard lost its leader', {
          detail: e instanceof Error ? e.message : String(e),
        });
      } finally {
        this.inflight--;
        if (this.flushing === p) this.flushing = undefined;
      }
    })();
    this.flushing = p;
  }

  delete(key: Buffer): void {
    this.checkWritable();
    this.buffer(key, { kind: 'delete', key }, this.writes.get(k(key)));
  }

  /** Whether this txn has buffered a put of `key` (duplicate detection before commit). */
  hasOwnPut(key: Buffer): boolean {
    return this.writes.get(k(key))?.op.kind === 'put';
  }

  /** Savepoint: a snapshot of the write buffer. Reads stay recorded (as locks stay in PG). */
  savepoint(): TxnSavepoint {
    return Object.assign(new Map(this.writes), { stagedChunks: this.stagedChunks });
  }

  /**
   * Groups writes by shard in order. A replicated key (one copy per shard, e.g. the catalog
   * version) is written to every shard.
   */
  private writesByShard(writes: readonly WriteOp[]): Map<number, WriteOp[]> {
    const out = new Map<number, WriteOp[]>();
    const add = (shard: number, op: WriteOp): void => {
      const list = out.get(shard);
      if (list === undefined) out.set(shard, [op]);
      else list.push(op);
    };
    for (const op of writes) {
      if (this.kv.isReplicated(op.key)) for (const id of this.kv.map.shardIds()) add(id, op);
      else add(this.kv.map.forKey(op.key), op);
    }
    return out;
  }

  /**
   * The read set per shard. A point read of a replicated key is validated on every
   * participant (each holds a copy), so it is returned apart and never makes a shard one.
   */
  private readsByShard(skip?: ReadSpan): { byShard: Map<number, ReadSpan[]>; replicated: ReadSpan[] } {
    const byShard = new Map<number, ReadSpan[]>();
    const replicated: ReadSpan[] = [];
    const add = (shard: number, r: ReadSpan): void => {
      const list = byShard.get(shard);
      if (list === undefined) byShard.set(shard, [r]);
      else list.push(r);
    };
    for (const r of this.reads) {
      if (r === skip) continue;
      if (r.kind === 'point') {
        if (this.kv.isReplicated(r.key)) replicated.push(r);
        else add(this.kv.map.forKey(r.key), r);
      } else {
        for (const id of this.kv.map.forSpan(r.start, r.end)) add(id, r);
      }
    }
    return { byShard, replicated };
  }

  /** Restores the buffer; refused (0A000) once writes were staged after the savepoint. */
  rollbackTo(sp: TxnSavepoint): void {
    if (sp.stagedChunks !== this.stagedChunks) {
      throw new PgError('0A000', 'cannot roll back to a savepoint taken before the transaction staged its writes to the shard', {
        detail: `Writes are staged every ${Math.round((this.options.stageBytes ?? DEFAULT_STAGE_BYTES) / 1024)} KiB; staged writes can only be rolled back with the whole transaction.`,
        hint: 'Roll back the transaction, or use savepoints around smaller steps.',
      });
    }
    this.writes = new Map(sp);
    this.writeBytes = 0;
    for (const w of this.writes.values()) this.writeBytes += opBytes(w.op);
  }

  /**
   * Commits: one `commit` entry with the read set and the writes. Resolves with the commit
   * timestamp, or undefined for a read-only txn. Apply's verdicts become PgErrors.
   */
  async commit(): Promise<Timestamp | undefined> {
    this.checkOpen();
    this.done = true;
    try {
      return await this.commitInner();
    } finally {
      // Participants still being resolved let their locks go as the resolves apply; the
      // release after them is the safety net for a resolve that did not.
      if (this.settling === undefined) this.releaseLocks();
      else void this.settling.then(() => this.releaseLocks());
    }
  }

  /** Lets the next waiter have this transaction's row locks (fire and forget). */
  private releaseLocks(): void {
    if (this.lockShards.size === 0) return;
    this.kv.releaseLocks(this.lockShards, this.id);
    this.lockShards.clear();
  }

  private async commitInner(): Promise<Timestamp | undefined> {
    try {
      await this.settle();
    } catch (e) {
      this.abandon();
      throw e;
    }
    if (!this.hasWrites) return undefined;
    try {
      await this.checkAssumption();
    } catch (e) {
      this.abandon();
      throw e;
    }
    const readTs = await this.readTs();
    const writes = this.writesByShard([...this.writes.values()].map((w) => w.op));
    const { byShard: reads, replicated } = this.readsByShard();
    const participants = new Set<number>([...writes.keys(), ...this.stagedByShard.keys(), ...reads.keys()]);
    const readsOf = (shard: number): ReadSpan[] => [...(reads.get(shard) ?? []), ...replicated];
    if (participants.size > 1) return this.commitTwoPhase([...participants].sort((a, b) => a - b), readTs, writes, readsOf);
    const [shard] = participants;
    let outcome: ApplyOutcome;
    try {
      outcome = await this.kv.propose(shard, {
        type: 'commit',
        txnId: this.id,
        readTs,
        minCommitTs: readTs + 1n,
        reads: readsOf(shard),
        writes: writes.get(shard) ?? [],
      });
    } catch (e) {
      throw commitFailure(e);
    }
    if (outcome.status === 'aborted') {
      if (outcome.intent !== undefined) await this.resolveBlocker(outcome.intent, shard);
      this.abandon();
      throw new PgError(outcome.sqlstate, outcome.message, { detail: outcome.detail, constraint: outcome.constraint });
    }
    // Committed: the intents already read as committed; turning them into plain versions now
    // keeps later reads cheap. A failure here loses nothing (the leader's sweep finishes it).
    // Once every chunk is settled, the resolved marker the last one left can go too.
    if (this.stagedChunks > 0 && (await this.resolveStaged(false))) this.kv.forgetSettled([shard], this.id);
    return outcome.status === 'committed' ? outcome.commitTs : readTs + 1n;
  }

  /**
   * Two-phase commit over `shards`. Prepares go out in parallel; once all are laid, the resolve
   * on the primary's shard decides; the others follow. Any refusal or lost prepare aborts
   * everywhere (nothing can have committed: only this coordinator ever proposes a commit).
   */
  private async commitTwoPhase(
    shards: readonly number[], readTs: Timestamp, writes: ReadonlyMap<number, WriteOp[]>, readsOf: (shard: number) => ReadSpan[],
  ): Promise<Timestamp> {
    const primaryKey = this.lockedWrite ?? this.firstWrite;
    if (primaryKey === undefined) throw new PgError('XX000', 'internal error: a two-phase commit without a write');
    const primary = this.kv.shardOf(primaryKey);
    const prepared = await Promise.allSettled(
      shards.map((shard) =>
        this.proposeIdempotent(shard, { type: 'prepare', txnId: this.id, readTs, minCommitTs: readTs + 1n, primaryKey, reads: readsOf(shard), writes: writes.get(shard) ?? [] }),
      ),
    );
    let commitTs = readTs + 1n;
    let refusal: PgError | undefined;
    for (const [i, r] of prepared.entries()) {
      if (r.status === 'rejected') {
        refusal ??= new PgError('40001', 'could not serialize access: a shard did not confirm its part of the commit', {
          detail: `shard ${shards[i]}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}; the transaction was rolled back`,
        });
      } else if (r.value.status === 'aborted') {
        const o = r.value;
        if (o.intent !== undefined) await this.resolveBlocker(o.intent, shards[i]);
        if (refusal === undefined || refusal.code === '40001') refusal = new PgError(o.sqlstate, o.message, { detail: o.detail, constraint: o.constraint });
      } else if (r.value.status === 'applied' && r.value.ts !== undefined && r.value.ts > commitTs) {
        commitTs = r.value.ts;
      }
    }
    if (refusal !== undefined) {
      // A prepare whose outcome is unknown may still apply later: keep the markers that refuse it.
      await this.decide(primary, shards, { kind: 'abort' }, prepared.every((r) => r.status === 'fulfilled'));
      this.abandon();
      throw refusal;
    }
    const decided = await this.decide(primary, shards, { kind: 'commit', commitTs }, true);
    if (!decided) {
      this.abandon();
      throw new PgError('40001', 'could not serialize access: the transaction was aborted while it committed', {
        detail: 'Another transaction found it unfinished for too long and rolled it back.',
      });
    }
    if (this.stagedChunks > 0 && (await this.resolveStaged(false)) && this.participantsSettled) this.kv.forgetSettled(shards, this.id);
    return commitTs;
  }

  /**
   * Records the decision on the primary's shard (retrying: a resolve is idempotent and the
   * first one applied wins), then resolves the other participants (in the background unless
   * staged chunks wait for them). Returns whether the transaction committed. If the primary
   * cannot be reached to record a commit, the outcome is unknown (40003): a recoverer may yet
   * abort it, or the commit may have applied. Once every participant applied its resolve, no
   * intent of the transaction is left and its resolved markers are forgotten (decision 0054),
   * unless `forgettable` is false or staged chunks still wait for their own resolution.
   */
  private async decide(
    primary: number, shards: readonly number[], decision: { kind: 'commit'; commitTs: Timestamp } | { kind: 'abort' }, forgettable: boolean,
  ): Promise<boolean> {
    const entry = { type: 'resolve' as const, txnId: this.id, decision };
    let outcome: ApplyOutcome | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt < 3 && outcome === undefined; attempt++) {
      try {
        outcome = await this.kv.propose(primary, entry);
      } catch (e) {
        lastError = e;
      }
    }
    if (outcome === undefined) {
      if (decision.kind === 'abort') return false; // nothing committed; recoverers abort the rest
      throw new PgError('40003', 'transaction outcome unknown: its decision could not be recorded', {
        detail: lastError instanceof Error ? lastError.message : String(lastError),
      });
    }
    const committed = outcome.status === 'committed';
    const final = committed ? { kind: 'commit' as const, commitTs: outcome.status === 'committed' ? outcome.commitTs : 0n } : { kind: 'abort' as const };
    // The decision is durable: the other participants are resolved after the client has its
    // answer (one Raft round less per multi-shard commit). A reader that meets one of their
    // intents first learns the decision from the primary. Best effort: an intent left behind
    // is resolved by whoever meets it. Staged chunks are settled after this, so they wait.
    const settle = Promise.all(
      shards.filter((s) => s !== primary).map((s) => this.kv.propose(s, { type: 'resolve', txnId: this.id, decision: final }).then(() => true, () => false)),
    ).then((others) => {
      const settled = forgettable && others.every((ok) => ok);
      // With staged chunks the markers go after the chunks are settled (commitTwoPhase).
      if (settled && this.stagedChunks === 0) this.kv.forgetSettled(shards, this.id);
      this.participantsSettled = settled;
    });
    if (this.stagedChunks > 0) {
      await settle;
    } else {
      this.settling = settle;
      this.kv.settleInBackground(settle);
    }
    return committed;
  }

  /**
   * Proposes an entry that applying twice is the same as applying once (a stage chunk: a
   * re-delivered seq is a no-op; a prepare: a second one answers with the first's timestamp, or
   * is refused once the transaction was resolved), retrying when the shard lost its leader or
   * the outcome is unknown. A bulk load on a busy machine can cost a shard its leader; without
   * this a 1M-row COPY failed at the end on one lost prepare.
   */
  private async proposeIdempotent(shard: number, entry: LogEntry): Promise<ApplyOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.kv.propose(shard, entry);
      } catch (e) {
        const code = (e as { code?: unknown } | null)?.code;
        if (attempt >= 5 || (code !== 'ambiguous' && code !== 'unavailable' && code !== 'not-leader')) throw e;
        await this.kv.sleep(100 * 2 ** attempt);
      }
    }
  }

  /** Settles the intent that made a proposal conflict, so the retry does not meet it again. */
  private async resolveBlocker(intent: IntentRef, shard: number): Promise<void> {
    try {
      await this.kv.resolveIntent(intent, shard);
    } catch {
      // The retry will meet it again and try again.
    }
  }

  rollback(): void {
    this.done = true;
    this.releaseLocks();
    this.writes.clear();
    this.writeBytes = 0;
    this.abandon();
  }

  /** Settles when the intents of a rolled-back or failed transaction are gone (tests, shutdown). */
  get cleanedUp(): Promise<void> {
    return this.cleanup ?? Promise.resolve();
  }

  /** Removes staged intents of a transaction that will not commit, in the background. */
  private abandon(): void {
    if (this.stagedChunks === 0 || this.cleanup !== undefined) return;
    this.cleanup = (async () => {
      while (this.flushing !== undefined) await this.flushing;
      await this.resolveStaged(true);
    })();
  }

  /**
   * One resolve-staged entry per chunk sent, per shard (extra ones are no-ops); a shard stops at
   * its first failure. Returns whether every chunk was settled (else the leaders' sweeps finish).
   */
  private async resolveStaged(abort: boolean): Promise<boolean> {
    const done = await Promise.all(
      [...this.stagedByShard].map(async ([shard, chunks]) => {
        try {
          for (let i = 0; i < chunks; i++) await this.kv.propose(shard, { type: 'resolve-staged', txnId: this.id, abort });
          return true;
        } catch {
          return false;
        }
      }),
    );
    return done.every((ok) => ok);
  }

  private checkOpen(): void {
    if (this.done) throw new PgError('25000', 'transaction is already finished');
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.options.asOf !== undefined) {
      throw new PgError('25006', 'cannot write in a transaction that reads AS OF SYSTEM TIME', {
        hint: 'Historical and follower reads are read-only; run the write without AS OF SYSTEM TIME.',
      });
    }
  }
}

/**
 * The error for a 1PC commit whose proposal failed: 40003 only when the entry may have been
 * applied (it left and no answer came back); a shard that never took it (no leader within the
 * deadline) leaves nothing behind, so the transaction can simply be retried (40001).
 */
function commitFailure(e: unknown): PgError {
  const detail = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'ambiguous') return new PgError('40003', 'transaction outcome unknown: the shard lost its leader during commit', { detail });
  if (code === 'unavailable' || code === 'not-leader') {
    return new PgError('40001', 'could not commit: the shard had no leader; nothing was written', { detail, hint: 'Retry the transaction.' });
  }
  return new PgError(sqlstateOf(e) ?? '40003', `could not commit: ${detail}`, { detail });
}
