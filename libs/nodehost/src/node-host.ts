import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { KvServer, type TracedRead } from '@weft/kvrpc';
import type { ScanFilterCompiler } from '@weft/kv';
import { Materializer, type MaterializerOptions } from '@weft/materialize';
import { MultiRaftHost, type SnapshotSink, type SnapshotWriter, type Ticker } from '@weft/multiraft';
import type { ConfChange, Entry, RaftRand, SnapshotMetadata, Status } from '@weft/raft';
import {
  ShardReplica,
  ShardSnapshotSink,
  ShardSnapshotSource,
  ShardStateDir,
  encodeSnapshotRef,
  syncStore,
  systemClock,
  toCommitted,
  type GcSweepOptions,
  type ReplicaRaft,
  type ReplicaStoppedError,
  type ReplicaTimers,
  type StagedShardState,
  type WallClock,
} from '@weft/replica';
import { MvccStore } from '@weft/storage';
import { RaftTransport, type TransportLogger } from '@weft/transport';
import { Wal } from '@weft/wal';
import { ClockMonitor, type PeerOffset } from './clock-monitor';

/** Raft address of a node. */
export interface PeerSpec {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** A shard this node hosts a replica of, and the voters its group starts with if new. */
export interface ShardSpec {
  readonly shardId: number;
  readonly voters: readonly number[];
}

export type NodeHostLogger = TransportLogger;

export interface NodeHostOptions {
  readonly nodeId: number;
  /** The node's directory: `wal/` (every group's Raft log) and one RocksDB state per shard. */
  readonly dataDir: string;
  readonly bindHost: string;
  /** 0 picks a free port (see `raftAddress`). */
  readonly raftPort: number;
  /** 0 picks a free port (see `kvAddress`). */
  readonly kvPort: number;
  /** Raft address of every node this one shares a group with, this node included. */
  readonly peers: readonly PeerSpec[];
  /**
   * Shards opened by start() before the KV port opens, so a client never hears "unknown
   * shard" from a node that is only still starting. More can be added later (`addShard`).
   */
  readonly shards?: readonly ShardSpec[];
  readonly logger: NodeHostLogger;
  /** Milliseconds per Raft tick (default 50). */
  readonly tickMs?: number;
  /** Per shard: snapshot and compact its Raft log once this many entries applied since the last (default 10,000). */
  readonly snapshotEveryEntries?: number;
  /**
   * Per shard: entries kept in the log below the snapshot's index (default 1,000): a follower
   * only that far behind catches up from the log instead of receiving a whole snapshot.
   */
  readonly compactionMarginEntries?: number;
  /** Abort a staged (large) transaction after this long without progress (default 5 min). */
  readonly stagedIdleMs?: number;
  /** MVCC garbage collection by each shard's leader (see @weft/replica gc-sweep.ts); null: off. */
  readonly gc?: GcSweepOptions | null;
  /** The largest offset between two nodes' clocks the cluster tolerates (default 250 ms; decision 0055). */
  readonly maxClockOffsetUs?: bigint;
  /**
   * Checks this node's clock against its peers' every `intervalMs` (default 1000) and calls
   * `onFence` once it is off from most of them by more than the max offset allows (decision
   * 0057); the caller must stop the node. null (the default): no checks.
   */
  readonly clockCheck?: { readonly intervalMs?: number; readonly onFence: (reason: string) => void } | null;
  // Injectable for tests and, later, the simulator; the defaults are the real ones.
  readonly clock?: WallClock;
  readonly rand?: RaftRand;
  /** Drives Raft ticks (default: setInterval). */
  readonly ticker?: Ticker;
  /** Drives each replica's periodic work (closed timestamps, role refresh, staged sweep). */
  readonly replicaTimers?: ReplicaTimers;
  /** Hot-path observations for metrics (each callback must be cheap). */
  readonly observer?: NodeHostObserver;
  /**
   * Testing only: the replica of this shard is handed a corrupt entry on its next apply as a
   * follower, so it stops applying as it would on a real bad entry while the shard stays
   * available (health and status tests). Never in production.
   */
  readonly corruptNextApplyOfShard?: number;
  /**
   * How far a shard's Raft log may be compacted for an outside reader of the log (the Kafka
   * mirror: entries after the last mirrored index stay until mirrored). Compaction never passes
   * min(applied, this); undefined holds nothing back.
   */
  readonly compactionFloor?: (shardId: number) => number | undefined;
  /** Told after each batch of entries a shard applied (the mirror wakes up and ages its backlog). */
  readonly onApplied?: (shardId: number, appliedIndex: number) => void;
  /** Compiles row filters pushed down with scans (decision 0038); without it scans return every row. */
  readonly scanFilters?: ScanFilterCompiler;
}

/** What NodeHost reports as it happens (apps/node turns these into metrics). */
export interface NodeHostObserver {
  /** A proposal made on this node committed and applied: propose-to-apply milliseconds. */
  readonly onCommit?: (shardId: number, ms: number) => void;
  /** This node's view of a shard's leader changed (0: none known). */
  readonly onLeaderChange?: (shardId: number, leader: number, term: number) => void;
  /** One WAL fdatasync: its duration and how much it made durable. */
  readonly onWalSync?: (info: { readonly ms: number; readonly records: number; readonly bytes: number }) => void;
  /** A proposal of a shard got log index `index`; called synchronously in the proposer's async context (tracing). */
  readonly onPropose?: (shardId: number, index: number) => void;
  /** A shard is about to apply entries first..last; the returned function, if any, is called once they are applied (tracing). */
  readonly onApply?: (shardId: number, firstIndex: number, lastIndex: number) => (() => void) | undefined;
  /** Wraps the KV server's handling of each proposal with the caller's trace context (see KvServerOptions.traceProposal). */
  readonly traceProposal?: <T>(shardId: number, traceparent: string | undefined, run: () => Promise<T>) => Promise<T>;
  /** The same for reads (see KvServerOptions.traceRead). */
  readonly traceRead?: <T>(kind: TracedRead, shardId: number, traceparent: string, run: () => Promise<T>) => Promise<T>;
}

/** One hosted replica's health as this node sees it (metrics, readiness, `weft status`). */
export interface ShardHealth {
  readonly shardId: number;
  /** opened: serving follower reads but not in Raft yet; joined: a Raft member. */
  readonly raft: 'opened' | 'joining' | 'joined';
  readonly leader: number;
  readonly term: number;
  readonly isLeader: boolean;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** Closed timestamp (microseconds since the Unix epoch; 0 before the first one applied). */
  readonly closedTs: bigint;
  /** Proposals waiting for commit on this node. */
  readonly pendingProposals: number;
  /** Why the replica stopped applying, if it did. */
  readonly stopped: string | undefined;
  /** On the leader: each follower's match index (how far its log is known to agree). */
  readonly followerMatch: Readonly<Record<number, number>> | undefined;
}

export interface ShardSnapshotStats {
  /** Snapshots this replica recorded from its own state. */
  taken: number;
  /** Highest index its log was compacted to. */
  compactedTo: number;
  /** Snapshots received from a leader and made live. */
  installed: number;
  /** Failed compactions and rejected or aborted incoming snapshots. */
  failures: number;
}

export interface ShardLogStatus {
  readonly appliedIndex: number;
  readonly snapshotIndex: number;
  readonly firstIndex: number;
}

/** One hosted replica and what it needs besides the shared Raft host. */
interface HostedShard {
  readonly id: number;
  readonly voters: readonly number[];
  readonly stateDir: ShardStateDir;
  store: MvccStore;
  sm: Materializer;
  readonly sink: ShardSnapshotSink;
  readonly replica: ShardReplica;
  /** Opened and served; joining: waiting for the restart hold-off / addGroup; joined: in the Raft host. */
  raft: 'opened' | 'joining' | 'joined';
  /** Raft index of the last snapshot recorded here (taken here or installed from the leader). */
  snapshotIndex: number;
  compacting: Promise<void> | undefined;
  readonly stats: ShardSnapshotStats;
}

/**
 * A replica's Raft group in the node's MultiRaftHost. Like @weft/replica's HostGroupRaft, but
 * "is the group in the host yet" is the node's flag, not a scan of the host's group list: each
 * replica asks for its status every 50 ms, and a scan made that O(shards²) per node.
 */
class ShardGroupRaft implements ReplicaRaft {
  constructor(
    private readonly host: MultiRaftHost,
    private readonly groupId: number,
    private readonly joined: () => boolean,
  ) {}

