// One interactive transaction over a ShardKv. Reads happen at a fixed readTs (taken from the
// shard on first use) and see this transaction's own writes; every key read and every span
// scanned is recorded so that apply can validate, at commit, that nothing newer was committed
// to it (serializable). Writes are buffered in memory; a small transaction commits as a single
// `commit` log entry (1PC). A large one (a bulk COPY, a table rewrite) sends its buffer to the
// shard as a `stage` entry each time it reaches `stageBytes`, where it is laid as intents that
// only this transaction sees, then commits with a `commit` entry of the same id and settles the
// intents with `resolve-staged` entries: no entry and no buffer ever holds the whole write set.
// Read-only transactions never propose anything.
import { randomBytes } from 'node:crypto';
import type { ShardKv } from '@weft/kv';
import type { ReadSpan, Timestamp, WriteOp } from '@weft/logentry';
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
}

type Buffered = { readonly op: WriteOp; readonly key: Buffer };

/**
 * What ROLLBACK TO SAVEPOINT restores: the write buffer (keyed by the key's latin1 string),
 * valid while nothing was staged since.
 */
export interface TxnSavepoint extends ReadonlyMap<string, Buffered> {
  readonly stagedChunks: number;
}

// Keys as latin1 strings compare exactly like the bytes (one code unit per byte), so the write
// buffer can be sorted and range-filtered with plain string comparison.
const k = (b: Buffer): string => b.toString('latin1');

export class Txn {
  private readTsValue: Timestamp | undefined;
  private readTsPromise: Promise<Timestamp> | undefined;
  private writes = new Map<string, Buffered>();
  /** Bytes in `writes`. */
  private writeBytes = 0;
  /** Bytes sent in stage entries so far. */
  private stagedBytes = 0;
  /** Stage entries sent (the next one's seq). */
  private stagedChunks = 0;
  /** Stage proposals not yet answered. */
  private inflight = 0;
  /** The last stage proposal (each waits for the one before: chunks apply in order). */
  private flushing: Promise<void> | undefined;
  /** A stage entry was refused or lost: the transaction cannot commit. */
  private failure: PgError | undefined;
  /** Scans in progress: staging waits for them (a scan must not meet writes made during it). */
  private activeScans = 0;
  private cleanup: Promise<void> | undefined;
  private readonly reads: ReadSpan[] = [];
  private readonly readPoints = new Set<string>();
  private done = false;
  /** 16 random bytes naming the transaction in its entries, intents and CDC. */
  readonly id: Buffer;

  constructor(
    readonly shard: ShardKv,
    private readonly options: TxnOptions = {},
  ) {
    this.id = options.randomId ? options.randomId() : randomBytes(16);
  }

  /** The snapshot timestamp; fixed at the first call. */
  async readTs(): Promise<Timestamp> {
    if (this.readTsValue !== undefined) return this.readTsValue;
    this.readTsPromise ??= this.shard.now().then((ts) => (this.readTsValue = ts));
    return this.readTsPromise;
  }

  get hasWrites(): boolean {
    return this.writes.size > 0 || this.stagedChunks > 0;
  }

  /** Whether part of the write set already sits on the shard as intents. */
  get staged(): boolean {
    return this.stagedChunks > 0;
  }

