import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { KvError } from '@weft/kv';
import { MultiRaftHost, NotLeaderError, type Ticker } from '@weft/multiraft';
import type { Entry, RaftRand } from '@weft/raft';
import { RaftTransport, type TransportLogger } from '@weft/transport';
import { Wal } from '@weft/wal';
import { MetaCatalog } from './catalog';
import { encodeCommand, type MetaCommand } from './commands';
import { MetaNotLeaderError, metaUnavailable } from './errors';
import { livenessChanges } from './liveness';
import { PlacementError, placeReplicas, planRebalance, planRepairs, replicaLoad, type RepairStep } from './placement';
import { MetaStateMachine } from './state';
import { TsoAllocator } from './tso';
import { systemMetaClock, type MetaClock, type MetaStatus, type NodeInfo, type NodeLiveness, type NodeRecord, type ShardRecord, type TsoRange } from './types';

/** The meta Raft group's id in the meta processes' own WAL. */
export const META_GROUP = 1;

/** Raft address of a meta replica. */
export interface MetaPeer {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export type MetaLogger = TransportLogger & { error(obj: object, msg: string): void };

export interface MetaReplicaOptions {
  /** This replica's id in the meta group (WEFT_META_ID). */
  readonly metaId: number;
  /** `wal/` (the meta group's Raft log) and `meta.sqlite` (the TypeORM catalog). */
  readonly dataDir: string;
  readonly bindHost: string;
  /** 0 picks a free port (see raftAddress). */
  readonly raftPort: number;
  /** Every meta replica as id@host:raft-port, this one included (WEFT_META_PEERS). */
  readonly peers: readonly MetaPeer[];
  readonly logger: MetaLogger;
  /** Milliseconds per Raft tick (default 50). */
  readonly tickMs?: number;
  /** Ticks before a follower campaigns (default 20: 1-2 s, as storage nodes). */
  readonly electionTicks?: number;
  readonly clock?: MetaClock;
  readonly rand?: RaftRand;
  readonly ticker?: Ticker;
  /** How far ahead of the clock the TSO high-water mark is persisted (default 1000 ms). */
  readonly tsoWindowMs?: number;
  /** A node silent this long is marked dead (WEFT_META_DEAD_AFTER_MS, default 10 s). */
  readonly deadAfterMs?: number;
  /**
   * At most one rebalancing move (planRebalance) this often, while every node is live (default
   * 10 s; 0 turns rebalancing off). Each move costs the new replica a snapshot.
   */
  readonly rebalanceIntervalMs?: number;
  /** The leader checks liveness, flushes heartbeats and places new shards this often (default 500 ms). */
  readonly maintenanceMs?: number;
  /** Heartbeat times are written to the log at most this often (default 2000 ms). */
  readonly beatFlushMs?: number;
  /** Bootstrap an empty shard map with this many uniform shards (0: leave it empty). */
  readonly shardCount?: number;
  /** Snapshot and compact the meta log every this many applied entries (default 1000). */
  readonly snapshotEveryEntries?: number;
  /**
   * Longest a tso/heartbeat/read waits for the group (a new leader, a quorum) before it fails
   * with KvError 'unavailable' (default 3000 ms). Bounded so losing quorum is a clear error.
   */
  readonly requestTimeoutMs?: number;
}

interface TsoWaiter {
  readonly count: number;
  readonly resolve: (r: TsoRange) => void;
  readonly reject: (e: Error) => void;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One replica of the meta service: the meta Raft group (own WAL, own transport, a MultiRaftHost
 * with one group), the deterministic MetaStateMachine it applies, the TypeORM catalog that
 * persists it, and, while leading, the timestamp oracle, node liveness and shard placement.
 * Plain TypeScript; apps/meta wraps it in NestJS and MetaServer serves it over TCP.
 */
export class MetaReplica {
  private wal?: Wal;
  private transport?: RaftTransport;
  private host?: MultiRaftHost;
  private catalog?: MetaCatalog;
  private readonly sm = new MetaStateMachine();
  private readonly clock: MetaClock;
  private readonly tso = new TsoAllocator();
  private joined = false;
  private stopping = false;
  private stopped?: Promise<void>;
  private failure?: Error;
  private readonly timers: { stop(): void }[] = [];
  private holdTimer?: NodeJS.Timeout;
  /** Ends the restart hold-off early (stop() during start()). */
  private endHold?: () => void;

