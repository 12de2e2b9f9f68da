// The session TimeZone, visible to value formatting and parsing deep inside expressions
// without threading it through every call: statements run inside `withTimeZone`, whose value
// follows the async chain (AsyncLocalStorage), so concurrent sessions never see each other's.
import { AsyncLocalStorage } from 'node:async_hooks';
import { S, sqlError } from '../errors';

const store = new AsyncLocalStorage<string>();
const formatters = new Map<string, Intl.DateTimeFormat>();
const EPOCH_2000_MS = Date.UTC(2000, 0, 1);
const FIXED = /^([+-])(\d{1,2})(?::?(\d{2}))?$/;

export function withTimeZone<T>(zone: string, fn: () => T): T {
  return zone === 'UTC' ? store.run('UTC', fn) : store.run(zone, fn);
}

export function currentTimeZone(): string {
  return store.getStore() ?? 'UTC';
}

/** Validates and normalizes a TimeZone setting ('UTC', an IANA name, or a fixed offset). */
export function normalizeTimeZone(v: string): string {
  const s = v.trim();
  if (/^(utc|gmt|z|etc\/utc|zulu|universal)$/i.test(s)) return 'UTC';
  const fixed = FIXED.exec(s);
  if (fixed) return s;
  try {
    const f = new Intl.DateTimeFormat('en-US', { timeZone: s });
    return f.resolvedOptions().timeZone === 'UTC' && !/utc/i.test(s) ? s : s;
  } catch {
    throw sqlError(S.INVALID_PARAMETER_VALUE, `invalid value for parameter "TimeZone": "${v}"`);
  }
}

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' });
    formatters.set(zone, f);
  }
  return f;
}

/** Offset of `zone` from UTC in seconds at the instant `utcMicros` (since 2000-01-01). */
export function offsetSeconds(zone: string, utcMicros: bigint): number {
  if (zone === 'UTC') return 0;
  const fixed = FIXED.exec(zone);
  // POSIX-style fixed offsets: Postgres reads '+05' as 5 hours WEST of Greenwich; ISO reads it as east.
  if (fixed) return (fixed[1] === '-' ? 1 : -1) * (Number(fixed[2]) * 3600 + Number(fixed[3] ?? 0) * 60);
  const ms = EPOCH_2000_MS + Number(utcMicros / 1000n);
  const whole = Math.floor(ms / 1000) * 1000;
  const parts = formatter(zone).formatToParts(new Date(whole));
  const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value ?? 0);
  let year = get('year');
  if (parts.find((p) => p.type === 'era')?.value === 'BC') year = 1 - year;
  const d = new Date(0);
  d.setUTCFullYear(year, get('month') - 1, get('day'));
  d.setUTCHours(get('hour'), get('minute'), get('second'), 0);
  return Math.round((d.getTime() - whole) / 1000);
}

/** UTC instant of a wall-clock time in `zone` (the earlier one when ambiguous). */
export function localToUtc(localMicros: bigint, zone: string): bigint {
  if (zone === 'UTC') return localMicros;
  let guess = localMicros - BigInt(offsetSeconds(zone, localMicros)) * 1_000_000n;
  guess = localMicros - BigInt(offsetSeconds(zone, guess)) * 1_000_000n;
  return guess;
}

/** '+00', '-05', '+05:30' as Postgres prints a timestamptz offset. */
export function formatOffset(seconds: number): string {
  const sign = seconds < 0 ? '-' : '+';
  const a = Math.abs(seconds);
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  const s = a % 60;
  return `${sign}${String(h).padStart(2, '0')}${m || s ? `:${String(m).padStart(2, '0')}` : ''}${s ? `:${String(s).padStart(2, '0')}` : ''}`;
}
