import { BinaryCopyReader, binaryCopyHeader, binaryCopyRow, binaryCopyTrailer } from './copy-binary';
import type { PgError } from '@weft/pgwire';
import { arrayOf, t } from './types/types';

const types = [t('int8'), t('text'), arrayOf(t('int4')), t('numeric')];
const rows = [
  [1n, 'a', [1, null, 3], '1.50'],
  [2n, null, [], '-0.01'],
];

function stream(): Buffer {
  return Buffer.concat([binaryCopyHeader(), ...rows.map((r) => binaryCopyRow(r, types)), binaryCopyTrailer()]);
}

describe('binary COPY format', () => {
  it('reads back what it writes, whatever the chunk boundaries', () => {
    const all = stream();
    for (const size of [1, 3, 7, all.length]) {
      const r = new BinaryCopyReader(types);
      const got: unknown[] = [];
      for (let i = 0; i < all.length; i += size) {
        r.push(all.subarray(i, i + size));
        got.push(...r.rows());
      }
      r.finish();
      expect(r.finished).toBe(true);
      expect(got).toEqual(rows);
    }
  });

  it('refuses a wrong signature, a wrong field count and a truncated stream with 22P04', () => {
    const bad = new BinaryCopyReader(types);
    bad.push(Buffer.from('PGCOPY\nXXXXXXXXXXXXXXXX'));
    expect(() => [...bad.rows()]).toThrow(expect.objectContaining({ code: '22P04' }) as PgError);
    const narrow = new BinaryCopyReader(types.slice(0, 2));
    narrow.push(stream());
    expect(() => [...narrow.rows()]).toThrow(expect.objectContaining({ code: '22P04', message: 'row field count is 4, expected 2' }) as PgError);
    const cut = new BinaryCopyReader(types);
    const all = stream();
    cut.push(all.subarray(0, all.length - 5));
    expect([...cut.rows()]).toEqual([rows[0]]);
    expect(() => cut.finish()).toThrow(expect.objectContaining({ code: '22P04' }) as PgError);
  });
});
