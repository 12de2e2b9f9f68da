import { LockTable, type KvRow, type LockReadResult, type LockWaitEdge, type ReadRequestOptions, type RefreshResult, type ScanPage, type ScanRequestOptions, type ShardKv, type TxnStatus } from '@weft/kv';
import { encodeEntry, settledTxnOf, type ApplyOutcome, type LogEntry, type ReadSpan, type Timestamp } from '@weft/logentry';
import {
  AmbiguousResultError,
  NotLeaderError,
  ReadTsTooFarError,
  ReplicaError,
  ReplicaStoppedError,
  ReplicaUnavailableError,
} from './errors';
import { HybridClock, type WallClock } from './hlc';
import { realTimers, type CommittedEntry, type ReplicaRaft, type ReplicaTimers, type ShardStateMachine } from './ports';
import { StagedSweep, type StagedSweepOptions } from './staged-sweep';
import { GcSweep, type GcSweepOptions } from './gc-sweep';

export interface ShardReplicaOptions {
  readonly raft: ReplicaRaft;
  readonly stateMachine: ShardStateMachine;
  readonly clock: WallClock;
  readonly timers?: ReplicaTimers;
  /** Largest clock difference between nodes the cluster tolerates (default 250 ms). */
  readonly maxClockOffsetUs?: bigint;
  /** How often the leader closes timestamps while there is traffic (default 200 ms). */
  readonly closedTsIntervalMs?: number;
  /** Closes a timestamp this far behind the leader's clock (default 0: close at now). */
  readonly closedTsLagUs?: bigint;
  /** Without traffic, closes a timestamp at most this often (default 2000 ms; 0 = never). */
  readonly idleCloseMs?: number;
  /** Testing only: do not raise minCommitTs to the floor (the simulator must catch this). */
  readonly unsafeNoCommitFloor?: boolean;
  /** Called once if the replica stops on an entry it cannot apply. */
  readonly onStopped?: (err: ReplicaStoppedError) => void;
  /** How often the leader sweeps staged transactions (default 1000 ms; 0 = never). */
  readonly stagedSweepMs?: number;
  /** The sweep's limits (idle open transactions, unresolved decided ones). */
  readonly stagedSweep?: StagedSweepOptions;
  /** MVCC garbage collection by the leader (gc-sweep.ts); absent: defaults; null: never. */
  readonly gc?: GcSweepOptions | null;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

/** Outcomes kept for proposals that have not picked theirs up yet; bounded against leaks. */
const MAX_KEPT_OUTCOMES = 65_536;

/**
 * One replica of a shard: a Raft group plus the shard's state machine, serving the ShardKv
 * interface. The replica owns the shard's timestamps:
 *
 * - It keeps an HLC that observes every applied commit and every served read.
 * - Strong reads (ts above the closed timestamp) are served only by the leader, once (1) the
 *   leader has applied an entry of its own term, so every earlier-term entry it will ever commit
 *   is applied; (2) every proposal it made before the read is applied (those were stamped before
 *   the read raised the floor and may commit at or below ts); (3) it still leads under a lease,
 *   or a ReadIndex round started after the read arrived confirmed it and its read point has
 *   applied (a barrier entry through the log if ReadIndex timed out while still leading).
 * - Every commit/prepare it proposes gets minCommitTs above the floor: the highest read ts
 *   served, the highest closed ts proposed, and (from election on) now + 2 × max clock offset,
 *   which exceeds any read a previous leader could have served under its lease. The
 *   materializer's commitTs >= minCommitTs then guarantees a commit never lands below a served
 *   read or a closed timestamp.
 * - Follower (and leader) reads at ts <= the applied closed timestamp need no coordination.
 */
export class ShardReplica implements ShardKv {
  readonly shardId: number;
  private readonly hlc: HybridClock;
  private readonly raft: ReplicaRaft;
  /** Replaced when a snapshot from the leader installs a newer state (replaceStateMachine). */
  private sm: ShardStateMachine;
  private readonly maxOffset: bigint;
  private readonly closedLag: bigint;
  private readonly timers: { stop(): void }[] = [];

  private leading = false;
  private term = 0;
  /** The term whose first (marker) entry has applied here; strong reads need it to equal term. */
  private readyTerm = 0;
  private readyWaiters: Waiter[] = [];
  /** Lower bound (exclusive of nothing: inclusive) for minCommitTs of new proposals. */
  private commitFloor: Timestamp = 0n;
  private lastClosedProposed: Timestamp = 0n;
  private closedInFlight = false;
  private activity = false;
  private idleMs = 0;

