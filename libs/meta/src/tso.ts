/**
 * The timestamp oracle's allocation rule, without I/O (the replica persists the high-water mark
 * through the meta Raft log and feeds the result back with setLimit).
 *
 * Timestamps are microseconds since the epoch. Each one is max(physical now, previous + 1): it
 * follows the clock, and when the clock stalls or steps back the "+1" acts as the logical
 * counter. None is ever above `limit`, the high-water mark this leader has made durable in the
 * log; a new leader starts from the persisted mark (reset), so its timestamps are above every
 * timestamp an older leader could have handed out, whatever the two clocks say.
 */
export class TsoAllocator {
  private last = 0n;
  private limit = 0n;

  /** Leadership start: nothing at or below `floor` (the applied high-water mark) is ever handed out again. */
  reset(floor: bigint): void {
    this.last = floor;
    this.limit = floor;
  }

  /** A higher mark is durable: timestamps up to it may be handed out. */
  setLimit(high: bigint): void {
    if (high > this.limit) this.limit = high;
  }

  get lastIssued(): bigint {
    return this.last;
  }

  get highWater(): bigint {
    return this.limit;
  }

  /** `count` consecutive timestamps (the first is returned), or undefined if they would pass the limit. */
  take(count: number, nowUs: bigint): bigint | undefined {
    const first = nowUs > this.last ? nowUs : this.last + 1n;
    const lastTs = first + BigInt(count) - 1n;
    if (lastTs > this.limit) return undefined;
    this.last = lastTs;
    return first;
  }

  /** Timestamps left below the limit at `nowUs` (0 when the clock has passed it). */
  remaining(nowUs: bigint): bigint {
    const base = nowUs > this.last ? nowUs : this.last;
    return this.limit > base ? this.limit - base : 0n;
  }

  /** The mark to persist so that `need` more timestamps fit and a window of clock time is left. */
  nextHigh(nowUs: bigint, windowUs: bigint, need: number): bigint {
    const base = nowUs > this.last ? nowUs : this.last;
    return base + BigInt(need) + windowUs;
  }
}
