// Order-preserving tuple encoding: for tuples of the same types and directions,
// Buffer.compare(encodeTuple(a), encodeTuple(b)) has the sign of the SQL comparison of a and b.
//
// Each element is a marker byte followed by a self-delimiting body, so a tuple is also a valid
// prefix for range scans over its leading columns:
//   marker 0x00 = NULL sorting first, 0x01 = value, 0x02 = NULL sorting last
// then, for values (ascending form):
//   bool            0x00 | 0x01
//   int2/int4/int8  big-endian two's complement with the sign bit flipped (2/4/8 bytes)
//   date            as int4; -infinity/infinity are int32 min/max as in Postgres
//   timestamp(tz)   as int8 (microseconds since 2000-01-01)
//   float4/float8   IEEE bits; positives get the sign bit set, negatives are inverted. -0 is
//                   written as 0 and every NaN as the canonical NaN, which then sorts above
//                   +Infinity: -Inf < negatives < -0 = 0 < positives < +Inf < NaN (Postgres order)
//   text/bytea      bytes with 0x00 escaped as 0x00 0xff, terminated by 0x00 0x01, so embedded
//                   zeros and prefixes order correctly ('a' < 'a\0' < 'ab'); text is UTF-8 (C collation)
//   uuid            16 raw bytes
//   numeric         see numeric.ts (value order; 1.0 and 1.00 encode identically, decode as '1')
// A DESC element is the bitwise inverse of the whole ascending element (marker included), which
// reverses its order and still terminates: decoders read it through an 0xff mask.

import { ByteReader, ByteWriter, CorruptEncodingError } from './bytes';
import { Direction, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, InvalidKeyValueError, KeyType, KeyValue, isDescending, nullsFirst } from './key-types';
import { readNumericKey, writeNumericKey, InvalidNumericError } from './numeric';

const M_NULL_LOW = 0x00;
const M_VALUE = 0x01;
const M_NULL_HIGH = 0x02;

const SIGN64 = 1n << 63n;
const LONE_SURROGATE = /\p{Cs}/u;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NULL_VALUE: KeyValue = { type: 'null' };

export function encodeTuple(values: readonly KeyValue[], directions: readonly Direction[]): Buffer {
  const w = new ByteWriter(16 * values.length + 8);
  writeTuple(w, values, directions);
  return w.finish();
}

/** Appends a tuple to a writer (used by the table/index key layout). */
export function writeTuple(w: ByteWriter, values: readonly KeyValue[], directions: readonly Direction[]): void {
  if (directions.length < values.length) {
    throw new InvalidKeyValueError(`${values.length} key values but only ${directions.length} directions`);
  }
  for (let i = 0; i < values.length; i++) writeElement(w, values[i], directions[i]);
}

export function decodeTuple(buf: Uint8Array, types: readonly KeyType[], directions: readonly Direction[]): KeyValue[] {
  const r = new ByteReader(buf);
  const out = readTuple(r, types, directions);
  if (r.remaining !== 0) throw new CorruptEncodingError(`${r.remaining} trailing byte(s) after tuple`);
  return out;
}

/** Reads `types.length` elements (or fewer when the buffer ends first: a prefix tuple). */
export function readTuple(r: ByteReader, types: readonly KeyType[], directions: readonly Direction[]): KeyValue[] {
  const out: KeyValue[] = [];
  for (let i = 0; i < types.length && r.remaining > 0; i++) out.push(readElement(r, types[i], directions[i]));
  return out;
}

export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function writeElement(w: ByteWriter, v: KeyValue, dir: Direction): void {
  const start = w.length;
  if (v.type === 'null') {
    w.u8(nullsFirst(dir) !== isDescending(dir) ? M_NULL_LOW : M_NULL_HIGH);
  } else {
    w.u8(M_VALUE);
    writeBody(w, v);
  }
  if (isDescending(dir)) w.invertFrom(start);
}

function writeBody(w: ByteWriter, v: Exclude<KeyValue, { type: 'null' }>): void {
  switch (v.type) {
    case 'bool':
      return w.u8(v.value ? 1 : 0);
    case 'int2':
      checkInt(v.value, -0x8000, 0x7fff, 'int2');
      return w.u16be((v.value + 0x8000) & 0xffff);
    case 'int4':
      checkInt(v.value, INT32_MIN, INT32_MAX, 'int4');
      return w.u32be((v.value ^ 0x80000000) >>> 0);
    case 'date':
      return w.u32be((dateToInt32(v.value) ^ 0x80000000) >>> 0);
    case 'int8':
    case 'timestamp':
    case 'timestamptz':
      checkBigInt(v.value, v.type);
      return w.u64be(BigInt.asUintN(64, v.value) ^ SIGN64);
    case 'float8':
      return writeFloat(w, v.value, 8);
    case 'float4':
      return writeFloat(w, v.value, 4);
    case 'text':
      if (LONE_SURROGATE.test(v.value)) throw new InvalidKeyValueError('text contains an unpaired UTF-16 surrogate');
      return writeEscaped(w, Buffer.from(v.value, 'utf8'));
    case 'bytea':
      return writeEscaped(w, v.value);
    case 'uuid':
      if (!UUID_RE.test(v.value)) throw new InvalidKeyValueError(`invalid input syntax for type uuid: "${v.value}"`);
      return w.bytes(Buffer.from(v.value.replace(/-/g, ''), 'hex'));
    case 'numeric':
      try {
        return writeNumericKey(w, v.value);
      } catch (e) {
        if (e instanceof InvalidNumericError) throw new InvalidKeyValueError(e.message);
        throw e;
      }
  }
}

