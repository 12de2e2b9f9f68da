/**
 * The row hot path: typed values straight into the output buffer, one DataRow per row, no
 * intermediate per-cell Buffers. Strings in text format are copied verbatim, so an engine
 * that already holds text pays only the UTF-8 write.
 */
import type { FormatCode } from './backend';
import { BufferWriter } from './buffer-writer';
import { codecFor, type PgValue, type TypeCodec } from './types';

export interface RowEncoder {
  readonly codecs: readonly TypeCodec[];
  readonly formats: readonly FormatCode[];
}

/** Codecs by type OID, or given outright (a column's own codec, see ColumnInfo.codec). */
export function rowEncoder(types: readonly (number | TypeCodec)[], formats: readonly FormatCode[]): RowEncoder {
  return { codecs: types.map((t) => (typeof t === 'number' ? codecFor(t) : t)), formats };
}

export function writeDataRow(w: BufferWriter, enc: RowEncoder, row: readonly PgValue[]): void {
  const mark = w.length;
  try {
    writeCells(w, enc, row);
  } catch (e) {
    // A value the codec rejects must not leave half a DataRow in the stream.
    w.truncate(mark);
    throw e;
  }
}

function writeCells(w: BufferWriter, enc: RowEncoder, row: readonly PgValue[]): void {
  const n = enc.codecs.length;
  w.begin(0x44).int16(n);
  for (let i = 0; i < n; i++) {
    const v = i < row.length ? row[i] : null;
    if (v === null || v === undefined) {
      w.int32(-1);
      continue;
    }
    const at = w.reserveLength();
    const codec = enc.codecs[i];
    if (enc.formats[i] === 1) {
      codec.writeBinary(w, v);
    } else {
      w.string(typeof v === 'string' ? v : codec.toText(v));
    }
    w.patchLength(at);
  }
  w.end();
}
