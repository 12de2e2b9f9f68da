// Binary framing of a shard snapshot stream (what a leader sends a lagging or new replica).
//
//   stream  = header frame, records frame*, trailer frame
//   frame   = kind:u8 | length:u32be | payload[length] | crc32c:u32be (over kind, length, payload)
//   header  = magic "WEFTSNAP" | format:u8 | shardId:u32be
//   records = count:u32be | (keyLen:u32be key valueLen:u32be value){count}
//   trailer = appliedIndex:u64be | stateHash[32] | records:u64be | lastCommitTs:u64be
//
// Every frame carries its own checksum, so a flipped bit is caught at the frame it hits, before
// the records are written anywhere. The trailer restates what the receiver must find after
// writing the records (the apply state's index and the state hash, recomputed from the data) and
// how many records it should have seen, so a truncated or spliced stream is rejected too.
// Frames are cut independently of transport chunks: the decoder buffers partial frames.

import { crc32c } from '@weft/logentry';
import { STATE_HASH_BYTES } from '@weft/materialize';

export const SNAPSHOT_FORMAT = 1;
const MAGIC = Buffer.from('WEFTSNAP', 'latin1');

const FrameKind = { Header: 0x48, Records: 0x52, Trailer: 0x54 } as const;
type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const FRAME_OVERHEAD = 1 + 4 + 4;
/** No frame the encoder writes comes near this; a larger length is a corrupt length field. */
export const MAX_FRAME_BYTES = 64 << 20;
const HEADER_BYTES = MAGIC.length + 1 + 4;
const TRAILER_BYTES = 8 + STATE_HASH_BYTES + 8 + 8;

/** The stream is not a well-formed snapshot (corrupt, truncated, or for another shard). */
export class SnapshotFormatError extends Error {
  override readonly name = 'SnapshotFormatError';
}

export interface SnapshotHeader {
  readonly format: number;
  readonly shardId: number;
}

export interface SnapshotTrailer {
  /** Applied index of the state the records make up (>= the Raft snapshot's index). */
  readonly appliedIndex: number;
  readonly stateHash: Buffer;
  readonly records: number;
  readonly lastCommitTs: bigint;
}

export type SnapshotFrame =
  | { readonly kind: 'header'; readonly header: SnapshotHeader }
  /** Flat [key, value, key, value, ...], as RocksDB iterators return them. */
  | { readonly kind: 'records'; readonly rows: readonly Buffer[] }
  | { readonly kind: 'trailer'; readonly trailer: SnapshotTrailer };

function frame(kind: FrameKind, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_OVERHEAD + payload.length);
  out[0] = kind;
  out.writeUInt32BE(payload.length, 1);
  payload.copy(out, 5);
  out.writeUInt32BE(crc32c(out.subarray(0, 5 + payload.length)), 5 + payload.length);
  return out;
}

export function encodeHeader(shardId: number): Buffer {
  const p = Buffer.allocUnsafe(HEADER_BYTES);
  MAGIC.copy(p, 0);
  p[MAGIC.length] = SNAPSHOT_FORMAT;
  p.writeUInt32BE(shardId, MAGIC.length + 1);
  return frame(FrameKind.Header, p);
}

/** One records frame from a flat [key, value, ...] array. */
export function encodeRecords(rows: readonly Buffer[]): Buffer {
  let size = 4;
  for (const r of rows) size += 4 + r.length;
  const p = Buffer.allocUnsafe(size);
  p.writeUInt32BE(rows.length / 2, 0);
  let off = 4;
  for (const r of rows) {
    p.writeUInt32BE(r.length, off);
    r.copy(p, off + 4);
    off += 4 + r.length;
  }
  return frame(FrameKind.Records, p);
}

export function encodeTrailer(t: SnapshotTrailer): Buffer {
  if (t.stateHash.length !== STATE_HASH_BYTES) throw new RangeError(`state hash must be ${STATE_HASH_BYTES} bytes`);
  const p = Buffer.allocUnsafe(TRAILER_BYTES);
  p.writeBigUInt64BE(BigInt(t.appliedIndex), 0);
  t.stateHash.copy(p, 8);
  p.writeBigUInt64BE(BigInt(t.records), 8 + STATE_HASH_BYTES);
  p.writeBigUInt64BE(t.lastCommitTs, 16 + STATE_HASH_BYTES);
  return frame(FrameKind.Trailer, p);
}

/**
 * Incremental decoder: push transport chunks as they arrive, get whole, checksum-verified
 * frames back; end() once the stream is complete. Throws SnapshotFormatError naming the frame
 * and byte offset of the first problem.
 */