  private proposalSeq = 0;
  /** Sequence numbers of proposals handed to Raft and not yet settled, oldest first. */
  private readonly inflight = new Set<number>();
  private inflightWaiters: { seq: number; w: Waiter }[] = [];
  private readonly outcomes = new Map<number, ApplyOutcome>();

  private nextBarrier: Promise<void> | undefined;
  private currentBarrier: Promise<void> | undefined;

  private stopped: ReplicaStoppedError | undefined;
  private closed = false;
  /** Row locks of the current term (leader only, unreplicated: see LockTable). */
  private locks = new LockTable();
  readonly stats = { proposals: 0, leaseReads: 0, readIndexReads: 0, barrierReads: 0, closedReads: 0, closedTsProposals: 0 };

  constructor(private readonly opts: ShardReplicaOptions) {
    this.raft = opts.raft;
    this.sm = opts.stateMachine;
    this.shardId = opts.stateMachine.shardId;
    this.hlc = new HybridClock(opts.clock);
    this.hlc.observe(this.sm.lastCommitTs);
    this.maxOffset = opts.maxClockOffsetUs ?? 250_000n;
    this.closedLag = opts.closedTsLagUs ?? 0n;
    const timers = opts.timers ?? realTimers;
    const interval = opts.closedTsIntervalMs ?? 200;
    const idleClose = opts.idleCloseMs ?? 2000;
    this.timers.push(timers.every(50, () => this.refreshRole()));
    const sweepMs = opts.stagedSweepMs ?? 1000;
    if (sweepMs > 0 && this.sm.stagedTransactions !== undefined) {
      const sweep = new StagedSweep(opts.stagedSweep);
      this.timers.push(
        timers.every(sweepMs, () => {
          if (this.stopped || this.closed) return;
          const staged = this.sm.stagedTransactions?.() ?? [];
          if (staged.length === 0) return;
          sweep.tick(this.isLeader(), staged, opts.clock.now(), (txnId, abort) => this.propose({ type: 'resolve-staged', txnId, abort }));
        }),
      );
    }
    const boundary = this.sm.gcBoundary?.bind(this.sm);
    if (opts.gc !== null && boundary !== undefined) {
      const gc = new GcSweep(opts.gc);
      const ports = {
        boundary,
        propose: (threshold: Timestamp, start: Buffer, end: Buffer) => this.propose({ type: 'gc', threshold, span: { start, end } }),
        lastCommitTs: () => this.sm.lastCommitTs,
      };
      this.timers.push(
        timers.every(Math.min(gc.intervalMs, 1000), () => {
          if (this.stopped || this.closed) return;
          const now = opts.clock.now();
          gc.tick(this.isLeader(), now, Number(now / 1000n), ports);
        }),
      );
    }
    this.timers.push(
      timers.every(interval, () => {
        this.idleMs += interval;
        if (this.activity || (idleClose > 0 && this.idleMs >= idleClose)) this.closeTimestamp();
      }),
    );
  }

  /** The state machine's applied index (Raft no-ops included once a later entry applied). */
  get appliedIndex(): number {
    return this.sm.appliedIndex;
  }

  get closedTs(): Timestamp {
    return this.sm.closedTs;
  }

  stateHash(): Buffer {
    return this.sm.stateHash();
  }

  isLeader(): boolean {
    this.refreshRole();
    return this.leading;
  }

  /** What this replica knows about itself and its group (KV RPC status, tests, tooling). */
  replicaStatus(): { leader: number; term: number; appliedIndex: number; closedTs: Timestamp; stateHash: Buffer; voters: readonly number[] } {
    const st = this.raft.status();
    return { leader: st.leader, term: st.term, appliedIndex: this.sm.appliedIndex, closedTs: this.sm.closedTs, stateHash: this.sm.stateHash(), voters: st.voters ?? [] };
  }

  /** Why the replica stopped applying, if it did. */
  stoppedError(): ReplicaStoppedError | undefined {
    return this.stopped;
  }

  // ---------------------------------------------------------------- apply (called by the host)

