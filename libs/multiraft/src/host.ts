import {
  decodeConfChange,
  EntryType,
  makeMessage,
  MessageType,
  ProposalDroppedError,
  RawNode,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type RaftConfig,
  type RaftRand,
  type Ready,
  type Snapshot,
  type Status,
} from '@weft/raft';
import type { Wal, WalRecord } from '@weft/wal';
import {
  inMemorySnapshots,
  SnapshotReceiver,
  SnapshotSender,
  type SnapshotSink,
  type SnapshotSource,
  type SnapshotStreamOptions,
  type StreamStats,
} from './snapshot-stream';

/** Where a replica's outgoing messages go (the TCP transport, or a test network). */
export interface RaftSender {
  send(toNode: number, groupId: number, msg: Message): boolean;
}

/** Receives committed entries of a group, in log order, exactly once per host lifetime. */
export type ApplyFn = (groupId: number, entries: readonly Entry[]) => void;

/** Real timers for the host shell; the simulator replaces this with virtual time. */
export interface Ticker {
  every(ms: number, fn: () => void): { stop(): void };
}

export const realTicker: Ticker = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return { stop: () => clearInterval(t) };
  },
};

export interface HostOptions {
  /** This process's node id; it is also the replica id in every group it hosts. */
  readonly nodeId: number;
  readonly wal: Wal;
  readonly sender: RaftSender;
  readonly apply: ApplyFn;
  readonly rand: RaftRand;
  /** Milliseconds per Raft tick (default 50: election after 10–20 ticks = 0.5–1 s). */
  readonly tickMs?: number;
  readonly ticker?: Ticker;
  /** Overrides for every group's Raft configuration. */
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'storage' | 'rand'>>;
  /**
   * The state behind a snapshot this node sends (default: the snapshot's own `data`). It is
   * streamed to the follower in bounded chunks with flow control (`snapshotStream`).
   */
  readonly snapshotSource?: SnapshotSource;
  /** Where an incoming snapshot stream is written until complete (default: assembled in memory). */
  readonly snapshotSink?: SnapshotSink;
  readonly snapshotStream?: SnapshotStreamOptions;
  /**
   * A snapshot from the leader was installed (persisted in the WAL): replace the group's
   * state with it. Committed entries after it follow through `apply`.
   */
  readonly applySnapshot?: (groupId: number, snapshot: Snapshot) => void;
  /**
   * Quiesce idle groups (default true): a leader whose followers hold its whole log, all of it
   * committed and applied, tells them so with a marked heartbeat and the group stops ticking
   * on every replica until a proposal or a message wakes it (or a peer becomes unreachable).
   * Idle groups then cost no CPU and no network.
   */
  readonly quiesce?: boolean;
  /**
   * Ticks a ReadIndex request may wait for a quorum's heartbeat acks before it fails with
   * ReadIndexTimeoutError (default: two election timeouts, by which time a leader cut off from
   * its quorum has stepped down under CheckQuorum and the read fails with NotLeaderError).
   */
  readonly readIndexTimeoutTicks?: number;
  /**
   * Observes each proposal made through this host once it is committed and applied here:
   * milliseconds from propose() to its resolution (metrics; must be cheap, it runs per entry).
   */
  readonly onProposalCommitted?: (groupId: number, ms: number) => void;
  /**
   * Called synchronously inside propose() with the index the proposal got, i.e. still in the
   * caller's async context (tracing ties the entry to the request that proposed it).
   */
  readonly onProposed?: (groupId: number, index: number) => void;
  /** Observes this node's view of a group's leader changing (0: none known), e.g. to count elections. */
  readonly onLeaderChange?: (groupId: number, leader: number, term: number) => void;
}

/** Committed bytes in one cycle above which the host flushes its messages before applying. */
const BIG_APPLY_BYTES = 256 * 1024;
const DEFAULT_ELECTION_TICK = 10;

/** Context of the heartbeat a leader sends when it quiesces a group ("quiesce"). */
const QUIESCE = new Uint8Array([0x71, 0x75, 0x69, 0x65, 0x73, 0x63, 0x65]);

function isQuiesceMarker(ctx: Uint8Array | undefined): boolean {
  return ctx !== undefined && ctx.length === QUIESCE.length && ctx.every((b, i) => b === QUIESCE[i]);
}

/** A caller of readIndex waiting for its read point. */
interface ReadWaiter {
  readonly resolve: (index: number) => void;
  readonly reject: (e: Error) => void;
}

