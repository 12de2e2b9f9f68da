/**
 * Segment files: naming and the frame scanner that recovery runs over each one.
 *
 * A segment is `<seq as 16 hex digits>.wal`. Its data is a sequence of frames; when the file
 * was preallocated, zeros follow the last frame. Recovery tells three endings apart:
 *  - clean: the frames end at EOF, or only zeros follow;
 *  - torn (last segment only): the final frame is incomplete, or fails its CRC with nothing but
 *    zeros after it — a write the crash interrupted, never acknowledged, safe to cut off;
 *  - corrupt: anything else. A bad frame followed by more data means bytes that were once
 *    synced have changed, and guessing past them could lose acknowledged records.
 */
import { crc32 } from './crc32';
import { FRAME_HEADER_BYTES, MAX_PAYLOAD_BYTES, MalformedRecordError, decodeFrame } from './codec';
import { WalCorruptionError } from './errors';
import type { LogRecord } from './records';

export const SEGMENT_SUFFIX = '.wal';
export const TMP_SUFFIX = '.wal.tmp';

export function segmentName(seq: number): string {
  return seq.toString(16).padStart(16, '0') + SEGMENT_SUFFIX;
}

/** The sequence number of a segment file name, or undefined for other files. */
export function parseSegmentName(name: string): number | undefined {
  const m = /^([0-9a-f]{16})\.wal$/.exec(name);
  return m ? parseInt(m[1], 16) : undefined;
}

const ZEROS = Buffer.alloc(64 * 1024);

export function isAllZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i += ZEROS.length) {
    const end = Math.min(buf.length, i + ZEROS.length);
    if (!buf.subarray(i, end).equals(ZEROS.subarray(0, end - i))) return false;
  }
  return true;
}

export interface ScanResult {
  /** Offset just past the last good frame. */
  readonly end: number;
  /** Set when a torn final frame was found (only ever in the last segment). */
  readonly torn?: { readonly offset: number; readonly reason: string };
}

/**
 * Walks the frames of one segment, handing each decoded record and its offset to `visit`.
 * Throws WalCorruptionError for anything that is not a clean end or (if `isLast`) a torn tail.
 */
export function scanSegment(
  buf: Buffer,
  file: string,
  isLast: boolean,
  visit: (rec: LogRecord, offset: number) => void,
): ScanResult {
  let off = 0;
  const fail = (reason: string): never => {
    throw new WalCorruptionError(file, off, reason);
  };
  const tornOrFail = (reason: string): ScanResult => {
    if (isLast) return { end: off, torn: { offset: off, reason } };
    return fail(reason);
  };
  while (off < buf.length) {
    if (buf.length - off < FRAME_HEADER_BYTES) {
      if (isAllZero(buf, off)) return { end: off };
      return tornOrFail('incomplete record header');
    }
    const len = buf.readUInt32LE(off);
    const sum = buf.readUInt32LE(off + 4);
    if (len === 0) {
      // A zero length never starts a real record (payloads carry a header); it is either
      // preallocated space or a zeroed-out region in the middle of the data.
      if (isAllZero(buf, off)) return { end: off };
      return fail('zero-length record followed by data');
    }
    if (len > MAX_PAYLOAD_BYTES) return fail(`record length ${len} exceeds the limit`);
    const end = off + FRAME_HEADER_BYTES + len;
    if (end > buf.length) return tornOrFail(`record of ${len} bytes runs past the end of the file`);
    const payload = buf.subarray(off + FRAME_HEADER_BYTES, end);
    if (crc32(payload) !== sum) {
      if (isAllZero(buf, end)) return tornOrFail('checksum mismatch in the final record');
      return fail('checksum mismatch');
    }
    let recs: LogRecord[];
    try {
      recs = decodeFrame(payload);
    } catch (e) {
      if (e instanceof MalformedRecordError) return fail(`malformed record: ${e.message}`);
      throw e;
    }
    for (const rec of recs) visit(rec, off);
    off = end;
  }
  return { end: off };
}
