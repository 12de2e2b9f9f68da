import { GcSweep, type GcPassPorts } from './gc-sweep';

const key = (n: number): Buffer => Buffer.from([n]);

/** A shard whose stored entries are the bytes 0..n-1 (one entry per key). */
function ports(n: number, proposed: [string, string][], lastCommit = { ts: 100n }): GcPassPorts {
  return {
    boundary: (from, max) => {
      const next = (from.length === 0 ? 0 : from[0]) + max;
      return next < n ? key(next) : undefined;
    },
    propose: (_t, start, end) => {
      proposed.push([start.toString('hex'), end.toString('hex')]);
      return Promise.resolve();
    },
    lastCommitTs: () => lastCommit.ts,
  };
}

describe('GcSweep', () => {
  it('walks from wrapAt to the end, then from the start to wrapAt, in bounded spans', async () => {
    const proposed: [string, string][] = [];
    const sweep = new GcSweep({ ttlUs: 10n, spanEntries: 3, wrapAt: key(5) });
    await sweep.pass(50n, ports(10, proposed));
    expect(proposed).toEqual([['05', '08'], ['08', ''], ['', '03'], ['03', '05']]);
  });

  it('starts a pass only when leading, due, and something committed above the last threshold', async () => {
    const proposed: [string, string][] = [];
    const commit = { ts: 100n };
    const p = ports(4, proposed, commit);
    const sweep = new GcSweep({ ttlUs: 1_000n, intervalMs: 1_000, spanEntries: 10, wrapAt: key(2) });
    sweep.tick(false, 5_000n, 5, p);
    sweep.tick(true, 5_000n, 5, p); // a new leader waits one interval
    sweep.tick(true, 5_000n, 900, p);
    await new Promise((r) => setImmediate(r));
    expect(proposed).toHaveLength(0);
    sweep.tick(true, 5_000n, 1_005, p); // threshold 4000 >= last commit 100 after this pass
    await new Promise((r) => setImmediate(r));
    expect(proposed).toHaveLength(2);
    sweep.tick(true, 9_000n, 2_100, p); // due, but nothing committed since: skipped
    await new Promise((r) => setImmediate(r));
    expect(proposed).toHaveLength(2);
    commit.ts = 8_500n;
    sweep.tick(true, 9_000n, 1_500, p); // not due yet (500 ms after the last start)
    sweep.tick(true, 9_500n, 2_100, p);
    await new Promise((r) => setImmediate(r));
    expect(proposed).toHaveLength(4);
  });
});
