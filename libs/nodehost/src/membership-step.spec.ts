import { ConfChangeType, type ProgressStatus, type Status } from '@weft/raft';
import { CATCH_UP_ENTRIES, nextMembershipStep } from './membership-step';

const pr = (match: number, isLearner = false, state: ProgressStatus['state'] = 'replicate'): ProgressStatus => ({ match, next: match + 1, state, isLearner, inflight: 0, recentActive: true });

function leader(voters: number[], learners: number[] = [], progress: Record<number, ProgressStatus> = {}, extra: Partial<Status> = {}): Status {
  const p: Record<number, ProgressStatus> = {};
  for (const v of voters) p[v] = pr(100);
  for (const l of learners) p[l] = pr(0, true, 'snapshot');
  return {
    id: voters[0],
    term: 3,
    vote: voters[0],
    lead: voters[0],
    state: 'leader',
    commit: 100,
    applied: 100,
    leadTransferee: 0,
    confState: { voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false },
    progress: { ...p, ...progress },
    ...extra,
  };
}

describe('nextMembershipStep (a dead replica replaced by a new node)', () => {
  it('does nothing when the members are the placement, or when not the leader', () => {
    expect(nextMembershipStep(leader([1, 2, 3]), [1, 2, 3])).toEqual({ kind: 'none' });
    expect(nextMembershipStep({ ...leader([1, 2, 3]), state: 'follower', progress: undefined }, [1, 2, 4])).toEqual({ kind: 'none' });
  });

  it('adds the new node as a learner first, never straight as a voter', () => {
    const s = nextMembershipStep(leader([1, 2, 3]), [1, 2, 4]);
    expect(s).toMatchObject({ kind: 'conf', change: { changes: [{ type: ConfChangeType.AddLearnerNode, replicaId: 4 }] } });
  });

  it('waits while the learner catches up, then promotes it and removes the replaced voter in one joint change', () => {
    expect(nextMembershipStep(leader([1, 2, 3], [4]), [1, 2, 4])).toEqual({ kind: 'none' });
    expect(nextMembershipStep(leader([1, 2, 3], [4], { 4: pr(100 - CATCH_UP_ENTRIES - 1, true) }), [1, 2, 4])).toEqual({ kind: 'none' });
    const s = nextMembershipStep(leader([1, 2, 3], [4], { 4: pr(99, true) }), [1, 2, 4]);
    expect(s).toEqual({
      kind: 'conf',
      change: { changes: [{ type: ConfChangeType.AddNode, replicaId: 4 }, { type: ConfChangeType.RemoveNode, replicaId: 3 }], joint: true, autoLeave: true },
      why: 'learner 4 caught up; it replaces 3',
    });
  });

  it('waits inside a joint configuration', () => {
    const st = leader([1, 2, 4]);
    expect(nextMembershipStep({ ...st, confState: { ...st.confState, votersOutgoing: [1, 2, 3] } }, [1, 2, 4])).toEqual({ kind: 'none' });
  });

  it('removes learners and voters that are not placed, and hands off leadership before the leader leaves', () => {
    expect(nextMembershipStep(leader([1, 2, 3], [5]), [1, 2, 3])).toMatchObject({ change: { changes: [{ type: ConfChangeType.RemoveNode, replicaId: 5 }] } });
    expect(nextMembershipStep(leader([1, 2, 3, 4]), [1, 2, 4])).toMatchObject({ change: { changes: [{ type: ConfChangeType.RemoveNode, replicaId: 3 }] } });
    expect(nextMembershipStep(leader([1, 2, 3, 4]), [2, 3, 4])).toEqual({ kind: 'transfer', to: 2, why: 'leader 1 is not placed here any more' });
  });
});