/** Callers that share one ReadIndex request (one heartbeat round) in the Raft core. */
interface ReadBatch {
  /** The leader term the request was made in: a later term's leader never answers it. */
  readonly term: number;
  readonly waiters: ReadWaiter[];
  ticks: number;
  /** The read point, once a quorum confirmed it; callers get it when it is applied here. */
  index: number | undefined;
}

/** A proposal waiting for its entry to commit and be applied here. */
interface Pending {
  readonly term: number;
  /** performance.now() at propose (commit-latency metric). */
  readonly at: number;
  readonly resolve: (index: number) => void;
  readonly reject: (e: Error) => void;
}

interface Group {
  readonly id: number;
  readonly node: RawNode;
  /** Membership as of the applied index (recorded in snapshots this host takes). */
  conf: ConfState;
  /** Not ticking: nothing is in flight (see HostOptions.quiesce). */
  quiesced: boolean;
  /** Consecutive ticks this leader found the group idle. */
  idleTicks: number;
  /** log index → proposal made through this host. */
  readonly pending: Map<number, Pending>;
  /** readIndex callers not yet handed to the core: the next cycle makes them one request. */
  readQueue: ReadWaiter[];
  /** Requests handed to the core, by hex of their context, until a readState answers them. */
  readonly readBatches: Map<string, ReadBatch>;
}

export class NotLeaderError extends Error {
  constructor(readonly groupId: number, readonly leader: number) {
    super(`raft group ${groupId}: not the leader${leader ? ` (leader is node ${leader})` : ' (no leader known)'}`);
    this.name = 'NotLeaderError';
  }
}

/**
 * No quorum acknowledged this leader's ReadIndex heartbeat round in time (a partition, or
 * followers too slow). Nothing is known about leadership; the caller may retry or give up.
 */
export class ReadIndexTimeoutError extends Error {
  constructor(readonly groupId: number, readonly ticks: number) {
    super(`raft group ${groupId}: no quorum confirmed leadership for a read within ${ticks} ticks`);
    this.name = 'ReadIndexTimeoutError';
  }
}

const ctxKey = (ctx: Uint8Array): string => Buffer.from(ctx).toString('hex');

/**
 * Hosts many Raft groups in one process (multi-Raft). The Raft cores stay pure; this shell
 * owns the I/O: one shared WAL so a single fdatasync persists every group's Ready, one
 * transport whose per-peer connections carry all groups, and one ticker for all groups.
 *
 * Ready handling follows the core's contract, batched across groups: collect every group's
 * Ready → append all records to the WAL as one group commit → send messages → apply committed
 * entries → advance. Only one such cycle runs at a time; work arriving meanwhile (messages,
 * proposals, ticks) marks the host dirty and is picked up by the next cycle.
 */
export class MultiRaftHost {
  private readonly groups = new Map<number, Group>();
  /** Groups that tick (not quiesced): an idle host touches none of the others per tick. */
  private readonly ticking = new Set<Group>();
  /** Groups with readIndex callers queued or in flight (timeouts, leadership checks). */
  private readonly reading = new Set<Group>();
  /** Numbers each ReadIndex request this host makes (its context must be unique). */
  private readSeq = 0;
  private readonly ticker: { stop(): void };
  private cycle: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private failure: Error | undefined;
  readonly stats = { cycles: 0, walAppends: 0, messagesSent: 0, entriesApplied: 0, quiesces: 0, wakeups: 0, readIndexRequests: 0, readIndexReads: 0 };
  readonly snapshotStats: StreamStats = {
    streamsStarted: 0,
    streamsCompleted: 0,
    streamsFailed: 0,
    chunksSent: 0,
    chunksReceived: 0,
    bytesSent: 0,
    maxInFlight: 0,
  };
  private readonly snapSender: SnapshotSender;
  private readonly snapReceiver: SnapshotReceiver;