  propose(data: Uint8Array): Promise<number> {
    return this.host.propose(this.groupId, data);
  }

  status(): { id: number; leader: number; term: number; voters: readonly number[] } {
    // Before addGroup (a restarting node sits out an election timeout first) nothing is known.
    if (!this.joined()) return { id: -1, leader: 0, term: 0, voters: [] };
    const s = this.host.status(this.groupId);
    return { id: s.id, leader: s.lead, term: s.term, voters: s.confState.voters };
  }

  leaseValid(): boolean {
    return this.joined() && this.host.leaseValid(this.groupId);
  }

  readIndex(): Promise<number> {
    if (!this.joined()) return Promise.reject(new Error(`raft group ${this.groupId} is not started yet`));
    return this.host.readIndex(this.groupId);
  }

  transferLeader(to: number): void {
    if (this.joined()) this.host.transferLeader(this.groupId, to);
  }
}

/**
 * Raft ticks (50 ms) before a follower campaigns: 1-2 s. Twice the host's default, because a
 * node applying a bulk load, compacting RocksDB or collecting garbage on a small shared machine
 * can go quiet for over 500 ms, and a needless election costs more than a slower failover.
 */
export const ELECTION_TICKS = 20;

/**
 * The data plane of one node process: one WAL and one Raft transport shared by every group,
 * one MultiRaftHost, and any number of shard replicas (each: its own RocksDB state directory,
 * materializer, ShardReplica and snapshot sink), served by one KV RPC server that routes by
 * shard id. It also owns each shard's snapshot/compaction policy. Plain TypeScript, no NestJS.
 */
export class NodeHost {
  private wal?: Wal;
  private transport?: RaftTransport;
  private host?: MultiRaftHost;
  private source?: ShardSnapshotSource;
  private kv?: KvServer;
  private readonly shards = new Map<number, HostedShard>();
  /** How every hosted shard's materializer is opened (at start and after a snapshot install). */
  private get materializerOptions(): MaterializerOptions {
    return this.opts.scanFilters === undefined ? {} : { scanFilters: this.opts.scanFilters };
  }
  /** Shards being opened or waiting to join: stop() waits for them. */
  private readonly adding = new Set<Promise<unknown>>();
  private readonly retiring = new Set<Promise<void>>();
  private readonly peerIds: Set<number>;
  /** While a restarted process keeps its groups out of Raft (see open()); stop() ends it early. */
  private hold: { readonly over: Promise<void>; readonly end: () => void } | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly clockMonitor: ClockMonitor;
  private clockTimer: NodeJS.Timeout | undefined;
  private started = false;
  /** corruptNextApplyOfShard has fired. */
  private corrupted = false;
  kvAddress?: { host: string; port: number };
  raftAddress?: { host: string; port: number };

