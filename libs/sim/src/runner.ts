/**
 * Runs many seeds of the cluster simulation and reports failures in the one format every
 * entry point (CLI, Jest) shares, so a red CI log always says how to replay.
 */
import { ClusterSimOptions, ClusterSimResult, runClusterSim } from './raft-cluster';

export interface SeedRunOptions {
  readonly start: number;
  readonly count: number;
  readonly steps: number;
  readonly unsafeVoteTwice?: boolean;
  readonly readOnlyOption?: ClusterSimOptions['readOnlyOption'];
  /** Stop at the first failure (default true). */
  readonly stopOnFailure?: boolean;
  readonly onResult?: (r: ClusterSimResult) => void;
}

export interface SeedRunSummary {
  readonly seeds: number;
  readonly failures: readonly ClusterSimResult[];
  readonly wallMs: number;
}

/** The two lines a failure prints: what broke, and the command that replays it. */
export function formatFailure(
  r: ClusterSimResult,
  steps: number,
  flags: { readonly lease?: boolean; readonly unsafeVoteTwice?: boolean } = {},
): string {
  let extra = steps === DEFAULT_STEPS ? '' : ` --steps ${steps}`;
  if (flags.lease === true) extra += ' --lease';
  if (flags.unsafeVoteTwice === true) extra += ' --unsafe-vote-twice';
  return `sim: seed ${r.seed} failed at step ${r.step}: ${r.reason ?? 'unknown'}\nreplay: npm run sim -- --seed ${r.seed}${extra}`;
}

export const DEFAULT_STEPS = 2000;

export function runSeeds(o: SeedRunOptions): SeedRunSummary {
  // Wall time is only measured for the report; nothing in a run depends on it.
  const t0 = process.hrtime.bigint();
  const failures: ClusterSimResult[] = [];
  let n = 0;
  for (let seed = o.start; seed < o.start + o.count; seed++) {
    const r = runClusterSim({
      seed,
      steps: o.steps,
      unsafeVoteTwice: o.unsafeVoteTwice,
      readOnlyOption: o.readOnlyOption,
    });
    n++;
    o.onResult?.(r);
    if (!r.ok) {
      failures.push(r);
      if (o.stopOnFailure !== false) break;
    }
  }
  return { seeds: n, failures, wallMs: Number(process.hrtime.bigint() - t0) / 1e6 };
}
