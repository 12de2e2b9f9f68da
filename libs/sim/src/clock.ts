/**
 * Virtual time. The simulator never reads a wall clock: `now` only moves when the scheduler
 * advances it to the next event, so a run is a pure function of its seed.
 *
 * Each replica also gets a `TickClock`: the rate at which it believes time passes. Real
 * servers drift and stall (GC pauses, VM steal), and Raft's lease reads are only safe if that
 * drift stays inside the configured margin, so the simulator skews and pauses ticks on purpose.
 */
export class SimClock {
  private t = 0;

  /** Virtual milliseconds since the start of the run. */
  get now(): number {
    return this.t;
  }

  advanceTo(t: number): void {
    if (t < this.t) throw new Error(`SimClock: time cannot go backwards (${this.t} -> ${t})`);
    this.t = t;
  }
}

export class TickClock {
  /** Multiplier on the nominal tick interval: >1 means this replica's clock runs slow. */
  private rate = 1;
  /** No ticks fire before this virtual time (a stalled process). */
  private stalledUntil = 0;

  constructor(readonly nominalTickMs: number) {}

  setRate(rate: number): void {
    this.rate = rate;
  }

  getRate(): number {
    return this.rate;
  }

  stall(until: number): void {
    this.stalledUntil = Math.max(this.stalledUntil, until);
  }

  reset(): void {
    this.rate = 1;
    this.stalledUntil = 0;
  }

  /** When the tick after one at `now` should fire. Integer ms keep traces exact. */
  nextTickAt(now: number): number {
    const next = now + Math.max(1, Math.round(this.nominalTickMs * this.rate));
    return Math.max(next, this.stalledUntil);
  }
}
