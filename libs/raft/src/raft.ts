import { Changer, entersJoint, isLeaveJoint, restoreConfig } from './confchange';
import { decodeConfChange, encodeConfChange } from './confchange-codec';
import {
  CompactedError,
  ProposalDroppedError,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
} from './errors';
import { RaftLog } from './log';
import { ReadOnly, ReadOnlyOption } from './read-only';
import { RaftStorage } from './storage';
import { ProgressTracker } from './tracker';
import {
  ConfChange,
  ConfChangeType,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  NONE,
  ReadState,
  ReplicaId,
  Snapshot,
} from './types';
import { bytesEqual, isEmptyHardState, makeMessage, payloadSize, voteRespType } from './util';

export type StateType = 'follower' | 'candidate' | 'pre-candidate' | 'leader';

/** Injected randomness: the core never touches Math.random, so the simulator can replay. */
export interface RaftRand {
  /** A uniformly distributed integer in [0, n). */
  int(n: number): number;
}

export interface RaftConfig {
  /** This replica's id (non-zero). */
  id: ReplicaId;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [e, 2e)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  heartbeatTick: number;
  storage: RaftStorage;
  /** The last index the application has applied (on restart); entries after it are re-sent. */
  applied?: number;
  /** Max bytes of entries per append message (at least one entry is always sent). */
  maxSizePerMsg: number;
  /** In-flight append window per follower in replicate state. */
  maxInflightMsgs: number;
  /** Max bytes of uncommitted payload a leader accepts before dropping proposals. */
  maxUncommittedEntriesSize?: number;
  /** Max bytes of committed entries per Ready (defaults to maxSizePerMsg × maxInflightMsgs). */
  maxCommittedSizePerReady?: number;
  preVote: boolean;
  checkQuorum: boolean;
  readOnlyOption: ReadOnlyOption;
  /**
   * Clock-drift margin for leases: a lease is trusted only for electionTick - leaseMarginTicks
   * ticks after the heartbeat a quorum acknowledged was sent.
   */
  leaseMarginTicks: number;
  rand: RaftRand;
  /** TEST ONLY: grant a second vote in the same term (breaks election safety on purpose). */
  testingUnsafeVoteTwice?: boolean;
}

/** Marks a Vote sent because of TimeoutNow: voters must not hide behind their leader lease. */
export const CAMPAIGN_TRANSFER = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]); // "transfer"

type CampaignType = 'pre-election' | 'election' | 'transfer';

export interface SoftState {
  readonly lead: ReplicaId;
  readonly state: StateType;
}

function validateConfig(c: RaftConfig): void {
  const bad = (why: string): never => {
    throw new Error(`raft: invalid config: ${why}`);
  };
  if (!Number.isSafeInteger(c.id) || c.id <= 0) bad('id must be a positive integer');
  if (c.heartbeatTick <= 0) bad('heartbeatTick must be > 0');
  if (c.electionTick <= c.heartbeatTick) bad('electionTick must be > heartbeatTick');
  if (c.maxInflightMsgs <= 0) bad('maxInflightMsgs must be > 0');
  if (c.maxSizePerMsg <= 0) bad('maxSizePerMsg must be > 0');
  if (c.leaseMarginTicks < 0 || c.leaseMarginTicks >= c.electionTick) {
    bad('leaseMarginTicks must be in [0, electionTick)');
  }
  // Leases rest on followers refusing votes while they hear from a leader: CheckQuorum.
  if (c.readOnlyOption === 'lease-based' && !c.checkQuorum) bad('lease-based reads require checkQuorum');
}

/**
 * The Raft state machine. Pure: it reacts to step() and tick(), and leaves its outputs in
 * `msgs`, `readStates` and the log for RawNode to package as a Ready.
 */
export class Raft {
  readonly id: ReplicaId;
  term = 0;
  vote: ReplicaId = NONE;
  lead: ReplicaId = NONE;
  state: StateType = 'follower';
  readStates: ReadState[] = [];
  msgs: Message[] = [];
  readonly raftLog: RaftLog;
  trk: ProgressTracker;
  isLearner = false;

  /** Set while a leadership transfer is in progress; proposals are refused meanwhile. */
  leadTransferee: ReplicaId = NONE;
  /**
   * Index of the last conf change appended by this leader. Another may be proposed only
   * once it is applied (at most one pending conf change at a time).
   */
  pendingConfIndex = 0;
  uncommittedSize = 0;
  readOnly: ReadOnly;

