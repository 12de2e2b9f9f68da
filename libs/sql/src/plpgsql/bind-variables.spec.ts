// Variable substitution in a DO block's statements: which references become parameters, and
// when a name is refused as ambiguous rather than silently taken as one or the other.
import type { PgError } from '@weft/pgwire';
import { initParser } from '../parse';
import { t } from '../types/types';
import { bindVariables, type BindContext, type DoParam } from './bind-variables';

beforeAll(() => initParser());

const n: DoParam = { type: t('int4'), value: 5 };
const label: DoParam = { type: t('text'), value: 'é' };
const ctx: BindContext = {
  lookup: (name, field) => (field === undefined ? ({ n, label } as Record<string, DoParam>)[name] : name === 'r' && field === 'id' ? { type: t('int8'), value: 9n } : undefined),
  isRecord: (name) => name === 'r',
  columnsOf: (_schema, name) => ({ items: ['id', 'n', 'label'], other: ['x'] })[name],
};
const code = (sql: string): string | undefined => {
  try {
    bindVariables(sql, ctx);
    return undefined;
  } catch (e) {
    return (e as PgError).code;
  }
};

it('replaces variable references with numbered parameters, once per variable', () => {
  expect(bindVariables('SELECT n + 1, n * r.id FROM other WHERE x = label', ctx)).toEqual({ sql: 'SELECT $1 + 1, $1 * $2 FROM other WHERE x = $3', params: [n, { type: t('int8'), value: 9n }, label] });
});

it('keeps byte offsets right after non-ASCII text', () => {
  expect(bindVariables("SELECT 'ünïcødé' || label, n", ctx).sql).toBe("SELECT 'ünïcødé' || $1, $2");
});

it('leaves qualified columns, other names and utility statements alone', () => {
  expect(bindVariables('SELECT o.n FROM other o', ctx)).toEqual({ sql: 'SELECT o.n FROM other o', params: [] });
  expect(bindVariables('CREATE TABLE n (n int)', ctx)).toEqual({ sql: 'CREATE TABLE n (n int)', params: [] });
});

it('refuses a name that is a variable and a column of a table the statement reads (42702)', () => {
  expect(code('DELETE FROM items WHERE n = 1')).toBe('42702');
  expect(code('UPDATE items SET id = n')).toBe('42702');
  expect(code('INSERT INTO items VALUES (1, 2, label) RETURNING n')).toBe('42702');
  // The target's columns are not in scope in an INSERT's VALUES.
  expect(code('INSERT INTO items VALUES (n, n, label)')).toBeUndefined();
});

it('names a missing record field (42703) and refuses a whole record (0A000)', () => {
  expect(code('SELECT r.nope')).toBe('42703');
  expect(code('SELECT r')).toBe('0A000');
});
