// Conversions between the engine's internal values, text, casts, comparison and the PgValue
// representation pgwire expects at the edge (see libs/pgwire/src/types.ts).
import type { PgValue } from '@weft/pgwire';
import { S, sqlError } from '../errors';
import { decApplyTypmod, decCmp, decFromBigint, decFromNumber, formatDec, parseDec, rescale } from './decimal';
import {
  DAY_MICROS, formatDate, formatInterval, formatTime, formatTimestamp, nowMicros, parseDate, parseInterval, parseTime, parseTimestamp,
} from './datetime';
import { compareEnum, enumFromText } from './enum';
import { currentTimeZone, localToUtc, offsetSeconds } from './timezone';
import { type Interval, type SqlType, type TypeKind, type Value, isIntKind, isPrecisionTimeKind, isStringKind, plain, t, typeDisplayName } from './types';

const INT_RE = /^\s*[+-]?\d+\s*$/;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UUID_RE = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

/** A timestamptz as wall-clock microseconds in the session TimeZone. */
export function toLocal(utc: bigint): bigint {
  const zone = currentTimeZone();
  return zone === 'UTC' ? utc : utc + BigInt(offsetSeconds(zone, utc)) * 1_000_000n;
}

export const isInterval = (v: Value): v is Interval => typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

export function checkInt(n: number | bigint, kind: TypeKind): number | bigint {
  if (kind === 'int8') {
    const b = typeof n === 'bigint' ? n : BigInt(n);
    if (b < INT64_MIN || b > INT64_MAX) throw sqlError(S.NUMERIC_OUT_OF_RANGE, 'bigint out of range');
    return b;
  }
  const v = Number(n);
  const lim = kind === 'int2' ? 32767 : kind === 'oid' || kind === 'regclass' || kind === 'regtype' || kind === 'regproc' ? 4294967295 : 2147483647;
  const low = kind === 'int2' ? -32768 : kind === 'oid' || kind === 'regclass' || kind === 'regtype' ? 0 : -2147483648;
  if (v > lim || v < low) throw sqlError(S.NUMERIC_OUT_OF_RANGE, `${kind === 'int2' ? 'smallint' : 'integer'} out of range`);
  return v;
}

function parseBool(s: string): boolean {
  const v = s.trim().toLowerCase();
  if (['t', 'true', 'y', 'yes', 'on', '1'].includes(v)) return true;
  if (['f', 'false', 'n', 'no', 'off', '0'].includes(v)) return false;
  throw sqlError(S.INVALID_TEXT_REPRESENTATION, `invalid input syntax for type boolean: "${s}"`);
}

function parseFloat8(s: string, name: string): number {
  const v = s.trim().toLowerCase();
  if (v === 'nan') return NaN;
  if (v === 'infinity' || v === '+infinity' || v === 'inf') return Infinity;
  if (v === '-infinity' || v === '-inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(v)) throw sqlError(S.INVALID_TEXT_REPRESENTATION, `invalid input syntax for type ${name}: "${s}"`);
  const n = Number(v);
  if (!Number.isFinite(n)) throw sqlError(S.NUMERIC_OUT_OF_RANGE, `"${s}" is out of range for type ${name}`);
  return name === 'real' ? Math.fround(n) : n;
}

function parseByteaText(s: string): Buffer {
  if (s.startsWith('\\x')) {
    const hex = s.slice(2);
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw sqlError(S.INVALID_TEXT_REPRESENTATION, `invalid hexadecimal data`);
    return Buffer.from(hex, 'hex');
  }
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') {
      if (s[i + 1] === '\\') {
        out.push(92);
        i++;
      } else if (/^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
        out.push(parseInt(s.slice(i + 1, i + 4), 8));
        i += 3;
      } else throw sqlError(S.INVALID_TEXT_REPRESENTATION, 'invalid input syntax for type bytea');
    } else out.push(...Buffer.from(s[i]));
  }
  return Buffer.from(out);
}

/** jsonb's canonical text: keys deduplicated (last wins) and ordered by length then bytes. */
export function canonicalJsonb(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJsonb).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
    a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0,
  );
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${canonicalJsonb(v)}`).join(', ')}}`;
}

export function parseJson(s: string, type: 'json' | 'jsonb'): string {
  try {
    const v: unknown = JSON.parse(s);
    return type === 'jsonb' ? canonicalJsonb(v) : s;
  } catch {
    throw sqlError(S.INVALID_JSON, `invalid input syntax for type ${type}`, { detail: `Token in "${s.slice(0, 40)}" is invalid.` });
  }
}