  /** Own intents exist on the shard only once something was staged: then reads name the txn. */
  private readOptions(): { txnId?: Buffer } {
    return this.stagedChunks > 0 ? { txnId: this.id } : {};
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

  /** Records a point read without reading (e.g. a catalog version the txn depends on). */
  notePointRead(key: Buffer): void {
    const s = k(key);
    if (this.readPoints.has(s)) return;
    this.readPoints.add(s);
    this.reads.push({ kind: 'point', key });
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    let own = this.writes.get(k(key));
    if (own === undefined && this.flushing !== undefined) {
      // The key may be in a chunk on its way to the shard.
      await this.settle();
      own = this.writes.get(k(key));
    }
    if (own) return own.op.kind === 'put' ? own.op.value : undefined;
    this.notePointRead(key);
    const row = await this.shard.get(key, await this.readTs(), this.readOptions());
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
    if (this.flushing !== undefined) await this.settle();
    const ts = await this.readTs();
    const readOptions = this.readOptions();
    const own = [...this.writes.values()]
      .filter((w) => Buffer.compare(w.key, start) >= 0 && Buffer.compare(w.key, end) < 0)
      .sort((a, b) => (reverse ? -1 : 1) * Buffer.compare(a.key, b.key));
    let oi = 0;
    let lo = start;
    let hi = end;
    let consumedTo: Buffer | undefined;
    let exhausted = false;
    let first = true;
    this.activeScans++;
    try {
      for (;;) {
        const limit = first && options.limit !== undefined ? Math.max(1, options.limit) : pageSize;
        first = false;
        const page = await this.shard.scan(lo, hi, ts, { limit, reverse, ...readOptions });
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
        if (page.resumeKey === undefined) break;
        if (reverse) hi = page.resumeKey;
        else lo = page.resumeKey;
      }
      while (oi < own.length) {
        const w = own[oi++];
        consumedTo = w.key;
        if (w.op.kind === 'put') yield { key: w.key, value: w.op.value };
      }
      exhausted = true;
    } finally {
      this.recordSpan(start, end, reverse, exhausted ? undefined : consumedTo);
      this.activeScans--;
      this.maybeStage();
    }
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
    this.checkOpen();
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
    this.maybeStage();
  }

  /** Stages the buffer once it is big enough and no scan is running. */
  private maybeStage(): void {
    if (this.done || this.activeScans > 0) return;
    if (this.writeBytes < (this.options.stageBytes ?? DEFAULT_STAGE_BYTES) && this.writes.size < (this.options.stageOps ?? DEFAULT_STAGE_OPS)) return;
    const writes = [...this.writes.values()].map((w) => w.op);
    this.writes = new Map();
    this.stagedBytes += this.writeBytes;
    this.writeBytes = 0;
    const seq = this.stagedChunks++;
    const prev = this.flushing;
    this.inflight++;
    let p: Promise<void> | undefined = undefined;
    p = (async (): Promise<void> => {
      try {
        if (prev !== undefined) await prev;
        if (this.failure !== undefined) return;
        const readTs = await this.readTs();
        const outcome = await this.shard.propose({ type: 'stage', txnId: this.id, readTs, seq, writes });
        if (outcome.status === 'aborted') {
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
    this.checkOpen();
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
      await this.settle();
    } catch (e) {
      this.abandon();
      throw e;
    }
    if (!this.hasWrites) return undefined;
    const readTs = await this.readTs();
    const writes = [...this.writes.values()].map((w) => w.op);
    let outcome;
    try {
      outcome = await this.shard.propose({
        type: 'commit',
        txnId: this.id,
        readTs,
        minCommitTs: readTs + 1n,
        reads: this.reads,
        writes,
      });
    } catch (e) {
      throw new PgError('40003', 'transaction outcome unknown: the shard lost its leader during commit', {
        detail: e instanceof Error ? e.message : String(e),
      });
    }
    if (outcome.status === 'aborted') {
      this.abandon();
      throw new PgError(outcome.sqlstate, outcome.message, { detail: outcome.detail, constraint: outcome.constraint });
    }
    // Committed: the intents already read as committed; turning them into plain versions now
    // keeps later reads cheap. A failure here loses nothing (the leader's sweep finishes it).
    if (this.stagedChunks > 0) await this.resolveStaged(false);
    return outcome.status === 'committed' ? outcome.commitTs : readTs + 1n;
  }

  rollback(): void {
    this.done = true;
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

  /** One resolve-staged entry per chunk sent (extra ones are no-ops); stops at the first failure. */
  private async resolveStaged(abort: boolean): Promise<void> {
    try {
      for (let i = 0; i < this.stagedChunks; i++) await this.shard.propose({ type: 'resolve-staged', txnId: this.id, abort });
    } catch {
      // The shard leader's sweep resolves whatever is left.
    }
  }

  private checkOpen(): void {
    if (this.done) throw new PgError('25000', 'transaction is already finished');
  }
}
