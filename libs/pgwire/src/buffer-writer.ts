/**
 * A growable output buffer that backend messages are written into back to back, so a whole
 * response (RowDescription + N DataRows + CommandComplete + ReadyForQuery) leaves in one
 * socket write. Lengths are patched in place instead of building per-message buffers.
 */
export class BufferWriter {
  private buf: Buffer;
  private len = 0;
  private msgStart = -1;

  constructor(initialSize = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.len;
  }

  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Start a typed message; its int32 length is filled in by end(). */
  begin(type: number): this {
    this.ensure(5);
    this.buf[this.len] = type;
    this.msgStart = this.len + 1;
    this.len += 5;
    return this;
  }

  end(): this {
    this.buf.writeInt32BE(this.len - this.msgStart, this.msgStart);
    this.msgStart = -1;
    return this;
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.len);
    this.len += 2;
    return this;
  }

  uint16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.len);
    this.len += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v | 0, this.len);
    this.len += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }

  int64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.len);
    this.len += 8;
    return this;
  }

  float32(v: number): this {
    this.ensure(4);
    this.buf.writeFloatBE(v, this.len);
    this.len += 4;
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.len);
    this.len += 8;
    return this;
  }

  /** Null-terminated UTF-8 string. NUL bytes inside are not representable and are dropped. */
  cstring(s: string): this {
    const clean = s.includes('\0') ? s.replace(/\0/g, '') : s;
    this.ensure(Buffer.byteLength(clean) + 1);
    this.len += this.buf.write(clean, this.len, 'utf8');
    this.buf[this.len++] = 0;
    return this;
  }

  /** UTF-8 string without terminator. */
  string(s: string): this {
    this.ensure(Buffer.byteLength(s));
    this.len += this.buf.write(s, this.len, 'utf8');
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /** Reserve an int32 length slot (for a DataRow cell) and return its offset. */
  reserveLength(): number {
    this.ensure(4);
    const at = this.len;
    this.len += 4;
    return at;
  }

  /** Fill a slot from reserveLength() with the number of bytes written after it. */
  patchLength(at: number): void {
    this.buf.writeInt32BE(this.len - at - 4, at);
  }

  /** Drop everything written after `length` (a message that failed half-way). */
  truncate(length: number): void {
    if (length < this.len) this.len = Math.max(0, length);
    this.msgStart = -1;
  }

  /** Take the bytes written so far (a copy-free view when possible) and reset. */
  flush(): Buffer {
    const out = this.buf.subarray(0, this.len);
    // The view stays owned by the socket until written, so the next messages go to a new buffer.
    this.buf = Buffer.allocUnsafe(Math.max(16 * 1024, Math.min(this.buf.length, 1024 * 1024)));
    this.len = 0;
    return out;
  }
}
