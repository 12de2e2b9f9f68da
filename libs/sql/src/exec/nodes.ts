// The executor: a small tree of operators, each an async generator of rows pulled by its
// parent (volcano style). Expressions are sync closures; their async slots (subqueries,
// nextval) are resolved by `prepareSlots` just before a row's expressions run.
import type { Env, Row, Runtime } from '../runtime';
import type { Accumulator } from '../functions/aggregates';
import type { AggCall, Expr, Slot } from '../plan/expr';
import type { ScopeColumn } from '../plan/scope';
import type { AggregatePushdown } from '../pushdown/aggregate-pushdown';
import type { FilterPushdown } from '../pushdown/filter-pushdown';
import { type SqlType, type Value } from '../types/types';
import { compareValues, hashKey } from '../types/values';
import { S, sqlError } from '../errors';

export interface ExplainNode {
  readonly label: string;
  readonly details?: readonly string[];
  readonly children?: readonly ExplainNode[];
}

export interface PlanNode {
  readonly columns: readonly ScopeColumn[];
  rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row>;
  explain(): ExplainNode;
}

export function runSlot(env: Env, slot: Slot): Value {
  const v = env.rt.slotValues.get(slot.id);
  return v === undefined ? null : v;
}

export async function prepareSlots(slots: readonly Slot[], env: Env): Promise<void> {
  for (const s of slots) {
    if (s.once && env.rt.slotValues.has(s.id)) continue;
    env.rt.slotValues.set(s.id, await s.run(env));
  }
}

export const allSlots = (exprs: readonly (Expr | undefined)[]): Slot[] => {
  const out: Slot[] = [];
  for (const e of exprs) if (e) for (const s of e.slots) if (!out.includes(s)) out.push(s);
  return out;
};

/** Abort reason of a signal fired by statement_timeout (vs a client's CancelRequest). */
export const STATEMENT_TIMEOUT = 'statement_timeout';

function checkCancel(rt: Runtime): void {
  if (!rt.signal?.aborted) return;
  throw sqlError('57014', rt.signal.reason === STATEMENT_TIMEOUT ? 'canceling statement due to statement timeout' : 'canceling statement due to user request');
}

/**
 * Long CPU-bound loops call this every ~1,000 rows: it lets the event loop run (other sessions'
 * I/O, the CancelRequest that would abort this one) and then checks for cancellation. Rows flow
 * through async generators whose awaits are microtasks, which alone never yield to I/O.
 */
export async function breathe(rt: Runtime): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  checkCancel(rt);
}

export class ValuesNode implements PlanNode {
  constructor(
    readonly columns: readonly ScopeColumn[],
    private readonly rowExprs: readonly (readonly Expr[])[],
  ) {}
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const slots = allSlots(this.rowExprs.flat());
    for (const exprs of this.rowExprs) {
      const env: Env = { row: [], outer, rt };
      if (slots.length) await prepareSlots(slots, env);
      yield exprs.map((e) => e.fn(env));
    }
  }
  explain(): ExplainNode {
    return { label: `Values (${this.rowExprs.length} row${this.rowExprs.length === 1 ? '' : 's'})` };
  }
}

/** Rows produced by a generator function (system views, CTE results, materialized inputs). */
export class GeneratorNode implements PlanNode {
  constructor(
    readonly columns: readonly ScopeColumn[],
    private readonly gen: (outer: Env | undefined, rt: Runtime) => AsyncIterable<Row> | Iterable<Row>,
    private readonly label: string,
  ) {}
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    let n = 0;
    for await (const r of this.gen(outer, rt)) {
      yield r;
      if ((++n & 1023) === 0) await breathe(rt);
    }
  }
  explain(): ExplainNode {
    return { label: this.label };
  }
}

