import type { Meter } from '@opentelemetry/api';
import type { ShardFeedStatus } from './log-materializer';

/**
 * The materializer's metrics, read from each shard feed's status once per scrape: its lag behind
 * the log topic (`repl.lag_ms` as seconds), its applied index, whether a feed stopped, and
 * consumer restarts.
 */
export function registerMaterializerMetrics(meter: Meter, status: () => readonly ShardFeedStatus[]): void {
  const g = (name: string, description: string, unit?: string) => meter.createObservableGauge(name, { description, ...(unit ? { unit } : {}) });
  const lagEntries = g('weft_materializer_lag_entries', "Entries in the shard's log topic not applied here yet");
  const lagSeconds = g('weft_materializer_lag_seconds', 'repl.lag_ms: 0 when caught up, else how long ago the last applied record was produced', 's');
  const applied = g('weft_materializer_applied_index', "The shard's applied index in this materializer");
  const stopped = g('weft_materializer_feed_stopped', "1 when the shard's feed stopped (an outcome mismatch or a gap without bootstrap): it needs an operator");
  const restarts = meter.createObservableCounter('weft_materializer_consumer_restarts', { description: 'Consumer crashes kafkajs would not restart from, after which a new consumer was started' });
  meter.addBatchObservableCallback(
    (obs) => {
      const all = status();
      for (const f of all) {
        const a = { shard: String(f.shardId) };
        obs.observe(lagEntries, f.lagEntries, a);
        obs.observe(lagSeconds, f.lagMs / 1000, a);
        obs.observe(applied, f.appliedIndex, a);
        obs.observe(stopped, f.state === 'stopped' ? 1 : 0, a);
      }
      obs.observe(restarts, all[0]?.consumerRestarts ?? 0);
    },
    [lagEntries, lagSeconds, applied, stopped, restarts],
  );
}
