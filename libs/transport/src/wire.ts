import { FrameDecodeError } from './errors';

/**
 * Byte-level primitives shared by the codec. Numbers are unsigned LEB128 varints limited to
 * 8 bytes (56 bits) and to Number.MAX_SAFE_INTEGER, because Raft terms, indexes and ids are
 * JS numbers: anything larger could not round-trip exactly.
 */

const MAX_VARINT_BYTES = 8;

export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** Encoding-side guard: a negative or fractional number would silently produce garbage. */
export function checkU53(v: number, field: string): number {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`cannot encode ${field}=${String(v)}: not a non-negative safe integer`);
  }
  return v;
}

/** Writes into a buffer sized beforehand by the matching *Size functions (no bounds checks). */
export class ByteWriter {
  private readonly buf: Uint8Array;

  constructor(
    buf: Uint8Array,
    public pos: number,
  ) {
    // Plain view for the same reason as ByteReader: set() on a Buffer subclass is slower.
    this.buf = Buffer.isBuffer(buf) ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf;
  }

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.buf[this.pos++] = v & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
  }

  varint(v: number): void {
    // Division instead of >>> because values go up to 2^53, beyond 32-bit bit operations.
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

/** Bounds-checked reader: every read is validated against the buffer before it happens. */
export class ByteReader {
  pos = 0;
  private readonly buf: Uint8Array;

  constructor(input: Uint8Array) {
    // A plain Uint8Array view, not a Buffer: subarray() then yields plain Uint8Arrays and
    // skips Buffer's slower species machinery on the per-entry hot path.
    this.buf = Buffer.isBuffer(input) ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : input;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(field: string): number {
    if (this.pos >= this.buf.length) throw this.truncated(field);
    return this.buf[this.pos++];
  }

  u16(field: string): number {
    if (this.remaining < 2) throw this.truncated(field);
    const v = this.buf[this.pos] | (this.buf[this.pos + 1] << 8);
    this.pos += 2;
    return v;
  }

  varint(field: string): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.buf.length) throw this.truncated(field);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) {
          throw new FrameDecodeError('varint', `${field} exceeds 2^53-1`, start);
        }
        return result;
      }
      mul *= 0x80;
    }
    throw new FrameDecodeError('varint', `${field} varint longer than ${MAX_VARINT_BYTES} bytes`, start);
  }

  /**
   * A count of items that each take at least `minItemBytes`: checked against the remaining
   * bytes so a forged count can never make us allocate a huge array.
   */
  count(field: string, minItemBytes: number): number {
    const start = this.pos;
    const n = this.varint(field);
    if (n * minItemBytes > this.remaining) {
      throw new FrameDecodeError('length', `${field}=${n} cannot fit in ${this.remaining} bytes`, start);
    }
    return n;
  }

  /**
   * Length-prefixed bytes as a zero-copy view into the frame. Copying each entry was the
   * receiver's main cost (every copy over 64 bytes is a separate off-heap allocation); the
   * price is that a retained entry pins its frame, which FrameReader allocates per frame.
   */
  lengthPrefixed(field: string): Uint8Array {
    const start = this.pos;
    const len = this.varint(field);
    if (len > this.remaining) {
      throw new FrameDecodeError('length', `${field} length ${len} exceeds remaining ${this.remaining}`, start);
    }
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  expectEnd(): void {
    if (this.pos !== this.buf.length) {
      throw new FrameDecodeError('trailing', `${this.remaining} trailing bytes`, this.pos);
    }
  }

  private truncated(field: string): FrameDecodeError {
    return new FrameDecodeError('truncated', `frame ends inside ${field}`, this.pos);
  }
}
