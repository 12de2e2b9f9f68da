import { Entry, EntryType } from '../../raft/src/types';
import { InvariantViolation, LogView, RaftInvariants } from './raft-invariants';

const enc = new TextEncoder();
const ent = (index: number, term: number, data = `e${index}t${term}`): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: enc.encode(data),
});

function logOf(entries: Entry[]): LogView {
  return {
    firstIndex: () => 1,
    lastIndex: () => entries.length,
    term: (i) => (i === 0 ? 0 : entries[i - 1].term),
  };
}

function violation(fn: () => void): InvariantViolation {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvariantViolation) return e;
    throw e;
  }
  throw new Error('expected an invariant violation');
}

describe('RaftInvariants', () => {
  it('accepts a normal history', () => {
    const inv = new RaftInvariants();
    const log = [ent(1, 1), ent(2, 1), ent(3, 2)];
    inv.observeAppend(1, log, 0);
    inv.observe({ id: 1, term: 1, isLeader: true, commit: 2, log: logOf(log.slice(0, 2)) });
    inv.observeAppend(2, log.slice(0, 2), 0);
    inv.observe({ id: 2, term: 2, isLeader: true, commit: 2, log: logOf(log) });
    inv.observeApply(1, log[0]);
    inv.observeApply(1, log[1]);
    inv.observeApply(2, log[0]);
    inv.observeWholeLog(1, logOf(log));
  });

  it('catches two leaders in one term', () => {
    const inv = new RaftInvariants();
    inv.observe({ id: 1, term: 3, isLeader: true, commit: 0, log: logOf([]) });
    inv.observe({ id: 1, term: 4, isLeader: false, commit: 0, log: logOf([]) });
    const v = violation(() => inv.observe({ id: 2, term: 3, isLeader: true, commit: 0, log: logOf([]) }));
    expect(v.invariant).toBe('election-safety');
  });

  it('catches log matching violations: same (index, term), different data or prefix', () => {
    const inv = new RaftInvariants();
    inv.observeAppend(1, [ent(1, 1), ent(2, 2)], 0);
    expect(violation(() => inv.observeAppend(2, [ent(2, 2, 'other')], 1)).invariant).toBe('log-matching');
    const inv2 = new RaftInvariants();
    inv2.observeAppend(1, [ent(1, 1), ent(2, 2)], 0);
    expect(violation(() => inv2.observeAppend(3, [ent(2, 2)], 3)).invariant).toBe('log-matching');
    const inv3 = new RaftInvariants();
    inv3.observeAppend(1, [ent(1, 1), ent(2, 2)], 0);
    expect(violation(() => inv3.observeWholeLog(2, logOf([ent(1, 2), ent(2, 2)]))).invariant).toBe('log-matching');
  });

  it('catches a leader missing a committed entry', () => {
    const inv = new RaftInvariants();
    inv.observe({ id: 1, term: 1, isLeader: true, commit: 2, log: logOf([ent(1, 1), ent(2, 1)]) });
    // A leader of a later term whose log stops at 1.
    const v = violation(() => inv.observe({ id: 2, term: 2, isLeader: true, commit: 1, log: logOf([ent(1, 1)]) }));
    expect(v.invariant).toBe('leader-completeness');
  });

  it('does not blame a leader of an older term for entries committed later', () => {
    const inv = new RaftInvariants();
    inv.observe({ id: 1, term: 5, isLeader: true, commit: 2, log: logOf([ent(1, 5), ent(2, 5)]) });
    // A stale election of term 3 whose vote replies were delayed: legal, it lacks entry 1.
    inv.observe({ id: 2, term: 3, isLeader: true, commit: 0, log: logOf([]) });
  });

  it('catches two replicas applying different entries at one index, and gaps', () => {
    const inv = new RaftInvariants();
    inv.observeApply(1, ent(1, 1));
    expect(violation(() => inv.observeApply(2, ent(1, 2))).invariant).toBe('state-machine-safety');
    const inv2 = new RaftInvariants();
    inv2.observeApply(1, ent(1, 1));
    expect(violation(() => inv2.observeApply(1, ent(3, 1))).invariant).toBe('apply-order');
    inv2.replicaRestarted(1, 0);
    inv2.observeApply(1, ent(1, 1));
  });

  it('catches conflicting commits at one index', () => {
    const inv = new RaftInvariants();
    inv.observe({ id: 1, term: 1, isLeader: false, commit: 1, log: logOf([ent(1, 1)]) });
    const v = violation(() => inv.observe({ id: 2, term: 2, isLeader: false, commit: 1, log: logOf([ent(1, 2)]) }));
    expect(v.invariant).toBe('state-machine-safety');
  });
});