export class FilterNode implements PlanNode {
  private readonly slots: Slot[];
  constructor(
    private readonly child: PlanNode,
    private readonly pred: Expr,
    private readonly label = 'Filter',
  ) {
    this.slots = allSlots([pred]);
  }
  get columns(): readonly ScopeColumn[] {
    return this.child.columns;
  }
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const f = this.pred.fn;
    for await (const row of this.child.rows(outer, rt)) {
      const env: Env = { row, outer, rt };
      if (this.slots.length) await prepareSlots(this.slots, env);
      if (f(env) === true) yield row;
    }
  }
  explain(): ExplainNode {
    return { label: this.label, children: [this.child.explain()] };
  }
}

export class ProjectNode implements PlanNode {
  private readonly slots: Slot[];
  constructor(
    private readonly child: PlanNode,
    private readonly exprs: readonly Expr[],
    readonly columns: readonly ScopeColumn[],
  ) {
    this.slots = allSlots(exprs);
  }
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const fns = this.exprs.map((e) => e.fn);
    const sets = this.exprs.map((e) => e.set === true);
    const anySet = sets.some((s) => s);
    for await (const row of this.child.rows(outer, rt)) {
      const env: Env = { row, outer, rt };
      if (this.slots.length) await prepareSlots(this.slots, env);
      const vals = fns.map((f) => f(env));
      if (!anySet) {
        yield vals;
        continue;
      }
      // Set-returning items run in lockstep; shorter ones are padded with NULLs (Postgres 10+).
      const n = Math.max(0, ...vals.filter((_v, i) => sets[i]).map((v) => (v as Value[]).length));
      for (let k = 0; k < n; k++) yield vals.map((v, i) => (sets[i] ? ((v as Value[])[k] ?? null) : v));
    }
  }
  explain(): ExplainNode {
    return this.child.explain();
  }
}

export class LimitNode implements PlanNode {
  constructor(
    private readonly child: PlanNode,
    private readonly limit: Expr | undefined,
    private readonly offset: Expr | undefined,
  ) {}
  get columns(): readonly ScopeColumn[] {
    return this.child.columns;
  }
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const env: Env = { row: [], outer, rt };
    await prepareSlots(allSlots([this.limit, this.offset]), env);
    const lim = this.limit ? this.limit.fn(env) : null;
    const off = this.offset ? this.offset.fn(env) : null;
    const limit = lim === null ? Infinity : Number(lim);
    let skip = off === null ? 0 : Number(off);
    if (limit < 0) throw sqlError('2201W', 'LIMIT must not be negative');
    if (skip < 0) throw sqlError('2201X', 'OFFSET must not be negative');
    if (limit === 0) return;
    let n = 0;
    for await (const row of this.child.rows(outer, rt)) {
      if (skip > 0) {
        skip--;
        continue;
      }
      yield row;
      if (++n >= limit) return;
    }
  }
  explain(): ExplainNode {
    return { label: 'Limit', children: [this.child.explain()] };
  }
}

export interface SortKey {
  readonly expr: Expr;
  readonly desc: boolean;
  readonly nullsFirst: boolean;
}

export class SortNode implements PlanNode {
  constructor(
    private readonly child: PlanNode,
    private readonly keys: readonly SortKey[],
  ) {}
  get columns(): readonly ScopeColumn[] {
    return this.child.columns;
  }
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const slots = allSlots(this.keys.map((k) => k.expr));
    const items: { row: Row; keys: Value[] }[] = [];
    for await (const row of this.child.rows(outer, rt)) {
      const env: Env = { row, outer, rt };
      if (slots.length) await prepareSlots(slots, env);
      items.push({ row, keys: this.keys.map((k) => k.expr.fn(env)) });
      if ((items.length & 1023) === 0) await breathe(rt);
    }
    items.sort((a, b) => compareKeys(a.keys, b.keys, this.keys));
    for (const it of items) yield it.row;
  }
  explain(): ExplainNode {
    return { label: 'Sort', details: [`Sort Key: ${this.keys.map((k) => `${k.expr.name}${k.desc ? ' DESC' : ''}`).join(', ')}`], children: [this.child.explain()] };
  }
}

