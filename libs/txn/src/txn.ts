// One interactive transaction over a ShardKv. Reads happen at a fixed readTs (taken from the
// shard on first use) and see this transaction's own buffered writes; every key read and every
// span scanned is recorded so that apply can validate, at commit, that nothing newer was
// committed to it (serializable 1PC). Writes stay in memory until commit, which proposes a
// single `commit` log entry. Read-only transactions never propose anything.
import { randomBytes } from 'node:crypto';
import type { ShardKv } from '@weft/kv';
import type { ReadSpan, Timestamp, WriteOp } from '@weft/logentry';
import { PgError } from '@weft/pgwire';

export interface TxnOptions {
  /** Random source for transaction ids (injectable for the simulator). */
  readonly randomId?: () => Buffer;
  /** Page size for scans that have no limit. */
  readonly scanPageSize?: number;
  /** Largest write set one transaction may buffer, in bytes (default DEFAULT_MAX_TXN_BYTES). */
  readonly maxWriteBytes?: number;
}

/**
 * A transaction commits as one log entry, which Raft replicates as one message and every
 * replica applies in one batch: unbounded, it would exceed the transport's frame limit (64 MiB)
 * and stall the event loop long enough to cost the leader its lease. 32 MiB keeps well clear
 * of both; bigger loads are split by the client (several COPY statements).
 */
export const DEFAULT_MAX_TXN_BYTES = 32 << 20;

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

// Keys as latin1 strings compare exactly like the bytes (one code unit per byte), so the write
// buffer can be sorted and range-filtered with plain string comparison.
const k = (b: Buffer): string => b.toString('latin1');

export class Txn {
  private readTsValue: Timestamp | undefined;
  private readTsPromise: Promise<Timestamp> | undefined;
  private writes = new Map<string, Buffered>();
  private writeBytes = 0;
  private readonly reads: ReadSpan[] = [];
  private readonly readPoints = new Set<string>();
  private done = false;

  constructor(
    readonly shard: ShardKv,
    private readonly options: TxnOptions = {},
  ) {}

  /** The snapshot timestamp; fixed at the first call. */
  async readTs(): Promise<Timestamp> {
    if (this.readTsValue !== undefined) return this.readTsValue;
    this.readTsPromise ??= this.shard.now().then((ts) => (this.readTsValue = ts));
    return this.readTsPromise;
  }

  get hasWrites(): boolean {
    return this.writes.size > 0;
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
    const own = this.writes.get(k(key));
    if (own) return own.op.kind === 'put' ? own.op.value : undefined;
    this.notePointRead(key);
    const row = await this.shard.get(key, await this.readTs());
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
    const ts = await this.readTs();
    const own = [...this.writes.values()]
      .filter((w) => Buffer.compare(w.key, start) >= 0 && Buffer.compare(w.key, end) < 0)
      .sort((a, b) => (reverse ? -1 : 1) * Buffer.compare(a.key, b.key));
    let oi = 0;
    let lo = start;
    let hi = end;
    let consumedTo: Buffer | undefined;
    let exhausted = false;
    let first = true;
    try {
      for (;;) {
        const limit = first && options.limit !== undefined ? Math.max(1, options.limit) : pageSize;
        first = false;
        const page = await this.shard.scan(lo, hi, ts, { limit, reverse });
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
    if (bytes > max) {
      throw new PgError('54000', `transaction is too large: its writes exceed ${Math.round(max / (1 << 20))} MiB`, {
        detail: `A transaction commits as one replicated log entry of at most ${max} bytes.`,
        hint: 'Split the work into smaller transactions, e.g. several COPY or INSERT statements of fewer rows.',
      });
    }
    this.writeBytes = bytes;
    this.writes.set(k(key), { key, op });
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
  savepoint(): ReadonlyMap<string, Buffered> {
    return new Map(this.writes);
  }

  rollbackTo(snapshot: ReadonlyMap<string, Buffered>): void {
    this.writes = new Map(snapshot);
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
    if (this.writes.size === 0) return undefined;
    const readTs = await this.readTs();
    const writes = [...this.writes.values()].map((w) => w.op);
    let outcome;
    try {
      outcome = await this.shard.propose({
        type: 'commit',
        txnId: this.options.randomId ? this.options.randomId() : randomBytes(16),
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
      throw new PgError(outcome.sqlstate, outcome.message, { detail: outcome.detail, constraint: outcome.constraint });
    }
    return outcome.status === 'committed' ? outcome.commitTs : readTs + 1n;
  }

  rollback(): void {
    this.done = true;
    this.writes.clear();
    this.writeBytes = 0;
  }

  private checkOpen(): void {
    if (this.done) throw new PgError('25000', 'transaction is already finished');
  }
}
