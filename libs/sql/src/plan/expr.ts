// Expression compiler: a parse-tree expression becomes a typed closure `(env) => Value`,
// compiled once per plan. Work that must be async (subqueries, nextval) is hoisted into
// "slots": they run before the closure (once per statement, or per row when correlated) and
// the closure reads their results from the runtime.
import type { Node, FuncCall, A_Expr, SubLink, SelectStmt, TypeName, A_Const, WindowDef, SortBy } from 'libpg-query';
import { S, sqlError } from '../errors';
import { lookupFunction } from '../functions';
import { isAggregate, lookupAggregate, type AggregateDef } from '../functions/aggregates';
import { lookupTableFunction } from '../functions/table-functions';
import { jsonContains, jsonGet, jsonPath } from '../functions/json';
import { like, regexMatch } from '../functions/string';
import type { Env } from '../runtime';
import { addInterval, DAY_MICROS } from '../types/datetime';
import { decAdd, decDiv, decMod, decMul, decSub, formatDec, parseDec, decFromBigint, type Dec } from '../types/decimal';
import {
  type Interval, type SqlType, type TypeKind, type Value, arrayOf, isRegKind, isDateTimeKind, isIntKind, isNumericKind, isStringKind, t, typeDisplayName, typeFromName, plain,
} from '../types/types';
import { canonicalJsonb, castValue, checkInt, compareValues, fromText, hashKey, multidimensional } from '../types/values';
import type { PlanNode } from '../exec/nodes';
import { WINDOW_FUNCTIONS, type WindowCall } from '../exec/window';
import type { Scope } from './scope';

export interface Slot {
  readonly id: number;
  /** Uncorrelated: computed once per statement execution. */
  readonly once: boolean;
  run(env: Env): Promise<Value>;
}

export interface Expr {
  readonly type: SqlType;
  readonly fn: (env: Env) => Value;
  readonly slots: readonly Slot[];
  /** Output column name when used in a select list ('?column?' if none). */
  readonly name: string;
  /** Set when the value does not depend on the row (constant folding, parameter typing). */
  readonly isConst?: boolean;
  /** Set for a bare parameter reference whose type was only guessed. */
  readonly paramIndex?: number;
  /** A set-returning call in a select list: `fn` returns the list of values (ProjectNode expands). */
  readonly set?: boolean;
}

export interface AggCall {
  readonly def: AggregateDef;
  readonly args: readonly Expr[];
  readonly argTypes: readonly SqlType[];
  readonly distinct: boolean;
  readonly filter: Expr | undefined;
  readonly star: boolean;
  readonly orderBy: readonly { expr: Expr; desc: boolean }[];
  /** The arguments' parse trees (aggregates computed on the shards, decision 0038). */
  readonly argNodes: readonly Node[];
}

/** Collects aggregates and maps group-by expressions while compiling post-aggregation expressions. */
export interface AggContext {
  readonly inputScope: Scope;
  readonly groupKeys: readonly { readonly fingerprint: string; readonly type: SqlType }[];
  readonly calls: AggCall[];
}

/** Collects window function calls while compiling a select list (see exec/window.ts). */
export interface WindowContext {
  /** Width of the input row: window results are appended after it. */
  readonly inputWidth: number;
  readonly calls: WindowCall[];
}

export interface ParamTypes {
  readonly types: (SqlType | undefined)[];
}

export interface SubqueryPlanner {
  planSubquery(stmt: SelectStmt, outer: Scope, params: ParamTypes): { node: PlanNode; correlated: boolean };
}

export interface CompileContext {
  readonly scope: Scope;
  readonly params: ParamTypes;
  readonly planner: SubqueryPlanner;
  readonly agg?: AggContext;
  readonly win?: WindowContext;
  /** Aggregates are not allowed here (WHERE, GROUP BY, JOIN ON). */
  readonly noAgg?: string;
  readonly slotIds: { next: number };
  readonly runSlot: (env: Env, slot: Slot) => Value;
  /** Told the index of every parameter compiled before its type was known (filter pushdown). */
  readonly untypedParams?: Set<number>;
}

export function fingerprint(node: Node | undefined): string {
  return JSON.stringify(node, (k, v: unknown) => (k === 'location' ? undefined : v));
}

/**
 * The fingerprint that matches an expression against GROUP BY keys: column references are
 * replaced by the input column they resolve to, so `"t"."a"`, `a` and `public.t.a` are one
 * key (PostgreSQL matches after name resolution, not by spelling). Subqueries keep their
 * spelling: their column names resolve against their own FROM first.
 */
export function groupFingerprint(node: Node | undefined, scope: Scope): string {
  return JSON.stringify(node, (k, v: unknown) => {
    if (k === 'location') return undefined;
    if (k === 'SubLink') return fingerprint(v as Node);
    if (v !== null && typeof v === 'object' && 'ColumnRef' in v) {
      const fields = (v as { ColumnRef: { fields?: Node[] } }).ColumnRef.fields ?? [];
      const parts = fields.map((f) => ('String' in f ? (f.String.sval ?? '') : '*'));
      const index = parts[parts.length - 1] === '*' ? undefined : scope.ownIndex(parts);
      if (index !== undefined) return { $column: index };
    }
    return v;
  });
}

const pos = (loc: number | undefined): { position?: number } => (loc !== undefined && loc >= 0 ? { position: loc + 1 } : {});

const konst = (type: SqlType, v: Value, name = '?column?'): Expr => ({ type, fn: () => v, slots: [], name, isConst: true });

const mergeSlots = (...es: (Expr | undefined)[]): Slot[] => {
  const out: Slot[] = [];
  for (const e of es) if (e) for (const s of e.slots) if (!out.includes(s)) out.push(s);
  return out;
};

/** A binary operator that is NULL when either operand is (every strict SQL operator). */
function strictBinary(type: SqlType, l: Expr, r: Expr, f: (a: Value, b: Value) => Value): Expr {
  const lf = l.fn;
  const rf = r.fn;
  return {
    type,
    fn: (env) => {
      const a = lf(env);
      if (a === null) return null;
      const b = rf(env);
      return b === null ? null : f(a, b);
    },
    slots: mergeSlots(l, r),
    name: '?column?',
  };
}

export function stringOf(n: Node | undefined): string {
  if (n && 'String' in n) return n.String.sval ?? '';
  if (n && 'A_Star' in n) return '*';
  return '';
}

export function typeFromTypeName(tn: TypeName): SqlType {
  const names = (tn.names ?? []).map(stringOf).filter((s) => s !== 'pg_catalog');
  let name = names.join('.');
  const mods = (tn.typmods ?? []).map((m) => ('A_Const' in m ? Number(m.A_Const.ival?.ival ?? 0) : 0));
  if (name === 'timestamptz' || name === 'timetz') name = name === 'timetz' ? 'time' : 'timestamptz';
  if (name === 'interval') return t('interval');
  return typeFromName(name, mods, (tn.arrayBounds ?? []).length);
}

// ---------------------------------------------------------------------------------------------
// type resolution

const INT_RANK: Partial<Record<TypeKind, number>> = { int2: 1, int4: 2, int8: 3, oid: 3, regclass: 3, regtype: 3, regproc: 3 };

export function commonType(a: SqlType, b: SqlType, loc?: number): SqlType {
  if (a.kind === 'enum' && b.kind === 'enum' && a.enum?.typeId !== b.enum?.typeId) {
    throw sqlError(S.DATATYPE_MISMATCH, `types ${typeDisplayName(a)} and ${typeDisplayName(b)} cannot be matched`, pos(loc));
  }
  if (a.kind === b.kind) return a.typmod === b.typmod ? a : a.kind === 'array' ? a : t(a.kind);
  if (a.kind === 'unknown') return b.kind === 'unknown' ? t('text') : b;
  if (b.kind === 'unknown') return a;
  if (isStringKind(a.kind) && isStringKind(b.kind)) return t('text');
  if (isIntKind(a.kind) && isIntKind(b.kind)) return (INT_RANK[a.kind] ?? 0) >= (INT_RANK[b.kind] ?? 0) ? (a.kind === 'oid' || a.kind.startsWith('reg') ? t('int8') : a) : b.kind === 'oid' || b.kind.startsWith('reg') ? t('int8') : b;
  if (isNumericKind(a.kind) && isNumericKind(b.kind)) {
    if (a.kind === 'float8' || b.kind === 'float8') return t('float8');
    if (a.kind === 'float4' || b.kind === 'float4') return a.kind === b.kind ? t('float4') : t('float8');
    return t('numeric');
  }
  if (isDateTimeKind(a.kind) && isDateTimeKind(b.kind) && a.kind !== 'time' && b.kind !== 'time') {
    return a.kind === 'timestamptz' || b.kind === 'timestamptz' ? t('timestamptz') : t('timestamp');
  }
  if ((a.kind === 'json' || a.kind === 'jsonb') && (b.kind === 'json' || b.kind === 'jsonb')) return t('jsonb');
  if (a.kind === 'array' && b.kind === 'array') return arrayOf(commonType(a.elem ?? t('text'), b.elem ?? t('text'), loc));
  throw sqlError(S.DATATYPE_MISMATCH, `types ${typeDisplayName(a)} and ${typeDisplayName(b)} cannot be matched`, pos(loc));
}

/** Implicit conversion of `e` to `to` (constants are converted at compile time). */
export function coerce(e: Expr, to: SqlType, explicit = false): Expr {
  if (e.type.kind === to.kind && (to.typmod === -1 || e.type.typmod === to.typmod) && to.kind !== 'array') return e;
  if (isRegKind(e.type.kind) && isStringKind(to.kind)) return coerce(regAsText(e), to, explicit);
  if (e.type.kind === 'array' && to.kind === 'array' && e.type.elem?.kind === to.elem?.kind) return e.type.vector === to.vector ? e : { ...e, type: to };
  const from = e.type;
  if (e.isConst && e.slots.length === 0) {
    const v = castValue(e.fn(undefined as unknown as Env), from, to, explicit);
    return { ...konst(to, v, e.name), paramIndex: e.paramIndex };
  }
  const f = e.fn;
  return { type: to, fn: (env) => castValue(f(env), from, to, explicit), slots: e.slots, name: e.name };
}

/** Functions that print their arguments (a reg* argument prints as its name). */
const PRINTS_ARGUMENTS = new Set(['format', 'concat', 'concat_ws']);

