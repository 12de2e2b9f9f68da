// Date/time functions (session TimeZone is UTC).
import { S, sqlError } from '../errors';
import { currentTimeZone, localToUtc, normalizeTimeZone, offsetSeconds } from '../types/timezone';
import { toLocal } from '../types/values';
import { DAY_MICROS, addInterval, makeTimestamp, nowMicros, timestampFields } from '../types/datetime';
import { type Interval, type SqlType, type Value, isNumericKind, isStringKind, t } from '../types/types';
import { formatDec, divToScale, parseDec } from '../types/decimal';
import { fn, num, str } from './helpers';
import { register } from './registry';

/** Wall-clock microseconds of a date/timestamp/timestamptz (timestamptz in the session zone). */
const tsOf = (v: Value, type: SqlType): bigint => (type.kind === 'date' ? BigInt(v as number) * DAY_MICROS : type.kind === 'timestamptz' ? toLocal(v as bigint) : (v as bigint));

export function datePart(field: string, v: Value, type: SqlType): string {
  const f = field.toLowerCase();
  if (type.kind === 'interval') {
    const iv = v as Interval;
    const secs = Number(iv.micros) / 1e6;
    switch (f) {
      case 'year': case 'years': return String(Math.trunc(iv.months / 12));
      case 'month': case 'months': case 'mon': return String(iv.months % 12);
      case 'day': case 'days': return String(iv.days);
      case 'hour': case 'hours': return String(Math.trunc(secs / 3600));
      case 'minute': case 'minutes': return String(Math.trunc(secs / 60) % 60);
      case 'second': case 'seconds': return (secs % 60).toFixed(6);
      case 'epoch': return formatDec(divToScale(parseDec(String(BigInt(iv.months) * 2592000000000n + BigInt(iv.days) * DAY_MICROS + iv.micros)), parseDec('1000000'), 6));
      default: throw sqlError(S.FEATURE_NOT_SUPPORTED, `unit "${field}" not supported for type interval`);
    }
  }
  const us = type.kind === 'time' ? (v as bigint) : tsOf(v, type);
  const x = timestampFields(us);
  if (f === 'epoch' && type.kind === 'timestamptz') return formatDec(divToScale(parseDec(String((v as bigint) + 946_684_800_000_000n)), parseDec('1000000'), 6));
  if (f === 'timezone') return String(type.kind === 'timestamptz' ? offsetSeconds(currentTimeZone(), v as bigint) : 0);
  switch (f) {
    case 'year': case 'years': return String(x.y);
    case 'month': case 'months': case 'mon': return String(x.m);
    case 'day': case 'days': return String(x.d);
    case 'hour': case 'hours': return String(x.h);
    case 'minute': case 'minutes': return String(x.mi);
    case 'second': case 'seconds': return (x.s + x.us / 1e6).toFixed(6);
    case 'milliseconds': return ((x.s * 1e6 + x.us) / 1000).toFixed(3);
    case 'microseconds': return String(x.s * 1e6 + x.us);
    case 'dow': return String(x.dow);
    case 'isodow': return String(x.dow === 0 ? 7 : x.dow);
    case 'doy': return String(x.doy);
    case 'quarter': return String(Math.floor((x.m - 1) / 3) + 1);
    case 'week': {
      const d = new Date(Date.UTC(x.y, x.m - 1, x.d));
      const day = (d.getUTCDay() + 6) % 7;
      d.setUTCDate(d.getUTCDate() - day + 3);
      const firstThursday = new Date(Date.UTC(d.getUTCFullYear(), 0, 4));
      return String(1 + Math.round(((d.getTime() - firstThursday.getTime()) / 86400000 - 3 + ((firstThursday.getUTCDay() + 6) % 7)) / 7));
    }
    case 'decade': return String(Math.floor(x.y / 10));
    case 'century': return String(Math.ceil(x.y / 100));
    case 'epoch': return formatDec(divToScale(parseDec(String(us + 946_684_800_000_000n)), parseDec('1000000'), 6));
    default: throw sqlError(S.INVALID_PARAMETER_VALUE, `unit "${field}" not recognized for type ${type.kind}`);
  }
}


