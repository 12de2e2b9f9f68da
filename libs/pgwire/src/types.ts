/**
 * Postgres type OIDs and the text/binary wire formats of the common types.
 *
 * Value conventions at the handler boundary (what decode produces, what encode accepts):
 *   bool -> boolean; int2/int4/oid/float4/float8 -> number; int8 -> bigint;
 *   numeric -> string (exact decimal text, 'NaN', 'Infinity'); text/varchar/bpchar/name -> string;
 *   bytea -> Buffer; uuid -> lowercase canonical string; json/jsonb -> JSON text string;
 *   date, time, timestamp, timestamptz, interval -> string in ISO output form (binary input is
 *   converted to that form; text input is passed through for the SQL layer's datetime parser).
 * Encoders additionally accept a string for any type (written verbatim in text format, parsed
 * then re-encoded in binary), Date for date/timestamp(tz), number/bigint for numeric, and
 * objects for json/jsonb (JSON.stringify).
 */
import { arrayCodec } from './array-codec';
import { BufferWriter } from './buffer-writer';
import { PgError, SqlState } from './errors';

export const Oid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

export type PgValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Date
  | { readonly [key: string]: unknown }
  | readonly unknown[];

export interface TypeCodec {
  readonly oid: number;
  readonly name: string;
  /** pg_type.typlen: fixed byte size, -1 for varlena. */
  readonly size: number;
  /** Canonical text output. */
  toText(v: Exclude<PgValue, null>): string;
  /** Write the binary representation (no length word). */
  writeBinary(w: BufferWriter, v: Exclude<PgValue, null>): void;
  fromText(s: string): Exclude<PgValue, null>;
  fromBinary(b: Buffer): Exclude<PgValue, null>;
}

const invalidText = (type: string, s: string): PgError =>
  new PgError(SqlState.INVALID_TEXT_REPRESENTATION, `invalid input syntax for type ${type}: "${s}"`);
const outOfRange = (type: string, s: string): PgError =>
  new PgError(SqlState.NUMERIC_VALUE_OUT_OF_RANGE, `value "${s}" is out of range for type ${type}`);
const badBinary = (type: string): PgError =>
  new PgError(SqlState.INVALID_BINARY_REPRESENTATION, `incorrect binary data format for type ${type}`);
const badValue = (type: string, v: unknown): PgError =>
  new PgError(SqlState.INTERNAL_ERROR, `cannot encode JavaScript ${typeof v} as ${type}`);

function fixedLen(b: Buffer, n: number, type: string): void {
  if (b.length !== n) throw badBinary(type);
}

// ---------------------------------------------------------------------------------------------
// bool

const TRUE_WORDS = new Set(['t', 'true', 'y', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'false', 'n', 'no', 'off', '0']);

const boolCodec: TypeCodec = {
  oid: Oid.bool,
  name: 'boolean',
  size: 1,
  toText: (v) => (toBool(v) ? 't' : 'f'),
  writeBinary: (w, v) => void w.int8(toBool(v) ? 1 : 0),
  fromText(s) {
    const t = s.trim().toLowerCase();
    if (TRUE_WORDS.has(t)) return true;
    if (FALSE_WORDS.has(t)) return false;
    throw invalidText('boolean', s);
  },
  fromBinary(b) {
    fixedLen(b, 1, 'boolean');
    return b[0] !== 0;
  },
};

function toBool(v: Exclude<PgValue, null>): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return boolCodec.fromText(v) as boolean;
  if (typeof v === 'number' || typeof v === 'bigint') return v !== 0 && v !== 0n;
  throw badValue('boolean', v);
}

// ---------------------------------------------------------------------------------------------
// integers

const INT_RE = /^\s*[+-]?\d+\s*$/;

