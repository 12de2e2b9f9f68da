// Aggregates computed on the shards (decision 0038): `SELECT g, count(*), sum(x), min(y), max(z)
// FROM t [WHERE …] GROUP BY g` over one table scan whose filter the shards evaluate whole. Each
// shard returns one partial row per group it saw (keys, then each aggregate's value over its
// rows); the gateway adds counts and sums and takes the min of mins, with the same accumulators
// it would have run over the rows.
import type { Node } from 'libpg-query';
import type { Accumulator } from '../functions/aggregates';
import type { AggCall, ExprCompiler } from '../plan/expr';
import { t, type SqlType, type Value } from '../types/types';
import { hashKey } from '../types/values';
import type { FilterPushdown } from './filter-pushdown';
import { decodePartials, type AggProgram, type PartialAggregate } from './program';

const SUMMABLE = new Set(['int2', 'int4', 'int8', 'numeric']);
/** Types min/max may travel as (compared by compareValues, encoded losslessly as cells). */
const ORDERED = new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'text', 'varchar', 'bpchar', 'name', 'date', 'time', 'timestamp', 'timestamptz', 'bool', 'uuid', 'bytea', 'interval']);

/** The type of an aggregate's partial value: what the shard's accumulator's final() returns. */
export function partialType(fn: PartialAggregate, argType: SqlType | undefined): SqlType {
  if (fn === 'count') return t('int8');
  if (fn === 'sum') return argType?.kind === 'int2' || argType?.kind === 'int4' ? t('int8') : t('numeric');
  return argType ?? t('text');
}

export class AggregatePushdown {
  private constructor(
    readonly program: AggProgram,
    private readonly groupTypes: readonly SqlType[],
    private readonly calls: readonly AggCall[],
  ) {}

  /**
   * The shard program for these group keys and calls over a scan with `filter` (the scan's
   * pushdown, or FilterPushdown.none), or undefined when any part cannot run on a shard: an
   * aggregate other than count/sum/min/max, DISTINCT, FILTER or ORDER BY in a call, a sum of
   * floats (its rounding depends on the order of addition), or an expression the shard would
   * not compile exactly as the gateway did.
   */
  static plan(groups: readonly { node: Node; type: SqlType }[], calls: readonly AggCall[], filter: FilterPushdown, compiler: ExprCompiler): AggregatePushdown | undefined {
    const progCalls: { fn: PartialAggregate; arg: Node | null; argType: SqlType | null }[] = [];
    for (const c of calls) {
      const fn = c.def.name;
      if (fn !== 'count' && fn !== 'sum' && fn !== 'min' && fn !== 'max') return undefined;
      if (c.distinct || c.filter !== undefined || c.orderBy.length > 0) return undefined;
      if (c.star) {
        progCalls.push({ fn, arg: null, argType: null });
        continue;
      }
      if (c.argNodes.length !== 1 || c.argTypes.length !== 1) return undefined;
      const type = c.argTypes[0];
      if (fn === 'sum' && !SUMMABLE.has(type.kind)) return undefined;
      if ((fn === 'min' || fn === 'max') && !ORDERED.has(type.kind)) return undefined;
      if (!filter.ships(c.argNodes[0], compiler)) return undefined;
      progCalls.push({ fn, arg: c.argNodes[0], argType: type });
    }
    for (const g of groups) if (!ORDERED.has(g.type.kind) || !filter.ships(g.node, compiler)) return undefined;
    return new AggregatePushdown({ groups: groups.map((g) => g.node), groupTypes: groups.map((g) => g.type), calls: progCalls }, groups.map((g) => g.type), calls);
  }

  /** The aggregate's output rows (keys, then each call's value) from the shards' partial rows. */
  merge(partials: readonly Buffer[]): Value[][] {
    const types = [...this.groupTypes, ...this.program.calls.map((c, i) => partialType(c.fn, this.calls[i].argTypes[0]))];
    const k = this.groupTypes.length;
    const groups = new Map<string, { keys: Value[]; accs: Accumulator[] }>();
    const newGroup = (keys: Value[]): { keys: Value[]; accs: Accumulator[] } => ({ keys, accs: this.calls.map((c, i) => mergeAccumulator(this.program.calls[i].fn, c)) });
    for (const p of partials) {
      for (const row of decodePartials(types, p)) {
        const keys = row.slice(0, k);
        const gk = keys.map((v, i) => hashKey(v, this.groupTypes[i])).join('\u0001');
        let g = groups.get(gk);
        if (g === undefined) groups.set(gk, (g = newGroup(keys)));
        for (let i = 0; i < this.calls.length; i++) {
          const v = row[k + i];
          if (v !== null) g.accs[i].step([v]);
        }
      }
    }
    // No rows and no GROUP BY: one row, as over an empty input (count 0, the rest NULL).
    if (groups.size === 0 && k === 0) groups.set('', newGroup([]));
    return [...groups.values()].map((g) => [...g.keys, ...g.accs.map((a) => a.final())]);
  }
}

/** Folds partial values: counts add up; sums, mins and maxes go through the call's own accumulator. */
function mergeAccumulator(fn: PartialAggregate, call: AggCall): Accumulator {
  if (fn === 'count') {
    let n = 0n;
    return { step: (a) => void (n += a[0] as bigint), final: () => n };
  }
  // sum(int2/int4) folds int8 partials (its accumulator takes BigInt of either); sum(int8/numeric)
  // folds numeric partials; min/max fold values of the argument's type.
  return call.def.create(call.argTypes);
}