export function compareKeys(a: readonly Value[], b: readonly Value[], keys: readonly { desc: boolean; nullsFirst: boolean; expr: { type: SqlType } }[]): number {
  for (let i = 0; i < keys.length; i++) {
    const x = a[i];
    const y = b[i];
    const k = keys[i];
    if (x === null || y === null) {
      if (x === y) continue;
      return (x === null) === k.nullsFirst ? -1 : 1;
    }
    const c = compareValues(x, y, k.expr.type);
    if (c !== 0) return k.desc ? -c : c;
  }
  return 0;
}

export class DistinctNode implements PlanNode {
  constructor(
    private readonly child: PlanNode,
    /** DISTINCT ON expressions; undefined = whole row. */
    private readonly on?: readonly Expr[],
  ) {}
  get columns(): readonly ScopeColumn[] {
    return this.child.columns;
  }
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const seen = new Set<string>();
    const cols = this.child.columns;
    for await (const row of this.child.rows(outer, rt)) {
      const env: Env = { row, outer, rt };
      const key = this.on
        ? this.on.map((e) => hashKey(e.fn(env), e.type)).join('\u0001')
        : row.map((v, i) => hashKey(v, cols[i].type)).join('\u0001');
      if (seen.has(key)) continue;
      seen.add(key);
      yield row;
    }
  }
  explain(): ExplainNode {
    return { label: 'Unique', children: [this.child.explain()] };
  }
}

export type JoinKind = 'inner' | 'left' | 'right' | 'full' | 'cross';

/** Nested loop join; the right side is materialized once unless it is correlated (LATERAL). */
export class NestedLoopJoinNode implements PlanNode {
  readonly columns: readonly ScopeColumn[];
  constructor(
    private readonly left: PlanNode,
    private readonly right: PlanNode,
    private readonly kind: JoinKind,
    private readonly cond: Expr | undefined,
    private readonly hashKeys?: { left: Expr[]; right: Expr[] },
  ) {
    this.columns = [...left.columns, ...right.columns];
  }
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const rightRows: Row[] = [];
    for await (const r of this.right.rows(outer, rt)) rightRows.push(r);
    const nl = this.left.columns.length;
    const nr = this.right.columns.length;
    const cond = this.cond;
    const slots = allSlots([cond]);
    const matchedRight = this.kind === 'right' || this.kind === 'full' ? new Uint8Array(rightRows.length) : undefined;
    let buckets: Map<string, number[]> | undefined;
    if (this.hashKeys) {
      buckets = new Map();
      for (let i = 0; i < rightRows.length; i++) {
        const env: Env = { row: rightRows[i], outer, rt };
        const vals = this.hashKeys.right.map((e) => e.fn(env));
        if (vals.some((v) => v === null)) continue;
        const k = vals.map((v, j) => hashKey(v, this.hashKeys!.right[j].type)).join('\u0001');
        const list = buckets.get(k) ?? [];
        list.push(i);
        buckets.set(k, list);
      }
    }
    let n = 0;
    for await (const l of this.left.rows(outer, rt)) {
      let matched = false;
      let candidates: Iterable<number>;
      if (buckets && this.hashKeys) {
        const env: Env = { row: l, outer, rt };
        const vals = this.hashKeys.left.map((e) => e.fn(env));
        candidates = vals.some((v) => v === null) ? [] : (buckets.get(vals.map((v, j) => hashKey(v, this.hashKeys!.left[j].type)).join('\u0001')) ?? []);
      } else candidates = rightRows.keys();
      for (const i of candidates) {
        const row = [...l, ...rightRows[i]];
        if (cond) {
          const env: Env = { row, outer, rt };
          if (slots.length) await prepareSlots(slots, env);
          if (cond.fn(env) !== true) continue;
        }
        matched = true;
        if (matchedRight) matchedRight[i] = 1;
        yield row;
      }
      if (!matched && (this.kind === 'left' || this.kind === 'full')) yield [...l, ...new Array<Value>(nr).fill(null)];
      if ((++n & 1023) === 0) await breathe(rt);
    }
    if (matchedRight) {
      for (let i = 0; i < rightRows.length; i++) if (!matchedRight[i]) yield [...new Array<Value>(nl).fill(null), ...rightRows[i]];
    }
  }
  explain(): ExplainNode {
    const label = `${this.hashKeys ? 'Hash' : 'Nested Loop'} ${this.kind === 'inner' || this.kind === 'cross' ? '' : `${this.kind[0].toUpperCase()}${this.kind.slice(1)} `}Join`.replace('  ', ' ');
    return { label, children: [this.left.explain(), this.right.explain()] };
  }
}