function intCodec(oid: number, name: string, size: 2 | 4, min: number, max: number, unsigned = false): TypeCodec {
  const parse = (s: string): number => {
    if (!INT_RE.test(s)) throw invalidText(name, s);
    const n = Number(s);
    if (n < min || n > max) throw outOfRange(name, s);
    return n;
  };
  const toNum = (v: Exclude<PgValue, null>): number => {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'string') return parse(v);
    if (typeof v === 'boolean') return v ? 1 : 0;
    throw badValue(name, v);
  };
  return {
    oid,
    name,
    size,
    toText: (v) => (typeof v === 'number' ? String(v) : String(toNum(v))),
    writeBinary(w, v) {
      const n = toNum(v);
      if (size === 2) w.int16(n);
      else if (unsigned) w.uint32(n);
      else w.int32(n);
    },
    fromText: parse,
    fromBinary(b) {
      fixedLen(b, size, name);
      if (size === 2) return b.readInt16BE(0);
      return unsigned ? b.readUInt32BE(0) : b.readInt32BE(0);
    },
  };
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

const int8Codec: TypeCodec = {
  oid: Oid.int8,
  name: 'bigint',
  size: 8,
  toText: (v) => (typeof v === 'bigint' || typeof v === 'number' ? String(v) : String(toInt8(v))),
  writeBinary: (w, v) => void w.int64(toInt8(v)),
  fromText(s) {
    if (!INT_RE.test(s)) throw invalidText('bigint', s);
    const n = BigInt(s.trim());
    if (n < INT8_MIN || n > INT8_MAX) throw outOfRange('bigint', s);
    return n;
  },
  fromBinary(b) {
    fixedLen(b, 8, 'bigint');
    return b.readBigInt64BE(0);
  },
};

function toInt8(v: Exclude<PgValue, null>): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string') return int8Codec.fromText(v) as bigint;
  throw badValue('bigint', v);
}

// ---------------------------------------------------------------------------------------------
// floats: output follows Postgres 12+ (shortest exact digits, exponent when exp < -4 or >= precision)

function formatFloat(n: number, digitsOf: (n: number) => string, expThreshold: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const e = digitsOf(n); // "d.ddde[+-]x"
  const [mant, expStr] = e.split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= expThreshold) {
    const abs = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
  }
  return String(Number(e));
}

function float4Digits(n: number): string {
  const f = Math.fround(n);
  for (let p = 1; p <= 9; p++) {
    const s = f.toExponential(p - 1);
    if (Math.fround(Number(s)) === f) return s;
  }
  return f.toExponential(8);
}

