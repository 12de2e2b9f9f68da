// Binary codec of shard log entries (format documented in ../README.md).
//
// Envelope, frozen for every format version so any reader can check integrity before it looks
// at the version:
//   u8 version | u32be payload length n | payload (n bytes) | u32be CRC-32C of the preceding bytes
// Payload of version 1: u8 type tag, then the entry's fields (see encodePayload). Integers that
// are lengths, counts or ids are unsigned LEB128 varints (minimal form only, so decode∘encode is
// the identity on bytes); timestamps are u64 big-endian.
//
// Decoded Buffers are views into the input (no copies on the apply path): do not mutate the
// input while the entry is in use.

import { crc32c } from './crc32c';
import type { LogEntry, ReadSpan, Timestamp, WriteOp } from './types';

export const FORMAT_VERSION = 1;

/** Bytes around the payload: version, length, CRC. */
const HEADER = 5;
const TRAILER = 4;
/** Timestamps above this are invalid (2^64-1 is reserved by the MVCC store for intents). */
const MAX_TS = (1n << 64n) - 2n;

const TAG = {
  commit: 1,
  prepare: 2,
  resolve: 3,
  'closed-timestamp': 4,
  'schema-change': 5,
  split: 6,
  merge: 7,
  gc: 8,
  stage: 9,
  'resolve-staged': 10,
  forget: 11,
} as const satisfies Record<LogEntry['type'], number>;

const READ_POINT = 1;
const READ_SPAN = 2;
const WRITE_PUT = 1;
const WRITE_PUT_IF_ABSENT = 2;
const WRITE_DELETE = 3;

export type EntryDecodeReason = 'truncated' | 'corrupt' | 'unknown-version' | 'unknown-type';

/** The bytes are not a valid entry of a format this build understands. Never apply past it. */
export class EntryDecodeError extends Error {
  override readonly name = 'EntryDecodeError';
  constructor(
    readonly reason: EntryDecodeReason,
    message: string,
  ) {
    super(message);
  }
}

/** The entry cannot be encoded (a field is out of range); a programming error of the proposer. */
export class EntryEncodeError extends RangeError {
  override readonly name = 'EntryEncodeError';
}

// ---------------------------------------------------------------------------------------------
// Encoding

