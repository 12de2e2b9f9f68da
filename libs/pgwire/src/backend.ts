/**
 * Writers for every backend (server -> client) message of protocol 3.0. Each appends one
 * message to a BufferWriter; callers decide when the accumulated bytes hit the socket.
 */
import { BufferWriter } from './buffer-writer';
import type { PgErrorFields, PgNotice } from './errors';
import { PgError } from './errors';

export type TransactionStatus = 'I' | 'T' | 'E';
export type FormatCode = 0 | 1;

/** One column of a RowDescription, fully resolved (format included). */
export interface FieldDescription {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  format: FormatCode;
}

const B = (c: string): number => c.charCodeAt(0);

export function authenticationOk(w: BufferWriter): void {
  w.begin(B('R')).int32(0).end();
}

export function authenticationCleartextPassword(w: BufferWriter): void {
  w.begin(B('R')).int32(3).end();
}

export function authenticationMD5Password(w: BufferWriter, salt: Buffer): void {
  w.begin(B('R')).int32(5).bytes(salt.subarray(0, 4)).end();
}

export function authenticationSASL(w: BufferWriter, mechanisms: readonly string[]): void {
  w.begin(B('R')).int32(10);
  for (const m of mechanisms) w.cstring(m);
  w.int8(0).end();
}

export function authenticationSASLContinue(w: BufferWriter, data: string | Buffer): void {
  w.begin(B('R')).int32(11);
  if (typeof data === 'string') w.string(data);
  else w.bytes(data);
  w.end();
}

export function authenticationSASLFinal(w: BufferWriter, data: string | Buffer): void {
  w.begin(B('R')).int32(12);
  if (typeof data === 'string') w.string(data);
  else w.bytes(data);
  w.end();
}

export function parameterStatus(w: BufferWriter, name: string, value: string): void {
  w.begin(B('S')).cstring(name).cstring(value).end();
}

export function backendKeyData(w: BufferWriter, pid: number, secret: number): void {
  w.begin(B('K')).int32(pid).int32(secret).end();
}

export function readyForQuery(w: BufferWriter, status: TransactionStatus): void {
  w.begin(B('Z')).int8(B(status)).end();
}

export function rowDescription(w: BufferWriter, fields: readonly FieldDescription[]): void {
  w.begin(B('T')).int16(fields.length);
  for (const f of fields) {
    w.cstring(f.name)
      .uint32(f.tableOid)
      .int16(f.columnAttr)
      .uint32(f.typeOid)
      .int16(f.typeSize)
      .int32(f.typeModifier)
      .int16(f.format);
  }
  w.end();
}

/** DataRow from already-encoded cells (null = SQL NULL). The typed fast path is in encode-row.ts. */
export function dataRow(w: BufferWriter, cells: readonly (Buffer | string | null)[]): void {
  w.begin(B('D')).int16(cells.length);
  for (const c of cells) {
    if (c === null) {
      w.int32(-1);
    } else if (typeof c === 'string') {
      const at = w.reserveLength();
      w.string(c);
      w.patchLength(at);
    } else {
      w.int32(c.length).bytes(c);
    }
  }
  w.end();
}

export function commandComplete(w: BufferWriter, tag: string): void {
  w.begin(B('C')).cstring(tag).end();
}

export function emptyQueryResponse(w: BufferWriter): void {
  w.begin(B('I')).end();
}

function noticeFields(w: BufferWriter, severity: string, code: string, message: string, f: PgErrorFields): void {
  // 'S' is the localizable severity, 'V' the fixed one (9.6+); clients read either.
  w.int8(B('S')).cstring(severity);
  w.int8(B('V')).cstring(severity);
  w.int8(B('C')).cstring(code);
  w.int8(B('M')).cstring(message);
  if (f.detail !== undefined) w.int8(B('D')).cstring(f.detail);
  if (f.hint !== undefined) w.int8(B('H')).cstring(f.hint);
  if (f.position !== undefined) w.int8(B('P')).cstring(String(f.position));
  if (f.internalPosition !== undefined) w.int8(B('p')).cstring(String(f.internalPosition));
  if (f.internalQuery !== undefined) w.int8(B('q')).cstring(f.internalQuery);
  if (f.where !== undefined) w.int8(B('W')).cstring(f.where);
  if (f.schema !== undefined) w.int8(B('s')).cstring(f.schema);
  if (f.table !== undefined) w.int8(B('t')).cstring(f.table);
  if (f.column !== undefined) w.int8(B('c')).cstring(f.column);
  if (f.dataType !== undefined) w.int8(B('d')).cstring(f.dataType);
  if (f.constraint !== undefined) w.int8(B('n')).cstring(f.constraint);
  w.int8(0);
}

export function errorResponse(w: BufferWriter, err: PgError): void {
  w.begin(B('E'));
  noticeFields(w, err.severity, err.code, err.message, err.fields);
  w.end();
}

export function noticeResponse(w: BufferWriter, n: PgNotice): void {
  w.begin(B('N'));
  noticeFields(w, n.severity ?? 'NOTICE', n.code ?? '00000', n.message, n);
  w.end();
}

export function parseComplete(w: BufferWriter): void {
  w.begin(B('1')).end();
}

export function bindComplete(w: BufferWriter): void {
  w.begin(B('2')).end();
}

export function closeComplete(w: BufferWriter): void {
  w.begin(B('3')).end();
}

export function noData(w: BufferWriter): void {
  w.begin(B('n')).end();
}

export function parameterDescription(w: BufferWriter, typeOids: readonly number[]): void {
  w.begin(B('t')).int16(typeOids.length);
  for (const oid of typeOids) w.uint32(oid);
  w.end();
}

export function portalSuspended(w: BufferWriter): void {
  w.begin(B('s')).end();
}

function copyResponse(w: BufferWriter, type: string, format: FormatCode, columnFormats: readonly FormatCode[]): void {
  w.begin(B(type)).int8(format).int16(columnFormats.length);
  for (const f of columnFormats) w.int16(f);
  w.end();
}

export function copyInResponse(w: BufferWriter, format: FormatCode, columnFormats: readonly FormatCode[]): void {
  copyResponse(w, 'G', format, columnFormats);
}

export function copyOutResponse(w: BufferWriter, format: FormatCode, columnFormats: readonly FormatCode[]): void {
  copyResponse(w, 'H', format, columnFormats);
}

export function copyData(w: BufferWriter, data: Buffer | string): void {
  w.begin(B('d'));
  if (typeof data === 'string') w.string(data);
  else w.bytes(data);
  w.end();
}

export function copyDone(w: BufferWriter): void {
  w.begin(B('c')).end();
}

export function negotiateProtocolVersion(w: BufferWriter, newestMinor: number, unrecognized: readonly string[]): void {
  w.begin(B('v')).int32(newestMinor).int32(unrecognized.length);
  for (const o of unrecognized) w.cstring(o);
  w.end();
}

/** Single-byte answer to SSLRequest / GSSENCRequest; not a framed message. */
export function encryptionRefused(w: BufferWriter): void {
  w.int8(B('N'));
}
