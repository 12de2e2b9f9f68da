import { ConfChangeType, type ConfChange, type Status } from '@weft/raft';

/** What the leader of a shard should do next to make its group's members equal the placement. */
export type MembershipStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'conf'; readonly change: ConfChange; readonly why: string }
  /** The leader itself must leave: hand leadership to a member that stays, then that one removes it. */
  | { readonly kind: 'transfer'; readonly to: number; readonly why: string };

/** A learner this close to the leader's commit index may vote without stalling commits. */
export const CATCH_UP_ENTRIES = 64;

/**
 * One step from the group's current membership toward `desired` (meta's placement), decided
 * by the leader from its Raft status. Steps are small and safe on their own, the order
 * CockroachDB's replicate queue uses: a new member joins as a learner (it votes in nothing while
 * a snapshot catches it up), is promoted only once it is close to the leader's commit index,
 * and the voter it replaces leaves in the same joint change, so the group never runs with
 * fewer voters than it started with. One change at a time: Raft refuses a second while one
 * is pending, and the next call sees the result. Pure; the caller proposes what it returns.
 */
export function nextMembershipStep(st: Status, desired: readonly number[]): MembershipStep {
  const none = { kind: 'none' } as const;
  if (st.state !== 'leader' || !st.progress || desired.length === 0) return none;
  const conf = st.confState;
  // Inside a joint configuration: wait for it to be left (auto-leave) before anything else.
  if (conf.votersOutgoing.length > 0 || conf.learnersNext.length > 0) return none;
  const want = new Set(desired);
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);

  for (const l of learners) {
    if (!want.has(l)) return { kind: 'conf', change: { changes: [{ type: ConfChangeType.RemoveNode, replicaId: l }], joint: false }, why: `learner ${l} is not placed here any more` };
  }
  const extra = [...voters].filter((v) => !want.has(v)).sort((a, b) => a - b);
  for (const l of [...learners].sort((a, b) => a - b)) {
    const pr = st.progress[l];
    if (!pr || pr.state !== 'replicate' || st.commit - pr.match > CATCH_UP_ENTRIES) continue;
    // Promote, and drop one voter that is not placed here in the same (joint) step.
    const leaving = extra.find((v) => v !== st.id);
    if (leaving === undefined) return { kind: 'conf', change: { changes: [{ type: ConfChangeType.AddNode, replicaId: l }], joint: false }, why: `learner ${l} caught up` };
    return {
      kind: 'conf',
      change: { changes: [{ type: ConfChangeType.AddNode, replicaId: l }, { type: ConfChangeType.RemoveNode, replicaId: leaving }], joint: true, autoLeave: true },
      why: `learner ${l} caught up; it replaces ${leaving}`,
    };
  }
  const missing = desired.filter((d) => !voters.has(d) && !learners.has(d)).sort((a, b) => a - b);
  if (missing.length > 0 && learners.size === 0) {
    return { kind: 'conf', change: { changes: [{ type: ConfChangeType.AddLearnerNode, replicaId: missing[0] }], joint: false }, why: `${missing[0]} is placed here` };
  }
  if (learners.size > 0) return none; // a learner is still catching up
  // Every placed node votes; a voter that is not placed leaves (one at a time).
  const leaving = extra.find((v) => v !== st.id);
  if (leaving !== undefined) return { kind: 'conf', change: { changes: [{ type: ConfChangeType.RemoveNode, replicaId: leaving }], joint: false }, why: `${leaving} is not placed here any more` };
  if (extra.includes(st.id)) {
    const to = [...voters].filter((v) => want.has(v) && v !== st.id).sort((a, b) => a - b)[0];
    if (to !== undefined) return { kind: 'transfer', to, why: `leader ${st.id} is not placed here any more` };
  }
  return none;
}
