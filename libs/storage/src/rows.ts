// Row values: compact binary, keyed by column id, self-describing (a type tag per cell).
//
//   0x01                      format version (anything else is rejected, never guessed at)
//   uvarint n                 number of cells
//   n × cell                  in ascending column id order:
//     uvarint idDelta         column id minus the previous cell's id (first: the id itself)
//     u8 tag                  type, or NULL; bool is folded into the tag
//     payload                 fixed width big-endian for numbers, uvarint length + bytes else
//
// Keying by column id means ADD COLUMN rewrites nothing: a row written before the column existed
// simply has no cell for it, and readColumn() reports `undefined` so the caller applies the
// column's default (NULL or the DEFAULT recorded in the catalog). An explicit NULL is stored as a
// cell, so it is never confused with "absent". Unlike keys, row cells keep the exact value:
// numeric keeps its scale ('1.00' stays '1.00'), float -0 stays -0.

import { ByteReader, ByteWriter, CorruptEncodingError } from './bytes';
import { INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, InvalidKeyValueError, KeyValue } from './key-types';
import { formatNumeric, parseNumeric } from './numeric';

export type RowValue = KeyValue | { readonly type: 'json'; readonly value: string } | { readonly type: 'jsonb'; readonly value: string };
export type RowType = Exclude<RowValue['type'], 'null'>;

export const ROW_FORMAT_V1 = 0x01;

const T_NULL = 0;
const T_FALSE = 1;
const T_TRUE = 2;
const T_INT2 = 3;
const T_INT4 = 4;
const T_INT8 = 5;
const T_NUMERIC = 6;
const T_FLOAT4 = 7;
const T_FLOAT8 = 8;
const T_TEXT = 9;
const T_BYTEA = 10;
const T_UUID = 11;
const T_DATE = 12;
const T_TIMESTAMP = 13;
const T_TIMESTAMPTZ = 14;
const T_JSON = 15;
const T_JSONB = 16;

const LONE_SURROGATE = /\p{Cs}/u;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_COLUMN_ID = 0x7fffffff;

export function encodeRow(cells: Iterable<readonly [number, RowValue]>): Buffer {
  const sorted = [...cells].sort((a, b) => a[0] - b[0]);
  const w = new ByteWriter(16 + sorted.length * 10);
  w.u8(ROW_FORMAT_V1);
  w.uvarint(sorted.length);
  let prev = 0;
  for (let i = 0; i < sorted.length; i++) {
    const [id, v] = sorted[i];
    if (!Number.isInteger(id) || id < 0 || id > MAX_COLUMN_ID) throw new InvalidKeyValueError(`bad column id ${id}`);
    if (i > 0 && id === prev) throw new InvalidKeyValueError(`column id ${id} given twice`);
    w.uvarint(i === 0 ? id : id - prev);
    prev = id;
    writeCell(w, v);
  }
  return w.finish();
}

export function decodeRow(buf: Uint8Array): Map<number, RowValue> {
  const out = new Map<number, RowValue>();
  forEachCell(buf, (id, r) => {
    out.set(id, readCell(r));
    return false;
  });
  return out;
}

/** One column's value, or undefined when the row has no cell for it (apply the default). */
export function readColumn(buf: Uint8Array, columnId: number): RowValue | undefined {
  let found: RowValue | undefined;
  forEachCell(buf, (id, r) => {
    if (id === columnId) found = readCell(r);
    else if (id < columnId) skipCell(r);
    return id >= columnId;
  });
  return found;
}

/** Walks cells in id order; `visit` must consume the cell and returns true to stop. */
function forEachCell(buf: Uint8Array, visit: (id: number, r: ByteReader) => boolean): void {
  const r = new ByteReader(buf);
  const version = r.u8();
  if (version !== ROW_FORMAT_V1) throw new CorruptEncodingError(`unsupported row format version ${version}`);
  const n = r.uvarint();
  let id = 0;
  for (let i = 0; i < n; i++) {
    id = i === 0 ? r.uvarint() : id + r.uvarint();
    if (visit(id, r)) return;
  }
  if (r.remaining !== 0) throw new CorruptEncodingError(`${r.remaining} trailing byte(s) after row`);
}

