import { Message, ReplicaId } from './types';

/**
 * How the leader serves ReadIndex:
 * - 'safe': confirm leadership with a heartbeat round acknowledged by a quorum.
 * - 'lease-based': answer at once while the leader's lease (quorum contact within
 *   electionTick - leaseMarginTicks ticks) holds; otherwise fall back to a heartbeat round.
 */
export type ReadOnlyOption = 'safe' | 'lease-based';

interface ReadIndexStatus {
  readonly req: Message;
  readonly index: number;
  readonly acks: Set<ReplicaId>;
}

const key = (ctx: Uint8Array): string => Buffer.from(ctx).toString('hex');

/**
 * Pending ReadIndex requests awaiting a heartbeat quorum, in arrival order. A quorum ack for
 * a later request also confirms every earlier one (they were all behind the same leadership).
 */
export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Whether any read is waiting for its heartbeat round. */
  hasPending(): boolean {
    return this.queue.length > 0;
  }

  constructor(readonly option: ReadOnlyOption) {}

  /** Registers a read at commit index `index`; the request's context identifies it. */
  addRequest(index: number, m: Message): void {
    const ctx = m.context ?? new Uint8Array(0);
    const k = key(ctx);
    if (this.pending.has(k)) return;
    this.pending.set(k, { req: m, index, acks: new Set() });
    this.queue.push(k);
  }

  /** Records a heartbeat ack carrying ctx; returns who has acked it so far (or undefined). */
  recvAck(id: ReplicaId, ctx: Uint8Array): ReadonlySet<ReplicaId> | undefined {
    const rs = this.pending.get(key(ctx));
    if (!rs) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Removes and returns every request up to and including the one identified by ctx. */
  advance(ctx: Uint8Array): { req: Message; index: number }[] {
    const k = key(ctx);
    const i = this.queue.indexOf(k);
    if (i < 0) return [];
    const done = this.queue.slice(0, i + 1);
    this.queue = this.queue.slice(i + 1);
    return done.map((d) => {
      const rs = this.pending.get(d);
      this.pending.delete(d);
      if (!rs) throw new Error('raft: read-only queue and pending map disagree');
      return { req: rs.req, index: rs.index };
    });
  }

  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1])?.req.context;
  }

  pendingCount(): number {
    return this.queue.length;
  }
}
