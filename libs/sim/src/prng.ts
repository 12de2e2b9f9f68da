/**
 * A small seeded PRNG for the simulator. Everything random in a simulation run comes from one
 * root Prng, so a seed names exactly one execution. The generator is sfc32 (small, fast,
 * passes PractRand for our purposes); its 128-bit state is filled with splitmix32 so that
 * adjacent seeds (1, 2, 3, ...) still give unrelated streams.
 */

/** The randomness the Raft core accepts (`RawNode`'s `rand` option). */
export interface RandomSource {
  /** A uniform integer in [0, n). */
  int(n: number): number;
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over a string: used to turn fork labels into seed material. */
export function hashString(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class Prng implements RandomSource {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /**
   * The seed material this stream was created from. `fork` derives children from it rather
   * than from the current state, so a child's stream does not depend on how many numbers the
   * parent has drawn: adding a draw in one subsystem never perturbs another subsystem.
   */
  private readonly origin: number;

  constructor(seed: number) {
    this.origin = seed >>> 0;
    const st = { s: this.origin };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    // Discard a few outputs: sfc32 mixes slowly from a fresh state.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  /** A uniform integer in [0, n). Rejection sampling keeps it unbiased for any n ≤ 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new RangeError(`Prng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** A uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.float() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new RangeError('Prng.pick: empty array');
    return arr[this.int(arr.length)];
  }

  /** A Fisher–Yates shuffled copy. */
  shuffle<T>(arr: readonly T[]): T[] {
    const out = arr.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /**
   * An independent deterministic stream for a subsystem. The same label on the same parent
   * always yields the same stream, so labels must be unique per purpose (e.g. `net`,
   * `disk/2`, `raft/3#1` for replica 3's first incarnation).
   */
  fork(label: string): Prng {
    return new Prng(hashString(label, this.origin ^ 0x5bd1e995));
  }
}
