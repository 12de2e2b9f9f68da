// The user-key layout of table and index rows: /<table id>/<index id>/<tuple>. Ids use an
// order-preserving variable-length unsigned encoding (one byte below 248), so keys of one index
// are contiguous, sorted by tuple, and never a prefix of another index's keys.

import { ByteReader, ByteWriter, CorruptEncodingError, prefixEnd } from './bytes';
import { Direction, InvalidKeyValueError, KeyType, KeyValue } from './key-types';
import { readTuple, writeTuple } from './keys';

const ONE_BYTE_MAX = 0xf7;

/** Order-preserving uvarint: 0..247 as one byte; larger as 0xf7+n then n big-endian bytes. */
export function writeOrderedUint(w: ByteWriter, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new InvalidKeyValueError(`id must be a non-negative safe integer: ${v}`);
  if (v <= ONE_BYTE_MAX) return w.u8(v);
  const bytes: number[] = [];
  for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  w.u8(ONE_BYTE_MAX + bytes.length);
  for (const b of bytes) w.u8(b);
}

export function readOrderedUint(r: ByteReader): number {
  const first = r.u8();
  if (first <= ONE_BYTE_MAX) return first;
  const n = first - ONE_BYTE_MAX;
  if (n > 7) throw new CorruptEncodingError(`ordered uint too long (${n} bytes)`);
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + r.u8();
  return v;
}

export interface IndexKeySpec {
  readonly tableId: number;
  readonly indexId: number;
  readonly types: readonly KeyType[];
  readonly directions: readonly Direction[];
}

/** Key of a row in an index. Fewer values than columns give a prefix for range scans. */
export function encodeIndexKey(spec: IndexKeySpec, values: readonly KeyValue[]): Buffer {
  const w = new ByteWriter(8 + 12 * values.length);
  writeOrderedUint(w, spec.tableId);
  writeOrderedUint(w, spec.indexId);
  writeTuple(w, values, spec.directions);
  return w.finish();
}

export function decodeIndexKey(buf: Uint8Array, spec: IndexKeySpec): KeyValue[] {
  const r = new ByteReader(buf);
  const t = readOrderedUint(r);
  const i = readOrderedUint(r);
  if (t !== spec.tableId || i !== spec.indexId) {
    throw new CorruptEncodingError(`key belongs to /${t}/${i}, expected /${spec.tableId}/${spec.indexId}`);
  }
  const values = readTuple(r, spec.types, spec.directions);
  if (r.remaining !== 0) throw new CorruptEncodingError(`${r.remaining} trailing byte(s) after index key`);
  return values;
}

/** [start, end) covering every key of an index (or of a tuple prefix within it). */
export function indexSpan(spec: IndexKeySpec, prefix: readonly KeyValue[] = []): { start: Buffer; end: Buffer } {
  const start = encodeIndexKey(spec, prefix);
  const end = prefixEnd(start);
  if (end === undefined) throw new InvalidKeyValueError('index span has no upper bound');
  return { start, end };
}