  constructor(private readonly opts: NodeHostOptions) {
    if (!opts.peers.some((p) => p.nodeId === opts.nodeId)) {
      throw new Error(`the peer list does not include this node (node id ${opts.nodeId}); list every node, this one included`);
    }
    this.peerIds = new Set(opts.peers.map((p) => p.nodeId));
    this.clockMonitor = new ClockMonitor({ maxOffsetUs: Number(this.maxClockOffsetUs) });
  }

  get nodeId(): number {
    return this.opts.nodeId;
  }

  private get clock(): WallClock {
    return this.opts.clock ?? systemClock;
  }

  private get maxClockOffsetUs(): bigint {
    return this.opts.maxClockOffsetUs ?? 250_000n;
  }

  /** Pings the peers' clocks and judges this node's (decision 0057), when clockCheck is set. */
  private startClockChecks(): void {
    const check = this.opts.clockCheck;
    if (check === undefined || check === null) return;
    const timer = setInterval(() => {
      const transport = this.transport;
      if (this.stopping || transport === undefined) return;
      const verdict = this.clockMonitor.check(Number(this.clock.now()));
      transport.pingClocks();
      if (!verdict.fence) return;
      clearInterval(timer);
      const reason = verdict.reason ?? 'clock offset beyond the tolerated bound';
      this.opts.logger.error({ off: verdict.off }, reason);
      check.onFence(reason);
    }, check.intervalMs ?? 1000);
    timer.unref();
    this.clockTimer = timer;
  }

  /** This node's clock (µs since the epoch). */
  now(): bigint {
    return this.clock.now();
  }

  /** The latest clock offset measured to each peer (µs, peer minus this node), for status pages. */
  clockOffsets(): PeerOffset[] {
    return this.clockMonitor.offsets(Number(this.clock.now()));
  }

  private get tickMs(): number {
    return this.opts.tickMs ?? 50;
  }