function readElement(r: ByteReader, type: KeyType, dir: Direction): KeyValue {
  r.mask = isDescending(dir) ? 0xff : 0x00;
  try {
    const marker = r.u8();
    if (marker === M_NULL_LOW || marker === M_NULL_HIGH) return NULL_VALUE;
    if (marker !== M_VALUE) throw new CorruptEncodingError(`bad key element marker ${marker}`);
    return readBody(r, type);
  } finally {
    r.mask = 0;
  }
}

function readBody(r: ByteReader, type: KeyType): KeyValue {
  switch (type) {
    case 'bool': {
      const b = r.u8();
      if (b > 1) throw new CorruptEncodingError(`bad bool byte ${b}`);
      return { type, value: b === 1 };
    }
    case 'int2':
      return { type, value: r.u16be() - 0x8000 };
    case 'int4':
      return { type, value: (r.u32be() ^ 0x80000000) | 0 };
    case 'date': {
      const d = (r.u32be() ^ 0x80000000) | 0;
      return { type, value: d === INT32_MIN ? -Infinity : d === INT32_MAX ? Infinity : d };
    }
    case 'int8':
    case 'timestamp':
    case 'timestamptz':
      return { type, value: BigInt.asIntN(64, r.u64be() ^ SIGN64) };
    case 'float8':
      return { type, value: readFloat(r, 8) };
    case 'float4':
      return { type, value: readFloat(r, 4) };
    case 'text':
      return { type, value: readEscaped(r).toString('utf8') };
    case 'bytea':
      return { type, value: readEscaped(r) };
    case 'uuid': {
      const h = r.take(16).toString('hex');
      return { type, value: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}` };
    }
    case 'numeric':
      return { type, value: readNumericKey(r) };
  }
}

function checkInt(v: number, min: number, max: number, type: string): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new InvalidKeyValueError(`${type} out of range: ${v}`);
}

function checkBigInt(v: bigint, type: string): void {
  if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) throw new InvalidKeyValueError(`${type} out of range: ${String(v)}`);
}

function dateToInt32(days: number): number {
  if (days === -Infinity) return INT32_MIN;
  if (days === Infinity) return INT32_MAX;
  checkInt(days, INT32_MIN + 1, INT32_MAX - 1, 'date');
  return days;
}

const floatScratch = Buffer.alloc(8);

function writeFloat(w: ByteWriter, v: number, width: 4 | 8): void {
  if (typeof v !== 'number') throw new InvalidKeyValueError(`float${width} value is not a number`);
  // Postgres: -0 = 0 and all NaNs are equal (and greatest); canonicalize so equal values encode equally.
  const x = Number.isNaN(v) ? NaN : v === 0 ? 0 : v;
  if (width === 8) floatScratch.writeDoubleBE(x, 0);
  else floatScratch.writeFloatBE(x, 0);
  if (Number.isNaN(x)) {
    // Canonical quiet NaN, whatever payload the platform produced.
    floatScratch.fill(0, 0, width);
    if (width === 8) floatScratch.writeUInt16BE(0x7ff8, 0);
    else floatScratch.writeUInt16BE(0x7fc0, 0);
  }
  if (floatScratch[0] & 0x80) {
    for (let i = 0; i < width; i++) floatScratch[i] = ~floatScratch[i] & 0xff;
  } else {
    floatScratch[0] |= 0x80;
  }
  w.bytes(floatScratch.subarray(0, width));
}

function readFloat(r: ByteReader, width: 4 | 8): number {
  const b = r.take(width);
  if (b[0] & 0x80) b[0] &= 0x7f;
  else for (let i = 0; i < width; i++) b[i] = ~b[i] & 0xff;
  return width === 8 ? b.readDoubleBE(0) : b.readFloatBE(0);
}

/** Escaped byte string: 0x00 -> 0x00 0xff, then the terminator 0x00 0x01. */
export function writeEscaped(w: ByteWriter, src: Uint8Array): void {
  let from = 0;
  const buf = Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  for (;;) {
    const z = buf.indexOf(0, from);
    if (z < 0) {
      w.bytes(buf.subarray(from));
      break;
    }
    w.bytes(buf.subarray(from, z));
    w.u8(0x00);
    w.u8(0xff);
    from = z + 1;
  }
  w.u8(0x00);
  w.u8(0x01);
}

export function readEscaped(r: ByteReader): Buffer {
  const out = new ByteWriter(32);
  for (;;) {
    const b = r.u8();
    if (b !== 0) {
      out.u8(b);
      continue;
    }
    const next = r.u8();
    if (next === 0x01) break;
    if (next !== 0xff) throw new CorruptEncodingError(`bad escape 0x00 0x${next.toString(16)}`);
    out.u8(0);
  }
  return Buffer.from(out.finish());
}
