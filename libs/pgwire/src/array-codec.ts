/**
 * Array types on the wire (PostgreSQL's array_send / array_recv and array_in / array_out).
 *
 * Binary layout: int32 ndim, int32 flags (1 = has NULLs), int32 element type OID, then per
 * dimension int32 length and int32 lower bound, then each element as int32 length (-1 = NULL)
 * followed by the element's own binary form.
 *
 * Values at the handler boundary: a decoded array is a (nested, for ndim > 1) JavaScript array
 * of the element codec's values, NULL elements as null. An encoder accepts such an array or the
 * array's text form (`{1,2,NULL}`, `{{a,b},{c,d}}`, `[0:1]={x,y}`), which is parsed here and
 * re-encoded element by element, so an engine that holds arrays as text can still answer binary.
 */
import type { BufferWriter } from './buffer-writer';
import { PgError, SqlState } from './errors';
import type { PgValue, TypeCodec } from './types';

/** PostgreSQL's MAXDIM. */
const MAX_DIMS = 6;

type Elem = Exclude<PgValue, null> | null;
interface Nested {
  readonly items: (Elem | Nested)[];
}

const badBinary = (msg: string): PgError => new PgError(SqlState.INVALID_BINARY_REPRESENTATION, msg);
const malformed = (s: string, detail: string): PgError =>
  new PgError(SqlState.INVALID_TEXT_REPRESENTATION, `malformed array literal: "${s.length > 100 ? s.slice(0, 100) + '...' : s}"`, {
    detail,
  });

export function arrayCodec(oid: number, elem: TypeCodec, vectorName?: string): TypeCodec {
  const name = vectorName ?? `${elem.name}[]`;
  // int2vector / oidvector: array_send's binary layout, but space-separated text ("1 3").
  const parseText = (s: string): Nested => (vectorName ? { items: s.trim() === '' ? [] : s.trim().split(/\s+/) } : parseArrayText(s));
  return {
    oid,
    name,
    size: -1,
    toText: (v) => (typeof v === 'string' ? v : vectorName ? (v as readonly unknown[]).map((e) => elem.toText(e as Exclude<PgValue, null>)).join(' ') : formatArrayText(v, elem)),
    writeBinary: (w, v) => writeArrayBinary(w, typeof v === 'string' ? parseText(v) : v, elem),
    // Text input is handed to the SQL layer as is: it owns the element types' input rules.
    fromText: (s) => s,
    fromBinary: (b) => readArrayBinary(b, elem),
  };
}

// ---------------------------------------------------------------------------------------------
// binary

function readArrayBinary(b: Buffer, elem: TypeCodec): readonly unknown[] {
  if (b.length < 12) throw badBinary('insufficient data left in message');
  const ndim = b.readInt32BE(0);
  const flags = b.readInt32BE(4);
  const elemOid = b.readUInt32BE(8);
  if (ndim < 0 || ndim > MAX_DIMS) throw badBinary(`invalid number of dimensions: ${ndim}`);
  if (flags !== 0 && flags !== 1) throw badBinary('invalid array flags');
  if (elemOid !== elem.oid) {
    throw new PgError(SqlState.DATATYPE_MISMATCH, `binary data has array element type ${elemOid} instead of expected ${elem.oid} (${elem.name})`);
  }
  if (b.length < 12 + ndim * 8) throw badBinary('insufficient data left in message');
  const dims: number[] = [];
  let total = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) {
    const len = b.readInt32BE(12 + d * 8);
    if (len < 0) throw badBinary('array size exceeds the maximum allowed');
    dims.push(len);
    total *= len;
    // Each element needs at least its 4-byte length word: a bigger count cannot be genuine.
    if (total > (b.length - 12) / 4) throw badBinary('insufficient data left in message');
  }
  let at = 12 + ndim * 8;
  const flat: unknown[] = [];
  for (let i = 0; i < total; i++) {
    if (at + 4 > b.length) throw badBinary('insufficient data left in message');
    const len = b.readInt32BE(at);
    at += 4;
    if (len === -1) {
      // As array_recv: a NULL element is accepted whatever the has-nulls flag says.
      flat.push(null);
      continue;
    }
    if (len < 0 || at + len > b.length) throw badBinary('insufficient data left in message');
    flat.push(elem.fromBinary(b.subarray(at, at + len)));
    at += len;
  }
  if (at !== b.length) throw badBinary('incorrect binary data format in array');
  return nest(flat, dims);
}

function nest(flat: unknown[], dims: readonly number[]): unknown[] {
  if (dims.length <= 1) return flat;
  const [, ...inner] = dims;
  const step = inner.reduce((a, n) => a * n, 1);
  const out: unknown[] = [];
  for (let i = 0; i < dims[0]; i++) out.push(nest(flat.slice(i * step, (i + 1) * step), inner));
  return out;
}