/**
 * A reg* value (an OID) as the text of the name it stands for, as PostgreSQL's output function
 * gives it to `::text`, `||`, format() and concat(): never the OID's digits.
 */
export function regAsText(e: Expr): Expr {
  if (!isRegKind(e.type.kind)) return e;
  const kind = e.type.kind as RegKind;
  const f = e.fn;
  // A value that is already a name (a reg* parameter arrives as its text) stays as it is.
  return { type: t('text'), fn: (env) => { const v = f(env); return v === null || typeof v === 'string' ? v : env.rt.services.regName(kind, Number(v)); }, slots: e.slots, name: e.name };
}

// ---------------------------------------------------------------------------------------------

export class ExprCompiler {
  constructor(private readonly ctx: CompileContext) {}

  with(over: Partial<CompileContext>): ExprCompiler {
    return new ExprCompiler({ ...this.ctx, ...over });
  }

  get scope(): Scope {
    return this.ctx.scope;
  }

  compile(node: Node, hint?: SqlType): Expr {
    if (this.ctx.agg) {
      const fp = groupFingerprint(node, this.ctx.agg.inputScope);
      const gi = this.ctx.agg.groupKeys.findIndex((g) => g.fingerprint === fp);
      if (gi >= 0 && !('A_Const' in node)) {
        const type = this.ctx.agg.groupKeys[gi].type;
        return { type, fn: (env) => env.row[gi], slots: [], name: this.nameOf(node) };
      }
    }
    if ('A_Const' in node) return this.constant(node.A_Const, hint);
    if ('ColumnRef' in node) return this.columnRef(node.ColumnRef.fields ?? [], node.ColumnRef.location);
    if ('ParamRef' in node) return this.param(node.ParamRef.number ?? 0, hint, node.ParamRef.location);
    if ('TypeCast' in node) {
      const to = typeFromTypeName(node.TypeCast.typeName ?? {});
      const arg = node.TypeCast.arg;
      if (!arg) throw sqlError(S.SYNTAX_ERROR, 'cast without argument');
      if (isRegKind(to.kind)) return this.regCast(arg, to.kind as RegKind);
      const inner = this.compile(arg, to);
      const e = coerce(inner, to, true);
      return { ...e, name: castColumnName(inner.name, arg, to) };
    }
    if ('A_Expr' in node) return this.aExpr(node.A_Expr);
    if ('BoolExpr' in node) return this.boolExpr(node.BoolExpr.boolop ?? 'AND_EXPR', node.BoolExpr.args ?? []);
    if ('NullTest' in node) {
      const arg = this.compile(node.NullTest.arg as Node);
      const f = arg.fn;
      const isNull = node.NullTest.nulltesttype === 'IS_NULL';
      return { type: t('bool'), fn: (env) => (f(env) === null) === isNull, slots: arg.slots, name: '?column?' };
    }
    if ('BooleanTest' in node) return this.booleanTest(node.BooleanTest.arg as Node, node.BooleanTest.booltesttype ?? 'IS_TRUE');
    if ('FuncCall' in node) return this.funcCall(node.FuncCall);
    if ('CaseExpr' in node) return this.caseExpr(node.CaseExpr.arg, node.CaseExpr.args ?? [], node.CaseExpr.defresult, hint);
    if ('CoalesceExpr' in node) {
      const args = this.compileCommon(node.CoalesceExpr.args ?? [], hint);
      const fns = args.map((a) => a.fn);
      return {
        type: args[0].type,
        fn: (env) => {
          for (const f of fns) {
            const v = f(env);
            if (v !== null) return v;
          }
          return null;
        },
        slots: mergeSlots(...args),
        name: 'coalesce',
      };
    }
    if ('MinMaxExpr' in node) {
      const args = this.compileCommon(node.MinMaxExpr.args ?? [], hint);
      const type = args[0].type;
      const sign = node.MinMaxExpr.op === 'IS_GREATEST' ? -1 : 1;
      const fns = args.map((a) => a.fn);
      return {
        type,
        fn: (env) => {
          let best: Value = null;
          for (const f of fns) {
            const v = f(env);
            if (v !== null && (best === null || sign * compareValues(v, best, type) < 0)) best = v;
          }
          return best;
        },
        slots: mergeSlots(...args),
        name: node.MinMaxExpr.op === 'IS_GREATEST' ? 'greatest' : 'least',
      };
    }
    if ('NullIfExpr' in node) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'NULLIF node');
    if ('SubLink' in node) return this.subLink(node.SubLink);
    if ('A_ArrayExpr' in node) {
      const elemHint = hint?.kind === 'array' ? hint.elem : undefined;
      const els = this.compileCommon(node.A_ArrayExpr.elements ?? [], elemHint, true);
      const elem = els.length ? els[0].type : (elemHint ?? t('text'));
      // ARRAY[[1,2],[3,4]] / ARRAY[ARRAY[..], ..] build a 2-D array in PostgreSQL; Weft's arrays
      // have one dimension, so refuse it (it used to come out as a 1-D array of text).
      if (elem.kind === 'array' && !elem.vector) throw multidimensional();
      const fns = els.map((e) => e.fn);
      return { type: arrayOf(elem), fn: (env) => fns.map((f) => f(env)), slots: mergeSlots(...els), name: 'array' };
    }
    if ('A_Indirection' in node) return this.indirection(node.A_Indirection.arg as Node, node.A_Indirection.indirection ?? []);
    if ('SQLValueFunction' in node) return this.sqlValueFunction(node.SQLValueFunction.op ?? '');
    if ('CollateClause' in node) return this.compile(node.CollateClause.arg as Node, hint);
    if ('RowExpr' in node) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'row values are only supported in comparisons');
    if ('SetToDefault' in node) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'DEFAULT is not allowed in this context');
    throw sqlError(S.FEATURE_NOT_SUPPORTED, `expression ${Object.keys(node)[0]} is not supported`);
  }

  /**
   * ::regclass and friends: a value of the type is the OID; a name is looked up, a number taken
   * as it is. Output, ::text, || and format() print the name it stands for (regAsText).
   */
  private regCast(arg: Node, kind: RegKind): Expr {
    const inner = this.compile(arg);
    const f = inner.fn;
    const name = castColumnName(inner.name, arg, t(kind));
    if (isIntKind(inner.type.kind)) {
      return { type: t(kind), fn: (env) => { const v = f(env); return v === null ? null : Number(v); }, slots: inner.slots, name };
    }
    const g = coerce(inner, t('text')).fn;
    return { type: t(kind), fn: (env) => { const v = g(env); return v === null ? null : env.rt.services.regOid(kind, v as string); }, slots: inner.slots, name };
  }

  /** A select-list item: like compile(), but a top-level set-returning call yields a set. */
  compileTarget(node: Node): Expr {
    // (srf(...)).field: the field of each row of a multi-column set-returning call.
    if ('A_Indirection' in node && 'FuncCall' in (node.A_Indirection.arg as Node)) {
      const set = this.compileTarget(node.A_Indirection.arg as Node);
      if (set.set && set.type.kind === 'record') {
        const ind = node.A_Indirection.indirection ?? [];
        const picks = ind.map((i) => this.recordField(set.type, i));
        const last = picks[picks.length - 1];
        const sf = set.fn;
        return {
          type: last.type,
          fn: (env) => (sf(env) as Value[]).map((row) => picks.reduce<Value>((v, p) => (v === null ? null : (v as Value[])[p.index] ?? null), row)),
          slots: set.slots,
          name: last.name,
          set: true,
        };
      }
    }
    if ('FuncCall' in node && !node.FuncCall.over) {
      const fc = node.FuncCall;
      const name = stringOf((fc.funcname ?? []).slice(-1)[0]);
      const tf = lookupTableFunction(name);
      if (tf) {
        let args = (fc.args ?? []).map((a) => this.compile(a));
        const declared = args.map((a) => a.type);
        const out = tf.columns(declared, name);
        if (!out) throw sqlError(S.UNDEFINED_FUNCTION, `function ${name}(${declared.map(typeDisplayName).join(', ')}) does not exist`, pos(fc.location));
        const wanted = tf.argTypes?.(declared) ?? [];
        args = args.map((a, i) => (a.type.kind === 'unknown' || (wanted[i] && wanted[i]?.kind !== a.type.kind && a.type.kind !== 'array') ? coerce(a, wanted[i] ?? t('text')) : a));
        const types = args.map((a) => a.type);
        const outTypes = out.map((o) => o.type);
        const fns = args.map((a) => a.fn);
        // Several output columns: each row is a record (its fields selectable with (f(...)).x).
        const record: SqlType | undefined = out.length > 1 ? { kind: 'record', typmod: -1, fields: out } : undefined;
        return {
          type: record ?? out[0].type,
          fn: (env) => {
            const vals = fns.map((f) => f(env));
            if (vals.some((v) => v === null)) return [];
            return [...tf.rows(vals, types, outTypes)].map((r) => (record ? [...r] : r[0]));
          },
          slots: mergeSlots(...args),
          name,
          set: true,
        };
      }
    }
    return this.compile(node);
  }

  private nameOf(node: Node): string {
    if ('ColumnRef' in node) {
      const f = node.ColumnRef.fields ?? [];
      return stringOf(f[f.length - 1]);
    }
    if ('FuncCall' in node) return stringOf((node.FuncCall.funcname ?? []).slice(-1)[0]);
    if ('CaseExpr' in node) return 'case';
    if ('CoalesceExpr' in node) return 'coalesce';
    if ('MinMaxExpr' in node) return node.MinMaxExpr.op === 'IS_GREATEST' ? 'greatest' : 'least';
    if ('A_ArrayExpr' in node) return 'array';
    if ('TypeCast' in node) {
      const inner = node.TypeCast.arg ? this.nameOf(node.TypeCast.arg) : '?column?';
      return inner !== '?column?' && !('A_Const' in (node.TypeCast.arg ?? {})) && !('TypeCast' in (node.TypeCast.arg ?? {})) ? inner : typeNameForColumn(typeFromTypeName(node.TypeCast.typeName ?? {}));
    }
    return '?column?';
  }

  /** Compiles a list to one common type (CASE branches, COALESCE, IN lists, VALUES columns). */
  compileCommon(nodes: readonly Node[], hint?: SqlType, _array = false): Expr[] {
    const first = nodes.map((n) => (isUntyped(n) ? undefined : this.compile(n, hint)));
    let type: SqlType | undefined;
    for (const e of first) if (e && e.type.kind !== 'unknown') type = type ? commonType(type, e.type) : e.type;
    type ??= hint ?? t('text');
    return nodes.map((n, i) => coerce(first[i] ?? this.compile(n, type), type));
  }

  private constant(c: A_Const, hint?: SqlType): Expr {
    if (c.isnull) return konst(hint ?? t('unknown'), null);
    if (c.ival) return konst(t('int4'), c.ival.ival ?? 0);
    if (c.fval) {
      const text = c.fval.fval ?? '0';
      if (/^[+-]?\d+$/.test(text)) {
        const b = BigInt(text);
        if (b >= -2147483648n && b <= 2147483647n) return konst(t('int4'), Number(b));
        return b >= -(1n << 63n) && b < 1n << 63n ? konst(t('int8'), b) : konst(t('numeric'), text);
      }
      return konst(t('numeric'), formatDec(parseDec(text)));
    }
    if (c.boolval) return konst(t('bool'), c.boolval.boolval ?? false, 'bool');
    if (c.sval) {
      const s = c.sval.sval ?? '';
      return konst(t('unknown'), s);
    }
    if (c.bsval) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'bit string literals are not supported');
    return konst(t('unknown'), null);
  }

  private columnRef(fields: readonly Node[], location?: number): Expr {
    const parts = fields.map(stringOf);
    if (parts[parts.length - 1] === '*') throw sqlError(S.SYNTAX_ERROR, '* is only allowed in a select list or count(*)', pos(location));
    const scope = this.ctx.agg ? this.ctx.agg.inputScope : this.ctx.scope;
    const r = scope.resolve(parts, location);
    if (!r) {
      if (parts.length >= 2 && !scope.hasQualifier(parts[parts.length - 2]) && !hasQualifierDeep(scope, parts[parts.length - 2])) {
        throw sqlError(S.UNDEFINED_TABLE, `missing FROM-clause entry for table "${parts[parts.length - 2]}"`, pos(location));
      }
      throw sqlError(S.UNDEFINED_COLUMN, `column ${parts.join('.')} does not exist`, pos(location));
    }
    if (this.ctx.agg && r.depth === 0) {
      throw sqlError(
        S.GROUPING_ERROR,
        `column "${r.column.qualifier ? `${r.column.qualifier}.` : ''}${r.column.name}" must appear in the GROUP BY clause or be used in an aggregate function`,
        pos(location),
      );
    }
    const { depth, index } = r;
    const name = r.column.name;
    if (depth === 0) return { type: r.column.type, fn: (env) => env.row[index], slots: [], name };
    return {
      type: r.column.type,
      fn: (env) => {
        let e: Env = env;
        for (let i = 0; i < depth; i++) e = e.outer as Env;
        return e.row[index];
      },
      slots: [],
      name,
    };
  }

  private param(n: number, hint: SqlType | undefined, location?: number): Expr {
    if (n < 1 || n > 65535) throw sqlError(S.UNDEFINED_PARAMETER.replace('42704', '42P02'), `there is no parameter $${n}`, pos(location));
    const types = this.ctx.params.types;
    let type = types[n - 1];
    if (!type || type.kind === 'unknown') {
      type = hint && hint.kind !== 'unknown' ? hint : undefined;
      if (type) types[n - 1] = type;
    }
    while (types.length < n) types.push(undefined);
    const i = n - 1;
    const known = type;
    if (known === undefined) this.ctx.untypedParams?.add(i);
    return { type: known ?? t('unknown'), fn: (env) => env.rt.params[i] ?? null, slots: [], name: '?column?', paramIndex: i };
  }

  private booleanTest(arg: Node, kind: string): Expr {
    const a = coerce(this.compile(arg, t('bool')), t('bool'));
    const f = a.fn;
    const test: Record<string, (v: Value) => boolean> = {
      IS_TRUE: (v) => v === true,
      IS_NOT_TRUE: (v) => v !== true,
      IS_FALSE: (v) => v === false,
      IS_NOT_FALSE: (v) => v !== false,
      IS_UNKNOWN: (v) => v === null,
      IS_NOT_UNKNOWN: (v) => v !== null,
    };
    const tf = test[kind];
    return { type: t('bool'), fn: (env) => tf(f(env)), slots: a.slots, name: '?column?' };
  }

  boolExpr(op: string, args: readonly Node[]): Expr {
    const es = args.map((a) => this.asBool(this.compile(a, t('bool'))));
    const fns = es.map((e) => e.fn);
    const slots = mergeSlots(...es);
    if (op === 'NOT_EXPR') {
      const f = fns[0];
      return { type: t('bool'), fn: (env) => { const v = f(env); return v === null ? null : !v; }, slots, name: '?column?' };
    }
    const isAnd = op === 'AND_EXPR';
    return {
      type: t('bool'),
      fn: (env) => {
        let sawNull = false;
        for (const f of fns) {
          const v = f(env);
          if (v === null) sawNull = true;
          else if (v === !isAnd) return !isAnd;
        }
        return sawNull ? null : isAnd;
      },
      slots,
      name: '?column?',
    };
  }

  asBool(e: Expr, what = 'argument of WHERE'): Expr {
    if (e.type.kind === 'bool') return e;
    if (e.type.kind === 'unknown') return coerce(e, t('bool'));
    throw sqlError(S.DATATYPE_MISMATCH, `${what} must be type boolean, not type ${typeDisplayName(e.type)}`);
  }

  private caseExpr(arg: Node | undefined, whens: readonly Node[], def: Node | undefined, hint?: SqlType): Expr {
    const subject = arg ? this.compile(arg) : undefined;
    const conds: Expr[] = [];
    const results: Node[] = [];
    for (const w of whens) {
      if (!('CaseWhen' in w)) continue;
      const cw = w.CaseWhen;
      if (subject) conds.push(this.compare('=', subject, this.compile(cw.expr as Node, subject.type)));
      else conds.push(this.asBool(this.compile(cw.expr as Node, t('bool')), 'argument of CASE/WHEN'));
      results.push(cw.result as Node);
    }
    const all = this.compileCommon(def ? [...results, def] : results, hint);
    const outs = all.slice(0, results.length).map((e) => e.fn);
    const dflt = def ? all[all.length - 1].fn : undefined;
    const cfs = conds.map((c) => c.fn);
    return {
      type: all[0]?.type ?? t('text'),
      fn: (env) => {
        for (let i = 0; i < cfs.length; i++) if (cfs[i](env) === true) return outs[i](env);
        return dflt ? dflt(env) : null;
      },
      slots: mergeSlots(subject, ...conds, ...all),
      name: 'case',
    };
  }

  /** Compiles a pair where a bare parameter or literal takes the other side's type. */
  private pair(l: Node, r: Node): [Expr, Expr] {
    if (isUntyped(l) && !isUntyped(r)) {
      const re = this.compile(r);
      return [this.compile(l, re.type), re];
    }
    const le = this.compile(l);
    return [le, this.compile(r, le.type)];
  }

  private aExpr(e: A_Expr): Expr {
    const op = (e.name ?? []).map(stringOf).filter((x) => x !== 'pg_catalog').join('.');
    const kind = e.kind ?? 'AEXPR_OP';
    switch (kind) {
      case 'AEXPR_OP': {
        if (e.lexpr && 'RowExpr' in e.lexpr && e.rexpr && 'RowExpr' in e.rexpr) {
          return this.rowCompare(op, this.rowItems(e.lexpr), this.rowItems(e.rexpr), e.location);
        }
        if (!e.lexpr) {
          // Postgres's grammar folds a minus into a numeric literal (-2147483648 is one int4
          // literal), but not into anything else: -1::int8 is -(1::int8), an int8.
          const rx = e.rexpr as Node;
          if (op === '-' && 'A_Const' in rx && (rx.A_Const.ival || rx.A_Const.fval)) return this.constant(negatedLiteral(rx.A_Const));
          return this.unary(op, this.compile(rx), e.location);
        }
        const [l, r] = this.pair(e.lexpr, e.rexpr as Node);
        return this.binary(op, l, r, e.location);
      }
      case 'AEXPR_DISTINCT':
      case 'AEXPR_NOT_DISTINCT': {
        const [l, r] = this.pair(e.lexpr as Node, e.rexpr as Node);
        const type = commonType(l.type, r.type, e.location);
        const lf = coerce(l, type).fn;
        const rf = coerce(r, type).fn;
        const distinct = kind === 'AEXPR_DISTINCT';
        return {
          type: t('bool'),
          fn: (env) => {
            const a = lf(env);
            const b = rf(env);
            const same = a === null || b === null ? a === b : compareValues(a, b, type) === 0;
            return distinct ? !same : same;
          },
          slots: mergeSlots(l, r),
          name: '?column?',
        };
      }
      case 'AEXPR_NULLIF': {
        const [l, r] = this.pair(e.lexpr as Node, e.rexpr as Node);
        const type = commonType(l.type, r.type, e.location);
        const lf = coerce(l, type).fn;
        const rf = coerce(r, type).fn;
        return {
          type,
          fn: (env) => {
            const a = lf(env);
            const b = rf(env);
            return a !== null && b !== null && compareValues(a, b, type) === 0 ? null : a;
          },
          slots: mergeSlots(l, r),
          name: 'nullif',
        };
      }
      case 'AEXPR_IN': {
        const list = 'List' in (e.rexpr as Node) ? ((e.rexpr as { List: { items?: Node[] } }).List.items ?? []) : [e.rexpr as Node];
        if (e.lexpr && 'RowExpr' in e.lexpr) {
          // (a, b) IN ((1, 2), (3, 4)): OR of row equalities; NOT IN: AND of inequalities.
          const left = this.rowItems(e.lexpr);
          const parts = list.map((n) => this.rowCompare(op === '<>' ? '<>' : '=', left, 'RowExpr' in n ? this.rowItems(n) : [this.compile(n)], e.location));
          const fns = parts.map((p) => p.fn);
          const any = op !== '<>';
          return {
            type: t('bool'),
            fn: (env) => {
              let sawNull = false;
              for (const f of fns) {
                const v = f(env);
                if (v === null) sawNull = true;
                else if (v === any) return any;
              }
              return sawNull ? null : !any;
            },
            slots: mergeSlots(...parts),
            name: '?column?',
          };
        }
        const left = this.compile(e.lexpr as Node);
        const items = list.map((n) => this.compile(n, left.type));
        let type = left.type;
        for (const it of items) type = commonType(type, it.type, e.location);
        const lf = coerce(left, type).fn;
        const ifs = items.map((it) => coerce(it, type).fn);
        const negate = op === '<>';
        return {
          type: t('bool'),
          fn: (env) => {
            const a = lf(env);
            if (a === null) return null;
            let sawNull = false;
            for (const f of ifs) {
              const b = f(env);
              if (b === null) sawNull = true;
              else if (compareValues(a, b, type) === 0) return !negate;
            }
            return sawNull ? null : negate;
          },
          slots: mergeSlots(left, ...items),
          name: '?column?',
        };
      }
      case 'AEXPR_LIKE':
      case 'AEXPR_ILIKE': {
        const [l, r] = this.pair(e.lexpr as Node, e.rexpr as Node);
        const insensitive = kind === 'AEXPR_ILIKE';
        const negate = op.startsWith('!');
        const lf = coerce(l, t('text')).fn;
        const rf = coerce(r, t('text')).fn;
        return {
          type: t('bool'),
          fn: (env) => {
            const a = lf(env);
            const b = rf(env);
            if (a === null || b === null) return null;
            return like(a as string, b as string, insensitive) !== negate;
          },
          slots: mergeSlots(l, r),
          name: '?column?',
        };
      }
      case 'AEXPR_SIMILAR':
        throw sqlError(S.FEATURE_NOT_SUPPORTED, 'SIMILAR TO is not supported');
      case 'AEXPR_BETWEEN':
      case 'AEXPR_NOT_BETWEEN':
      case 'AEXPR_BETWEEN_SYM':
      case 'AEXPR_NOT_BETWEEN_SYM': {
        const bounds = (e.rexpr as { List: { items?: Node[] } }).List.items ?? [];
        const x = this.compile(e.lexpr as Node);
        const lo = this.compile(bounds[0], x.type);
        const hi = this.compile(bounds[1], x.type);
        const type = commonType(commonType(x.type, lo.type), hi.type);
        const [xf, lf, hf] = [x, lo, hi].map((q) => coerce(q, type).fn);
        const neg = kind.includes('NOT');
        const sym = kind.includes('SYM');
        return {
          type: t('bool'),
          fn: (env) => {
            const v = xf(env);
            let a = lf(env);
            let b = hf(env);
            if (v === null || a === null || b === null) return null;
            if (sym && compareValues(a, b, type) > 0) [a, b] = [b, a];
            const inside = compareValues(v, a, type) >= 0 && compareValues(v, b, type) <= 0;
            return inside !== neg;
          },
          slots: mergeSlots(x, lo, hi),
          name: '?column?',
        };
      }
      case 'AEXPR_OP_ANY':
      case 'AEXPR_OP_ALL': {
        const left = this.compile(e.lexpr as Node);
        const arr = this.compile(e.rexpr as Node, arrayOf(left.type));
        const arrT = arr.type.kind === 'array' ? arr.type : arrayOf(left.type);
        const elem = arr.type.kind === 'array' ? (arr.type.elem ?? left.type) : left.type;
        const arrE = arr.type.kind === 'unknown' ? coerce(arr, arrT) : arr;
        const cmp = this.quantified(op, { type: left.type, fn: (env) => env.row[0], slots: [], name: '' }, { type: elem, fn: (env) => env.row[1], slots: [], name: '' }, 'array', e.location);
        const lf = left.fn;
        const af = arrE.fn;
        const cf = cmp.fn;
        const any = kind === 'AEXPR_OP_ANY';
        return {
          type: t('bool'),
          fn: (env) => {
            const a = lf(env);
            const list = af(env) as Value[] | null;
            if (list === null) return null;
            let sawNull = false;
            for (const b of list) {
              const r = cf({ row: [a, b], outer: env.outer, rt: env.rt });
              if (r === null) sawNull = true;
              else if (r === any) return any;
            }
            return sawNull ? null : !any;
          },
          slots: mergeSlots(left, arrE),
          name: '?column?',
        };
      }
      default:
        throw sqlError(S.FEATURE_NOT_SUPPORTED, `operator kind ${String(kind)} is not supported`);
    }
  }

  private rowItems(n: Node): Expr[] {
    return 'RowExpr' in n ? (n.RowExpr.args ?? []).map((a) => this.compile(a)) : [this.compile(n)];
  }

  /** Row comparison: = and <> elementwise; < <= > >= lexicographically (SQL semantics with NULLs). */
  rowCompare(op: string, left: readonly Expr[], right: readonly Expr[], loc?: number): Expr {
    if (left.length !== right.length) throw sqlError(S.SYNTAX_ERROR, 'unequal number of entries in row expressions', pos(loc));
    const eqs = left.map((l, i) => this.compare('=', l, right[i], loc));
    const lts = left.map((l, i) => this.compare('<', l, right[i], loc));
    const eqf = eqs.map((x) => x.fn);
    const ltf = lts.map((x) => x.fn);
    const slots = mergeSlots(...left, ...right);
    let fn: (env: Env) => Value;
    if (op === '=' || op === '<>' || op === '!=') {
      const negate = op !== '=';
      fn = (env) => {
        let sawNull = false;
        for (const f of eqf) {
          const v = f(env);
          if (v === false) return negate;
          if (v === null) sawNull = true;
        }
        return sawNull ? null : !negate;
      };
    } else if (['<', '<=', '>', '>='].includes(op)) {
      // The first pair that is not equal decides; all equal decides by whether op admits equality.
      fn = (env) => {
        for (let i = 0; i < eqf.length; i++) {
          const eq = eqf[i](env);
          if (eq === null) return null;
          if (eq === true) continue;
          const lt = ltf[i](env) as boolean;
          return op === '<' || op === '<=' ? lt : !lt;
        }
        return op === '<=' || op === '>=';
      };
    } else throw sqlError(S.FEATURE_NOT_SUPPORTED, `row comparison with ${op} is not supported`, pos(loc));
    return { type: t('bool'), fn, slots, name: '?column?' };
  }

  private unary(op: string, a: Expr, loc?: number): Expr {
    const f = a.fn;
    if (op === '-') {
      const k = a.type.kind === 'unknown' ? 'numeric' : a.type.kind;
      const e = a.type.kind === 'unknown' ? coerce(a, t('numeric')) : a;
      const g = e.fn;
      const neg = (v: Value): Value => {
        if (v === null) return null;
        if (typeof v === 'bigint') return checkInt(-v, 'int8');
        if (typeof v === 'number') return isIntKind(k) ? checkInt(-v, k) : -v;
        if (k === 'interval') {
          const iv = v as Interval;
          return { months: -iv.months, days: -iv.days, micros: -iv.micros };
        }
        if (k === 'numeric') return v === 'NaN' ? v : formatDec(decSub({ u: 0n, s: 0 }, parseDec(v as string)));
        throw sqlError(S.UNDEFINED_FUNCTION, `operator does not exist: - ${typeDisplayName(e.type)}`, pos(loc));
      };
      const r = { type: e.type, fn: (env: Env) => neg(g(env)), slots: e.slots, name: '?column?' };
      return e.isConst && e.slots.length === 0 ? konst(e.type, neg(g(undefined as unknown as Env))) : r;
    }
    if (op === '+') return a;
    if (op === '|/' || op === '||/') {
      const g = coerce(a, t('float8')).fn;
      return { type: t('float8'), fn: (env) => { const v = g(env) as number | null; if (v === null) return null; if (op === '|/' && v < 0) throw sqlError('2201F', 'cannot take square root of a negative number'); return op === '|/' ? Math.sqrt(v) : Math.cbrt(v); }, slots: a.slots, name: '?column?' };
    }
    if (op === '~' && isIntKind(a.type.kind)) {
      if (a.isConst) return konst(a.type, typeof f(undefined as unknown as Env) === 'bigint' ? ~(f(undefined as unknown as Env) as bigint) : ~(f(undefined as unknown as Env) as number));
      return { type: a.type, fn: (env) => { const v = f(env); return v === null ? null : typeof v === 'bigint' ? ~v : ~(v as number); }, slots: a.slots, name: '?column?' };
    }
    if (op === '@' && !isNumericKind(a.type.kind)) throw sqlError(S.UNDEFINED_FUNCTION, `operator does not exist: @ ${typeDisplayName(a.type)}`, pos(loc));
    if (op === '@') return { type: a.type, fn: (env) => { const v = f(env); return v === null ? null : typeof v === 'bigint' ? (v < 0n ? -v : v) : Math.abs(v as number); }, slots: a.slots, name: '?column?' };
    throw sqlError(S.UNDEFINED_FUNCTION, `operator does not exist: ${op} ${typeDisplayName(a.type)}`, pos(loc));
  }

  /**
   * `l op r` for op ANY/ALL (array or subquery): a comparison, or any operator that yields a
   * boolean (LIKE, ILIKE, regex matches ...), else 42809 as in Postgres.
   */
  private quantified(op: string, l: Expr, r: Expr, what: 'array' | 'subquery', loc?: number): Expr {
    if (op in COMPARE_OPS) return this.compare(op, l, r, loc);
    const e = this.binaryOp(op, l, r, loc);
    if (e.type.kind !== 'bool') throw sqlError(S.WRONG_OBJECT_TYPE, `op ANY/ALL (${what}) requires operator to yield boolean`, pos(loc));
    return e;
  }

  compare(op: string, l: Expr, r: Expr, loc?: number): Expr {
    // An enum compares only with its own type (an untyped literal becomes one); PostgreSQL has
    // no enum = text operator.
    const enumMismatch = (a: SqlType, b: SqlType): boolean => a.kind === 'enum' && b.kind !== 'unknown' && (b.kind !== 'enum' || b.enum?.typeId !== a.enum?.typeId);
    if (!(op in COMPARE_OPS) || enumMismatch(l.type, r.type) || enumMismatch(r.type, l.type)) {
      throw sqlError(S.UNDEFINED_FUNCTION, `operator does not exist: ${typeDisplayName(l.type)} ${op} ${typeDisplayName(r.type)}`, pos(loc));
    }
    const type = commonType(l.type, r.type, loc);
    const lf = coerce(l, type).fn;
    const rf = coerce(r, type).fn;
    const test: Record<string, (c: number) => boolean> = {
      '=': (c) => c === 0,
      '<>': (c) => c !== 0,
      '!=': (c) => c !== 0,
      '<': (c) => c < 0,
      '<=': (c) => c <= 0,
      '>': (c) => c > 0,
      '>=': (c) => c >= 0,
    };
    const tf = test[op];
    return {
      type: t('bool'),
      fn: (env) => {
        const a = lf(env);
        if (a === null) return null;
        const b = rf(env);
        if (b === null) return null;
        return tf(compareValues(a, b, type));
      },
      slots: mergeSlots(l, r),
      name: '?column?',
    };
  }

  binary(op: string, l: Expr, r: Expr, loc?: number): Expr {
    if (op in COMPARE_OPS) return this.compare(op, l, r, loc);
    const e = this.binaryOp(op, l, r, loc);
    if (l.isConst && r.isConst && e.slots.length === 0 && l.paramIndex === undefined && r.paramIndex === undefined) {
      return konst(e.type, e.fn(undefined as unknown as Env));
    }
    return e;
  }

  private binaryOp(op: string, l0: Expr, r0: Expr, loc?: number): Expr {
    let l = l0;
    let r = r0;
    // Reads l and r when called: branches below coerce them first.
    const mk = (type: SqlType, f: (a: Value, b: Value) => Value): Expr => strictBinary(type, l, r, f);
    const lk = l.type.kind;
    const rk = r.type.kind;
    // String concatenation.
    if (op === '||') {
      if (lk === 'array' || rk === 'array') {
        return mk(lk === 'array' ? l.type : r.type, (a, b) =>
          lk === 'array' && rk === 'array' ? [...(a as Value[]), ...(b as Value[])] : lk === 'array' ? [...(a as Value[]), b] : [a, ...(b as Value[])],
        );
      }
      if ((lk === 'jsonb' && (rk === 'jsonb' || rk === 'unknown')) || (rk === 'jsonb' && lk === 'unknown')) {
        l = coerce(l, t('jsonb'));
        r = coerce(r, t('jsonb'));
        return mk(t('jsonb'), (a, b) => {
          const x: unknown = JSON.parse(a as string);
          const y: unknown = JSON.parse(b as string);
          if (Array.isArray(x)) return canonicalJsonb(Array.isArray(y) ? [...(x as unknown[]), ...(y as unknown[])] : [...(x as unknown[]), y]);
          if (Array.isArray(y)) return canonicalJsonb([x, ...(y as unknown[])]);
          return canonicalJsonb({ ...(x as object), ...(y as object) });
        });
      }
      const stringy = (k: string): boolean => isStringKind(k as TypeKind) || k === 'unknown';
      if (!stringy(lk) && !stringy(rk)) {
        throw sqlError(S.UNDEFINED_FUNCTION, `operator does not exist: ${typeDisplayName(l.type)} || ${typeDisplayName(r.type)}`, { ...pos(loc), hint: 'No operator matches the given name and argument types. You might need to add explicit type casts.' });
      }
      l = regAsText(l);
      r = regAsText(r);
      const lt = l.type;
      const rt = r.type;
      // text || anynonarray casts the other side to text (a boolean is 'true', not its output 't').
      const str = (v: Value, type: SqlType): string => castValue(v, type, t('text')) as string;
      return mk(t('text'), (a, b) => str(a, lt) + str(b, rt));
    }
    // JSON operators.
    if ((op === '->' || op === '->>') && lk === 'unknown') {
      // json -> and jsonb -> both apply to an untyped literal: ambiguous, as in Postgres.
      throw sqlError('42725', `operator is not unique: unknown ${op} ${typeDisplayName(r.type)}`, { ...pos(loc), hint: 'Could not choose a best candidate operator. You might need to add explicit type casts.' });
    }
    if (lk === 'json' || lk === 'jsonb') {
      const jsonb = lk !== 'json';
      if (op === '->' || op === '->>') {
        if (rk === 'unknown') r = coerce(r, t('text'));
        const rt = r.type;
        return mk(op === '->' ? t(jsonb ? 'jsonb' : 'json') : t('text'), (a, b) => jsonGet(a, b, rt, op === '->>', jsonb));
      }
      if (op === '#>' || op === '#>>') {
        r = coerce(r, arrayOf(t('text')));
        return mk(op === '#>' ? t(jsonb ? 'jsonb' : 'json') : t('text'), (a, b) => jsonPath(a, b as Value[], op === '#>>', jsonb));
      }
      if (op === '@>' || op === '<@') {
        r = coerce(r, t('jsonb'));
        return mk(t('bool'), (a, b) => (op === '@>' ? jsonContains(JSON.parse(a as string), JSON.parse(b as string)) : jsonContains(JSON.parse(b as string), JSON.parse(a as string))));
      }
      if (op === '?') {
        r = coerce(r, t('text'));
        return mk(t('bool'), (a, b) => {
          const d: unknown = JSON.parse(a as string);
          return Array.isArray(d) ? d.includes(b) : d !== null && typeof d === 'object' && (b as string) in d;
        });
      }
      if (op === '-') {
        return mk(t('jsonb'), (a, b) => {
          const d: unknown = JSON.parse(a as string);
          if (Array.isArray(d)) return canonicalJsonb(typeof b === 'number' ? d.filter((_x, i) => i !== b) : d.filter((x) => x !== b));
          const o = { ...(d as Record<string, unknown>) };
          delete o[plain(b)];
          return canonicalJsonb(o);
        });
      }
    }
    // Regular expressions.
    if (op === '~' || op === '~*' || op === '!~' || op === '!~*') {
      l = coerce(l, t('text'));
      r = coerce(r, t('text'));
      return mk(t('bool'), (a, b) => regexMatch(a as string, b as string, op.includes('*') ? 'i' : '') !== op.startsWith('!'));
    }
    if (op === '~~' || op === '!~~' || op === '~~*' || op === '!~~*') {
      l = coerce(l, t('text'));
      r = coerce(r, t('text'));
      return mk(t('bool'), (a, b) => like(a as string, b as string, op.includes('*')) !== op.startsWith('!'));
    }
    // Array containment / overlap.
    if ((op === '@>' || op === '<@' || op === '&&') && (lk === 'array' || rk === 'array')) {
      const type = lk === 'array' ? l.type : r.type;
      l = coerce(l, type);
      r = coerce(r, type);
      const elem = type.elem ?? t('text');
      const has = (xs: Value[], v: Value): boolean => xs.some((x) => x !== null && v !== null && compareValues(x, v, elem) === 0);
      return mk(t('bool'), (a, b) => {
        const x = a as Value[];
        const y = b as Value[];
        if (op === '&&') return x.some((v) => has(y, v));
        return op === '@>' ? y.every((v) => has(x, v)) : x.every((v) => has(y, v));
      });
    }
    // Date/time arithmetic.
    const dt = this.dateArith(op, l, r, mk);
    if (dt) return dt;
    // Numeric arithmetic.
    if (!['+', '-', '*', '/', '%', '^', '&', '|', '#', '<<', '>>'].includes(op)) {
      throw sqlError(S.UNDEFINED_FUNCTION, `operator does not exist: ${typeDisplayName(l.type)} ${op} ${typeDisplayName(r.type)}`, {
        ...pos(loc),
        hint: 'No operator matches the given name and argument types. You might need to add explicit type casts.',
      });
    }
    const noOperator = (): Error =>
      sqlError(S.UNDEFINED_FUNCTION, `operator does not exist: ${typeDisplayName(l.type)} ${op} ${typeDisplayName(r.type)}`, {
        ...pos(loc),
        hint: 'No operator matches the given name and argument types. You might need to add explicit type casts.',
      });
    let type: SqlType;
    try {
      type = commonType(lk === 'unknown' && rk === 'unknown' ? t('numeric') : l.type, r.type, loc);
    } catch {
      throw noOperator();
    }
    if (['&', '|', '#', '<<', '>>'].includes(op)) {
      // Bitwise operators exist for int2/int4/int8 only (not oid or the reg* types).
      const bitInt = (k: TypeKind): boolean => k === 'int2' || k === 'int4' || k === 'int8';
      if (!bitInt(type.kind) || !bitInt(r.type.kind === 'unknown' ? type.kind : r.type.kind) || !bitInt(lk === 'unknown' ? type.kind : lk)) throw noOperator();
      if (op === '<<' || op === '>>') {
        // int2/int4/int8 << int4: the result has the left operand's type.
        r = coerce(r, t('int4'));
        if (isIntKind(lk)) type = l.type;
      } else r = coerce(r, type);
      l = coerce(l, type);
      return mk(type, bitwise(op, type.kind));
    }
    if (!isNumericKind(type.kind)) {
      if (lk === 'unknown' || rk === 'unknown') type = t('numeric');
      else
        throw sqlError(S.UNDEFINED_FUNCTION, `operator does not exist: ${typeDisplayName(l.type)} ${op} ${typeDisplayName(r.type)}`, {
          ...pos(loc),
          hint: 'No operator matches the given name and argument types. You might need to add explicit type casts.',
        });
    }
    if (type.kind === 'oid' || type.kind.startsWith('reg')) type = t('int8');
    if (type.typmod !== -1) type = t(type.kind);
    if (op === '^') type = type.kind === 'numeric' ? type : t('float8');
    l = coerce(l, type);
    r = coerce(r, type);
    return mk(type, arith(op, type.kind));
  }

  private dateArith(op: string, l: Expr, r: Expr, mk: (type: SqlType, f: (a: Value, b: Value) => Value) => Expr): Expr | undefined {
    const lk = l.type.kind;
    const rk = r.type.kind;
    const isTs = (k: TypeKind): boolean => k === 'timestamp' || k === 'timestamptz';
    const iv = (x: Value): Interval => x as Interval;
    if (lk === 'date' && isIntKind(rk) && (op === '+' || op === '-')) return mk(t('date'), (a, b) => (a as number) + (op === '+' ? 1 : -1) * Number(b));
    if (isIntKind(lk) && rk === 'date' && op === '+') return mk(t('date'), (a, b) => (b as number) + Number(a));
    if (lk === 'date' && rk === 'date' && op === '-') return mk(t('int4'), (a, b) => (a as number) - (b as number));
    if (lk === 'date' && rk === 'interval' && (op === '+' || op === '-')) return mk(t('timestamp'), (a, b) => addInterval(BigInt(a as number) * DAY_MICROS, iv(b), op === '+' ? 1 : -1));
    if (isTs(lk) && rk === 'interval' && (op === '+' || op === '-')) return mk(l.type, (a, b) => addInterval(a as bigint, iv(b), op === '+' ? 1 : -1));
    if (lk === 'interval' && isTs(rk) && op === '+') return mk(r.type, (a, b) => addInterval(b as bigint, iv(a), 1));
    if (lk === 'time' && rk === 'interval' && (op === '+' || op === '-')) return mk(t('time'), (a, b) => ((((a as bigint) + (op === '+' ? 1n : -1n) * iv(b).micros) % DAY_MICROS) + DAY_MICROS) % DAY_MICROS);
    if ((isTs(lk) || lk === 'date') && (isTs(rk) || rk === 'date') && op === '-' && !(lk === 'date' && rk === 'date')) {
      const la = lk === 'date' ? (x: Value): bigint => BigInt(x as number) * DAY_MICROS : (x: Value): bigint => x as bigint;
      const ra = rk === 'date' ? (x: Value): bigint => BigInt(x as number) * DAY_MICROS : (x: Value): bigint => x as bigint;
      return mk(t('interval'), (a, b) => {
        const d = la(a) - ra(b);
        return { months: 0, days: Number(d / DAY_MICROS), micros: d % DAY_MICROS };
      });
    }
    if (lk === 'interval' && rk === 'interval' && (op === '+' || op === '-')) {
      const s = op === '+' ? 1 : -1;
      return mk(t('interval'), (a, b) => ({ months: iv(a).months + s * iv(b).months, days: iv(a).days + s * iv(b).days, micros: iv(a).micros + BigInt(s) * iv(b).micros }));
    }
    if (lk === 'interval' && isNumericKind(rk) && (op === '*' || op === '/')) {
      return mk(t('interval'), (a, b) => {
        const f = op === '*' ? Number(b) : 1 / Number(b);
        const m = iv(a).months * f;
        const d = iv(a).days * f + (m - Math.trunc(m)) * 30;
        return { months: Math.trunc(m), days: Math.trunc(d), micros: BigInt(Math.round(Number(iv(a).micros) * f + (d - Math.trunc(d)) * 86400e6)) };
      });
    }
    if (isNumericKind(lk) && rk === 'interval' && op === '*') return this.dateArith(op, r, l, (type, f) => mk(type, (a, b) => f(b, a)));
    if ((lk === 'unknown' && (isDateTimeKind(rk) || rk === 'interval')) || (rk === 'unknown' && (isDateTimeKind(lk) || lk === 'interval'))) {
      // 'literal' next to a datetime: an interval when added/subtracted, else the other type.
      // Postgres' resolution: `-` tries the other operand's type first (ts - 'ts' is an interval,
      // ts - '90 minutes' is 22007); `+` has no ts + ts, so the literal is an interval; date +
      // literal matches several operators (42725).
      const other = lk === 'unknown' ? r.type : l.type;
      if (op === '+' && other.kind === 'date') {
        throw sqlError('42725', `operator is not unique: ${typeDisplayName(l.type)} + ${typeDisplayName(r.type)}`, {
          hint: 'Could not choose a best candidate operator. You might need to add explicit type casts.',
        });
      }
      const litType =
        (op === '+' || op === '-') && other.kind !== 'interval'
          ? other.kind === 'date' && op === '-' && lk !== 'unknown' && isIntLiteral(r)
            ? t('int4')
            : op === '-'
              ? other
              : t('interval')
          : other;
      const cl = lk === 'unknown' ? coerce(l, litType) : l;
      const cr = rk === 'unknown' ? coerce(r, litType) : r;
      // `mk` closes over binaryOp's own operands; the coerced ones need their own.
      return this.dateArith(op, cl, cr, (type, f) => strictBinary(type, cl, cr, f));
    }
    return undefined;
  }

  private funcCall(fc: FuncCall): Expr {
    const names = (fc.funcname ?? []).map(stringOf);
    const name = names[names.length - 1] ?? '';
    if (fc.over) return this.windowCall(name, fc);
    if (isAggregate(name) && (fc.agg_star || (fc.args ?? []).length > 0 || name === 'count')) return this.aggregate(name, fc);
    const argNodes = fc.args ?? [];
    // Special forms.
    if ((name === 'extract' || name === 'date_part') && argNodes.length === 2) {
      const field = this.compile(argNodes[0], t('text'));
      const src = this.compile(argNodes[1]);
      return this.callFunction(name, [coerce(field, t('text')), src.type.kind === 'unknown' ? coerce(src, t('timestamptz')) : src], fc.location, name === 'extract' ? 'extract' : 'date_part');
    }
    let args = argNodes.map((a) => (isUntyped(a) ? undefined : this.compile(a)));
    // Untyped arguments (literals, params) take text unless an overload says otherwise.
    const typed = args.map((a) => a?.type ?? t('unknown'));
    const found = lookupFunction(name, typed);
    args = argNodes.map((a, i) => args[i] ?? this.compile(a, found ? paramHint(found.def.name, typed, i) : undefined));
    if (fc.agg_distinct || fc.agg_order) throw sqlError(S.WRONG_OBJECT_TYPE, `${name} is not an aggregate function`, pos(fc.location));
    return this.callFunction(name, args as Expr[], fc.location);
  }

  callFunction(name: string, given: Expr[], loc?: number, colName?: string): Expr {
    // Functions that print their arguments print a reg* value's name, not its OID.
    const args0 = PRINTS_ARGUMENTS.has(name) ? given.map(regAsText) : given;
    const types = args0.map((a) => a.type);
    const found = lookupFunction(name, types);
    if (!found) {
      throw sqlError(S.UNDEFINED_FUNCTION, `function ${name}(${types.map(typeDisplayName).join(', ')}) does not exist`, {
        ...pos(loc),
        hint: 'No function matches the given name and argument types. You might need to add explicit type casts.',
      });
    }
    const { def } = found;
    let { ret } = found;
    // Untyped literals take the type the overload declares at their position (else text);
    // char(n) arguments lose their padding, as bpchar -> text does in Postgres.
    const args = args0.map((a, i) => {
      if (a.type.kind === 'bpchar') return coerce(a, t('text'));
      if (a.type.kind !== 'unknown') return a;
      const want = def.args?.[i];
      if (want === 'array') return coerce(a, arrayOf(t('text')));
      // A literal for an integer/numeric parameter is read as one ('x' is 22P02, not a JS error),
      // of the type of the call's other numeric arguments when there are some (gcd('12', 18) is int4).
      const peer = args0.find((x) => (want === 'int' ? isIntKind(x.type.kind) : isNumericKind(x.type.kind)) && !isRegKind(x.type.kind) && x.type.kind !== 'oid');
      if (want === 'int') return coerce(a, peer?.type ?? t('int4'));
      if (want === 'num') return coerce(a, peer?.type ?? t('numeric'));
      if (want && !['str', '*', 'unknown'].includes(want)) return coerce(a, t(want as TypeKind));
      return coerce(a, t('text'));
    });
    const argTypes = args.map((a) => a.type);
    // The result type follows the arguments' types once literals have theirs.
    if (args.some((a, i) => a.type !== args0[i].type)) ret = def.returns(argTypes) ?? ret;
    const fns = args.map((a) => a.fn);
    const strict = def.strict !== false;
    const evalArgs = (env: Env): Value[] | null => {
      const vals = fns.map((f) => f(env));
      return strict && vals.some((v) => v === null) ? null : vals;
    };
    const asyncImpl = def.async;
    if (asyncImpl) {
      const slot: Slot = {
        id: this.ctx.slotIds.next++,
        once: false,
        run: async (env) => {
          const vals = evalArgs(env);
          return vals === null ? null : asyncImpl(vals, argTypes, env.rt);
        },
      };
      const run = this.ctx.runSlot;
      return { type: ret, fn: (env) => run(env, slot), slots: [...mergeSlots(...args), slot], name: colName ?? name };
    }
    const call = (vals: readonly Value[], types: readonly SqlType[], rt: Env['rt']): Value => def.call(vals, types, rt);
    const e: Expr = {
      type: ret,
      fn: (env) => {
        const vals = evalArgs(env);
        return vals === null ? null : call(vals, argTypes, env.rt);
      },
      slots: mergeSlots(...args),
      name: colName ?? name,
    };
    return e;
  }

  private windowCall(name: string, fc: FuncCall): Expr {
    const win = this.ctx.win;
    if (!win) throw sqlError(S.WINDOWING_ERROR, 'window functions are not allowed here', pos(fc.location));
    const over = fc.over as WindowDef;
    if (over.refname || (over.frameOptions !== undefined && over.frameOptions !== 1058)) {
      throw sqlError(S.FEATURE_NOT_SUPPORTED, 'named windows and explicit window frames are not supported', pos(fc.location));
    }
    const inner = this.with({ win: undefined, noAgg: 'window function arguments' });
    const args = (fc.args ?? []).map((a) => inner.compile(a)).map((a) => (a.type.kind === 'unknown' ? coerce(a, t('text')) : a));
    const partition = (over.partitionClause ?? []).map((p) => inner.compile(p));
    const order = (over.orderClause ?? []).map((s) => {
      const sb = (s as { SortBy: SortBy }).SortBy;
      const desc = sb.sortby_dir === 'SORTBY_DESC';
      const nullsFirst = sb.sortby_nulls === 'SORTBY_NULLS_FIRST' ? true : sb.sortby_nulls === 'SORTBY_NULLS_LAST' ? false : desc;
      return { expr: inner.compile(sb.node as Node), desc, nullsFirst };
    });
    let type: SqlType;
    let aggregate: AggregateDef | undefined;
    if (WINDOW_FUNCTIONS.has(name)) {
      type = ['row_number', 'rank', 'dense_rank'].includes(name) ? t('int8') : name === 'percent_rank' || name === 'cume_dist' ? t('float8') : name === 'ntile' ? t('int4') : (args[0]?.type ?? t('text'));
    } else {
      aggregate = lookupAggregate(name);
      const ret = aggregate?.returns(args.map((a) => a.type));
      if (!aggregate || !ret) throw sqlError(S.UNDEFINED_FUNCTION, `function ${name} is not a window function`, pos(fc.location));
      type = ret;
    }
    const index = win.inputWidth + win.calls.length;
    win.calls.push({ name, args, partition, order, aggregate, type });
    return { type, fn: (env) => env.row[index], slots: [], name };
  }

  private aggregate(name: string, fc: FuncCall): Expr {
    const agg = this.ctx.agg;
    if (!agg) {
      throw sqlError(S.GROUPING_ERROR, `aggregate functions are not allowed in ${this.ctx.noAgg ?? 'this context'}`, pos(fc.location));
    }
    const inner = this.with({ scope: agg.inputScope, agg: undefined, noAgg: 'aggregate function calls cannot be nested' });
    const args = fc.agg_star ? [] : (fc.args ?? []).map((a) => inner.compile(a));
    const typed = args.map((a) => (a.type.kind === 'unknown' ? coerce(a, t('text')) : a));
    const def = lookupAggregate(name);
    const ret = def?.returns(typed.map((a) => a.type));
    if (!def || !ret) {
      throw sqlError(S.UNDEFINED_FUNCTION, `function ${name}(${typed.map((a) => typeDisplayName(a.type)).join(', ')}) does not exist`, pos(fc.location));
    }
    const filter = fc.agg_filter ? inner.asBool(inner.compile(fc.agg_filter, t('bool')), 'argument of FILTER') : undefined;
    const orderBy = (fc.agg_order ?? []).map((s) => {
      const sb = (s as { SortBy: { node: Node; sortby_dir?: string } }).SortBy;
      return { expr: inner.compile(sb.node), desc: sb.sortby_dir === 'SORTBY_DESC' };
    });
    const index = agg.groupKeys.length + agg.calls.length;
    agg.calls.push({ def, args: typed, argTypes: typed.map((a) => a.type), distinct: fc.agg_distinct ?? false, filter, star: fc.agg_star ?? false, orderBy, argNodes: fc.agg_star ? [] : (fc.args ?? []) });
    return { type: ret, fn: (env) => env.row[index], slots: [], name };
  }

  private subLink(sl: SubLink): Expr {
    const planned = this.ctx.planner.planSubquery((sl.subselect as { SelectStmt: SelectStmt }).SelectStmt, this.ctx.agg?.inputScope ?? this.ctx.scope, this.ctx.params);
    const node = planned.node;
    const kind = sl.subLinkType ?? 'EXPR_SUBLINK';
    const run = this.ctx.runSlot;
    const mkSlot = (f: (rows: Value[][]) => Value): Slot => ({
      id: this.ctx.slotIds.next++,
      once: !planned.correlated,
      run: async (env) => {
        const rows: Value[][] = [];
        const limit = kind === 'EXISTS_SUBLINK' ? 1 : kind === 'EXPR_SUBLINK' ? 2 : Infinity;
        for await (const r of node.rows(env, env.rt)) {
          rows.push(r);
          if (rows.length >= limit) break;
        }
        return f(rows);
      },
    });
    if (kind === 'EXISTS_SUBLINK') {
      const slot = mkSlot((rows) => rows.length > 0);
      return { type: t('bool'), fn: (env) => run(env, slot), slots: [slot], name: 'exists' };
    }
    const cols = node.columns.filter((c) => !c.hidden);
    if (kind === 'EXPR_SUBLINK' || kind === 'ARRAY_SUBLINK') {
      if (cols.length !== 1) throw sqlError(S.SYNTAX_ERROR, 'subquery must return only one column', pos(sl.location));
      if (kind === 'ARRAY_SUBLINK') {
        const slot = mkSlot((rows) => rows.map((r) => r[0]));
        return { type: arrayOf(cols[0].type), fn: (env) => run(env, slot), slots: [slot], name: 'array' };
      }
      const slot = mkSlot((rows) => {
        if (rows.length > 1) throw sqlError(S.CARDINALITY_VIOLATION, 'more than one row returned by a subquery used as an expression');
        return rows.length ? rows[0][0] : null;
      });
      return { type: cols[0].type, fn: (env) => run(env, slot), slots: [slot], name: cols[0].name };
    }
    if ((kind === 'ANY_SUBLINK' || kind === 'ALL_SUBLINK') && sl.testexpr && 'RowExpr' in sl.testexpr) {
      const op = (sl.operName ?? []).map(stringOf).join('') || '=';
      const left = this.rowItems(sl.testexpr);
      if (cols.length !== left.length) throw sqlError(S.SYNTAX_ERROR, left.length > cols.length ? 'subquery has too few columns' : 'subquery has too many columns', pos(sl.location));
      const rowsSlot = mkSlot((rows) => rows);
      const right = cols.map((c, i): Expr => ({ type: c.type, fn: (env) => env.row[i], slots: [], name: '' }));
      const lefts = left.map((l, i): Expr => ({ type: l.type, fn: (env) => env.row[cols.length + i], slots: [], name: '' }));
      const cmp = this.rowCompare(op, lefts, right, sl.location).fn;
      const lfs = left.map((l) => l.fn);
      const any = kind === 'ANY_SUBLINK';
      return {
        type: t('bool'),
        fn: (env) => {
          const lv = lfs.map((f) => f(env));
          let sawNull = false;
          for (const r of run(env, rowsSlot) as unknown as Value[][]) {
            const v = cmp({ row: [...r, ...lv], outer: env.outer, rt: env.rt });
            if (v === null) sawNull = true;
            else if (v === any) return any;
          }
          return sawNull ? null : !any;
        },
        slots: [...mergeSlots(...left), rowsSlot],
        name: '?column?',
      };
    }
    if (kind === 'ANY_SUBLINK' || kind === 'ALL_SUBLINK') {
      const op = (sl.operName ?? []).map(stringOf).join('') || '=';
      const left = this.compile(sl.testexpr as Node);
      if (cols.length !== 1) throw sqlError(S.SYNTAX_ERROR, 'subquery has too many columns', pos(sl.location));
      const type = commonType(left.type, cols[0].type, sl.location);
      const listSlot = mkSlot((rows) => rows.map((r) => r[0]));
      const lf = coerce(left, type).fn;
      const colType = cols[0].type;
      const cmp = this.quantified(op, { type, fn: (env) => env.row[0], slots: [], name: '' }, { type, fn: (env) => env.row[1], slots: [], name: '' }, 'subquery', sl.location).fn;
      const any = kind === 'ANY_SUBLINK';
      // Fast path for uncorrelated `x IN (SELECT ...)`: a hash set of the subquery's values.
      let cachedList: Value[] | undefined;
      let cachedSet: Set<string> | undefined;
      return {
        type: t('bool'),
        fn: (env) => {
          const a = lf(env);
          const list = run(env, listSlot) as Value[];
          if (any && op === '=' && listSlot.once) {
            if (cachedList !== list) {
              cachedList = list;
              cachedSet = new Set(list.filter((v) => v !== null).map((v) => hashKey(castValue(v, colType, type), type)));
            }
            if (a === null) return list.length === 0 ? false : null;
            if (cachedSet?.has(hashKey(a, type))) return true;
            return list.some((v) => v === null) ? null : false;
          }
          if (list.length === 0) return !any;
          if (a === null) return null;
          let sawNull = false;
          for (const b of list) {
            const r = cmp({ row: [a, castValue(b, colType, type)], outer: env.outer, rt: env.rt });
            if (r === null) sawNull = true;
            else if (r === any) return any;
          }
          return sawNull ? null : !any;
        },
        slots: [...left.slots, listSlot],
        name: '?column?',
      };
    }
    throw sqlError(S.FEATURE_NOT_SUPPORTED, `subquery type ${kind} is not supported`, pos(sl.location));
  }

  private nameSubscript(base: Expr, index: Node): Expr {
    const idx = coerce(this.compile(index, t('int4')), t('int4'));
    const bf = base.fn;
    const xf = idx.fn;
    return {
      type: t('char'),
      fn: (env) => {
        const v = bf(env) as string | null;
        const x = xf(env) as number | null;
        if (v === null || x === null) return null;
        const bytes = Buffer.from(v, 'utf8');
        // Past the end of the name PostgreSQL reads the zero padding: an empty "char".
        return x < 0 || x >= 64 ? null : x < bytes.length ? bytes.subarray(x, x + 1).toString('latin1') : '';
      },
      slots: mergeSlots(base, idx),
      name: base.name,
    };
  }

  private indirection(arg: Node, ind: readonly Node[]): Expr {
    let e = this.compile(arg);
    for (const i of ind) {
      if ('A_Indices' in i) {
        if (e.type.kind === 'jsonb') {
          e = this.jsonbSubscript(e, i.A_Indices);
          continue;
        }
        if (e.type.kind === 'name' && !i.A_Indices.is_slice) {
          // name is a fixed-length char array in PostgreSQL: name[i] is its i-th byte (from 0) as
          // "char" (pg_dump tests typname[0] = '_' for array types).
          e = this.nameSubscript(e, i.A_Indices.uidx as Node);
          continue;
        }
        if (e.type.kind !== 'array') throw sqlError(S.DATATYPE_MISMATCH, `cannot subscript type ${typeDisplayName(e.type)} because it does not support subscripting`);
        const base = e;
        const bf = base.fn;
        // int2vector / oidvector subscripts start at 0, arrays at 1.
        const lower = base.type.vector ? 0 : 1;
        if (i.A_Indices.is_slice) {
          // arr[lo:hi], either bound optional: the elements in range, as an array (empty if none).
          const lo = i.A_Indices.lidx ? coerce(this.compile(i.A_Indices.lidx, t('int4')), t('int4')) : undefined;
          const hi = i.A_Indices.uidx ? coerce(this.compile(i.A_Indices.uidx, t('int4')), t('int4')) : undefined;
          e = {
            type: base.type.vector ? arrayOf(base.type.elem ?? t('int2')) : base.type,
            fn: (env) => {
              const arr = bf(env) as Value[] | null;
              const l = lo ? (lo.fn(env) as number | null) : lower;
              const h = hi ? (hi.fn(env) as number | null) : lower + (arr?.length ?? 0) - 1;
              if (arr === null || l === null || h === null) return null;
              return arr.slice(Math.max(l, lower) - lower, Math.max(h - lower + 1, 0));
            },
            slots: mergeSlots(base, ...(lo ? [lo] : []), ...(hi ? [hi] : [])),
            name: base.name,
          };
          continue;
        }
        const idx = coerce(this.compile(i.A_Indices.uidx as Node, t('int4')), t('int4'));
        const xf = idx.fn;
        e = {
          type: base.type.elem ?? t('text'),
          fn: (env) => {
            const arr = bf(env) as Value[] | null;
            const x = xf(env) as number | null;
            if (arr === null || x === null || x < lower) return null;
            return arr[x - lower] ?? null;
          },
          slots: mergeSlots(base, idx),
          name: base.name,
        };
      } else {
        const pick = this.recordField(e.type, i);
        const bf = e.fn;
        e = { type: pick.type, fn: (env) => { const v = bf(env) as Value[] | null; return v === null ? null : v[pick.index] ?? null; }, slots: e.slots, name: pick.name };
      }
    }
    return e;
  }

  /** `.field` of a record with known fields (a multi-column set-returning function's row). */
  private recordField(type: SqlType, ind: Node): { index: number; type: SqlType; name: string } {
    const field = stringOf(ind);
    if (!('String' in ind) || type.kind !== 'record' || !type.fields) {
      throw sqlError(S.FEATURE_NOT_SUPPORTED, `field selection .${field} is not supported on type ${typeDisplayName(type)}`);
    }
    const index = type.fields.findIndex((f) => f.name === field);
    if (index < 0) throw sqlError(S.UNDEFINED_COLUMN, `could not identify column "${field}" in record data type`);
    return { index, type: type.fields[index].type, name: field };
  }

  /** jsonb subscripting (PostgreSQL 14+): j['key'] is j -> 'key', j[n] is j -> n; a slice is an error. */
  private jsonbSubscript(base: Expr, ind: import('libpg-query').A_Indices): Expr {
    if (ind.is_slice) throw sqlError(S.DATATYPE_MISMATCH, 'jsonb subscript does not support slices');
    let key = this.compile(ind.uidx as Node);
    if (key.type.kind === 'unknown') key = coerce(key, t('text'));
    if (!isIntKind(key.type.kind) && key.type.kind !== 'text' && key.type.kind !== 'varchar' && key.type.kind !== 'name') {
      throw sqlError(S.DATATYPE_MISMATCH, `subscript type ${typeDisplayName(key.type)} is not supported`, { hint: 'jsonb subscript must be coercible to either integer or text.' });
    }
    const kt = key.type;
    const bf = base.fn;
    const kf = key.fn;
    return { type: t('jsonb'), fn: (env) => jsonGet(bf(env), kf(env), kt, false, true), slots: mergeSlots(base, key), name: base.name };
  }

  private sqlValueFunction(op: string): Expr {
    const r = (type: TypeKind, name: string, f: (env: Env) => Value): Expr => ({ type: t(type), fn: f, slots: [], name });
    switch (op) {
      case 'SVFOP_CURRENT_DATE':
        return r('date', 'current_date', (env) => Number(env.rt.txnStartUs / DAY_MICROS));
      case 'SVFOP_CURRENT_TIMESTAMP':
      case 'SVFOP_CURRENT_TIMESTAMP_N':
        return r('timestamptz', 'current_timestamp', (env) => env.rt.txnStartUs);
      case 'SVFOP_LOCALTIMESTAMP':
      case 'SVFOP_LOCALTIMESTAMP_N':
        return r('timestamp', 'localtimestamp', (env) => env.rt.txnStartUs);
      case 'SVFOP_CURRENT_TIME':
      case 'SVFOP_CURRENT_TIME_N':
      case 'SVFOP_LOCALTIME':
      case 'SVFOP_LOCALTIME_N':
        return r('time', 'current_time', (env) => ((env.rt.txnStartUs % DAY_MICROS) + DAY_MICROS) % DAY_MICROS);
      case 'SVFOP_CURRENT_USER':
      case 'SVFOP_CURRENT_ROLE':
      case 'SVFOP_SESSION_USER':
      case 'SVFOP_USER':
        return r('name', op === 'SVFOP_SESSION_USER' ? 'session_user' : 'current_user', (env) => env.rt.session.user);
      case 'SVFOP_CURRENT_CATALOG':
        return r('name', 'current_catalog', (env) => env.rt.session.database);
      case 'SVFOP_CURRENT_SCHEMA':
        return r('name', 'current_schema', (env) => env.rt.session.searchPath[0] ?? null);
      default:
        throw sqlError(S.FEATURE_NOT_SUPPORTED, `${op} is not supported`);
    }
  }
}