  /**
   * Opens the WAL, listens for Raft and KV traffic, opens the configured shards and joins
   * them to Raft. On failure everything opened so far is closed again (ports released).
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('node host already started');
    this.started = true;
    try {
      await this.open();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private async open(): Promise<void> {
    const { opts } = this;
    const walDir = path.join(opts.dataDir, 'wal');
    mkdirSync(walDir, { recursive: true });
    const onSync = opts.observer?.onWalSync;
    this.wal = await Wal.open(walDir, onSync ? { onSync } : {});
    this.checkRunning();
    // A restarted replica forgets that it acknowledged a leader's lease; voting before an
    // election timeout has passed could elect a new leader while the old one still serves lease
    // reads. Every group of the process sits out one maximum election timeout, counted once
    // from here (not once per shard: 4,096 shards would take over two hours); the shards'
    // stores are opened meanwhile.
    const wal = this.wal;
    const restarted = wal.groups().some((g) => wal.storage(g).initialState().confState.voters.length > 0);
    if (restarted) {
      let end = (): void => undefined;
      const over = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2 * ELECTION_TICKS * this.tickMs);
        end = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.hold = { over, end };
    }

    this.source = new ShardSnapshotSource((group) => this.shards.get(group)?.sm);
    // The host takes one sink; each shard has its own (own directory, own install).
    const sink: SnapshotSink = {
      begin: (group: number, metadata: SnapshotMetadata): SnapshotWriter => {
        const s = this.shards.get(group);
        if (!s) throw new Error(`snapshot for shard ${group}, which node ${opts.nodeId} does not host`);
        return s.sink.begin(group, metadata);
      },
    };

    const hostRef: { current?: MultiRaftHost } = {};
    const peers = new Map(opts.peers.filter((p) => p.nodeId !== opts.nodeId).map((p) => [p.nodeId, { host: p.host, port: p.port }]));
    this.transport = new RaftTransport({
      nodeId: opts.nodeId,
      host: opts.bindHost,
      port: opts.raftPort,
      peers,
      onMessages: (_from, batch) => {
        for (const env of batch) hostRef.current?.receive(env.groupId, env.msg);
      },
      onUnreachable: (node) => hostRef.current?.reportUnreachable(node),
      logger: opts.logger,
      clockUs: () => Number(this.clock.now()),
      onClockReading: (node, reading) => this.clockMonitor.record(node, reading),
    });
    this.raftAddress = await this.transport.listen();
    this.checkRunning();
    this.startClockChecks();

    const rand = opts.rand ?? { int: (n: number) => randomInt(n) };
    this.host = new MultiRaftHost({
      raft: { electionTick: ELECTION_TICKS },
      nodeId: opts.nodeId,
      wal: this.wal,
      sender: this.transport,
      tickMs: this.tickMs,
      ticker: opts.ticker,
      rand,
      onProposalCommitted: opts.observer?.onCommit,
      onLeaderChange: opts.observer?.onLeaderChange,
      onProposed: opts.observer?.onPropose,
      apply: (group: number, entries: readonly Entry[]) => {
        const s = this.shards.get(group);
        if (!s) return;
        const applied = entries.length > 0 ? opts.observer?.onApply?.(group, entries[0].index, entries[entries.length - 1].index) : undefined;
        s.replica.applyCommitted(this.corruptForTesting(group, toCommitted(entries)));
        applied?.();
        this.opts.onApplied?.(group, s.sm.appliedIndex);
        this.maybeCompact(s);
      },
      snapshotSource: this.source,
      snapshotSink: sink,
      applySnapshot: (group, snap) => {
        const s = this.shards.get(group);
        if (!s) return;
        s.snapshotIndex = Math.max(s.snapshotIndex, snap.metadata.index);
        // The sink installed the state before the core saw the snapshot; this only checks it.
        s.replica.snapshotInstalled(snap.metadata.index);
      },
    });
    hostRef.current = this.host;

    const initial = opts.shards ?? [];
    // Opened one after another: opening RocksDB is mostly synchronous work on this thread, so
    // parallel opens only interleave, and a failure leaves fewer half-opened stores behind.
    for (const spec of initial) await this.openShard(spec);
    this.checkRunning();

    this.kv = new KvServer({
      nodeId: opts.nodeId,
      host: opts.bindHost,
      port: opts.kvPort,
      // Served from the moment it is opened: before it joins Raft a replica answers "not
      // leader" (the client tries another node) and serves follower reads at its closed ts.
      shard: (id) => this.shards.get(id)?.replica,
      logger: opts.logger,
      traceProposal: opts.observer?.traceProposal,
      traceRead: opts.observer?.traceRead,
    });
    this.kvAddress = await this.kv.listen();

    await Promise.all(initial.map((spec) => this.joinShard(spec.shardId)));
  }

  /**
   * Hosts a replica of `shardId`: opens (or creates) its state, serves it over the KV RPC and
   * adds its Raft group, bootstrapped with `voters` if the WAL has never seen it (otherwise
   * recovered from the WAL; `voters` is then ignored). Resolves once the group is in Raft.
   * Empty `voters`: a new member of an existing group — it starts with no configuration and no
   * state, refuses appends, and the leader that added it sends it a snapshot.
   */
  async addShard(shardId: number, voters: readonly number[]): Promise<ShardReplica> {
    if (!this.host || this.stopping) throw new Error('node host is not running');
    const s = await this.openShard({ shardId, voters });
    await this.joinShard(shardId);
    return s.replica;
  }

