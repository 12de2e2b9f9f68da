// The shard side of filter pushdown (decision 0038): compiles a FilterProgram with the same
// expression compiler the gateway used, so a row is stepped over on the shard only when the
// gateway would have rejected it too. The node gives `compileScanFilter` to its materializers.
import type { RowFilter, ScanFilter, ScanFilterCompiler } from '@weft/kv';
import type { ColumnDesc } from '../catalog/descriptors';
import { decodeTableRow } from '../catalog/table-data';
import { runSlot } from '../exec/nodes';
import { ExprCompiler, type Expr } from '../plan/expr';
import { andAll } from '../plan/select';
import { Scope } from '../plan/scope';
import type { Env, Runtime, RuntimeServices } from '../runtime';
import { withTimeZone } from '../types/timezone';
import { t, type SqlType, type Value } from '../types/types';
import { fromText } from '../types/values';
import { lookupAggregate, type Accumulator, type AggregateDef } from '../functions/aggregates';
import { hashKey } from '../types/values';
import { partialType } from './aggregate-pushdown';
import { decodeArgs, decodeProgram, encodePartials, type AggProgram, type FilterProgram } from './program';

interface CompiledProgram {
  readonly program: FilterProgram;
  readonly filter: Expr;
  readonly agg?: CompiledAggregation;
}

interface CompiledAggregation {
  readonly groups: readonly Expr[];
  readonly calls: readonly { readonly def: AggregateDef; readonly arg: Expr | undefined; readonly argTypes: readonly SqlType[] }[];
  /** Partial row layout: group keys, then each call's partial value. */
  readonly types: readonly SqlType[];
}

const sameType = (a: SqlType, b: SqlType | null): boolean => b !== null && a.kind === b.kind && (a.kind === 'array' ? a.elem?.kind === b.elem?.kind : true);

/** The program's aggregation compiled as the gateway compiled it, or null if the types differ. */
function compileAggregation(agg: AggProgram, c: ExprCompiler): CompiledAggregation | null {
  const groups = agg.groups.map((g) => c.compile(g));
  if (groups.some((g, i) => !sameType(g.type, agg.groupTypes[i] ?? null) || g.slots.length > 0)) return null;
  const calls: { def: AggregateDef; arg: Expr | undefined; argTypes: SqlType[] }[] = [];
  for (const call of agg.calls) {
    const def = lookupAggregate(call.fn);
    if (def === undefined) return null;
    if (call.arg === null) {
      calls.push({ def, arg: undefined, argTypes: [] });
      continue;
    }
    const arg = c.compile(call.arg);
    if (!sameType(arg.type, call.argType) || arg.slots.length > 0) return null;
    calls.push({ def, arg, argTypes: [arg.type] });
  }
  const types = [...groups.map((g) => g.type), ...agg.calls.map((call, i) => partialType(call.fn, calls[i].argTypes[0]))];
  return { groups, calls, types };
}

const CACHE_SIZE = 256;
/** Compiled programs by their bytes, least recently used first; null: cannot be evaluated here. */
const cache = new Map<string, CompiledProgram | null>();

function noCatalog(): never {
  throw new Error('not available on a shard');
}

/** What expressions may reach on a shard: nothing but their parameters (the program has no more). */
const SHARD_SERVICES: RuntimeServices = {
  nextval: noCatalog, currval: noCatalog, setval: noCatalog, sequenceState: noCatalog, regclass: noCatalog, relname: noCatalog,
  regName: noCatalog, regOid: noCatalog, setConfig: noCatalog, advisoryLock: noCatalog, advisoryUnlock: noCatalog,
  advisoryUnlockAll: noCatalog, describe: noCatalog,
};

function compileProgram(bytes: Buffer): CompiledProgram | null {
  try {
    const program = decodeProgram(bytes);
    const params = { types: program.paramTypes.map<SqlType | undefined>((p) => p ?? undefined) };
    const planner = { planSubquery: noCatalog };
    const c = new ExprCompiler({ scope: new Scope([...program.scope], undefined), params, planner, slotIds: { next: 1 }, runSlot, noAgg: 'WHERE' });
    const filter = withTimeZone(program.timeZone, () => andAll(program.conds.map((q) => c.asBool(c.compile(q, t('bool'))))));
    // The gateway only ships conjuncts without subqueries; a program that needs slots is not ours.
    if (filter.slots.length > 0) return null;
    if (program.agg === undefined) return { program, filter };
    const agg = program.agg;
    const compiledAgg = withTimeZone(program.timeZone, () => compileAggregation(agg, c));
    return compiledAgg === null ? null : { program, filter, agg: compiledAgg };
  } catch {
    return null;
  }
}

