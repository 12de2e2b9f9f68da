/**
 * Proves the checkers can fail: with a Raft that grants two votes in one term, some seed must
 * produce two leaders in a term (or a history that is not linearizable) and be caught.
 */
import { ClusterSimResult } from './raft-cluster';
import { formatFailure, runSeeds } from './runner';

describe('raft cluster simulation: a deliberately broken Raft is caught', () => {
  it('catches testingUnsafeVoteTwice within the first few hundred seeds', () => {
    const steps = 1500;
    let caught: ClusterSimResult | undefined;
    runSeeds({
      start: 1,
      count: 300,
      steps,
      unsafeVoteTwice: true,
      stopOnFailure: true,
      onResult: (r) => {
        if (!r.ok) caught = r;
      },
    });
    expect(caught).toBeDefined();
    const c = caught as ClusterSimResult;
    // Print it, so the log shows which seed exposes the bug and how to replay it.
    process.stdout.write(`${formatFailure(c, steps)} --unsafe-vote-twice\n`);
    expect(c.reason).toMatch(/election-safety|leader-completeness|log-matching|state-machine-safety|linearizability/);
  });
});