  private async openShard(spec: ShardSpec): Promise<HostedShard> {
    const p = this.openShardState(spec);
    this.adding.add(p);
    try {
      return await p;
    } finally {
      this.adding.delete(p);
    }
  }

  private async openShardState({ shardId, voters }: ShardSpec): Promise<HostedShard> {
    const { opts } = this;
    const host = this.host;
    const wal = this.wal;
    if (!host || !wal) throw new Error('node host is not running');
    if (!Number.isInteger(shardId) || shardId < 1 || shardId > 0xffffffff) throw new RangeError(`shard id ${shardId} is not a positive 32-bit integer`);
    if (this.shards.has(shardId)) throw new Error(`shard ${shardId} is already hosted on node ${opts.nodeId}`);
    if (voters.length > 0 && !voters.includes(opts.nodeId)) throw new Error(`shard ${shardId}: voters ${voters.join(',')} do not include this node (${opts.nodeId})`);
    const unknown = voters.filter((v) => !this.peerIds.has(v));
    if (unknown.length > 0) throw new Error(`shard ${shardId}: voters ${unknown.join(',')} have no Raft address in the peer list`);

    // The shard's RocksDB state: the live directory (an installed snapshot's, or the first one);
    // staging directories of interrupted snapshot installs and replaced states are removed.
    const stateDir = new ShardStateDir(opts.dataDir, shardId);
    for (const name of stateDir.cleanup()) opts.logger.info({ shard: shardId, dir: name }, 'removed a stale shard state directory');
    mkdirSync(stateDir.current(), { recursive: true });
    const store = await MvccStore.open(stateDir.current());
    let sm: Materializer;
    try {
      sm = await Materializer.open(store, shardId, this.materializerOptions);
    } catch (e) {
      await store.close();
      throw e;
    }
    const snapshotIndex = wal.storage(shardId).snapshot().metadata.index;
    if (sm.appliedIndex < snapshotIndex) {
      // The log starts after entries this state never applied: replaying would skip them.
      await store.close();
      throw new Error(
        `shard ${shardId}: state in ${stateDir.current()} is at applied index ${sm.appliedIndex}, but the Raft log was compacted ` +
          `to a snapshot at index ${snapshotIndex}; remove ${opts.dataDir} so the node rejoins as a new replica and receives a snapshot`,
      );
    }
    if (this.stopping || this.shards.has(shardId)) {
      await store.close();
      throw new Error(this.stopping ? 'node host stopped' : `shard ${shardId} is already hosted on node ${opts.nodeId}`);
    }

    const stats: ShardSnapshotStats = { taken: 0, compactedTo: 0, installed: 0, failures: 0 };
    const shardRef: { current?: HostedShard } = {};
    const sink = new ShardSnapshotSink({
      shardId,
      materializer: this.materializerOptions,
      dirs: stateDir,
      appliedIndex: () => shardRef.current?.sm.appliedIndex ?? 0,
      install: (st) => {
        if (shardRef.current) this.installState(shardRef.current, st);
      },
      onFailed: (err) => {
        stats.failures++;
        opts.logger.warn({ shard: shardId, err: err.message }, 'incoming snapshot rejected or aborted; keeping the current state');
      },
    });
    const replica = new ShardReplica({
      raft: new ShardGroupRaft(host, shardId, () => shardRef.current?.raft === 'joined'),
      stateMachine: sm,
      clock: this.clock,
      maxClockOffsetUs: this.maxClockOffsetUs,
      timers: opts.replicaTimers,
      stagedSweep: { idleMs: opts.stagedIdleMs },
      ...(opts.gc === undefined ? {} : { gc: opts.gc }),
      onStopped: (err: ReplicaStoppedError) => opts.logger.error({ shard: shardId, index: err.index, err: err.message }, 'shard replica stopped applying'),
    });
    const s: HostedShard = { id: shardId, voters: [...voters], stateDir, store, sm, sink, replica, raft: 'opened', snapshotIndex, compacting: undefined, stats };
    shardRef.current = s;
    this.shards.set(shardId, s);
    return s;
  }