/** GROUP BY / aggregates: output rows are [group keys..., aggregate results...]. */
/** An input that can count or aggregate its rows without producing them (a table scan, decision 0038). */
interface CountableNode extends PlanNode {
  countRows(outer: Env | undefined, rt: Runtime): Promise<number | undefined>;
  aggregateOnShards(outer: Env | undefined, rt: Runtime, filter: FilterPushdown, agg: AggregatePushdown): Promise<Value[][] | undefined>;
}

/** Aggregation the shards can do for an AggregateNode over a table scan (decision 0038). */
export interface ShardAggregation {
  readonly filter: FilterPushdown;
  readonly agg: AggregatePushdown;
}

const isCountable = (n: PlanNode): n is CountableNode => typeof (n as Partial<CountableNode>).countRows === 'function';

export class AggregateNode implements PlanNode {
  constructor(
    private readonly child: PlanNode,
    private readonly groupExprs: readonly Expr[],
    private readonly calls: readonly AggCall[],
    readonly columns: readonly ScopeColumn[],
    /** Set by the planner when the shards can aggregate the child scan's rows. */
    private readonly onShards?: ShardAggregation,
  ) {}

  /** `SELECT count(*) FROM t [WHERE …]`: the shards count, no row travels. */
  private get onlyCountsRows(): boolean {
    return this.groupExprs.length === 0 && this.calls.length > 0 && this.calls.every((c) => c.def.name === 'count' && c.star && !c.filter && !c.distinct && c.orderBy.length === 0);
  }

  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    if (this.onlyCountsRows && isCountable(this.child)) {
      const n = await this.child.countRows(outer, rt);
      if (n !== undefined) {
        yield this.calls.map(() => BigInt(n));
        return;
      }
    } else if (this.onShards !== undefined && isCountable(this.child)) {
      const rows = await this.child.aggregateOnShards(outer, rt, this.onShards.filter, this.onShards.agg);
      if (rows !== undefined) {
        yield* rows;
        return;
      }
    }
    yield* this.aggregate(outer, rt);
  }

  private async *aggregate(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    interface Group {
      keys: Value[];
      accs: Accumulator[];
      seen: (Set<string> | undefined)[];
      ordered: (Value[][] | undefined)[];
    }
    const groups = new Map<string, Group>();
    const slots = allSlots([...this.groupExprs, ...this.calls.flatMap((c) => [...c.args, c.filter, ...c.orderBy.map((o) => o.expr)])]);
    const newGroup = (keys: Value[]): Group => ({
      keys,
      accs: this.calls.map((c) => c.def.create(c.argTypes)),
      seen: this.calls.map((c) => (c.distinct ? new Set<string>() : undefined)),
      ordered: this.calls.map((c) => (c.orderBy.length ? [] : undefined)),
    });
    let n = 0;
    for await (const row of this.child.rows(outer, rt)) {
      const env: Env = { row, outer, rt };
      if (slots.length) await prepareSlots(slots, env);
      const keys = this.groupExprs.map((e) => e.fn(env));
      const gk = keys.map((v, i) => hashKey(v, this.groupExprs[i].type)).join('\u0001');
      let g = groups.get(gk);
      if (!g) groups.set(gk, (g = newGroup(keys)));
      for (let i = 0; i < this.calls.length; i++) {
        const c = this.calls[i];
        if (c.filter && c.filter.fn(env) !== true) continue;
        const args = c.args.map((a) => a.fn(env));
        if (!c.def.acceptsNulls && args.some((v) => v === null)) continue;
        if (c.star === false && c.def.name === 'count' && args.length && args[0] === null) continue;
        const seen = g.seen[i];
        if (seen) {
          const k = args.map((v, j) => hashKey(v, c.argTypes[j])).join('\u0001');
          if (seen.has(k)) continue;
          seen.add(k);
        }
        const ordered = g.ordered[i];
        if (ordered) ordered.push([...c.orderBy.map((o) => o.expr.fn(env)), ...args]);
        else g.accs[i].step(args);
      }
      if ((++n & 1023) === 0) await breathe(rt);
    }
    if (groups.size === 0 && this.groupExprs.length === 0) groups.set('', newGroup([]));
    for (const g of groups.values()) {
      const out: Value[] = [...g.keys];
      for (let i = 0; i < this.calls.length; i++) {
        const ordered = g.ordered[i];
        const c = this.calls[i];
        if (ordered) {
          const k = c.orderBy.length;
          ordered.sort((a, b) => compareKeys(a.slice(0, k), b.slice(0, k), c.orderBy.map((o) => ({ desc: o.desc, nullsFirst: o.desc, expr: o.expr }))));
          for (const r of ordered) g.accs[i].step(r.slice(k));
        }
        out.push(g.accs[i].final());
      }
      yield out;
    }
  }
  explain(): ExplainNode {
    const details = this.groupExprs.length ? [`Group Key: ${this.groupExprs.map((e) => e.name).join(', ')}`] : [];
    if (this.onlyCountsRows && (this.child as { countable?: boolean }).countable === true) details.push('Count: on the shards');
    else if (this.onShards !== undefined) details.push('Partial aggregates: on the shards');
    return { label: this.groupExprs.length ? 'HashAggregate' : 'Aggregate', details, children: [this.child.explain()] };
  }
}

