/**
 * The CI gate: 500 seeds of the Raft cluster simulation with faults. A failure names the seed
 * and the command that replays it exactly.
 */
import { formatFailure, runSeeds } from './runner';

const SEEDS = 500;
const STEPS = 1500;

describe('raft cluster simulation: many seeds', () => {
  it(`passes seeds 1..${SEEDS} (safety, linearizability, liveness after heal)`, () => {
    const summary = runSeeds({ start: 1, count: SEEDS, steps: STEPS, stopOnFailure: false });
    const report = summary.failures.map((f) => formatFailure(f, STEPS)).join('\n');
    if (summary.failures.length > 0) {
      throw new Error(`${summary.failures.length} of ${SEEDS} seeds failed:\n${report}`);
    }
    expect(summary.seeds).toBe(SEEDS);
  }, 120_000);
});
