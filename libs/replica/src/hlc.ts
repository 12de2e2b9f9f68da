import type { Timestamp } from '@weft/logentry';

/**
 * The physical time source (microseconds since the Unix epoch), injected so the simulator can
 * drive it. Same shape as @weft/materialize's Clock, so one clock object serves both.
 */
export interface WallClock {
  now(): Timestamp;
}

export const systemClock: WallClock = {
  now: () => BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000)),
};

/**
 * Hybrid logical clock: never goes backwards, and never behind any timestamp it has observed
 * (commits applied, reads served), so `now()` is at least as new as everything acknowledged.
 */
export class HybridClock {
  private last: Timestamp = 0n;

  constructor(private readonly wall: WallClock) {}

  now(): Timestamp {
    const p = this.wall.now();
    if (p > this.last) this.last = p;
    return this.last;
  }

  /** The physical reading alone (to judge how far ahead a requested timestamp is). */
  physical(): Timestamp {
    return this.wall.now();
  }

  observe(ts: Timestamp): void {
    if (ts > this.last) this.last = ts;
  }
}
