import { Prng } from './prng';

describe('Prng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Prng(7);
    const b = new Prng(7);
    const c = new Prng(8);
    const xs = Array.from({ length: 20 }, () => a.nextU32());
    expect(Array.from({ length: 20 }, () => b.nextU32())).toEqual(xs);
    expect(Array.from({ length: 20 }, () => c.nextU32())).not.toEqual(xs);
  });

  it('int(n) stays in range and is roughly uniform', () => {
    const r = new Prng(1);
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
    expect(() => r.int(0)).toThrow(RangeError);
  });

  it('float, chance, pick, range, shuffle behave', () => {
    const r = new Prng(3);
    for (let i = 0; i < 1000; i++) {
      const f = r.float();
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThan(1);
      const x = r.range(5, 7);
      expect(x).toBeGreaterThanOrEqual(5);
      expect(x).toBeLessThanOrEqual(7);
    }
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
    expect(['a', 'b']).toContain(r.pick(['a', 'b']));
    expect(r.shuffle([1, 2, 3, 4]).sort()).toEqual([1, 2, 3, 4]);
  });

  it('forks independent streams that do not depend on parent consumption', () => {
    const p1 = new Prng(99);
    const p2 = new Prng(99);
    p2.nextU32();
    p2.nextU32();
    const f1 = p1.fork('net');
    const f2 = p2.fork('net');
    expect(f1.nextU32()).toBe(f2.nextU32());
    expect(p1.fork('disk').nextU32()).not.toBe(p1.fork('net').nextU32());
  });
});
