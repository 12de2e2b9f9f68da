import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { KvServer } from '@weft/kvrpc';
import { Materializer } from '@weft/materialize';
import { MultiRaftHost } from '@weft/multiraft';
import type { Entry } from '@weft/raft';
import { HostGroupRaft, ShardReplica, systemClock, toCommitted, type ReplicaStoppedError } from '@weft/replica';
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
}

/** Raft ticks before a follower campaigns; the host's default, restated for the restart wait. */
const ELECTION_TICKS = 10;

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
  private kv?: KvServer;
  replica?: ShardReplica;
  readonly shardId: number;
  kvAddress?: { host: string; port: number };

  constructor(private readonly opts: ShardNodeOptions) {
    this.shardId = opts.shardId ?? 1;
    if (!opts.raftPeers.some((p) => p.nodeId === opts.nodeId)) {
      throw new Error(`WEFT_RAFT_PEERS does not list this node (WEFT_NODE_ID=${opts.nodeId}); list every replica of shard ${this.shardId}, this node included`);
    }
  }

  async start(): Promise<void> {
    const { opts } = this;
    const walDir = path.join(opts.dataDir, 'wal');
    const shardDir = path.join(opts.dataDir, `shard-${this.shardId}`);
    mkdirSync(walDir, { recursive: true });
    mkdirSync(shardDir, { recursive: true });
    this.wal = await Wal.open(walDir);
    const restarted = this.wal.storage(this.shardId).initialState().confState.voters.length > 0;

    this.store = await MvccStore.open(shardDir);
    const sm = await Materializer.open(this.store, this.shardId);

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
      nodeId: opts.nodeId,
      wal: this.wal,
      sender: this.transport,
      tickMs,
      rand: { int: (n: number) => randomInt(n) },
      apply: (group: number, entries: readonly Entry[]) => {
        if (group === this.shardId) replicaRef.current?.applyCommitted(toCommitted(entries));
      },
    });
    hostRef.current = this.host;

    this.replica = new ShardReplica({
      raft: new HostGroupRaft(this.host, this.shardId),
      stateMachine: sm,
      clock: systemClock,
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

  async stop(): Promise<void> {
    this.replica?.close();
    await this.kv?.close();
    await this.host?.close();
    await this.transport?.close();
    await this.wal?.close();
    await this.store?.close();
  }
}
