// Set-returning functions usable in FROM (and, without FROM, in the select list): the
// extension point for table functions. Each maps evaluated arguments to rows.
import { S, sqlError } from '../errors';
import type { Row } from '../runtime';
import { canonicalJsonb } from '../types/values';
import { type SqlType, type Value, arrayOf, t } from '../types/types';
import { addInterval } from '../types/datetime';
import type { Interval } from '../types/types';

export interface TableFunction {
  /** Output columns for these argument types (undefined: not applicable). */
  columns(args: readonly SqlType[], name: string): { name: string; type: SqlType }[] | undefined;
  /** Types the untyped (literal) arguments are converted to. */
  argTypes?(args: readonly SqlType[]): readonly (SqlType | undefined)[];
  rows(args: readonly Value[], types: readonly SqlType[], out: readonly SqlType[]): Iterable<Row>;
}

const registry = new Map<string, TableFunction>();
export const registerTableFunction = (name: string, f: TableFunction): void => void registry.set(name, f);
export const lookupTableFunction = (name: string): TableFunction | undefined => registry.get(name);

const parse = (v: Value): unknown => JSON.parse(v as string) as unknown;
const jsonText = (x: unknown, jsonb: boolean): string => (jsonb ? canonicalJsonb(x) : JSON.stringify(x));

registerTableFunction('generate_series', {
  columns: (a, name) => {
    if (a.length < 2 || a.length > 3) return undefined;
    const k = a[0].kind === 'unknown' ? a[1].kind : a[0].kind;
    const type = k === 'timestamp' || k === 'timestamptz' ? t(k) : k === 'int8' || a[1].kind === 'int8' ? t('int8') : k === 'numeric' ? t('numeric') : t('int4');
    return [{ name, type }];
  },
  argTypes: (a) => {
    const k = a[0].kind === 'unknown' ? a[1].kind : a[0].kind;
    if (k === 'timestamp' || k === 'timestamptz') return [t(k), t(k), t('interval')];
    return [t('int8'), t('int8'), t('int8')];
  },
  *rows(args, types, out) {
    const k = types[0].kind;
    if (k === 'timestamp' || k === 'timestamptz') {
      const [start, stop, step] = args as [bigint, bigint, Interval];
      for (let cur = start; cur <= stop; cur = addInterval(cur, step, 1)) yield [cur];
      return;
    }
    const big = (v: Value): bigint => BigInt(v as number | bigint);
    const start = big(args[0]);
    const stop = big(args[1]);
    const step = args.length > 2 ? big(args[2]) : 1n;
    if (step === 0n) throw sqlError(S.INVALID_PARAMETER_VALUE, 'step size cannot equal zero');
    const asInt4 = out[0].kind === 'int4';
    for (let i = start; step > 0n ? i <= stop : i >= stop; i += step) yield [asInt4 ? Number(i) : i];
  },
});

registerTableFunction('unnest', {
  columns: (a, name) => (a.length === 1 ? [{ name, type: a[0].elem ?? t('text') }] : undefined),
  argTypes: () => [arrayOf(t('text'))],
  *rows(args) {
    for (const x of (args[0] as Value[] | null) ?? []) yield [x];
  },
});

for (const jsonb of [true, false]) {
  const p = jsonb ? 'jsonb' : 'json';
  const jt = t(p);
  registerTableFunction(`${p}_each`, {
    columns: (a) => (a.length === 1 ? [{ name: 'key', type: t('text') }, { name: 'value', type: jt }] : undefined),
    argTypes: () => [jt],
    *rows(args) {
      const d = parse(args[0]);
      if (!d || typeof d !== 'object' || Array.isArray(d)) throw sqlError(S.INVALID_PARAMETER_VALUE, `cannot call ${p}_each on a non-object`);
      for (const [k, v] of Object.entries(d)) yield [k, jsonText(v, jsonb)];
    },
  });
  registerTableFunction(`${p}_each_text`, {
    columns: (a) => (a.length === 1 ? [{ name: 'key', type: t('text') }, { name: 'value', type: t('text') }] : undefined),
    argTypes: () => [jt],
    *rows(args) {
      const d = parse(args[0]);
      if (!d || typeof d !== 'object' || Array.isArray(d)) throw sqlError(S.INVALID_PARAMETER_VALUE, `cannot call ${p}_each_text on a non-object`);
      for (const [k, v] of Object.entries(d)) yield [k, v === null ? null : typeof v === 'string' ? v : jsonText(v, jsonb)];
    },
  });
  registerTableFunction(`${p}_array_elements`, {
    columns: (a) => (a.length === 1 ? [{ name: 'value', type: jt }] : undefined),
    argTypes: () => [jt],
    *rows(args) {
      const d = parse(args[0]);
      if (!Array.isArray(d)) throw sqlError(S.INVALID_PARAMETER_VALUE, 'cannot extract elements from an object');
      for (const v of d) yield [jsonText(v, jsonb)];
    },
  });
  registerTableFunction(`${p}_array_elements_text`, {
    columns: (a) => (a.length === 1 ? [{ name: 'value', type: t('text') }] : undefined),
    argTypes: () => [jt],
    *rows(args) {
      const d = parse(args[0]);
      if (!Array.isArray(d)) throw sqlError(S.INVALID_PARAMETER_VALUE, 'cannot extract elements from an object');
      for (const v of d) yield [v === null ? null : typeof v === 'string' ? v : jsonText(v, jsonb)];
    },
  });
  registerTableFunction(`${p}_object_keys`, {
    columns: (a, name) => (a.length === 1 ? [{ name, type: t('text') }] : undefined),
    argTypes: () => [jt],
    *rows(args) {
      const d = parse(args[0]);
      if (!d || typeof d !== 'object' || Array.isArray(d)) throw sqlError(S.INVALID_PARAMETER_VALUE, `cannot call ${p}_object_keys on a non-object`);
      for (const k of Object.keys(d)) yield [k];
    },
  });
}

registerTableFunction('regexp_split_to_table', {
  columns: (a, name) => (a.length === 2 ? [{ name, type: t('text') }] : undefined),
  argTypes: () => [t('text'), t('text')],
  *rows(args) {
    for (const part of (args[0] as string).split(new RegExp(args[1] as string, 'u'))) yield [part];
  },
});
