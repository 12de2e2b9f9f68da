import { ConsoleFeed } from './console-feed';

describe('console feed', () => {
  it('tracks sessions and the statement each is running', () => {
    const f = new ConsoleFeed();
    f.opened(7, 'alice', 'app', '127.0.0.1');
    f.opened(8, 'bob', '', '10.0.0.2');
    f.started(7, 'UPDATE t SET v = 1 WHERE id = 1');
    let s = f.snapshot().sessions;
    expect(s.map((x) => [x.pid, x.state, x.statement])).toEqual([
      [7, 'active', 'UPDATE t SET v = 1 WHERE id = 1'],
      [8, 'idle', null],
    ]);
    expect(s[0].runningMs).toBeGreaterThanOrEqual(0);
    f.ended(7, 'update', 3, 'acme');
    f.closed(8);
    s = f.snapshot().sessions;
    expect(s.map((x) => [x.pid, x.state, x.tenant])).toEqual([[7, 'idle', 'acme']]);
  });

  it('reports p50/p99 of recent statements, totals, and keeps only the 10 slowest, text clipped', () => {
    const f = new ConsoleFeed();
    f.opened(1, 'u', '', '');
    for (let i = 1; i <= 100; i++) {
      f.started(1, `SELECT ${i} ${'x'.repeat(300)}`);
      f.ended(1, 'select', i, 'u');
    }
    f.commits = 100;
    const snap = f.snapshot();
    expect(snap.statements).toBe(100);
    expect(snap.latencyMs).toEqual({ p50: 51, p99: 100, count: 100 });
    expect(snap.slowest.map((x) => x.ms)).toEqual([100, 99, 98, 97, 96, 95, 94, 93, 92, 91]);
    expect(snap.slowest[0].text.startsWith('SELECT 100 x')).toBe(true);
    expect(snap.slowest[0].text.length).toBe(201);
  });
});
