// Date/time functions (session TimeZone is UTC).
import { S, sqlError } from '../errors';
import { DAY_MICROS, addInterval, makeTimestamp, nowMicros, timestampFields } from '../types/datetime';
import { type Interval, type SqlType, type Value, t } from '../types/types';
import { formatDec, divToScale, parseDec } from '../types/decimal';
import { fn, num, str } from './helpers';
import { register } from './registry';

const tsOf = (v: Value, type: SqlType): bigint => (type.kind === 'date' ? BigInt(v as number) * DAY_MICROS : (v as bigint));

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

function trimEpochScale(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
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
    call: (a, types) => trimEpochScale(datePart(str(a[0]), a[1], types[1].kind === 'unknown' ? t('timestamptz') : types[1])),
  },
  {
    name: 'date_trunc',
    returns: (a) => (a.length === 2 && tsArg(a[1]) ? (a[1].kind === 'timestamp' ? t('timestamp') : t('timestamptz')) : undefined),
    call: (a, types) => dateTrunc(str(a[0]), tsOf(a[1], types[1])),
  },
  fn('age', ['timestamptz', 'timestamptz'], 'interval', (a) => ({ months: 0, days: Number(((a[0] as bigint) - (a[1] as bigint)) / DAY_MICROS), micros: ((a[0] as bigint) - (a[1] as bigint)) % DAY_MICROS })),
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