function dateTrunc(unit: string, us: bigint): bigint {
  const x = timestampFields(us);
  switch (unit.toLowerCase()) {
    case 'microseconds': return us;
    case 'milliseconds': return us - BigInt(x.us % 1000);
    case 'second': return us - BigInt(x.us);
    case 'minute': return us - BigInt(x.us + x.s * 1e6);
    case 'hour': return us - BigInt(x.us + x.s * 1e6) - BigInt(x.mi) * 60_000_000n;
    case 'day': return makeTimestamp(x.y, x.m, x.d);
    case 'week': return makeTimestamp(x.y, x.m, x.d) - BigInt((x.dow + 6) % 7) * DAY_MICROS;
    case 'month': return makeTimestamp(x.y, x.m, 1);
    case 'quarter': return makeTimestamp(x.y, Math.floor((x.m - 1) / 3) * 3 + 1, 1);
    case 'year': return makeTimestamp(x.y, 1, 1);
    case 'decade': return makeTimestamp(Math.floor(x.y / 10) * 10, 1, 1);
    case 'century': return makeTimestamp(Math.floor((x.y - 1) / 100) * 100 + 1, 1, 1);
    default: throw sqlError(S.INVALID_PARAMETER_VALUE, `unit "${unit}" not recognized for type timestamp`);
  }
}

