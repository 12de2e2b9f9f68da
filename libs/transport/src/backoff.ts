export interface BackoffOptions {
  /** Delay before the first retry. */
  readonly baseMs: number;
  /** Upper bound on any delay, so a long outage is noticed within this long of its end. */
  readonly maxMs: number;
}

/**
 * Exponential backoff with "equal jitter": the delay is uniformly in [d/2, d] where
 * d = min(max, base·2^attempt). Jitter keeps a restarted node from being hit by every peer
 * at the same instant; the d/2 floor keeps retries from collapsing to zero.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const d = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + (random() * d) / 2);
}