  /** Adds an opened shard's group to Raft, after the process's restart hold-off if any. */
  private async joinShard(shardId: number): Promise<void> {
    const s = this.shards.get(shardId);
    if (!s || s.raft !== 'opened') throw new Error(`shard ${shardId} is not opened, or already joined, on node ${this.opts.nodeId}`);
    s.raft = 'joining';
    const p = (async () => {
      await this.hold?.over;
      if (this.stopping || !this.host) return;
      await this.host.addGroup(shardId, s.voters);
      s.raft = 'joined';
    })();
    this.adding.add(p);
    try {
      await p;
    } finally {
      this.adding.delete(p);
    }
    if (this.stopping) throw new Error('node host stopped');
  }

  /**
   * Stops hosting a shard whose replica moved to another node: it leaves Raft (no more votes or
   * ticks), stops serving, and its store closes. Its log is compacted first so the removed
   * group pins no WAL segment. The state directory stays on disk: addShard reopens it if the
   * shard comes back here (the leader then catches it up from the log or with a snapshot).
   */
  /**
   * Stops hosting a shard replica. `destroyState` also deletes its state directories: only for
   * a replica its group's applied configuration no longer lists (it can never be asked for that
   * state again; if placed here again it joins empty and gets a snapshot).
   */
  async removeShard(shardId: number, opts: { destroyState?: boolean } = {}): Promise<void> {
    const s = this.shards.get(shardId);
    if (!s || !this.host) return;
    if (s.compacting) await s.compacting;
    if (s.raft === 'joined') {
      s.raft = 'opened';
      try {
        const applied = this.host.status(shardId).applied;
        if (applied > 0) {
          syncStore(s.store.db);
          await this.host.compact(shardId, encodeSnapshotRef(applied), Math.min(applied, this.compactionFloor(shardId)));
        }
      } catch (e) {
        this.opts.logger.warn({ shard: shardId, err: e instanceof Error ? e.message : String(e) }, 'could not compact a removed shard\'s log');
      }
      await this.host.removeGroup(shardId);
    }
    this.shards.delete(shardId);
    s.replica.close();
    await s.sink.settled();
    this.source?.release(s.store);
    await s.store.close();
    if (opts.destroyState) {
      const removed = new ShardStateDir(this.opts.dataDir, shardId).destroy();
      this.opts.logger.info({ shard: shardId, removed }, 'stopped hosting a shard replica (moved to another node) and deleted its state');
      return;
    }
    this.opts.logger.info({ shard: shardId }, 'stopped hosting a shard replica (moved to another node)');
  }

  /** Raft status of a hosted, joined shard (with every replica's progress on the leader). */
  groupStatus(shardId: number): Status | undefined {
    const s = this.shards.get(shardId);
    if (!s || s.raft !== 'joined' || !this.host) return undefined;
    return this.host.status(shardId);
  }

  /** Proposes a membership change of a shard's group (this node must lead it). */
  proposeConfChange(shardId: number, cc: ConfChange): Promise<number> {
    if (!this.host) return Promise.reject(new Error('node host is not running'));
    return this.host.proposeConfChange(shardId, cc);
  }

  /** Adds or updates a node's Raft address (a node that joined the cluster after this one started). */
  setPeer(peer: PeerSpec): void {
    if (peer.nodeId === this.opts.nodeId) return;
    this.peerIds.add(peer.nodeId);
    this.transport?.setPeer(peer.nodeId, { host: peer.host, port: peer.port });
  }

  /** The replica of a hosted shard (opened, possibly not yet joined to Raft). */
  replica(shardId: number): ShardReplica | undefined {
    return this.shards.get(shardId)?.replica;
  }

  shardIds(): number[] {
    return [...this.shards.keys()].sort((a, b) => a - b);
  }

  /** The Raft host (tests, tooling: quiescence, group status). */
  get raftHost(): MultiRaftHost | undefined {
    return this.host;
  }

  /**
   * How far a shard's Raft log may be compacted: its applied index, or less if the
   * `compactionFloor` option (the Kafka mirror: the last index mirrored there) says so — the log
   * is never truncated past it, so a lagging mirror can always resume from Raft.
   */
  compactionFloor(shardId: number): number {
    const applied = this.shards.get(shardId)?.sm.appliedIndex ?? 0;
    const floor = this.opts.compactionFloor?.(shardId);
    return floor === undefined ? applied : Math.max(0, Math.min(applied, floor));
  }