  constructor(private readonly opts: HostOptions) {
    this.ticker = (opts.ticker ?? realTicker).every(opts.tickMs ?? 50, () => this.tick());
    const send = (to: number, groupId: number, m: Message): void => {
      if (!this.closed) this.opts.sender.send(to, groupId, m);
    };
    this.snapSender = new SnapshotSender(
      opts.snapshotSource ?? inMemorySnapshots,
      send,
      (groupId, to, ok) => {
        const g = this.groups.get(groupId);
        if (!g || this.closed) return;
        g.node.reportSnapshot(to, ok);
        this.schedule();
      },
      opts.snapshotStream ?? {},
      this.snapshotStats,
    );
    this.snapReceiver = new SnapshotReceiver(
      opts.snapshotSink ?? inMemorySnapshots,
      send,
      (groupId, m) => {
        const g = this.groups.get(groupId);
        if (!g || this.closed) return;
        g.node.step(m);
        this.schedule();
      },
      opts.snapshotStream ?? {},
      this.snapshotStats,
    );
  }

  /**
   * Starts (or restarts, from what the WAL recovered) this node's replica of a group. A group
   * the WAL has never seen is bootstrapped with `voters` as its initial membership.
   */
  async addGroup(groupId: number, voters: readonly number[]): Promise<void> {
    if (this.groups.has(groupId)) throw new Error(`raft group ${groupId} already hosted`);
    const storage = this.opts.wal.storage(groupId);
    if (storage.initialState().confState.voters.length === 0) {
      await this.opts.wal.append([
        {
          type: 'snapshot',
          group: groupId,
          snapshot: {
            metadata: { index: 0, term: 0, confState: { voters: [...voters], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } },
            data: new Uint8Array(0),
          },
        },
      ]);
    }
    const node = new RawNode({
      electionTick: DEFAULT_ELECTION_TICK,
      heartbeatTick: 1,
      maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 256,
      preVote: true,
      checkQuorum: true,
      readOnlyOption: 'safe',
      leaseMarginTicks: 2,
      ...this.opts.raft,
      id: this.opts.nodeId,
      storage,
      rand: this.opts.rand,
      // Entries up to the snapshot are already reflected in the application's state.
      applied: storage.snapshot().metadata.index,
    });
    const g: Group = { id: groupId, node, conf: storage.snapshot().metadata.confState, quiesced: false, idleTicks: 0, pending: new Map(), readQueue: [], readBatches: new Map() };
    this.groups.set(groupId, g);
    this.ticking.add(g);
    this.schedule();
  }

  /** Messages from the transport. Unknown groups are ignored (a replica not created yet). */
  receive(groupId: number, msg: Message): void {
    const g = this.groups.get(groupId);
    if (!g || this.closed) return;
    if (msg.type === MessageType.SnapChunk) {
      this.snapReceiver.onChunk(groupId, msg);
      return;
    }
    if (msg.type === MessageType.SnapChunkAck) {
      this.snapSender.onAck(groupId, msg);
      return;
    }
    if (isQuiesceMarker(msg.context)) {
      // The answer to our quiesce heartbeat is dropped: it must not wake us, and its ack is
      // dated by a tick clock that stops now, so it must never count toward a lease.
      if (msg.type !== MessageType.Heartbeat) return;
      g.node.step(msg);
      this.followerQuiesce(g, msg);
    } else {
      this.wake(g);
      g.node.step(msg);
    }
    this.schedule();
  }

  /**
   * The transport could not reach a node: every group moves that peer to probing, and quiesced
   * groups wake up (a follower must notice a dead leader and elect a new one).
   */
  reportUnreachable(nodeId: number): void {
    for (const g of this.groups.values()) {
      this.wake(g);
      g.node.reportUnreachable(nodeId);
    }
    this.schedule();
  }

  /**
   * Proposes `data` to a group this node leads. Resolves with the entry's log index once it is
   * committed (quorum-durable) and applied here; rejects with NotLeaderError if this node is
   * not the leader, or if leadership is lost before the entry commits.
   */
  propose(groupId: number, data: Uint8Array): Promise<number> {
    const g = this.group(groupId);
    if (this.failure) return Promise.reject(this.failure);
    const st = g.node.raft;
    if (st.state !== 'leader') return Promise.reject(new NotLeaderError(groupId, st.lead));
    this.wake(g);
    try {
      g.node.propose(data);
    } catch (e) {
      if (e instanceof ProposalDroppedError) return Promise.reject(new NotLeaderError(groupId, st.lead));
      throw e;
    }
    // The leader appends a proposal to its log synchronously, so its index is known now.
    const index = st.raftLog.lastIndex();
    const term = st.term;
    this.opts.onProposed?.(groupId, index);
    this.schedule();
    const at = performance.now();
    return new Promise((resolve, reject) => g.pending.set(index, { term, at, resolve, reject }));
  }