  /** Term of the leadership being set up / whose barrier applied (0: not leading). */
  private leaderTerm = 0;
  private readyTerm = 0;
  private readyWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private leaderSinceMs = 0;

  private tsoQueue: TsoWaiter[] = [];
  private draining = false;
  private tsoDemand = false;
  private extending?: Promise<void>;

  /** Leader memory: when each node was last heard (flushed to the log every beatFlushMs). */
  private readonly heard = new Map<number, number>();
  private beatsDirty = false;
  private lastBeatFlushMs = 0;
  private lastRebalanceMs = 0;
  private readonly leaseHints = new Map<number, number>();
  private readonly inflightLiveness = new Set<number>();
  private maintaining = false;

  private persisting = false;
  private snapshotIndex = 0;
  raftAddress?: { host: string; port: number };
  readonly stats = { tsoExtends: 0, tsoRequests: 0, barriers: 0, proposals: 0, persists: 0, snapshots: 0 };

  constructor(private readonly opts: MetaReplicaOptions) {
    if (!opts.peers.some((p) => p.nodeId === opts.metaId)) {
      throw new Error(`the meta peer list does not include this replica (meta id ${opts.metaId}); list every meta replica, this one included`);
    }
    this.clock = opts.clock ?? systemMetaClock;
  }

  get metaId(): number {
    return this.opts.metaId;
  }

  private get tickMs(): number {
    return this.opts.tickMs ?? 50;
  }

  private get electionTicks(): number {
    return this.opts.electionTicks ?? 20;
  }

  private get requestTimeoutMs(): number {
    return this.opts.requestTimeoutMs ?? 3000;
  }

