/** Latency percentiles (ms) from raw samples. */
export function percentiles(samples: number[]): { p50: number; p95: number; p99: number } {
  if (samples.length === 0) return { p50: NaN, p95: NaN, p99: NaN };
  const s = Float64Array.from(samples).sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

export const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

export interface SyncResult {
  readonly opsPerSec: number;
  readonly p50us?: number;
  readonly p99us?: number;
}

/** Runs fn(i) n times; with `latencies`, times each call for percentiles. */
export function measureSync(n: number, fn: (i: number) => void, latencies = false): SyncResult {
  const lat = latencies ? new Float64Array(n) : undefined;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (lat) {
      const s = process.hrtime.bigint();
      fn(i);
      lat[i] = Number(process.hrtime.bigint() - s) / 1000;
    } else fn(i);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!lat) return { opsPerSec: n / secs };
  lat.sort();
  return { opsPerSec: n / secs, p50us: lat[Math.floor(n * 0.5)], p99us: lat[Math.floor(n * 0.99)] };
}