export class SetOpNode implements PlanNode {
  constructor(
    private readonly left: PlanNode,
    private readonly right: PlanNode,
    private readonly op: 'union' | 'intersect' | 'except',
    private readonly all: boolean,
    readonly columns: readonly ScopeColumn[],
    private readonly convertRight: (row: Row) => Row,
    private readonly convertLeft: (row: Row) => Row,
  ) {}
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const key = (r: Row): string => r.map((v, i) => hashKey(v, this.columns[i].type)).join('\u0001');
    if (this.op === 'union') {
      const seen = this.all ? undefined : new Set<string>();
      for (const [side, conv] of [[this.left, this.convertLeft], [this.right, this.convertRight]] as const) {
        for await (const r0 of side.rows(outer, rt)) {
          const r = conv(r0);
          if (seen) {
            const k = key(r);
            if (seen.has(k)) continue;
            seen.add(k);
          }
          yield r;
        }
      }
      return;
    }
    const counts = new Map<string, number>();
    for await (const r0 of this.right.rows(outer, rt)) {
      const k = key(this.convertRight(r0));
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const emitted = new Set<string>();
    for await (const r0 of this.left.rows(outer, rt)) {
      const r = this.convertLeft(r0);
      const k = key(r);
      const c = counts.get(k) ?? 0;
      const keep = this.op === 'intersect' ? c > 0 : c === 0 || (this.all && c <= 0);
      if (this.all) {
        if (this.op === 'intersect' && c > 0) {
          counts.set(k, c - 1);
          yield r;
        } else if (this.op === 'except') {
          if (c > 0) counts.set(k, c - 1);
          else yield r;
        }
        continue;
      }
      if (keep && !emitted.has(k)) {
        emitted.add(k);
        yield r;
      }
    }
  }
  explain(): ExplainNode {
    return { label: `${this.op === 'union' ? (this.all ? 'Append' : 'HashAggregate (Union)') : this.op === 'intersect' ? 'HashSetOp Intersect' : 'HashSetOp Except'}`, children: [this.left.explain(), this.right.explain()] };
  }
}