  /** Opens the catalog and the WAL, listens for Raft and joins the meta group. */
  async start(): Promise<void> {
    try {
      await this.open();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private async open(): Promise<void> {
    const { opts } = this;
    mkdirSync(opts.dataDir, { recursive: true });
    this.catalog = await MetaCatalog.open(path.join(opts.dataDir, 'meta.sqlite'));
    const c = await this.catalog.load();
    this.sm.load(c.appliedIndex, c.tsoHighUs, c.nodes, c.shards);

    const walDir = path.join(opts.dataDir, 'wal');
    mkdirSync(walDir, { recursive: true });
    this.wal = await Wal.open(walDir);
    const storage = this.wal.storage(META_GROUP);
    const snap = storage.snapshot();
    this.snapshotIndex = snap.metadata.index;
    if (snap.metadata.index > this.sm.appliedIndex) {
      // The catalog is behind the log's snapshot (lost or older file): start from the snapshot,
      // the entries after it are replayed from the log.
      if (snap.data.length === 0) throw new Error(`meta catalog is at applied index ${this.sm.appliedIndex} but the meta log starts after ${snap.metadata.index} with no snapshot data`);
      this.sm.restoreSnapshot(snap.data, snap.metadata.index);
      opts.logger.info({ index: snap.metadata.index }, 'meta state restored from the log snapshot');
    }
    const restarted = storage.initialState().confState.voters.length > 0;

    const hostRef: { current?: MultiRaftHost } = {};
    const peers = new Map(opts.peers.filter((p) => p.nodeId !== opts.metaId).map((p) => [p.nodeId, { host: p.host, port: p.port }]));
    this.transport = new RaftTransport({
      nodeId: opts.metaId,
      host: opts.bindHost,
      port: opts.raftPort,
      peers,
      onMessages: (_from, batch) => {
        for (const env of batch) hostRef.current?.receive(env.groupId, env.msg);
      },
      onUnreachable: (node) => hostRef.current?.reportUnreachable(node),
      logger: opts.logger,
    });
    this.raftAddress = await this.transport.listen();
    this.host = new MultiRaftHost({
      raft: { electionTick: this.electionTicks },
      nodeId: opts.metaId,
      wal: this.wal,
      sender: this.transport,
      tickMs: this.tickMs,
      ticker: opts.ticker,
      rand: opts.rand ?? { int: (n: number) => randomInt(n) },
      apply: (_g, entries) => this.applyEntries(entries),
      applySnapshot: (_g, s) => {
        this.sm.restoreSnapshot(s.data, s.metadata.index);
        this.snapshotIndex = Math.max(this.snapshotIndex, s.metadata.index);
        this.schedulePersist();
      },
    });
    hostRef.current = this.host;

    const tick = (opts.ticker ?? { every: (ms: number, fn: () => void) => { const t = setInterval(fn, ms); t.unref(); return { stop: () => clearInterval(t) }; } });
    this.timers.push(tick.every(this.tickMs, () => this.refreshRole()));
    this.timers.push(tick.every(opts.maintenanceMs ?? 500, () => void this.maintain()));

    if (restarted) {
      // As storage nodes (decision 0024): a restarted replica forgot the leases it granted, and
      // the TSO trusts leases; voting before an election timeout passed could elect a leader
      // while the old one still hands out timestamps under its lease.
      await new Promise<void>((resolve) => {
        this.endHold = resolve;
        this.holdTimer = setTimeout(resolve, 2 * this.electionTicks * this.tickMs);
      });
      if (this.stopping) return;
    }
    const voters = opts.peers.map((p) => p.nodeId);
    await this.host.addGroup(META_GROUP, voters);
    this.joined = true;
  }

  // ------------------------------------------------------------------ apply and persistence

  private applyEntries(entries: readonly Entry[]): void {
    if (this.failure) return;
    for (const e of entries) {
      try {
        this.sm.applyEntry(e.index, e.data);
      } catch (err) {
        // A command no replica can apply: stop here rather than diverge (nothing after it applies).
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.opts.logger.error({ index: e.index, err: this.failure.message }, 'meta replica stopped applying');
        return;
      }
    }
    this.schedulePersist();
  }

  /** Writes applied changes to the catalog, one batch at a time, off the Raft cycle. */
  private schedulePersist(): void {
    if (this.persisting || !this.catalog) return;
    this.persisting = true;
    setImmediate(() => void this.persistLoop());
  }

  private async persistLoop(): Promise<void> {
    try {
      while (this.catalog && this.sm.appliedIndex > this.catalog.persistedIndex) {
        await this.catalog.persist(this.sm.takeChanges());
        this.stats.persists++;
        await this.maybeCompact();
      }
    } catch (e) {
      // The failed batch's changes were taken: rewrite everything next time, or they would be lost.
      this.sm.requireFullRewrite();
      this.opts.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'meta catalog persist failed; will retry');
      setTimeout(() => this.schedulePersist(), 500).unref();
    } finally {
      this.persisting = false;
    }
  }

  /**
   * Snapshots the state into the log and compacts entries the catalog already holds. The meta
   * state is small, so the snapshot carries it inline (followers far behind receive it as is).
   */
  private async maybeCompact(): Promise<void> {
    const host = this.host;
    const catalog = this.catalog;
    if (!host || !catalog || !this.joined || this.stopping) return;
    const every = this.opts.snapshotEveryEntries ?? 1000;
    const applied = host.status(META_GROUP).applied;
    if (applied - this.snapshotIndex < every) return;
    // Taken synchronously with the core's applied index: the state is exactly at `applied`.
    const data = this.sm.encodeSnapshot();
    const compactTo = Math.max(0, Math.min(applied, catalog.persistedIndex) - 100);
    await host.compact(META_GROUP, data, compactTo);
    this.snapshotIndex = applied;
    this.stats.snapshots++;
  }

  /** The meta log's compaction state (tests, tooling). */
  logStatus(): { appliedIndex: number; snapshotIndex: number; firstIndex: number } {
    return { appliedIndex: this.sm.appliedIndex, snapshotIndex: this.snapshotIndex, firstIndex: this.wal?.storage(META_GROUP).firstIndex() ?? 0 };
  }

  /** Catalog contents (tests, tooling). */
  async catalogContents(): Promise<Awaited<ReturnType<MetaCatalog['load']>>> {
    if (!this.catalog) throw new Error('meta replica not started');
    return this.catalog.load();
  }

  /** Resolves once the catalog holds everything applied so far (tests, shutdown). */
  async flushed(): Promise<void> {
    for (let i = 0; i < 200 && this.catalog && this.sm.appliedIndex > this.catalog.persistedIndex; i++) {
      this.schedulePersist();
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // ------------------------------------------------------------------ leadership

  private refreshRole(): void {
    if (!this.host || !this.joined || this.stopping) return;
    const st = this.host.status(META_GROUP);
    if (st.state === 'leader') {
      if (this.leaderTerm !== st.term) this.becomeLeader(st.term);
    } else if (this.leaderTerm !== 0) {
      this.stepDown(new MetaNotLeaderError(this.metaId, st.lead));
    }
  }

  /**
   * A new term's leader proposes a barrier first: once it applies, every entry of earlier terms
   * has applied here, so the state's TSO mark covers every timestamp an older leader handed out.
   */
  private becomeLeader(term: number): void {
    if (this.leaderTerm !== 0) this.stepDown(new MetaNotLeaderError(this.metaId, 0));
    this.leaderTerm = term;
    this.stats.barriers++;
    this.propose({ t: 'barrier', leader: this.metaId, term }).then(
      () => {
        if (this.leaderTerm !== term) return;
        this.tso.reset(this.sm.tsoHighUs);
        this.readyTerm = term;
        this.leaderSinceMs = this.clock.nowMs();
        this.heard.clear();
        this.opts.logger.info({ metaId: this.metaId, term, tsoHighUs: this.sm.tsoHighUs.toString() }, 'meta leader ready');
        const w = this.readyWaiters;
        this.readyWaiters = [];
        for (const x of w) x.resolve();
        void this.maintain();
      },
      () => {
        // Lost leadership before the barrier committed: callers waiting for it learn now; if
        // this replica still leads, the next refreshRole proposes a new barrier.
        if (this.leaderTerm === term) this.stepDown(this.notLeader());
      },
    );
  }

  private stepDown(err: Error): void {
    this.leaderTerm = 0;
    this.readyTerm = 0;
    const w = this.readyWaiters;
    this.readyWaiters = [];
    for (const x of w) x.reject(err);
    const q = this.tsoQueue;
    this.tsoQueue = [];
    for (const x of q) this.settle(x, err);
    this.heard.clear();
    this.leaseHints.clear();
  }

  private notLeader(): MetaNotLeaderError {
    const lead = this.host && this.joined ? this.host.status(META_GROUP).lead : 0;
    return new MetaNotLeaderError(this.metaId, lead === this.metaId ? 0 : lead);
  }

  /** Waits (bounded) for this replica to be a ready leader; rejects with not-leader or unavailable. */
  private async ready(deadline: number): Promise<number> {
    if (this.failure) throw new KvError('stopped', `meta replica ${this.metaId} stopped applying: ${this.failure.message}`);
    if (this.stopping) throw metaUnavailable(`meta replica ${this.metaId} is stopping`);
    this.refreshRole();
    if (this.readyTerm !== 0) return this.readyTerm;
    if (this.leaderTerm === 0) {
      const e = this.notLeader();
      // No leader known at all: the group has no quorum right now (or is electing).
      if (e.leaderHint === 0) throw metaUnavailable(`meta replica ${this.metaId} knows no meta leader (election in progress or no quorum)`);
      throw e;
    }
    await this.withDeadline(new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject })), deadline, 'the new meta leader is not ready');
    return this.readyTerm;
  }

