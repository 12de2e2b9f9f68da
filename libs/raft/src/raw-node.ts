import { ProposalDroppedError } from './errors';
import { ProgressState } from './progress';
import { Raft, RaftConfig, SoftState, StateType } from './raft';
import { ConfChange, ConfState, Entry, EntryType, HardState, Message, MessageType, ReadState, ReplicaId, Snapshot } from './types';
import { hardStateEqual, isEmptyHardState, isLocalMessage, isResponseMessage, makeMessage } from './util';

/**
 * One batch of work for the application. Contract (as etcd's):
 * 1. persist `snapshot` (if any), `entries` and `hardState` — fsync if `mustSync`;
 * 2. send `messages` (they may depend on what was just persisted);
 * 3. apply `snapshot` then `committedEntries` (calling applyConfChange for conf changes);
 * 4. call advance(rd), then look for the next Ready (advance may produce one: a leader's commit
 *    can move once its own entries are durable).
 * A leader's Ready may have `sendBeforePersist`: then step 2 may happen before step 1.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly readStates: ReadState[];
  readonly entries: Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: Entry[];
  readonly messages: Message[];
  readonly mustSync: boolean;
  /**
   * The messages do not depend on anything this Ready persists, so the host may send them
   * before (in parallel with) writing `entries` (Raft thesis §10.2.1; etcd's leaders do).
   * True only on a leader whose Ready changes neither term nor vote and installs no snapshot:
   * its entries are its own proposals, and its own copy counts toward commit only after
   * advance(). Hosts that ignore this and always persist first remain correct.
   */
  readonly sendBeforePersist: boolean;
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly inflight: number;
  readonly recentActive: boolean;
}

export interface Status {
  readonly id: ReplicaId;
  readonly term: number;
  readonly vote: ReplicaId;
  readonly lead: ReplicaId;
  readonly state: StateType;
  readonly commit: number;
  readonly applied: number;
  readonly leadTransferee: ReplicaId;
  readonly confState: ConfState;
  /** Only on the leader: its view of every replica's log. */
  readonly progress?: Readonly<Record<number, ProgressStatus>>;
}

/**
 * The public, thread-free driver of one Raft replica. Everything happens synchronously on
 * the caller's turn; outputs accumulate until the caller takes a Ready.
 */
export class RawNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  /** Advances logical time by one tick (elections, heartbeats, CheckQuorum, leases). */
  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first if enabled). */
  campaign(): void {
    this.raft.step(makeMessage({ type: MessageType.Hup, from: this.raft.id }));
  }

  /** Proposes data to be appended. Throws ProposalDroppedError if it cannot be accepted. */
  propose(data: Uint8Array): void {
    this.raft.step(
      makeMessage({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: [{ term: 0, index: 0, type: EntryType.Normal, data }],
      }),
    );
  }

  /** Proposes several entries at once: they are appended, and sent, as one batch. */
  proposeBatch(datas: readonly Uint8Array[]): void {
    if (datas.length === 0) return;
    this.raft.step(
      makeMessage({
        type: MessageType.Prop,
        from: this.raft.id,
        entries: datas.map((data) => ({ term: 0, index: 0, type: EntryType.Normal, data })),
      }),
    );
  }

  /** Proposes a membership change. Throws ProposalDroppedError if refused (see README). */
  proposeConfChange(cc: ConfChange): void {
    this.raft.proposeConfChange(cc);
  }

  /** Applies a committed conf change entry's ConfChange. Call only for committed entries. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /**
   * Feeds a message received from a peer. Local-only message types are refused. A
   * forwarded proposal that cannot be placed is dropped silently: its proposer times out.
   */
  step(m: Message): void {
    if (isLocalMessage(m.type)) throw new Error(`raft: cannot step local message ${MessageType[m.type]}`);
    // Responses from replicas we no longer track are meaningless.
    if (isResponseMessage(m.type) && !this.raft.trk.progress.has(m.from)) return;
    try {
      this.raft.step(m);
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
    }
  }

  /**
   * Requests a linearizable read point tagged `ctx` (unique per request). The answer
   * appears in a later Ready's readStates.
   */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(makeMessage({ type: MessageType.ReadIndex, context: ctx }));
  }

  /** Asks the leader to hand leadership to `to` (works from any replica that knows the leader). */
  transferLeader(to: ReplicaId): void {
    this.raft.step(makeMessage({ type: MessageType.TransferLeader, from: to }));
  }

  reportUnreachable(id: ReplicaId): void {
    this.raft.step(makeMessage({ type: MessageType.Unreachable, from: id }));
  }

  reportSnapshot(id: ReplicaId, ok: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    const r = this.raft;
    r.flushAppends();
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.state !== this.prevSoftState.state) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextCommittedEntries()) return true;
    return r.readStates.length > 0;
  }

  /** Takes the pending work. Call advance(rd) once it is persisted, sent and applied. */
  ready(): Ready {
    const r = this.raft;
    r.flushAppends();
    const ss = r.softState();
    const hs = r.hardState();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.state !== this.prevSoftState.state;
    const hardChanged = !isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState);
    const entries = r.raftLog.unstableEntries();
    const snapshot = r.raftLog.hasPendingSnapshot() ? r.raftLog.unstable.snapshot : undefined;
    const rd: Ready = {
      softState: softChanged ? ss : undefined,
      hardState: hardChanged ? hs : undefined,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries: r.raftLog.nextCommittedEntries(),
      messages: r.msgs,
      // A commit-only change need not be fsynced: it can be recomputed after a crash.
      // A snapshot replaces the log: acknowledging it before it is durable could let a crash
      // resurrect stale entries the leader believes are gone.
      mustSync: entries.length > 0 || snapshot !== undefined || hs.term !== this.prevHardState.term || hs.vote !== this.prevHardState.vote,
      sendBeforePersist:
        r.state === 'leader' && snapshot === undefined && hs.term === this.prevHardState.term && hs.vote === this.prevHardState.vote,
    };
    if (softChanged) this.prevSoftState = ss;
    if (hardChanged) this.prevHardState = hs;
    r.msgs = [];
    r.readStates = [];
    return rd;
  }

  /** Acknowledges a Ready: its entries are stable and its committed entries applied. */
  advance(rd: Ready): void {
    const r = this.raft;
    if (rd.snapshot) {
      r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
      r.appliedTo(rd.snapshot.metadata.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      r.raftLog.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      r.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index);
      r.reduceUncommittedSize(rd.committedEntries);
    }
    // A leader's own log now counts toward the commit quorum up to what is durable. This can
    // commit entries (and queue appends telling followers): check hasReady() after advance.
    if (rd.entries.length > 0) r.selfPersisted();
  }

  status(): Status {
    const r = this.raft;
    let progress: Record<number, ProgressStatus> | undefined;
    if (r.state === 'leader') {
      progress = {};
      for (const [id, pr] of r.trk.progress) {
        progress[id] = {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          inflight: pr.inflights.count(),
          recentActive: pr.recentActive,
        };
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      lead: r.lead,
      state: r.state,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
      confState: r.trk.confState(),
      progress,
    };
  }
}