function writeCell(w: ByteWriter, v: RowValue): void {
  switch (v.type) {
    case 'null':
      return w.u8(T_NULL);
    case 'bool':
      return w.u8(v.value ? T_TRUE : T_FALSE);
    case 'int2':
      checkInt(v.value, -0x8000, 0x7fff, 'int2');
      w.u8(T_INT2);
      return w.u16be(v.value & 0xffff);
    case 'int4':
      checkInt(v.value, INT32_MIN, INT32_MAX, 'int4');
      w.u8(T_INT4);
      return w.u32be(v.value >>> 0);
    case 'date': {
      const d = v.value === -Infinity ? INT32_MIN : v.value === Infinity ? INT32_MAX : v.value;
      checkInt(d, INT32_MIN, INT32_MAX, 'date');
      w.u8(T_DATE);
      return w.u32be(d >>> 0);
    }
    case 'int8':
    case 'timestamp':
    case 'timestamptz':
      if (typeof v.value !== 'bigint' || v.value < INT64_MIN || v.value > INT64_MAX) throw new InvalidKeyValueError(`${v.type} out of range`);
      w.u8(v.type === 'int8' ? T_INT8 : v.type === 'timestamp' ? T_TIMESTAMP : T_TIMESTAMPTZ);
      return w.u64be(BigInt.asUintN(64, v.value));
    case 'float4':
      w.u8(T_FLOAT4);
      return w.f32be(v.value);
    case 'float8':
      w.u8(T_FLOAT8);
      return w.f64be(v.value);
    case 'numeric':
      w.u8(T_NUMERIC);
      return writeLengthPrefixed(w, Buffer.from(formatNumeric(parseNumeric(v.value), true), 'latin1'));
    case 'text':
    case 'json':
    case 'jsonb':
      if (LONE_SURROGATE.test(v.value)) throw new InvalidKeyValueError(`${v.type} contains an unpaired UTF-16 surrogate`);
      w.u8(v.type === 'text' ? T_TEXT : v.type === 'json' ? T_JSON : T_JSONB);
      return writeLengthPrefixed(w, Buffer.from(v.value, 'utf8'));
    case 'bytea':
      w.u8(T_BYTEA);
      return writeLengthPrefixed(w, v.value);
    case 'uuid':
      if (!UUID_RE.test(v.value)) throw new InvalidKeyValueError(`invalid input syntax for type uuid: "${v.value}"`);
      w.u8(T_UUID);
      return w.bytes(Buffer.from(v.value.replace(/-/g, ''), 'hex'));
  }
}

function readCell(r: ByteReader): RowValue {
  const tag = r.u8();
  switch (tag) {
    case T_NULL:
      return { type: 'null' };
    case T_FALSE:
    case T_TRUE:
      return { type: 'bool', value: tag === T_TRUE };
    case T_INT2:
      return { type: 'int2', value: (r.u16be() << 16) >> 16 };
    case T_INT4:
      return { type: 'int4', value: r.u32be() | 0 };
    case T_DATE: {
      const d = r.u32be() | 0;
      return { type: 'date', value: d === INT32_MIN ? -Infinity : d === INT32_MAX ? Infinity : d };
    }
    case T_INT8:
      return { type: 'int8', value: BigInt.asIntN(64, r.u64be()) };
    case T_TIMESTAMP:
      return { type: 'timestamp', value: BigInt.asIntN(64, r.u64be()) };
    case T_TIMESTAMPTZ:
      return { type: 'timestamptz', value: BigInt.asIntN(64, r.u64be()) };
    case T_FLOAT4:
      return { type: 'float4', value: r.take(4).readFloatBE(0) };
    case T_FLOAT8:
      return { type: 'float8', value: r.take(8).readDoubleBE(0) };
    case T_NUMERIC:
      return { type: 'numeric', value: readLengthPrefixed(r).toString('latin1') };
    case T_TEXT:
      return { type: 'text', value: readLengthPrefixed(r).toString('utf8') };
    case T_JSON:
      return { type: 'json', value: readLengthPrefixed(r).toString('utf8') };
    case T_JSONB:
      return { type: 'jsonb', value: readLengthPrefixed(r).toString('utf8') };
    case T_BYTEA:
      return { type: 'bytea', value: readLengthPrefixed(r) };
    case T_UUID: {
      const h = r.take(16).toString('hex');
      return { type: 'uuid', value: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}` };
    }
    default:
      throw new CorruptEncodingError(`unknown row cell tag ${tag}`);
  }
}

// Payload width of fixed-size tags; the others are length-prefixed.
const FIXED_SIZE: Partial<Record<number, number>> = {
  [T_NULL]: 0, [T_FALSE]: 0, [T_TRUE]: 0, [T_INT2]: 2, [T_INT4]: 4, [T_DATE]: 4, [T_FLOAT4]: 4,
  [T_INT8]: 8, [T_TIMESTAMP]: 8, [T_TIMESTAMPTZ]: 8, [T_FLOAT8]: 8, [T_UUID]: 16,
};

function skipCell(r: ByteReader): void {
  const tag = r.u8();
  const size = FIXED_SIZE[tag];
  if (size !== undefined) r.pos += size;
  else if (tag <= T_JSONB) {
    // Read the length first: `r.pos += r.uvarint()` would add to the position before the read.
    const len = r.uvarint();
    r.pos += len;
  }
  else throw new CorruptEncodingError(`unknown row cell tag ${tag}`);
  if (r.pos > r.end) throw new CorruptEncodingError('truncated row');
}

function writeLengthPrefixed(w: ByteWriter, bytes: Uint8Array): void {
  w.uvarint(bytes.length);
  w.bytes(bytes);
}

function readLengthPrefixed(r: ByteReader): Buffer {
  return r.take(r.uvarint());
}

function checkInt(v: number, min: number, max: number, type: string): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new InvalidKeyValueError(`${type} out of range: ${v}`);
}