function floatCodec(oid: number, name: string, size: 4 | 8): TypeCodec {
  const toNum = (v: Exclude<PgValue, null>): number => {
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'string') return parse(v);
    throw badValue(name, v);
  };
  const parse = (s: string): number => {
    const t = s.trim().toLowerCase();
    if (t === 'nan') return NaN;
    if (t === 'infinity' || t === 'inf' || t === '+infinity' || t === '+inf') return Infinity;
    if (t === '-infinity' || t === '-inf') return -Infinity;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) throw invalidText(name, s);
    const n = Number(t);
    if (!Number.isFinite(n) || (size === 4 && !Number.isFinite(Math.fround(n)))) throw outOfRange(name, s);
    return n;
  };
  return {
    oid,
    name,
    size,
    toText: (v) =>
      size === 8
        ? formatFloat(toNum(v), (n) => n.toExponential(), 15)
        : formatFloat(Math.fround(toNum(v)), float4Digits, 6),
    writeBinary: (w, v) => void (size === 8 ? w.float64(toNum(v)) : w.float32(toNum(v))),
    fromText: parse,
    fromBinary(b) {
      fixedLen(b, size, name);
      return size === 8 ? b.readDoubleBE(0) : b.readFloatBE(0);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// numeric: decimal text <-> base-10000 digits

const NUMERIC_RE = /^\s*([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?\s*$/;
const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;

/** Normalize numeric input text to plain decimal notation (no exponent). */
export function normalizeNumeric(s: string): string {
  const t = s.trim().toLowerCase();
  if (t === 'nan') return 'NaN';
  if (t === 'infinity' || t === '+infinity' || t === 'inf') return 'Infinity';
  if (t === '-infinity' || t === '-inf') return '-Infinity';
  const m = NUMERIC_RE.exec(s);
  if (!m) throw invalidText('numeric', s);
  const sign = m[1] === '-' ? '-' : '';
  let [int, frac = ''] = m[2].split('.');
  const exp = m[3] ? Number(m[3]) : 0;
  if (Math.abs(exp) > 100000) throw outOfRange('numeric', s);
  if (exp > 0) {
    const move = Math.min(exp, frac.length);
    int += frac.slice(0, move) + '0'.repeat(exp - move);
    frac = frac.slice(move);
  } else if (exp < 0) {
    const move = Math.min(-exp, int.length);
    frac = '0'.repeat(-exp - move) + int.slice(int.length - move) + frac;
    int = int.slice(0, int.length - move);
  }
  int = int.replace(/^0+/, '') || '0';
  const out = frac.length > 0 ? `${int}.${frac}` : int;
  return /^[0.]*$/.test(out) ? out : sign + out;
}

function writeNumericBinary(w: BufferWriter, text: string): void {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') {
    const sign = text === 'NaN' ? NUMERIC_NAN : text === 'Infinity' ? NUMERIC_PINF : NUMERIC_NINF;
    w.int16(0).int16(0).uint16(sign).int16(0);
    return;
  }
  const neg = text.startsWith('-');
  const [intPart, fracPart = ''] = (neg ? text.slice(1) : text).split('.');
  const dscale = fracPart.length;
  // Pad the integer part on the left and the fraction on the right to whole base-10000 groups.
  const intPadded = intPart.padStart(Math.ceil(intPart.length / 4) * 4, '0');
  const fracPadded = fracPart.padEnd(Math.ceil(fracPart.length / 4) * 4, '0');
  const groups: number[] = [];
  for (let i = 0; i < intPadded.length; i += 4) groups.push(Number(intPadded.slice(i, i + 4)));
  const intGroups = groups.length;
  for (let i = 0; i < fracPadded.length; i += 4) groups.push(Number(fracPadded.slice(i, i + 4)));
  let weight = intGroups - 1;
  let start = 0;
  while (start < groups.length && groups[start] === 0) {
    start++;
    weight--;
  }
  let stop = groups.length;
  while (stop > start && groups[stop - 1] === 0) stop--;
  const digits = groups.slice(start, stop);
  if (digits.length === 0) weight = 0;
  w.int16(digits.length).int16(weight).uint16(neg && digits.length > 0 ? NUMERIC_NEG : NUMERIC_POS).int16(dscale);
  for (const d of digits) w.int16(d);
}

function readNumericBinary(b: Buffer): string {
  if (b.length < 8) throw badBinary('numeric');
  const ndigits = b.readInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readInt16BE(6);
  if (ndigits < 0 || b.length !== 8 + ndigits * 2 || dscale < 0) throw badBinary('numeric');
  if (sign === NUMERIC_NAN) return 'NaN';
  if (sign === NUMERIC_PINF) return 'Infinity';
  if (sign === NUMERIC_NINF) return '-Infinity';
  if (sign !== NUMERIC_POS && sign !== NUMERIC_NEG) throw badBinary('numeric');
  let int = '';
  let frac = '';
  for (let i = 0; i < ndigits; i++) {
    const d = b.readInt16BE(8 + i * 2);
    if (d < 0 || d > 9999) throw badBinary('numeric');
    const g = String(d).padStart(4, '0');
    if (weight - i >= 0) int += g;
    else frac += g;
  }
  // Groups between the last digit and the decimal point (weight beyond ndigits) are zeros.
  if (weight >= ndigits) int += '0000'.repeat(weight - ndigits + 1);
  if (weight < -1) frac = '0000'.repeat(-weight - 1) + frac;
  int = int.replace(/^0+/, '') || '0';
  frac = frac.padEnd(dscale, '0').slice(0, dscale);
  const abs = dscale > 0 ? `${int}.${frac}` : int;
  return sign === NUMERIC_NEG && /[1-9]/.test(abs) ? `-${abs}` : abs;
}

function toNumericText(v: Exclude<PgValue, null>): string {
  if (typeof v === 'string') return normalizeNumeric(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return normalizeNumeric(String(v));
  }
  throw badValue('numeric', v);
}

const numericCodec: TypeCodec = {
  oid: Oid.numeric,
  name: 'numeric',
  size: -1,
  toText: (v) => (typeof v === 'string' ? v : toNumericText(v)),
  writeBinary: (w, v) => writeNumericBinary(w, toNumericText(v)),
  fromText: (s) => normalizeNumeric(s),
  fromBinary: readNumericBinary,
};

// ---------------------------------------------------------------------------------------------
// text-like

function textCodec(oid: number, name: string, size = -1): TypeCodec {
  const toStr = (v: Exclude<PgValue, null>): string => {
    if (typeof v === 'string') return v;
    if (Buffer.isBuffer(v)) return v.toString('utf8');
    if (v instanceof Date) return v.toISOString();
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  };
  return {
    oid,
    name,
    size,
    toText: toStr,
    writeBinary: (w, v) => void w.string(toStr(v)),
    fromText: (s) => s,
    fromBinary(b) {
      return decodeUtf8Strict(b, name);
    },
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8Strict(b: Buffer, type: string): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new PgError(SqlState.CHARACTER_NOT_IN_REPERTOIRE, `invalid byte sequence for encoding "UTF8" in ${type} value`);
  }
}

const jsonText = (v: Exclude<PgValue, null>): string => (typeof v === 'string' ? v : JSON.stringify(v));

function validateJson(s: string, type: string): string {
  try {
    JSON.parse(s);
  } catch {
    throw invalidText(type, s.length > 100 ? s.slice(0, 100) + '...' : s);
  }
  return s;
}

const jsonCodec: TypeCodec = {
  oid: Oid.json,
  name: 'json',
  size: -1,
  toText: jsonText,
  writeBinary: (w, v) => void w.string(jsonText(v)),
  fromText: (s) => validateJson(s, 'json'),
  fromBinary: (b) => validateJson(decodeUtf8Strict(b, 'json'), 'json'),
};

const jsonbCodec: TypeCodec = {
  oid: Oid.jsonb,
  name: 'jsonb',
  size: -1,
  toText: jsonText,
  // jsonb binary = version byte 1 + the JSON text.
  writeBinary: (w, v) => void w.int8(1).string(jsonText(v)),
  fromText: (s) => validateJson(s, 'json'),
  fromBinary(b) {
    if (b.length < 1 || b[0] !== 1) throw new PgError(SqlState.INVALID_BINARY_REPRESENTATION, 'unsupported jsonb version number');
    return validateJson(decodeUtf8Strict(b.subarray(1), 'jsonb'), 'json');
  },
};

// ---------------------------------------------------------------------------------------------
// bytea: hex output (bytea_output = hex), hex or escape input

function toBytes(v: Exclude<PgValue, null>): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return parseBytea(v);
  if (v instanceof Uint8Array) return Buffer.from(v);
  throw badValue('bytea', v);
}

function parseBytea(s: string): Buffer {
  if (s.startsWith('\\x')) {
    const hex = s.slice(2).replace(/\s+/g, '');
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw invalidText('bytea', s);
    return Buffer.from(hex, 'hex');
  }
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x5c) {
      if (c > 0x7f) {
        for (const byte of Buffer.from(s[i], 'utf8')) out.push(byte);
      } else out.push(c);
      continue;
    }
    if (s[i + 1] === '\\') {
      out.push(0x5c);
      i++;
    } else if (/^[0-3][0-7][0-7]$/.test(s.slice(i + 1, i + 4))) {
      out.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      throw invalidText('bytea', s);
    }
  }
  return Buffer.from(out);
}

