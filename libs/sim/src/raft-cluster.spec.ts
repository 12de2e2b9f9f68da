import { createHash } from 'node:crypto';
import { runClusterSim } from './raft-cluster';
import { formatFailure } from './runner';

function tracedRun(seed: number, steps = 1500): { hash: string; sha: string; lines: number; ok: boolean } {
  const h = createHash('sha256');
  let lines = 0;
  const r = runClusterSim({
    seed,
    steps,
    trace: (l) => {
      h.update(l).update('\n');
      lines++;
    },
  });
  return { hash: r.traceHash, sha: h.digest('hex'), lines, ok: r.ok };
}

describe('raft cluster simulation', () => {
  it('is deterministic: the same seed gives an identical event trace', () => {
    for (const seed of [1, 7, 42]) {
      const a = tracedRun(seed);
      const b = tracedRun(seed);
      expect(b.sha).toBe(a.sha);
      expect(b.hash).toBe(a.hash);
      expect(a.lines).toBeGreaterThan(500);
    }
    expect(tracedRun(1).sha).not.toBe(tracedRun(2).sha);
    // Tracing must not perturb the run: the untraced hash matches.
    expect(runClusterSim({ seed: 7, steps: 1500 }).traceHash).toBe(tracedRun(7).hash);
  });

  it('exercises faults, clients and elections across seeds', () => {
    let crashes = 0;
    let completed = 0;
    let unknown = 0;
    let leaders = 0;
    for (let seed = 1000; seed < 1020; seed++) {
      const r = runClusterSim({ seed, steps: 1500 });
      if (!r.ok) throw new Error(formatFailure(r, 1500));
      crashes += r.stats.crashes;
      completed += r.stats.completedOps;
      unknown += r.stats.unknownOps;
      leaders += r.stats.leaders;
    }
    expect(crashes).toBeGreaterThan(5);
    expect(completed).toBeGreaterThan(200);
    expect(unknown).toBeGreaterThan(0);
    expect(leaders).toBeGreaterThan(20);
  });

  it('changes membership through the log (learners, promotion, removal, replacing a dead voter) and stays safe', () => {
    let changes = 0;
    let retired = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const r = runClusterSim({ seed, steps: 2000, membership: true });
      if (!r.ok) throw new Error(formatFailure(r, 2000));
      changes += r.stats.confChanges;
      retired += r.stats.retired;
    }
    expect(changes).toBeGreaterThan(60);
    // Removed voters and learners, and dead voters replaced by new replicas, are gone for good.
    expect(retired).toBeGreaterThan(5);
  });

  it('also holds with lease-based reads', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = runClusterSim({ seed, steps: 1500, readOnlyOption: 'lease-based' });
      if (!r.ok) throw new Error(formatFailure(r, 1500));
    }
  });
});
