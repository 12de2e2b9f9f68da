// Aggregates computed on the shards (decision 0038): `SELECT g, count(*), sum(x), avg(x), min(y),
// max(z) FROM t [WHERE …] GROUP BY g` over one table scan whose filter the shards evaluate whole.
// Each shard returns one partial row per group it saw (keys, then each partial aggregate's value
// over its rows); the gateway adds counts and sums and takes the min of mins, with the same
// accumulators it would have run over the rows. avg of an exact type travels as sum and count,
// which the gateway divides as its own avg does (sums of exact values are exact, so the
// quotient is the same as over the rows).
import type { Node } from 'libpg-query';
import type { Accumulator } from '../functions/aggregates';
import type { AggCall, ExprCompiler } from '../plan/expr';
import { decAdd, decDiv, decFromBigint, formatDec, parseDec, type Dec } from '../types/decimal';
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

/** How one output call is made from the program's partial calls (indexes into program.calls). */
type Output = { readonly kind: 'direct'; readonly at: number } | { readonly kind: 'avg'; readonly sum: number; readonly count: number };

export class AggregatePushdown {
  private constructor(
    readonly program: AggProgram,
    private readonly groupTypes: readonly SqlType[],
    private readonly calls: readonly AggCall[],
    private readonly outputs: readonly Output[],
  ) {}

  /**
   * The shard program for these group keys and calls over a scan with `filter` (the scan's
   * pushdown, or FilterPushdown.none), or undefined when any part cannot run on a shard: an
   * aggregate other than count/sum/avg/min/max, DISTINCT, FILTER or ORDER BY in a call, a sum or
   * avg of floats (its rounding depends on the order of addition), or an expression the shard
   * would not compile exactly as the gateway did.
   */
  static plan(groups: readonly { node: Node; type: SqlType }[], calls: readonly AggCall[], filter: FilterPushdown, compiler: ExprCompiler): AggregatePushdown | undefined {
    const progCalls: { fn: PartialAggregate; arg: Node | null; argType: SqlType | null }[] = [];
    const outputs: Output[] = [];
    const partial = (fn: PartialAggregate, arg: Node | null, argType: SqlType | null): number => progCalls.push({ fn, arg, argType }) - 1;
    for (const c of calls) {
      const fn = c.def.name;
      if (fn !== 'count' && fn !== 'sum' && fn !== 'avg' && fn !== 'min' && fn !== 'max') return undefined;
      if (c.distinct || c.filter !== undefined || c.orderBy.length > 0) return undefined;
      if (c.star) {
        if (fn !== 'count') return undefined;
        outputs.push({ kind: 'direct', at: partial(fn, null, null) });
        continue;
      }
      if (c.argNodes.length !== 1 || c.argTypes.length !== 1) return undefined;
      const type = c.argTypes[0];
      if ((fn === 'sum' || fn === 'avg') && !SUMMABLE.has(type.kind)) return undefined;
      if ((fn === 'min' || fn === 'max') && !ORDERED.has(type.kind)) return undefined;
      if (!filter.ships(c.argNodes[0], compiler)) return undefined;
      if (fn === 'avg') outputs.push({ kind: 'avg', sum: partial('sum', c.argNodes[0], type), count: partial('count', c.argNodes[0], type) });
      else outputs.push({ kind: 'direct', at: partial(fn, c.argNodes[0], type) });
    }
    for (const g of groups) if (!ORDERED.has(g.type.kind) || !filter.ships(g.node, compiler)) return undefined;
    return new AggregatePushdown({ groups: groups.map((g) => g.node), groupTypes: groups.map((g) => g.type), calls: progCalls }, groups.map((g) => g.type), calls, outputs);
  }

  /** The aggregate's output rows (keys, then each call's value) from the shards' partial rows. */
  merge(partials: readonly Buffer[]): Value[][] {
    const types = [...this.groupTypes, ...this.program.calls.map((c) => partialType(c.fn, c.argType ?? undefined))];
    const k = this.groupTypes.length;
    const groups = new Map<string, { keys: Value[]; accs: PartialMerger[] }>();
    const newGroup = (keys: Value[]): { keys: Value[]; accs: PartialMerger[] } => ({ keys, accs: this.calls.map((c, i) => mergerOf(this.outputs[i], this.program, c)) });
    for (const p of partials) {
      for (const row of decodePartials(types, p)) {
        const keys = row.slice(0, k);
        const gk = keys.map((v, i) => hashKey(v, this.groupTypes[i])).join('\u0001');
        let g = groups.get(gk);
        if (g === undefined) groups.set(gk, (g = newGroup(keys)));
        for (const acc of g.accs) acc.take(row, k);
      }
    }
    // No rows and no GROUP BY: one row, as over an empty input (count 0, the rest NULL).
    if (groups.size === 0 && k === 0) groups.set('', newGroup([]));
    return [...groups.values()].map((g) => [...g.keys, ...g.accs.map((a) => a.final())]);
  }
}

/** Folds one output call's partial values from each partial row (`k` group keys first). */
interface PartialMerger {
  take(row: readonly Value[], k: number): void;
  final(): Value;
}

function mergerOf(out: Output, program: AggProgram, call: AggCall): PartialMerger {
  if (out.kind === 'avg') {
    // As the avg accumulator: an exact sum, a count, and the same division at the end.
    let sum: Dec = { u: 0n, s: 0 };
    let n = 0n;
    return {
      take: (row, k) => {
        const s = row[k + out.sum];
        if (s !== null) sum = decAdd(sum, typeof s === 'bigint' ? decFromBigint(s) : parseDec(s as string));
        n += row[k + out.count] as bigint;
      },
      final: () => (n === 0n ? null : formatDec(decDiv(sum, decFromBigint(n)))),
    };
  }
  const acc = directAccumulator(program.calls[out.at].fn, call);
  return {
    take: (row, k) => {
      const v = row[k + out.at];
      if (v !== null) acc.step([v]);
    },
    final: () => acc.final(),
  };
}

/** Folds partial values: counts add up; sums, mins and maxes go through the call's own accumulator. */
function directAccumulator(fn: PartialAggregate, call: AggCall): Accumulator {
  if (fn === 'count') {
    let n = 0n;
    return { step: (a) => void (n += a[0] as bigint), final: () => n };
  }
  // sum(int2/int4) folds int8 partials (its accumulator takes BigInt of either); sum(int8/numeric)
  // folds numeric partials; min/max fold values of the argument's type.
  return call.def.create(call.argTypes);
}