const byteaCodec: TypeCodec = {
  oid: Oid.bytea,
  name: 'bytea',
  size: -1,
  toText: (v) => '\\x' + toBytes(v).toString('hex'),
  writeBinary: (w, v) => void w.bytes(toBytes(v)),
  fromText: parseBytea,
  fromBinary: (b) => Buffer.from(b),
};

// ---------------------------------------------------------------------------------------------
// uuid

const UUID_RE = /^\{?([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})\}?$/i;

function parseUuid(s: string): string {
  const m = UUID_RE.exec(s.trim());
  if (!m) throw invalidText('uuid', s);
  return `${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}`.toLowerCase();
}

const uuidCodec: TypeCodec = {
  oid: Oid.uuid,
  name: 'uuid',
  size: 16,
  toText: (v) => uuidText(v),
  writeBinary(w, v) {
    if (Buffer.isBuffer(v) && v.length === 16) w.bytes(v);
    else w.bytes(Buffer.from(uuidText(v).replace(/-/g, ''), 'hex'));
  },
  fromText: parseUuid,
  fromBinary(b) {
    fixedLen(b, 16, 'uuid');
    return formatUuid(b);
  },
};

function uuidText(v: Exclude<PgValue, null>): string {
  if (typeof v === 'string') return parseUuid(v);
  if (Buffer.isBuffer(v) && v.length === 16) return formatUuid(v);
  throw badValue('uuid', v);
}

