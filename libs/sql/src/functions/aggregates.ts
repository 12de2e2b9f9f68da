// Aggregate functions: the extension point for GROUP BY aggregates. Each is a factory of
// accumulators (init/step/final) chosen by argument types.
import { S, sqlError } from '../errors';
import { decAdd, decDiv, decFromBigint, formatDec, parseDec, type Dec } from '../types/decimal';
import { type SqlType, type Value, arrayOf, isIntKind, plain, t } from '../types/types';
import { compareValues, toText } from '../types/values';
import { stringifyJson, toJsonValue } from './json';

export interface Accumulator {
  step(args: readonly Value[]): void;
  final(): Value;
}

export interface AggregateDef {
  readonly name: string;
  /** Return type, or undefined when the argument types do not fit. */
  returns(args: readonly SqlType[]): SqlType | undefined;
  create(args: readonly SqlType[]): Accumulator;
  /** count(*) and friends accept NULL arguments; others skip rows with a NULL argument. */
  readonly acceptsNulls?: boolean;
}

const aggs = new Map<string, AggregateDef>();
export const registerAggregate = (...defs: AggregateDef[]): void => defs.forEach((d) => aggs.set(d.name, d));
export const lookupAggregate = (name: string): AggregateDef | undefined => aggs.get(name);
export const isAggregate = (name: string): boolean => aggs.has(name);

const numericSumType = (a: SqlType): SqlType | undefined => {
  if (a.kind === 'int2' || a.kind === 'int4') return t('int8');
  if (a.kind === 'int8' || a.kind === 'numeric' || a.kind === 'unknown') return t('numeric');
  if (a.kind === 'float4' || a.kind === 'float8') return a.kind === 'float4' ? t('float4') : t('float8');
  if (a.kind === 'interval') return t('interval');
  return undefined;
};

function toDec(v: Value): Dec {
  return typeof v === 'bigint' ? decFromBigint(v) : typeof v === 'number' ? parseDec(String(v)) : parseDec(v as string);
}

