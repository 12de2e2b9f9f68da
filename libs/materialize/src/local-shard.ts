// An in-process shard: one MVCC store and its materializer, no Raft. propose() encodes the entry
// and applies it at the next index, so the SQL and transaction layers (and their tests) run
// against exactly the apply semantics the replicated shard has.

import { LockTable, type KvRow, type LockReadResult, type LockWaitEdge, type ReadRequestOptions, type RefreshResult, type ScanPage, type ScanFilterCompiler, type ScanRequestOptions, type ShardKv, type TxnStatus } from '@weft/kv';
import type { ApplyOutcome, LogEntry, ReadSpan, Timestamp } from '@weft/logentry';
import { encodeEntry } from '@weft/logentry';
import { MvccStore } from '@weft/storage';
import { Clock, Hlc, systemClock } from './clock';
import { Materializer } from './materializer';

export interface LocalShardOptions {
  readonly shardId: number;
  /** Wall clock for the HLC (default: the system clock). */
  readonly clock?: Clock;
  /** fsync every apply (default false: survives a process crash, not a power loss). */
  readonly sync?: boolean;
  /** RocksDB block cache in bytes. */
  readonly cacheSize?: number;
  /** Compiles row filters pushed down with scans (decision 0038). */
  readonly scanFilters?: ScanFilterCompiler;
}

export class LocalShard implements ShardKv {
  private readonly hlc: Hlc;
  /** Largest timestamp a read was served at: later commits must land above it. */
  private maxReadTs = 0n;
  private closing = false;
  private readonly locks = new LockTable();

  private constructor(
    readonly materializer: Materializer,
    clock: Clock,
  ) {
    this.hlc = new Hlc(clock);
    this.hlc.observe(materializer.lastCommitTs);
  }

  static async open(dir: string, options: LocalShardOptions): Promise<LocalShard> {
    const store = await MvccStore.open(dir, options.cacheSize === undefined ? {} : { cacheSize: options.cacheSize });
    try {
      const m = await Materializer.open(store, options.shardId, { sync: options.sync ?? false, ...(options.scanFilters ? { scanFilters: options.scanFilters } : {}) });
      return new LocalShard(m, options.clock ?? systemClock);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  get shardId(): number {
    return this.materializer.shardId;
  }

  async now(): Promise<Timestamp> {
    return this.hlc.next();
  }

  async get(key: Buffer, ts: Timestamp, options: ReadRequestOptions = {}): Promise<KvRow | undefined> {
    this.live();
    this.noteRead(ts);
    return this.materializer.read(key, ts, this.observedLimit(options));
  }

  async getNow(keys: readonly Buffer[], minTs: Timestamp, options: ReadRequestOptions = {}): Promise<{ rows: (KvRow | undefined)[]; ts: Timestamp }> {
    this.live();
    const now = this.hlc.next();
    const ts = now > minTs ? now : minTs;
    this.noteRead(ts);
    return { rows: keys.map((key) => this.materializer.read(key, ts, options)), ts };
  }

  async scan(start: Buffer, end: Buffer, ts: Timestamp, options: ScanRequestOptions = {}): Promise<ScanPage> {
    this.live();
    this.noteRead(ts);
    return this.materializer.scan(start, end, ts, this.observedLimit(options));
  }

  /**
   * The reader's uncertainty limit lowered to this shard's clock, reported as its observed
   * timestamp, as ShardReplica does (decision 0055); later commits land above it (noteRead).
   */
  private observedLimit<T extends ReadRequestOptions>(options: T): T {
    const limit = options.uncertaintyLimit;
    if (limit === undefined) return options;
    const now = this.hlc.next();
    this.noteRead(now);
    options.onObserved?.(now);
    return limit <= now ? options : { ...options, uncertaintyLimit: now };
  }

  /**
   * Applies the entry at the next index. Commits and prepares are stamped with a minCommitTs
   * above every read served so far and above the clock, so a commit never lands at or below a
   * timestamp some reader has already been answered at.
   */
  async propose(entry: LogEntry): Promise<ApplyOutcome> {
    this.live();
    let e = entry;
    if (e.type === 'commit' || e.type === 'prepare') {
      // The HLC has observed every served read, so its next value is above all of them.
      const floor = this.hlc.next();
      if (floor > e.minCommitTs) e = { ...e, minCommitTs: floor };
    }
    const data = encodeEntry(e);
    const outcome = this.materializer.apply(this.materializer.appliedIndex + 1, data);
    if (outcome === 'already-applied') throw new Error(`shard ${this.shardId}: proposal was not applied at the next index`);
    if (outcome.status === 'committed') this.hlc.observe(outcome.commitTs);
    // As on a replica: a commit or resolve lets the transaction's row locks go as it applies.
    if (e.type === 'commit' || e.type === 'resolve') this.locks.release(e.txnId.toString('hex'));
    return outcome;
  }

  async lockRead(key: Buffer, txnId: Buffer, waitMs: number, minTs: Timestamp, options: ReadRequestOptions = {}, also: readonly Buffer[] = []): Promise<LockReadResult> {
    this.live();
    const attempt = await this.locks.acquire(key, txnId.toString('hex'), waitMs);
    if (!attempt.granted) return attempt;
    const next = this.hlc.next();
    const ts = next > minTs ? next : minTs;
    this.noteRead(ts);
    const row = this.materializer.read(key, ts, options);
    const alsoRows = also.map((k) => this.materializer.read(k, ts, options));
    return { granted: true, row, readTs: ts, newestTs: this.materializer.newestVersionTs(key), ...(also.length > 0 ? { also: alsoRows } : {}) };
  }

  async releaseLocks(txnId: Buffer): Promise<void> {
    this.locks.release(txnId.toString('hex'));
  }

  async lockWaits(): Promise<readonly LockWaitEdge[]> {
    return this.locks.waitEdges();
  }

  async refresh(txnId: Buffer, reads: readonly ReadSpan[], fromTs: Timestamp, toTs: Timestamp): Promise<RefreshResult> {
    this.live();
    this.noteRead(toTs);
    const c = this.materializer.checkReads(txnId, fromTs, reads);
    return c === undefined ? { ok: true } : { ok: false, ...c };
  }

  async txnStatus(txnId: Buffer): Promise<TxnStatus> {
    this.live();
    return this.materializer.txnStatus(txnId);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.materializer.store.close();
  }

  private noteRead(ts: Timestamp): void {
    if (ts > this.maxReadTs) this.maxReadTs = ts;
    this.hlc.observe(ts);
  }

  private live(): void {
    if (this.closing) throw new Error(`shard ${this.shardId} is closed`);
  }
}
