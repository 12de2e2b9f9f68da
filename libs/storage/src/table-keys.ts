// The user-key layout of table and index rows: /<table id>/<index id>/<tuple> for system tables
// (ids below HASHED_TABLE_MIN) and /<table id>/<index id>/<hash u16>/<tuple> for user tables,
// where the hash is taken over the encoded bytes of the index's first `hashColumns` elements.
// Ids use an order-preserving variable-length unsigned encoding (one byte below 248), so keys of
// one index are contiguous and never a prefix of another index's keys. Within an index, keys
// sort by (hash, tuple): rows with equal hash columns are contiguous and sorted by the rest, so
// a span whose prefix covers the hash columns stays one contiguous range on one shard, and the
// 16-bit hash space splits an index evenly into shards (see ../README.md, decision 0023).

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

/** Tables with ids at or above this (user tables) carry a hash after the index id. */
export const HASHED_TABLE_MIN = 100;

/** Size of the hash space shards split: 16 bits. */
export const HASH_SPACE = 0x10000;

export interface IndexKeySpec {
  readonly tableId: number;
  readonly indexId: number;
  readonly types: readonly KeyType[];
  readonly directions: readonly Direction[];
  /**
   * Leading elements hashed into the key's shard hash: required (>= 1) for user tables
   * (tableId >= HASHED_TABLE_MIN), absent for system tables.
   */
  readonly hashColumns?: number;
  /**
   * A table created WITH (shards = N): its keys take only N hash values, one per bucket, spread
   * evenly over the hash space, so its rows live on (at most) N shards. Absent: the whole space.
   */
  readonly hashBuckets?: number;
}

/**
 * The hash a key carries: its shard hash, or with `buckets` the middle of the bucket the shard
 * hash falls in (bucket b of N covers [b, b+1) * HASH_SPACE / N, so N equal shards get one each).
 */
export function bucketHash(hash: number, buckets: number | undefined): number {
  if (buckets === undefined) return hash;
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > HASH_SPACE) throw new InvalidKeyValueError(`hash buckets ${buckets} is not between 1 and ${HASH_SPACE}`);
  return bucketMiddle(Math.floor((hash * buckets) / HASH_SPACE), buckets);
}

/** The hash every key of bucket `b` (of `buckets`) carries. */
export function bucketMiddle(b: number, buckets: number): number {
  return Math.floor(((2 * b + 1) * HASH_SPACE) / (2 * buckets));
}

function hashColumnsOf(spec: IndexKeySpec): number {
  const h = spec.hashColumns ?? 0;
  if (spec.tableId >= HASHED_TABLE_MIN ? h < 1 || h > spec.types.length : h !== 0) {
    throw new InvalidKeyValueError(`index /${spec.tableId}/${spec.indexId}: hashColumns ${spec.hashColumns} is invalid for ${spec.types.length} column(s)`);
  }
  return h;
}

/**
 * FNV-1a over the bytes, then murmur3's 32-bit finalizer (FNV alone spreads keys that differ
 * only in their last byte, such as sequential ids, poorly over the high bits that pick a
 * shard), folded to 16 bits. Stable forever: it decides where every row lives, so changing it
 * would strand stored data.
 */
export function shardHash(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 16) & 0xffff;
}

/**
 * Key of a row in an index. Fewer values than columns give a prefix for range scans; a prefix
 * of a hashed index must cover its hash columns (use indexSpan for shorter prefixes).
 */
export function encodeIndexKey(spec: IndexKeySpec, values: readonly KeyValue[]): Buffer {
  const h = hashColumnsOf(spec);
  const w = new ByteWriter(10 + 12 * values.length);
  writeOrderedUint(w, spec.tableId);
  writeOrderedUint(w, spec.indexId);
  if (h > 0) {
    if (values.length < h) throw new InvalidKeyValueError(`index /${spec.tableId}/${spec.indexId}: a key needs its ${h} hash column(s), got ${values.length} value(s)`);
    const hw = new ByteWriter(12 * h);
    writeTuple(hw, values.slice(0, h), spec.directions);
    const hashed = hw.finish();
    const hash = bucketHash(shardHash(hashed), spec.hashBuckets);
    w.u8(hash >> 8);
    w.u8(hash & 0xff);
    w.bytes(hashed);
    writeTuple(w, values.slice(h), spec.directions.slice(h));
  } else {
    writeTuple(w, values, spec.directions);
  }
  return w.finish();
}

export function decodeIndexKey(buf: Uint8Array, spec: IndexKeySpec): KeyValue[] {
  const h = hashColumnsOf(spec);
  const r = new ByteReader(buf);
  const t = readOrderedUint(r);
  const i = readOrderedUint(r);
  if (t !== spec.tableId || i !== spec.indexId) {
    throw new CorruptEncodingError(`key belongs to /${t}/${i}, expected /${spec.tableId}/${spec.indexId}`);
  }
  if (h > 0) {
    r.u8();
    r.u8();
  }
  const values = readTuple(r, spec.types, spec.directions);
  if (r.remaining !== 0) throw new CorruptEncodingError(`${r.remaining} trailing byte(s) after index key`);
  return values;
}

/**
 * [start, end) covering every key of an index, or of a tuple prefix within it. A prefix shorter
 * than a hashed index's hash columns cannot be located by hash: the span is then the whole
 * index, and the caller must filter rows by the prefix itself.
 */
export function indexSpan(spec: IndexKeySpec, prefix: readonly KeyValue[] = []): { start: Buffer; end: Buffer } {
  const h = hashColumnsOf(spec);
  const key = prefix.length === 0 || prefix.length < h ? indexPrefix(spec) : encodeIndexKey(spec, prefix);
  const end = prefixEnd(key);
  if (end === undefined) throw new InvalidKeyValueError('index span has no upper bound');
  return { start: key, end };
}

/** Whether a tuple prefix of this length pins the hash (one contiguous range, one shard). */
export function prefixCoversHash(spec: IndexKeySpec, prefixLength: number): boolean {
  return prefixLength >= hashColumnsOf(spec);
}

/** /<table>/<index>: the prefix of every key of the index. */
function indexPrefix(spec: IndexKeySpec): Buffer {
  const w = new ByteWriter(10);
  writeOrderedUint(w, spec.tableId);
  writeOrderedUint(w, spec.indexId);
  return w.finish();
}

/** Where a key routes: its table and index, and its shard hash when it has one. */
export interface KeyRoute {
  readonly tableId: number;
  /** Undefined when the key ends before the index id (a table-wide span bound). */
  readonly indexId?: number;
  /** Undefined for system tables and for keys that end before the hash. */
  readonly hash?: number;
}

/**
 * Reads the routing part of a key without knowing its types. Undefined for an empty key or one
 * that is not in the table layout (e.g. a span bound past every table).
 */
export function keyRoute(key: Uint8Array): KeyRoute | undefined {
  if (key.length === 0) return undefined;
  try {
    const r = new ByteReader(key);
    const tableId = readOrderedUint(r);
    if (r.remaining === 0) return { tableId };
    const indexId = readOrderedUint(r);
    if (tableId < HASHED_TABLE_MIN || r.remaining < 2) return { tableId, indexId };
    const hash = (r.u8() << 8) | r.u8();
    return { tableId, indexId, hash };
  } catch {
    return undefined;
  }
}
