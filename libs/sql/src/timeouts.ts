// Duration settings (statement_timeout, lock_timeout): milliseconds, or with a unit.

/** '250', '250ms', '1.5s', '2min', '1h', '1d' as milliseconds; 0 for anything else (no limit). */
export function parseTimeoutMs(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/i.exec(v);
  if (!m) return 0;
  const unit: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
  return Number(m[1]) * unit[(m[2] ?? 'ms').toLowerCase()];
}