  /**
   * Committed, locally durable entries in log order. Entries at or below the applied index are
   * skipped (re-delivery after a restart); gaps are Raft no-ops or conf changes the host did not
   * pass on, and advance the applied index. An entry that fails to apply stops the replica:
   * nothing after it is ever applied, and every request fails with ReplicaStoppedError.
   */
  applyCommitted(entries: readonly CommittedEntry[]): void {
    for (const e of entries) {
      if (this.stopped) return;
      if (e.index <= this.sm.appliedIndex) continue;
      try {
        for (let i = this.sm.appliedIndex + 1; i < e.index; i++) this.sm.applyEmpty(i);
        if (e.conf || e.data.length === 0) {
          this.sm.applyEmpty(e.index);
          continue;
        }
        const out = this.sm.apply(e.index, e.data);
        if (out === 'already-applied') continue;
        if (out.status === 'committed') this.hlc.observe(out.commitTs);
        // A commit or resolve ends its transaction here: the next writer in line may have the
        // rows now, not a round trip later when the coordinator gets round to releasing them.
        if (this.locks.size > 0) {
          const settled = settledTxnOf(e.data);
          if (settled !== undefined) this.locks.release(settled.toString('hex'));
        }
        if (this.inflight.size > 0) this.keepOutcome(e.index, out);
      } catch (err) {
        this.stop(e.index, err);
        return;
      }
    }
  }

  /**
   * A snapshot installed a newer state of this shard (see snapshot-sink.ts): serve and apply on
   * `sm` from now on. Entries up to its applied index are then skipped as already applied.
   * Proposals in flight whose entries it already covers end as AmbiguousResultError (no outcome
   * was seen here), which is what they are.
   */
  replaceStateMachine(sm: ShardStateMachine): void {
    if (sm.shardId !== this.shardId) throw new Error(`state machine of shard ${sm.shardId} offered to the replica of shard ${this.shardId}`);
    if (sm.appliedIndex < this.sm.appliedIndex) {
      throw new Error(`shard ${this.shardId}: replacement state at applied index ${sm.appliedIndex} is behind the current ${this.sm.appliedIndex}`);
    }
    this.sm = sm;
    this.hlc.observe(sm.lastCommitTs);
  }

  /**
   * The Raft log now starts after `index` (a snapshot was recorded). The state must already
   * reflect it: filling the gap with no-ops would silently drop the entries it stands for, so a
   * state behind it stops the replica instead.
   */
  snapshotInstalled(index: number): void {
    if (this.stopped || this.sm.appliedIndex >= index) return;
    this.stop(index, new Error(`raft snapshot at index ${index} installed, but the state machine is only at applied index ${this.sm.appliedIndex}`));
  }

  private keepOutcome(index: number, out: ApplyOutcome): void {
    this.outcomes.set(index, out);
    if (this.outcomes.size > MAX_KEPT_OUTCOMES) {
      const oldest = this.outcomes.keys().next();
      if (!oldest.done) this.outcomes.delete(oldest.value);
    }
  }

  private stop(index: number, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.stopped = new ReplicaStoppedError(this.shardId, index, reason);
    this.failWaiters(this.stopped);
    this.opts.onStopped?.(this.stopped);
  }

  // ---------------------------------------------------------------- ShardKv

  async now(): Promise<Timestamp> {
    this.ensureRunning();
    const now = this.hlc.now();
    const last = this.sm.lastCommitTs;
    return now > last ? now : last;
  }

  get(key: Buffer, ts: Timestamp, options?: ReadRequestOptions): Promise<KvRow | undefined> {
    return this.read(ts, () => this.sm.read(key, ts, this.observedLimit(options)), options?.uncertaintyLimit);
  }

  scan(start: Buffer, end: Buffer, ts: Timestamp, options?: ScanRequestOptions): Promise<ScanPage> {
    return this.read(ts, () => this.sm.scan(start, end, ts, this.observedLimit(options)), options?.uncertaintyLimit);
  }

  /**
   * A reader's uncertainty limit, lowered to this replica's clock now, which the reader keeps
   * as its observed timestamp here (decision 0055). Every version applied here is at or below
   * the clock, so one above it committed after this read; and the commit floor moves above it,
   * so whatever commits here from now on lands above it too: the reader's later reads here
   * look no further up than this.
   */
  private observedLimit<T extends ReadRequestOptions>(options: T | undefined): T | undefined {
    const limit = options?.uncertaintyLimit;
    if (options === undefined || limit === undefined) return options;
    const now = this.hlc.now();
    if (now >= this.commitFloor) this.commitFloor = now + 1n;
    options.onObserved?.(now);
    return limit <= now ? options : { ...options, uncertaintyLimit: now };
  }

