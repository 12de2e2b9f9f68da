// Date/time text in and out, Postgres ISO style with TimeZone UTC (the only zone sessions use).
// date = days since 2000-01-01; time = microseconds of day; timestamp(tz) = microseconds since
// 2000-01-01 00:00 UTC; intervals keep months, days and microseconds apart like Postgres.
import { formatIntervalParts } from '@weft/pgwire';
import { S, sqlError } from '../errors';
import type { Interval } from './types';
import { currentTimeZone, formatOffset, localToUtc, offsetSeconds } from './timezone';

const EPOCH_MS = Date.UTC(2000, 0, 1);
const DAY_US = 86_400_000_000n;
export const TS_INFINITY = (1n << 63n) - 1n;
export const TS_NEG_INFINITY = -(1n << 63n);

function daysFromCivil(y: number, m: number, d: number): number {
  const ms = Date.UTC(2000, 0, 1) + 0; // anchor keeps types simple
  const dt = new Date(0);
  dt.setUTCFullYear(y, m - 1, d);
  dt.setUTCHours(0, 0, 0, 0);
  return Math.round((dt.getTime() - ms) / 86_400_000);
}

function civilFromDays(days: number): { y: number; m: number; d: number } {
  const dt = new Date(EPOCH_MS + days * 86_400_000);
  return { y: dt.getUTCFullYear(), m: dt.getUTCMonth() + 1, d: dt.getUTCDate() };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function fmtYear(y: number): { text: string; bc: boolean } {
  return y <= 0 ? { text: pad(1 - y, 4), bc: true } : { text: pad(y, 4), bc: false };
}

export function formatDate(days: number): string {
  if (days === Infinity) return 'infinity';
  if (days === -Infinity) return '-infinity';
  const { y, m, d } = civilFromDays(days);
  const yr = fmtYear(y);
  return `${yr.text}-${pad(m)}-${pad(d)}${yr.bc ? ' BC' : ''}`;
}

export function formatTime(us: bigint): string {
  const total = Number(us);
  const secs = Math.floor(total / 1_000_000);
  const frac = total % 1_000_000;
  const base = `${pad(Math.floor(secs / 3600))}:${pad(Math.floor(secs / 60) % 60)}:${pad(secs % 60)}`;
  return frac ? `${base}.${pad(frac, 6).replace(/0+$/, '')}` : base;
}

export function formatTimestamp(utc: bigint, tz: boolean): string {
  if (utc === TS_INFINITY) return 'infinity';
  if (utc === TS_NEG_INFINITY) return '-infinity';
  const zone = tz ? currentTimeZone() : 'UTC';
  const off = zone === 'UTC' ? 0 : offsetSeconds(zone, utc);
  const us = utc + BigInt(off) * 1_000_000n;
  let days = us / DAY_US;
  let rem = us % DAY_US;
  if (rem < 0n) {
    rem += DAY_US;
    days -= 1n;
  }
  const { y, m, d } = civilFromDays(Number(days));
  const yr = fmtYear(y);
  return `${yr.text}-${pad(m)}-${pad(d)} ${formatTime(rem)}${tz ? formatOffset(off) : ''}${yr.bc ? ' BC' : ''}`;
}

const DATE_RE = /^\s*(\d{1,7})-(\d{1,2})-(\d{1,2})(?:\s+(BC|AD))?\s*$/i;
const TS_RE =
  /^\s*(\d{1,7})-(\d{1,2})-(\d{1,2})(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?(?::?\d{2})?)?(?:\s+(BC|AD))?\s*$/i;
const TIME_RE = /^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?\s*$/i;

function checkDate(y: number, m: number, d: number, text: string, type: string): void {
  if (m < 1 || m > 12 || d < 1 || d > 31) throw sqlError(S.DATETIME_OVERFLOW, `date/time field value out of range: "${text}"`);
  const back = civilFromDays(daysFromCivil(y, m, d));
  if (back.m !== m || back.d !== d) throw sqlError(S.DATETIME_OVERFLOW, `date/time field value out of range: "${text}"`);
  void type;
}

function badSyntax(type: string, text: string): Error {
  return sqlError(S.INVALID_DATETIME, `invalid input syntax for type ${type}: "${text}"`);
}

function specialTimestamp(text: string, nowUs: () => bigint): bigint | undefined {
  const s = text.trim().toLowerCase();
  if (s === 'infinity') return TS_INFINITY;
  if (s === '-infinity') return TS_NEG_INFINITY;
  if (s === 'epoch') return -946_684_800_000_000n;
  if (s === 'now') return nowUs();
  const local = nowUs() + BigInt(offsetSeconds(currentTimeZone(), nowUs())) * 1_000_000n;
  const day = localToUtc((local / DAY_US) * DAY_US, currentTimeZone());
  if (s === 'today') return day;
  if (s === 'tomorrow') return day + DAY_US;
  if (s === 'yesterday') return day - DAY_US;
  return undefined;
}

export function parseDate(text: string, nowUs: () => bigint): number {
  const special = specialTimestamp(text, nowUs);
  if (special !== undefined) {
    if (special === TS_INFINITY) return Infinity;
    if (special === TS_NEG_INFINITY) return -Infinity;
    return Number(special / DAY_US);
  }
  const m = DATE_RE.exec(text) ?? TS_RE.exec(text);
  if (!m) throw badSyntax('date', text);
  let y = Number(m[1]);
  const bc = (m[m.length - 1] ?? '').toUpperCase() === 'BC';
  if (bc) y = 1 - y;
  checkDate(y, Number(m[2]), Number(m[3]), text, 'date');
  return daysFromCivil(y, Number(m[2]), Number(m[3]));
}

function fracMicros(f: string | undefined): number {
  if (!f) return 0;
  return Math.round(Number(`0.${f}`) * 1_000_000);
}

function zoneOffsetMinutes(z: string | undefined): number {
  if (!z || /^(z|utc|gmt)$/i.test(z)) return 0;
  const m = /^([+-])(\d{1,2})(?::?(\d{2}))?/.exec(z);
  if (!m) return 0;
  const v = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return m[1] === '-' ? -v : v;
}

export function parseTimestamp(text: string, tz: boolean, nowUs: () => bigint): bigint {
  const special = specialTimestamp(text, nowUs);
  if (special !== undefined) return special;
  const m = TS_RE.exec(text);
  if (!m) throw badSyntax(tz ? 'timestamp with time zone' : 'timestamp', text);
  let y = Number(m[1]);
  if ((m[9] ?? '').toUpperCase() === 'BC') y = 1 - y;
  const mo = Number(m[2]);
  const d = Number(m[3]);
  checkDate(y, mo, d, text, 'timestamp');
  const h = Number(m[4] ?? 0);
  const mi = Number(m[5] ?? 0);
  const sec = Number(m[6] ?? 0);
  if (h > 24 || mi > 59 || sec > 60) throw sqlError(S.DATETIME_OVERFLOW, `date/time field value out of range: "${text}"`);
  const us = BigInt(daysFromCivil(y, mo, d)) * DAY_US + BigInt(((h * 60 + mi) * 60 + sec) * 1_000_000 + fracMicros(m[7]));
  if (!tz) return us;
  // No explicit offset: the wall-clock time is in the session's TimeZone.
  if (m[8] === undefined) return localToUtc(us, currentTimeZone());
  return us - BigInt(zoneOffsetMinutes(m[8]) * 60_000_000);
}

export function parseTime(text: string): bigint {
  const m = TIME_RE.exec(text);
  if (!m) {
    const ts = TS_RE.exec(text);
    if (ts && ts[4] !== undefined) return parseTime(`${ts[4]}:${ts[5]}:${ts[6] ?? '00'}${ts[7] ? `.${ts[7]}` : ''}`);
    throw badSyntax('time without time zone', text);
  }
  const h = Number(m[1]);
  const mi = Number(m[2]);
  const s = Number(m[3] ?? 0);
  if (h > 24 || mi > 59 || s > 60) throw sqlError(S.DATETIME_OVERFLOW, `date/time field value out of range: "${text}"`);
  return BigInt(((h * 60 + mi) * 60 + s) * 1_000_000 + fracMicros(m[4]));
}

const UNIT: Readonly<Record<string, [number, number, number]>> = {
  // [months, days, seconds] per unit
  year: [12, 0, 0], years: [12, 0, 0], y: [12, 0, 0], yr: [12, 0, 0], yrs: [12, 0, 0],
  month: [1, 0, 0], months: [1, 0, 0], mon: [1, 0, 0], mons: [1, 0, 0],
  week: [0, 7, 0], weeks: [0, 7, 0], w: [0, 7, 0],
  day: [0, 1, 0], days: [0, 1, 0], d: [0, 1, 0],
  hour: [0, 0, 3600], hours: [0, 0, 3600], h: [0, 0, 3600], hr: [0, 0, 3600], hrs: [0, 0, 3600],
  minute: [0, 0, 60], minutes: [0, 0, 60], min: [0, 0, 60], mins: [0, 0, 60], m: [0, 0, 60],
  second: [0, 0, 1], seconds: [0, 0, 1], sec: [0, 0, 1], secs: [0, 0, 1], s: [0, 0, 1],
  millisecond: [0, 0, 0.001], milliseconds: [0, 0, 0.001], ms: [0, 0, 0.001],
  microsecond: [0, 0, 0.000001], microseconds: [0, 0, 0.000001], us: [0, 0, 0.000001],
};

export function parseInterval(text: string): Interval {
  let months = 0;
  let days = 0;
  let micros = 0n;
  const s = text.trim().toLowerCase().replace(/^@/, '');
  const ago = /\bago$/.test(s);
  const tokens = s.replace(/\bago$/, '').trim().split(/\s+/).filter((x) => x.length > 0);
  if (tokens.length === 0) throw badSyntax('interval', text);
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    const hms = /^([+-])?(\d+):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?$/.exec(tok);
    if (hms) {
      const sign = hms[1] === '-' ? -1n : 1n;
      micros += sign * BigInt(((Number(hms[2]) * 60 + Number(hms[3])) * 60 + Number(hms[4] ?? 0)) * 1_000_000 + fracMicros(hms[5]));
      continue;
    }
    const num = /^([+-]?\d+(?:\.\d+)?)([a-z]+)?$/.exec(tok);
    if (!num) throw badSyntax('interval', text);
    const unitName = num[2] ?? tokens[++i];
    const n = Number(num[1]);
    const unit = unitName === undefined ? UNIT.second : UNIT[unitName];
    if (!unit) throw badSyntax('interval', text);
    const m = n * unit[0];
    months += Math.trunc(m);
    const d = n * unit[1] + (m - Math.trunc(m)) * 30;
    days += Math.trunc(d);
    micros += BigInt(Math.round((n * unit[2] + (d - Math.trunc(d)) * 86400) * 1_000_000));
  }
  return ago ? { months: -months, days: -days, micros: -micros } : { months, days, micros };
}

