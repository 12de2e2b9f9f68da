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
import { decodeArgs, decodeProgram, type FilterProgram } from './program';

interface CompiledProgram {
  readonly program: FilterProgram;
  readonly filter: Expr;
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
    return filter.slots.length === 0 ? { program, filter } : null;
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
