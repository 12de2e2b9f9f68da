import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { KvServer } from '@weft/kvrpc';
import { Materializer } from '@weft/materialize';
import { MultiRaftHost } from '@weft/multiraft';
import type { Entry } from '@weft/raft';
import {
  HostGroupRaft,
  ShardReplica,
  ShardSnapshotSink,
  ShardSnapshotSource,
  ShardStateDir,
  encodeSnapshotRef,
  syncStore,
  systemClock,
  toCommitted,
  type ReplicaStoppedError,
  type StagedShardState,
} from '@weft/replica';
import { MvccStore } from '@weft/storage';
import { RaftTransport, type TransportLogger } from '@weft/transport';
import { Wal } from '@weft/wal';

export interface PeerSpec {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface ShardNodeOptions {
  readonly nodeId: number;
  readonly dataDir: string;
  readonly bindHost: string;
  readonly raftPort: number;
  readonly kvPort: number;
  /** Every replica of the hosted shard (this node included), with its Raft address. */
  readonly raftPeers: readonly PeerSpec[];
  readonly shardId?: number;
  readonly logger: TransportLogger;
  /** Milliseconds per Raft tick (default 50). */
  readonly tickMs?: number;
  /** Take a snapshot and compact the Raft log once this many entries applied since the last (default 10,000). */
  readonly snapshotEveryEntries?: number;
  /** Abort a staged (large) transaction after this long without progress (default 5 min). */
  readonly stagedIdleMs?: number;
  /**
   * Entries kept in the log below the snapshot's index (default 1,000): a follower only that
   * far behind catches up from the log instead of receiving a whole snapshot.
   */
  readonly compactionMarginEntries?: number;
}

/**
 * Raft ticks (50 ms) before a follower campaigns: 1-2 s. Twice the host's default, because a
 * node applying a bulk load, compacting RocksDB or collecting garbage on a small shared machine
 * can go quiet for over 500 ms, and a needless election costs more than a slower failover.
 */
const ELECTION_TICKS = 20;

/**
 * The data plane of one node process: the Raft transport and WAL shared by its groups, the
 * multi-Raft host, and one shard replica (Raft group + RocksDB materializer) served over the KV
 * RPC. Plain TypeScript, no NestJS: the module only starts and stops it.
 */
export class ShardNode {
  private wal?: Wal;
  private transport?: RaftTransport;
  private host?: MultiRaftHost;
  private store?: MvccStore;
  private sm?: Materializer;
  private stateDir?: ShardStateDir;
  private source?: ShardSnapshotSource;
  private sink?: ShardSnapshotSink;
  private kv?: KvServer;
  replica?: ShardReplica;
  readonly shardId: number;
  kvAddress?: { host: string; port: number };
  /** Raft index of the last snapshot this node recorded (taken here or installed from the leader). */
  private snapshotIndex = 0;
  private compacting: Promise<void> | undefined;
  private stopping = false;
  private readonly retiring = new Set<Promise<void>>();
  readonly snapshotStats = { taken: 0, compactedTo: 0, installed: 0, failures: 0 };

  constructor(private readonly opts: ShardNodeOptions) {
    this.shardId = opts.shardId ?? 1;
    if (!opts.raftPeers.some((p) => p.nodeId === opts.nodeId)) {
      throw new Error(`WEFT_RAFT_PEERS does not list this node (WEFT_NODE_ID=${opts.nodeId}); list every replica of shard ${this.shardId}, this node included`);
    }
  }

