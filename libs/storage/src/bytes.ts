// Byte-level building blocks shared by the key, row and MVCC codecs: a growable writer and a
// reader that can see its input through an XOR mask. The mask is how DESC columns work: a
// descending element is the bitwise inverse of its ascending encoding, so decoders are written
// once for the ascending domain and read descending bytes with mask 0xff.

export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialCapacity = 64) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16be(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  u32be(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  u64be(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
  }

  f32be(v: number): void {
    this.ensure(4);
    this.buf.writeFloatBE(v, this.pos);
    this.pos += 4;
  }

  f64be(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  utf8(s: string): void {
    // Worst case 3 bytes per UTF-16 unit; write directly instead of allocating a temp Buffer.
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Unsigned LEB128 varint (rows and intents; not order-preserving). */
  uvarint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`uvarint out of range: ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** Inverts the bytes written since `start` (turns an ascending element into a descending one). */
  invertFrom(start: number): void {
    for (let i = start; i < this.pos; i++) this.buf[i] = ~this.buf[i] & 0xff;
  }

  /** Returns a view of the written bytes; the writer must not be used afterwards. */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class ByteReader {
  pos: number;
  /** 0x00 reads bytes as stored; 0xff reads a descending (inverted) element in its ascending form. */
  mask = 0;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new CorruptEncodingError(`truncated: need ${n} byte(s) at offset ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++] ^ this.mask;
  }

  peek(): number {
    this.need(1);
    return this.buf[this.pos] ^ this.mask;
  }

  /** Copies n bytes, un-masked. */
  take(n: number): Buffer {
    this.need(n);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    if (this.mask !== 0) for (let i = 0; i < n; i++) out[i] ^= this.mask;
    this.pos += n;
    return out;
  }

  u16be(): number {
    const b = this.take(2);
    return b.readUInt16BE(0);
  }

  u32be(): number {
    const b = this.take(4);
    return b.readUInt32BE(0);
  }

  u64be(): bigint {
    const b = this.take(8);
    return b.readBigUInt64BE(0);
  }

  uvarint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 0x80;
    }
    throw new CorruptEncodingError('uvarint too long');
  }
}

/** Thrown when bytes handed to a decoder are not a valid encoding (corruption or wrong schema). */
export class CorruptEncodingError extends Error {
  override readonly name = 'CorruptEncodingError';
}

/**
 * The smallest key greater than every key that starts with `prefix`, or undefined when no such
 * key exists (prefix is all 0xff). Used as the exclusive end of prefix scans.
 */
export function prefixEnd(prefix: Uint8Array): Buffer | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const out = Buffer.from(prefix.subarray(0, i + 1));
      out[i]++;
      return out;
    }
  }
  return undefined;
}
