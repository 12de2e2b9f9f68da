import fc from 'fast-check';
import { parseArrayText } from './array-codec';
import { BufferWriter } from './buffer-writer';
import type { PgError } from './errors';
import { codecFor, decodeParam, type PgValue } from './types';

const INT8_ARRAY = 1016;
const TEXT_ARRAY = 1009;
const INT4_ARRAY = 1007;

function binary(oid: number, v: Exclude<PgValue, null>): Buffer {
  const w = new BufferWriter(4);
  codecFor(oid).writeBinary(w, v);
  return Buffer.from(w.flush());
}

/** array_send's layout for a one-dimensional int8[] with lower bound 1, written by hand. */
function int8ArrayBytes(values: readonly (bigint | null)[]): Buffer {
  const parts = [Buffer.alloc(20)];
  parts[0].writeInt32BE(1, 0);
  parts[0].writeInt32BE(values.includes(null) ? 1 : 0, 4);
  parts[0].writeInt32BE(20, 8);
  parts[0].writeInt32BE(values.length, 12);
  parts[0].writeInt32BE(1, 16);
  for (const v of values) {
    const b = Buffer.alloc(v === null ? 4 : 12);
    b.writeInt32BE(v === null ? -1 : 8, 0);
    if (v !== null) b.writeBigInt64BE(v, 4);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

describe('array codecs', () => {
  it('decode a binary int8[] parameter into its elements, NULLs included', () => {
    expect(decodeParam(INT8_ARRAY, 1, int8ArrayBytes([1n, 2n, -9007199254740993n, null]))).toEqual([1n, 2n, -9007199254740993n, null]);
    const empty = Buffer.alloc(12);
    empty.writeInt32BE(20, 8);
    expect(decodeParam(INT8_ARRAY, 1, empty)).toEqual([]);
  });

  it('encode what they decode, in the layout PostgreSQL sends', () => {
    const bytes = int8ArrayBytes([5n, null, 7n]);
    expect(binary(INT8_ARRAY, [5n, null, 7n])).toEqual(bytes);
    // The SQL layer hands arrays over in text form; binary output re-encodes each element.
    expect(binary(INT8_ARRAY, '{5,NULL,7}')).toEqual(bytes);
  });

  it('round-trip text[] through binary, with characters that need quoting in text', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.string(), { nil: null }), { maxLength: 8 }), (items) => {
        const c = codecFor(TEXT_ARRAY);
        expect(c.fromBinary(binary(TEXT_ARRAY, items))).toEqual(items);
        expect(c.fromBinary(binary(TEXT_ARRAY, c.toText(items)))).toEqual(items);
      }),
    );
  });

  it('keep dimensions: a 2x2 int4[] travels as nested arrays', () => {
    const bytes = binary(INT4_ARRAY, '{{1,2},{3,4}}');
    expect(bytes.readInt32BE(0)).toBe(2);
    expect(codecFor(INT4_ARRAY).fromBinary(bytes)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(() => binary(INT4_ARRAY, '{{1,2},{3}}')).toThrow(expect.objectContaining({ code: '22P02' }) as PgError);
  });

  it('refuse malformed binary with 22P03 and a wrong element type with 42804', () => {
    const good = int8ArrayBytes([1n, 2n]);
    expect(() => decodeParam(INT8_ARRAY, 1, good.subarray(0, good.length - 1))).toThrow(expect.objectContaining({ code: '22P03' }) as PgError);
    expect(() => decodeParam(INT8_ARRAY, 1, Buffer.concat([good, Buffer.from([0])]))).toThrow(expect.objectContaining({ code: '22P03' }) as PgError);
    const huge = Buffer.from(good);
    huge.writeInt32BE(0x7fffffff, 12);
    expect(() => decodeParam(INT8_ARRAY, 1, huge)).toThrow(expect.objectContaining({ code: '22P03' }) as PgError);
    expect(() => decodeParam(INT4_ARRAY, 1, good)).toThrow(expect.objectContaining({ code: '42804' }) as PgError);
    // asyncpg sends NULL elements with the has-nulls flag clear; PostgreSQL's array_recv accepts that.
    expect(decodeParam(INT8_ARRAY, 1, int8ArrayBytes([null, 1n]).fill(0, 4, 8))).toEqual([null, 1n]);
    const badFlags = Buffer.from(good);
    badFlags.writeInt32BE(2, 4);
    expect(() => decodeParam(INT8_ARRAY, 1, badFlags)).toThrow(expect.objectContaining({ code: '22P03' }) as PgError);
  });

  it('parse array_in text: quotes, escapes, NULL vs "NULL", dimension decoration, junk', () => {
    expect(parseArrayText('{a, "b c" ,NULL,"NULL",\\NULL, x y }').items).toEqual(['a', 'b c', null, 'NULL', 'NULL', 'x y']);
    expect(parseArrayText('[0:1]={1,2}').items).toEqual(['1', '2']);
    expect(parseArrayText('{}').items).toEqual([]);
    for (const bad of ['{1,2', '{1,,2}', '1,2}', '{1}x', '{"a}']) {
      expect(() => parseArrayText(bad)).toThrow(expect.objectContaining({ code: '22P02' }) as PgError);
    }
  });

  it('leave text-format array parameters to the SQL layer', () => {
    expect(decodeParam(INT8_ARRAY, 0, Buffer.from('{1,2}'))).toBe('{1,2}');
  });
});

describe('int2vector and oidvector', () => {
  it('print space-separated and travel in binary as one-dimensional arrays', () => {
    const c = codecFor(22);
    expect(c.toText([1, 3])).toBe('1 3');
    const bytes = binary(22, '1 3');
    expect(bytes.readInt32BE(8)).toBe(21); // element type int2
    expect(c.fromBinary(bytes)).toEqual([1, 3]);
    expect(codecFor(30).fromBinary(binary(30, ''))).toEqual([]);
  });
});