export class SnapshotDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Stream offset of the first pending byte. */
  private offset = 0;
  private frames = 0;
  private sawHeader = false;
  private sawTrailer = false;

  push(chunk: Uint8Array): SnapshotFrame[] {
    if (chunk.length === 0) return [];
    if (this.sawTrailer) throw new SnapshotFormatError(`${chunk.length} bytes after the trailer at offset ${this.offset}`);
    this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingBytes += chunk.length;
    const out: SnapshotFrame[] = [];
    for (;;) {
      if (this.pendingBytes < 5) break;
      const head = this.peek(5);
      const len = head.readUInt32BE(1);
      if (len > MAX_FRAME_BYTES) throw new SnapshotFormatError(`frame ${this.frames} at offset ${this.offset}: length ${len} exceeds ${MAX_FRAME_BYTES}`);
      const total = FRAME_OVERHEAD + len;
      if (this.pendingBytes < total) break;
      const f = this.take(total);
      const want = f.readUInt32BE(5 + len);
      if (crc32c(f.subarray(0, 5 + len)) !== want) {
        throw new SnapshotFormatError(`frame ${this.frames} at offset ${this.offset - total}: checksum mismatch`);
      }
      out.push(this.decodeFrame(f[0], f.subarray(5, 5 + len), this.offset - total));
      this.frames++;
      if (this.sawTrailer && this.pendingBytes > 0) {
        throw new SnapshotFormatError(`${this.pendingBytes} bytes after the trailer at offset ${this.offset}`);
      }
    }
    // A partial frame waits for the next chunk: keep a copy, not a view into the caller's
    // buffer, which the transport may reuse once this returns.
    if (this.pendingBytes > 0) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return out;
  }

  /** The stream is over: it must have ended exactly after the trailer. */
  end(): void {
    if (!this.sawTrailer) {
      throw new SnapshotFormatError(`stream ended after ${this.offset + this.pendingBytes} bytes (${this.frames} frames) without a trailer`);
    }
  }

  private decodeFrame(kind: number, p: Buffer, at: number): SnapshotFrame {
    const where = `frame ${this.frames} at offset ${at}`;
    if (!this.sawHeader && kind !== FrameKind.Header) throw new SnapshotFormatError(`${where}: expected the header frame first`);
    switch (kind) {
      case FrameKind.Header: {
        if (this.sawHeader) throw new SnapshotFormatError(`${where}: second header frame`);
        if (p.length !== HEADER_BYTES || !p.subarray(0, MAGIC.length).equals(MAGIC)) throw new SnapshotFormatError(`${where}: not a Weft snapshot header`);
        const format = p[MAGIC.length];
        if (format !== SNAPSHOT_FORMAT) throw new SnapshotFormatError(`${where}: snapshot format ${format} is not supported (expected ${SNAPSHOT_FORMAT})`);
        this.sawHeader = true;
        return { kind: 'header', header: { format, shardId: p.readUInt32BE(MAGIC.length + 1) } };
      }
      case FrameKind.Records:
        return { kind: 'records', rows: decodeRows(p, where) };
      case FrameKind.Trailer: {
        if (p.length !== TRAILER_BYTES) throw new SnapshotFormatError(`${where}: trailer is ${p.length} bytes, expected ${TRAILER_BYTES}`);
        this.sawTrailer = true;
        return {
          kind: 'trailer',
          trailer: {
            appliedIndex: Number(p.readBigUInt64BE(0)),
            stateHash: Buffer.from(p.subarray(8, 8 + STATE_HASH_BYTES)),
            records: Number(p.readBigUInt64BE(8 + STATE_HASH_BYTES)),
            lastCommitTs: p.readBigUInt64BE(16 + STATE_HASH_BYTES),
          },
        };
      }
      default:
        throw new SnapshotFormatError(`${where}: unknown frame kind 0x${kind.toString(16)}`);
    }
  }

  private peek(n: number): Buffer {
    if (this.pending[0].length >= n) return this.pending[0].subarray(0, n);
    return Buffer.concat(this.pending, this.pendingBytes).subarray(0, n);
  }

  private take(n: number): Buffer {
    let whole: Buffer;
    if (this.pending[0].length >= n) {
      whole = this.pending[0];
    } else {
      whole = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [whole];
    }
    const f = whole.subarray(0, n);
    const rest = whole.subarray(n);
    this.pending[0] = rest;
    if (rest.length === 0) this.pending.shift();
    this.pendingBytes -= n;
    this.offset += n;
    return f;
  }
}

function decodeRows(p: Buffer, where: string): Buffer[] {
  if (p.length < 4) throw new SnapshotFormatError(`${where}: records frame too short`);
  const count = p.readUInt32BE(0);
  const rows: Buffer[] = [];
  let off = 4;
  for (let i = 0; i < count * 2; i++) {
    if (off + 4 > p.length) throw new SnapshotFormatError(`${where}: record ${i >> 1} runs past the frame`);
    const len = p.readUInt32BE(off);
    if (off + 4 + len > p.length) throw new SnapshotFormatError(`${where}: record ${i >> 1} runs past the frame`);
    // Views into the frame: the sink writes them to RocksDB (which copies) before the next push.
    rows.push(p.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  if (off !== p.length) throw new SnapshotFormatError(`${where}: ${p.length - off} bytes after the last record`);
  return rows;
}

const REF_MAGIC = Buffer.from('WSR1', 'latin1');

/**
 * The small `data` the Raft log records for a snapshot: which applied index the shard's state
 * was at. The state itself lives in the replica's store, never in the log.
 */
export function encodeSnapshotRef(appliedIndex: number): Buffer {
  const out = Buffer.allocUnsafe(REF_MAGIC.length + 8);
  REF_MAGIC.copy(out, 0);
  out.writeBigUInt64BE(BigInt(appliedIndex), REF_MAGIC.length);
  return out;
}

/** The applied index a snapshot reference names, or undefined for data that is not one. */
export function decodeSnapshotRef(data: Uint8Array): number | undefined {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length !== REF_MAGIC.length + 8 || !b.subarray(0, REF_MAGIC.length).equals(REF_MAGIC)) return undefined;
  return Number(b.readBigUInt64BE(REF_MAGIC.length));
}