/** Parses a text literal into a value of `type` (input function). */
export function fromText(s: string, type: SqlType): Value {
  switch (type.kind) {
    case 'bool':
      return parseBool(s);
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
    case 'regproc': {
      if (!INT_RE.test(s)) {
        const name = type.kind === 'int2' ? 'smallint' : type.kind === 'int8' ? 'bigint' : type.kind === 'oid' ? 'oid' : 'integer';
        throw sqlError(S.INVALID_TEXT_REPRESENTATION, `invalid input syntax for type ${name}: "${s}"`);
      }
      return checkInt(BigInt(s.trim()), type.kind);
    }
    case 'numeric': {
      const v = s.trim().toLowerCase();
      if (v === 'nan') return 'NaN';
      return formatDec(decApplyTypmod(parseDec(s), type.typmod));
    }
    case 'float4':
      return parseFloat8(s, 'real');
    case 'float8':
      return parseFloat8(s, 'double precision');
    case 'varchar':
    case 'bpchar':
      return applyCharTypmod(s, type, false);
    case 'text':
    case 'name':
    case 'char':
    case 'unknown':
    case 'regclass':
    case 'regtype':
      return s;
    case 'bytea':
      return parseByteaText(s);
    case 'uuid': {
      const m = UUID_RE.exec(s.trim());
      if (!m) throw sqlError(S.INVALID_TEXT_REPRESENTATION, `invalid input syntax for type uuid: "${s}"`);
      return `${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}`.toLowerCase();
    }
    case 'date':
      return parseDate(s, nowMicros);
    case 'time':
      return parseTime(s);
    case 'timestamp':
      return parseTimestamp(s, false, nowMicros);
    case 'timestamptz':
      return parseTimestamp(s, true, nowMicros);
    case 'interval':
      return parseInterval(s);
    case 'json':
    case 'jsonb':
      return parseJson(s, type.kind);
    case 'enum':
      return enumFromText(s, type);
    case 'array':
      if (type.vector) return s.trim() === '' ? [] : s.trim().split(/\s+/).map((x) => fromText(x, type.elem ?? t('int2')));
      return parseArrayText(s, type.elem ?? t('text'));
    default:
      throw sqlError(S.FEATURE_NOT_SUPPORTED, `input of type ${typeDisplayName(type)} is not supported`);
  }
}

function applyCharTypmod(s: string, type: SqlType, explicit: boolean): string {
  if (type.typmod < 4) return s;
  const n = type.typmod - 4;
  const chars = [...s];
  if (chars.length > n) {
    if (explicit || chars.slice(n).every((c) => c === ' ')) return chars.slice(0, n).join('');
    throw sqlError(S.STRING_TOO_LONG, `value too long for type ${typeDisplayName(type)}`);
  }
  return type.kind === 'bpchar' ? s + ' '.repeat(n - chars.length) : s;
}

/** Arrays have one dimension in Weft (as pgwire's binary decoder also says). */
export const multidimensional = (): Error => sqlError(S.FEATURE_NOT_SUPPORTED, 'multidimensional arrays are not supported');

function parseArrayText(s: string, elem: SqlType): Value[] {
  const src = s.trim();
  if (!src.startsWith('{') || !src.endsWith('}')) throw sqlError(S.INVALID_TEXT_REPRESENTATION, `malformed array literal: "${s}"`);
  const out: Value[] = [];
  let i = 1;
  const end = src.length - 1;
  while (i < end) {
    while (src[i] === ' ') i++;
    let item = '';
    let quoted = false;
    if (src[i] === '"') {
      quoted = true;
      i++;
      while (i < end && src[i] !== '"') {
        if (src[i] === '\\') i++;
        item += src[i++];
      }
      i++;
    } else {
      // A sub-array ('{{1,2},{3,4}}'): refused rather than read as elements "{1" and "2}".
      if (src[i] === '{') throw multidimensional();
      while (i < end && src[i] !== ',') item += src[i++];
      item = item.trim();
    }
    out.push(!quoted && item.toUpperCase() === 'NULL' ? null : fromText(item, elem));
    while (src[i] === ' ') i++;
    if (src[i] === ',') i++;
  }
  return out;
}

const fmtFloat = (n: number, kind: TypeKind): string => {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Object.is(n, -0)) return '-0';
  const s = kind === 'float4' ? String(Number(n.toPrecision(9))).replace(/e\+?/, 'e+') : String(n);
  const v = kind === 'float4' ? Number(Math.fround(n).toPrecision(7)) === Math.fround(n) ? String(Number(Math.fround(n).toPrecision(7))) : s : s;
  return v.replace(/e\+?(-?)(\d+)$/, (_m, sign: string, d: string) => `e${sign || '+'}${d.padStart(2, '0')}`);
};

