/** Liveness of a storage node as the meta service records it. */
export type NodeLiveness = 'live' | 'suspect' | 'dead';

/** What a storage node tells meta about itself in every heartbeat. */
export interface NodeInfo {
  readonly nodeId: number;
  /** Host the node's KV and Raft ports listen on, as other processes reach it. */
  readonly address: string;
  readonly kvPort: number;
  readonly raftPort: number;
  /** Placement labels; empty string: not labelled. */
  readonly region: string;
  readonly zone: string;
  /** Shards whose Raft group this node leads right now (leaseholder hints); optional. */
  readonly leading?: readonly number[];
}

/** A storage node as recorded in meta's replicated state. */
export interface NodeRecord {
  readonly nodeId: number;
  readonly address: string;
  readonly kvPort: number;
  readonly raftPort: number;
  readonly region: string;
  readonly zone: string;
  /** Milliseconds since the epoch, from the meta leader's clock, as last recorded in the log. */
  readonly lastHeartbeatMs: number;
  readonly state: NodeLiveness;
}

/** One shard of the hash space: [hashLo, hashHi) and where its replicas live. */
export interface ShardRecord {
  readonly shardId: number;
  readonly hashLo: number;
  readonly hashHi: number;
  /** Node ids of its replicas, ascending; empty until placed. */
  readonly replicas: readonly number[];
  /** The node last reported leading the shard's group (0: unknown). A hint, not a fact. */
  readonly leaseholder: number;
  /** Bumped on every change of the shard's range or replicas. */
  readonly version: number;
  /**
   * The replicas a new group starts with: set by the first placement, cleared by any later
   * change of the replicas. A node in it whose WAL has never seen the group bootstraps the group
   * with exactly these voters; any other new replica joins empty and waits for the leader to add
   * it (as a learner) and send it a snapshot. Clearing it after the first move keeps a node that
   * comes back empty from bootstrapping a second, divergent group.
   */
  readonly bootstrapVoters: readonly number[];
}

/** Time source of the meta service, injected so tests can move time by hand. */
export interface MetaClock {
  /** Milliseconds since the epoch (liveness). */
  nowMs(): number;
  /** Microseconds since the epoch (timestamp oracle). */
  nowUs(): bigint;
}

export const systemMetaClock: MetaClock = {
  nowMs: () => Date.now(),
  nowUs: () => BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000)),
};

/** One meta replica's view of itself (status RPC; any replica answers, leader or not). */
export interface MetaStatus {
  readonly metaId: number;
  readonly leader: number;
  readonly term: number;
  readonly role: 'leader' | 'follower' | 'candidate' | 'starting';
  readonly appliedIndex: number;
  /** Applied index already persisted in the TypeORM catalog. */
  readonly persistedIndex: number;
  readonly tsoHighUs: bigint;
  readonly nodes: number;
  readonly shards: number;
}

/** A range of `count` consecutive timestamps starting at `first` (microseconds). */
export interface TsoRange {
  readonly first: bigint;
  readonly count: number;
}
