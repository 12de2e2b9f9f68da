import { MessageType, type Message } from '../../raft/src/types';

/** A message waiting for its peer's next flush, with its encoded envelope size. */
export interface Pending {
  readonly groupId: number;
  readonly msg: Message;
  readonly bytes: number;
}

/**
 * Per-peer FIFO bounded by message count and encoded bytes. On overflow it drops the oldest
 * messages that are not snapshots: Raft retransmits appends and heartbeats on its own, while a
 * dropped snapshot costs a full re-send, so snapshots are the last thing to go.
 *
 * Storage is an array with a moving head and holes (undefined) left by out-of-order drops,
 * compacted lazily, so push/take are O(1) amortised.
 */
export class PeerQueue {
  private items: (Pending | undefined)[] = [];
  private head = 0;
  private count = 0;
  private byteCount = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxCount: number,
  ) {}

  get length(): number {
    return this.count;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** Appends, then evicts until within bounds; returns how many messages were dropped. */
  push(p: Pending): number {
    this.items.push(p);
    this.count++;
    this.byteCount += p.bytes;
    let dropped = 0;
    while (this.count > 0 && (this.count > this.maxCount || this.byteCount > this.maxBytes)) {
      this.evictOne();
      dropped++;
    }
    return dropped;
  }

  /**
   * Removes and returns the oldest messages whose envelopes total at most `maxBytes`
   * (always at least one, so a single large message still goes out).
   */
  take(maxBytes: number): { batch: Pending[]; bytes: number } {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.head < this.items.length) {
      const p = this.items[this.head];
      if (p !== undefined) {
        if (batch.length > 0 && bytes + p.bytes > maxBytes) break;
        batch.push(p);
        bytes += p.bytes;
        this.count--;
        this.byteCount -= p.bytes;
      }
      this.items[this.head++] = undefined;
    }
    this.compact();
    return { batch, bytes };
  }

  /** Drops everything (peer removed or transport closed); returns the number dropped. */
  clear(): number {
    const n = this.count;
    this.items = [];
    this.head = 0;
    this.count = 0;
    this.byteCount = 0;
    return n;
  }

  private evictOne(): void {
    let victim = -1;
    for (let i = this.head; i < this.items.length; i++) {
      const p = this.items[i];
      if (p === undefined) continue;
      if (victim < 0) victim = i; // oldest of any kind, used only if all are snapshots
      if (p.msg.type !== MessageType.Snap && p.msg.type !== MessageType.SnapChunk) {
        victim = i;
        break;
      }
    }
    const p = this.items[victim] as Pending;
    this.items[victim] = undefined;
    this.count--;
    this.byteCount -= p.bytes;
    while (this.head < this.items.length && this.items[this.head] === undefined) this.head++;
    this.compact();
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