class Writer {
  private buf: Buffer;
  pos = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + extra) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  ts(v: Timestamp, field: string): void {
    if (typeof v !== 'bigint' || v < 0n || v > MAX_TS) throw new EntryEncodeError(`${field} must be a bigint timestamp in [0, 2^64-2]: ${String(v)}`);
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
  }

  uvarint(v: number, field: string): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new EntryEncodeError(`${field} must be a non-negative safe integer: ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array, field: string): void {
    if (!(b instanceof Uint8Array)) throw new EntryEncodeError(`${field} must be a Buffer`);
    this.uvarint(b.length, `${field} length`);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  text(s: string, field: string): void {
    if (typeof s !== 'string') throw new EntryEncodeError(`${field} must be a string`);
    this.bytes(Buffer.from(s, 'utf8'), field);
  }

  patchU32(at: number, v: number): void {
    this.buf.writeUInt32BE(v, at);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

function writeReads(w: Writer, reads: readonly ReadSpan[]): void {
  w.uvarint(reads.length, 'read count');
  for (const r of reads) {
    if (r.kind === 'point') {
      w.u8(READ_POINT);
      w.bytes(r.key, 'read key');
    } else if (r.kind === 'span') {
      w.u8(READ_SPAN);
      w.bytes(r.start, 'read span start');
      w.bytes(r.end, 'read span end');
    } else {
      throw new EntryEncodeError(`unknown read kind ${JSON.stringify((r as { kind: unknown }).kind)}`);
    }
  }
}

function writeWrites(w: Writer, writes: readonly WriteOp[]): void {
  w.uvarint(writes.length, 'write count');
  for (const op of writes) {
    if (op.kind === 'put') {
      w.u8(op.ifAbsent === undefined ? WRITE_PUT : WRITE_PUT_IF_ABSENT);
      w.bytes(op.key, 'write key');
      w.bytes(op.value, 'write value');
      if (op.ifAbsent !== undefined) {
        w.text(op.ifAbsent.constraint, 'constraint name');
        if (op.ifAbsent.detail === undefined) w.u8(0);
        else {
          w.u8(1);
          w.text(op.ifAbsent.detail, 'constraint detail');
        }
      }
    } else if (op.kind === 'delete') {
      w.u8(WRITE_DELETE);
      w.bytes(op.key, 'write key');
    } else {
      throw new EntryEncodeError(`unknown write kind ${JSON.stringify((op as { kind: unknown }).kind)}`);
    }
  }
}

function sizeHint(e: LogEntry): number {
  let n = 64;
  if (e.type === 'stage') {
    for (const op of e.writes) n += op.key.length + (op.kind === 'put' ? op.value.length + 8 + (op.ifAbsent ? 64 : 0) : 4);
  } else if (e.type === 'commit' || e.type === 'prepare') {
    for (const r of e.reads) n += r.kind === 'point' ? r.key.length + 4 : r.start.length + r.end.length + 6;
    for (const op of e.writes) n += op.key.length + (op.kind === 'put' ? op.value.length + 8 + (op.ifAbsent ? 64 : 0) : 4);
    if (e.type === 'prepare') n += e.primaryKey.length;
  } else if (e.type === 'forget') {
    for (const id of e.txnIds) n += id.length + 2;
  }
  return n;
}

/** Encodes an entry in the current format (FORMAT_VERSION). Throws EntryEncodeError on bad fields. */
export function encodeEntry(e: LogEntry): Buffer {
  const w = new Writer(sizeHint(e));
  w.u8(FORMAT_VERSION);
  w.u32(0); // payload length, patched below
  const tag = (TAG as Record<string, number | undefined>)[e.type];
  if (tag === undefined) throw new EntryEncodeError(`unknown entry type ${JSON.stringify(e.type)}`);
  w.u8(tag);
  switch (e.type) {
    case 'commit':
      w.bytes(e.txnId, 'txnId');
      w.ts(e.readTs, 'readTs');
      w.ts(e.minCommitTs, 'minCommitTs');
      writeReads(w, e.reads);
      writeWrites(w, e.writes);
      break;
    case 'prepare':
      w.bytes(e.txnId, 'txnId');
      w.ts(e.readTs, 'readTs');
      w.ts(e.minCommitTs, 'minCommitTs');
      w.bytes(e.primaryKey, 'primaryKey');
      writeReads(w, e.reads);
      writeWrites(w, e.writes);
      break;
    case 'resolve':
      w.bytes(e.txnId, 'txnId');
      if (e.decision.kind === 'commit') {
        w.u8(1);
        w.ts(e.decision.commitTs, 'commitTs');
      } else {
        w.u8(0);
      }
      break;
    case 'closed-timestamp':
      w.ts(e.closedTs, 'closedTs');
      break;
    case 'schema-change':
      w.uvarint(e.descriptorId, 'descriptorId');
      w.uvarint(e.version, 'version');
      break;
    case 'split':
      w.bytes(e.splitKey, 'splitKey');
      w.uvarint(e.newShardId, 'newShardId');
      break;
    case 'merge':
      w.uvarint(e.rightShardId, 'rightShardId');
      break;
    case 'gc':
      w.ts(e.threshold, 'threshold');
      // A span is optional and trails the threshold: a gc entry without one covers the shard.
      if (e.span !== undefined) {
        w.bytes(e.span.start, 'span start');
        w.bytes(e.span.end, 'span end');
      }
      break;
    case 'stage':
      w.bytes(e.txnId, 'txnId');
      w.ts(e.readTs, 'readTs');
      w.uvarint(e.seq, 'seq');
      writeWrites(w, e.writes);
      break;
    case 'resolve-staged':
      w.bytes(e.txnId, 'txnId');
      w.u8(e.abort ? 1 : 0);
      break;
    case 'forget':
      w.uvarint(e.txnIds.length, 'txn count');
      for (const id of e.txnIds) w.bytes(id, 'txnId');
      break;
  }
  const payloadLen = w.pos - HEADER;
  if (payloadLen > 0xffffffff) throw new EntryEncodeError(`entry too large: ${payloadLen} bytes`);
  w.patchU32(1, payloadLen);
  const body = w.finish();
  w.u32(crc32c(body, 0, body.length));
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos: number;

  constructor(
    private readonly buf: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new EntryDecodeError('corrupt', `${what} runs past the end of the payload (offset ${this.pos})`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  ts(what: string): Timestamp {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    if (v > MAX_TS) throw new EntryDecodeError('corrupt', `${what} is the reserved timestamp 2^64-1`);
    return v;
  }

  uvarint(what: string): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8(what);
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (b === 0 && i > 0) throw new EntryDecodeError('corrupt', `${what}: non-minimal varint`);
        if (!Number.isSafeInteger(result)) throw new EntryDecodeError('corrupt', `${what}: varint out of range`);
        return result;
      }
      mul *= 0x80;
    }
    throw new EntryDecodeError('corrupt', `${what}: varint too long`);
  }

  bytes(what: string): Buffer {
    const n = this.uvarint(`${what} length`);
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  text(what: string): string {
    try {
      return utf8.decode(this.bytes(what));
    } catch (err) {
      if (err instanceof EntryDecodeError) throw err;
      throw new EntryDecodeError('corrupt', `${what} is not valid UTF-8`);
    }
  }

  /** A count of items that each take at least one byte: bounded by what is left. */
  count(what: string): number {
    const n = this.uvarint(what);
    if (n > this.remaining) throw new EntryDecodeError('corrupt', `${what} ${n} exceeds the ${this.remaining} byte(s) left`);
    return n;
  }
}

function readReads(r: Reader): ReadSpan[] {
  const n = r.count('read count');
  const out: ReadSpan[] = new Array<ReadSpan>(n);
  for (let i = 0; i < n; i++) {
    const kind = r.u8('read kind');
    if (kind === READ_POINT) out[i] = { kind: 'point', key: r.bytes('read key') };
    else if (kind === READ_SPAN) out[i] = { kind: 'span', start: r.bytes('read span start'), end: r.bytes('read span end') };
    else throw new EntryDecodeError('corrupt', `unknown read kind ${kind}`);
  }
  return out;
}

function readWrites(r: Reader): WriteOp[] {
  const n = r.count('write count');
  const out: WriteOp[] = new Array<WriteOp>(n);
  for (let i = 0; i < n; i++) {
    const kind = r.u8('write kind');
    if (kind === WRITE_PUT) {
      out[i] = { kind: 'put', key: r.bytes('write key'), value: r.bytes('write value') };
    } else if (kind === WRITE_PUT_IF_ABSENT) {
      const key = r.bytes('write key');
      const value = r.bytes('write value');
      const constraint = r.text('constraint name');
      const hasDetail = r.u8('detail flag');
      if (hasDetail > 1) throw new EntryDecodeError('corrupt', `bad detail flag ${hasDetail}`);
      out[i] = hasDetail === 1
        ? { kind: 'put', key, value, ifAbsent: { constraint, detail: r.text('constraint detail') } }
        : { kind: 'put', key, value, ifAbsent: { constraint } };
    } else if (kind === WRITE_DELETE) {
      out[i] = { kind: 'delete', key: r.bytes('write key') };
    } else {
      throw new EntryDecodeError('corrupt', `unknown write kind ${kind}`);
    }
  }
  return out;
}

function decodePayload(r: Reader): LogEntry {
  const tag = r.u8('type tag');
  switch (tag) {
    case TAG.commit:
      return {
        type: 'commit',
        txnId: r.bytes('txnId'),
        readTs: r.ts('readTs'),
        minCommitTs: r.ts('minCommitTs'),
        reads: readReads(r),
        writes: readWrites(r),
      };
    case TAG.prepare:
      return {
        type: 'prepare',
        txnId: r.bytes('txnId'),
        readTs: r.ts('readTs'),
        minCommitTs: r.ts('minCommitTs'),
        primaryKey: r.bytes('primaryKey'),
        reads: readReads(r),
        writes: readWrites(r),
      };
    case TAG.resolve: {
      const txnId = r.bytes('txnId');
      const d = r.u8('decision');
      if (d === 0) return { type: 'resolve', txnId, decision: { kind: 'abort' } };
      if (d === 1) return { type: 'resolve', txnId, decision: { kind: 'commit', commitTs: r.ts('commitTs') } };
      throw new EntryDecodeError('corrupt', `unknown resolve decision ${d}`);
    }
    case TAG['closed-timestamp']:
      return { type: 'closed-timestamp', closedTs: r.ts('closedTs') };
    case TAG['schema-change']:
      return { type: 'schema-change', descriptorId: r.uvarint('descriptorId'), version: r.uvarint('version') };
    case TAG.split:
      return { type: 'split', splitKey: r.bytes('splitKey'), newShardId: r.uvarint('newShardId') };
    case TAG.merge:
      return { type: 'merge', rightShardId: r.uvarint('rightShardId') };
    case TAG.gc: {
      const threshold = r.ts('threshold');
      if (r.remaining === 0) return { type: 'gc', threshold };
      return { type: 'gc', threshold, span: { start: r.bytes('span start'), end: r.bytes('span end') } };
    }
    case TAG.stage:
      return { type: 'stage', txnId: r.bytes('txnId'), readTs: r.ts('readTs'), seq: r.uvarint('seq'), writes: readWrites(r) };
    case TAG['resolve-staged']: {
      const txnId = r.bytes('txnId');
      const abort = r.u8('abort flag');
      if (abort > 1) throw new EntryDecodeError('corrupt', `bad abort flag ${abort}`);
      return { type: 'resolve-staged', txnId, abort: abort === 1 };
    }
    case TAG.forget: {
      const n = r.count('txn count');
      const txnIds: Buffer[] = new Array<Buffer>(n);
      for (let i = 0; i < n; i++) txnIds[i] = r.bytes('txnId');
      return { type: 'forget', txnIds };
    }
    default:
      throw new EntryDecodeError('unknown-type', `unknown entry type tag ${tag} in format version ${FORMAT_VERSION}`);
  }
}

/**
 * Decodes one entry. Integrity first (length, CRC), then the version, then the fields, so a
 * damaged entry is reported as 'truncated' or 'corrupt' and a well-formed entry of a newer
 * format as 'unknown-version'; nothing is ever half-decoded.
 */
export function decodeEntry(input: Uint8Array): LogEntry {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < HEADER + TRAILER) {
    throw new EntryDecodeError('truncated', `entry is ${buf.length} byte(s), shorter than the ${HEADER + TRAILER}-byte envelope`);
  }
  const payloadLen = buf.readUInt32BE(1);
  const total = HEADER + payloadLen + TRAILER;
  if (buf.length < total) throw new EntryDecodeError('truncated', `entry declares ${total} bytes but has ${buf.length}`);
  if (buf.length > total) throw new EntryDecodeError('corrupt', `entry declares ${total} bytes but has ${buf.length}`);
  const stored = buf.readUInt32BE(total - TRAILER);
  const actual = crc32c(buf, 0, total - TRAILER);
  if (stored !== actual) {
    throw new EntryDecodeError('corrupt', `checksum mismatch (stored ${stored.toString(16).padStart(8, '0')}, computed ${actual.toString(16).padStart(8, '0')})`);
  }
  const version = buf[0];
  if (version !== FORMAT_VERSION) {
    throw new EntryDecodeError('unknown-version', `entry format version ${version} is not supported (this build reads version ${FORMAT_VERSION}); upgrade before applying this log`);
  }
  const r = new Reader(buf, HEADER, HEADER + payloadLen);
  const entry = decodePayload(r);
  if (r.remaining !== 0) throw new EntryDecodeError('corrupt', `${r.remaining} unexpected byte(s) after the ${entry.type} entry`);
  return entry;
}

/**
 * The transaction a `commit` or `resolve` entry settles, read from its first field without
 * decoding the rest; undefined for other entries. For a replica that has just applied the entry
 * (apply checked it): the leader lets the transaction's row locks go at that moment.
 */
export function settledTxnOf(input: Uint8Array): Buffer | undefined {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < HEADER + 1 + TRAILER || buf[0] !== FORMAT_VERSION) return undefined;
  const tag = buf[HEADER];
  if (tag !== TAG.commit && tag !== TAG.resolve) return undefined;
  try {
    return new Reader(buf, HEADER + 1, buf.length - TRAILER).bytes('txnId');
  } catch {
    return undefined;
  }
}
