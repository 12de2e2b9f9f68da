import fc from 'fast-check';
import { KEY_TYPES, KeyType } from './key-types';
import { formatNumeric, parseNumeric } from './numeric';
import { RowValue, decodeRow, encodeRow, readColumn } from './rows';
import { valueOf } from './testing/arbitraries';

const jsonText = fc.json().map((value) => value);
const cellValue: fc.Arbitrary<RowValue> = fc.oneof(
  fc.constant<RowValue>({ type: 'null' }),
  fc.constantFrom<KeyType>(...KEY_TYPES).chain((t) => valueOf(t)),
  jsonText.map((value): RowValue => ({ type: 'json', value })),
  jsonText.map((value): RowValue => ({ type: 'jsonb', value })),
);

/** Rows keep values exactly, except numeric's notation (scale kept) and uuid case. */
function expected(v: RowValue): unknown {
  switch (v.type) {
    case 'float4':
      return Math.fround(v.value);
    case 'numeric':
      return formatNumeric(parseNumeric(v.value), true);
    case 'uuid':
      return v.value.toLowerCase();
    case 'bytea':
      return Buffer.from(v.value).toString('hex');
    case 'null':
      return null;
    default:
      return v.value;
  }
}

const row = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 5000 }), cellValue), { selector: ([id]) => id, maxLength: 12 });

describe('row values', () => {
  it('round-trips every cell (decodeRow and readColumn)', () => {
    fc.assert(
      fc.property(row, (cells) => {
        const buf = encodeRow(cells);
        const decoded = decodeRow(buf);
        expect(decoded.size).toBe(cells.length);
        for (const [id, v] of cells) {
          const got = decoded.get(id);
          expect(got?.type).toBe(v.type);
          expect(got && expected(got)).toEqual(expected(v));
          const single = readColumn(buf, id);
          expect(single && expected(single)).toEqual(expected(v));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reports an absent column as undefined (ADD COLUMN needs no rewrite) and an explicit NULL as null', () => {
    const buf = encodeRow([
      [1, { type: 'int4', value: 7 }],
      [3, { type: 'null' }],
    ]);
    expect(readColumn(buf, 2)).toBeUndefined();
    expect(readColumn(buf, 99)).toBeUndefined();
    expect(readColumn(buf, 3)).toEqual({ type: 'null' });
  });

  it('keeps numeric scale and float -0', () => {
    const d = decodeRow(encodeRow([[1, { type: 'numeric', value: '-12.3400' }], [2, { type: 'float8', value: -0 }], [3, { type: 'numeric', value: '1.5e3' }]]));
    expect(d.get(1)).toEqual({ type: 'numeric', value: '-12.3400' });
    const neg = d.get(2);
    expect(neg?.type === 'float8' && Object.is(neg.value, -0)).toBe(true);
    expect(d.get(3)).toEqual({ type: 'numeric', value: '1500' });
  });

  it('rejects unknown formats and corruption with a clear error', () => {
    const buf = encodeRow([[1, { type: 'text', value: 'hello' }]]);
    const future = Buffer.from(buf);
    future[0] = 2;
    expect(() => decodeRow(future)).toThrow(/unsupported row format version 2/);
    expect(() => decodeRow(buf.subarray(0, buf.length - 1))).toThrow(/truncated/);
    expect(() => encodeRow([[1, { type: 'int4', value: 1 }], [1, { type: 'int4', value: 2 }]])).toThrow(/given twice/);
  });
});