  /**
   * Proposes a membership change (see libs/raft README for the rules). Resolves with its log
   * index once it is committed and applied here; rejects with NotLeaderError when this node
   * cannot propose it (not the leader, or the core refused it, e.g. another change pending).
   */
  proposeConfChange(groupId: number, cc: ConfChange): Promise<number> {
    const g = this.group(groupId);
    if (this.failure) return Promise.reject(this.failure);
    const st = g.node.raft;
    if (st.state !== 'leader') return Promise.reject(new NotLeaderError(groupId, st.lead));
    this.wake(g);
    try {
      g.node.proposeConfChange(cc);
    } catch (e) {
      if (e instanceof ProposalDroppedError) return Promise.reject(e);
      throw e;
    }
    const index = st.raftLog.lastIndex();
    const term = st.term;
    this.schedule();
    const at = performance.now();
    return new Promise((resolve, reject) => g.pending.set(index, { term, at, resolve, reject }));
  }

  /**
   * A linearizable read point (Raft's ReadIndex): resolves with the commit index as of the call
   * once a quorum has confirmed this node still leads and every entry up to it has been through
   * `apply` here, so a read of the applied state then reflects every write acknowledged before
   * the call. No log entry is written (no append, no fsync).
   * Callers arriving before the next Ready cycle share one request (one heartbeat round).
   * Rejects with NotLeaderError when this node does not lead or loses leadership first, and
   * with ReadIndexTimeoutError when no quorum answers within `readIndexTimeoutTicks`. Wakes a
   * quiesced group (its heartbeat round wakes the followers too).
   */
  readIndex(groupId: number): Promise<number> {
    const g = this.group(groupId);
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('raft host closed'));
    const st = g.node.raft;
    if (st.state !== 'leader') return Promise.reject(new NotLeaderError(groupId, st.lead));
    this.wake(g);
    return new Promise((resolve, reject) => {
      g.readQueue.push({ resolve, reject });
      this.reading.add(g);
      this.schedule();
    });
  }

  /**
   * The application decides compaction: records a snapshot of the group's state at the
   * applied index (`data`: small, e.g. a reference to a checkpoint the SnapshotSource can
   * stream) and discards log entries up to `compactTo` (at most the applied index; Weft holds
   * it back until entries are mirrored to Kafka). Resolves once durable.
   */
  async compact(groupId: number, data: Uint8Array, compactTo: number): Promise<void> {
    const g = this.group(groupId);
    const applied = g.node.raft.raftLog.applied;
    const storage = this.opts.wal.storage(groupId);
    if (compactTo > applied) throw new RangeError(`raft group ${groupId}: cannot compact to ${compactTo} beyond applied index ${applied}`);
    const records: WalRecord[] = [];
    if (applied > storage.snapshot().metadata.index) {
      records.push({
        type: 'snapshot',
        group: groupId,
        snapshot: { metadata: { index: applied, term: storage.term(applied), confState: g.conf }, data },
      });
    }
    if (compactTo > storage.compactIndex()) records.push({ type: 'compact', group: groupId, index: compactTo });
    if (records.length > 0) await this.opts.wal.append(records);
  }

  status(groupId: number): Status {
    return this.group(groupId).node.status();
  }

  /**
   * Whether this node leads the group under a lease: a quorum acknowledged one of its heartbeats
   * within the lease window, so no other leader can exist (lease reads; needs CheckQuorum).
   */
  leaseValid(groupId: number): boolean {
    const g = this.group(groupId);
    // A quiesced leader has not ticked: its lease clock stood still. Wake it; it re-earns the
    // lease with its next heartbeat round (the caller falls back to ReadIndex meanwhile).
    if (g.quiesced) {
      this.wake(g);
      this.schedule();
      return false;
    }
    return g.node.raft.leaseValid();
  }

  /** Proposals made through this host for a group that have not committed yet (metrics). */
  pendingProposals(groupId: number): number {
    return this.group(groupId).pending.size;
  }

  /** Whether a group is quiesced on this node (for tests and metrics). */
  isQuiesced(groupId: number): boolean {
    return this.group(groupId).quiesced;
  }

  campaign(groupId: number): void {
    const g = this.group(groupId);
    this.wake(g);
    g.node.campaign();
    this.schedule();
  }

  transferLeader(groupId: number, to: number): void {
    const g = this.group(groupId);
    this.wake(g);
    g.node.transferLeader(to);
    this.schedule();
  }

  /**
   * Stops hosting a group (its replica was moved off this node): it no longer ticks, votes or
   * answers, and its waiting proposals and reads are rejected. Its WAL records stay (the caller
   * compacts the log first so they pin no segment); addGroup brings it back from them.
   */
  async removeGroup(groupId: number): Promise<void> {
    const g = this.groups.get(groupId);
    if (!g) return;
    // Let a Ready cycle that already collected this group finish with it first.
    await this.cycle;
    if (this.groups.get(groupId) !== g) return;
    this.groups.delete(groupId);
    this.ticking.delete(g);
    const err = new Error(`raft group ${groupId} was removed from node ${this.opts.nodeId}`);
    this.rejectAll(g, err);
    this.rejectReads(g, err);
  }

  groupIds(): number[] {
    return [...this.groups.keys()];
  }

  /** Stops ticking and waits for the cycle in flight; pending proposals are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    this.ticker.stop();
    this.snapSender.close();
    this.snapReceiver.close();
    await this.cycle;
    for (const g of this.groups.values()) {
      this.rejectAll(g, new Error('raft host closed'));
      this.rejectReads(g, new Error('raft host closed'));
    }
  }

  private group(groupId: number): Group {
    const g = this.groups.get(groupId);
    if (!g) throw new Error(`raft group ${groupId} is not hosted on node ${this.opts.nodeId}`);
    return g;
  }

  private tick(): void {
    if (this.closed) return;
    if (this.reading.size > 0) this.expireReads();
    if (this.ticking.size === 0) return;
    const quiesce = this.opts.quiesce !== false;
    // Stay awake an election timeout after the last activity: a group woken for a lease read
    // keeps its lease (heartbeats) long enough to serve it and the reads that follow.
    const after = this.opts.raft?.electionTick ?? DEFAULT_ELECTION_TICK;
    for (const g of this.ticking) {
      if (quiesce && g.pending.size === 0 && !this.reading.has(g) && g.node.raft.isIdleLeader() && !g.node.hasReady()) {
        // Quiesce before ticking: a tick would queue heartbeats that are not needed.
        if (++g.idleTicks >= after) {
          this.leaderQuiesce(g);
          continue;
        }
      } else g.idleTicks = 0;
      g.node.tick();
    }
    this.schedule();
  }

  /**
   * Tells every follower the group is idle (a heartbeat marked QUIESCE that carries the
   * commit index) and stops ticking it here. A follower that is fully caught up stops too.
   */
  private leaderQuiesce(g: Group): void {
    const r = g.node.raft;
    for (const id of r.trk.ids()) {
      if (id === r.id) continue;
      this.opts.sender.send(id, g.id, makeMessage({
        type: MessageType.Heartbeat,
        to: id,
        from: r.id,
        term: r.term,
        commit: r.raftLog.committed,
        index: r.now,
        context: QUIESCE,
      }));
    }
    g.quiesced = true;
    this.ticking.delete(g);
    this.stats.quiesces++;
  }

  private followerQuiesce(g: Group, m: Message): void {
    const r = g.node.raft;
    // Only when this replica already has everything the leader committed (and nothing else):
    // otherwise keep ticking, so it keeps hearing from (or eventually replaces) the leader.
    const caughtUp =
      r.state === 'follower' &&
      r.lead === m.from &&
      r.term === m.term &&
      r.raftLog.lastIndex() === m.commit &&
      r.raftLog.committed === m.commit;
    if (!caughtUp) {
      this.wake(g);
      return;
    }
    if (g.quiesced) return;
    g.quiesced = true;
    this.ticking.delete(g);
    this.stats.quiesces++;
  }

  private wake(g: Group): void {
    if (!g.quiesced) return;
    g.idleTicks = 0;
    g.quiesced = false;
    g.node.raft.forgetLeaseAcks();
    this.ticking.add(g);
    this.stats.wakeups++;
  }

  /** Runs a Ready cycle soon; coalesces every event of this turn into one cycle. */
  private schedule(): void {
    if (this.closed || this.failure) return;
    this.dirty = true;
    if (this.cycle) return;
    this.cycle = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.runCycles());
  }

  private async runCycles(): Promise<void> {
    try {
      while (this.dirty && !this.failure) {
        this.dirty = false;
        await this.runOneCycle();
      }
    } catch (e) {
      // A WAL failure leaves durability unknown: stop serving rather than acknowledge writes
      // that might not be on disk (the process supervisor restarts from the WAL).
      this.fail(e);
    } finally {
      this.cycle = undefined;
    }
  }

  private async runOneCycle(): Promise<void> {
    if (this.reading.size > 0) this.issueReads();
    const readies: [Group, Ready][] = [];
    for (const g of this.groups.values()) if (g.node.hasReady()) readies.push([g, g.node.ready()]);
    if (readies.length === 0) return;
    this.stats.cycles++;

    const records: WalRecord[] = [];
    let mustSync = false;
    for (const [g, rd] of readies) {
      if (rd.softState && this.opts.onLeaderChange) this.opts.onLeaderChange(g.id, rd.softState.lead, g.node.raft.term);
      if (rd.snapshot) records.push({ type: 'snapshot', group: g.id, snapshot: rd.snapshot });
      if (rd.entries.length > 0) records.push({ type: 'entries', group: g.id, entries: rd.entries });
      if (rd.hardState) records.push({ type: 'hardState', group: g.id, hardState: rd.hardState });
      if (rd.mustSync) mustSync = true;
      // A leader's appends go out now, while its own write runs (the core counts its own
      // copy toward commit only after advance): one fdatasync instead of two on the commit path.
      if (rd.sendBeforePersist) this.sendAll(g, rd);
    }
    if (records.length > 0) {
      // One frame and one fdatasync for every group's entries and hard state.
      const written = this.opts.wal.append(records);
      this.stats.walAppends++;
      if (mustSync) await written;
      // Commit-index-only changes need not be durable before anything else happens (a lost
      // commit index is recomputed after a crash); later appends are ordered after this one.
      else written.catch((e: unknown) => this.fail(e));
    }

    let queued = false;
    let applyBytes = 0;
    for (const [g, rd] of readies) {
      if (!rd.sendBeforePersist && rd.messages.length > 0) {
        this.sendAll(g, rd);
        queued = true;
      }
      for (const e of rd.committedEntries) applyBytes += e.data.length;
    }
    // A big apply blocks this process for a while (a multi-MiB chunk of a bulk load: ~100 ms
    // per MiB). Let the transport flush first, so followers learn the new commit index and
    // apply alongside instead of hearing nothing from their leader until it is done, which
    // looks like a dead leader to them.
    if (queued && applyBytes >= BIG_APPLY_BYTES) await new Promise<void>((r) => setImmediate(r));

    for (const [g, rd] of readies) {
      if (rd.snapshot) {
        g.conf = rd.snapshot.metadata.confState;
        this.opts.applySnapshot?.(g.id, rd.snapshot);
      }
      if (rd.committedEntries.length > 0) this.applyCommitted(g, rd.committedEntries);
      // Judge by the state now, not the Ready's: it was taken before the WAL write, and the
      // node may have become leader (and accepted proposals) since.
      if (g.pending.size > 0 && g.node.raft.state !== 'leader') this.rejectAll(g, new NotLeaderError(g.id, g.node.raft.lead));
      if (rd.readStates.length > 0) this.answerReads(g, rd);
      if (this.reading.has(g)) this.checkReadLeadership(g);
      g.node.advance(rd);
      if (this.reading.has(g)) this.settleReads(g);
      // Advancing can itself produce work (a leader's commit moves once its own write is
      // durable): run another cycle right away.
      if (!this.dirty && g.node.hasReady()) this.dirty = true;
    }
  }

  private sendAll(g: Group, rd: Ready): void {
    for (const m of rd.messages) {
      this.stats.messagesSent++;
      // Snapshots travel as a chunked stream (snapshot-stream.ts), never as one message.
      if (m.type === MessageType.Snap) this.snapSender.start(g.id, m);
      else this.opts.sender.send(m.to, g.id, m);
    }
  }

  /** Stops serving after a WAL failure: durability is unknown (see runCycles). */
  private fail(e: unknown): void {
    if (this.failure) return;
    this.failure = e instanceof Error ? e : new Error(String(e));
    for (const g of this.groups.values()) {
      this.rejectAll(g, this.failure);
      this.rejectReads(g, this.failure);
    }
  }

  /** Hands each group's queued readIndex callers to its core as one request (unique context). */
  private issueReads(): void {
    for (const g of this.reading) {
      if (g.readQueue.length === 0) continue;
      const waiters = g.readQueue;
      g.readQueue = [];
      const st = g.node.raft;
      if (st.state !== 'leader') {
        for (const w of waiters) w.reject(new NotLeaderError(g.id, st.lead));
        continue;
      }
      // Node id + sequence: unique across this host's lifetime (and across hosts, for logs).
      const ctx = new Uint8Array(12);
      const view = new DataView(ctx.buffer);
      view.setUint32(0, this.opts.nodeId >>> 0);
      view.setFloat64(4, ++this.readSeq);
      g.readBatches.set(ctxKey(ctx), { term: st.term, waiters, ticks: 0, index: undefined });
      this.stats.readIndexRequests++;
      g.node.readIndex(ctx);
    }
    for (const g of this.reading) if (g.readQueue.length === 0 && g.readBatches.size === 0) this.reading.delete(g);
  }

  /** Records the read points the core produced (settleReads hands them out once applied). */
  private answerReads(g: Group, rd: Ready): void {
    for (const rs of rd.readStates) {
      // Unknown: a request that timed out here and was answered later anyway.
      const b = g.readBatches.get(ctxKey(rs.ctx));
      if (b) b.index = rs.index;
    }
  }

  /**
   * Resolves the batches whose read point is applied here (after advance: the core's applied
   * index then covers this Ready's committed entries, which the core may have capped in size).
   */
  private settleReads(g: Group): void {
    const applied = g.node.raft.raftLog.applied;
    for (const [k, b] of g.readBatches) {
      if (b.index === undefined || b.index > applied) continue;
      g.readBatches.delete(k);
      this.stats.readIndexReads += b.waiters.length;
      for (const w of b.waiters) w.resolve(b.index);
    }
    if (g.readQueue.length === 0 && g.readBatches.size === 0) this.reading.delete(g);
  }

  /**
   * A core that stopped leading (or leads in a later term) dropped its pending read requests:
   * their callers learn it now rather than at the timeout. A request already answered stays: its
   * read point was confirmed while this node led, and only waits for the local apply.
   */
  private checkReadLeadership(g: Group): void {
    const st = g.node.raft;
    for (const [k, b] of g.readBatches) {
      if (b.index !== undefined || (st.state === 'leader' && st.term === b.term)) continue;
      g.readBatches.delete(k);
      for (const w of b.waiters) w.reject(new NotLeaderError(g.id, st.lead));
    }
    if (g.readQueue.length === 0 && g.readBatches.size === 0) this.reading.delete(g);
  }

  /** Tick: fails requests that waited too long for a quorum (see readIndexTimeoutTicks). */
  private expireReads(): void {
    const limit = this.opts.readIndexTimeoutTicks ?? 2 * (this.opts.raft?.electionTick ?? DEFAULT_ELECTION_TICK);
    for (const g of this.reading) {
      this.checkReadLeadership(g);
      for (const [k, b] of g.readBatches) {
        if (b.index !== undefined || ++b.ticks < limit) continue;
        g.readBatches.delete(k);
        for (const w of b.waiters) w.reject(new ReadIndexTimeoutError(g.id, limit));
      }
      if (g.readQueue.length === 0 && g.readBatches.size === 0) this.reading.delete(g);
    }
  }

  private rejectReads(g: Group, err: Error): void {
    for (const w of g.readQueue) w.reject(err);
    g.readQueue = [];
    for (const b of g.readBatches.values()) for (const w of b.waiters) w.reject(err);
    g.readBatches.clear();
    this.reading.delete(g);
  }

  private applyCommitted(g: Group, entries: readonly Entry[]): void {
    const app: Entry[] = [];
    for (const e of entries) {
      if (e.type === EntryType.ConfChange) {
        // Membership changes take effect when applied (libs/raft README, rule 2).
        g.conf = g.node.applyConfChange(decodeConfChange(e.data));
        continue;
      }
      if (e.data.length > 0) app.push(e);
    }
    if (app.length > 0) this.opts.apply(g.id, app);
    this.stats.entriesApplied += app.length;
    for (const e of entries) {
      const p = g.pending.get(e.index);
      if (!p) continue;
      g.pending.delete(e.index);
      // A different term at our index means another leader's entry replaced our proposal.
      if (p.term === e.term) {
        this.opts.onProposalCommitted?.(g.id, performance.now() - p.at);
        p.resolve(e.index);
      } else p.reject(new NotLeaderError(g.id, g.node.raft.lead));
    }
  }

  private rejectAll(g: Group, err: Error): void {
    for (const p of g.pending.values()) p.reject(err);
    g.pending.clear();
  }
}
