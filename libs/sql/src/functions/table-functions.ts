// Set-returning functions usable in FROM (and, without FROM, in the select list): the
// extension point for table functions. Each maps evaluated arguments to rows.
import { S, sqlError } from '../errors';
import type { Row } from '../runtime';
import { canonicalJsonb } from '../types/values';
import { type SqlType, type Value, arrayOf, t } from '../types/types';
import { addInterval } from '../types/datetime';
import { decAdd, decCmp, formatDec, parseDec } from '../types/decimal';
import type { Interval } from '../types/types';

export interface TableFunction {
  /** Output columns for these argument types (undefined: not applicable). */
  columns(args: readonly SqlType[], name: string): { name: string; type: SqlType }[] | undefined;
  /** Types the untyped (literal) arguments are converted to. */
  argTypes?(args: readonly SqlType[]): readonly (SqlType | undefined)[];
  rows(args: readonly Value[], types: readonly SqlType[], out: readonly SqlType[]): Iterable<Row>;
  /** Returns several columns: in a select list each row is one record value. */
  readonly multiColumn?: boolean;
}

const registry = new Map<string, TableFunction>();
export const registerTableFunction = (name: string, f: TableFunction): void => void registry.set(name, f);
export const lookupTableFunction = (name: string): TableFunction | undefined => registry.get(name);

const parse = (v: Value): unknown => JSON.parse(v as string) as unknown;
const jsonText = (x: unknown, jsonb: boolean): string => (jsonb ? canonicalJsonb(x) : JSON.stringify(x));

/** generate_series's overload for these argument types: int4, int8, numeric, timestamp[tz] (Postgres's resolution). */
function seriesType(a: readonly SqlType[]): SqlType | undefined {
  const kinds = a.slice(0, 2).map((x) => x.kind).filter((k) => k !== 'unknown');
  const k = kinds[0] ?? 'int4';
  if (k === 'timestamp' || k === 'timestamptz' || k === 'date') return t(k === 'timestamp' ? 'timestamp' : 'timestamptz');
  const all = a.map((x) => x.kind);
  if (all.some((x) => x === 'numeric')) return t('numeric');
  if (all.some((x) => x === 'int8')) return t('int8');
  if (all.every((x) => x === 'int4' || x === 'int2' || x === 'unknown')) return t('int4');
  return all.every((x) => x === 'int4' || x === 'int2' || x === 'int8' || x === 'numeric' || x === 'unknown') ? t('numeric') : undefined;
}

/** Sign of an interval as Postgres compares it (a month is 30 days, a day 24 hours). */
const intervalSign = (iv: Interval): number => {
  const v = (BigInt(iv.months) * 30n + BigInt(iv.days)) * 86_400_000_000n + iv.micros;
  return v > 0n ? 1 : v < 0n ? -1 : 0;
};

const zeroStep = (): Error => sqlError(S.INVALID_PARAMETER_VALUE, 'step size cannot equal zero');