  /** Entries [lo, hi) of a shard's Raft log, at most about maxBytes (the Kafka mirror reads them). */
  logEntries(shardId: number, lo: number, hi: number, maxBytes: number): Entry[] {
    const g = this.wal?.storage(shardId);
    if (!g || !this.shards.has(shardId)) throw new Error(`shard ${shardId} is not hosted on node ${this.opts.nodeId}`);
    return g.entries(lo, hi, maxBytes);
  }

  /**
   * A snapshot stream (libs/replica snapshot-format) of a hosted shard's current state, for
   * consumers outside Raft (a materializer bootstrapping from snapshot + offset).
   */
  snapshotStream(shardId: number): AsyncIterable<Uint8Array> {
    if (this.source === undefined || !this.shards.has(shardId)) throw new Error(`shard ${shardId} is not hosted on node ${this.opts.nodeId}`);
    return this.source.current(shardId);
  }

  /** The current state machine of a hosted shard (replaced when a snapshot is installed). */
  materializer(shardId: number): Materializer | undefined {
    return this.shards.get(shardId)?.sm;
  }

  /** After an apply: once enough entries applied since the last snapshot, take one (soon, off the apply path). */
  private maybeCompact(s: HostedShard): void {
    const every = this.opts.snapshotEveryEntries ?? 10_000;
    if (s.compacting || this.stopping || s.sm.appliedIndex - s.snapshotIndex < every) return;
    // After the current Ready cycle: the core's applied index only moves once it is advanced.
    s.compacting = new Promise<void>((r) => setImmediate(r))
      .then(() => this.compactShard(s))
      .catch((e: unknown) => {
        s.stats.failures++;
        this.opts.logger.warn({ shard: s.id, err: e instanceof Error ? e.message : String(e) }, 'snapshot/compaction failed; will retry');
      })
      .finally(() => {
        s.compacting = undefined;
      });
  }

  /**
   * Records a snapshot of a shard at its Raft applied index and compacts its log below it,
   * keeping a margin. Does nothing if nothing applied since the last snapshot.
   */
  async compact(shardId: number): Promise<void> {
    const s = this.shards.get(shardId);
    if (!s) throw new Error(`shard ${shardId} is not hosted on node ${this.opts.nodeId}`);
    await this.compactShard(s);
  }

  /**
   * Lets the leader seed a replica that was just added to the group. A new replica knows no
   * membership (the bootstrap membership is a snapshot, not log entries), so it refuses appends
   * and must receive a snapshot; the leader sends one only for entries it no longer has. This
   * records a snapshot at the applied index (after the member was added, so the snapshot's
   * configuration includes it) and compacts at least the log's first entry. Idempotent.
   */
  async seedNewReplicas(shardId: number): Promise<void> {
    const s = this.shards.get(shardId);
    if (!s) throw new Error(`shard ${shardId} is not hosted on node ${this.opts.nodeId}`);
    if (s.compacting) await s.compacting;
    const g = this.wal?.storage(shardId);
    if (g && g.firstIndex() > 1 && s.snapshotIndex > 0) return;
    await this.compactShard(s, 1);
  }

  /**
   * The state is made durable first: the materializer writes without fsync because the log is
   * normally the durable copy, and after compaction it no longer is for those entries.
   * `minCompactTo`: compact at least this far even inside the usual margin (seedNewReplicas).
   */
  private async compactShard(s: HostedShard, minCompactTo = 0): Promise<void> {
    if (!this.host || this.stopping || s.raft !== 'joined') return;
    const applied = this.host.status(s.id).applied;
    if (applied <= s.snapshotIndex && minCompactTo === 0) return;
    syncStore(s.store.db);
    const margin = this.opts.compactionMarginEntries ?? 1_000;
    const compactTo = Math.min(applied, this.compactionFloor(s.id), Math.max(minCompactTo, applied - margin));
    await this.host.compact(s.id, encodeSnapshotRef(applied), compactTo);
    // Outcomes are kept for the mirror only while their entries are in the log.
    s.sm.pruneOutcomes(compactTo);
    s.snapshotIndex = Math.max(s.snapshotIndex, applied);
    s.stats.taken++;
    s.stats.compactedTo = Math.max(s.stats.compactedTo, compactTo);
  }