/** The wire text of an interval: one formatter for the engine and pgwire (text and binary). */
export function formatInterval(iv: Interval): string {
  return formatIntervalParts(iv);
}

export const nowMicros = (): bigint => BigInt(Date.now() - EPOCH_MS) * 1000n;
export const DAY_MICROS = DAY_US;

export function addInterval(ts: bigint, iv: Interval, sign: 1 | -1): bigint {
  let us = ts;
  if (iv.months) {
    let days = us / DAY_US;
    let rem = us % DAY_US;
    if (rem < 0n) {
      rem += DAY_US;
      days -= 1n;
    }
    const c = civilFromDays(Number(days));
    const total = c.y * 12 + (c.m - 1) + sign * iv.months;
    const ny = Math.floor(total / 12);
    const nm = (total % 12) + 1;
    const lastDay = civilFromDays(daysFromCivil(ny, nm + 1, 1) - 1).d;
    us = BigInt(daysFromCivil(ny, nm, Math.min(c.d, lastDay))) * DAY_US + rem;
  }
  return us + BigInt(sign) * (BigInt(iv.days) * DAY_US + iv.micros);
}

/** Broken-down fields for extract()/date_part(). */
export function timestampFields(us: bigint): { y: number; m: number; d: number; h: number; mi: number; s: number; us: number; dow: number; doy: number } {
  let days = us / DAY_US;
  let rem = us % DAY_US;
  if (rem < 0n) {
    rem += DAY_US;
    days -= 1n;
  }
  const c = civilFromDays(Number(days));
  const r = Number(rem);
  const dow = (((Number(days) + 6) % 7) + 7) % 7; // 2000-01-01 was a Saturday (6)
  const doy = Number(days) - daysFromCivil(c.y, 1, 1) + 1;
  return { ...c, h: Math.floor(r / 3_600_000_000), mi: Math.floor(r / 60_000_000) % 60, s: Math.floor(r / 1_000_000) % 60, us: r % 1_000_000, dow, doy };
}

export function makeTimestamp(y: number, m: number, d: number): bigint {
  return BigInt(daysFromCivil(y, m, d)) * DAY_US;
}