  /** A first read at this leader's `now()` (at least `minTs`): one round trip instead of two. */
  async getNow(keys: readonly Buffer[], minTs: Timestamp, options?: ReadRequestOptions): Promise<{ rows: (KvRow | undefined)[]; ts: Timestamp }> {
    this.ensureRunning();
    this.refreshRole();
    if (!this.leading) throw new NotLeaderError(this.shardId, this.raft.status().leader);
    const now = await this.now();
    const ts = now > minTs ? now : minTs;
    return { rows: await this.read(ts, () => keys.map((key) => this.sm.read(key, ts, options))), ts };
  }

  /**
   * The transaction's status in this shard's applied state, from the leader once it has applied
   * its term's first entry (so every decision an earlier leader acknowledged is in it).
   */
  async txnStatus(txnId: Buffer): Promise<TxnStatus> {
    this.ensureRunning();
    this.refreshRole();
    if (!this.leading) throw new NotLeaderError(this.shardId, this.raft.status().leader);
    await this.whenReady(this.term);
    this.ensureRunning();
    return this.sm.txnStatus(txnId);
  }

  /** Waits for the row lock in line, then reads the newest committed value at this leader's clock. */
  async lockRead(key: Buffer, txnId: Buffer, waitMs: number, minTs: Timestamp, options?: ReadRequestOptions, also: readonly Buffer[] = []): Promise<LockReadResult> {
    this.ensureRunning();
    this.refreshRole();
    if (!this.leading) throw new NotLeaderError(this.shardId, this.raft.status().leader);
    const attempt = await this.locks.acquire(key, txnId.toString('hex'), waitMs);
    if (!attempt.granted) return attempt;
    const now = this.hlc.now();
    const ts = now > minTs ? now : minTs;
    return this.read(ts, () => ({
      granted: true,
      row: this.sm.read(key, ts, options),
      readTs: ts,
      newestTs: this.sm.newestVersionTs(key),
      ...(also.length > 0 ? { also: also.map((k) => this.sm.read(k, ts, options)) } : {}),
    }));
  }

  /**
   * Hands leadership (and with it the lease) to replica `to`, waiting up to `waitMs` until it
   * leads. Asked of another replica, answers NotLeader so the client finds the leader.
   */
  async transferLease(to: number, waitMs = 5000): Promise<void> {
    this.ensureRunning();
    this.refreshRole();
    const st = this.raft.status();
    if (st.leader === to) return;
    if (!this.leading) throw new NotLeaderError(this.shardId, st.leader);
    if (this.raft.transferLeader === undefined) throw new ReplicaUnavailableError(this.shardId, 'leadership transfer is not supported here');
    this.raft.transferLeader(to);
    const until = Date.now() + waitMs;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      if (this.raft.status().leader === to) return;
    }
    throw new ReplicaUnavailableError(this.shardId, `node ${to} did not take over the lease within ${waitMs} ms`);
  }

  async releaseLocks(txnId: Buffer): Promise<void> {
    this.locks.release(txnId.toString('hex'));
  }

  /** This shard's waits-for edges; locks live at the leader, so a follower has none. */
  async lockWaits(): Promise<readonly LockWaitEdge[]> {
    this.refreshRole();
    return this.leading ? this.locks.waitEdges() : [];
  }

  /** Read refresh: served like a read at toTs (so nothing can commit at or below it here afterwards). */
  refresh(txnId: Buffer, reads: readonly ReadSpan[], fromTs: Timestamp, toTs: Timestamp): Promise<RefreshResult> {
    return this.read(toTs, (): RefreshResult => {
      const c = this.sm.checkReads(txnId, fromTs, reads);
      return c === undefined ? { ok: true } : { ok: false, ...c };
    });
  }

  async propose(entry: LogEntry): Promise<ApplyOutcome> {
    this.ensureRunning();
    this.refreshRole();
    if (!this.leading) throw new NotLeaderError(this.shardId, this.raft.status().leader);
    this.activity = true;
    this.stats.proposals++;
    const data = encodeEntry(this.stamp(entry));
    const outcome = await this.proposeTracked(data);
    if (outcome.status === 'committed') this.hlc.observe(outcome.commitTs);
    return outcome;
  }

  /** Raises commit/prepare entries' minCommitTs to the floor; other entries pass unchanged. */
  private stamp(entry: LogEntry): LogEntry {
    if ((entry.type !== 'commit' && entry.type !== 'prepare') || this.opts.unsafeNoCommitFloor) return entry;
    return entry.minCommitTs >= this.commitFloor ? entry : { ...entry, minCommitTs: this.commitFloor };
  }