type RegKind = 'regclass' | 'regtype' | 'regproc' | 'regnamespace' | 'regrole';

const COMPARE_OPS: Record<string, true> = { '=': true, '<>': true, '!=': true, '<': true, '<=': true, '>': true, '>=': true };

function isUntyped(n: Node): boolean {
  return 'ParamRef' in n || ('A_Const' in n && (n.A_Const.sval !== undefined || n.A_Const.isnull === true));
}

function isIntLiteral(e: Expr): boolean {
  return e.isConst === true && /^\d+$/.test(plain(e.fn(undefined as unknown as Env)));
}

function hasQualifierDeep(s: Scope, q: string): boolean {
  for (let x: Scope | undefined = s; x; x = x.outer) if (x.hasQualifier(q)) return true;
  return false;
}

/** A cast's column name, as PostgreSQL figures it: the name of what is cast (a column, a function), else the type's. */
function castColumnName(inner: string, arg: Node, to: SqlType): string {
  let base = arg;
  while ('TypeCast' in base && base.TypeCast.arg) base = base.TypeCast.arg;
  return inner !== '?column?' && !('A_Const' in base) ? inner : typeNameForColumn(to);
}

function typeNameForColumn(type: SqlType): string {
  const names: Partial<Record<TypeKind, string>> = {
    int2: 'int2', int4: 'int4', int8: 'int8', float4: 'float4', float8: 'float8', bool: 'bool', varchar: 'varchar', bpchar: 'bpchar',
    timestamptz: 'timestamptz', timestamp: 'timestamp',
  };
  const base = type.kind === 'array' ? (type.elem ?? t('text')) : type;
  if (base.enum) return base.enum.name;
  return names[base.kind] ?? base.kind;
}

