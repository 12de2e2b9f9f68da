// The simulated host side of one Raft replica, shared by the shard simulators: proposals tracked
// to their apply, ReadIndex requests answered once applied, and the synchronous Ready loop
// (persist → send → apply → advance, as a host that fsyncs every Ready). Subclasses say how to
// reach their RawNode, send messages and apply committed entries.
import { EntryType, ProposalDroppedError, type MemoryStorage, type Message, type RawNode } from '@weft/raft';
import type { CommittedEntry, ReplicaRaft } from '@weft/replica';

interface Pending {
  readonly term: number;
  readonly resolve: (i: number) => void;
  readonly reject: (e: Error) => void;
}

/** A ReadIndex request in the core: answered (index set), then resolved once applied here. */
interface PendingRead extends Pending {
  index: number | undefined;
  ticks: number;
}

export abstract class SimRaftPort implements ReplicaRaft {
  up = false;
  private pending = new Map<number, Pending>();
  /** ReadIndex requests by their context (hex). */
  private reads = new Map<string, PendingRead>();
  private readSeq = 0;

  /** The Raft core (rebuilt on every boot). */
  protected abstract get core(): RawNode;
  protected abstract get raftId(): number;
  protected abstract readonly storage: MemoryStorage;
  /** Whether lease reads are allowed in this run. */
  protected abstract leaseReadsOn(): boolean;
  protected abstract send(m: Message): void;
  protected abstract apply(entries: CommittedEntry[]): void;

  /** Forgets every tracked request (a fresh boot). */
  protected resetRequests(): void {
    this.pending = new Map();
    this.reads = new Map();
  }

  /** Fails every tracked request (a crash). */
  protected failRequests(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const r of this.reads.values()) r.reject(err);
    this.reads.clear();
  }

  /** On each tick: ReadIndex requests unanswered for `limit` ticks time out. */
  protected expireReads(limit: number): void {
    for (const [k, r] of this.reads) {
      if (r.index !== undefined || ++r.ticks < limit) continue;
      this.reads.delete(k);
      r.reject(new Error('read index timed out'));
    }
  }

  propose(data: Uint8Array): Promise<number> {
    if (!this.up || this.core.raft.state !== 'leader') return Promise.reject(new Error('not leader'));
    try {
      this.core.propose(data);
    } catch (e) {
      if (e instanceof ProposalDroppedError) return Promise.reject(e);
      throw e;
    }
    const index = this.core.raft.raftLog.lastIndex();
    const term = this.core.raft.term;
    return new Promise((resolve, reject) => this.pending.set(index, { term, resolve, reject }));
  }

  status(): { id: number; leader: number; term: number } {
    return { id: this.raftId, leader: this.core.raft.lead, term: this.core.raft.term };
  }

  leaseValid(): boolean {
    return this.leaseReadsOn() && this.core.raft.leaseValid();
  }

  /** ReadIndex through the core, resolved like MultiRaftHost.readIndex (see settleReads). */
  readIndex(): Promise<number> {
    if (!this.up || this.core.raft.state !== 'leader') return Promise.reject(new Error('not leader'));
    const ctx = Buffer.alloc(8);
    ctx.writeUInt32BE(this.raftId, 0);
    ctx.writeUInt32BE(++this.readSeq, 4);
    const term = this.core.raft.term;
    return new Promise((resolve, reject) => {
      this.reads.set(ctx.toString('hex'), { term, resolve, reject, index: undefined, ticks: 0 });
      this.core.readIndex(ctx);
    });
  }

  private settleReads(): void {
    const st = this.core.raft;
    for (const [k, r] of this.reads) {
      if (r.index === undefined) {
        // A core that stopped leading (or leads in a later term) dropped the request.
        if (st.state === 'leader' && st.term === r.term) continue;
        this.reads.delete(k);
        r.reject(new Error('leadership lost'));
      } else if (r.index <= st.raftLog.applied) {
        this.reads.delete(k);
        r.resolve(r.index);
      }
    }
  }

  /** Persist → send → apply → advance, synchronously (a host that fsyncs every Ready). */
  handleReady(): boolean {
    if (!this.up || !this.core.hasReady()) return false;
    const rd = this.core.ready();
    if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.send(m);
    if (rd.committedEntries.length > 0) {
      for (const e of rd.committedEntries) if (e.type === EntryType.ConfChange) throw new Error('no conf changes in this sim');
      this.apply(rd.committedEntries.map((e) => ({ index: e.index, term: e.term, data: e.data })));
      for (const e of rd.committedEntries) {
        const p = this.pending.get(e.index);
        if (!p) continue;
        this.pending.delete(e.index);
        if (p.term === e.term) p.resolve(e.index);
        else p.reject(new Error('entry replaced'));
      }
    }
    if (this.pending.size > 0 && this.core.raft.state !== 'leader') {
      for (const p of this.pending.values()) p.reject(new Error('leadership lost'));
      this.pending.clear();
    }
    for (const rs of rd.readStates) {
      const r = this.reads.get(Buffer.from(rs.ctx).toString('hex'));
      if (r) r.index = rs.index;
    }
    this.core.advance(rd);
    if (this.reads.size > 0) this.settleReads();
    return true;
  }
}