  /** Hands data to Raft and resolves with its entry's apply outcome. */
  private async proposeTracked(data: Uint8Array): Promise<ApplyOutcome> {
    const seq = ++this.proposalSeq;
    this.inflight.add(seq);
    let index: number;
    try {
      index = await this.raft.propose(data);
    } catch (e) {
      if (this.stopped) throw this.stopped;
      throw new AmbiguousResultError(this.shardId, e instanceof Error ? e.message : String(e));
    } finally {
      this.inflight.delete(seq);
      this.releaseInflightWaiters();
    }
    if (this.stopped) throw this.stopped;
    const out = this.outcomes.get(index);
    if (!out) throw new AmbiguousResultError(this.shardId, `no outcome recorded for log index ${index}`);
    this.outcomes.delete(index);
    return out;
  }

  // ---------------------------------------------------------------- reads

  /**
   * `uncertaintyLimit`: the reader must also see what committed up to it (decision 0055), so a
   * follower may serve the read only if its closed timestamp covers the limit too.
   */
  private async read<T>(ts: Timestamp, serve: () => T, uncertaintyLimit?: Timestamp): Promise<T> {
    this.ensureRunning();
    if ((uncertaintyLimit !== undefined && uncertaintyLimit > ts ? uncertaintyLimit : ts) <= this.sm.closedTs) {
      this.stats.closedReads++;
      return serve();
    }
    this.refreshRole();
    if (!this.leading) throw new NotLeaderError(this.shardId, this.raft.status().leader);
    // Bound the read by the PHYSICAL clock (plus the offset tolerance), not by the hybrid one:
    // observing the read moves the hybrid clock up to its timestamp, so a bound relative to the
    // hybrid clock let every read push the next one further ahead, until this leader served
    // reads far above any successor's floor (hlc.now() + 2 * max offset): a commit by the
    // successor could then land below an answered read (shard simulator, seed 355). Timestamps
    // the hybrid clock already reached (replicated commits) stay readable.
    const physical = this.opts.clock.now();
    const hlcNow = this.hlc.now();
    const limit = physical + this.maxOffset > hlcNow ? physical + this.maxOffset : hlcNow;
    if (ts > limit) throw new ReadTsTooFarError(this.shardId, ts, limit - this.maxOffset, this.maxOffset);
    this.hlc.observe(ts);
    if (ts >= this.commitFloor) this.commitFloor = ts + 1n;
    this.activity = true;
    const term = this.term;
    await this.whenReady(term);
    await this.proposalsSettled(this.proposalSeq);
    if (this.raft.leaseValid()) {
      this.stats.leaseReads++;
    } else {
      await this.confirmLeadership(term);
    }
    this.ensureRunning();
    this.refreshRole();
    if (!this.leading || this.term !== term) throw new NotLeaderError(this.shardId, this.raft.status().leader);
    return serve();
  }

