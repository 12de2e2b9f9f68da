// Physical RocksDB key layout. The first byte is a namespace:
//   0x01 <name>                                  local (per-replica) metadata: applied index, ...
//   0x02 <escaped user key> 0x00 0x01 <~ts:u64>  one MVCC version (or the key's intent)
//
// The user key is escaped like a text key element (0x00 -> 0x00 0xff) and closed by 0x00 0x01,
// so no user key's versions can interleave with another's even when one key is a prefix of the
// other ('a' < 'a\0' < 'ab' stays true with any suffix). The timestamp is stored bitwise
// inverted, so versions of a key sort newest first and a seek to <key, readTs> lands on the
// newest version at or below readTs. Timestamp 2^64-1 is reserved: its inverted form is eight
// zero bytes, the slot that sorts before every version, and it holds the key's intent (at most
// one per user key, seen first by readers and scans without a second lookup).

import { ByteWriter, CorruptEncodingError } from './bytes';
import { readEscaped, writeEscaped } from './keys';
import { ByteReader } from './bytes';

/** TSO-issued commit timestamp: unsigned 64-bit, microseconds since the Unix epoch. */
export type Timestamp = bigint;

export const NS_LOCAL = 0x01;
export const NS_DATA = 0x02;
const NS_AFTER_DATA = 0x03;

export const MAX_TIMESTAMP: Timestamp = (1n << 64n) - 2n;
const U64_MASK = (1n << 64n) - 1n;
const TS_BYTES = 8;

export class InvalidTimestampError extends Error {
  override readonly name = 'InvalidTimestampError';
}

export function checkTimestamp(ts: Timestamp): void {
  if (typeof ts !== 'bigint' || ts < 0n || ts > MAX_TIMESTAMP) {
    throw new InvalidTimestampError(`timestamp must be a bigint in [0, 2^64-2]: ${String(ts)}`);
  }
}

/** 0x02 + escaped user key + 0x00 0x01: the common prefix of every version of `userKey`. */
export function versionPrefix(userKey: Uint8Array): Buffer {
  const w = new ByteWriter(userKey.length + 4 + TS_BYTES);
  w.u8(NS_DATA);
  writeEscaped(w, userKey);
  return w.finish();
}

/** Prefix + inverted timestamp. */
export function versionKey(prefix: Buffer, ts: Timestamp): Buffer {
  const out = Buffer.allocUnsafe(prefix.length + TS_BYTES);
  prefix.copy(out, 0);
  out.writeBigUInt64BE(~ts & U64_MASK, prefix.length);
  return out;
}

/** The intent slot (all-zero inverted timestamp) of a version prefix. */
export function intentKey(prefix: Buffer): Buffer {
  const out = Buffer.alloc(prefix.length + TS_BYTES);
  prefix.copy(out, 0);
  return out;
}

/** Smallest key after every version of the key whose version prefix is `prefix`. */
export function afterVersions(prefix: Uint8Array, prefixLen = prefix.length): Buffer {
  const out = Buffer.from(prefix.subarray(0, prefixLen));
  out[prefixLen - 1] = 0x02; // terminator 0x00 0x01 -> 0x00 0x02
  return out;
}

/** RocksDB bound for user keys >= start (start of a data span). */
export function dataLowerBound(start: Uint8Array | undefined): Buffer {
  if (start === undefined || start.length === 0) return Buffer.from([NS_DATA]);
  const w = new ByteWriter(start.length + 4);
  w.u8(NS_DATA);
  writeEscaped(w, start);
  // Drop the terminator: every version of `start` and of keys extending it sorts after this.
  return w.finish().subarray(0, w.length - 2);
}

/** RocksDB bound for user keys < end (exclusive end of a data span). */
export function dataUpperBound(end: Uint8Array | undefined): Buffer {
  if (end === undefined) return Buffer.from([NS_AFTER_DATA]);
  return dataLowerBound(end);
}

export function isIntentSlot(raw: Buffer): boolean {
  const off = raw.length - TS_BYTES;
  return raw.readUInt32BE(off) === 0 && raw.readUInt32BE(off + 4) === 0;
}

export function timestampOf(raw: Buffer): Timestamp {
  return ~raw.readBigUInt64BE(raw.length - TS_BYTES) & U64_MASK;
}

/** Length of the version prefix inside a raw data key. */
export function prefixLength(raw: Buffer): number {
  return raw.length - TS_BYTES;
}

/** The user key of a raw data key (or of a version prefix when `prefixLen` is its length). */
export function userKeyOf(raw: Buffer, prefixLen = raw.length - TS_BYTES): Buffer {
  if (raw[0] !== NS_DATA) throw new CorruptEncodingError(`not a data key (namespace ${raw[0]})`);
  const body = raw.subarray(1, prefixLen);
  // Fast path: the only zero byte is the terminator's.
  if (body.indexOf(0) === body.length - 2) return Buffer.from(body.subarray(0, body.length - 2));
  return readEscaped(new ByteReader(body));
}

export function localKey(name: string | Uint8Array): Buffer {
  const n = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  const out = Buffer.allocUnsafe(n.length + 1);
  out[0] = NS_LOCAL;
  out.set(n, 1);
  return out;
}
