/**
 * A leader may send its appends while it is still persisting them (Raft thesis §10.2.1), but
 * its own copy must count toward the commit quorum only once durable: otherwise a leader crash
 * could lose an entry that followers were already told is committed.
 */
import { RawNode } from './raw-node';
import { MemoryStorage } from './storage';
import { bytes, seededRand } from './testing/network';
import { Message, MessageType } from './types';
import { makeMessage } from './util';

function node(id: number, voters: number[]): { rn: RawNode; storage: MemoryStorage } {
  const storage = MemoryStorage.withVoters(voters);
  const rn = new RawNode({
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxSizePerMsg: 1 << 20,
    maxInflightMsgs: 64,
    preVote: false,
    checkQuorum: false,
    readOnlyOption: 'safe',
    leaseMarginTicks: 1,
    rand: seededRand(id),
  });
  return { rn, storage };
}

/** Persists and advances a Ready the ordinary way; returns its messages. */
function cycle(n: { rn: RawNode; storage: MemoryStorage }): Message[] {
  const rd = n.rn.ready();
  if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
  n.storage.append(rd.entries);
  if (rd.hardState) n.storage.setHardState(rd.hardState);
  n.rn.advance(rd);
  return rd.messages;
}

function electLeader1(): { rn: RawNode; storage: MemoryStorage } {
  const l = node(1, [1, 2, 3]);
  l.rn.campaign();
  const votes = cycle(l).filter((m) => m.type === MessageType.Vote);
  expect(votes).toHaveLength(2);
  for (const v of votes) l.rn.step(makeMessage({ type: MessageType.VoteResp, from: v.to, to: 1, term: v.term }));
  // The no-op of the new term: persist it and let both followers acknowledge it.
  const apps = cycle(l).filter((m) => m.type === MessageType.App);
  for (const a of apps) l.rn.step(makeMessage({ type: MessageType.AppResp, from: a.to, to: 1, term: a.term, index: a.index + a.entries.length }));
  while (l.rn.hasReady()) cycle(l);
  expect(l.rn.status().commit).toBe(1);
  return l;
}

describe('leader appends in parallel with its own fsync', () => {
  it('marks a leader Ready sendBeforePersist, but never a Ready that changes term or vote', () => {
    const c = node(1, [1, 2, 3]);
    c.rn.campaign();
    const rd = c.rn.ready();
    expect(rd.hardState?.vote).toBe(1);
    expect(rd.sendBeforePersist).toBe(false); // vote requests depend on the persisted vote
    c.rn.advance(rd);

    const l = electLeader1();
    l.rn.propose(bytes('x'));
    const prop = l.rn.ready();
    expect(prop.entries).toHaveLength(1);
    expect(prop.mustSync).toBe(true);
    expect(prop.sendBeforePersist).toBe(true);
    expect(prop.messages.filter((m) => m.type === MessageType.App)).toHaveLength(2);
  });

  it('does not count its own unpersisted entry toward commit', () => {
    const l = electLeader1();
    l.rn.propose(bytes('x'));
    const rd = l.rn.ready();
    const app = rd.messages.find((m) => m.type === MessageType.App && m.to === 2) as Message;
    // Follower 2 persists and acks before the leader's own write finished.
    l.rn.step(makeMessage({ type: MessageType.AppResp, from: 2, to: 1, term: app.term, index: 2 }));
    expect(l.rn.status().commit).toBe(1); // leader + 1 follower, but the leader's copy is not durable
    // The leader's write completes: now 2 of 3 have it durably.
    l.storage.append(rd.entries);
    l.rn.advance(rd);
    expect(l.rn.status().commit).toBe(2);
    // The new commit index goes out to the followers in the next Ready.
    const next = l.rn.ready();
    expect(next.committedEntries.map((e) => e.index)).toEqual([2]);
    expect(next.messages.some((m) => m.type === MessageType.App && m.commit === 2)).toBe(true);
  });

  it('commits on two followers acks alone, before its own write completes', () => {
    const l = electLeader1();
    l.rn.propose(bytes('y'));
    const rd = l.rn.ready();
    for (const to of [2, 3]) l.rn.step(makeMessage({ type: MessageType.AppResp, from: to, to: 1, term: rd.messages[0].term, index: 2 }));
    expect(l.rn.status().commit).toBe(2);
  });

  it('a single-voter group commits once its own write is advanced', () => {
    const s = node(1, [1]);
    s.rn.campaign();
    cycle(s); // becomes leader, persists the no-op
    while (s.rn.hasReady()) cycle(s);
    expect(s.rn.status().commit).toBe(1);
    s.rn.propose(bytes('z'));
    expect(s.rn.status().commit).toBe(1);
    cycle(s);
    expect(s.rn.status().commit).toBe(2);
  });
});
