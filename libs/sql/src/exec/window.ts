// Window functions: the input is materialized, split into partitions, sorted by the window's
// ORDER BY, and each window call appends one column to every row. Frames are the defaults:
// the whole partition without ORDER BY, else from the partition start to the current row's
// last peer (RANGE UNBOUNDED PRECEDING). Aggregates over a window reuse the aggregate registry.
import type { AggregateDef } from '../functions/aggregates';
import type { Env, Row, Runtime } from '../runtime';
import type { Expr } from '../plan/expr';
import type { ScopeColumn } from '../plan/scope';
import { type SqlType, type Value } from '../types/types';
import { hashKey } from '../types/values';
import { S, sqlError } from '../errors';
import { allSlots, compareKeys, prepareSlots, type ExplainNode, type PlanNode, type SortKey } from './nodes';

export interface WindowCall {
  readonly name: string;
  readonly args: readonly Expr[];
  readonly partition: readonly Expr[];
  readonly order: readonly SortKey[];
  /** Set when the call is an aggregate used as a window function. */
  readonly aggregate?: AggregateDef;
  readonly type: SqlType;
}

export const WINDOW_FUNCTIONS = new Set(['row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead', 'first_value', 'last_value', 'nth_value']);

export class WindowNode implements PlanNode {
  readonly columns: readonly ScopeColumn[];
  constructor(
    private readonly child: PlanNode,
    private readonly calls: readonly WindowCall[],
  ) {
    this.columns = [...child.columns, ...calls.map((c) => ({ qualifier: undefined, name: c.name, type: c.type, hidden: true }))];
  }

  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const input: Row[] = [];
    for await (const r of this.child.rows(outer, rt)) input.push(r);
    const extra: Value[][] = input.map(() => []);
    for (const call of this.calls) {
      const exprs = [...call.partition, ...call.order.map((o) => o.expr), ...call.args];
      const slots = allSlots(exprs);
      const evald: { i: number; part: string; keys: Value[]; args: Value[] }[] = [];
      for (let i = 0; i < input.length; i++) {
        const env: Env = { row: input[i], outer, rt };
        if (slots.length) await prepareSlots(slots, env);
        evald.push({
          i,
          part: call.partition.map((p) => hashKey(p.fn(env), p.type)).join('\u0001'),
          keys: call.order.map((o) => o.expr.fn(env)),
          args: call.args.map((a) => a.fn(env)),
        });
      }
      const parts = new Map<string, typeof evald>();
      for (const e of evald) {
        const list = parts.get(e.part) ?? [];
        list.push(e);
        parts.set(e.part, list);
      }
      for (const list of parts.values()) {
        list.sort((a, b) => compareKeys(a.keys, b.keys, call.order) || a.i - b.i);
        const values = computeWindow(call, list);
        list.forEach((e, j) => extra[e.i].push(values[j]));
      }
    }
    for (let i = 0; i < input.length; i++) yield [...input[i], ...extra[i]];
  }

  explain(): ExplainNode {
    return { label: 'WindowAgg', children: [this.child.explain()] };
  }
}

function computeWindow(call: WindowCall, rows: readonly { keys: Value[]; args: Value[] }[]): Value[] {
  const n = rows.length;
  const peerEnd: number[] = new Array<number>(n);
  const hasOrder = call.order.length > 0;
  for (let j = n - 1; j >= 0; j--) {
    peerEnd[j] = !hasOrder ? n - 1 : j + 1 < n && compareKeys(rows[j].keys, rows[j + 1].keys, call.order) === 0 ? peerEnd[j + 1] : j;
  }
  const out: Value[] = [];
  if (call.aggregate) {
    const agg = call.aggregate;
    const argTypes = call.args.map((a) => a.type);
    let acc = agg.create(argTypes);
    let fed = 0;
    for (let j = 0; j < n; j++) {
      const end = peerEnd[j];
      while (fed <= end) {
        const args = rows[fed].args;
        if (agg.acceptsNulls || args.every((v) => v !== null)) acc.step(args);
        fed++;
      }
      out.push(acc.final());
      if (j === n - 1) acc = agg.create(argTypes);
    }
    return out;
  }
  let rank = 1;
  let dense = 1;
  for (let j = 0; j < n; j++) {
    if (j > 0 && hasOrder && compareKeys(rows[j].keys, rows[j - 1].keys, call.order) !== 0) {
      rank = j + 1;
      dense++;
    }
    const arg = (k: number): Value => rows[j].args[k] ?? null;
    switch (call.name) {
      case 'row_number': out.push(BigInt(j + 1)); break;
      case 'rank': out.push(BigInt(hasOrder ? rank : 1)); break;
      case 'dense_rank': out.push(BigInt(hasOrder ? dense : 1)); break;
      case 'percent_rank': out.push(n > 1 ? ((hasOrder ? rank : 1) - 1) / (n - 1) : 0); break;
      case 'cume_dist': out.push((peerEnd[j] + 1) / n); break;
      case 'ntile': {
        const buckets = Number(arg(0));
        if (!(buckets > 0)) throw sqlError('22014', 'argument of ntile must be greater than zero');
        const size = Math.floor(n / buckets);
        const big = n % buckets;
        const b = j < big * (size + 1) ? Math.floor(j / (size + 1)) : big + Math.floor((j - big * (size + 1)) / Math.max(size, 1));
        out.push(b + 1);
        break;
      }
      case 'lag':
      case 'lead': {
        const off = rows[j].args.length > 1 ? Number(arg(1)) : 1;
        const k = call.name === 'lag' ? j - off : j + off;
        out.push(k >= 0 && k < n ? rows[k].args[0] : rows[j].args.length > 2 ? arg(2) : null);
        break;
      }
      case 'first_value': out.push(rows[0].args[0]); break;
      case 'last_value': out.push(rows[peerEnd[j]].args[0]); break;
      case 'nth_value': {
        const k = Number(arg(1)) - 1;
        out.push(k >= 0 && k <= peerEnd[j] ? rows[k].args[0] : null);
        break;
      }
      default: throw sqlError(S.UNDEFINED_FUNCTION, `window function ${call.name} is not supported`);
    }
  }
  return out;
}
