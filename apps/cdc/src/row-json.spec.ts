import { encodeRow, type RowValue } from '@weft/storage';
import type { TableDescView } from './catalog-view';
import { cellJson, keyJson, rowJson } from './row-json';

const table: TableDescView = {
  kind: 'table',
  id: 130,
  schemaId: 101,
  name: 't',
  columns: [
    { id: 1, name: 'id', type: { kind: 'int8' } },
    { id: 2, name: 'name', type: { kind: 'text' } },
    { id: 3, name: 'added', type: { kind: 'int4' }, missingValue: '7' },
    { id: 4, name: 'rowid', type: { kind: 'int8' }, hidden: true },
    { id: 5, name: 'late', type: { kind: 'text' } },
  ],
  primary: { id: 1, columns: [1] },
};

describe('row JSON', () => {
  it('names cells by column, takes a missing cell from the ADD COLUMN default (or null), hides the row id', () => {
    const stored = encodeRow([[1, { type: 'int8', value: 42n }], [2, { type: 'text', value: 'x' }], [4, { type: 'int8', value: 9n }]]);
    expect(rowJson(table, stored)).toEqual({ id: 42, name: 'x', added: 7, late: null });
    expect(keyJson(table, stored)).toEqual({ id: 42 });
  });

  it('keys a table without a primary key by its hidden row id', () => {
    const t: TableDescView = { ...table, primary: { id: 1, columns: [4] } };
    expect(keyJson(t, encodeRow([[4, { type: 'int8', value: 9n }]]))).toEqual({ rowid: 9 });
  });

  it('converts values the way Debezium does with its defaults (schemas off)', () => {
    const cases: [RowValue, unknown][] = [
      [{ type: 'null' }, null],
      [{ type: 'bool', value: true }, true],
      [{ type: 'int2', value: -3 }, -3],
      [{ type: 'int8', value: 2n ** 60n }, '1152921504606846976'],
      [{ type: 'int8', value: -5n }, -5],
      [{ type: 'numeric', value: '12.3400' }, '12.3400'],
      [{ type: 'float8', value: 1.5 }, 1.5],
      [{ type: 'float4', value: Number.NaN }, 'NaN'],
      [{ type: 'bytea', value: Buffer.from([1, 2, 255]) }, 'AQL/'],
      [{ type: 'uuid', value: '0e8c6c5a-52b3-4a4e-8a8c-2f1f6f0b9b1d' }, '0e8c6c5a-52b3-4a4e-8a8c-2f1f6f0b9b1d'],
      // 2000-01-02 is day 10,958 since 1970-01-01.
      [{ type: 'date', value: 1 }, 10_958],
      // 2000-01-01 00:00:01 as µs since 1970.
      [{ type: 'timestamp', value: 1_000_000n }, 946_684_801_000_000],
      [{ type: 'timestamptz', value: 1_500_000n }, '2000-01-01T00:00:01.500000Z'],
      [{ type: 'timestamptz', value: -1n }, '1999-12-31T23:59:59.999999Z'],
      [{ type: 'jsonb', value: '{"a": 1}' }, '{"a": 1}'],
    ];
    for (const [cell, want] of cases) expect([cell.type, cellJson(cell)]).toEqual([cell.type, want]);
  });
});