  /** Resolves once this term's first entry has applied here. */
  private whenReady(term: number): Promise<void> {
    if (this.readyTerm === term) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Resolves once every proposal with sequence number <= seq has settled. */
  private proposalsSettled(seq: number): Promise<void> {
    const oldest = this.inflight.values().next();
    if (oldest.done || oldest.value > seq) return Promise.resolve();
    return new Promise((resolve, reject) => this.inflightWaiters.push({ seq, w: { resolve, reject } }));
  }

  private releaseInflightWaiters(): void {
    if (this.inflightWaiters.length === 0) return;
    const oldest = this.inflight.values().next();
    const floor = oldest.done ? Infinity : oldest.value;
    const still: { seq: number; w: Waiter }[] = [];
    for (const x of this.inflightWaiters) {
      if (x.seq < floor) x.w.resolve();
      else still.push(x);
    }
    this.inflightWaiters = still;
  }

  /**
   * Without a lease: a ReadIndex round (one heartbeat round a quorum acknowledges, no log
   * write) confirms this replica still led after the read arrived, and the port resolves only
   * once everything up to the read point is applied here. If ReadIndex fails while this replica
   * still believes it leads in the same term (no quorum answered in time: a slow or lossy
   * network), the read falls back to a barrier entry, which waits as long as the leadership
   * lasts instead of a fixed timeout. Losing leadership fails the read with NotLeaderError.
   */
  private async confirmLeadership(term: number): Promise<void> {
    try {
      await this.raft.readIndex();
      this.stats.readIndexReads++;
      return;
    } catch {
      this.ensureRunning();
      this.refreshRole();
      if (!this.leading || this.term !== term) throw new NotLeaderError(this.shardId, this.raft.status().leader);
    }
    this.stats.barrierReads++;
    await this.barrier();
  }

  /**
   * Confirms leadership through the log: proposes a closed-timestamp entry and waits for it to
   * apply. Reads arriving while one barrier is in flight share the next one (proposed after
   * they arrived, which is what makes it a valid read point for them).
   */
  private barrier(): Promise<void> {
    if (this.nextBarrier) return this.nextBarrier;
    const prev = this.currentBarrier ?? Promise.resolve();
    const p: Promise<void> = prev
      .catch(() => undefined)
      .then(async () => {
        if (this.nextBarrier === p) this.nextBarrier = undefined;
        this.currentBarrier = p;
        try {
          await this.proposeClosed();
        } catch (e) {
          if (e instanceof ReplicaStoppedError) throw e;
          throw new NotLeaderError(this.shardId, this.raft.status().leader);
        }
      })
      .finally(() => {
        if (this.currentBarrier === p) this.currentBarrier = undefined;
      });
    this.nextBarrier = p;
    return p;
  }

  // ---------------------------------------------------------------- leadership and closed ts

  /** Notices leadership changes (called on a timer and before serving requests). */
  refreshRole(): void {
    if (this.closed || this.stopped) return;
    const st = this.raft.status();
    const leading = st.leader === st.id;
    const termChanged = st.term !== this.term;
    this.term = st.term;
    if (leading && (!this.leading || termChanged)) {
      this.leading = true;
      this.becameLeader(st.term);
    } else if (!leading && this.leading) {
      this.leading = false;
      this.locks.clear();
      this.failReadyWaiters(new NotLeaderError(this.shardId, st.leader));
    }
  }

  private becameLeader(term: number): void {
    this.readyTerm = 0;
    this.locks.clear();
    this.locks = new LockTable();
    this.failReadyWaiters(new NotLeaderError(this.shardId, 0));
    // A previous leader may have served reads up to its clock + max offset, which is at most
    // our clock + 2 × max offset: our commits start above that.
    const floor = this.hlc.now() + 2n * this.maxOffset;
    if (floor > this.commitFloor) this.commitFloor = floor;
    this.proposeClosed().then(
      () => {
        if (this.term !== term || !this.leading) return;
        this.readyTerm = term;
        const ws = this.readyWaiters;
        this.readyWaiters = [];
        for (const w of ws) w.resolve();
      },
      () => {
        if (this.term === term) this.failReadyWaiters(new NotLeaderError(this.shardId, this.raft.status().leader));
      },
    );
  }

  /** Timer: close a timestamp if leading and nothing else is closing one. */
  private closeTimestamp(): void {
    this.refreshRole();
    if (!this.leading || this.readyTerm !== this.term || this.closedInFlight || this.stopped || this.closed) return;
    this.activity = false;
    this.idleMs = 0;
    this.closedInFlight = true;
    this.proposeClosed()
      .catch(() => undefined)
      .finally(() => {
        this.closedInFlight = false;
      });
  }

  /**
   * Proposes a closed-timestamp entry at the leader's clock (minus the configured lag) and
   * raises the commit floor above it first, so no later proposal of this leader commits at or
   * below it.
   */
  private async proposeClosed(): Promise<void> {
    let closedTs = this.hlc.now() - this.closedLag;
    if (closedTs < this.lastClosedProposed) closedTs = this.lastClosedProposed;
    if (closedTs < this.sm.closedTs) closedTs = this.sm.closedTs;
    this.lastClosedProposed = closedTs;
    if (closedTs >= this.commitFloor) this.commitFloor = closedTs + 1n;
    this.stats.closedTsProposals++;
    await this.proposeTracked(encodeEntry({ type: 'closed-timestamp', closedTs }));
  }

  // ---------------------------------------------------------------- lifecycle

  private ensureRunning(): void {
    if (this.stopped) throw this.stopped;
    if (this.closed) throw new ReplicaUnavailableError(this.shardId, 'replica closed');
  }

  private failReadyWaiters(err: Error): void {
    const ws = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of ws) w.reject(err);
  }

  private failWaiters(err: ReplicaError): void {
    this.failReadyWaiters(err);
    const ws = this.inflightWaiters;
    this.inflightWaiters = [];
    for (const x of ws) x.w.reject(err);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) t.stop();
    this.failWaiters(new ReplicaUnavailableError(this.shardId, 'replica closed'));
  }
}
