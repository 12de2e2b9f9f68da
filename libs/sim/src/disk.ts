/**
 * A simulated durable store for one replica: an ordered list of records, each either synced
 * (survives a crash) or not yet. It models what a real WAL on a real disk can do to you:
 *
 * - a write is only durable after a sync that began after it completes;
 * - a crash loses unsynced writes, except that the OS may already have flushed some prefix of
 *   them (so "more durable than you asked" must also be safe);
 * - the last write that reached the platter may be torn; recovery (a checksum, in the real WAL)
 *   detects it and truncates the log there;
 * - fsync can be slow: the caller schedules the sync's completion `latency` ms later, and a
 *   crash in between loses the writes it was covering.
 */
import { Prng } from './prng';

export interface DiskOptions {
  /** Range of a normal fsync's latency (ms). */
  readonly syncMinMs: number;
  readonly syncMaxMs: number;
  /** Range while the disk is degraded (see `setSlow`). */
  readonly slowSyncMinMs: number;
  readonly slowSyncMaxMs: number;
  /** On crash, probability that some unsynced prefix still reached the disk. */
  readonly partialFlushRate: number;
  /** On crash, probability that the last flushed record is torn (and so discarded). */
  readonly tearRate: number;
}

export const DEFAULT_DISK: DiskOptions = {
  syncMinMs: 0,
  syncMaxMs: 2,
  slowSyncMinMs: 20,
  slowSyncMaxMs: 150,
  partialFlushRate: 0.5,
  tearRate: 0.5,
};

export interface SyncTicket {
  /** Records [0, upTo) become durable when the sync completes. */
  readonly upTo: number;
  readonly latencyMs: number;
}

export interface CrashReport {
  readonly lost: number;
  readonly torn: boolean;
}

export class SimDisk<R> {
  private records: R[] = [];
  /** Records [0, synced) are durable. */
  private synced = 0;
  private slow = false;
  readonly stats = { writes: 0, syncs: 0, crashes: 0, lostWrites: 0, tornWrites: 0 };

  constructor(
    private readonly rng: Prng,
    private readonly opts: DiskOptions = DEFAULT_DISK,
  ) {}

  /** Appends a record; it is volatile until a sync covering it completes. */
  write(rec: R): void {
    this.records.push(rec);
    this.stats.writes++;
  }

  /** Starts an fsync of everything written so far; call `completeSync` after `latencyMs`. */
  beginSync(): SyncTicket {
    const [lo, hi] = this.slow
      ? [this.opts.slowSyncMinMs, this.opts.slowSyncMaxMs]
      : [this.opts.syncMinMs, this.opts.syncMaxMs];
    return { upTo: this.records.length, latencyMs: this.rng.range(lo, hi) };
  }

  completeSync(ticket: SyncTicket): void {
    // A crash may have shortened the log since the ticket was issued; the caller voids
    // tickets across crashes, but stay safe if one slips through.
    this.synced = Math.max(this.synced, Math.min(ticket.upTo, this.records.length));
    this.stats.syncs++;
  }

  setSlow(slow: boolean): void {
    this.slow = slow;
  }

  get unsyncedCount(): number {
    return this.records.length - this.synced;
  }

  /** Loses what a power cut would lose. Returns what happened, for the trace. */
  crash(): CrashReport {
    this.stats.crashes++;
    const unsynced = this.records.length - this.synced;
    let keep = 0;
    if (unsynced > 0 && this.rng.chance(this.opts.partialFlushRate)) keep = this.rng.range(1, unsynced);
    let torn = false;
    if (keep > 0 && this.rng.chance(this.opts.tearRate)) {
      // The torn record fails its checksum at recovery and is truncated away with the tail.
      keep -= 1;
      torn = true;
      this.stats.tornWrites++;
    }
    const lost = unsynced - keep;
    this.stats.lostWrites += lost;
    this.records.length = this.synced + keep;
    this.synced = this.records.length;
    return { lost, torn };
  }

  /** Everything a restarted process would read back (only call after `crash`, or for tests). */
  durableRecords(): readonly R[] {
    return this.records.slice(0, this.synced);
  }

  /** All records including volatile ones (what the running process sees). */
  allRecords(): readonly R[] {
    return this.records;
  }

  /** Replaces the record list with a compacted equivalent (all durable). */
  rewrite(records: readonly R[]): void {
    if (this.unsyncedCount > 0) throw new Error('SimDisk.rewrite: sync first');
    this.records = records.slice();
    this.synced = this.records.length;
  }
}
