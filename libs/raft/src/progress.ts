/**
 * The leader's view of one follower's log. etcd-style three-state machine:
 * - probe: we don't know where the follower's log ends; send one append per heartbeat
 *   interval and wait for the answer before sending more.
 * - replicate: the follower is in sync; stream appends optimistically (advance `next` on
 *   send), bounded by the in-flight window.
 * - snapshot: the follower needs a snapshot; send nothing until it is reported done.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded FIFO of the last indexes of in-flight appends (flow control per follower). */
export class Inflights {
  private buf: number[] = [];

  constructor(readonly capacity: number) {}

  add(index: number): void {
    if (this.full()) throw new Error('raft: cannot add to a full inflights window');
    this.buf.push(index);
  }

  /** Acknowledges every in-flight append whose last index is <= to. */
  freeLE(to: number): void {
    let i = 0;
    while (i < this.buf.length && this.buf[i] <= to) i++;
    if (i > 0) this.buf = this.buf.slice(i);
  }

  /**
   * Frees the oldest slot. Used when a heartbeat response proves the follower is alive while
   * the window is full: if appends were lost, the one this lets through is rejected for the
   * gap and the leader falls back to probing; without it the window would never drain.
   */
  freeFirstOne(): void {
    if (this.buf.length > 0) this.buf = this.buf.slice(1);
  }

  full(): boolean {
    return this.buf.length >= this.capacity;
  }

  count(): number {
    return this.buf.length;
  }

  reset(): void {
    this.buf = [];
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round (leader only). */
  recentActive = false;
  /** In probe state: an append is outstanding, wait for its answer (or a heartbeat). */
  probeSent = false;
  /** Leader tick at which the most recent heartbeat this follower acknowledged was sent. */
  lastAckTick = -1;
  readonly inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, maxInflight: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // Coming back from a snapshot, the follower has at least the snapshot: start after it.
    if (this.state === 'snapshot') {
      const ps = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, ps + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** A successful AppResp up to n. Returns false if it was stale (nothing new). */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** Pipelining: assume an append up to n will succeed. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * A rejected append of `rejected` (the prev index we sent). `matchHint` is the follower's
   * (term-aware) guess of its last possibly matching index. Returns false for stale rejects.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // Stale: we already know the follower has `rejected`.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe: only the answer to the probe we sent (next-1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader should hold back appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