function compiled(bytes: Buffer): CompiledProgram | null {
  const key = bytes.toString('latin1');
  let c = cache.get(key);
  if (c === undefined) {
    c = compileProgram(bytes);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  } else cache.delete(key);
  cache.set(key, c);
  return c;
}

/**
 * Compiles a pushed-down filter, or undefined when this shard cannot evaluate it (the scan then
 * returns every row; the gateway filters them). A row whose evaluation throws is kept: the
 * gateway evaluates it again and reports the error itself.
 */
export const compileScanFilter: ScanFilterCompiler = (f: ScanFilter): RowFilter | undefined => {
  const c = compiled(f.program);
  if (c === null) return undefined;
  const { program, filter } = c;
  let params: Value[];
  try {
    params = decodeArgs(program.paramTypes, f.args);
  } catch {
    return undefined;
  }
  const rt: Runtime = {
    params,
    txn: { get: noCatalog, scan: noCatalog },
    session: { user: '', database: '', databaseId: 0, pid: 0, searchPath: [], setting: () => undefined },
    txnStartUs: 0n,
    statementStartUs: 0n,
    slotValues: new Map(),
    signal: undefined,
    services: SHARD_SERVICES,
  };
  const missing = (col: ColumnDesc): Value => (col.missingValue === undefined ? null : fromText(col.missingValue, col.type));
  const table = { columns: program.columns };
  const fn = filter.fn;
  let failed = 0;
  if (c.agg !== undefined) return aggregatingFilter(c.agg, program.timeZone, (value) => ({ row: decodeTableRow(table, value, missing), outer: undefined, rt }), fn);
  return {
    keep(value: Buffer): boolean {
      try {
        const env: Env = { row: decodeTableRow(table, value, missing), outer: undefined, rt };
        return fn(env) === true;
      } catch {
        failed++;
        return true;
      }
    },
    unevaluated: () => failed,
    around: <T>(scan: () => T): T => withTimeZone(program.timeZone, scan),
  };
};

/**
 * A filter that folds every row it keeps into per-group accumulators (the same ones the
 * gateway's AggregateNode runs, with its NULL rules) and hands back their values as one partial
 * row per group. Every row is taken in (keep returns false: nothing is sent). A row that fails
 * to evaluate is counted as unevaluated, and the shard then answers without a partial.
 */
function aggregatingFilter(agg: CompiledAggregation, timeZone: string, envOf: (value: Buffer) => Env, filter: (env: Env) => Value): RowFilter {
  const groups = new Map<string, { keys: Value[]; accs: Accumulator[] }>();
  let failed = 0;
  return {
    keep(value: Buffer): boolean {
      try {
        const env = envOf(value);
        if (filter(env) !== true) return false;
        const keys = agg.groups.map((g) => g.fn(env));
        const gk = keys.map((v, i) => hashKey(v, agg.groups[i].type)).join('\u0001');
        let g = groups.get(gk);
        if (g === undefined) groups.set(gk, (g = { keys, accs: agg.calls.map((call) => call.def.create(call.argTypes)) }));
        for (let i = 0; i < agg.calls.length; i++) {
          const call = agg.calls[i];
          const args = call.arg === undefined ? [] : [call.arg.fn(env)];
          if (!call.def.acceptsNulls && args.some((v) => v === null)) continue;
          if (call.arg !== undefined && call.def.name === 'count' && args[0] === null) continue;
          g.accs[i].step(args);
        }
      } catch {
        failed++;
      }
      return false;
    },
    unevaluated: () => failed,
    around: <T>(scan: () => T): T => withTimeZone(timeZone, scan),
    partial: () => encodePartials(agg.types, [...groups.values()].map((g) => [...g.keys, ...g.accs.map((a) => a.final())])),
  };
}
