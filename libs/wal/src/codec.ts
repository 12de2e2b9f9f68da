/**
 * Binary encoding of WAL records. A frame on disk is
 *
 *   [length u32 LE][crc32 u32 LE][payload: `length` bytes]
 *
 * with the CRC over the payload. Every payload starts with a fixed header
 *
 *   [version u8][kind u8][flags u8][reserved u8][group u64 LE]
 *
 * so a future format can be recognised record by record. Numbers wider than 32 bits are
 * written as two u32 halves (low first) and must be safe JS integers.
 */
import type { ConfState, Entry, HardState, Snapshot } from '../../raft/src/types';
import { crc32 } from './crc32';
import { GroupRecord, LogRecord, RecordKind } from './records';

export const FORMAT_VERSION = 1;
export const FRAME_HEADER_BYTES = 8;
const PAYLOAD_HEADER_BYTES = 12;
/** Larger lengths can only be garbage; refusing them keeps a bad length from allocating GiBs. */
export const MAX_PAYLOAD_BYTES = 1 << 30;
/** "WEFTWAL" + NUL: identifies a segment even if it was renamed. */
const MAGIC = Buffer.from('WEFTWAL\0', 'latin1');

/** Thrown by the decoder; recovery turns it into a WalCorruptionError with file and offset. */
export class MalformedRecordError extends Error {}

const TWO_32 = 0x1_0000_0000;

class Writer {
  private pos = FRAME_HEADER_BYTES;
  readonly buf: Buffer;
  constructor(payloadBytes: number) {
    this.buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  }
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }
  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`wal: ${v} is not a non-negative safe integer`);
    this.buf.writeUInt32LE(v % TWO_32, this.pos);
    this.buf.writeUInt32LE(Math.floor(v / TWO_32), this.pos + 4);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  /** Fills in the frame header; the payload must have been written exactly. */
  finish(): Buffer {
    if (this.pos !== this.buf.length) throw new Error(`wal: encoder size mismatch ${this.pos} != ${this.buf.length}`);
    const payload = this.buf.subarray(FRAME_HEADER_BYTES);
    this.buf.writeUInt32LE(payload.length, 0);
    this.buf.writeUInt32LE(crc32(payload), 4);
    return this.buf;
  }
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new MalformedRecordError(`payload ends early (need ${n} bytes at ${this.pos})`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    if (hi > 0x1fffff) throw new MalformedRecordError('integer exceeds 2^53');
    return hi * TWO_32 + lo;
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
  /** A view (no copy) of the next n bytes. */
  view(n: number): Buffer {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** Copies, so decoded entries do not pin the whole segment buffer in memory. */
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new MalformedRecordError(`${this.buf.length - this.pos} trailing bytes`);
  }
}

const idListBytes = (ids: readonly number[]): number => 4 + 8 * ids.length;
const confStateBytes = (c: ConfState): number =>
  idListBytes(c.voters) + idListBytes(c.learners) + idListBytes(c.votersOutgoing) + idListBytes(c.learnersNext) + 1;

function writeIds(w: Writer, ids: readonly number[]): void {
  w.u32(ids.length);
  for (const id of ids) w.u64(id);
}

function readIds(r: Reader): number[] {
  const n = r.u32();
  if (n > 1 << 20) throw new MalformedRecordError(`implausible member count ${n}`);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(r.u64());
  return ids;
}

function header(w: Writer, kind: RecordKind, group: number, flags = 0): void {
  w.u8(FORMAT_VERSION);
  w.u8(kind);
  w.u8(flags);
  w.u8(0);
  w.u64(group);
}

/** Encodes one record as a complete frame (header, CRC, payload). */
export function encodeRecord(rec: LogRecord): Buffer {
  switch (rec.kind) {
    case RecordKind.Entries: {
      let size = PAYLOAD_HEADER_BYTES + 12;
      for (const e of rec.entries) size += 13 + e.data.length;
      const w = new Writer(size);
      header(w, rec.kind, rec.group);
      w.u64(rec.entries.length === 0 ? 0 : rec.entries[0].index);
      w.u32(rec.entries.length);
      for (const e of rec.entries) {
        w.u64(e.term);
        w.u8(e.type);
        w.u32(e.data.length);
        w.bytes(e.data);
      }
      return w.finish();
    }
    case RecordKind.HardState: {
      const w = new Writer(PAYLOAD_HEADER_BYTES + 24);
      header(w, rec.kind, rec.group);
      w.u64(rec.hardState.term);
      w.u64(rec.hardState.vote);
      w.u64(rec.hardState.commit);
      return w.finish();
    }
    case RecordKind.Snapshot: {
      const { metadata, data } = rec.snapshot;
      const w = new Writer(PAYLOAD_HEADER_BYTES + 16 + confStateBytes(metadata.confState) + 4 + data.length);
      header(w, rec.kind, rec.group, rec.reset ? 1 : 0);
      w.u64(metadata.index);
      w.u64(metadata.term);
      writeIds(w, metadata.confState.voters);
      writeIds(w, metadata.confState.learners);
      writeIds(w, metadata.confState.votersOutgoing);
      writeIds(w, metadata.confState.learnersNext);
      w.u8(metadata.confState.autoLeave ? 1 : 0);
      w.u32(data.length);
      w.bytes(data);
      return w.finish();
    }
    case RecordKind.Compact: {
      const w = new Writer(PAYLOAD_HEADER_BYTES + 16);
      header(w, rec.kind, rec.group);
      w.u64(rec.index);
      w.u64(rec.term);
      return w.finish();
    }
    case RecordKind.SegmentHeader: {
      const w = new Writer(PAYLOAD_HEADER_BYTES + MAGIC.length + 16);
      header(w, rec.kind, 0);
      w.bytes(MAGIC);
      w.u64(rec.seq);
      w.u64(rec.prevEnd);
      return w.finish();
    }
    case RecordKind.CheckpointEnd: {
      const w = new Writer(PAYLOAD_HEADER_BYTES + 8);
      header(w, rec.kind, 0);
      w.u64(rec.records);
      return w.finish();
    }
  }
}

