/**
 * Incremental framing of the client byte stream. Feed it TCP chunks in any split; it yields
 * complete packets. The first packet(s) of a connection carry no type byte (StartupMessage,
 * SSLRequest, GSSENCRequest, CancelRequest); every later one is type byte + int32 length.
 * Lengths are validated before any allocation so a hostile length can't exhaust memory.
 */
import { ProtocolViolation } from './errors';

export interface Packet {
  /** Message type byte, or 0 for an untyped startup-phase packet. */
  type: number;
  /** Message body without type byte and length word. A view that is never overwritten later. */
  body: Buffer;
}

export interface ReaderLimits {
  /** Largest typed message accepted (length word included). */
  maxMessageLength: number;
  /** Largest startup-phase packet accepted; Postgres uses 10000. */
  maxStartupLength: number;
}

export const DEFAULT_LIMITS: ReaderLimits = {
  maxMessageLength: 64 * 1024 * 1024,
  maxStartupLength: 10000,
};

export class MessageReader {
  private buf: Buffer = Buffer.alloc(0);
  private off = 0;
  private end = 0;
  /** Untyped packets are expected until the connection leaves the startup phase. */
  startupPhase = true;

  constructor(private readonly limits: ReaderLimits = DEFAULT_LIMITS) {}

  /** Bytes received but not yet returned as packets. */
  get buffered(): number {
    return this.end - this.off;
  }

  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.off === this.end) {
      // Common case: nothing pending, parse straight out of the socket's buffer.
      this.buf = chunk;
      this.off = 0;
      this.end = chunk.length;
      return;
    }
    const pending = this.end - this.off;
    const need = pending + chunk.length;
    if (this.buf.length - this.end >= chunk.length && this.ownsBuffer) {
      // Spare capacity after the pending bytes: append without touching returned views.
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
      return;
    }
    // Always a fresh buffer: packets already handed out may still view the old one.
    // Doubling keeps reassembly of a large message split into many chunks linear.
    const next = Buffer.allocUnsafe(Math.max(need, pending * 2, 4096));
    this.buf.copy(next, 0, this.off, this.end);
    chunk.copy(next, pending);
    this.buf = next;
    this.off = 0;
    this.end = need;
    this.ownsBuffer = true;
  }

  private ownsBuffer = false;

  /** Next complete packet, null if more bytes are needed. Throws ProtocolViolation. */
  next(): Packet | null {
    const avail = this.end - this.off;
    if (this.startupPhase) {
      if (avail < 4) return null;
      const len = this.buf.readInt32BE(this.off);
      if (len < 8 || len > this.limits.maxStartupLength) {
        throw new ProtocolViolation(`invalid length of startup packet: ${len}`);
      }
      if (avail < len) return null;
      const body = this.buf.subarray(this.off + 4, this.off + len);
      this.advance(len);
      return { type: 0, body };
    }
    if (avail < 5) return null;
    const type = this.buf[this.off];
    const len = this.buf.readInt32BE(this.off + 1);
    if (len < 4) throw new ProtocolViolation(`invalid message length ${len}`);
    if (len > this.limits.maxMessageLength) {
      throw new ProtocolViolation(`message length ${len} exceeds the limit of ${this.limits.maxMessageLength} bytes`);
    }
    if (avail < len + 1) return null;
    const body = this.buf.subarray(this.off + 5, this.off + 1 + len);
    this.advance(len + 1);
    return { type, body };
  }

  private advance(n: number): void {
    this.off += n;
    if (this.off === this.end) {
      // Drop the reference so a large chunk isn't retained by an idle connection.
      this.buf = Buffer.alloc(0);
      this.off = 0;
      this.end = 0;
      this.ownsBuffer = false;
    }
  }
}
