import { MemoryStorage } from './storage';
import { Network } from './testing/network';
import { MessageType } from './types';

describe('raft elections', () => {
  it('elects a single leader on campaign, and everyone follows it', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (const id of [1, 2, 3]) {
      const s = net.node(id).rn.status();
      expect(s.term).toBe(1);
      expect(s.lead).toBe(1);
    }
    expect(net.node(2).rn.status().state).toBe('follower');
    // The leader's no-op entry of its term is committed everywhere.
    expect(net.node(3).rn.status().commit).toBe(1);
  });

  it('elects a leader from randomized timeouts alone', () => {
    const net = new Network([1, 2, 3, 4, 5], {}, 7);
    const l = net.tickUntilLeader();
    net.tick(undefined, 3);
    for (const n of net.nodes.values()) expect(n.rn.status().lead).toBe(l);
    for (const leaders of net.leadersByTerm.values()) expect(leaders.size).toBe(1);
  });

  it('resolves a split vote in a later term', () => {
    const net = new Network([1, 2, 3, 4], {}, 3);
    // 1 and 3 campaign at once; 2 only hears 1, 4 only hears 3: 2 votes each, no winner.
    net.cutLink(1, 4);
    net.cutLink(3, 2);
    net.cutLink(1, 3);
    net.node(1).rn.campaign();
    net.node(3).rn.campaign();
    net.stabilize();
    expect(net.leader()).toBeUndefined();
    expect(net.node(1).rn.status().state).toBe('candidate');
    expect(net.node(3).rn.status().state).toBe('candidate');
    net.heal();
    const l = net.tickUntilLeader();
    expect(net.node(l).rn.status().term).toBeGreaterThan(1);
    for (const leaders of net.leadersByTerm.values()) expect(leaders.size).toBe(1);
  });

  it('rejects a candidate whose log is behind (§5.4.1)', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    net.propose(1, 'x');
    net.heal();
    net.node(3).rn.campaign();
    net.stabilize();
    // 3 bumped the term but could not win; someone with the entry leads eventually.
    expect(net.node(3).rn.status().state).not.toBe('leader');
    const l = net.tickUntilLeader();
    expect([1, 2]).toContain(l);
    expect(net.node(3).applied).toEqual(['x']);
  });

  it('PreVote keeps a partitioned node from inflating its term', () => {
    const net = new Network([1, 2, 3], { preVote: true });
    net.elect(1);
    const term = net.node(1).rn.status().term;
    net.isolate(3);
    for (let i = 0; i < 100; i++) net.node(3).rn.tick();
    net.stabilize();
    expect(net.node(3).rn.status().term).toBe(term);
    expect(net.node(3).rn.status().state).toBe('pre-candidate');
    net.heal();
    net.tick(undefined, 5);
    expect(net.leader()).toBe(1);
    expect(net.node(1).rn.status().term).toBe(term);
    expect(net.node(3).rn.status().lead).toBe(1);
  });

  it('without PreVote the same partition inflates the term and disrupts the leader', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 100; i++) net.node(3).rn.tick();
    net.stabilize();
    expect(net.node(3).rn.status().term).toBeGreaterThan(3);
    const inflated = net.node(3).rn.status().term;
    net.heal();
    // 3's next campaign carries its inflated term and deposes the healthy leader.
    net.tick(undefined, 40);
    const l = net.tickUntilLeader();
    expect(net.node(l).rn.status().term).toBeGreaterThan(inflated);
    expect(net.leadersByTerm.get(1)).toEqual(new Set([1]));
  });

  it('CheckQuorum: an isolated leader steps down after an election timeout', () => {
    const net = new Network([1, 2, 3], { checkQuorum: true });
    net.elect(1);
    net.isolate(1);
    for (let i = 0; i < 10; i++) net.node(1).rn.tick();
    expect(net.node(1).rn.status().state).toBe('leader');
    for (let i = 0; i < 11; i++) net.node(1).rn.tick();
    expect(net.node(1).rn.status().state).toBe('follower');
    expect(net.node(1).rn.status().lead).toBe(0);
  });

  it('CheckQuorum: followers with a live leader ignore a disruptive candidate (stickiness)', () => {
    const net = new Network([1, 2, 3], { checkQuorum: true });
    net.elect(1);
    net.node(3).rn.campaign();
    net.stabilize();
    expect(net.node(1).rn.status().state).toBe('leader');
    expect(net.node(2).rn.status().term).toBe(1);
    expect(net.node(2).rn.status().vote).toBe(1);
    // Votes were not even answered by 2 (in lease).
    expect(net.count((m) => m.type === MessageType.VoteResp && m.from === 2 && m.to === 3)).toBe(0);
  });

  it('the test-only unsafe switch makes a follower vote twice in one term', () => {
    for (const unsafe of [false, true]) {
      const net = new Network([]);
      for (const id of [1, 2, 3]) {
        net.add(id, MemoryStorage.withVoters([1, 2, 3]), id === 3 ? { testingUnsafeVoteTwice: unsafe } : {});
      }
      net.node(1).rn.campaign();
      net.node(2).rn.campaign();
      net.stabilize();
      const leaders = net.leadersByTerm.get(1) ?? new Set();
      if (unsafe) {
        expect([...leaders].sort()).toEqual([1, 2]);
      } else {
        expect(leaders.size).toBe(1);
      }
    }
  });
});
