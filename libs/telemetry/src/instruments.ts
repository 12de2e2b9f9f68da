import type { Attributes, Histogram, Meter } from '@opentelemetry/api';

/**
 * Latency buckets in seconds for Weft's histograms. 0.15 and 0.18 are the SQL SLO (150 ms) and
 * the paging threshold (1.2 × SLO), so the alert's p99 comparison lands on a bucket boundary
 * instead of being interpolated across a wide bucket.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.18, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/**
 * A histogram recorded in seconds. `name` is the Prometheus name (e.g.
 * weft_raft_commit_latency_seconds); the exporter does not append units, so the name carries it.
 */
export function secondsHistogram(meter: Meter, name: string, description: string, buckets: readonly number[] = LATENCY_BUCKETS_SECONDS): Histogram<Attributes> {
  return meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: [...buckets] } });
}

/**
 * Caps a label's distinct values (tenant names come from clients): the first `max` values seen
 * are kept, every later one is reported as `overflow`, so a client cannot grow the series
 * count without bound. Values are also truncated to 64 characters.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly overflow = 'other',
  ) {}

  value(v: string): string {
    const s = v.length > 64 ? v.slice(0, 64) : v;
    if (this.seen.has(s)) return s;
    if (this.seen.size >= this.max) return this.overflow;
    this.seen.add(s);
    return s;
  }
}