  async start(): Promise<void> {
    const { opts } = this;
    const walDir = path.join(opts.dataDir, 'wal');
    mkdirSync(walDir, { recursive: true });
    // The shard's RocksDB state: the live directory (an installed snapshot's, or the first one);
    // staging directories of interrupted snapshot installs and replaced states are removed.
    const stateDir = new ShardStateDir(opts.dataDir, this.shardId);
    this.stateDir = stateDir;
    for (const name of stateDir.cleanup()) opts.logger.info({ shard: this.shardId, dir: name }, 'removed a stale shard state directory');
    mkdirSync(stateDir.current(), { recursive: true });
    this.wal = await Wal.open(walDir);
    const groupLog = this.wal.storage(this.shardId);
    const restarted = groupLog.initialState().confState.voters.length > 0;

    this.store = await MvccStore.open(stateDir.current());
    const sm = await Materializer.open(this.store, this.shardId);
    this.sm = sm;
    this.snapshotIndex = groupLog.snapshot().metadata.index;
    if (sm.appliedIndex < this.snapshotIndex) {
      // The log starts after entries this state never applied: replaying would skip them.
      await this.store.close();
      await this.wal.close();
      this.store = undefined;
      this.wal = undefined;
      throw new Error(
        `shard ${this.shardId}: state in ${stateDir.current()} is at applied index ${sm.appliedIndex}, but the Raft log was compacted ` +
          `to a snapshot at index ${this.snapshotIndex}; remove ${opts.dataDir} so the node rejoins as a new replica and receives a snapshot`,
      );
    }
    this.source = new ShardSnapshotSource((group) => (group === this.shardId ? this.sm : undefined));
    this.sink = new ShardSnapshotSink({
      shardId: this.shardId,
      dirs: stateDir,
      appliedIndex: () => this.sm?.appliedIndex ?? 0,
      install: (st) => this.installState(st),
      onFailed: (err) => {
        this.snapshotStats.failures++;
        opts.logger.warn({ shard: this.shardId, err: err.message }, 'incoming snapshot rejected or aborted; keeping the current state');
      },
    });

    const hostRef: { current?: MultiRaftHost } = {};
    const replicaRef: { current?: ShardReplica } = {};
    const peers = new Map(opts.raftPeers.filter((p) => p.nodeId !== opts.nodeId).map((p) => [p.nodeId, { host: p.host, port: p.port }]));
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
    });
    await this.transport.listen();

    const tickMs = opts.tickMs ?? 50;
    this.host = new MultiRaftHost({
      raft: { electionTick: ELECTION_TICKS },
      nodeId: opts.nodeId,
      wal: this.wal,
      sender: this.transport,
      tickMs,
      rand: { int: (n: number) => randomInt(n) },
      apply: (group: number, entries: readonly Entry[]) => {
        if (group !== this.shardId) return;
        replicaRef.current?.applyCommitted(toCommitted(entries));
        this.maybeCompact();
      },
      snapshotSource: this.source,
      snapshotSink: this.sink,
      applySnapshot: (group, snap) => {
        if (group !== this.shardId) return;
        this.snapshotIndex = Math.max(this.snapshotIndex, snap.metadata.index);
        // The sink installed the state before the core saw the snapshot; this only checks it.
        replicaRef.current?.snapshotInstalled(snap.metadata.index);
      },
    });
    hostRef.current = this.host;

    this.replica = new ShardReplica({
      raft: new HostGroupRaft(this.host, this.shardId),
      stateMachine: sm,
      clock: systemClock,
      stagedSweep: { idleMs: this.opts.stagedIdleMs },
      onStopped: (err: ReplicaStoppedError) => opts.logger.error({ shard: this.shardId, index: err.index, err: err.message }, 'shard replica stopped applying'),
    });
    replicaRef.current = this.replica;

    if (restarted) {
      // A restarted replica forgets that it acknowledged a leader's lease; voting before an
      // election timeout has passed could elect a new leader while the old one still serves
      // lease reads. Sit out one maximum election timeout first.
      await new Promise((r) => setTimeout(r, 2 * ELECTION_TICKS * tickMs));
    }
    await this.host.addGroup(this.shardId, opts.raftPeers.map((p) => p.nodeId));

