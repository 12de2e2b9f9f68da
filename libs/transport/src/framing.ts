import { batchPayloadSize, encodeInto, frameSize, writeBatch, type Envelope, type Frame } from './codec';
import { FrameDecodeError } from './errors';
import { ByteWriter } from './wire';

/**
 * TCP framing: [u32 little-endian payload length][payload]. The length is checked against a
 * maximum before any byte of the payload is buffered, so a peer cannot make us allocate
 * (or wait for) more than maxFrameBytes.
 */

export const FRAME_HEADER_BYTES = 4;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** version + kind: nothing shorter can be a frame. */
const MIN_PAYLOAD_BYTES = 2;

function withHeader(payloadBytes: number): Buffer {
  // allocUnsafe: every byte is overwritten by the encoder, and this is the hot path.
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  buf.writeUInt32LE(payloadBytes, 0);
  return buf;
}

/** A complete length-prefixed frame, ready for socket.write. */
export function encodeFramed(frame: Frame): Buffer {
  const size = frameSize(frame);
  const buf = withHeader(size);
  encodeInto(frame, buf, FRAME_HEADER_BYTES);
  return buf;
}

/**
 * A batch frame from envelopes whose sizes the caller has already summed (the peer queue
 * tracks them for its byte bound), saving a second sizing pass on the hot path.
 */
export function encodeBatchFramed(envelopes: readonly Envelope[], envelopeBytes: number): Buffer {
  const size = batchPayloadSize(envelopes.length, envelopeBytes);
  const buf = withHeader(size);
  const w = new ByteWriter(buf, FRAME_HEADER_BYTES);
  writeBatch(w, envelopes);
  if (w.pos !== buf.length) throw new Error(`batch size mismatch: wrote ${w.pos}, sized ${buf.length}`);
  return buf;
}

/**
 * Reassembles frames from arbitrary TCP chunks. Chunks are kept as a list and only copied when
 * a frame spans several of them, so large frames cost one copy and small ones usually none.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Payload length of the frame being assembled, once its header has arrived. */
  private expected = -1;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Returns the payloads completed by `chunk`; throws FrameDecodeError on a bad length. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const len = this.take(FRAME_HEADER_BYTES).readUInt32LE(0);
        if (len > this.maxFrameBytes) {
          throw new FrameDecodeError('too_large', `frame length ${len} exceeds maximum ${this.maxFrameBytes}`, -1);
        }
        if (len < MIN_PAYLOAD_BYTES) {
          throw new FrameDecodeError('length', `frame length ${len} is shorter than a frame header`, -1);
        }
        this.expected = len;
      }
      if (this.buffered < this.expected) break;
      out.push(this.take(this.expected));
      this.expected = -1;
    }
    return out;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      // Decoded entries are views into their frame, so a small frame must not pin a large
      // socket chunk shared with other frames: copy it out when it is a minor part of one.
      out = n * 2 < first.buffer.byteLength ? Buffer.from(first.subarray(0, n)) : first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}