function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---------------------------------------------------------------------------------------------
// date / timestamp: binary is days / microseconds since 2000-01-01 (UTC for timestamptz)

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const DAY_MS = 86_400_000;
const PG_EPOCH_US = BigInt(PG_EPOCH_MS) * 1000n;
const INT32_MAX = 2147483647;
const INT32_MIN = -2147483648;

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** Year with BC suffix as Postgres prints it (year 0 in JS = 1 BC). */
function ymd(d: Date): string {
  const y = d.getUTCFullYear();
  const body = `${pad(y > 0 ? y : 1 - y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
  return body;
}

function bc(d: Date): string {
  return d.getUTCFullYear() <= 0 ? ' BC' : '';
}

function formatDateDays(days: number): string {
  if (days === INT32_MAX) return 'infinity';
  if (days === INT32_MIN) return '-infinity';
  const d = new Date(PG_EPOCH_MS + days * DAY_MS);
  if (Number.isNaN(d.getTime())) throw new PgError(SqlState.DATETIME_FIELD_OVERFLOW, 'date out of range');
  return ymd(d) + bc(d);
}

function formatTimestampMicros(us: bigint, withTz: boolean): string {
  if (us === INT8_MAX) return 'infinity';
  if (us === INT8_MIN) return '-infinity';
  const unixUs = us + PG_EPOCH_US;
  let ms = unixUs / 1000n;
  let frac = unixUs % 1000000n;
  if (frac < 0n) frac += 1000000n;
  if (unixUs < 0n && unixUs % 1000n !== 0n) ms -= 1n; // floor division for pre-1970 instants
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) throw new PgError(SqlState.DATETIME_FIELD_OVERFLOW, 'timestamp out of range');
  let s = `${ymd(d)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
  if (frac !== 0n) s += '.' + frac.toString().padStart(6, '0').replace(/0+$/, '');
  if (withTz) s += '+00';
  return s + bc(d);
}

const DATE_RE = /^\s*(\d{4,})-(\d{1,2})-(\d{1,2})(\s+BC)?\s*$/i;
const TS_RE =
  /^\s*(\d{4,})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?(\s+BC)?\s*$/i;

function utcDays(y: number, m: number, d: number, isBc: boolean, type: string, s: string): number {
  const year = isBc ? 1 - y : y;
  const dt = new Date(0);
  dt.setUTCFullYear(year, m - 1, d);
  if (dt.getUTCMonth() !== m - 1 || dt.getUTCDate() !== d) {
    throw new PgError(SqlState.DATETIME_FIELD_OVERFLOW, `date/time field value out of range: "${s}"`);
  }
  void type;
  return Math.round((dt.getTime() - PG_EPOCH_MS) / DAY_MS);
}

/** ISO date text -> days since 2000-01-01 (only the ISO forms; other syntax is the SQL layer's). */
function dateTextToDays(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'infinity') return INT32_MAX;
  if (t === '-infinity') return INT32_MIN;
  const m = DATE_RE.exec(s);
  if (!m) throw new PgError(SqlState.INVALID_DATETIME_FORMAT, `invalid input syntax for type date: "${s}"`);
  return utcDays(Number(m[1]), Number(m[2]), Number(m[3]), !!m[4], 'date', s);
}