/** Output function: the text Postgres would print. */
export function toText(v: Value, type: SqlType): string {
  if (v === null) return '';
  switch (type.kind) {
    case 'bool':
      return v ? 't' : 'f';
    case 'float4':
    case 'float8':
      return fmtFloat(v as number, type.kind);
    case 'bytea':
      return `\\x${(v as Buffer).toString('hex')}`;
    case 'date':
      return formatDate(v as number);
    case 'time':
      return formatTime(v as bigint);
    case 'timestamp':
      return formatTimestamp(v as bigint, false);
    case 'timestamptz':
      return formatTimestamp(v as bigint, true);
    case 'interval':
      return formatInterval(v as Interval);
    case 'record':
      if (!Array.isArray(v)) return plain(v);
      return `(${(v as Value[]).map((e, i) => (e === null ? '' : recordFieldText(toText(e, type.fields?.[i]?.type ?? t('text'))))).join(',')})`;
    case 'array':
      if (type.vector) return (v as Value[]).map((e) => plain(e)).join(' ');
      return `{${(v as Value[]).map((e) => arrayElemText(e, type.elem ?? t('text'))).join(',')}}`;
    default:
      return plain(v);
  }
}

function recordFieldText(s: string): string {
  return s === '' || /[(),"\\\s]/.test(s) ? `"${s.replace(/(["\\])/g, '$1$1')}"` : s;
}

function arrayElemText(e: Value, elem: SqlType): string {
  if (e === null) return 'NULL';
  const s = toText(e, elem);
  return s === '' || /[{}",\\\s]/.test(s) || s.toUpperCase() === 'NULL' ? `"${s.replace(/(["\\])/g, '\\$1')}"` : s;
}

/** Converts an internal value to what pgwire encodes for `type`. */
export function toPg(v: Value, type: SqlType): PgValue {
  if (v === null) return null;
  switch (type.kind) {
    case 'bool':
    case 'int2':
    case 'int4':
    case 'oid':
    case 'float4':
    case 'float8':
    case 'int8':
    case 'bytea':
      return v as PgValue;
    case 'regclass':
    case 'regtype':
    case 'regproc':
      return plain(v);
    default:
      return toText(v, type);
  }
}

/** Converts a decoded Bind parameter (pgwire's PgValue) to the internal value of `type`. */
export function fromPg(v: PgValue, type: SqlType): Value {
  if (v === null) return null;
  if (typeof v === 'string') return fromText(v, type);
  if (typeof v === 'number') return type.kind === 'int8' ? BigInt(v) : type.kind === 'numeric' ? formatDec(decFromNumber(v)) : v;
  if (typeof v === 'bigint') return type.kind === 'int8' ? v : type.kind === 'numeric' ? v.toString() : Number(v);
  if (typeof v === 'boolean') return v;
  if (Buffer.isBuffer(v)) return type.kind === 'enum' || type.elem?.kind === 'enum' ? enumFromBinary(v, type) : v;
  if (v instanceof Date) return fromText(v.toISOString(), type);
  if (Array.isArray(v)) return fromPgArray(v, type);
  return JSON.stringify(v);
}

/**
 * A binary-format parameter of an enum (pgwire does not know the type, so it hands over the
 * bytes): an enum's binary form is its label; an array of them is array_send's layout with
 * label elements (one dimension).
 */
function enumFromBinary(b: Buffer, type: SqlType): Value {
  if (type.kind === 'enum') return fromText(b.toString('utf8'), type);
  const bad = (): Error => sqlError(S.INVALID_BINARY_REPRESENTATION, 'incorrect binary data format in array');
  if (b.length < 12) throw bad();
  const ndim = b.readInt32BE(0);
  if (ndim === 0) return [];
  if (ndim !== 1) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'multidimensional arrays are not supported', { hint: 'Pass a one-dimensional array.' });
  if (b.length < 20) throw bad();
  const n = b.readInt32BE(12);
  const out: Value[] = [];
  let at = 20;
  for (let i = 0; i < n; i++) {
    if (at + 4 > b.length) throw bad();
    const len = b.readInt32BE(at);
    at += 4;
    if (len === -1) {
      out.push(null);
      continue;
    }
    if (len < 0 || at + len > b.length) throw bad();
    out.push(fromText(b.toString('utf8', at, at + len), type.elem ?? type));
    at += len;
  }
  if (at !== b.length) throw bad();
  return out;
}