/** The type an untyped argument should take in a call of `name`: text, except known numeric slots. */
function paramHint(name: string, types: readonly SqlType[], i: number): SqlType | undefined {
  void name;
  void types;
  void i;
  return undefined;
}

function arith(op: string, kind: TypeKind): (a: Value, b: Value) => Value {
  if (kind === 'int2' || kind === 'int4') {
    const k = kind;
    switch (op) {
      case '+': return (a, b) => checkInt((a as number) + (b as number), k);
      case '-': return (a, b) => checkInt((a as number) - (b as number), k);
      case '*': return (a, b) => checkInt(Math.imul(a as number, b as number) === (a as number) * (b as number) ? (a as number) * (b as number) : (a as number) * (b as number), k);
      case '/': return (a, b) => {
        if (b === 0) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
        return checkInt(Math.trunc((a as number) / (b as number)), k);
      };
      case '%': return (a, b) => {
        if (b === 0) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
        return (a as number) % (b as number);
      };
    }
  }
  if (kind === 'int8') {
    switch (op) {
      case '+': return (a, b) => checkInt((a as bigint) + (b as bigint), 'int8');
      case '-': return (a, b) => checkInt((a as bigint) - (b as bigint), 'int8');
      case '*': return (a, b) => checkInt((a as bigint) * (b as bigint), 'int8');
      case '/': return (a, b) => {
        if (b === 0n) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
        return checkInt((a as bigint) / (b as bigint), 'int8');
      };
      case '%': return (a, b) => {
        if (b === 0n) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
        return (a as bigint) % (b as bigint);
      };
    }
  }
  if (kind === 'numeric') {
    const d = (v: Value): Dec => (typeof v === 'bigint' ? decFromBigint(v) : parseDec(plain(v)));
    const f = (g: (x: Dec, y: Dec) => Dec) => (a: Value, b: Value): Value => (a === 'NaN' || b === 'NaN' ? 'NaN' : formatDec(g(d(a), d(b))));
    switch (op) {
      case '+': return f(decAdd);
      case '-': return f(decSub);
      case '*': return f(decMul);
      case '/': return f(decDiv);
      case '%': return f(decMod);
      case '^': return (a, b) => formatDec(parseDec(Math.pow(Number(a), Number(b)).toFixed(16)));
    }
  }
  switch (op) {
    case '+': return (a, b) => checkFloat((a as number) + (b as number));
    case '-': return (a, b) => checkFloat((a as number) - (b as number));
    case '*': return (a, b) => checkFloat((a as number) * (b as number));
    case '/': return (a, b) => {
      if (b === 0) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
      return (a as number) / (b as number);
    };
    case '%': return (a, b) => (a as number) % (b as number);
    case '^': return (a, b) => Math.pow(a as number, b as number);
  }
  throw sqlError(S.UNDEFINED_FUNCTION, `operator does not exist: ${op}`);
}

