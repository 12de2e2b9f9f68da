/**
 * Proves the checkers can fail: with a Raft that grants two votes in one term, some seed must
 * produce two leaders in a term (or a history that is not linearizable) and be caught.
 */
import { ClusterSimResult, runClusterSim } from './raft-cluster';
import { formatFailure } from './runner';

const SAFETY = /election-safety|leader-completeness|log-matching|state-machine-safety|apply-order|linearizability/;

describe('raft cluster simulation: a deliberately broken Raft is caught', () => {
  it('catches testingUnsafeVoteTwice within the first few hundred seeds', () => {
    const steps = 1500;
    let caught: ClusterSimResult | undefined;
    for (let seed = 1; seed <= 300 && caught === undefined; seed++) {
      const r = runClusterSim({ seed, steps, unsafeVoteTwice: true });
      // Only a safety verdict counts: a liveness failure would not prove the checkers work.
      if (!r.ok && SAFETY.test(r.reason ?? '')) caught = r;
    }
    expect(caught).toBeDefined();
    const c = caught as ClusterSimResult;
    // Print it, so the log shows which seed exposes the bug and how to replay it.
    process.stdout.write(`${formatFailure(c, steps, { unsafeVoteTwice: true })}\n`);
    // Replaying the seed reproduces the same failure at the same step.
    const again = runClusterSim({ seed: c.seed, steps, unsafeVoteTwice: true });
    expect(again.reason).toBe(c.reason);
    expect(again.step).toBe(c.step);
    expect(again.traceHash).toBe(c.traceHash);
  });
});
