import { ConfChangeError } from './errors';
import { Progress } from './progress';
import { JointConfig, MajorityConfig } from './quorum';
import { TrackerConfig } from './tracker';
import { ConfChange, ConfChangeSingle, ConfChangeType, ConfState, ReplicaId } from './types';

export interface ChangeResult {
  config: TrackerConfig;
  progress: Map<ReplicaId, Progress>;
}

/** Whether a ConfChange is a request to leave the current joint configuration. */
export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0;
}

/** Whether a ConfChange enters joint consensus (several changes, or explicitly joint). */
export function entersJoint(cc: ConfChange): boolean {
  return cc.changes.length > 0 && (cc.joint || cc.changes.length > 1);
}

/** Auto-leave default: implicit joint changes leave on their own; explicit ones wait. */
export function wantsAutoLeave(cc: ConfChange): boolean {
  return cc.autoLeave ?? !cc.joint;
}

/**
 * Computes the configuration that results from a ConfChange, on copies: the tracker is
 * swapped only if every invariant holds, so a bad change never leaves a half-applied config.
 */
export class Changer {
  private incoming: Set<ReplicaId>;
  private outgoing: Set<ReplicaId>;
  private learners: Set<ReplicaId>;
  private learnersNext: Set<ReplicaId>;
  private autoLeave: boolean;
  private progress: Map<ReplicaId, Progress>;

  constructor(
    config: TrackerConfig,
    progress: ReadonlyMap<ReplicaId, Progress>,
    private readonly lastIndex: number,
    private readonly maxInflight: number,
  ) {
    this.incoming = new Set(config.voters.incoming.ids);
    this.outgoing = new Set(config.voters.outgoing.ids);
    this.learners = new Set(config.learners);
    this.learnersNext = new Set(config.learnersNext);
    this.autoLeave = config.autoLeave;
    // Shallow clones: the learner flags change below, and a change that fails validation
    // must leave the live tracker untouched.
    this.progress = new Map();
    for (const [id, pr] of progress) {
      this.progress.set(id, Object.assign(Object.create(Progress.prototype) as Progress, pr));
    }
  }

  /** Applies any ConfChange: leave-joint, enter-joint, or a simple one-voter change. */
  apply(cc: ConfChange): ChangeResult {
    if (isLeaveJoint(cc)) return this.leaveJoint();
    if (entersJoint(cc)) return this.enterJoint(wantsAutoLeave(cc), cc.changes);
    return this.simple(cc.changes);
  }

  enterJoint(autoLeave: boolean, ccs: readonly ConfChangeSingle[]): ChangeResult {
    if (this.outgoing.size > 0) throw new ConfChangeError('config is already joint');
    if (this.incoming.size === 0) throw new ConfChangeError('cannot make a zero-voter config joint');
    this.outgoing = new Set(this.incoming);
    this.applyChanges(ccs);
    this.autoLeave = autoLeave;
    return this.finish();
  }

  leaveJoint(): ChangeResult {
    if (this.outgoing.size === 0) throw new ConfChangeError('cannot leave a non-joint config');
    for (const id of this.learnersNext) {
      this.learners.add(id);
      const pr = this.progress.get(id);
      if (pr) pr.isLearner = true;
    }
    this.learnersNext.clear();
    for (const id of this.outgoing) {
      if (!this.incoming.has(id) && !this.learners.has(id)) this.progress.delete(id);
    }
    this.outgoing.clear();
    this.autoLeave = false;
    return this.finish();
  }

  /** One voter added or removed (any number of learner changes): majorities overlap. */
  simple(ccs: readonly ConfChangeSingle[]): ChangeResult {
    if (this.outgoing.size > 0) throw new ConfChangeError('cannot apply a simple change in a joint config');
    const before = new Set(this.incoming);
    this.applyChanges(ccs);
    let diff = 0;
    for (const id of before) if (!this.incoming.has(id)) diff++;
    for (const id of this.incoming) if (!before.has(id)) diff++;
    if (diff > 1) throw new ConfChangeError('more than one voter changed without entering joint config');
    return this.finish();
  }

  private applyChanges(ccs: readonly ConfChangeSingle[]): void {
    for (const c of ccs) {
      if (c.replicaId === 0) continue; // etcd convention: id 0 is a no-op change
      switch (c.type) {
        case ConfChangeType.AddNode:
          this.makeVoter(c.replicaId);
          break;
        case ConfChangeType.AddLearnerNode:
          this.makeLearner(c.replicaId);
          break;
        case ConfChangeType.RemoveNode:
          this.remove(c.replicaId);
          break;
      }
    }
    if (this.incoming.size === 0) throw new ConfChangeError('removed all voters');
  }

  private init(id: ReplicaId, isLearner: boolean): void {
    const pr = new Progress(this.lastIndex + 1, this.maxInflight, isLearner);
    // A new replica counts as active so CheckQuorum does not depose the leader before it
    // has had a chance to talk to it.
    pr.recentActive = true;
    this.progress.set(id, pr);
  }

  private makeVoter(id: ReplicaId): void {
    const pr = this.progress.get(id);
    if (!pr) {
      this.init(id, false);
    } else {
      pr.isLearner = false;
    }
    this.learners.delete(id);
    this.learnersNext.delete(id);
    this.incoming.add(id);
  }

  private makeLearner(id: ReplicaId): void {
    const pr = this.progress.get(id);
    if (!pr) {
      this.init(id, true);
      this.learners.add(id);
      return;
    }
    if (pr.isLearner) return;
    this.incoming.delete(id);
    // Still an outgoing voter: it becomes a learner only when the joint config is left.
    if (this.outgoing.has(id)) {
      this.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      this.learners.add(id);
    }
  }

  private remove(id: ReplicaId): void {
    this.incoming.delete(id);
    this.learners.delete(id);
    this.learnersNext.delete(id);
    // Outgoing voters keep their progress: they still vote until the joint config is left.
    if (!this.outgoing.has(id)) this.progress.delete(id);
  }

  private finish(): ChangeResult {
    for (const id of this.learners) {
      if (this.incoming.has(id) || this.outgoing.has(id)) {
        throw new ConfChangeError(`replica ${id} is both a learner and a voter`);
      }
    }
    for (const id of this.learnersNext) {
      if (!this.outgoing.has(id)) throw new ConfChangeError(`learnerNext ${id} is not an outgoing voter`);
    }
    if (this.outgoing.size === 0 && this.autoLeave) throw new ConfChangeError('autoLeave outside joint config');
    return {
      config: {
        voters: new JointConfig(new MajorityConfig(this.incoming), new MajorityConfig(this.outgoing)),
        learners: this.learners,
        learnersNext: this.learnersNext,
        autoLeave: this.autoLeave,
      },
      progress: this.progress,
    };
  }
}

/** Builds tracker config and progress from a persisted ConfState (startup, snapshot restore). */
export function restoreConfig(cs: ConfState, lastIndex: number, maxInflight: number): ChangeResult {
  const progress = new Map<ReplicaId, Progress>();
  const add = (id: ReplicaId, learner: boolean): void => {
    if (progress.has(id)) return;
    const pr = new Progress(lastIndex + 1, maxInflight, learner);
    pr.recentActive = true;
    progress.set(id, pr);
  };
  for (const id of cs.voters) add(id, false);
  for (const id of cs.votersOutgoing) add(id, false);
  for (const id of cs.learners) add(id, true);
  const config: TrackerConfig = {
    voters: new JointConfig(new MajorityConfig(cs.voters), new MajorityConfig(cs.votersOutgoing)),
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.votersOutgoing.length > 0 && cs.autoLeave,
  };
  return { config, progress };
}
