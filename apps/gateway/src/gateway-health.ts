import type { Meter } from '@opentelemetry/api';
import type { RemoteShardKv } from '@weft/kvrpc';
import type { ReadinessProbe, ReadinessReport } from '@weft/service';

/** What the last probe of one shard found. */
export interface ShardReach {
  readonly shard: number;
  readonly replicas: number;
  /** Replicas that answered a status request. */
  readonly reachable: number;
  /** The leader the answering replicas name (0: none). */
  readonly leader: number;
  readonly quorum: boolean;
  /** Why the unreachable replicas did not answer (node id → error). */
  readonly errors: Readonly<Record<number, string>>;
  /** Each replica that answered: its applied index and lag (now − closed timestamp, seconds; null before the first). */
  readonly replicaStatus: readonly { node: number; leader: number; appliedIndex: number; lagSeconds: number | null }[];
}

/**
 * The gateway's readiness: every `intervalMs` it asks each replica of every shard (as last placed) for its
 * status (the KV RPC's status call, answered locally by each node) and is ready only while it
 * reaches a quorum of every shard and that quorum knows a leader. Also exports the result as
 * weft_gateway_shard_reachable_replicas / weft_gateway_shard_quorum, and the KV client's
 * per-shard counters.
 */
export class GatewayReadiness implements ReadinessProbe {
  private last = new Map<number, ShardReach>();
  private probed = false;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly shards: ReadonlyMap<number, RemoteShardKv>,
    meter: Meter,
    private readonly intervalMs = 2000,
  ) {
    const reachable = meter.createObservableGauge('weft_gateway_shard_reachable_replicas', { description: "A shard's replicas that answered the gateway's last status probe" });
    const quorum = meter.createObservableGauge('weft_gateway_shard_quorum', { description: '1 if the gateway reaches a quorum of the shard and it has a leader' });
    const c = (name: string, description: string) => meter.createObservableCounter(name, { description });
    const requests = c('weft_kvrpc_client_requests', 'KV RPC requests sent by the gateway, per shard');
    const redirects = c('weft_kvrpc_client_redirects', 'KV RPC requests redirected to another leader, per shard');
    const failovers = c('weft_kvrpc_client_failovers', 'KV RPC requests retried on another node after a failure, per shard');
    const followerReads = c('weft_kvrpc_client_follower_reads', 'Reads served by a follower, per shard');
    meter.addBatchObservableCallback(
      (o) => {
        for (const r of this.last.values()) {
          const a = { shard: String(r.shard) };
          o.observe(reachable, r.reachable, a);
          o.observe(quorum, r.quorum ? 1 : 0, a);
        }
        for (const [id, kv] of this.shards) {
          const a = { shard: String(id) };
          o.observe(requests, kv.stats.requests, a);
          o.observe(redirects, kv.stats.redirects, a);
          o.observe(failovers, kv.stats.failovers, a);
          o.observe(followerReads, kv.stats.followerReads, a);
        }
      },
      [reachable, quorum, requests, redirects, failovers, followerReads],
    );
  }

  start(): void {
    if (this.shards.size === 0) return;
    void this.probe();
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One round over every shard (skipped while the previous one still runs). */
  async probe(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const results = await Promise.all([...this.shards].map(([id, kv]) => probeShard(id, kv, kv.replicaIds)));
      this.last = new Map(results.map((r) => [r.shard, r]));
      this.probed = true;
    } finally {
      this.running = false;
    }
  }

  readiness(): ReadinessReport {
    if (this.shards.size === 0) return { ready: true, reasons: [] };
    if (!this.probed) return { ready: false, reasons: ['gateway is starting: shards not probed yet'] };
    const reasons: string[] = [];
    for (const r of this.last.values()) {
      if (r.quorum) continue;
      const down = Object.entries(r.errors).map(([n, e]) => `node ${n}: ${e}`).join('; ');
      reasons.push(
        r.reachable * 2 <= r.replicas
          ? `shard ${r.shard}: only ${r.reachable} of ${r.replicas} replicas reachable (no quorum)${down ? ` — ${down}` : ''}`
          : `shard ${r.shard}: no leader known by the ${r.reachable} reachable replicas`,
      );
    }
    return { ready: reasons.length === 0, reasons };
  }

  details(): Record<string, unknown> {
    return { shards: [...this.last.values()].sort((a, b) => a.shard - b.shard) };
  }
}

async function probeShard(id: number, kv: RemoteShardKv, replicas: readonly number[]): Promise<ShardReach> {
  const errors: Record<number, string> = {};
  const leaders = new Map<number, number>();
  const replicaStatus: { node: number; leader: number; appliedIndex: number; lagSeconds: number | null }[] = [];
  let reachable = 0;
  await Promise.all(
    replicas.map(async (n) => {
      try {
        const s = await kv.replicaStatus(n);
        reachable++;
        const lagSeconds = s.closedTs === 0n ? null : Math.max(0, Math.round((Date.now() * 1000 - Number(s.closedTs)) / 1e5) / 10);
        replicaStatus.push({ node: n, leader: s.leader, appliedIndex: s.appliedIndex, lagSeconds });
        if (s.leader !== 0) leaders.set(s.leader, (leaders.get(s.leader) ?? 0) + 1);
      } catch (e) {
        errors[n] = e instanceof Error ? e.message : String(e);
      }
    }),
  );
  // The leader most answering replicas name (during an election they may disagree briefly).
  const leader = [...leaders].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
  const quorum = replicas.length > 0 && reachable * 2 > replicas.length && leader !== 0;
  replicaStatus.sort((a, b) => a.node - b.node);
  return { shard: id, replicas: replicas.length, reachable, leader, quorum, errors, replicaStatus };
}
