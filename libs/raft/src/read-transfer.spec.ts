import { ProposalDroppedError } from './errors';
import { bytes, Network, str } from './testing/network';
import { MessageType } from './types';

describe('ReadIndex', () => {
  it('safe: the leader serves a read after a heartbeat quorum, at its commit index', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'w');
    const commit = net.node(1).rn.status().commit;
    net.node(1).rn.readIndex(bytes('r1'));
    net.stabilize();
    expect(net.node(1).readStates).toEqual([{ index: commit, ctx: bytes('r1') }]);
    expect(net.count((m) => m.type === MessageType.HeartbeatResp && str(m.context ?? new Uint8Array()) === 'r1')).toBe(2);
  });

  it('safe: a follower read is forwarded and answered with the leader commit index', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'w');
    net.node(3).rn.readIndex(bytes('f'));
    net.stabilize();
    expect(net.node(3).readStates).toEqual([{ index: net.node(1).rn.status().commit, ctx: bytes('f') }]);
  });

  it('safe: a leader cut off from the quorum cannot serve reads', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(1);
    net.node(1).rn.readIndex(bytes('stale?'));
    net.tick([1], 3);
    expect(net.node(1).readStates).toEqual([]);
    net.heal();
    net.tick([1], 1);
    // Once it reaches the quorum again (and is still leader) the read completes.
    expect(net.node(1).readStates.map((r) => str(r.ctx))).toEqual(['stale?']);
  });

  it('waits for an entry of the leader term to commit before answering', () => {
    const net = new Network([1, 2, 3]);
    net.filter = (m) => m.type !== MessageType.App;
    net.elect(1);
    net.node(1).rn.readIndex(bytes('early'));
    net.stabilize();
    expect(net.node(1).readStates).toEqual([]);
    net.filter = undefined;
    net.tick([1], 1);
    expect(net.node(1).readStates).toEqual([{ index: 1, ctx: bytes('early') }]);
  });

  it('lease-based: answers locally within the lease, never after it (drift margin)', () => {
    const net = new Network([1, 2, 3], { readOnlyOption: 'lease-based', checkQuorum: true, leaseMarginTicks: 3 });
    net.elect(1);
    net.tick([1], 1); // a heartbeat round that a quorum acks: the lease starts at its send tick
    const leader = net.node(1).rn;
    const sentAt = leader.raft.now;
    net.isolate(1);
    leader.readIndex(bytes('lease'));
    net.stabilize();
    // Answered without any new heartbeat round-trip.
    expect(net.node(1).readStates.map((r) => str(r.ctx))).toEqual(['lease']);
    // Lease = electionTick (10) - margin (3) = 7 ticks after the acked heartbeat was sent.
    while (leader.raft.now < sentAt + 6) leader.tick();
    expect(leader.raft.leaseValid()).toBe(true);
    leader.tick();
    expect(leader.raft.leaseValid()).toBe(false);
    net.stabilize();
    leader.readIndex(bytes('expired'));
    net.stabilize();
    expect(net.node(1).readStates.map((r) => str(r.ctx))).toEqual(['lease']);
    // And the lease expires before CheckQuorum deposes the leader: no window with two leaders.
    expect(leader.status().state).toBe('leader');
  });

  it('lease-based: a leader transferring leadership stops trusting its lease', () => {
    const net = new Network([1, 2, 3], { readOnlyOption: 'lease-based', checkQuorum: true });
    net.elect(1);
    net.tick([1], 1);
    expect(net.node(1).rn.raft.leaseValid()).toBe(true);
    net.filter = (m) => m.type !== MessageType.TimeoutNow;
    net.node(1).rn.transferLeader(2);
    net.stabilize();
    expect(net.node(1).rn.raft.leaseValid()).toBe(false);
  });
});

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date follower via TimeoutNow', () => {
    const net = new Network([1, 2, 3], { checkQuorum: true, preVote: true });
    net.elect(1);
    net.propose(1, 'a');
    net.node(1).rn.transferLeader(2);
    net.stabilize();
    expect(net.leader()).toBe(2);
    expect(net.node(1).rn.status().state).toBe('follower');
    expect(net.node(1).rn.status().lead).toBe(2);
    net.propose(2, 'b');
    expect(net.node(1).applied).toEqual(['a', 'b']);
  });

  it('catches a lagging transferee up first, then transfers', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.propose(1, 'a');
    net.heal();
    net.node(1).rn.transferLeader(3);
    net.stabilize();
    expect(net.leader()).toBe(3);
    expect(net.node(3).applied).toEqual(['a']);
  });

  it('refuses proposals during a transfer and aborts it after an election timeout', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.node(1).rn.transferLeader(3);
    net.stabilize();
    expect(net.node(1).rn.status().leadTransferee).toBe(3);
    expect(() => net.node(1).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);
    net.tick([1], 10);
    expect(net.node(1).rn.status().leadTransferee).toBe(0);
    expect(net.node(1).rn.status().state).toBe('leader');
    expect(() => net.node(1).rn.propose(bytes('x'))).not.toThrow();
  });

  it('can be requested from a follower (forwarded to the leader)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.node(2).rn.transferLeader(2);
    net.stabilize();
    expect(net.leader()).toBe(2);
  });
});