/** ISO timestamp text -> microseconds since 2000-01-01 UTC. */
function timestampTextToMicros(s: string, withTz: boolean): bigint {
  const t = s.trim().toLowerCase();
  if (t === 'infinity') return INT8_MAX;
  if (t === '-infinity') return INT8_MIN;
  const m = TS_RE.exec(s);
  const type = withTz ? 'timestamp with time zone' : 'timestamp without time zone';
  if (!m) throw new PgError(SqlState.INVALID_DATETIME_FORMAT, `invalid input syntax for type ${type}: "${s}"`);
  const days = utcDays(Number(m[1]), Number(m[2]), Number(m[3]), !!m[9], type, s);
  const h = Number(m[4] ?? 0);
  const mi = Number(m[5] ?? 0);
  const sec = Number(m[6] ?? 0);
  if (h > 24 || mi > 59 || sec > 60) {
    throw new PgError(SqlState.DATETIME_FIELD_OVERFLOW, `date/time field value out of range: "${s}"`);
  }
  const frac = BigInt((m[7] ?? '').padEnd(6, '0') || '0');
  let us = BigInt(days) * 86_400_000_000n + BigInt(h * 3600 + mi * 60 + sec) * 1_000_000n + frac;
  // A zone only shifts timestamptz; timestamp (without time zone) ignores it, as Postgres does.
  if (withTz && m[8] && m[8].toUpperCase() !== 'Z') {
    const z = m[8];
    const sign = z[0] === '-' ? -1 : 1;
    const digits = z.slice(1).replace(':', '');
    const offMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
    us -= BigInt(sign * offMin) * 60_000_000n;
  }
  return us;
}

function dateCodec(): TypeCodec {
  const toDays = (v: Exclude<PgValue, null>): number => {
    if (typeof v === 'string') return dateTextToDays(v);
    if (v instanceof Date) return Math.floor((v.getTime() - PG_EPOCH_MS) / DAY_MS);
    throw badValue('date', v);
  };
  return {
    oid: Oid.date,
    name: 'date',
    size: 4,
    toText: (v) => (typeof v === 'string' ? v : formatDateDays(toDays(v))),
    writeBinary: (w, v) => void w.int32(toDays(v)),
    fromText: (s) => s,
    fromBinary(b) {
      fixedLen(b, 4, 'date');
      return formatDateDays(b.readInt32BE(0));
    },
  };
}

function timestampCodec(withTz: boolean): TypeCodec {
  const name = withTz ? 'timestamp with time zone' : 'timestamp without time zone';
  const toMicros = (v: Exclude<PgValue, null>): bigint => {
    if (typeof v === 'string') return timestampTextToMicros(v, withTz);
    if (v instanceof Date) return (BigInt(v.getTime()) - BigInt(PG_EPOCH_MS)) * 1000n;
    if (typeof v === 'bigint') return v; // already microseconds since 2000-01-01
    throw badValue(name, v);
  };
  return {
    oid: withTz ? Oid.timestamptz : Oid.timestamp,
    name,
    size: 8,
    toText: (v) => (typeof v === 'string' ? v : formatTimestampMicros(toMicros(v), withTz)),
    writeBinary: (w, v) => void w.int64(toMicros(v)),
    fromText: (s) => s,
    fromBinary(b) {
      fixedLen(b, 8, name);
      return formatTimestampMicros(b.readBigInt64BE(0), withTz);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// time and interval: binary is int64 microseconds (of the day / of the interval's time part),
// interval adds int32 days and int32 months. Text is PostgreSQL's output (IntervalStyle
// postgres): what the SQL layer hands over, parsed here to write binary.

const TIME_RE = /^\s*([+-])?(\d+):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,6})\d*)?)?\s*$/;

function clockMicros(sign: string | undefined, h: string, m: string, s: string | undefined, frac: string | undefined): bigint {
  const us = ((BigInt(h) * 60n + BigInt(m)) * 60n + BigInt(s ?? '0')) * 1_000_000n + BigInt((frac ?? '').padEnd(6, '0') || '0');
  return sign === '-' ? -us : us;
}