  /**
   * Confirms this replica still leads (so no newer leader can have handed out a timestamp or
   * changed the state): a valid lease, else a ReadIndex round with a quorum.
   */
  private async confirmLeader(term: number, deadline: number): Promise<void> {
    const host = this.host;
    if (!host) throw metaUnavailable('meta replica not started');
    if (!host.leaseValid(META_GROUP)) {
      try {
        await this.withDeadline(host.readIndex(META_GROUP), deadline, 'no quorum confirmed the meta leader');
      } catch (e) {
        if (e instanceof NotLeaderError) throw this.notLeader();
        if (e instanceof KvError) throw e;
        throw metaUnavailable(e instanceof Error ? e.message : String(e));
      }
    }
    if (this.readyTerm !== term) throw this.notLeader();
  }

  private withDeadline<T>(p: Promise<T>, deadline: number, what: string): Promise<T> {
    const ms = Math.max(0, deadline - Date.now());
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(metaUnavailable(`${what} within ${this.requestTimeoutMs} ms`)), ms);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  private async propose(cmd: MetaCommand): Promise<number> {
    const host = this.host;
    if (!host || !this.joined) throw this.notLeader();
    this.stats.proposals++;
    try {
      return await host.propose(META_GROUP, encodeCommand(cmd));
    } catch (e) {
      if (e instanceof NotLeaderError) throw this.notLeader();
      throw e;
    }
  }

