import type { Meter } from '@opentelemetry/api';
import type { CdcFeedStatus } from './cdc-feed';

/**
 * The CDC service's metrics, read from each shard feed's status once per scrape: how far the
 * change topics are behind the log (entries and time), whether a feed stopped, and the events
 * and consumer restarts so far. A feed that stands still shows a growing lag (alert WeftCdcLagHigh).
 */
export function registerCdcMetrics(meter: Meter, status: () => readonly CdcFeedStatus[]): void {
  const g = (name: string, description: string, unit?: string) => meter.createObservableGauge(name, { description, ...(unit ? { unit } : {}) });
  const lagEntries = g('weft_cdc_lag_entries', "Log entries of the shard's topic whose changes are not published yet");
  const lagSeconds = g('weft_cdc_lag_seconds', 'How long the oldest unpublished change has waited (or the feed has been behind without publishing)', 's');
  const published = g('weft_cdc_published_index', 'Last Raft index whose changes are committed to the change topics');
  const stopped = g('weft_cdc_feed_stopped', "1 when the shard's feed stopped on an error it cannot get past (it needs an operator)");
  const events = meter.createObservableCounter('weft_cdc_change_events', { description: 'Change events published (since the process started)' });
  const restarts = meter.createObservableCounter('weft_cdc_consumer_restarts', { description: 'Consumer crashes kafkajs would not restart from, after which the feed took over again' });
  meter.addBatchObservableCallback(
    (obs) => {
      for (const f of status()) {
        const a = { shard: String(f.shardId) };
        obs.observe(lagEntries, f.lagEntries, a);
        obs.observe(lagSeconds, f.lagMs / 1000, a);
        obs.observe(published, f.publishedIndex, a);
        obs.observe(stopped, f.state === 'stopped' ? 1 : 0, a);
        obs.observe(events, f.changeEvents, a);
        obs.observe(restarts, f.consumerRestarts, a);
      }
    },
    [lagEntries, lagSeconds, published, stopped, events, restarts],
  );
}