function formatClock(us: bigint): string {
  const neg = us < 0n;
  const a = neg ? -us : us;
  const secs = a / 1_000_000n;
  const frac = a % 1_000_000n;
  const hms = `${pad(Number(secs / 3600n), 2)}:${pad(Number((secs / 60n) % 60n), 2)}:${pad(Number(secs % 60n), 2)}`;
  return `${neg ? '-' : ''}${hms}${frac ? '.' + frac.toString().padStart(6, '0').replace(/0+$/, '') : ''}`;
}

const timeCodec: TypeCodec = {
  oid: Oid.time,
  name: 'time without time zone',
  size: 8,
  toText: (v) => (typeof v === 'string' ? v : formatClock(toTimeMicros(v))),
  writeBinary: (w, v) => void w.int64(toTimeMicros(v)),
  fromText: (s) => s,
  fromBinary(b) {
    fixedLen(b, 8, 'time without time zone');
    return formatClock(b.readBigInt64BE(0));
  },
};

function toTimeMicros(v: Exclude<PgValue, null>): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string') {
    const m = TIME_RE.exec(v);
    if (!m || m[1]) throw invalidText('time without time zone', v);
    return clockMicros(undefined, m[2], m[3], m[4], m[5]);
  }
  throw badValue('time without time zone', v);
}

export interface IntervalParts {
  months: number;
  days: number;
  micros: bigint;
}

/** Reads PostgreSQL's interval output ("1 year 2 mons -3 days +04:05:06.5", "00:00:00"). */
function parseIntervalOutput(s: string): IntervalParts {
  const out: IntervalParts = { months: 0, days: 0, micros: 0n };
  let rest = s.trim();
  for (;;) {
    const m = /^([+-]?\d+)\s+(years?|mons?|days?)\b\s*/.exec(rest);
    if (!m) break;
    const n = Number(m[1]);
    if (m[2].startsWith('year')) out.months += n * 12;
    else if (m[2].startsWith('mon')) out.months += n;
    else out.days += n;
    rest = rest.slice(m[0].length);
  }
  if (rest !== '') {
    const t = TIME_RE.exec(rest);
    if (!t) throw invalidText('interval', s);
    out.micros = clockMicros(t[1], t[2], t[3], t[4], t[5]);
  }
  return out;
}

/** PostgreSQL's text output of an interval (IntervalStyle postgres). */
export function formatIntervalParts(iv: IntervalParts): string {
  const parts: string[] = [];
  const y = Math.trunc(iv.months / 12);
  const mo = iv.months % 12;
  // As PostgreSQL: after a negative field, positive ones carry a '+'; only exactly 1 is singular.
  let before = false;
  const field = (n: number, unit: string): void => {
    parts.push(`${before && n > 0 ? '+' : ''}${n} ${unit}${n === 1 ? '' : 's'}`);
    before = before || n < 0;
  };
  if (y) field(y, 'year');
  if (mo) field(mo, 'mon');
  if (iv.days) field(iv.days, 'day');
  if (iv.micros !== 0n || parts.length === 0) {
    const neg = iv.micros < 0n;
    const clock = formatClock(neg ? -iv.micros : iv.micros);
    parts.push(`${neg ? '-' : before ? '+' : ''}${clock}`);
  }
  return parts.join(' ');
}

const intervalCodec: TypeCodec = {
  oid: Oid.interval,
  name: 'interval',
  size: 16,
  toText: (v) => (typeof v === 'string' ? v : formatIntervalParts(toIntervalParts(v))),
  writeBinary(w, v) {
    const iv = toIntervalParts(v);
    w.int64(iv.micros).int32(iv.days).int32(iv.months);
  },
  fromText: (s) => s,
  fromBinary(b) {
    fixedLen(b, 16, 'interval');
    return formatIntervalParts({ micros: b.readBigInt64BE(0), days: b.readInt32BE(8), months: b.readInt32BE(12) });
  },
};

function toIntervalParts(v: Exclude<PgValue, null>): IntervalParts {
  if (typeof v === 'string') return parseIntervalOutput(v);
  throw badValue('interval', v);
}

// ---------------------------------------------------------------------------------------------
// registry

