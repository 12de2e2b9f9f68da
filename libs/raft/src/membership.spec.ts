import { ProposalDroppedError } from './errors';
import { MemoryStorage } from './storage';
import { Network } from './testing/network';
import { decodeConfChange } from './confchange-codec';
import { ConfChange, ConfChangeType, EntryType, Message, MessageType } from './types';

const add = (id: number): ConfChange => ({ changes: [{ type: ConfChangeType.AddNode, replicaId: id }], joint: false });
const learner = (id: number): ConfChange => ({
  changes: [{ type: ConfChangeType.AddLearnerNode, replicaId: id }],
  joint: false,
});
const remove = (id: number): ConfChange => ({ changes: [{ type: ConfChangeType.RemoveNode, replicaId: id }], joint: false });

/** Five replicas all bootstrapped with voters {1,2,3}: 4 and 5 are spares until added. */
function spares(): Network {
  const net = new Network([]);
  for (const id of [1, 2, 3, 4, 5]) net.add(id, MemoryStorage.withVoters([1, 2, 3]));
  net.elect(1);
  return net;
}

describe('membership changes', () => {
  it('adds a learner (caught up by snapshot), promotes it, then removes a voter', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    const leader = net.node(1).rn;

    leader.proposeConfChange(learner(4));
    net.stabilize();
    expect(net.node(2).confState.learners).toEqual([4]);
    // A brand-new replica starts empty and is seeded from a snapshot.
    net.compact(1);
    const n4 = net.add(4, new MemoryStorage());
    net.tick([1], 2);
    expect(net.count((m) => m.type === MessageType.Snap && m.to === 4)).toBe(1);
    expect(n4.applied).toEqual(['a']);
    expect(n4.rn.raft.isLearner).toBe(true);

    // Learners never campaign ...
    net.isolate(4);
    for (let i = 0; i < 100; i++) n4.rn.tick();
    expect(n4.rn.status().state).toBe('follower');
    expect(n4.rn.status().term).toBe(1);
    // ... and don't count toward the quorum.
    net.heal();
    net.isolate(2);
    net.isolate(3);
    const commit = leader.status().commit;
    leader.propose(new TextEncoder().encode('needs-quorum'));
    net.stabilize();
    expect(leader.status().commit).toBe(commit);
    expect(n4.rn.status().commit).toBe(commit);
    net.heal();
    net.tick([1], 1);
    expect(n4.applied).toEqual(['a', 'needs-quorum']);

    leader.proposeConfChange(add(4));
    // Only one pending conf change at a time.
    expect(() => leader.proposeConfChange(remove(3))).toThrow(ProposalDroppedError);
    net.stabilize();
    expect(net.node(3).confState.voters).toEqual([1, 2, 3, 4]);
    expect(n4.rn.raft.isLearner).toBe(false);

    leader.proposeConfChange(remove(3));
    net.stabilize();
    expect(net.node(2).confState.voters).toEqual([1, 2, 4]);
    expect(leader.status().progress?.[3]).toBeUndefined();
    // {1,2,4}: 1 and 4 are a majority without 2 and 3.
    net.isolate(2);
    net.isolate(3);
    net.propose(1, 'after-remove');
    expect(n4.applied[n4.applied.length - 1]).toBe('after-remove');
  });

  it('a brand-new replica refuses appends until a snapshot seeds it (the bootstrap membership is not in the log)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.node(1).rn.proposeConfChange(learner(4));
    net.stabilize();
    // The log was never compacted: the leader could replay it from index 1, but a replica
    // with no membership would then apply conf changes to an empty configuration.
    const n4 = net.add(4, new MemoryStorage());
    net.tick([1], 2);
    expect(net.count((m) => m.type === MessageType.App && m.to === 4)).toBeGreaterThan(0);
    // One rejection moves the probe to index 1; probes there go unanswered (no hot loop).
    expect(net.count((m) => m.type === MessageType.AppResp && m.from === 4 && m.reject)).toBe(1);
    expect(n4.storage.lastIndex()).toBe(0);
    expect(n4.applied).toEqual([]);
    // Once the application snapshots (and compacts), the leader seeds it.
    net.compact(1);
    net.tick([1], 2);
    expect(n4.applied).toEqual(['a']);
    expect(n4.rn.raft.isLearner).toBe(true);
  });

  it('refuses a leader removing or demoting itself, and more than one voter change without joint', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const leader = net.node(1).rn;
    expect(() => leader.proposeConfChange(remove(1))).toThrow(/transfer leadership first/);
    expect(() => leader.proposeConfChange(learner(1))).toThrow(ProposalDroppedError);
    expect(() => leader.proposeConfChange(remove(9))).not.toThrow(); // harmless no-op change
    net.stabilize();
    expect(net.node(1).confState.voters).toEqual([1, 2, 3]);
  });

  it('applies a conf change only once committed', () => {
    const net = spares();
    net.isolate(1);
    net.node(1).rn.proposeConfChange(add(4));
    net.stabilize();
    expect(net.node(1).confState.voters).toEqual([1, 2, 3]);
    expect(net.node(1).rn.status().progress?.[4]).toBeUndefined();
    net.heal();
    net.tick([1], 1);
    expect(net.node(1).confState.voters).toEqual([1, 2, 3, 4]);
  });

  it('joint consensus: enter, require both majorities, then leave explicitly', () => {
    const net = spares();
    const leader = net.node(1).rn;
    const toNew: ConfChange = {
      changes: [
        { type: ConfChangeType.AddNode, replicaId: 4 },
        { type: ConfChangeType.AddNode, replicaId: 5 },
        { type: ConfChangeType.RemoveNode, replicaId: 2 },
        { type: ConfChangeType.RemoveNode, replicaId: 3 },
      ],
      joint: true,
    };
    leader.proposeConfChange(toNew);
    net.stabilize();
    const cs = net.node(5).confState;
    expect(cs.voters).toEqual([1, 4, 5]);
    expect(cs.votersOutgoing).toEqual([1, 2, 3]);
    expect(cs.autoLeave).toBe(false);

    // The new majority alone ({1,4,5}) cannot commit while in the joint config.
    net.isolate(2);
    net.isolate(3);
    const commit = leader.status().commit;
    leader.propose(new TextEncoder().encode('j'));
    net.stabilize();
    expect(leader.status().commit).toBe(commit);
    net.heal();
    net.tick([1], 1);
    expect(leader.status().commit).toBe(commit + 1);
    // Nor can the old majority alone ({1,2,3}).
    net.isolate(4);
    net.isolate(5);
    leader.propose(new TextEncoder().encode('k'));
    net.stabilize();
    expect(leader.status().commit).toBe(commit + 1);
    net.heal();
    net.tick([1], 1);
    expect(leader.status().commit).toBe(commit + 2);

    // No other change while joint; then leave.
    expect(() => leader.proposeConfChange(add(2))).toThrow(ProposalDroppedError);
    leader.proposeConfChange({ changes: [], joint: false });
    net.stabilize();
    expect(net.node(4).confState).toMatchObject({ voters: [1, 4, 5], votersOutgoing: [] });
    expect(leader.status().progress?.[2]).toBeUndefined();
    net.isolate(2);
    net.isolate(3);
    net.propose(1, 'new-config');
    expect(net.node(5).applied).toContain('new-config');
  });

  it('joint consensus with autoLeave: replace a replica and demote another in one step', () => {
    const net = spares();
    net.node(1).rn.proposeConfChange({
      changes: [
        { type: ConfChangeType.AddNode, replicaId: 4 },
        { type: ConfChangeType.AddLearnerNode, replicaId: 3 },
      ],
      joint: false,
    });
    net.stabilize();
    for (const id of [1, 2, 3, 4]) {
      expect(net.node(id).confState).toEqual({
        voters: [1, 2, 4],
        learners: [3],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      });
    }
    const ents = net.node(1).storage.entries(1, net.node(1).storage.lastIndex() + 1, Infinity);
    expect(ents.filter((e) => e.type === EntryType.ConfChange)).toHaveLength(2); // enter + auto leave
    expect(net.node(3).rn.raft.isLearner).toBe(true);
  });

  it('a new leader elected inside a joint config still leaves it automatically', () => {
    const net = spares();
    // The old leader's auto-leave entry never reaches anyone.
    const isLeave = (m: Message) =>
      m.from === 1 &&
      m.entries.some((e) => e.type === EntryType.ConfChange && decodeConfChange(e.data).changes.length === 0);
    net.filter = (m) => !isLeave(m);
    net.node(1).rn.proposeConfChange({
      changes: [
        { type: ConfChangeType.AddNode, replicaId: 4 },
        { type: ConfChangeType.RemoveNode, replicaId: 3 },
      ],
      joint: false,
    });
    net.stabilize();
    expect(net.node(2).confState).toMatchObject({ voters: [1, 2, 4], votersOutgoing: [1, 2, 3], autoLeave: true });
    // The leader dies; 2 must win majorities of both {1,2,4} and {1,2,3}.
    net.isolate(1);
    net.node(2).rn.campaign();
    net.stabilize();
    expect(net.node(2).rn.status().state).toBe('leader');
    net.tick([2], 1);
    for (const id of [2, 3, 4]) {
      expect(net.node(id).confState).toMatchObject({ voters: [1, 2, 4], votersOutgoing: [], autoLeave: false });
    }
    // The old leader rejoins and its stray entry is overwritten.
    net.heal();
    net.filter = undefined;
    net.tick([2], 2);
    expect(net.node(1).confState).toMatchObject({ voters: [1, 2, 4], votersOutgoing: [] });
    expect(net.node(1).rn.status().lead).toBe(2);
  });
});