/**
 * Encodes several group records as one Batch frame: `[count u32]{[payload length u32][payload]}`
 * after the usual payload header (group 0). One CRC covers all of them, so recovery sees the
 * whole batch or, if the crash tore it, none of it. A single record is framed on its own.
 */
export function encodeBatch(recs: readonly GroupRecord[]): Buffer {
  if (recs.length === 1) return encodeRecord(recs[0]);
  const subs = recs.map((r) => encodeRecord(r).subarray(FRAME_HEADER_BYTES));
  let size = PAYLOAD_HEADER_BYTES + 4;
  for (const p of subs) size += 4 + p.length;
  const w = new Writer(size);
  header(w, RecordKind.Batch, 0);
  w.u32(subs.length);
  for (const p of subs) {
    w.u32(p.length);
    w.bytes(p);
  }
  return w.finish();
}

/**
 * Decodes a checked payload into its records: one, or a Batch's group records in order.
 * Throws MalformedRecordError.
 */
export function decodeFrame(payload: Buffer): LogRecord[] {
  if (payload.length < PAYLOAD_HEADER_BYTES || payload[1] !== (RecordKind.Batch as number)) return [decodePayload(payload)];
  if (payload[0] !== FORMAT_VERSION) throw new MalformedRecordError(`unknown record version ${payload[0]}`);
  const r = new Reader(payload);
  r.skip(PAYLOAD_HEADER_BYTES);
  const count = r.u32();
  if (count < 2 || count > payload.length) throw new MalformedRecordError(`implausible batch count ${count}`);
  const out: LogRecord[] = [];
  for (let i = 0; i < count; i++) {
    const len = r.u32();
    const rec = decodePayload(r.view(len));
    if (!('group' in rec)) throw new MalformedRecordError(`batch holds a ${RecordKind[rec.kind]} record`);
    out.push(rec);
  }
  r.end();
  return out;
}

/** Decodes a payload whose CRC has already been checked. Throws MalformedRecordError. */
export function decodePayload(payload: Buffer): LogRecord {
  const r = new Reader(payload);
  const version = r.u8();
  if (version !== FORMAT_VERSION) throw new MalformedRecordError(`unknown record version ${version}`);
  const kind = r.u8() as RecordKind;
  const flags = r.u8();
  r.u8();
  const group = r.u64();
  let rec: LogRecord;
  switch (kind) {
    case RecordKind.Entries: {
      const first = r.u64();
      const count = r.u32();
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) {
        const term = r.u64();
        const type = r.u8();
        if (type > 1) throw new MalformedRecordError(`unknown entry type ${type}`);
        const len = r.u32();
        entries.push({ index: first + i, term, type, data: r.bytes(len) });
      }
      rec = { kind, group, entries };
      break;
    }
    case RecordKind.HardState: {
      const hardState: HardState = { term: r.u64(), vote: r.u64(), commit: r.u64() };
      rec = { kind, group, hardState };
      break;
    }
    case RecordKind.Snapshot: {
      const index = r.u64();
      const term = r.u64();
      const confState: ConfState = {
        voters: readIds(r),
        learners: readIds(r),
        votersOutgoing: readIds(r),
        learnersNext: readIds(r),
        autoLeave: r.u8() === 1,
      };
      const data = r.bytes(r.u32());
      const snapshot: Snapshot = { metadata: { index, term, confState }, data };
      rec = { kind, group, snapshot, reset: (flags & 1) === 1 };
      break;
    }
    case RecordKind.Compact:
      rec = { kind, group, index: r.u64(), term: r.u64() };
      break;
    case RecordKind.SegmentHeader: {
      const magic = r.bytes(MAGIC.length);
      if (!MAGIC.equals(magic)) throw new MalformedRecordError('bad segment magic');
      rec = { kind, seq: r.u64(), prevEnd: r.u64() };
      break;
    }
    case RecordKind.CheckpointEnd:
      rec = { kind, records: r.u64() };
      break;
    default:
      throw new MalformedRecordError(`unknown record kind ${String(kind)}`);
  }
  r.end();
  return rec;
}