const codecs = new Map<number, TypeCodec>();
for (const c of [
  boolCodec,
  intCodec(Oid.int2, 'smallint', 2, -32768, 32767),
  intCodec(Oid.int4, 'integer', 4, INT32_MIN, INT32_MAX),
  intCodec(Oid.oid, 'oid', 4, 0, 4294967295, true),
  int8Codec,
  floatCodec(Oid.float4, 'real', 4),
  floatCodec(Oid.float8, 'double precision', 8),
  numericCodec,
  textCodec(Oid.text, 'text'),
  textCodec(Oid.varchar, 'character varying'),
  textCodec(Oid.bpchar, 'character'),
  textCodec(Oid.name, 'name', 64),
  // "char" (pg_class.relkind, pg_type.typtype): one byte; catalog values are ASCII.
  textCodec(Oid.char, '"char"', 1),
  textCodec(Oid.unknown, 'unknown', -2),
  jsonCodec,
  jsonbCodec,
  byteaCodec,
  uuidCodec,
  dateCodec(),
  timestampCodec(false),
  timestampCodec(true),
  timeCodec,
  intervalCodec,
]) {
  codecs.set(c.oid, c);
}

/** Array type OID -> element type OID, for the element types above (pg_type.typarray). */
export const ARRAY_ELEMENT_OIDS: ReadonlyMap<number, number> = new Map([
  [1000, Oid.bool],
  [1001, Oid.bytea],
  [1002, Oid.char],
  [1003, Oid.name],
  [1005, Oid.int2],
  [1007, Oid.int4],
  [1016, Oid.int8],
  [1009, Oid.text],
  [1028, Oid.oid],
  [199, Oid.json],
  [1021, Oid.float4],
  [1022, Oid.float8],
  [1014, Oid.bpchar],
  [1015, Oid.varchar],
  [1182, Oid.date],
  [1115, Oid.timestamp],
  [1183, Oid.time],
  [1187, Oid.interval],
  [1185, Oid.timestamptz],
  [1231, Oid.numeric],
  [2951, Oid.uuid],
  [3807, Oid.jsonb],
]);
for (const [arrayOid, elemOid] of ARRAY_ELEMENT_OIDS) {
  const elem = codecs.get(elemOid);
  if (elem) codecs.set(arrayOid, arrayCodec(arrayOid, elem));
}
codecs.set(22, arrayCodec(22, intCodec(Oid.int2, 'smallint', 2, -32768, 32767), 'int2vector'));
codecs.set(30, arrayCodec(30, intCodec(Oid.oid, 'oid', 4, 0, 4294967295, true), 'oidvector'));

/** Types without a codec travel as text; binary for them is the raw UTF-8 / bytes. */
const fallbackCodec: TypeCodec = { ...textCodec(0, 'unknown'), fromText: (s) => s, fromBinary: (b) => Buffer.from(b) };

/**
 * The codec of a type the registry cannot know (a user-defined enum and its array type) whose
 * values are sent as text's are, in both formats: an enum's binary form is its label's bytes.
 */
export function labelCodec(oid: number, name: string, arrayOid?: number): { scalar: TypeCodec; array?: TypeCodec } {
  const scalar = textCodec(oid, name);
  return arrayOid === undefined ? { scalar } : { scalar, array: arrayCodec(arrayOid, scalar) };
}

export function codecFor(oid: number): TypeCodec {
  return codecs.get(oid) ?? fallbackCodec;
}

export function hasBinaryCodec(oid: number): boolean {
  return codecs.has(oid);
}

/** pg_type.typlen for RowDescription. */
export function typeSize(oid: number): number {
  return codecs.get(oid)?.size ?? (oid === Oid.time ? 8 : oid === Oid.interval ? 16 : -1);
}

/** Decode one Bind parameter. Text-format datetime values are passed through (see header). */
export function decodeParam(oid: number, format: 0 | 1, raw: Buffer): Exclude<PgValue, null> {
  const codec = codecFor(oid);
  if (format === 1) return codec.fromBinary(raw);
  return codec.fromText(decodeUtf8Strict(raw, codec.name));
}
