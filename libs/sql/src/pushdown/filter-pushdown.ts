// The gateway side of filter pushdown (decision 0038): the WHERE conjuncts of one table scan
// that its shards can evaluate, and the ScanFilter that carries them with each execution.
import type { Node } from 'libpg-query';
import type { ScanFilter } from '@weft/kv';
import type { TableDesc } from '../catalog/descriptors';
import type { ExprCompiler, ParamTypes } from '../plan/expr';
import { Scope, type ScopeColumn } from '../plan/scope';
import type { Runtime } from '../runtime';
import { currentTimeZone } from '../types/timezone';
import { t, type SqlType } from '../types/types';
import { isShippable } from './shippable';
import { encodeArgs, encodeProgram, FILTER_PROGRAM_VERSION, type AggProgram } from './program';

/** Conjuncts that reference parameters by number: $n → n - 1. */
function paramsOf(node: Node, out: Set<number>): Set<number> {
  JSON.stringify(node, (k, v: unknown) => {
    if (k === 'ParamRef' && typeof v === 'object' && v !== null) out.add(((v as { number?: number }).number ?? 0) - 1);
    return v;
  });
  return out;
}

export class FilterPushdown {
  /** Encoded programs by time zone (the only session input a program has) and aggregation. */
  private readonly programs = new Map<string, Buffer>();

  private constructor(
    private readonly table: TableDesc,
    private readonly scope: readonly ScopeColumn[],
    readonly conds: readonly Node[],
    private readonly params: ParamTypes,
    private readonly used: Set<number>,
  ) {}

  /** No conjunct: the base of an aggregating program over a scan without a WHERE clause. */
  static none(table: TableDesc, scope: readonly ScopeColumn[], params: ParamTypes): FilterPushdown {
    return new FilterPushdown(table, scope, [], params, new Set());
  }

  /**
   * Whether a shard compiles `node` (an expression in the scan's scope) exactly as `compiler`
   * does: a shippable parse tree that compiles without outer columns, slots or untyped
   * parameters. Records the parameters it uses.
   */
  ships(node: Node, compiler: ExprCompiler): boolean {
    if (!shipsIn(node, this.scope, compiler)) return false;
    paramsOf(node, this.used);
    return true;
  }

  /**
   * The conjuncts of `conds` a shard can evaluate exactly as `compiler` does: shippable parse
   * trees that compile in the table's scope alone (no outer columns) without slots, and whose
   * parameters all had their types when compiled (an untyped parameter compiles differently
   * once its type is known). Undefined when none is.
   */
  static plan(table: TableDesc, scope: readonly ScopeColumn[], conds: readonly Node[], compiler: ExprCompiler, params: ParamTypes): FilterPushdown | undefined {
    const shipped: Node[] = [];
    const used = new Set<number>();
    for (const q of conds) {
      if (!shipsIn(q, scope, compiler, t('bool'))) continue;
      shipped.push(q);
      paramsOf(q, used);
    }
    return shipped.length === 0 ? undefined : new FilterPushdown(table, scope, shipped, params, used);
  }

  /**
   * The filter for one execution (aggregating with `agg`), or undefined when a parameter's
   * value cannot be encoded.
   */
  filterFor(rt: Runtime, countOnly = false, agg?: AggProgram): ScanFilter | undefined {
    const types = this.paramTypes();
    if (types === undefined) return undefined;
    let args: Buffer;
    try {
      args = encodeArgs(types, rt.params);
    } catch {
      return undefined;
    }
    const program = this.program(types, agg);
    return countOnly ? { program, args, countOnly } : { program, args };
  }

  private paramTypes(): (SqlType | null)[] | undefined {
    const types: (SqlType | null)[] = [];
    for (let i = 0; i < this.params.types.length; i++) {
      if (!this.used.has(i)) types.push(null);
      else {
        const type = this.params.types[i];
        if (type === undefined || type.kind === 'unknown') return undefined;
        types.push(type);
      }
    }
    return types;
  }

  private program(paramTypes: readonly (SqlType | null)[], agg: AggProgram | undefined): Buffer {
    const timeZone = currentTimeZone();
    const key = agg === undefined ? timeZone : `${timeZone}\u0000agg`;
    let p = this.programs.get(key);
    if (p === undefined) {
      const columns = this.table.columns.map((c) => ({ id: c.id, name: c.name, type: c.type, notNull: c.notNull, ...(c.missingValue === undefined ? {} : { missingValue: c.missingValue }) }));
      p = encodeProgram({ v: FILTER_PROGRAM_VERSION, columns, scope: this.scope, conds: this.conds, paramTypes, timeZone, ...(agg === undefined ? {} : { agg }) });
      this.programs.set(key, p);
    }
    return p;
  }
}

function shipsIn(node: Node, scope: readonly ScopeColumn[], compiler: ExprCompiler, hint?: SqlType): boolean {
  if (!isShippable(node)) return false;
  const untyped = new Set<number>();
  try {
    const e = compiler.with({ scope: new Scope([...scope], undefined), untypedParams: untyped }).compile(node, hint);
    return e.slots.length === 0 && untyped.size === 0;
  } catch {
    return false;
  }
}