registerAggregate(
  {
    name: 'count',
    acceptsNulls: true,
    returns: () => t('int8'),
    create: (args) => {
      let n = 0n;
      return { step: (a) => void (args.length === 0 || a[0] !== null ? n++ : 0), final: () => n };
    },
  },
  {
    name: 'sum',
    returns: (a) => (a.length === 1 ? numericSumType(a[0]) : undefined),
    create: (args) => {
      const k = args[0].kind;
      if (k === 'float4' || k === 'float8') {
        let s: number | null = null;
        return { step: (a) => void (s = (s ?? 0) + (a[0] as number)), final: () => s };
      }
      if (k === 'int2' || k === 'int4') {
        let s: bigint | null = null;
        return { step: (a) => void (s = (s ?? 0n) + BigInt(a[0] as number)), final: () => s };
      }
      let s: Dec | null = null;
      return { step: (a) => void (s = s ? decAdd(s, toDec(a[0])) : toDec(a[0])), final: () => (s ? formatDec(s) : null) };
    },
  },
  {
    name: 'avg',
    returns: (a) => (a.length === 1 ? (a[0].kind === 'float4' || a[0].kind === 'float8' ? t('float8') : isIntKind(a[0].kind) || a[0].kind === 'numeric' ? t('numeric') : undefined) : undefined),
    create: (args) => {
      const k = args[0].kind;
      let n = 0;
      if (k === 'float4' || k === 'float8') {
        let s = 0;
        return { step: (a) => void ((s += a[0] as number), n++), final: () => (n ? s / n : null) };
      }
      let s: Dec = { u: 0n, s: 0 };
      return {
        step: (a) => void ((s = decAdd(s, toDec(a[0]))), n++),
        final: () => (n ? formatDec(decDiv(s, decFromBigint(BigInt(n)))) : null),
      };
    },
  },
  ...(['min', 'max'] as const).map(
    (name): AggregateDef => ({
      name,
      returns: (a) => (a.length === 1 ? (a[0].kind === 'unknown' ? t('text') : a[0]) : undefined),
      create: (args) => {
        let best: Value = null;
        const sign = name === 'min' ? 1 : -1;
        return {
          step: (a) => {
            if (best === null || sign * compareValues(a[0], best, args[0]) < 0) best = a[0];
          },
          final: () => best,
        };
      },
    }),
  ),
  ...(['bool_and', 'every'] as const).map(
    (name): AggregateDef => ({
      name,
      returns: (a) => (a.length === 1 && a[0].kind === 'bool' ? t('bool') : undefined),
      create: () => {
        let r: boolean | null = null;
        return { step: (a) => void (r = (r ?? true) && (a[0] as boolean)), final: () => r };
      },
    }),
  ),
  {
    name: 'bool_or',
    returns: (a) => (a.length === 1 && a[0].kind === 'bool' ? t('bool') : undefined),
    create: () => {
      let r: boolean | null = null;
      return { step: (a) => void (r = (r ?? false) || (a[0] as boolean)), final: () => r };
    },
  },
  {
    name: 'string_agg',
    returns: (a) => (a.length === 2 ? (a[0].kind === 'bytea' ? t('bytea') : t('text')) : undefined),
    create: (args) => {
      const parts: string[] = [];
      const seps: string[] = [];
      return {
        step: (a) => {
          seps.push(a[1] === null ? '' : plain(a[1]));
          parts.push(toText(a[0], args[0]));
        },
        final: () => (parts.length ? parts.map((p, i) => (i === 0 ? p : seps[i] + p)).join('') : null),
      };
    },
  },
  {
    name: 'array_agg',
    acceptsNulls: true,
    returns: (a) => (a.length === 1 ? arrayOf(a[0].kind === 'unknown' ? t('text') : a[0]) : undefined),
    create: () => {
      const out: Value[] = [];
      return { step: (a) => void out.push(a[0]), final: () => (out.length ? out : null) };
    },
  },
  ...(['json_agg', 'jsonb_agg'] as const).map(
    (name): AggregateDef => ({
      name,
      acceptsNulls: true,
      returns: (a) => (a.length === 1 ? t(name === 'json_agg' ? 'json' : 'jsonb') : undefined),
      create: (args) => {
        const out: unknown[] = [];
        return {
          step: (a) => void out.push(toJsonValue(a[0], args[0])),
          final: () => (out.length ? stringifyJson(out, name === 'jsonb_agg') : null),
        };
      },
    }),
  ),
  ...(['json_object_agg', 'jsonb_object_agg'] as const).map(
    (name): AggregateDef => ({
      name,
      acceptsNulls: true,
      returns: (a) => (a.length === 2 ? t(name === 'json_object_agg' ? 'json' : 'jsonb') : undefined),
      create: (args) => {
        const out: Record<string, unknown> = {};
        let any = false;
        return {
          step: (a) => {
            if (a[0] === null) throw sqlError(S.INVALID_PARAMETER_VALUE, 'field name must not be null');
            out[toText(a[0], args[0])] = toJsonValue(a[1], args[1]);
            any = true;
          },
          final: () => (any ? stringifyJson(out, name === 'jsonb_object_agg') : null),
        };
      },
    }),
  ),
  ...(['stddev', 'stddev_samp', 'stddev_pop', 'variance', 'var_samp', 'var_pop'] as const).map(
    (name): AggregateDef => ({
      name,
      returns: (a) => (a.length === 1 ? (a[0].kind === 'float4' || a[0].kind === 'float8' ? t('float8') : t('numeric')) : undefined),
      create: (args) => {
        const xs: number[] = [];
        return {
          step: (a) => void xs.push(Number(a[0])),
          final: () => {
            const pop = name.endsWith('_pop');
            const n = xs.length;
            if (n === 0 || (!pop && n === 1)) return null;
            const mean = xs.reduce((s, x) => s + x, 0) / n;
            const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (pop ? n : n - 1);
            const r = name.startsWith('stddev') ? Math.sqrt(v) : v;
            return args[0].kind === 'float4' || args[0].kind === 'float8' ? r : formatDec(parseDec(r.toFixed(16)));
          },
        };
      },
    }),
  ),
);
