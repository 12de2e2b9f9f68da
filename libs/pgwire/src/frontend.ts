/**
 * Decoding of frontend (client -> server) message bodies into typed messages. Every read is
 * bounds-checked and every malformed field raises ProtocolViolation, so a hostile byte
 * sequence becomes an 08P01 answer and never a RangeError from deep inside Buffer.
 */
import type { FormatCode } from './backend';
import { ProtocolViolation } from './errors';
import type { Packet } from './reader';

export const PROTOCOL_3_0 = 196608; // 3 << 16
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; secret: number }
  | { kind: 'startup'; major: number; minor: number; params: Map<string, string> };

export type FrontendMessage =
  | { type: 'Query'; sql: string }
  | { type: 'Parse'; name: string; sql: string; paramTypes: number[] }
  | {
      type: 'Bind';
      portal: string;
      statement: string;
      paramFormats: FormatCode[];
      params: (Buffer | null)[];
      resultFormats: FormatCode[];
    }
  | { type: 'Describe'; target: 'S' | 'P'; name: string }
  | { type: 'Execute'; portal: string; maxRows: number }
  | { type: 'Close'; target: 'S' | 'P'; name: string }
  | { type: 'Flush' }
  | { type: 'Sync' }
  | { type: 'Terminate' }
  | { type: 'CopyData'; data: Buffer }
  | { type: 'CopyDone' }
  | { type: 'CopyFail'; message: string }
  /** 'p': its meaning (password, SASLInitialResponse, SASLResponse) depends on the auth state. */
  | { type: 'AuthResponse'; body: Buffer }
  | { type: 'FunctionCall' };

/** Bounds-checked cursor over one message body. */
export class BodyReader {
  private off = 0;
  constructor(private readonly buf: Buffer, private readonly what: string) {}

  get remaining(): number {
    return this.buf.length - this.off;
  }

  private need(n: number): void {
    if (n < 0 || this.off + n > this.buf.length) {
      throw new ProtocolViolation(`invalid ${this.what} message format`);
    }
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.off);
    this.off += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }

  byte(): number {
    this.need(1);
    return this.buf[this.off++];
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.off);
    this.off = this.buf.length;
    return v;
  }

  cstring(): string {
    const nul = this.buf.indexOf(0, this.off);
    if (nul < 0) throw new ProtocolViolation(`invalid string in ${this.what} message`);
    const s = this.buf.toString('utf8', this.off, nul);
    this.off = nul + 1;
    return s;
  }

  /** The message must be fully consumed; trailing garbage is a violation as in Postgres. */
  done(): void {
    if (this.off !== this.buf.length) throw new ProtocolViolation(`invalid ${this.what} message format`);
  }
}

export function decodeStartup(body: Buffer): StartupPacket {
  const r = new BodyReader(body, 'startup packet');
  const code = r.int32();
  if (code === SSL_REQUEST_CODE) {
    r.done();
    return { kind: 'ssl' };
  }
  if (code === GSSENC_REQUEST_CODE) {
    r.done();
    return { kind: 'gssenc' };
  }
  if (code === CANCEL_REQUEST_CODE) {
    const pid = r.int32();
    const secret = r.int32();
    // Protocol 3.2 allows longer keys; anything after the 4-byte secret is ignored.
    return { kind: 'cancel', pid, secret };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  const params = new Map<string, string>();
  if (major === 3) {
    // name/value pairs terminated by an empty name.
    for (let guard = 0; ; guard++) {
      if (r.remaining === 0) throw new ProtocolViolation('invalid startup packet layout: expected terminator as last byte');
      const name = r.cstring();
      if (name === '') break;
      const value = r.cstring();
      params.set(name, value);
      if (guard > 1000) throw new ProtocolViolation('too many startup parameters');
    }
    r.done();
  }
  return { kind: 'startup', major, minor, params };
}

function formats(r: BodyReader): FormatCode[] {
  const n = r.int16();
  if (n < 0) throw new ProtocolViolation('invalid format code count');
  const out: FormatCode[] = new Array<FormatCode>(n);
  for (let i = 0; i < n; i++) {
    const f = r.int16();
    if (f !== 0 && f !== 1) throw new ProtocolViolation(`unsupported format code: ${f}`);
    out[i] = f;
  }
  return out;
}

function target(r: BodyReader, what: string): 'S' | 'P' {
  const t = r.byte();
  if (t === 0x53) return 'S';
  if (t === 0x50) return 'P';
  throw new ProtocolViolation(`invalid ${what} message subtype ${t}`);
}

/** Decode a typed message of the query phase. Unknown types are protocol violations. */
export function decodeFrontend(p: Packet): FrontendMessage {
  const body = p.body;
  switch (p.type) {
    case 0x51 /* Q */: {
      const r = new BodyReader(body, 'Query');
      const sql = r.cstring();
      r.done();
      return { type: 'Query', sql };
    }
    case 0x50 /* P */: {
      const r = new BodyReader(body, 'Parse');
      const name = r.cstring();
      const sql = r.cstring();
      const n = r.int16();
      if (n < 0) throw new ProtocolViolation('invalid Parse message format');
      const paramTypes = new Array<number>(n);
      for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
      r.done();
      return { type: 'Parse', name, sql, paramTypes };
    }
    case 0x42 /* B */: {
      const r = new BodyReader(body, 'Bind');
      const portal = r.cstring();
      const statement = r.cstring();
      const paramFormats = formats(r);
      const n = r.int16();
      if (n < 0) throw new ProtocolViolation('invalid Bind message format');
      const params = new Array<Buffer | null>(n);
      for (let i = 0; i < n; i++) {
        const len = r.int32();
        if (len === -1) params[i] = null;
        else if (len < 0) throw new ProtocolViolation(`invalid parameter length ${len}`);
        else params[i] = r.bytes(len);
      }
      const resultFormats = formats(r);
      r.done();
      return { type: 'Bind', portal, statement, paramFormats, params, resultFormats };
    }
    case 0x44 /* D */: {
      const r = new BodyReader(body, 'Describe');
      const t = target(r, 'Describe');
      const name = r.cstring();
      r.done();
      return { type: 'Describe', target: t, name };
    }
    case 0x45 /* E */: {
      const r = new BodyReader(body, 'Execute');
      const portal = r.cstring();
      const maxRows = r.int32();
      r.done();
      // Postgres treats a negative row count like 0 (= no limit).
      return { type: 'Execute', portal, maxRows: maxRows > 0 ? maxRows : 0 };
    }
    case 0x43 /* C */: {
      const r = new BodyReader(body, 'Close');
      const t = target(r, 'Close');
      const name = r.cstring();
      r.done();
      return { type: 'Close', target: t, name };
    }
    case 0x48 /* H */:
      return { type: 'Flush' };
    case 0x53 /* S */:
      return { type: 'Sync' };
    case 0x58 /* X */:
      return { type: 'Terminate' };
    case 0x64 /* d */:
      return { type: 'CopyData', data: body };
    case 0x63 /* c */:
      return { type: 'CopyDone' };
    case 0x66 /* f */: {
      const r = new BodyReader(body, 'CopyFail');
      return { type: 'CopyFail', message: r.cstring() };
    }
    case 0x70 /* p */:
      return { type: 'AuthResponse', body };
    case 0x46 /* F */:
      return { type: 'FunctionCall' };
    default:
      throw new ProtocolViolation(`invalid frontend message type ${p.type}`);
  }
}