  /** A shard's sink verified a newer state from the leader and made it live on disk: serve it. */
  private installState(s: HostedShard, st: StagedShardState): void {
    const old = s.store;
    const oldDir = old.db.location;
    s.store = st.store;
    s.sm = st.materializer;
    s.replica.replaceStateMachine(st.materializer);
    s.stats.installed++;
    this.opts.logger.info({ shard: s.id, appliedIndex: st.materializer.appliedIndex, dir: st.dir }, 'installed a snapshot from the leader');
    // Streams this node was sending from the old state fail (their leader retries later).
    this.source?.release(old);
    const retire = old
      .close()
      .then(() => s.stateDir.remove(oldDir))
      .catch((e: unknown) => this.opts.logger.warn({ shard: s.id, err: e instanceof Error ? e.message : String(e) }, 'could not remove the replaced shard state'));
    this.retiring.add(retire);
    void retire.finally(() => this.retiring.delete(retire));
  }

  /** Applied index of a shard's state, and its Raft log's compaction point (tests, tooling). */
  logStatus(shardId: number): ShardLogStatus {
    const s = this.shards.get(shardId);
    if (!s) return { appliedIndex: 0, snapshotIndex: 0, firstIndex: 0 };
    const g = this.wal?.storage(shardId);
    return { appliedIndex: s.sm.appliedIndex, snapshotIndex: s.snapshotIndex, firstIndex: g ? g.firstIndex() : 0 };
  }

  /** A shard's snapshot counters (live object; zeros for a shard not hosted). */
  snapshotStats(shardId: number): Readonly<ShardSnapshotStats> {
    return this.shards.get(shardId)?.stats ?? { taken: 0, compactedTo: 0, installed: 0, failures: 0 };
  }

  /** Every hosted replica's health, by shard id (see ShardHealth). */
  shardHealth(): ShardHealth[] {
    const out: ShardHealth[] = [];
    for (const s of [...this.shards.values()].sort((a, b) => a.id - b.id)) {
      const st = s.raft === 'joined' && this.host ? this.host.status(s.id) : undefined;
      let followerMatch: Record<number, number> | undefined;
      if (st?.progress) {
        followerMatch = {};
        for (const [id, pr] of Object.entries(st.progress)) if (Number(id) !== this.opts.nodeId) followerMatch[Number(id)] = pr.match;
      }
      out.push({
        shardId: s.id,
        raft: s.raft,
        leader: st?.lead ?? 0,
        term: st?.term ?? 0,
        isLeader: st?.state === 'leader',
        commitIndex: st?.commit ?? 0,
        appliedIndex: s.sm.appliedIndex,
        closedTs: s.sm.closedTs,
        pendingProposals: this.host && s.raft === 'joined' ? this.host.pendingProposals(s.id) : 0,
        stopped: s.replica.stoppedError()?.message,
        followerMatch,
      });
    }
    return out;
  }

  /** The KV RPC server's counters (requests, bad frames, connections accepted), or undefined before it listens. */
  kvServerStats(): Readonly<{ requests: number; badFrames: number; connections: number }> | undefined {
    return this.kv?.stats;
  }

  /** The shared WAL's counters (appends, syncs, queued appends), or undefined before start. */
  walStats(): ReturnType<Wal['stats']> | undefined {
    return this.wal?.stats();
  }

  /** The testing knob corruptNextApplyOfShard: the first data entry of that shard gets bytes no decoder accepts. */
  private corruptForTesting<T extends { data: Uint8Array }>(group: number, entries: T[]): T[] {
    if (this.opts.corruptNextApplyOfShard !== group || this.corrupted || this.host?.status(group).state === 'leader') return entries;
    const i = entries.findIndex((e) => e.data.length > 0);
    if (i < 0) return entries;
    this.corrupted = true;
    const bad = entries.slice();
    bad[i] = { ...entries[i], data: new Uint8Array([0xff, 0xff, 0xff, 0xff]) };
    return bad;
  }

  /** stop() ran while start() was awaiting: what start() would open next would outlive it. */
  private checkRunning(): void {
    if (this.stopping) throw new Error('node host stopped while starting');
  }

  /**
   * Stops serving, stops Raft, waits for background work and closes every store and the WAL.
   * Every call returns the same promise (SIGTERM during a failing start may call it twice).
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.clockTimer);
    this.hold?.end();
    for (const s of this.shards.values()) s.replica.close();
    await this.kv?.close();
    await Promise.allSettled([...this.adding]);
    for (const s of this.shards.values()) if (s.compacting) await s.compacting;
    await this.host?.close();
    await this.transport?.close();
    for (const s of this.shards.values()) await s.sink.settled();
    await Promise.all(this.retiring);
    await this.wal?.close();
    for (const s of this.shards.values()) {
      this.source?.release(s.store);
      await s.store.close();
    }
  }
}