  /** Ticks since the last election timeout (followers) or the last CheckQuorum (leader). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /** Monotonic tick count: the leader's lease clock. */
  now = 0;
  /** Set after TimeoutNow was sent this term: a forced election may be under way. */
  leaseRevoked = false;
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  /** Proposals were appended but not yet broadcast (batched until the next Ready). */
  appendsPending = false;

  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  readonly leaseTicks: number;
  readonly rand: RaftRand;
  readonly unsafeVoteTwice: boolean;

  constructor(c: RaftConfig) {
    validateConfig(c);
    this.id = c.id;
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = c.checkQuorum;
    this.preVote = c.preVote;
    this.maxMsgSize = c.maxSizePerMsg;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize ?? Infinity;
    this.leaseTicks = c.electionTick - c.leaseMarginTicks;
    this.rand = c.rand;
    this.unsafeVoteTwice = c.testingUnsafeVoteTwice ?? false;
    this.readOnly = new ReadOnly(c.readOnlyOption);
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? c.maxSizePerMsg * c.maxInflightMsgs);
    this.trk = new ProgressTracker(c.maxInflightMsgs);

    const { hardState, confState } = c.storage.initialState();
    const r = restoreConfig(confState, this.raftLog.lastIndex(), c.maxInflightMsgs);
    this.trk.config = r.config;
    this.trk.progress = r.progress;
    this.isLearner = this.trk.progress.get(this.id)?.isLearner ?? false;
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
  }

  private loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new Error(`raft: persisted commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`);
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // ---------------------------------------------------------------- sending

  /** Queues a message; fills in `from` and the term per message kind. */
  private send(p: Partial<Message> & { type: MessageType; to: ReplicaId }): void {
    let term = p.term ?? 0;
    const t = p.type;
    if (t === MessageType.Vote || t === MessageType.VoteResp || t === MessageType.PreVote || t === MessageType.PreVoteResp) {
      // Vote messages carry the campaign's term (a pre-vote's is one ahead of ours), so the
      // caller sets it explicitly.
      if (term === 0) throw new Error(`raft: term must be set for ${MessageType[t]}`);
    } else if (t === MessageType.Prop || t === MessageType.ReadIndex) {
      // Forwarded to the leader as if local: no term, so they are never rejected as stale.
      term = 0;
    } else {
      term = this.term;
    }
    this.msgs.push(makeMessage({ ...p, from: this.id, term }));
  }

  /** Sends an append (or a snapshot) to `to` if its progress allows. Returns whether sent. */
  private maybeSendAppend(to: ReplicaId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    let prevTerm: number;
    let ents: Entry[];
    try {
      prevTerm = this.raftLog.term(pr.next - 1);
      ents = this.raftLog.entries(pr.next, this.maxMsgSize);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return this.maybeSendSnapshot(to);
      throw e;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: MessageType.App,
      to,
      index: pr.next - 1,
      logTerm: prevTerm,
      entries: ents,
      commit: this.raftLog.committed,
    });
    if (pr.state === 'replicate') {
      if (ents.length > 0) {
        const last = ents[ents.length - 1].index;
        pr.optimisticUpdate(last);
        pr.inflights.add(last);
      }
    } else if (pr.state === 'probe') {
      pr.probeSent = true;
    }
    return true;
  }

  private maybeSendSnapshot(to: ReplicaId): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr) return false;
    // A follower we haven't heard from lately may be down: don't ship it a snapshot.
    if (!pr.recentActive) return false;
    let snap: Snapshot;
    try {
      snap = this.raftLog.snapshot();
    } catch (e) {
      if (e instanceof SnapshotTemporarilyUnavailableError) return false;
      throw e;
    }
    if (snap.metadata.index === 0) throw new Error('raft: need a non-empty snapshot');
    pr.becomeSnapshot(snap.metadata.index);
    this.send({ type: MessageType.Snap, to, snapshot: snap });
    return true;
  }

  private sendHeartbeat(to: ReplicaId, ctx: Uint8Array | undefined): void {
    const pr = this.trk.progress.get(to);
    // Never tell a follower to commit beyond what it is known to have.
    const commit = Math.min(pr?.match ?? 0, this.raftLog.committed);
    this.send({ type: MessageType.Heartbeat, to, commit, context: ctx, index: this.now });
  }

  private forEachPeer(f: (id: ReplicaId) => void): void {
    for (const id of this.trk.ids()) if (id !== this.id) f(id);
  }

  bcastAppend(): void {
    this.forEachPeer((id) => this.maybeSendAppend(id, true));
  }

  private bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array | undefined): void {
    this.forEachPeer((id) => this.sendHeartbeat(id, ctx));
  }

  // ---------------------------------------------------------------- state transitions

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    // Our own match is what is durable: unstable entries count once persisted (selfPersisted).
    const stable = this.raftLog.stableLastIndex();
    for (const [id, pr] of this.trk.progress) {
      pr.match = id === this.id ? stable : 0;
      pr.next = last + 1;
      pr.state = 'probe';
      pr.probeSent = false;
      pr.pendingSnapshot = 0;
      pr.recentActive = id === this.id;
      pr.lastAckTick = -1;
      pr.inflights.reset();
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.leaseRevoked = false;
    this.pendingReadIndexMessages = [];
    this.readOnly = new ReadOnly(this.readOnly.option);
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.rand.int(this.electionTimeout);
  }

  becomeFollower(term: number, lead: ReplicaId): void {
    this.reset(term);
    this.lead = lead;
    this.state = 'follower';
  }

  private becomeCandidate(): void {
    if (this.state === 'leader') throw new Error('raft: invalid transition leader -> candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = 'candidate';
  }

  private becomePreCandidate(): void {
    if (this.state === 'leader') throw new Error('raft: invalid transition leader -> pre-candidate');
    // A pre-candidate changes neither term nor vote: a failed pre-vote leaves no trace.
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = 'pre-candidate';
  }

  private becomeLeader(): void {
    if (this.state === 'follower') throw new Error('raft: invalid transition follower -> leader');
    this.reset(this.term);
    this.lead = this.id;
    this.state = 'leader';
    const self = this.trk.progress.get(this.id);
    // The leader's own progress is always in replicate state.
    if (self) self.becomeReplicate();
    // Conservatively treat any conf change in the uncommitted tail as pending.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // An empty entry of the new term: committing it commits everything before it (Figure 8)
    // and lets ReadIndex start.
    if (!this.appendEntry([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }])) {
      throw new Error('raft: could not append the leader no-op entry');
    }
    // The no-op entry is not counted against the uncommitted-size limit.
    this.uncommittedSize = 0;
  }

  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  /** Appends entries as leader, stamping term and index. False if over the size limit. */
  private appendEntry(es: readonly Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    const ents = es.map((e) => ({ ...e, term: this.term, index: ++li }));
    const size = payloadSize(ents);
    if (this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > this.maxUncommittedSize) {
      return false;
    }
    this.uncommittedSize += size;
    this.raftLog.append(ents);
    // The leader's own copy counts toward the quorum only once it is durable (selfPersisted,
    // called from advance): hosts may send these entries to followers while the leader is
    // still writing them (Raft thesis §10.2.1), and an entry acknowledged by the leader
    // before its fsync could be lost by a leader crash after being counted as committed.
    return true;
  }

  /**
   * The host persisted this replica's log up to its stable index (RawNode.advance). On a
   * leader this is its own "append response": it may move the commit index.
   */
  selfPersisted(): void {
    if (this.state !== 'leader') return;
    const self = this.trk.progress.get(this.id);
    if (!self || !self.maybeUpdate(this.raftLog.stableLastIndex())) return;
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    }
  }

  /** Called as the application applies entries (after they were committed). */
  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.uncommittedSize === 0) return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - payloadSize(ents));
  }

  private maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    this.now++;
    if (this.state === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(makeMessage({ type: MessageType.CheckQuorum, from: this.id }));
      // A transfer that hasn't completed within an election timeout is abandoned.
      if (this.state === 'leader' && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(makeMessage({ type: MessageType.Beat, from: this.id }));
    }
  }

  // ---------------------------------------------------------------- elections

  private hup(t: CampaignType): void {
    if (this.state === 'leader') return;
    if (!this.promotable()) return;
    // Don't campaign with an unapplied conf change in the committed log: we might campaign
    // under a membership that is about to change.
    if (this.hasUnappliedConfChange()) return;
    this.campaign(t);
  }

  private hasUnappliedConfChange(): boolean {
    const lo = this.raftLog.applied + 1;
    const hi = this.raftLog.committed + 1;
    if (lo >= hi) return false;
    let ents: Entry[];
    try {
      ents = this.raftLog.slice(Math.max(lo, this.raftLog.firstIndex()), hi, Infinity);
    } catch {
      return false;
    }
    return ents.some((e) => e.type === EntryType.ConfChange);
  }

  campaign(t: CampaignType): void {
    let term: number;
    let voteMsg: MessageType;
    if (t === 'pre-election') {
      this.becomePreCandidate();
      voteMsg = MessageType.PreVote;
      // Pre-votes ask "would you vote for me at term+1?" without bumping our term.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, voteRespType(voteMsg), true) === 'won') {
      // Single-voter group: won outright.
      if (t === 'pre-election') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    for (const id of this.trk.voterIds()) {
      if (id === this.id) continue;
      this.send({
        type: voteMsg,
        to: id,
        term,
        index: this.raftLog.lastIndex(),
        logTerm: this.raftLog.lastTerm(),
        context: t === 'transfer' ? CAMPAIGN_TRANSFER : undefined,
      });
    }
  }

  private poll(id: ReplicaId, _t: MessageType, granted: boolean): 'won' | 'lost' | 'pending' {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---------------------------------------------------------------- step

  /**
   * Feeds one message (local or from a peer). Throws ProposalDroppedError when a proposal
   * cannot be accepted.
   */
  step(m: Message): void {
    if (m.term === 0) {
      // local message (or a forwarded proposal / read)
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER);
        // Leader stickiness: while we hear from a live leader, ignore would-be disruptors.
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // Granted pre-votes carry the future term; we bump our term only on winning.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. healed from a partition) would otherwise never learn our
        // term: with CheckQuorum/PreVote we don't bump terms on its votes, so tell it here.
        this.send({ type: MessageType.AppResp, to: m.from });
      } else if (m.type === MessageType.PreVote) {
        // Reject so the pre-candidate learns our term and stops.
        this.send({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? 'pre-election' : 'election');
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term) ||
          (this.unsafeVoteTwice && m.type === MessageType.Vote);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          // Reply with the request's term: for pre-votes ours is lower, and the candidate
          // would otherwise discard the grant as stale.
          this.send({ type: voteRespType(m.type), to: m.from, term: m.term });
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send({ type: voteRespType(m.type), to: m.from, term: this.term, reject: true });
        }
        return;
      }
      default:
        break;
    }
    switch (this.state) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        if (!this.trk.quorumActive()) {
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const [id, pr] of this.trk.progress) pr.recentActive = id === this.id;
        return;
      case MessageType.Prop:
        this.handlePropose(m);
        return;
      case MessageType.ReadIndex:
        if (this.trk.isSingleton()) {
          this.respondToReadIndex(m, this.raftLog.committed);
          return;
        }
        // Until an entry of this term is committed, the leader's commit index may lag what
        // earlier leaders committed; the read must wait (Raft thesis §6.4).
        if (!this.committedEntryInCurrentTerm()) {
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.serveReadIndex(m);
        return;
      default:
        break;
    }

    const pr = this.trk.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.AppResp:
        pr.recentActive = true;
        if (m.reject) {
          // Fast back-off: the follower's hint is its last index whose term is <= the term
          // of our probe; if it told us that term, skip our entries with larger terms too.
          let next = m.rejectHint;
          if (m.logTerm > 0) next = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm);
          if (pr.maybeDecrTo(m.index, next)) {
            if (pr.state === 'replicate') pr.becomeProbe();
            this.maybeSendAppend(m.from, true);
          }
          return;
        }
        {
          const wasPaused = pr.isPaused();
          if (!pr.maybeUpdate(m.index)) {
            return;
          }
          if (pr.state === 'probe') {
            pr.becomeReplicate();
          } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
            // The snapshot made it (or the follower caught up another way): resume.
            pr.becomeProbe();
            pr.becomeReplicate();
          } else if (pr.state === 'replicate') {
            pr.inflights.freeLE(m.index);
          }
          if (this.maybeCommit()) {
            this.releasePendingReadIndexMessages();
            this.bcastAppend();
          } else if (wasPaused) {
            // Unpaused: send even an empty append so the follower learns the commit index.
            this.maybeSendAppend(m.from, true);
          }
          // Pipelining: fill the window that this ack opened.
          while (this.maybeSendAppend(m.from, false)) {
            /* keep sending */
          }
          if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
            this.sendTimeoutNow(m.from);
          }
        }
        return;
      case MessageType.HeartbeatResp: {
        pr.recentActive = true;
        pr.probeSent = false;
        // The heartbeat echoes the tick it was sent at: the follower's election timer was
        // reset no earlier than that, which is what dates the lease.
        if (m.index > pr.lastAckTick) pr.lastAckTick = m.index;
        // Appends or their acks may have been lost with the window full; see freeFirstOne.
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.raftLog.lastIndex()) this.maybeSendAppend(m.from, true);
        if (!m.context || m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (!acks) return;
        const votes = new Map<ReplicaId, boolean>();
        for (const id of acks) votes.set(id, true);
        if (this.trk.config.voters.voteResult(votes) !== 'won') return;
        for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.req, rs.index);
        return;
      }
      case MessageType.SnapStatus:
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the next heartbeat response before probing: the follower may still be
        // applying the snapshot.
        pr.probeSent = true;
        return;
      case MessageType.Unreachable:
        // Optimistic sends to an unreachable peer are probably lost: probe again.
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      case MessageType.TransferLeader: {
        if (pr.isLearner) return;
        const transferee = m.from;
        if (this.leadTransferee !== NONE) {
          if (this.leadTransferee === transferee) return;
          this.abortLeaderTransfer();
        }
        if (transferee === this.id) return;
        // The transfer must finish within one election timeout, or it is abandoned.
        this.electionElapsed = 0;
        this.leadTransferee = transferee;
        if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
        else this.maybeSendAppend(transferee, true);
        return;
      }
      default:
        return;
    }
  }

  private handlePropose(m: Message): void {
    if (m.entries.length === 0) throw new Error('raft: empty proposal');
    if (!this.trk.progress.has(this.id)) throw new ProposalDroppedError('leader was removed from the group');
    if (this.leadTransferee !== NONE) throw new ProposalDroppedError('leadership transfer in progress');
    const ents = m.entries.map((e) => {
      if (e.type !== EntryType.ConfChange) return e;
      const cc = decodeConfChange(e.data);
      const why = this.refuseConfChange(cc);
      if (why === undefined) return e;
      // Refused changes become no-ops so the rest of the batch still commits in order.
      return { ...e, type: EntryType.Normal, data: new Uint8Array(0) };
    });
    const li = this.raftLog.lastIndex();
    ents.forEach((e, i) => {
      if (e.type === EntryType.ConfChange) this.pendingConfIndex = li + i + 1;
    });
    if (!this.appendEntry(ents)) throw new ProposalDroppedError('too many uncommitted bytes');
    // Batching: don't send per proposal. Everything proposed before the next Ready goes out
    // as one append per follower (flushAppends, called by RawNode.ready/hasReady).
    this.appendsPending = true;
  }

  /** Sends the appends deferred by proposals since the last Ready. */
  flushAppends(): void {
    if (!this.appendsPending) return;
    this.appendsPending = false;
    if (this.state !== 'leader') return;
    // Fill each follower's window: a big batch may need several size-limited appends.
    this.forEachPeer((id) => {
      while (this.maybeSendAppend(id, false)) {
        /* keep sending */
      }
    });
  }

  /** Why a proposed conf change must be refused, or undefined if it may be appended. */
  private refuseConfChange(cc: ConfChange): string | undefined {
    if (this.pendingConfIndex > this.raftLog.applied) return 'another conf change is pending';
    const joint = this.trk.config.voters.isJoint();
    const leave = isLeaveJoint(cc);
    if (joint && !leave) return 'must leave the joint config first';
    if (!joint && leave) return 'not in a joint config';
    if (!leave && !entersJoint(cc)) {
      // Validate a simple change now rather than failing at apply time.
      try {
        new Changer(this.trk.config, this.trk.progress, this.raftLog.lastIndex(), this.trk.maxInflight).apply(cc);
      } catch (e) {
        return (e as Error).message;
      }
    }
    for (const c of cc.changes) {
      if (c.replicaId === this.id && (c.type === ConfChangeType.RemoveNode || c.type === ConfChangeType.AddLearnerNode)) {
        return 'the leader cannot remove or demote itself; transfer leadership first';
      }
    }
    return undefined;
  }

  /** Strict conf-change proposal: throws instead of silently appending a no-op. */
  proposeConfChange(cc: ConfChange): void {
    if (this.state === 'leader') {
      const why = this.refuseConfChange(cc);
      if (why !== undefined) throw new ProposalDroppedError(why);
    }
    this.step(
      makeMessage({
        type: MessageType.Prop,
        from: this.id,
        entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }],
      }),
    );
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.state === 'pre-candidate' ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw new ProposalDroppedError('no leader');
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteResp: {
        const res = this.poll(m.from, m.type, !m.reject);
        if (res === 'won') {
          if (this.state === 'pre-candidate') {
            this.campaign('election');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === 'lost') {
          // Any rejection carrying a higher term already made us a follower above.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        if (this.lead === NONE) throw new ProposalDroppedError('no leader');
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.TimeoutNow:
        // Leadership transfer skips pre-vote: the leader itself asked us to take over.
        this.hup('transfer');
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead });
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, ctx: m.context ?? new Uint8Array(0) });
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    if (this.trk.config.voters.ids().size === 0 && this.raftLog.lastIndex() === 0) {
      // A brand-new replica knows no membership: the bootstrap membership is not in the log,
      // so it must be seeded by a snapshot. Accepting entries from index 1 would have it
      // apply conf changes to an empty configuration. The first rejection (hint 0) moves the
      // leader's probe to index 1, which is compacted once the application snapshots, and
      // then the leader sends a snapshot. Probes at index 0 get no answer: rejecting them
      // would have the leader re-probe at once, in a hot loop; silence leaves it probing once
      // per heartbeat response.
      if (m.index > 0) this.send({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: 0 });
      return;
    }
    if (m.index < this.raftLog.committed) {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed });
      return;
    }
    const last = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (last !== undefined) {
      this.send({ type: MessageType.AppResp, to: m.from, index: last });
      return;
    }
    // Mismatch: hint the largest index that could match, given the leader's term at
    // m.index (entries with a larger term there cannot match). One round trip per term.
    let hint = Math.min(m.index, this.raftLog.lastIndex());
    hint = this.raftLog.findConflictByTerm(hint, m.logTerm);
    this.send({
      type: MessageType.AppResp,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint,
      logTerm: this.raftLog.termOrZero(hint),
    });
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(Math.min(m.commit, this.raftLog.lastIndex()));
    this.send({ type: MessageType.HeartbeatResp, to: m.from, context: m.context, index: m.index });
  }

  private handleSnapshot(m: Message): void {
    if (!m.snapshot) return;
    if (this.restore(m.snapshot)) {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.lastIndex() });
    } else {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed });
    }
  }

  /** Installs a snapshot from the leader; false if it is stale or already covered. */
  private restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.state !== 'follower') {
      // Defensive: only followers receive snapshots; never restore while leading.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.metadata.confState;
    const inConfig = [cs.voters, cs.learners, cs.votersOutgoing].some((l) => l.includes(this.id));
    if (!inConfig) return false;
    // Our log already has the snapshot's last entry: just fast-forward the commit index.
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    const r = restoreConfig(cs, this.raftLog.lastIndex(), this.trk.maxInflight);
    this.trk.config = r.config;
    this.trk.progress = r.progress;
    this.isLearner = this.trk.progress.get(this.id)?.isLearner ?? false;
    return true;
  }

  // ---------------------------------------------------------------- reads

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrZero(this.raftLog.committed) === this.term;
  }

  private releasePendingReadIndexMessages(): void {
    if (!this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.serveReadIndex(m);
  }

  /**
   * A leader with nothing in flight: every replica holds the whole log, all of it committed
   * and applied, no read, proposal batch or transfer pending. A host may then quiesce the
   * group (stop ticking it and its followers) until something happens.
   */
  isIdleLeader(): boolean {
    if (this.state !== 'leader' || this.leadTransferee !== NONE || this.appendsPending) return false;
    const last = this.raftLog.lastIndex();
    if (this.raftLog.committed !== last || this.raftLog.applied !== last || this.raftLog.unstable.entries.length > 0) return false;
    if (this.readOnly.hasPending() || this.pendingReadIndexMessages.length > 0 || this.msgs.length > 0) return false;
    for (const pr of this.trk.progress.values()) if (pr.match !== last) return false;
    return true;
  }

  /**
   * Lease acks are dated in ticks. A host that stopped ticking this replica (quiescence) must
   * call this before ticking again: the tick count did not follow real time meanwhile.
   */
  forgetLeaseAcks(): void {
    for (const pr of this.trk.progress.values()) pr.lastAckTick = -1;
  }

  /** Whether a quorum acknowledged a heartbeat sent within the lease window. */
  leaseValid(): boolean {
    if (this.state !== 'leader' || !this.checkQuorum || this.leaseRevoked || this.leadTransferee !== NONE) return false;
    const start = this.trk.config.voters.committedIndex((id) =>
      id === this.id ? this.now : this.trk.progress.get(id)?.lastAckTick ?? -1,
    );
    return start >= 0 && this.now - start < this.leaseTicks;
  }

  private serveReadIndex(m: Message): void {
    if (this.readOnly.option === 'lease-based' && this.leaseValid()) {
      this.respondToReadIndex(m, this.raftLog.committed);
      return;
    }
    // Safe path (also the fallback when the lease has lapsed): confirm leadership with a
    // heartbeat round that a quorum must acknowledge.
    const ctx = m.context ?? new Uint8Array(0);
    this.readOnly.addRequest(this.raftLog.committed, m);
    this.readOnly.recvAck(this.id, ctx);
    this.bcastHeartbeatWithCtx(ctx);
  }

  private respondToReadIndex(req: Message, index: number): void {
    const ctx = req.context ?? new Uint8Array(0);
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, ctx });
    } else {
      this.send({ type: MessageType.ReadIndexResp, to: req.from, index, context: ctx });
    }
  }

  // ---------------------------------------------------------------- transfer, membership

  private sendTimeoutNow(to: ReplicaId): void {
    // The transferee will campaign ignoring follower leases: our own lease is void now.
    this.leaseRevoked = true;
    this.send({ type: MessageType.TimeoutNow, to });
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** Applies a committed conf change; returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    const r = new Changer(this.trk.config, this.trk.progress, this.raftLog.lastIndex(), this.trk.maxInflight).apply(cc);
    return this.switchToConfig(r.config, r.progress);
  }

  private switchToConfig(config: ProgressTracker['config'], progress: ProgressTracker['progress']): ConfState {
    this.trk.config = config;
    this.trk.progress = progress;
    const cs = this.trk.confState();
    const pr = this.trk.progress.get(this.id);
    this.isLearner = pr?.isLearner ?? false;
    if ((pr === undefined || this.isLearner) && this.state === 'leader') {
      // Removed or demoted leader: step down so the remaining voters elect a new one.
      this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.state !== 'leader' || cs.voters.length === 0) return cs;
    // The quorum changed: the commit index may move, and new replicas need appends.
    if (this.maybeCommit()) this.bcastAppend();
    // Replicas just added (nothing known about their log) get a probe right away rather
    // than at the next heartbeat.
    else this.forEachPeer((id) => this.maybeSendAppend(id, this.trk.progress.get(id)?.match === 0));
    if (this.leadTransferee !== NONE && !this.trk.config.voters.ids().has(this.leadTransferee)) {
      this.abortLeaderTransfer();
    }
    return cs;
  }

  /** Advances the applied index; may trigger the automatic leave of a joint config. */
  appliedTo(index: number): void {
    const old = this.raftLog.applied;
    this.raftLog.appliedTo(Math.max(old, index));
    if (this.trk.config.autoLeave && this.state === 'leader' && index >= this.pendingConfIndex) {
      // The joint config is applied: propose leaving it. An empty ConfChange is "leave".
      const data = encodeConfChange({ changes: [], joint: false });
      if (this.appendEntry([{ term: 0, index: 0, type: EntryType.ConfChange, data }])) {
        this.pendingConfIndex = this.raftLog.lastIndex();
        this.bcastAppend();
      }
    }
  }
}
