import type { NodeHost } from '@weft/nodehost';
import type { ReadinessProbe, ReadinessReport } from '@weft/service';
import { replicationLagSeconds } from './node-metrics';

/**
 * A node is ready when every shard it hosts is a Raft member that knows its leader, applies
 * the log, and is at most `maxLagMs` behind (closed timestamp). Anything else is named in the
 * reasons: a stopped replica needs an operator, a lagging one should not serve follower reads.
 */
export class NodeReadiness implements ReadinessProbe {
  constructor(
    private readonly nodeId: number,
    private readonly host: () => NodeHost | undefined,
    private readonly maxLagMs: number,
  ) {}

  readiness(): ReadinessReport {
    const h = this.host();
    if (!h) return { ready: false, reasons: ['node is starting: shards not opened yet'] };
    const reasons: string[] = [];
    for (const s of h.shardHealth()) {
      if (s.stopped) reasons.push(`shard ${s.shardId}: replica stopped applying: ${s.stopped}`);
      else if (s.raft !== 'joined') reasons.push(`shard ${s.shardId}: not in its Raft group yet`);
      else if (s.leader === 0) reasons.push(`shard ${s.shardId}: no leader known (election in progress, or no quorum)`);
      else {
        const lag = replicationLagSeconds(s);
        if (!Number.isFinite(lag)) reasons.push(`shard ${s.shardId}: replica has no closed timestamp yet (catching up)`);
        else if (lag * 1000 > this.maxLagMs) reasons.push(`shard ${s.shardId}: replica is ${lag.toFixed(1)} s behind (limit ${this.maxLagMs / 1000} s)`);
      }
    }
    return { ready: reasons.length === 0, reasons };
  }

  details(): Record<string, unknown> {
    const h = this.host();
    return {
      node: this.nodeId,
      shards: (h?.shardHealth() ?? []).map((s) => {
        const lag = replicationLagSeconds(s);
        return {
          shard: s.shardId,
          raft: s.raft,
          leader: s.leader,
          term: s.term,
          appliedIndex: s.appliedIndex,
          commitIndex: s.commitIndex,
          lagSeconds: Number.isFinite(lag) ? Math.round(lag * 10) / 10 : null,
          stopped: s.stopped ?? null,
          followersBehind: s.followerMatch ? Object.fromEntries(Object.entries(s.followerMatch).map(([f, m]) => [f, Math.max(0, s.commitIndex - m)])) : null,
        };
      }),
    };
  }
}
