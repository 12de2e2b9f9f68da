import type { Meter } from '@opentelemetry/api';
import type { MetaReplica } from '@weft/meta';
import type { ReadinessProbe, ReadinessReport } from '@weft/service';

/**
 * The meta replica's metrics, read from its status and counters once per scrape: its Raft role
 * and term, the catalog's size, the TSO's persisted high-water mark and request counts.
 */
export function registerMetaMetrics(meter: Meter, replica: () => MetaReplica | undefined): void {
  const g = (name: string, description: string) => meter.createObservableGauge(name, { description });
  const c = (name: string, description: string) => meter.createObservableCounter(name, { description });
  const isLeader = g('weft_meta_is_leader', '1 if this meta replica leads the meta group');
  const leader = g('weft_meta_leader', 'The meta leader this replica knows (0: none)');
  const term = g('weft_meta_term', "The meta group's Raft term on this replica");
  const applied = g('weft_meta_applied_index', "The meta group's applied index on this replica");
  const unpersisted = g('weft_meta_unpersisted_entries', 'Applied meta entries not yet persisted to the catalog');
  const nodes = g('weft_meta_nodes', 'Storage nodes in the catalog');
  const shards = g('weft_meta_shards', 'Shards in the shard map');
  const tsoRequests = c('weft_meta_tso_requests', 'Timestamp requests served');
  const tsoExtends = c('weft_meta_tso_extends', 'Times the TSO high-water mark was extended through Raft');
  const proposals = c('weft_meta_proposals', 'Commands proposed to the meta group');
  meter.addBatchObservableCallback(
    (o) => {
      const r = replica();
      if (!r) return;
      const s = r.status();
      o.observe(isLeader, s.role === 'leader' ? 1 : 0);
      o.observe(leader, s.leader);
      o.observe(term, s.term);
      o.observe(applied, s.appliedIndex);
      o.observe(unpersisted, Math.max(0, s.appliedIndex - s.persistedIndex));
      o.observe(nodes, s.nodes);
      o.observe(shards, s.shards);
      o.observe(tsoRequests, r.stats.tsoRequests);
      o.observe(tsoExtends, r.stats.tsoExtends);
      o.observe(proposals, r.stats.proposals);
    },
    [isLeader, leader, term, applied, unpersisted, nodes, shards, tsoRequests, tsoExtends, proposals],
  );
}

/** A meta replica is ready once it is in its group and knows a leader (else TSO and catalog calls fail). */
export class MetaReadiness implements ReadinessProbe {
  constructor(private readonly replica: () => MetaReplica | undefined) {}

  readiness(): ReadinessReport {
    const r = this.replica();
    if (!r) return { ready: false, reasons: ['meta replica is starting'] };
    const s = r.status();
    if (s.role === 'starting') return { ready: false, reasons: ['meta replica is starting (restart hold-off)'] };
    if (s.leader === 0) return { ready: false, reasons: ['meta group has no leader (election in progress, or no quorum)'] };
    return { ready: true, reasons: [] };
  }

  details(): Record<string, unknown> {
    const s = this.replica()?.status();
    return s ? { ...s, tsoHighUs: String(s.tsoHighUs) } : {};
  }
}
