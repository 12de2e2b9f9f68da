import { decodeConfChange, encodeConfChange } from './confchange-codec';
import { CompactedError, UnavailableError } from './errors';
import { RaftLog } from './log';
import { Inflights, Progress } from './progress';
import { JointConfig, MajorityConfig } from './quorum';
import { MemoryStorage } from './storage';
import { ConfChangeType, Entry, EntryType } from './types';

const ent = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array(1) });

describe('quorum', () => {
  it('computes the majority-acked index, and the min of both halves when joint', () => {
    const acked = new Map([[1, 10], [2, 7], [3, 3], [4, 9], [5, 1]]);
    const get = (id: number) => acked.get(id);
    expect(new MajorityConfig([1, 2, 3]).committedIndex(get)).toBe(7);
    expect(new MajorityConfig([1, 2, 3, 4, 5]).committedIndex(get)).toBe(7);
    expect(new MajorityConfig([1, 3]).committedIndex(get)).toBe(3);
    expect(new JointConfig(new MajorityConfig([1, 2, 3]), new MajorityConfig([3, 4, 5])).committedIndex(get)).toBe(3);
    expect(new JointConfig(new MajorityConfig([1, 2, 3])).committedIndex(get)).toBe(7);
  });

  it('tallies votes: won, lost, pending, in both halves when joint', () => {
    const maj = new MajorityConfig([1, 2, 3]);
    expect(maj.voteResult(new Map([[1, true]]))).toBe('pending');
    expect(maj.voteResult(new Map([[1, true], [2, true]]))).toBe('won');
    expect(maj.voteResult(new Map([[1, false], [2, false]]))).toBe('lost');
    const joint = new JointConfig(new MajorityConfig([1, 2, 3]), new MajorityConfig([1, 4, 5]));
    expect(joint.voteResult(new Map([[1, true], [2, true]]))).toBe('pending');
    expect(joint.voteResult(new Map([[1, true], [2, true], [4, true]]))).toBe('won');
    expect(joint.voteResult(new Map([[1, true], [2, true], [4, false], [5, false]]))).toBe('lost');
  });
});

describe('MemoryStorage and RaftLog', () => {
  it('appends with truncation, compacts, and reports compacted/unavailable ranges', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
    s.append([ent(3, 3), ent(4, 3)]); // conflicting suffix replaced
    expect(s.lastIndex()).toBe(4);
    expect(s.term(3)).toBe(3);
    s.createSnapshot(2, undefined, new Uint8Array());
    s.compact(2);
    expect(s.firstIndex()).toBe(3);
    expect(s.term(2)).toBe(1); // the snapshot's term is kept for log matching
    expect(() => s.entries(2, 4, Infinity)).toThrow(CompactedError);
    expect(() => s.entries(3, 6, Infinity)).toThrow(UnavailableError);
    expect(s.entries(3, 5, 1).map((e) => e.index)).toEqual([3]); // size-limited, never empty
  });

  it('stitches stable and unstable entries and finds conflicts by term', () => {
    const s = new MemoryStorage();
    s.append([ent(1, 1), ent(2, 1), ent(3, 2)]);
    const log = new RaftLog(s, Infinity);
    log.append([ent(4, 2), ent(5, 3)]);
    expect(log.slice(2, 6, Infinity).map((e) => e.index)).toEqual([2, 3, 4, 5]);
    expect(log.findConflictByTerm(5, 2)).toBe(4);
    expect(log.findConflictByTerm(5, 1)).toBe(2);
    expect(log.isUpToDate(5, 3)).toBe(true);
    expect(log.isUpToDate(9, 2)).toBe(false);
    expect(log.maybeAppend(3, 2, 4, [ent(4, 4)])).toBe(4);
    expect(log.lastIndex()).toBe(4);
    expect(log.committed).toBe(4);
    expect(log.maybeAppend(4, 9, 4, [])).toBeUndefined();
    expect(log.maybeCommit(4, 3)).toBe(false); // entry 4 is term 4, not 3
  });
});

describe('progress', () => {
  it('bounds in-flight appends and frees them on ack', () => {
    const inf = new Inflights(2);
    inf.add(3);
    inf.add(5);
    expect(inf.full()).toBe(true);
    inf.freeLE(4);
    expect(inf.count()).toBe(1);
  });

  it('probe backs off using the hint, ignores stale rejections', () => {
    const pr = new Progress(11, 4, false);
    expect(pr.maybeDecrTo(9, 5)).toBe(false); // not our probe (we sent prev=10)
    expect(pr.maybeDecrTo(10, 5)).toBe(true);
    expect(pr.next).toBe(6);
  });
});

describe('conf change codec', () => {
  it('round-trips', () => {
    const cc = {
      changes: [
        { type: ConfChangeType.AddNode, replicaId: 4 },
        { type: ConfChangeType.AddLearnerNode, replicaId: 2 ** 40 },
      ],
      joint: true,
      autoLeave: true,
    };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(decodeConfChange(encodeConfChange({ changes: [], joint: false }))).toEqual({ changes: [], joint: false });
    expect(() => decodeConfChange(new Uint8Array([9, 9, 9]))).toThrow();
  });
});
