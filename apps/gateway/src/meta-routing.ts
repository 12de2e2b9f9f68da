import { ShardMap, type ShardRange } from '@weft/kvclient';
import { RemoteShardKv, type ReplicaAddress } from '@weft/kvrpc';
import type { NodeRecord, ShardRecord } from '@weft/meta';

/** What routing needs from the meta service (MetaClient implements it). */
export interface RoutingSource {
  nodes(): Promise<readonly NodeRecord[]>;
  shardMap(): Promise<readonly ShardRecord[]>;
}

export interface RoutingLogger {
  warn(obj: object, msg: string): void;
}

/**
 * The gateway's view of where shards live, taken from meta (decision 0033): the shard map's
 * ranges and, per shard, the KV addresses of the nodes meta placed it on. Refreshed in the
 * background so replicas moved off a dead node are found without a restart; meta being down
 * only freezes the view (data requests go to the nodes directly and follow their redirects).
 */
export interface MetaRoutingOptions {
  /** How long load() waits for meta to place every shard (default 60 s). */
  readonly deadlineMs?: number;
  /** How often the shard map is refreshed (default 2 s). */
  readonly refreshMs?: number;
  /** Sent with each request so a trace continues on the node (see RemoteShardKvOptions). */
  readonly traceparent?: () => string | undefined;
  /** Read replicas (materializers) that follower reads try first (see RemoteShardKvOptions). */
  readonly readReplicas?: readonly Omit<ReplicaAddress, 'nodeId'>[];
}

export class MetaRouting {
  private timer?: NodeJS.Timeout;
  private refreshing = false;

  private constructor(
    private readonly meta: RoutingSource,
    readonly map: ShardMap,
    readonly shards: ReadonlyMap<number, RemoteShardKv>,
    private readonly logger: RoutingLogger,
  ) {}

  /** Waits (up to `deadlineMs`) until meta has placed every shard, then builds the clients. */
  static async load(meta: RoutingSource, logger: RoutingLogger, opts: MetaRoutingOptions = {}): Promise<MetaRouting> {
    const { deadlineMs = 60_000, refreshMs = 2_000, traceparent, readReplicas } = opts;
    const end = Date.now() + deadlineMs;
    let last: string;
    for (;;) {
      try {
        const [records, nodes] = [await meta.shardMap(), await meta.nodes()];
        if (records.length > 0 && records.every((s) => s.replicas.length > 0)) {
          const map = new ShardMap(records.reduce((v, s) => v + s.version, 0), records.map((s): ShardRange => ({ shardId: s.shardId, hashLo: s.hashLo, hashHi: s.hashHi })), 1);
          const byId = new Map(nodes.map((n) => [n.nodeId, n]));
          const shards = new Map<number, RemoteShardKv>();
          for (const s of records) {
            const kv = new RemoteShardKv({ shardId: s.shardId, replicas: addresses(s, byId), ...(traceparent ? { traceparent } : {}), ...(readReplicas ? { readReplicas } : {}) });
            kv.setReplicas(addresses(s, byId), s.leaseholder);
            shards.set(s.shardId, kv);
          }
          const r = new MetaRouting(meta, map, shards, logger);
          r.timer = setInterval(() => void r.refresh(), refreshMs);
          return r;
        }
        last = records.length === 0 ? 'meta has no shard map yet' : 'meta has not placed every shard yet (fewer than 3 live nodes?)';
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      if (Date.now() >= end) throw new Error(`no shard map from meta within ${deadlineMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Re-reads placement and points each shard's client at its current replicas. */
  async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const [records, nodes] = [await this.meta.shardMap(), await this.meta.nodes()];
      const byId = new Map(nodes.map((n) => [n.nodeId, n]));
      for (const s of records) {
        const kv = this.shards.get(s.shardId);
        const range = this.map.ranges.find((r) => r.shardId === s.shardId);
        if (!kv || !range || range.hashLo !== s.hashLo || range.hashHi !== s.hashHi) {
          this.logger.warn({ shardId: s.shardId }, 'meta changed the shard map\'s ranges; this gateway routes by the ranges it started with until restarted');
          continue;
        }
        if (s.replicas.length > 0) kv.setReplicas(addresses(s, byId), s.leaseholder);
      }
    } catch (e) {
      this.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'could not refresh placement from meta; keeping the last known');
    } finally {
      this.refreshing = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    for (const kv of this.shards.values()) kv.close();
  }
}

function addresses(s: ShardRecord, nodes: ReadonlyMap<number, NodeRecord>): ReplicaAddress[] {
  return s.replicas.flatMap((id) => {
    const n = nodes.get(id);
    return n ? [{ nodeId: id, host: n.address, port: n.kvPort }] : [];
  });
}
