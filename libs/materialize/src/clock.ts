// The wall clock the HLC reads, injected so the simulator can drive time.
import type { Timestamp } from '@weft/logentry';

export interface Clock {
  /** Physical time in microseconds since the Unix epoch. May go backwards; the HLC copes. */
  now(): Timestamp;
}

export const systemClock: Clock = {
  now: () => BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000)),
};

/**
 * Hybrid logical clock: strictly increasing timestamps that track the wall clock and never fall
 * below anything observed (commits applied, timestamps received).
 */
export class Hlc {
  private last = 0n;

  constructor(private readonly clock: Clock) {}

  /** A new timestamp, greater than every earlier one issued or observed. */
  next(): Timestamp {
    const wall = this.clock.now();
    this.last = wall > this.last ? wall : this.last + 1n;
    return this.last;
  }

  observe(ts: Timestamp): void {
    if (ts > this.last) this.last = ts;
  }
}