/** age(): years/months/days between two timestamps, borrowing like Postgres. */
function age(a: bigint, b: bigint): Interval {
  const sign = a < b ? -1 : 1;
  const [hi, lo] = a < b ? [b, a] : [a, b];
  const x = timestampFields(hi);
  const y = timestampFields(lo);
  let micros = BigInt(((x.h - y.h) * 3600 + (x.mi - y.mi) * 60 + (x.s - y.s)) * 1_000_000 + (x.us - y.us));
  let days = x.d - y.d;
  let months = (x.y - y.y) * 12 + (x.m - y.m);
  if (micros < 0n) {
    micros += DAY_MICROS;
    days--;
  }
  if (days < 0) {
    // Borrow the length of the month before hi's month.
    const prevMonthDays = new Date(Date.UTC(x.y, x.m - 1, 0)).getUTCDate();
    days += Math.max(prevMonthDays, y.d);
    months--;
  }
  return { months: sign * months, days: sign * days, micros: BigInt(sign) * micros };
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function toCharTimestamp(us: bigint, fmt: string): string {
  return toCharFields(timestampFields(us), fmt);
}

/** to_char(interval): the interval's own fields (years, months, days, hours past 24 ...), as Postgres. */
function toCharInterval(iv: Interval, fmt: string): string {
  const sign = iv.micros < 0n ? -1n : 1n;
  const abs = iv.micros * sign;
  const part = (n: bigint): number => Number(n) * Number(sign);
  return toCharFields({
    ...timestampFields(0n),
    y: Math.trunc(iv.months / 12),
    m: iv.months % 12,
    d: iv.days,
    doy: iv.days,
    h: part(abs / 3_600_000_000n),
    mi: part((abs / 60_000_000n) % 60n),
    s: part((abs / 1_000_000n) % 60n),
    us: part(abs % 1_000_000n),
  }, fmt);
}

function toCharFields(x: ReturnType<typeof timestampFields>, fmt: string): string {
  const p = (n: number, w = 2): string => (n < 0 ? `-${String(-n).padStart(w, '0')}` : String(n).padStart(w, '0'));
  const tokens: [RegExp, () => string][] = [
    [/^YYYY/, () => p(x.y, 4)], [/^YY/, () => p(x.y % 100)], [/^MM/, () => p(x.m)], [/^DD/, () => p(x.d)], [/^DDD/, () => p(x.doy, 3)],
    [/^HH24/, () => p(x.h)], [/^HH12/, () => p(x.h % 12 || 12)], [/^HH/, () => p(x.h % 12 || 12)], [/^MI/, () => p(x.mi)], [/^SS/, () => p(x.s)],
    [/^MS/, () => p(Math.floor(x.us / 1000), 3)], [/^US/, () => p(x.us, 6)], [/^AM|^PM/, () => (x.h < 12 ? 'AM' : 'PM')],
    [/^Month/, () => MONTHS[x.m - 1].padEnd(9)], [/^Mon/, () => MONTHS[x.m - 1].slice(0, 3)], [/^MONTH/, () => MONTHS[x.m - 1].toUpperCase().padEnd(9)], [/^MON/, () => MONTHS[x.m - 1].slice(0, 3).toUpperCase()],
    [/^Day/, () => DAYS[x.dow].padEnd(9)], [/^Dy/, () => DAYS[x.dow].slice(0, 3)], [/^D/, () => String(x.dow + 1)], [/^Q/, () => String(Math.floor((x.m - 1) / 3) + 1)],
  ];
  let out = '';
  let i = 0;
  while (i < fmt.length) {
    if (fmt[i] === '"') {
      const j = fmt.indexOf('"', i + 1);
      out += fmt.slice(i + 1, j < 0 ? fmt.length : j);
      i = j < 0 ? fmt.length : j + 1;
      continue;
    }
    const rest = fmt.slice(i).replace(/^FM/, '');
    const fm = rest.length !== fmt.length - i;
    const hit = tokens.find(([re]) => re.test(rest));
    if (hit) {
      const m = hit[0].exec(rest) as RegExpExecArray;
      const v = hit[1]();
      out += fm ? v.replace(/^0+(?=\d)/, '').trimEnd() : v;
      i += m[0].length + (fm ? 2 : 0);
    } else out += fmt[i++];
  }
  return out;
}

function toCharNumber(v: Value, fmt: string): string {
  const f = fmt.replace(/^FM/, '');
  const dot = f.indexOf('.');
  const intDigits = (dot < 0 ? f : f.slice(0, dot)).replace(/[^90]/g, '').length;
  const fracDigits = dot < 0 ? 0 : f.slice(dot + 1).replace(/[^90]/g, '').length;
  const n = Number(v);
  const s = Math.abs(n).toFixed(fracDigits);
  const [ip, fp] = s.split('.');
  if (ip.length > intDigits) return `${' '.repeat(1)}${'#'.repeat(intDigits)}${fracDigits ? `.${'#'.repeat(fracDigits)}` : ''}`;
  const zeroPad = (dot < 0 ? f : f.slice(0, dot)).indexOf('0');
  const body = zeroPad >= 0 ? ip.padStart(intDigits - zeroPad, '0') : ip;
  const text = `${n < 0 ? '-' : ' '}${body}${fracDigits ? `.${fp}` : ''}`;
  const width = intDigits + (fracDigits ? fracDigits + 1 : 0) + 1;
  return fmt.startsWith('FM') ? text.trim() : text.padStart(width);
}

/** to_date/to_timestamp with the common YYYY MM DD HH24 MI SS fields. */
function parseWithFormat(s: string, fmt: string): bigint {
  const fields: Record<string, number> = { YYYY: 1970, MM: 1, DD: 1, HH24: 0, HH: 0, MI: 0, SS: 0 };
  let si = 0;
  let fi = 0;
  while (fi < fmt.length && si <= s.length) {
    const tok = ['YYYY', 'HH24', 'HH12', 'MM', 'DD', 'HH', 'MI', 'SS'].find((k) => fmt.startsWith(k, fi));
    if (tok) {
      const width = tok === 'YYYY' ? 4 : 2;
      const m = new RegExp(`^\\d{1,${width}}`).exec(s.slice(si));
      if (!m) throw sqlError(S.INVALID_DATETIME, `invalid value "${s.slice(si, si + width)}" for "${tok}"`);
      fields[tok === 'HH12' ? 'HH' : tok] = Number(m[0]);
      si += m[0].length;
      fi += tok.length;
    } else {
      fi++;
      si++;
    }
  }
  return makeTimestamp(fields.YYYY, fields.MM, fields.DD) + BigInt(((fields.HH24 || fields.HH) * 3600 + fields.MI * 60 + fields.SS) * 1_000_000);
}

/** A text parameter: a string type or an untyped literal. */
const textArg = (k: SqlType): boolean => isStringKind(k.kind);
const tsArg = (k: SqlType): boolean => k.kind === 'timestamp' || k.kind === 'timestamptz' || k.kind === 'date' || k.kind === 'unknown';

register(
  fn('now', [], 'timestamptz', (_a, _t, rt) => rt.txnStartUs),
  fn('transaction_timestamp', [], 'timestamptz', (_a, _t, rt) => rt.txnStartUs),
  fn('statement_timestamp', [], 'timestamptz', (_a, _t, rt) => rt.statementStartUs),
  fn('clock_timestamp', [], 'timestamptz', () => nowMicros()),
  fn('timeofday', [], 'text', () => new Date().toString()),
  {
    name: 'date_part',
    returns: (a) => (a.length === 2 && (tsArg(a[1]) || a[1].kind === 'interval' || a[1].kind === 'time') ? t('float8') : undefined),
    call: (a, types) => Number(datePart(str(a[0]), a[1], types[1].kind === 'unknown' ? t('timestamptz') : types[1])),
  },
  {
    name: 'extract',
    returns: (a) => (a.length === 2 && (tsArg(a[1]) || a[1].kind === 'interval' || a[1].kind === 'time') ? t('numeric') : undefined),
    call: (a, types) => (datePart(str(a[0]), a[1], types[1].kind === 'unknown' ? t('timestamptz') : types[1])),
  },
  {
    name: 'date_trunc',
    args: ['text', 'timestamptz'],
    returns: (a) => (a.length === 2 && textArg(a[0]) && tsArg(a[1]) ? (a[1].kind === 'timestamp' ? t('timestamp') : t('timestamptz')) : undefined),
    call: (a, types) => (types[1].kind === 'timestamptz' ? localToUtc(dateTrunc(str(a[0]), tsOf(a[1], types[1])), currentTimeZone()) : dateTrunc(str(a[0]), tsOf(a[1], types[1]))),
  },
  {
    name: 'age',
    args: ['timestamptz', 'timestamptz'],
    returns: (a) => (a.length === 2 && a.every((x) => tsArg(x)) ? t('interval') : a.length === 1 && tsArg(a[0]) ? t('interval') : undefined),
    call: (a, types, rt) => age(tsOf(a[0], types[0]), a.length > 1 ? tsOf(a[1], types[1]) : (rt.txnStartUs / DAY_MICROS) * DAY_MICROS),
  },
  fn('justify_hours', ['interval'], 'interval', (a) => {
    const iv = a[0] as Interval;
    return { months: iv.months, days: iv.days + Number(iv.micros / DAY_MICROS), micros: iv.micros % DAY_MICROS };
  }),
  fn('justify_interval', ['interval'], 'interval', (a) => {
    const iv = a[0] as Interval;
    const days = iv.days + Number(iv.micros / DAY_MICROS);
    return { months: iv.months + Math.trunc(days / 30), days: days % 30, micros: iv.micros % DAY_MICROS };
  }),
  {
    name: 'to_char',
    returns: (a) => (a.length === 2 && a[0].kind !== 'unknown' && textArg(a[1]) && (tsArg(a[0]) || a[0].kind === 'interval' || isNumericKind(a[0].kind)) ? t('text') : undefined),
    call: (a, types) => (isNumericKind(types[0].kind) ? toCharNumber(a[0], str(a[1])) : types[0].kind === 'interval' ? toCharInterval(a[0] as Interval, str(a[1])) : toCharTimestamp(tsOf(a[0], types[0]), str(a[1]))),
  },
  // x AT TIME ZONE z: timestamptz -> wall clock in z; timestamp -> the instant of that wall clock in z.
  {
    name: 'timezone',
    args: ['text', 'timestamptz'],
    returns: (a) => (a.length !== 2 || !textArg(a[0]) ? undefined : a[1].kind === 'timestamptz' || a[1].kind === 'unknown' ? t('timestamp') : a[1].kind === 'timestamp' ? t('timestamptz') : undefined),
    call: (a, types) => {
      const zone = normalizeTimeZone(str(a[0]));
      if (types[1].kind === 'timestamp') return localToUtc(a[1] as bigint, zone);
      return (a[1] as bigint) + BigInt(offsetSeconds(zone, a[1] as bigint)) * 1_000_000n;
    },
  },
  fn('to_date', ['str', 'str'], 'date', (a) => Number(parseWithFormat(str(a[0]), str(a[1])) / DAY_MICROS)),
  fn('to_timestamp', ['str', 'str'], 'timestamptz', (a) => parseWithFormat(str(a[0]), str(a[1]))),
  fn('to_timestamp', ['num'], 'timestamptz', (a) => BigInt(Math.round(num(a[0]) * 1e6)) - 946_684_800_000_000n),
  fn('make_date', ['int', 'int', 'int'], 'date', (a) => Number(makeTimestamp(num(a[0]), num(a[1]), num(a[2])) / DAY_MICROS)),
  fn('make_interval', ['int', 'int', 'int', 'int', 'int', 'int', 'num'], 'interval', (a) => ({
    months: num(a[0]) * 12 + num(a[1]),
    days: num(a[2]) * 7 + num(a[3]),
    micros: BigInt(Math.round(((num(a[4]) * 60 + num(a[5])) * 60 + num(a[6])) * 1e6)),
  })),
  fn('justify_days', ['interval'], 'interval', (a) => {
    const iv = a[0] as Interval;
    return { months: iv.months + Math.trunc(iv.days / 30), days: iv.days % 30, micros: iv.micros };
  }),
  fn('isfinite', ['timestamptz'], 'bool', (a) => (a[0] as bigint) !== (1n << 63n) - 1n && (a[0] as bigint) !== -(1n << 63n)),
);

export { addInterval };