function writeArrayBinary(w: BufferWriter, v: Exclude<PgValue, null> | Nested, elem: TypeCodec): void {
  const root = toNested(v);
  const dims: number[] = [];
  for (let level: Nested | undefined = root; level; ) {
    if (level.items.length === 0) break;
    dims.push(level.items.length);
    const first: Elem | Nested = level.items[0];
    level = isNested(first) ? first : undefined;
  }
  if (dims.length > MAX_DIMS) throw new PgError(SqlState.PROGRAM_LIMIT_EXCEEDED, `number of array dimensions (${dims.length}) exceeds the maximum allowed (${MAX_DIMS})`);
  const flat: Elem[] = [];
  flatten(root, dims, 0, flat);
  w.int32(dims.length).int32(flat.some((e) => e === null) ? 1 : 0).int32(elem.oid | 0);
  for (const n of dims) w.int32(n).int32(1);
  for (const e of flat) {
    if (e === null) {
      w.int32(-1);
      continue;
    }
    const at = w.reserveLength();
    elem.writeBinary(w, e);
    w.patchLength(at);
  }
}

function flatten(level: Nested, dims: readonly number[], depth: number, out: Elem[]): void {
  if (dims.length === 0) return;
  if (level.items.length !== dims[depth]) {
    throw new PgError(SqlState.INVALID_TEXT_REPRESENTATION, 'multidimensional arrays must have array expressions with matching dimensions');
  }
  for (const item of level.items) {
    const deeper = depth + 1 < dims.length;
    if (deeper !== isNested(item)) {
      throw new PgError(SqlState.INVALID_TEXT_REPRESENTATION, 'multidimensional arrays must have array expressions with matching dimensions');
    }
    if (isNested(item)) flatten(item, dims, depth + 1, out);
    else out.push(item);
  }
}

function isNested(x: unknown): x is Nested {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !Buffer.isBuffer(x) && 'items' in x && Array.isArray((x as Nested).items);
}

function toNested(v: unknown): Nested {
  if (isNested(v)) return v;
  if (Array.isArray(v)) {
    return { items: v.map((e: unknown) => (Array.isArray(e) ? toNested(e) : ((e ?? null) as Elem))) };
  }
  throw new PgError(SqlState.INTERNAL_ERROR, `cannot encode JavaScript ${typeof v} as an array`);
}

// ---------------------------------------------------------------------------------------------
// text

function formatArrayText(v: Exclude<PgValue, null>, elem: TypeCodec): string {
  if (!Array.isArray(v)) throw new PgError(SqlState.INTERNAL_ERROR, `cannot encode JavaScript ${typeof v} as ${elem.name}[]`);
  const parts = (v as readonly unknown[]).map((e): string => {
    if (e === null || e === undefined) return 'NULL';
    if (Array.isArray(e)) return formatArrayText(e, elem);
    return quoteElem(elem.toText(e as Exclude<PgValue, null>));
  });
  return `{${parts.join(',')}}`;
}

function quoteElem(s: string): string {
  return s === '' || /[{}",\\\s]/.test(s) || s.toUpperCase() === 'NULL' ? `"${s.replace(/(["\\])/g, '\\$1')}"` : s;
}

/** array_in's grammar: optional `[lo:hi]...=` decoration, nested braces, quoted or bare items. */
export function parseArrayText(s: string): Nested {
  let i = 0;
  const skipWs = (): void => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  skipWs();
  if (s[i] === '[') {
    const eq = s.indexOf('=', i);
    if (eq < 0 || !/^(\[\s*-?\d+\s*:\s*-?\d+\s*\])+\s*$/.test(s.slice(i, eq))) throw malformed(s, 'Invalid array dimension decoration.');
    i = eq + 1;
    skipWs();
  }
  if (s[i] !== '{') throw malformed(s, 'Array value must start with "{" or dimension information.');
  const parseLevel = (): Nested => {
    i++; // '{'
    const items: (Elem | Nested)[] = [];
    skipWs();
    if (s[i] === '}') {
      i++;
      return { items };
    }
    for (;;) {
      skipWs();
      if (s[i] === '{') items.push(parseLevel());
      else items.push(parseItem());
      skipWs();
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === '}') {
        i++;
        return { items };
      }
      throw malformed(s, i >= s.length ? 'Unexpected end of input.' : `Unexpected "${s[i]}" character.`);
    }
  };
  const parseItem = (): Elem => {
    let out = '';
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\') i++;
        if (i >= s.length) break;
        out += s[i++];
      }
      if (s[i] !== '"') throw malformed(s, 'Unexpected end of input.');
      i++;
      return out;
    }
    let trailingWs = '';
    let escaped = false;
    while (i < s.length && s[i] !== ',' && s[i] !== '}') {
      if (s[i] === '{' || s[i] === '"') throw malformed(s, `Unexpected "${s[i]}" character.`);
      if (s[i] === '\\') {
        i++;
        if (i >= s.length) break;
        escaped = true;
        out += trailingWs + s[i++];
        trailingWs = '';
        continue;
      }
      if (/\s/.test(s[i])) trailingWs += s[i];
      else {
        out += trailingWs + s[i];
        trailingWs = '';
      }
      i++;
    }
    if (out === '') throw malformed(s, 'Unexpected "," character.');
    return !escaped && out.toUpperCase() === 'NULL' ? null : out;
  };
  const root = parseLevel();
  skipWs();
  if (i !== s.length) throw malformed(s, 'Junk after closing right brace.');
  return root;
}
