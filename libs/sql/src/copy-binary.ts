// COPY ... (FORMAT binary): PostgreSQL's binary copy file format (asyncpg's
// copy_records_to_table, pgx's CopyFrom, pg_dump -Fc data use it).
//
// Layout: the 11-byte signature "PGCOPY\n\377\r\n\0", int32 flags (bit 16: OIDs, refused),
// int32 header-extension length and that many bytes; then per tuple an int16 field count and
// each field as int32 length (-1 = NULL) plus the type's binary form; an int16 -1 ends the data.
// Values use pgwire's binary codecs, so every type with a binary codec works in both directions.
import { BufferWriter, codecFor, decodeParam, hasBinaryCodec } from '@weft/pgwire';
import { S, sqlError } from './errors';
import { type SqlType, type Value, typeDisplayName, typeOid } from './types/types';
import { fromPg, toPg } from './types/values';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const badCopy = (msg: string): Error => sqlError(S.BAD_COPY_FORMAT, msg);

/** Refuses column types that have no binary form, before any data moves. */
export function checkBinaryTypes(types: readonly SqlType[]): void {
  for (const type of types) {
    if (!hasBinaryCodec(typeOid(type))) {
      throw sqlError(S.FEATURE_NOT_SUPPORTED, `COPY BINARY is not supported for columns of type ${typeDisplayName(type)}`, { hint: 'Use FORMAT text or csv for this table.' });
    }
  }
}

/**
 * Incremental reader of a binary COPY stream: feed CopyData chunks in order; `rows()` yields
 * every complete tuple decoded so far. Tuples may span chunks.
 */
export class BinaryCopyReader {
  private buf: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private done = false;

  constructor(private readonly types: readonly SqlType[]) {}

  get finished(): boolean {
    return this.done;
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  *rows(): Generator<Value[]> {
    if (!this.headerRead && !this.readHeader()) return;
    while (!this.done) {
      const row = this.readTuple();
      if (row === undefined) return;
      if (row !== null) yield row;
    }
  }

  /** At CopyDone: anything but a complete stream (trailer included, or at least whole tuples) is an error. */
  finish(): void {
    if (!this.headerRead) throw badCopy('COPY file signature not recognized');
    if (this.buf.length > 0 && !this.done) throw badCopy('unexpected EOF in COPY data');
  }

  private readHeader(): boolean {
    if (this.buf.length < 19) return false;
    if (!this.buf.subarray(0, 11).equals(SIGNATURE)) throw badCopy('COPY file signature not recognized');
    const flags = this.buf.readInt32BE(11);
    if ((flags & 0x10000) !== 0) throw badCopy('COPY with OIDs is not supported');
    if ((flags & 0xfffe0000) !== 0) throw badCopy('unrecognized critical flags in COPY file header');
    const ext = this.buf.readInt32BE(15);
    if (ext < 0) throw badCopy('invalid COPY file header (missing length)');
    if (this.buf.length < 19 + ext) return false;
    this.buf = this.buf.subarray(19 + ext);
    this.headerRead = true;
    return true;
  }

  /** A decoded tuple, null for the trailer, undefined when the tuple is not complete yet. */
  private readTuple(): Value[] | null | undefined {
    if (this.buf.length < 2) return undefined;
    const n = this.buf.readInt16BE(0);
    if (n === -1) {
      this.done = true;
      this.buf = this.buf.subarray(2);
      return null;
    }
    if (n !== this.types.length) throw badCopy(`row field count is ${n}, expected ${this.types.length}`);
    let at = 2;
    const raw: (Buffer | null)[] = [];
    for (let i = 0; i < n; i++) {
      if (at + 4 > this.buf.length) return undefined;
      const len = this.buf.readInt32BE(at);
      at += 4;
      if (len === -1) {
        raw.push(null);
        continue;
      }
      if (len < 0) throw badCopy('invalid field size');
      if (at + len > this.buf.length) return undefined;
      raw.push(this.buf.subarray(at, at + len));
      at += len;
    }
    this.buf = this.buf.subarray(at);
    return raw.map((b, i) => (b === null ? null : fromPg(decodeParam(typeOid(this.types[i]), 1, b), this.types[i])));
  }
}

/** The binary COPY header; rows follow (`binaryCopyRow`), then `binaryCopyTrailer`. */
export function binaryCopyHeader(): Buffer {
  const w = new BufferWriter(32);
  w.bytes(SIGNATURE).int32(0).int32(0);
  return Buffer.from(w.flush());
}

export function binaryCopyRow(row: readonly Value[], types: readonly SqlType[]): Buffer {
  const w = new BufferWriter(64);
  w.int16(types.length);
  for (let i = 0; i < types.length; i++) {
    const v = toPg(row[i] ?? null, types[i]);
    if (v === null) {
      w.int32(-1);
      continue;
    }
    const at = w.reserveLength();
    codecFor(typeOid(types[i])).writeBinary(w, v);
    w.patchLength(at);
  }
  return Buffer.from(w.flush());
}

export const binaryCopyTrailer = (): Buffer => Buffer.from([0xff, 0xff]);