registerTableFunction('generate_series', {
  columns: (a, name) => {
    if (a.length < 2 || a.length > 3) return undefined;
    const type = seriesType(a);
    return type ? [{ name, type }] : undefined;
  },
  argTypes: (a) => {
    const type = seriesType(a) ?? t('int4');
    if (type.kind === 'timestamp' || type.kind === 'timestamptz') return [type, type, t('interval')];
    return [type, type, type];
  },
  *rows(args, _types, out) {
    const k = out[0].kind;
    if (k === 'timestamp' || k === 'timestamptz') {
      const [start, stop, step] = args as [bigint, bigint, Interval];
      const sign = intervalSign(step);
      if (sign === 0) throw zeroStep();
      for (let cur = start; sign > 0 ? cur <= stop : cur >= stop; cur = addInterval(cur, step, 1)) yield [cur];
      return;
    }
    if (k === 'numeric') {
      // Exact decimals: the first value is start as given, the next ones start + n * step with
      // the larger of their scales (1.5, 2.0, 2.5 ...), as Postgres's numeric addition gives.
      if (args.some((v) => v === 'NaN')) throw sqlError(S.INVALID_PARAMETER_VALUE, `${args[0] === 'NaN' ? 'start' : args[1] === 'NaN' ? 'stop' : 'step size'} value cannot be NaN`);
      const start = parseDec(args[0] as string);
      const stop = parseDec(args[1] as string);
      const step = args.length > 2 ? parseDec(args[2] as string) : { u: 1n, s: 0 };
      const dir = decCmp(step, { u: 0n, s: 0 });
      if (dir === 0) throw zeroStep();
      for (let cur = start; dir > 0 ? decCmp(cur, stop) <= 0 : decCmp(cur, stop) >= 0; cur = decAdd(cur, step)) yield [formatDec(cur)];
      return;
    }
    const big = (v: Value): bigint => BigInt(v as number | bigint);
    const start = big(args[0]);
    const stop = big(args[1]);
    const step = args.length > 2 ? big(args[2]) : 1n;
    if (step === 0n) throw zeroStep();
    const asInt4 = k === 'int4';
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

// pg_partition_ancestors(regclass): a partition's ancestors. Weft has no partitioned tables, and
// PostgreSQL returns no rows for a relation that is neither a partition nor partitioned (psql's
// \d reads "Referenced by" through it for every table with foreign keys).
registerTableFunction('pg_partition_ancestors', {
  columns: (a) => (a.length === 1 ? [{ name: 'relid', type: t('regclass') }] : undefined),
  argTypes: () => [t('text')],
  *rows() {
    // no partitions: nothing to list
  },
});

// pg_options_to_table(options text[]): each 'name=value' option as (option_name, option_value);
// pg_dump reads FDW, server and column options with it (Weft has none, but the arrays may exist).
registerTableFunction('pg_options_to_table', {
  multiColumn: true,
  columns: (a) => (a.length === 1 ? [{ name: 'option_name', type: t('text') }, { name: 'option_value', type: t('text') }] : undefined),
  argTypes: () => [arrayOf(t('text'))],
  *rows(args) {
    for (const o of (args[0] as Value[] | null) ?? []) {
      if (o === null) continue;
      const s = o as string; // the argument is coerced to text[]
      const eq = s.indexOf('=');
      yield eq < 0 ? [s, null] : [s.slice(0, eq), s.slice(eq + 1)];
    }
  },
});

// information_schema._pg_expandarray(array): each element with its 1-based position, as
// (x, n) (pgjdbc's DatabaseMetaData reads index and key columns with it).
registerTableFunction('_pg_expandarray', {
  multiColumn: true,
  columns: (a) => (a.length === 1 && a[0].kind === 'array' ? [{ name: 'x', type: a[0].elem ?? t('text') }, { name: 'n', type: t('int4') }] : undefined),
  *rows(args) {
    const arr = (args[0] as Value[] | null) ?? [];
    for (let i = 0; i < arr.length; i++) yield [arr[i], i + 1];
  },
});

// generate_subscripts(array, dim [, reverse]): the subscripts of dimension `dim`. Weft's
// arrays are one-dimensional with lower bound 1, so dimension 1 is 1..n and any other is empty.
registerTableFunction('generate_subscripts', {
  columns: (a, name) => (a.length >= 2 && a.length <= 3 && (a[0].kind === 'array' || a[0].kind === 'unknown') ? [{ name, type: t('int4') }] : undefined),
  argTypes: (a) => [a[0].kind === 'array' ? a[0] : arrayOf(t('text')), t('int4'), t('bool')],
  *rows(args) {
    const arr = args[0] as Value[] | null;
    if (arr === null || args[1] === null || Number(args[1]) !== 1) return;
    const n = arr.length;
    if (args[2] === true) for (let i = n; i >= 1; i--) yield [i];
    else for (let i = 1; i <= n; i++) yield [i];
  },
});

for (const jsonb of [true, false]) {
  const p = jsonb ? 'jsonb' : 'json';
  const jt = t(p);
  registerTableFunction(`${p}_each`, {
    multiColumn: true,
    columns: (a) => (a.length === 1 ? [{ name: 'key', type: t('text') }, { name: 'value', type: jt }] : undefined),
    argTypes: () => [jt],
    *rows(args) {
      const d = parse(args[0]);
      if (!d || typeof d !== 'object' || Array.isArray(d)) throw sqlError(S.INVALID_PARAMETER_VALUE, `cannot call ${p}_each on a non-object`);
      for (const [k, v] of Object.entries(d)) yield [k, jsonText(v, jsonb)];
    },
  });
  registerTableFunction(`${p}_each_text`, {
    multiColumn: true,
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
