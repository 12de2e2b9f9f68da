import { ClockMonitor } from './clock-monitor';

const MS = 1000;
const NOW = 1_800_000_000_000_000;
const reading = (offsetMs: number, rttMs = 2, ageMs = 0): { offsetUs: number; rttUs: number; atUs: number } => ({ offsetUs: offsetMs * MS, rttUs: rttMs * MS, atUs: NOW - ageMs * MS });

/** Runs `n` checks and returns the last verdict. */
function checks(m: ClockMonitor, n: number): ReturnType<ClockMonitor['check']> {
  let v = m.check(NOW);
  for (let i = 1; i < n; i++) v = m.check(NOW);
  return v;
}

describe('ClockMonitor (decision 0057)', () => {
  const monitor = (): ClockMonitor => new ClockMonitor({ maxOffsetUs: 250 * MS });

  it('fences a node whose clock is off from every peer, after three checks in a row, naming the offsets', () => {
    const m = monitor();
    m.record(2, reading(-400));
    m.record(3, reading(-410, 4));
    expect(checks(m, 2).fence).toBe(false);
    const v = m.check(NOW);
    expect(v.fence).toBe(true);
    expect(v.off.map((p) => p.peer)).toEqual([2, 3]);
    expect(v.reason).toContain('off from 2 of the 2 peers');
    expect(v.reason).toContain('node 2 -400.0 ms');
    expect(v.reason).toContain('more than 200 ms (80 % of the 250 ms max offset)');
  });

  it('does not fence a node that is off from only one of two peers: that peer is the one whose clock is wrong', () => {
    const m = monitor();
    m.record(2, reading(900));
    m.record(3, reading(3));
    const v = checks(m, 10);
    expect(v.fence).toBe(false);
    expect(v.off.map((p) => p.peer)).toEqual([2]);
    expect(v.measured).toBe(2);
  });

  it('counts a peer as off only when the offset is certain: beyond the tolerance by more than half the round trip', () => {
    const m = monitor();
    m.record(2, reading(150));
    expect(checks(m, 5).off).toEqual([]); // inside the tolerance
    m.record(2, reading(210, 40)); // 210 ± 20 ms: may be 190
    expect(checks(m, 5).fence).toBe(false);
    m.record(2, reading(-260, 10)); // -260 ± 5 ms: certainly beyond 200
    expect(checks(m, 3).fence).toBe(true);
  });

  it('forgets readings that are too old, and one healthy check resets the count', () => {
    const m = monitor();
    m.record(2, reading(500, 2, 11_000));
    expect(checks(m, 5)).toEqual({ measured: 0, off: [], fence: false });
    m.record(2, reading(500));
    expect(checks(m, 2).fence).toBe(false);
    m.record(2, reading(5));
    expect(m.check(NOW).fence).toBe(false);
    m.record(2, reading(500));
    expect(checks(m, 2).fence).toBe(false); // counting starts again
    expect(m.check(NOW).fence).toBe(true);
  });

  it('with no peers measured, never fences', () => {
    expect(checks(monitor(), 10)).toEqual({ measured: 0, off: [], fence: false });
  });
});
