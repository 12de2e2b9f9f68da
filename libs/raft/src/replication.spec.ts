import { ProposalDroppedError } from './errors';
import { MemoryStorage } from './storage';
import { bytes, Network } from './testing/network';
import { EntryType, Message, MessageType } from './types';
import { makeMessage } from './util';

/** A storage whose log has one entry per element of `terms` (entry i+1 has terms[i]). */
function logWithTerms(voters: number[], terms: number[], hsTerm: number, commit: number): MemoryStorage {
  const s = MemoryStorage.withVoters(voters);
  s.append(terms.map((term, i) => ({ term, index: i + 1, type: EntryType.Normal, data: bytes(`e${i + 1}@${term}`) })));
  s.setHardState({ term: hsTerm, vote: 0, commit });
  return s;
}

const isApp = (from: number, to: number) => (m: Message) => m.type === MessageType.App && m.from === from && m.to === to;

describe('raft log replication', () => {
  it('replicates and applies proposals on every replica, in order', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
    net.propose(2, 'via-follower'); // forwarded to the leader
    for (const n of net.nodes.values()) {
      expect(n.applied).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'via-follower']);
    }
  });

  it('drops proposals when there is no leader', () => {
    const net = new Network([1, 2, 3]);
    expect(() => net.node(1).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);
    net.node(1).rn.campaign(); // candidate now
    expect(() => net.node(1).rn.propose(bytes('x'))).toThrow(ProposalDroppedError);
  });

  it('repairs a conflicting follower log with term-aware fast back-off', () => {
    const net = new Network([]);
    const leaderTerms = [1, 1, 1, 1, 1, 4, 4, 4, 4, 4];
    // The follower has 95 entries of stale terms that never committed.
    const followerTerms = [1, 1, 1, 1, 1, ...Array<number>(55).fill(2), ...Array<number>(40).fill(3)];
    net.add(1, logWithTerms([1, 2, 3], leaderTerms, 4, 5));
    net.add(2, logWithTerms([1, 2, 3], followerTerms, 4, 5));
    net.add(3, logWithTerms([1, 2, 3], leaderTerms, 4, 5));
    net.elect(1);
    net.propose(1, 'after');
    const rejects = net.count((m) => m.type === MessageType.AppResp && m.from === 2 && m.reject);
    // Naive back-off would need ~90 round trips; one term-aware hint is enough here.
    expect(rejects).toBeLessThanOrEqual(2);
    expect(net.count(isApp(1, 2))).toBeLessThanOrEqual(5);
    const n2 = net.node(2);
    const last = n2.storage.lastIndex();
    expect(last).toBe(net.node(1).storage.lastIndex());
    const ents = n2.storage.entries(1, last + 1, Infinity);
    const lents = net.node(1).storage.entries(1, last + 1, Infinity);
    expect(ents.map((e) => e.term)).toEqual(lents.map((e) => e.term));
    expect(n2.applied[n2.applied.length - 1]).toBe('after');
    expect(n2.applied).toEqual(net.node(1).applied);
  });

  it('repairs a follower whose log is shorter and older (probe walks by term, not by index)', () => {
    const net = new Network([]);
    const leaderTerms = [1, ...Array<number>(30).fill(2), ...Array<number>(30).fill(3)];
    net.add(1, logWithTerms([1, 2, 3], leaderTerms, 3, 1));
    net.add(2, logWithTerms([1, 2, 3], [1], 3, 1));
    net.add(3, logWithTerms([1, 2, 3], leaderTerms, 3, 1));
    net.elect(1);
    const rejects = net.count((m) => m.type === MessageType.AppResp && m.from === 2 && m.reject);
    expect(rejects).toBe(1);
    expect(net.node(2).storage.lastIndex()).toBe(62);
    expect(net.node(2).rn.status().commit).toBe(62);
  });

  it('pipelines appends up to the in-flight window, then pauses until acks arrive', () => {
    const net = new Network([1, 2, 3], { maxInflightMsgs: 3 });
    net.elect(1);
    const leader = net.node(1).rn;
    const sent: Message[] = [];
    for (let i = 0; i < 10; i++) {
      leader.propose(bytes(`p${i}`));
      // One Ready per proposal: each could become its own append.
      sent.push(...net.collect(1));
    }
    const to2 = sent.filter(isApp(1, 2));
    // Three appends in flight without waiting for any answer (pipelining), then paused.
    expect(to2).toHaveLength(3);
    expect(to2.map((m) => m.index)).toEqual([1, 2, 3]);
    expect(leader.status().progress?.[2].inflight).toBe(3);
    expect(leader.status().progress?.[2].state).toBe('replicate');
    net.deliver(sent);
    net.stabilize();
    for (const n of net.nodes.values()) expect(n.applied).toHaveLength(10);
    expect(leader.status().progress?.[2].inflight).toBe(0);
  });

  it('batches proposals made before the next Ready into one append per follower', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    const leader = net.node(1).rn;
    for (let i = 0; i < 20; i++) leader.propose(bytes(`b${i}`));
    leader.proposeBatch([bytes('c0'), bytes('c1')]);
    const msgs = net.collect(1);
    const to2 = msgs.filter(isApp(1, 2));
    expect(to2).toHaveLength(1);
    expect(to2[0].entries).toHaveLength(22);
    net.deliver(msgs);
    net.stabilize();
    expect(net.node(3).applied).toHaveLength(22);
  });

  it('respects maxSizePerMsg by splitting appends', () => {
    const net = new Network([1, 2, 3], { maxSizePerMsg: 200 });
    net.elect(1);
    const leader = net.node(1).rn;
    for (let i = 0; i < 10; i++) leader.propose(new Uint8Array(100).fill(i + 1));
    const msgs = net.collect(1).filter(isApp(1, 2));
    expect(msgs.length).toBeGreaterThan(1);
    for (const m of msgs) expect(m.entries.length).toBeLessThanOrEqual(2);
  });

  it('drops proposals beyond maxUncommittedEntriesSize', () => {
    const net = new Network([1, 2, 3], { maxUncommittedEntriesSize: 250 });
    net.elect(1);
    net.isolate(1);
    const leader = net.node(1).rn;
    leader.propose(new Uint8Array(100));
    leader.propose(new Uint8Array(100));
    expect(() => leader.propose(new Uint8Array(100))).toThrow(ProposalDroppedError);
    net.heal();
    net.tick([1], 2);
    // Once committed and applied, room frees up again.
    expect(() => leader.propose(new Uint8Array(100))).not.toThrow();
  });

  it('commits only entries of the current term by counting replicas (Figure 8)', () => {
    const net = new Network([]);
    net.add(1, logWithTerms([1, 2, 3], [1, 2], 2, 1));
    net.add(2, logWithTerms([1, 2, 3], [1], 2, 1));
    net.add(3, logWithTerms([1, 2, 3], [1], 2, 1));
    // 1 wins term 3 but its appends are lost for now.
    net.filter = (m) => m.type !== MessageType.App;
    net.elect(1);
    const r = net.node(1).rn.raft;
    expect(r.term).toBe(3);
    expect(r.raftLog.lastIndex()).toBe(3); // [t1, t2, no-op t3]
    // A majority (1 and 2) now holds the term-2 entry at index 2 ...
    net.node(1).rn.step(makeMessage({ type: MessageType.AppResp, from: 2, to: 1, term: 3, index: 2 }));
    // ... but it is from an older term, so it must not be committed by counting.
    expect(r.raftLog.committed).toBe(1);
    net.node(1).rn.step(makeMessage({ type: MessageType.AppResp, from: 2, to: 1, term: 3, index: 3 }));
    // The current-term entry commits, and everything before it with it.
    expect(r.raftLog.committed).toBe(3);
  });

  it('catches up a lagging follower with a snapshot after the leader compacts', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'a');
    net.isolate(3);
    for (let i = 0; i < 20; i++) net.propose(1, `x${i}`);
    // The application decides the compaction point (Weft: after the Kafka mirror).
    const at = net.compact(1);
    expect(net.node(1).storage.firstIndex()).toBe(at + 1);
    net.heal();
    net.tick([1], 2);
    expect(net.count((m) => m.type === MessageType.Snap && m.to === 3)).toBe(1);
    const n3 = net.node(3);
    expect(n3.storage.snapshot().metadata.index).toBe(at);
    expect(n3.applied).toEqual(net.node(1).applied);
    // And it keeps replicating normally afterwards.
    net.propose(1, 'after-snap');
    expect(n3.applied[n3.applied.length - 1]).toBe('after-snap');
    expect(net.node(1).rn.status().progress?.[3].state).toBe('replicate');
  });

  it('restarts from storage with its log and commit intact', () => {
    const net = new Network([1, 2, 3]);
    net.elect(1);
    net.propose(1, 'durable');
    const old = net.node(2);
    const hs = old.storage.initialState().hardState;
    const restarted = net.add(2, old.storage, { applied: old.rn.status().applied });
    expect(restarted.rn.status().term).toBe(hs.term);
    expect(restarted.rn.status().commit).toBe(hs.commit);
    net.propose(1, 'more');
    expect(restarted.applied).toEqual(['more']);
  });
});