/** A numeric literal with the grammar's minus folded in (doNegate in Postgres's gram.y). */
function negatedLiteral(c: A_Const): A_Const {
  if (c.ival) return { ival: { ival: 0 - (c.ival.ival ?? 0) } };
  const text = c.fval?.fval ?? '0';
  return { fval: { fval: text.startsWith('-') ? text.slice(1) : `-${text}` } };
}

function bitwise(op: string, kind: TypeKind): (a: Value, b: Value) => Value {
  const big = (x: Value): bigint => BigInt(x as number | bigint);
  const out = (v: bigint): Value => (kind === 'int8' ? BigInt.asIntN(64, v) : Number(BigInt.asIntN(kind === 'int2' ? 16 : 32, v)));
  // Shifts as Postgres's C code runs them on x86-64: the count is taken modulo the width of
  // the (promoted) left operand — 64 for int8, 32 for int4 and int2 (promoted to int, then
  // truncated to 16 bits) — and bits shifted out are lost, the sign bit included.
  const count = (b: Value): bigint => big(b) & (kind === 'int8' ? 63n : 31n);
  const promoted = (v: bigint): bigint => (kind === 'int8' ? v : BigInt.asIntN(32, v));
  switch (op) {
    case '&': return (a, b) => out(big(a) & big(b));
    case '|': return (a, b) => out(big(a) | big(b));
    case '#': return (a, b) => out(big(a) ^ big(b));
    case '<<': return (a, b) => out(promoted(big(a) << count(b)));
    default: return (a, b) => out(big(a) >> count(b));
  }
}

function checkFloat(v: number): number {
  if (!Number.isFinite(v)) throw sqlError(S.NUMERIC_OUT_OF_RANGE, 'value out of range: overflow');
  return v;
}

export { fromText, konst, mergeSlots };