  /** Proposes as the ready leader of `term`, bounded by `deadline`; an unknown fate is 'unavailable'. */
  private async proposeBounded(cmd: MetaCommand, deadline: number): Promise<void> {
    await this.withDeadline(this.propose(cmd), deadline, `the meta log did not commit a ${cmd.t} entry`);
  }

  // ------------------------------------------------------------------ timestamp oracle

  /**
   * `count` strictly increasing timestamps (microseconds), above every timestamp any meta leader
   * handed out before this call returned. Concurrent calls share leadership checks and log
   * writes. Fails with MetaNotLeaderError (retry at the hint) or KvError 'unavailable' (no
   * quorum within requestTimeoutMs), never with a timestamp that might not be the newest.
   */
  async tsoRange(count: number): Promise<TsoRange> {
    if (!Number.isInteger(count) || count < 1 || count > 1_000_000) throw new KvError('bad-request', `tso count must be an integer 1..1000000, got ${count}`);
    const deadline = Date.now() + this.requestTimeoutMs;
    await this.ready(deadline);
    this.stats.tsoRequests++;
    this.tsoDemand = true;
    return new Promise<TsoRange>((resolve, reject) => {
      const w: TsoWaiter = { count, resolve, reject, done: false, timer: undefined };
      // Bounded: a leader cut off from its quorum cannot extend or confirm, and says so.
      w.timer = setTimeout(() => this.settle(w, metaUnavailable(`no timestamp within ${this.requestTimeoutMs} ms (meta quorum lost?)`)), Math.max(0, deadline - Date.now()));
      this.tsoQueue.push(w);
      // Callers arriving in the same turn share the next round (one check, at most one write).
      void Promise.resolve().then(() => this.drainTso());
    });
  }

  private settle(w: TsoWaiter, r: TsoRange | Error): void {
    if (w.done) return;
    w.done = true;
    clearTimeout(w.timer);
    if (r instanceof Error) w.reject(r);
    else w.resolve(r);
  }

