import { decodeCommand, uniformRanges, type MetaCommand } from './commands';
import type { NodeRecord, ShardRecord } from './types';

/** What changed since the last takeChanges(): the rows a persistence step must write. */
export interface MetaChanges {
  readonly appliedIndex: number;
  readonly tsoHighUs: bigint;
  readonly nodes: readonly NodeRecord[];
  readonly shards: readonly ShardRecord[];
  /** The whole state was replaced (snapshot install): rows not listed must be deleted. */
  readonly replaceAll: boolean;
}

interface SnapshotJson {
  readonly v: 1;
  readonly appliedIndex: number;
  readonly tsoHighUs: string;
  readonly nodes: NodeRecord[];
  readonly shards: ShardRecord[];
}

/**
 * The meta service's replicated state: nodes, shard map, TSO high-water mark, applied index.
 * Deterministic: it reads no clock and no randomness; every time it records comes inside a
 * command (stamped by the leader that proposed it). Commands about unknown nodes or shards are
 * no-ops rather than errors, because an entry that fails to apply would stop every replica.
 */
export class MetaStateMachine {
  private applied = 0;
  private tsoHigh = 0n;
  private readonly nodeMap = new Map<number, NodeRecord>();
  private readonly shardMap = new Map<number, ShardRecord>();
  private readonly dirtyNodes = new Set<number>();
  private readonly dirtyShards = new Set<number>();
  private replaced = false;

  get appliedIndex(): number {
    return this.applied;
  }

  get tsoHighUs(): bigint {
    return this.tsoHigh;
  }

  node(id: number): NodeRecord | undefined {
    return this.nodeMap.get(id);
  }

  /** Nodes by id, ascending. */
  nodes(): NodeRecord[] {
    return [...this.nodeMap.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  /** Shards by id, ascending. */
  shards(): ShardRecord[] {
    return [...this.shardMap.values()].sort((a, b) => a.shardId - b.shardId);
  }

  /** Applies the entry at `index` (raw log bytes); entries at or below the applied index are skipped. */
  applyEntry(index: number, data: Uint8Array): MetaCommand | undefined {
    if (index <= this.applied) return undefined;
    const cmd = decodeCommand(data);
    this.apply(index, cmd);
    return cmd;
  }

  /** A Raft no-op or membership change: only the applied index moves. */
  applyEmpty(index: number): void {
    if (index > this.applied) this.applied = index;
  }

  apply(index: number, cmd: MetaCommand): void {
    if (index <= this.applied) return;
    this.applied = index;
    switch (cmd.t) {
      case 'barrier':
        return;
      case 'tso':
        if (cmd.highUs > this.tsoHigh) this.tsoHigh = cmd.highUs;
        return;
      case 'node': {
        const prev = this.nodeMap.get(cmd.info.nodeId);
        const { nodeId, address, kvPort, raftPort, region, zone } = cmd.info;
        this.setNode({ nodeId, address, kvPort, raftPort, region, zone, lastHeartbeatMs: Math.max(prev?.lastHeartbeatMs ?? 0, cmd.atMs), state: 'live' });
        return;
      }
      case 'beats':
        for (const [id, ms] of cmd.beats) {
          const n = this.nodeMap.get(id);
          if (n && ms > n.lastHeartbeatMs) this.setNode({ ...n, lastHeartbeatMs: ms });
        }
        return;
      case 'liveness': {
        const n = this.nodeMap.get(cmd.nodeId);
        if (!n) return;
        const lastHeartbeatMs = cmd.state === 'live' ? Math.max(n.lastHeartbeatMs, cmd.atMs) : n.lastHeartbeatMs;
        this.setNode({ ...n, state: cmd.state, lastHeartbeatMs });
        return;
      }
      case 'init-shards':
        // Only the first one counts: two leaders racing to bootstrap must not split the map twice.
        if (this.shardMap.size > 0) return;
        for (const s of uniformRanges(cmd.count)) this.setShard(s);
        return;
      case 'replicas': {
        const s = this.shardMap.get(cmd.shardId);
        if (!s || (cmd.ifVersion !== undefined && cmd.ifVersion !== s.version)) return;
        const replicas = [...new Set(cmd.replicas)].sort((a, b) => a - b);
        // Only the first placement (of a shard that never had replicas) bootstraps a group.
        const bootstrapVoters = s.replicas.length === 0 && s.version === 1 ? replicas : [];
        this.setShard({ ...s, replicas, version: s.version + 1, bootstrapVoters });
        return;
      }
      case 'leaseholders':
        for (const [shardId, nodeId] of cmd.hints) {
          const s = this.shardMap.get(shardId);
          if (s && s.leaseholder !== nodeId) this.setShard({ ...s, leaseholder: nodeId });
        }
        return;
    }
  }

  private setNode(n: NodeRecord): void {
    this.nodeMap.set(n.nodeId, n);
    this.dirtyNodes.add(n.nodeId);
  }

  private setShard(s: ShardRecord): void {
    this.shardMap.set(s.shardId, s);
    this.dirtyShards.add(s.shardId);
  }

  /** Rows changed since the last call (and the applied index they bring the catalog to). */
  takeChanges(): MetaChanges {
    const replaceAll = this.replaced;
    const nodes = replaceAll ? this.nodes() : [...this.dirtyNodes].sort((a, b) => a - b).map((id) => this.nodeMap.get(id) as NodeRecord);
    const shards = replaceAll ? this.shards() : [...this.dirtyShards].sort((a, b) => a - b).map((id) => this.shardMap.get(id) as ShardRecord);
    this.dirtyNodes.clear();
    this.dirtyShards.clear();
    this.replaced = false;
    return { appliedIndex: this.applied, tsoHighUs: this.tsoHigh, nodes, shards, replaceAll };
  }

  /**
   * The next takeChanges() rewrites every row: a persist of taken changes failed, and they must
   * not be lost behind a later batch's applied index.
   */
  requireFullRewrite(): void {
    this.replaced = true;
  }

  /** The whole state (Raft snapshots: meta's state is small, so it travels inline). */
  encodeSnapshot(): Uint8Array {
    const s: SnapshotJson = { v: 1, appliedIndex: this.applied, tsoHighUs: this.tsoHigh.toString(), nodes: this.nodes(), shards: this.shards() };
    return Buffer.from(JSON.stringify(s), 'utf8');
  }

  /**
   * Replaces the state with a snapshot's (taken at Raft index `index`; entries between the
   * state's own applied index and `index` were no-ops). The next takeChanges() rewrites every row.
   */
  restoreSnapshot(data: Uint8Array, index: number): void {
    const s = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8')) as SnapshotJson;
    if (s.v !== 1) throw new Error(`meta snapshot version ${String(s.v)} is not readable by this build`);
    this.load(Math.max(index, s.appliedIndex), BigInt(s.tsoHighUs), s.nodes, s.shards);
    this.replaced = true;
  }

  /** Loads state read back from the catalog at start (nothing to persist afterwards). */
  load(appliedIndex: number, tsoHighUs: bigint, nodes: readonly NodeRecord[], shards: readonly ShardRecord[]): void {
    this.applied = appliedIndex;
    this.tsoHigh = tsoHighUs;
    this.nodeMap.clear();
    this.shardMap.clear();
    for (const n of nodes) this.nodeMap.set(n.nodeId, { ...n });
    for (const s of shards) this.shardMap.set(s.shardId, { ...s, replicas: [...s.replicas], bootstrapVoters: [...(s.bootstrapVoters ?? [])] });
    this.dirtyNodes.clear();
    this.dirtyShards.clear();
    this.replaced = false;
  }
}