/** A binary-format array parameter, decoded by pgwire into its elements (nested per dimension). */
function fromPgArray(v: readonly unknown[], type: SqlType): Value {
  if (type.kind === 'json' || type.kind === 'jsonb') return JSON.stringify(v);
  if (type.kind !== 'array') throw sqlError(S.DATATYPE_MISMATCH, `an array value cannot be used as type ${typeDisplayName(type)}`);
  const elem = type.elem ?? t('text');
  return v.map((e): Value => {
    if (Array.isArray(e)) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'multidimensional arrays are not supported', { hint: 'Pass a one-dimensional array.' });
    return fromPg(e as PgValue, elem);
  });
}

function toNumber(v: Value, from: SqlType): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return from.kind === 'numeric' ? Number(v) : parseFloat8(v, 'double precision');
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw castError(from, t('float8'));
}

const castError = (from: SqlType, to: SqlType): Error =>
  sqlError(S.CANNOT_COERCE, `cannot cast type ${typeDisplayName(from)} to ${typeDisplayName(to)}`);

function roundHalfEven(n: number): number {
  const r = Math.round(n);
  return Math.abs(n % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** CAST(v AS to). `explicit` allows truncation for varchar/char as Postgres does. */
export function castValue(v: Value, from: SqlType, to: SqlType, explicit = true): Value {
  const out = castToKind(v, from, to, explicit);
  // time(p) / timestamp(p): round to p fractional digits, as PostgreSQL does on every
  // cast and assignment to the type (a column's stored value included).
  if (out !== null && to.typmod >= 0 && to.typmod < 6 && isPrecisionTimeKind(to.kind)) return roundMicros(out as bigint, to.typmod);
  return out;
}

/** Rounds microseconds to `p` fractional-second digits, halves away from zero (as PostgreSQL's AdjustTimestampForTypmod). */
function roundMicros(us: bigint, p: number): bigint {
  const unit = 10n ** BigInt(6 - p);
  const half = unit / 2n;
  const q = us >= 0n ? (us + half) / unit : -((-us + half) / unit);
  return q * unit;
}

function castToKind(v: Value, from: SqlType, to: SqlType, explicit: boolean): Value {
  if (v === null) return null;
  // Enums cast to and from the string types only, and never to another enum (as in PostgreSQL).
  if (from.kind === 'enum' || to.kind === 'enum') {
    if (from.kind === 'enum' && to.kind === 'enum') {
      if (from.enum?.typeId !== to.enum?.typeId) throw castError(from, to);
      return v;
    }
    if (!isStringKind(from.kind) && !isStringKind(to.kind)) throw castError(from, to);
  }
  if (from.kind === to.kind && to.kind !== 'varchar' && to.kind !== 'bpchar' && to.kind !== 'numeric' && to.kind !== 'array') return v;
  if (isStringKind(from.kind) && !isStringKind(to.kind)) return fromText(v as string, to);
  switch (to.kind) {
    case 'text':
    case 'name':
    case 'unknown':
      if (from.kind === 'bool') return v ? 'true' : 'false';
      return from.kind === 'bpchar' ? (v as string).replace(/ +$/, '') : toText(v, from);
    case 'char':
      return toText(v, from).slice(0, 1);
    case 'varchar':
    case 'bpchar':
      // boolean's cast to the string types is 'true'/'false' (its output function says 't'/'f').
      if (from.kind === 'bool') return applyCharTypmod(v ? 'true' : 'false', to, explicit);
      return applyCharTypmod(isStringKind(from.kind) ? (from.kind === 'bpchar' && to.kind === 'varchar' ? (v as string).replace(/ +$/, '') : (v as string)) : toText(v, from), to, explicit);
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
    case 'regclass':
    case 'regtype':
    case 'regproc': {
      if (typeof v === 'boolean') {
        if (to.kind !== 'int4') throw castError(from, to);
        return v ? 1 : 0;
      }
      if (typeof v === 'bigint') return checkInt(v, to.kind);
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw sqlError(S.NUMERIC_OUT_OF_RANGE, `${to.kind === 'int8' ? 'bigint' : 'integer'} out of range`);
        return checkInt(BigInt(roundHalfEven(v)), to.kind);
      }
      if (from.kind === 'numeric') {
        if (v === 'NaN') throw sqlError(S.FEATURE_NOT_SUPPORTED, 'cannot convert NaN to integer');
        return checkInt(rescale(parseDec(v as string), 0).u, to.kind);
      }
      throw castError(from, to);
    }
    case 'numeric': {
      if (v === 'NaN') return v;
      let d;
      if (typeof v === 'bigint') d = decFromBigint(v);
      else if (typeof v === 'number') d = isIntKind(from.kind) ? decFromBigint(BigInt(v)) : decFromNumber(v);
      else if (typeof v === 'string') d = parseDec(v);
      else throw castError(from, to);
      return formatDec(decApplyTypmod(d, to.typmod));
    }
    case 'float4':
      return Math.fround(toNumber(v, from));
    case 'float8':
      return toNumber(v, from);
    case 'bool':
      if (typeof v === 'number' && isIntKind(from.kind)) return v !== 0;
      throw castError(from, to);
    case 'date':
      if (from.kind === 'timestamp' || from.kind === 'timestamptz') {
        const us = from.kind === 'timestamptz' ? toLocal(v as bigint) : (v as bigint);
        return Number((us - (((us % DAY_MICROS) + DAY_MICROS) % DAY_MICROS)) / DAY_MICROS);
      }
      throw castError(from, to);
    case 'timestamp':
    case 'timestamptz': {
      // timestamp <-> timestamptz and date -> timestamptz go through the session TimeZone.
      const local = from.kind === 'date' ? BigInt(v as number) * DAY_MICROS : from.kind === 'timestamptz' ? toLocal(v as bigint) : from.kind === 'timestamp' ? (v as bigint) : undefined;
      if (local === undefined) throw castError(from, to);
      if (to.kind === 'timestamp') return local;
      return from.kind === 'timestamptz' ? v : localToUtc(local, currentTimeZone());
    }
    case 'time':
      if (from.kind === 'timestamp' || from.kind === 'timestamptz') {
        const us = from.kind === 'timestamptz' ? toLocal(v as bigint) : (v as bigint);
        return ((us % DAY_MICROS) + DAY_MICROS) % DAY_MICROS;
      }
      throw castError(from, to);
    case 'json':
    case 'jsonb':
      if (from.kind === 'json' || from.kind === 'jsonb') return to.kind === 'jsonb' ? parseJson(v as string, 'jsonb') : v;
      throw castError(from, to);
    case 'array':
      if (from.kind === 'array' && Array.isArray(v)) return (v as Value[]).map((e) => castValue(e, from.elem ?? t('text'), to.elem ?? t('text'), explicit));
      throw castError(from, to);
    default:
      throw castError(from, to);
  }
}

/** Total order used by ORDER BY, DISTINCT, GROUP BY and comparisons (NULLs handled by callers). */
export function compareValues(a: Value, b: Value, type: SqlType): number {
  if (a === null || b === null) return a === null ? (b === null ? 0 : 1) : -1;
  switch (type.kind) {
    case 'numeric': {
      if (a === 'NaN' || b === 'NaN') return a === b ? 0 : a === 'NaN' ? 1 : -1;
      return decCmp(parseDec(a as string), parseDec(b as string));
    }
    case 'float4':
    case 'float8': {
      const x = a as number;
      const y = b as number;
      if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'bytea':
      return Buffer.compare(a as Buffer, b as Buffer);
    case 'interval': {
      const x = a as Interval;
      const y = b as Interval;
      const f = (i: Interval): bigint => BigInt(i.months) * 30n * DAY_MICROS + BigInt(i.days) * DAY_MICROS + i.micros;
      const d = f(x) - f(y);
      return d < 0n ? -1 : d > 0n ? 1 : 0;
    }
    case 'array': {
      const x = a as Value[];
      const y = b as Value[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compareValues(x[i], y[i], type.elem ?? t('text'));
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    case 'bpchar': {
      const x = (a as string).replace(/ +$/, '');
      const y = (b as string).replace(/ +$/, '');
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'enum':
      return compareEnum(a as string, b as string, type);
    default:
      return a < b ? -1 : a > b ? 1 : 0;
  }
}

/** A string key for hashing (GROUP BY, DISTINCT, hash join); equal values give equal keys. */
export function hashKey(v: Value, type: SqlType): string {
  if (v === null) return '\u0000N';
  switch (type.kind) {
    case 'numeric':
      return v === 'NaN' ? 'NaN' : trimDec(formatDec(parseDec(v as string)));
    case 'bytea':
      return (v as Buffer).toString('hex');
    case 'bpchar':
      return (v as string).replace(/ +$/, '');
    case 'interval':
    case 'array':
      return toText(v, type);
    case 'int8':
      return plain(v);
    default:
      return typeof v === 'number' && Object.is(v, -0) ? '0' : plain(v);
  }
}

function trimDec(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}