  /** Serves queued TSO requests in batches: one leadership check and at most one log write per round. */
  private async drainTso(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.tsoQueue.length > 0) {
        const term = this.readyTerm;
        const batch = this.tsoQueue;
        this.tsoQueue = [];
        const live = batch.filter((w) => !w.done);
        if (live.length === 0) continue;
        const deadline = Date.now() + this.requestTimeoutMs;
        try {
          if (term === 0) throw this.notLeader();
          const need = live.reduce((s, w) => s + w.count, 0);
          if (this.tso.remaining(this.clock.nowUs()) < BigInt(need)) await this.extendTso(term, need, deadline);
          await this.confirmLeader(term, deadline);
          for (const w of live) {
            if (w.done) continue;
            let first = this.tso.take(w.count, this.clock.nowUs());
            if (first === undefined) {
              // The clock moved past the window while we waited: extend once more.
              await this.extendTso(term, w.count, deadline);
              first = this.tso.take(w.count, this.clock.nowUs());
            }
            this.settle(w, first === undefined ? metaUnavailable('tso window exhausted') : { first, count: w.count });
          }
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          for (const w of live) this.settle(w, err);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Persists a higher mark through the log (shared by concurrent callers), then allows it. */
  private async extendTso(term: number, need: number, deadline: number): Promise<void> {
    if (!this.extending) {
      const windowUs = BigInt(this.opts.tsoWindowMs ?? 1000) * 1000n;
      const high = this.tso.nextHigh(this.clock.nowUs(), windowUs, need);
      this.stats.tsoExtends++;
      this.extending = this.proposeBounded({ t: 'tso', highUs: high }, deadline)
        .then(() => {
          if (this.readyTerm !== term) throw this.notLeader();
          this.tso.setLimit(high);
        })
        .finally(() => {
          this.extending = undefined;
        });
    }
    await this.extending;
  }

  // ------------------------------------------------------------------ liveness and placement

  /**
   * A node's heartbeat: registers it (or its new addresses/labels) through the log, brings a
   * suspect or dead node back to live through the log, and otherwise only notes the time (the
   * leader flushes heartbeat times to the log every beatFlushMs). Answered only once this
   * replica is confirmed leader, so a node never believes a heartbeat that no leader saw.
   */
  async heartbeat(info: NodeInfo): Promise<{ state: NodeLiveness }> {
    const deadline = Date.now() + this.requestTimeoutMs;
    const term = await this.ready(deadline);
    const now = this.clock.nowMs();
    const rec = this.sm.node(info.nodeId);
    for (const s of info.leading ?? []) this.leaseHints.set(s, info.nodeId);
    if (!rec || rec.address !== info.address || rec.kvPort !== info.kvPort || rec.raftPort !== info.raftPort || rec.region !== info.region || rec.zone !== info.zone) {
      const { nodeId, address, kvPort, raftPort, region, zone } = info;
      await this.proposeBounded({ t: 'node', info: { nodeId, address, kvPort, raftPort, region, zone }, atMs: now }, deadline);
    } else if (rec.state !== 'live') {
      await this.proposeBounded({ t: 'liveness', nodeId: info.nodeId, state: 'live', atMs: now }, deadline);
    } else {
      await this.confirmLeader(term, deadline);
    }
    if (this.readyTerm !== term) throw this.notLeader();
    this.heard.set(info.nodeId, Math.max(this.heard.get(info.nodeId) ?? 0, now));
    this.beatsDirty = true;
    return { state: 'live' };
  }

  /** When the leader last heard from a node: its heartbeats, the log, or (grace) when it took over. */
  private heardMs(n: NodeRecord): number {
    return Math.max(this.heard.get(n.nodeId) ?? 0, n.lastHeartbeatMs, this.leaderSinceMs);
  }

  /**
   * The leader's periodic work (every maintenanceMs; tests call it directly): liveness changes,
   * heartbeat and leaseholder flushes, bootstrap of the shard map and placement of unplaced
   * shards, and a TSO window refill while timestamps are being asked for.
   */
  async maintain(): Promise<void> {
    if (this.maintaining || this.readyTerm === 0 || this.stopping) return;
    this.maintaining = true;
    const term = this.readyTerm;
    const deadline = Date.now() + this.requestTimeoutMs;
    try {
      const now = this.clock.nowMs();
      const rules = { deadAfterMs: this.opts.deadAfterMs ?? 10_000 };
      const changes = livenessChanges(this.sm.nodes(), (n) => this.heardMs(n), now, rules).filter((c) => !this.inflightLiveness.has(c.nodeId));
      for (const c of changes) {
        this.inflightLiveness.add(c.nodeId);
        this.opts.logger.warn({ nodeId: c.nodeId, state: c.state, silentMs: now - this.heardMs(this.sm.node(c.nodeId) as NodeRecord) }, 'node liveness changed');
        void this.proposeBounded({ t: 'liveness', nodeId: c.nodeId, state: c.state, atMs: now }, deadline)
          .then(async () => {
            // A heartbeat that raced with this downgrade (it saw the node still live) must not
            // leave it marked down: heard since the decision means live again.
            const heard = this.heard.get(c.nodeId) ?? 0;
            if (heard >= now && this.readyTerm === term) await this.proposeBounded({ t: 'liveness', nodeId: c.nodeId, state: 'live', atMs: heard }, Date.now() + this.requestTimeoutMs);
          })
          .catch((e: unknown) => this.opts.logger.warn({ nodeId: c.nodeId, err: e instanceof Error ? e.message : String(e) }, 'could not record a liveness change'))
          .finally(() => this.inflightLiveness.delete(c.nodeId));
      }
      if (this.beatsDirty && now - this.lastBeatFlushMs >= (this.opts.beatFlushMs ?? 2000)) {
        const beats = this.sm
          .nodes()
          .filter((n) => (this.heard.get(n.nodeId) ?? 0) > n.lastHeartbeatMs)
          .map((n) => [n.nodeId, this.heard.get(n.nodeId) as number] as const);
        this.beatsDirty = false;
        this.lastBeatFlushMs = now;
        if (beats.length > 0) await this.proposeBounded({ t: 'beats', beats }, deadline);
      }
      const hints = [...this.leaseHints].filter(([s, n]) => this.sm.shards().some((x) => x.shardId === s && x.leaseholder !== n));
      this.leaseHints.clear();
      if (hints.length > 0) await this.proposeBounded({ t: 'leaseholders', hints }, deadline);
      await this.placeShards(deadline);
      await this.repairShards(deadline);
      await this.rebalance(now, deadline);
      if (this.tsoDemand && this.readyTerm === term) {
        this.tsoDemand = false;
        const windowUs = BigInt(this.opts.tsoWindowMs ?? 1000) * 1000n;
        // Refill before the window runs out, so callers rarely wait for a log write.
        if (this.tso.remaining(this.clock.nowUs()) < windowUs / 2n) await this.extendTso(term, 0, deadline);
      }
    } catch (e) {
      if (!(e instanceof MetaNotLeaderError)) this.opts.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'meta maintenance round failed');
    } finally {
      this.maintaining = false;
    }
  }

  /** Bootstraps the shard map (shardCount) and places shards without replicas once 3 nodes are live. */
  private async placeShards(deadline: number): Promise<void> {
    const count = this.opts.shardCount ?? 0;
    if (count > 0 && this.sm.shards().length === 0) await this.proposeBounded({ t: 'init-shards', count }, deadline);
    const shards = this.sm.shards();
    const unplaced = shards.filter((s) => s.replicas.length === 0);
    if (unplaced.length === 0) return;
    const nodes = this.sm.nodes();
    const load = replicaLoad(shards);
    for (const s of unplaced) {
      let replicas: number[];
      try {
        replicas = placeReplicas(s.shardId, nodes, { load });
      } catch (e) {
        if (e instanceof PlacementError) return; // not enough live nodes yet
        throw e;
      }
      for (const r of replicas) load.set(r, (load.get(r) ?? 0) + 1);
      await this.proposeBounded({ t: 'replicas', shardId: s.shardId, replicas }, deadline);
    }
  }

  /**
   * Re-places the replicas of dead nodes (dead = silent for deadAfterMs): each shard's placement
   * swaps the dead node for a live one (planRepairs). The shard's Raft leader sees the new
   * placement and moves the group (learner, snapshot, promotion, removal: nodehost's
   * nextMembershipStep); meta only decides where replicas should be.
   */
  private async repairShards(deadline: number): Promise<void> {
    const byShard = new Map<number, RepairStep[]>();
    for (const step of planRepairs(this.sm.shards(), this.sm.nodes())) {
      if (step.add === undefined) continue; // no eligible node: the plan's reason says why
      byShard.set(step.shardId, [...(byShard.get(step.shardId) ?? []), step]);
    }
    for (const [shardId, steps] of byShard) {
      const s = this.sm.shards().find((x) => x.shardId === shardId);
      if (!s || s.version !== steps[0].version) continue;
      const replicas = s.replicas.map((r) => steps.find((st) => st.remove === r)?.add ?? r);
      this.opts.logger.warn({ shardId, from: s.replicas, to: replicas }, 'replacing the replicas of a dead node');
      await this.proposeBounded({ t: 'replicas', shardId, replicas, ifVersion: s.version }, deadline);
    }
  }

  /** One rebalancing move per rebalanceIntervalMs, once every node is live (a node joined, say). */
  private async rebalance(now: number, deadline: number): Promise<void> {
    const every = this.opts.rebalanceIntervalMs ?? 10_000;
    if (every <= 0 || now - this.lastRebalanceMs < every) return;
    const step = planRebalance(this.sm.shards(), this.sm.nodes());
    if (!step) return;
    const s = this.sm.shards().find((x) => x.shardId === step.shardId);
    if (!s) return;
    this.lastRebalanceMs = now;
    const replicas = s.replicas.map((r) => (r === step.from ? step.to : r));
    this.opts.logger.info({ shardId: step.shardId, from: step.from, to: step.to }, 'rebalancing: moving a replica to a less loaded node');
    await this.proposeBounded({ t: 'replicas', shardId: step.shardId, replicas, ifVersion: step.version }, deadline);
  }

  // ------------------------------------------------------------------ reads

  /** Every known node (linearizable: served by the confirmed leader). */
  async nodes(): Promise<NodeRecord[]> {
    const deadline = Date.now() + this.requestTimeoutMs;
    await this.confirmLeader(await this.ready(deadline), deadline);
    return this.sm.nodes();
  }

  /** The shard map (linearizable: served by the confirmed leader). */
  async shardMap(): Promise<ShardRecord[]> {
    const deadline = Date.now() + this.requestTimeoutMs;
    await this.confirmLeader(await this.ready(deadline), deadline);
    return this.sm.shards();
  }

  /** Replacements for replicas on dead nodes (a plan only; see placement.ts). */
  async repairPlan(): Promise<RepairStep[]> {
    const deadline = Date.now() + this.requestTimeoutMs;
    await this.confirmLeader(await this.ready(deadline), deadline);
    return planRepairs(this.sm.shards(), this.sm.nodes());
  }

  /** This replica's own view, answered locally by any replica (tooling, health). */
  status(): MetaStatus {
    const st = this.host && this.joined ? this.host.status(META_GROUP) : undefined;
    const role = !st ? 'starting' : st.state === 'leader' ? 'leader' : st.state === 'candidate' || st.state === 'pre-candidate' ? 'candidate' : 'follower';
    return {
      metaId: this.metaId,
      leader: st?.lead ?? 0,
      term: st?.term ?? 0,
      role,
      appliedIndex: this.sm.appliedIndex,
      persistedIndex: this.catalog?.persistedIndex ?? 0,
      tsoHighUs: this.sm.tsoHighUs,
      nodes: this.sm.nodes().length,
      shards: this.sm.shards().length,
    };
  }

  /** Whether this replica is the leader and ready to serve (tests). */
  isReadyLeader(): boolean {
    this.refreshRole();
    return this.readyTerm !== 0;
  }

  /** The Raft host (tests: campaign, transfer). */
  get raftHost(): MultiRaftHost | undefined {
    return this.host;
  }

  // ------------------------------------------------------------------ shutdown

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.endHold?.();
    for (const t of this.timers) t.stop();
    this.stepDown(metaUnavailable(`meta replica ${this.metaId} stopped`));
    await this.host?.close();
    await this.transport?.close();
    // Persist what applied (not required for safety: the log replays it; it saves replay time).
    if (this.catalog && !this.failure) {
      while (this.persisting) await new Promise((r) => setTimeout(r, 5));
      if (this.sm.appliedIndex > this.catalog.persistedIndex) await this.catalog.persist(this.sm.takeChanges()).catch(() => undefined);
    }
    await this.wal?.close();
    await this.catalog?.close();
  }
}
