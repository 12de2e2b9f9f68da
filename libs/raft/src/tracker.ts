import { Progress } from './progress';
import { JointConfig, MajorityConfig, VoteResult } from './quorum';
import { ConfState, ReplicaId } from './types';

/** Membership as the leader tracks it (the in-memory twin of ConfState). */
export interface TrackerConfig {
  readonly voters: JointConfig;
  /** Learners: receive the log, never vote or count toward quorum. */
  readonly learners: ReadonlySet<ReplicaId>;
  /**
   * Replicas being demoted from voter to learner inside a joint config: they are still
   * outgoing voters, and become learners when the joint config is left (a replica is never
   * both a voter and a learner at once).
   */
  readonly learnersNext: ReadonlySet<ReplicaId>;
  /** Leave the joint config automatically once it is applied. */
  readonly autoLeave: boolean;
}

export function emptyConfig(): TrackerConfig {
  return { voters: new JointConfig(), learners: new Set(), learnersNext: new Set(), autoLeave: false };
}

const sortIds = (ids: Iterable<ReplicaId>): ReplicaId[] => [...ids].sort((a, b) => a - b);

export function configToConfState(c: TrackerConfig): ConfState {
  return {
    voters: c.voters.incoming.sorted(),
    learners: sortIds(c.learners),
    votersOutgoing: c.voters.outgoing.sorted(),
    learnersNext: sortIds(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

/** Tracks membership, per-replica progress (leader), and votes (candidate). */
export class ProgressTracker {
  config: TrackerConfig = emptyConfig();
  progress = new Map<ReplicaId, Progress>();
  votes = new Map<ReplicaId, boolean>();

  constructor(readonly maxInflight: number) {}

  confState(): ConfState {
    return configToConfState(this.config);
  }

  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && !this.config.voters.isJoint();
  }

  /** Highest index a quorum (of both halves, if joint) has persisted. */
  committed(): number {
    return this.config.voters.committedIndex((id) => this.progress.get(id)?.match);
  }

  /** All replica ids with progress, in a fixed order (determinism under the simulator). */
  ids(): ReplicaId[] {
    return sortIds(this.progress.keys());
  }

  voterIds(): ReplicaId[] {
    return sortIds(this.config.voters.ids());
  }

  /** Whether a quorum was heard from since the last check (CheckQuorum). */
  quorumActive(): boolean {
    const votes = new Map<ReplicaId, boolean>();
    for (const [id, pr] of this.progress) {
      if (!pr.isLearner) votes.set(id, pr.recentActive);
    }
    return this.config.voters.voteResult(votes) === 'won';
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** The first answer from a replica counts; duplicates (retransmits) don't change it. */
  recordVote(id: ReplicaId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: this.config.voters.voteResult(this.votes) };
  }
}

export { MajorityConfig };