    this.kv = new KvServer({
      nodeId: opts.nodeId,
      host: opts.bindHost,
      port: opts.kvPort,
      shard: (id) => (id === this.shardId ? this.replica : undefined),
      logger: opts.logger,
    });
    this.kvAddress = await this.kv.listen();
  }

  /**
   * How far the Raft log may be compacted. For now the applied index; once the leader mirrors
   * the log to Kafka this becomes the last index mirrored there (the log is never truncated
   * past it, so a lagging mirror can always resume from Raft).
   */
  compactionFloor(): number {
    return this.sm?.appliedIndex ?? 0;
  }

  /** After an apply: once enough entries applied since the last snapshot, take one (soon, off the apply path). */
  private maybeCompact(): void {
    const every = this.opts.snapshotEveryEntries ?? 10_000;
    if (this.compacting || this.stopping || !this.sm || this.sm.appliedIndex - this.snapshotIndex < every) return;
    // After the current Ready cycle: the core's applied index only moves once it is advanced.
    this.compacting = new Promise<void>((r) => setImmediate(r))
      .then(() => this.compact())
      .catch((e: unknown) => {
        this.snapshotStats.failures++;
        this.opts.logger.warn({ shard: this.shardId, err: e instanceof Error ? e.message : String(e) }, 'snapshot/compaction failed; will retry');
      })
      .finally(() => {
        this.compacting = undefined;
      });
  }

  /**
   * Records a snapshot at the Raft applied index and compacts the log below it, keeping a
   * margin. The state is made durable first: the materializer writes without fsync because the
   * log is normally the durable copy, and after compaction it no longer is for those entries.
   */
  async compact(): Promise<void> {
    if (!this.host || !this.store || this.stopping) return;
    const applied = this.host.status(this.shardId).applied;
    if (applied <= this.snapshotIndex) return;
    syncStore(this.store.db);
    const margin = this.opts.compactionMarginEntries ?? 1_000;
    const compactTo = Math.max(0, Math.min(applied - margin, this.compactionFloor()));
    await this.host.compact(this.shardId, encodeSnapshotRef(applied), compactTo);
    this.snapshotIndex = applied;
    this.snapshotStats.taken++;
    this.snapshotStats.compactedTo = Math.max(this.snapshotStats.compactedTo, compactTo);
  }

  /** The sink verified a newer state from the leader and made it live on disk: serve it. */
  private installState(st: StagedShardState): void {
    const old = this.store;
    const oldDir = this.stateDir && old ? old.db.location : undefined;
    this.store = st.store;
    this.sm = st.materializer;
    this.replica?.replaceStateMachine(st.materializer);
    this.snapshotStats.installed++;
    this.opts.logger.info({ shard: this.shardId, appliedIndex: st.materializer.appliedIndex, dir: st.dir }, 'installed a snapshot from the leader');
    if (!old) return;
    // Streams this node was sending from the old state fail (their leader retries later).
    this.source?.release(old);
    const retire = old
      .close()
      .then(() => (oldDir ? this.stateDir?.remove(oldDir) : undefined))
      .catch((e: unknown) => this.opts.logger.warn({ shard: this.shardId, err: e instanceof Error ? e.message : String(e) }, 'could not remove the replaced shard state'));
    this.retiring.add(retire);
    void retire.finally(() => this.retiring.delete(retire));
  }

  /** Applied index of the replica's state, and the Raft log's compaction point (tests, tooling). */
  logStatus(): { appliedIndex: number; snapshotIndex: number; firstIndex: number } {
    const g = this.wal?.storage(this.shardId);
    return { appliedIndex: this.sm?.appliedIndex ?? 0, snapshotIndex: this.snapshotIndex, firstIndex: g ? g.firstIndex() : 0 };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.replica?.close();
    await this.kv?.close();
    await this.compacting;
    await this.host?.close();
    await this.transport?.close();
    await this.sink?.settled();
    await Promise.all(this.retiring);
    await this.wal?.close();
    if (this.store) this.source?.release(this.store);
    await this.store?.close();
  }
}
