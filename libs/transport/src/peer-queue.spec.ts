import { MessageType } from '../../raft/src/types';
import { backoffDelay } from './backoff';
import { PeerQueue, type Pending } from './peer-queue';

const p = (groupId: number, type = MessageType.App, bytes = 10): Pending => ({
  groupId,
  bytes,
  msg: { type, to: 2, from: 1, term: 1, logTerm: 1, index: groupId, commit: 0, entries: [], reject: false, rejectHint: 0 },
});

describe('PeerQueue', () => {
  it('is FIFO and splits batches by bytes (at least one message per batch)', () => {
    const q = new PeerQueue(1000, 100);
    for (let i = 0; i < 10; i++) q.push(p(i));
    expect(q.take(35).batch.map((x) => x.groupId)).toEqual([0, 1, 2]);
    expect(q.take(1).batch.map((x) => x.groupId)).toEqual([3]);
    const rest = q.take(1000);
    expect(rest.batch).toHaveLength(6);
    expect(rest.bytes).toBe(60);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('drops the oldest non-snapshot messages on count overflow', () => {
    const q = new PeerQueue(1_000_000, 3);
    q.push(p(0, MessageType.Snap));
    q.push(p(1));
    q.push(p(2));
    expect(q.push(p(3))).toBe(1);
    expect(q.push(p(4))).toBe(1);
    expect(q.take(1000).batch.map((x) => x.groupId)).toEqual([0, 3, 4]);
  });

  it('drops by bytes, and a snapshot only when nothing else is left', () => {
    const q = new PeerQueue(100, 1000);
    q.push(p(0, MessageType.Snap, 60));
    q.push(p(1, MessageType.App, 30));
    expect(q.push(p(2, MessageType.Snap, 60))).toBe(2); // the App, then the older snapshot
    expect(q.take(1000).batch.map((x) => x.groupId)).toEqual([2]);
  });

  it('stays consistent over long runs with drops', () => {
    const q = new PeerQueue(10_000, 500);
    let pushed = 0;
    let dropped = 0;
    let taken = 0;
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 40; i++) dropped += q.push(p(pushed++, i % 17 === 0 ? MessageType.Snap : MessageType.App, 5 + (i % 30)));
      if (round % 3 === 0) taken += q.take(500).batch.length;
      expect(q.length).toBeLessThanOrEqual(500);
      expect(q.bytes).toBeLessThanOrEqual(10_000);
    }
    taken += q.take(Infinity).batch.length;
    expect(taken + dropped).toBe(pushed);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially, is jittered within [d/2, d] and capped', () => {
    const opts = { baseMs: 100, maxMs: 5000 };
    expect(backoffDelay(0, opts, () => 0)).toBe(50);
    expect(backoffDelay(0, opts, () => 1)).toBe(100);
    expect(backoffDelay(3, opts, () => 1)).toBe(800);
    expect(backoffDelay(50, opts, () => 1)).toBe(5000);
    expect(backoffDelay(50, opts, () => 0)).toBe(2500);
  });
});