/** Materializes a child once per statement (CTEs referenced several times). */
export class MaterializeNode implements PlanNode {
  private cache: Row[] | undefined;
  private cacheRt: Runtime | undefined;
  constructor(
    private readonly child: PlanNode,
    readonly columns: readonly ScopeColumn[],
    private readonly label: string,
  ) {}
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    if (!this.cache || this.cacheRt !== rt) {
      const rows: Row[] = [];
      for await (const r of this.child.rows(outer, rt)) rows.push(r);
      this.cache = rows;
      this.cacheRt = rt;
    }
    for (const r of this.cache) yield r;
  }
  explain(): ExplainNode {
    return { label: this.label, children: [this.child.explain()] };
  }
}

export function explainLines(node: ExplainNode): string[] {
  const out: string[] = [];
  const walk = (n: ExplainNode, depth: number): void => {
    const indent = depth === 0 ? '' : `${' '.repeat(depth * 6 - 4)}->  `;
    out.push(`${indent}${n.label}`);
    for (const d of n.details ?? []) out.push(`${' '.repeat(depth === 0 ? 2 : depth * 6)}${d}`);
    for (const c of n.children ?? []) walk(c, depth + 1);
  };
  walk(node, 0);
  return out;
}

export { S };

/** The working table of a recursive CTE: the rows of the previous iteration. */
export class WorkingTableNode implements PlanNode {
  rows_: Row[] = [];
  constructor(
    readonly columns: readonly ScopeColumn[],
    private readonly label: string,
  ) {}
  async *rows(): AsyncGenerator<Row> {
    for (const r of this.rows_) yield r;
  }
  explain(): ExplainNode {
    return { label: `WorkTable Scan on ${this.label}` };
  }
}

/** WITH RECURSIVE: the base term, then the recursive term over the previous rows until none are new. */
export class RecursiveUnionNode implements PlanNode {
  constructor(
    private readonly base: PlanNode,
    private readonly recursive: PlanNode,
    private readonly working: WorkingTableNode,
    private readonly all: boolean,
    readonly columns: readonly ScopeColumn[],
    private readonly convert: (row: Row) => Row,
  ) {}
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const seen = this.all ? undefined : new Set<string>();
    const fresh = (r: Row): boolean => {
      if (!seen) return true;
      const k = r.map((v, i) => hashKey(v, this.columns[i].type)).join('\u0001');
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    };
    let next: Row[] = [];
    for await (const r of this.base.rows(outer, rt)) {
      if (!fresh(r)) continue;
      next.push(r);
      yield r;
    }
    let n = 0;
    while (next.length) {
      this.working.rows_ = next;
      next = [];
      for await (const r0 of this.recursive.rows(outer, rt)) {
        const r = this.convert(r0);
        if (!fresh(r)) continue;
        next.push(r);
        yield r;
        if ((++n & 1023) === 0) await breathe(rt);
      }
      await breathe(rt);
    }
  }
  explain(): ExplainNode {
    return { label: 'Recursive Union', children: [this.base.explain(), this.recursive.explain()] };
  }
}

/** LATERAL: the right side runs once per left row, seeing the left row as its outer row. */
export class LateralJoinNode implements PlanNode {
  readonly columns: readonly ScopeColumn[];
  constructor(
    private readonly left: PlanNode,
    private readonly right: PlanNode,
    private readonly kind: 'inner' | 'left',
    private readonly cond: Expr | undefined,
  ) {
    this.columns = [...left.columns, ...right.columns];
  }
  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    const nr = this.right.columns.length;
    const slots = allSlots([this.cond]);
    for await (const l of this.left.rows(outer, rt)) {
      const lenv: Env = { row: l, outer, rt };
      let matched = false;
      for await (const r of this.right.rows(lenv, rt)) {
        const row = [...l, ...r];
        if (this.cond) {
          const env: Env = { row, outer, rt };
          if (slots.length) await prepareSlots(slots, env);
          if (this.cond.fn(env) !== true) continue;
        }
        matched = true;
        yield row;
      }
      if (!matched && this.kind === 'left') yield [...l, ...new Array<Value>(nr).fill(null)];
    }
  }
  explain(): ExplainNode {
    return { label: 'Nested Loop (LATERAL)', children: [this.left.explain(), this.right.explain()] };
  }
}
