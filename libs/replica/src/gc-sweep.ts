// The leader's MVCC garbage collection. Versions a read at the gc threshold would not see
// (older than the newest one at or below it) and the data of dropped tables and indexes are
// removed through `gc` log entries, so every replica (and every Kafka-fed materializer) removes
// the same entries at the same index and state hashes stay comparable. The leader walks its
// shard in key order, one span of about `spanEntries` stored entries per entry, so no apply
// has to visit the whole shard. A pass starts every `intervalMs` (default: an eighth of the
// ttl, between 1 s and 30 min) unless nothing committed since the previous pass's threshold,
// so a shard that stopped taking writes is walked until its last versions are collected, then
// left alone; a new leader waits one interval before its first pass. The threshold is the leader's clock minus `ttlUs`: reads and commits below
// it are refused from then on (72000 / 40001), which is what makes removing the data safe.
import type { Timestamp } from '@weft/logentry';
import { DROPPED_MARKER_SPAN } from '@weft/storage';

export interface GcSweepOptions {
  /** How long versions stay readable (AS OF SYSTEM TIME, long transactions); default 4 h. */
  readonly ttlUs?: bigint;
  /** Minimum time between the starts of two passes (default ttl / 8, between 1 s and 30 min). */
  readonly intervalMs?: number;
  /** Stored entries per gc entry (default 4096): bounds one apply's work. */
  readonly spanEntries?: number;
  /**
   * The walk starts at this user key and wraps around, so keys below it come last (default:
   * the end of the dropped-data markers, which sort before user tables: a pass then deletes a
   * dropped table's data before it meets the marker, and removes the marker too).
   */
  readonly wrapAt?: Buffer;
}

export const DEFAULT_GC_TTL_US = 4n * 3600n * 1_000_000n;

/** What a pass needs from its replica. */
export interface GcPassPorts {
  /** See ShardStateMachine.gcBoundary. */
  boundary(from: Buffer, maxEntries: number): Buffer | undefined;
  /** Proposes one gc entry and waits until it applied (rejects when no longer leading). */
  propose(threshold: Timestamp, start: Buffer, end: Buffer): Promise<unknown>;
  /** The newest commit timestamp applied. */
  lastCommitTs(): Timestamp;
}

export class GcSweep {
  readonly ttlUs: bigint;
  readonly intervalMs: number;
  readonly spanEntries: number;
  private readonly wrapAt: Buffer;
  private running = false;
  private lastStartMs: number | undefined;
  /** Threshold of the last completed pass: commits at or below it are collected already. */
  private collectedTo: Timestamp = -1n;

  constructor(options: GcSweepOptions = {}) {
    this.ttlUs = options.ttlUs ?? DEFAULT_GC_TTL_US;
    this.intervalMs = options.intervalMs ?? Math.min(30 * 60_000, Math.max(1000, Number(this.ttlUs / 8000n)));
    this.spanEntries = options.spanEntries ?? 4096;
    this.wrapAt = options.wrapAt ?? DROPPED_MARKER_SPAN.end;
    if (this.ttlUs <= 0n) throw new RangeError(`gc ttl must be positive, got ${this.ttlUs} µs`);
    if (!Number.isInteger(this.spanEntries) || this.spanEntries < 1) throw new RangeError(`gc span entries must be a positive integer, got ${this.spanEntries}`);
  }

  /** Starts a pass if one is due; `nowUs` is the leader's clock. Followers call it with `leading` false. */
  tick(leading: boolean, nowUs: Timestamp, nowMs: number, ports: GcPassPorts): void {
    if (!leading) {
      this.collectedTo = -1n;
      this.lastStartMs = undefined;
      return;
    }
    // A new leader waits one interval before its first pass (a restart does not walk at once).
    if (this.lastStartMs === undefined) {
      this.lastStartMs = nowMs;
      return;
    }
    if (this.running || nowMs - this.lastStartMs < this.intervalMs) return;
    const threshold = nowUs - this.ttlUs;
    if (threshold <= 0n || ports.lastCommitTs() <= this.collectedTo) return;
    this.running = true;
    this.lastStartMs = nowMs;
    void this.pass(threshold, ports).finally(() => {
      this.running = false;
    });
  }

  /** One walk over the shard; returns the number of gc entries it proposed. */
  async pass(threshold: Timestamp, ports: GcPassPorts): Promise<number> {
    let entries = 0;
    // [wrapAt, end of keyspace), then [start, wrapAt).
    const walk = async (from: Buffer, stop: Buffer | undefined): Promise<void> => {
      for (;;) {
        let end = ports.boundary(from, this.spanEntries);
        if (stop !== undefined && (end === undefined || end.compare(stop) >= 0)) end = stop;
        await ports.propose(threshold, from, end ?? Buffer.alloc(0));
        entries++;
        if (end === undefined || end === stop) return;
        from = end;
      }
    };
    try {
      await walk(this.wrapAt, undefined);
      await walk(Buffer.alloc(0), this.wrapAt);
      this.collectedTo = threshold;
    } catch {
      // Not leading any more, or the log is stuck: a later pass (or leader) starts over.
    }
    return entries;
  }
}
