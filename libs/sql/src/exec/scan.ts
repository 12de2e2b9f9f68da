// Table access: the KV operations a plan pushes down. A primary-key point get, a PK prefix /
// range span scan, a secondary-index scan (index span, then a point get per entry), or a full
// table scan; each with the residual filter and, when nothing above needs all rows, a limit.
import { prefixCoversHash, prefixEnd } from '@weft/storage';
import type { ColumnDesc, IndexDesc, TableDesc } from '../catalog/descriptors';
import { decodeTableRow, encodeIndexPrefix, indexSpec, primaryKey, primarySpan, secondarySpan } from '../catalog/table-data';
import type { Env, Row, Runtime } from '../runtime';
import { parseTimeoutMs } from '../timeouts';
import type { Expr } from '../plan/expr';
import type { ScopeColumn } from '../plan/scope';
import type { Value } from '../types/types';
import type { AggregatePushdown } from '../pushdown/aggregate-pushdown';
import type { FilterPushdown } from '../pushdown/filter-pushdown';
import { allSlots, breathe, prepareSlots, type ExplainNode, type PlanNode } from './nodes';

export interface Bound {
  readonly expr: Expr;
  readonly inclusive: boolean;
}

export type Access =
  | { readonly kind: 'point'; readonly values: readonly Expr[] }
  | { readonly kind: 'span'; readonly prefix: readonly Expr[]; readonly lower?: Bound; readonly upper?: Bound }
  | { readonly kind: 'index'; readonly index: IndexDesc; readonly prefix: readonly Expr[] }
  | { readonly kind: 'full' };

export interface ScannedRow {
  readonly key: Buffer;
  readonly row: Row;
}

export class TableScanNode implements PlanNode {
  /** Set by the planner when a LIMIT can be pushed (no sort/aggregate/join above). */
  limit: number | undefined;
  /**
   * Set by the planner for the rows UPDATE/DELETE change and SELECT ... FOR UPDATE/SHARE reads:
   * a point get then takes the row lock (writers queue instead of failing at commit).
   */
  locking = false;

  constructor(
    readonly table: TableDesc,
    readonly columns: readonly ScopeColumn[],
    readonly access: Access,
    readonly filter: Expr | undefined,
    private readonly missing: (c: ColumnDesc) => Value,
    readonly alias: string,
    /** The conjuncts of `filter` the shards evaluate (full and span scans; decision 0038). */
    readonly pushdown?: FilterPushdown,
    /** Every conjunct is pushed: the shards' rows all pass, so a LIMIT can go to them too. */
    private readonly pushedAll = false,
  ) {}

  async *rows(outer: Env | undefined, rt: Runtime): AsyncGenerator<Row> {
    for await (const r of this.scanRows(outer, rt)) yield r.row;
  }

  /** Rows with their primary keys (UPDATE/DELETE need the key). */
  async *scanRows(outer: Env | undefined, rt: Runtime): AsyncGenerator<ScannedRow> {
    const filter = this.filter;
    const slots = allSlots([filter]);
    let n = 0;
    let scanned = 0;
    for await (const kv of this.kvRows(outer, rt)) {
      if ((++scanned & 1023) === 0) await breathe(rt);
      const row = decodeTableRow(this.table, kv.value, this.missing);
      if (filter) {
        const env: Env = { row, outer, rt };
        if (slots.length) await prepareSlots(slots, env);
        if (filter.fn(env) !== true) continue;
      }
      yield { key: kv.key, row };
      if (this.limit !== undefined && ++n >= this.limit) return;
    }
  }

  private async *kvRows(outer: Env | undefined, rt: Runtime): AsyncGenerator<{ key: Buffer; value: Buffer }> {
    const a = this.access;
    const env: Env = { row: [], outer, rt };
    const evalAll = async (es: readonly Expr[]): Promise<Value[]> => {
      await prepareSlots(allSlots(es), env);
      return es.map((e) => e.fn(env));
    };
    const txn = rt.txn;
    const filter = this.pushdown !== undefined && rt.session.setting('weft.filter_pushdown') !== 'off' ? this.pushdown.filterFor(rt) : undefined;
    const hint = this.filter === undefined || (this.pushedAll && filter !== undefined) ? this.limit : undefined;
    const scanOptions = filter === undefined ? { limit: hint } : { limit: hint, filter };
    switch (a.kind) {
      case 'point': {
        const vals = await evalAll(a.values);
        if (vals.some((v) => v === null)) return;
        const row = this.table.columns.map((c) => {
          const i = this.table.primary.columns.indexOf(c.id);
          return i >= 0 ? vals[i] : null;
        });
        const key = primaryKey(this.table, row);
        const value = this.locking && txn.getForUpdate
          ? await txn.getForUpdate(key, { lockTimeoutMs: parseTimeoutMs(rt.session.setting('lock_timeout') ?? '0'), signal: rt.signal })
          : await txn.get(key);
        if (value) yield { key, value };
        return;
      }
      case 'span': {
        const span = await this.primarySpanOf(a, env);
        if (span !== undefined) yield* txn.scan(span.start, span.end, scanOptions);
        return;
      }
      case 'index': {
        const prefix = await evalAll(a.prefix);
        if (prefix.some((v) => v === null)) return;
        const { start, end } = a.index.unique && prefix.length === a.index.columns.length
          ? { start: encodeIndexPrefix(this.table, a.index, prefix), end: prefixEnd(encodeIndexPrefix(this.table, a.index, prefix)) ?? Buffer.alloc(0) }
          : secondarySpan(this.table, a.index, prefix);
        for await (const entry of txn.scan(start, end)) {
          const value = await txn.get(entry.value);
          if (value) yield { key: entry.value, value };
        }
        // Unique entries holding NULLs live in the non-unique layout; `=` never matches NULL.
        return;
      }
      case 'full': {
        const { start, end } = primarySpan(this.table);
        yield* txn.scan(start, end, scanOptions);
      }
    }
  }

  /**
   * The primary-index span a span access reads, or undefined when it reads nothing (a NULL
   * bound, an empty range).
   */
  private async primarySpanOf(a: Extract<Access, { kind: 'span' }>, env: Env): Promise<{ start: Buffer; end: Buffer } | undefined> {
    const evalOne = async (e: Expr): Promise<Value> => {
      await prepareSlots(allSlots([e]), env);
      return e.fn(env);
    };
    const prefix: Value[] = [];
    for (const e of a.prefix) prefix.push(await evalOne(e));
    if (prefix.some((v) => v === null)) return undefined;
    // Rows are placed by the hash of the leading key columns: without all of them the range is
    // spread over every hash value, so scan the table (the filter holds the range conditions too).
    if (!prefixCoversHash(indexSpec(this.table, this.table.primary, false), prefix.length)) return primarySpan(this.table);
    let { start, end } = primarySpan(this.table, prefix);
    if (a.lower) {
      const lo = await evalOne(a.lower.expr);
      if (lo === null) return undefined;
      const k = primarySpan(this.table, [...prefix, lo]);
      start = a.lower.inclusive ? k.start : k.end;
    }
    if (a.upper) {
      const hi = await evalOne(a.upper.expr);
      if (hi === null) return undefined;
      const k = primarySpan(this.table, [...prefix, hi]);
      end = a.upper.inclusive ? k.end : k.start;
    }
    return Buffer.compare(start, end) >= 0 ? undefined : { start, end };
  }

  /**
   * How many rows this scan yields, counted on the shards (count(*) pushdown, decision 0038),
   * or undefined when it cannot be counted there: an index or point access, a filter with
   * conjuncts the shards cannot evaluate, a limit, a locking read, a reader without counts
   * (a statement snapshot), pushdown turned off, or the transaction wrote in the span.
   */
  async countRows(outer: Env | undefined, rt: Runtime): Promise<number | undefined> {
    const a = this.access;
    const count = rt.txn.count;
    if (!this.countable || count === undefined || (a.kind !== 'full' && a.kind !== 'span')) return undefined;
    if (rt.session.setting('weft.filter_pushdown') === 'off') return undefined;
    const filter = this.pushdown === undefined ? { program: Buffer.alloc(0), args: Buffer.alloc(0) } : this.pushdown.filterFor(rt);
    if (filter === undefined) return undefined;
    const span = a.kind === 'full' ? primarySpan(this.table) : await this.primarySpanOf(a, { row: [], outer, rt });
    if (span === undefined) return 0;
    return count.call(rt.txn, span.start, span.end, filter);
  }

  /**
   * The aggregate's output rows computed from the shards' partial aggregates (decision 0038),
   * or undefined when they cannot be taken there (as for countRows, or a shard answered without
   * a partial): the caller aggregates the rows itself.
   */
  async aggregateOnShards(outer: Env | undefined, rt: Runtime, filter: FilterPushdown, agg: AggregatePushdown): Promise<Value[][] | undefined> {
    const a = this.access;
    const partials = rt.txn.partials;
    if (!this.countable || partials === undefined || (a.kind !== 'full' && a.kind !== 'span')) return undefined;
    if (rt.session.setting('weft.filter_pushdown') === 'off') return undefined;
    const f = filter.filterFor(rt, false, agg.program);
    if (f === undefined) return undefined;
    const span = a.kind === 'full' ? primarySpan(this.table) : await this.primarySpanOf(a, { row: [], outer, rt });
    if (span === undefined) return agg.merge([]);
    const parts = await partials.call(rt.txn, span.start, span.end, f);
    return parts === undefined ? undefined : agg.merge(parts);
  }

  /** What the plan alone says about countRows: a full or span access the shards can filter. */
  get countable(): boolean {
    const a = this.access;
    return (a.kind === 'full' || a.kind === 'span') && this.limit === undefined && !this.locking && (this.filter === undefined || (this.pushedAll && this.pushdown !== undefined));
  }

  explain(): ExplainNode {
    const a = this.access;
    const pkNames = this.table.primary.columns.map((id) => this.table.columns.find((c) => c.id === id)?.name ?? '?');
    const details: string[] = [];
    let label: string;
    switch (a.kind) {
      case 'point':
        label = `Point Get on ${this.table.name}${this.alias !== this.table.name ? ` ${this.alias}` : ''} using ${this.table.primary.name}`;
        details.push(`Key: (${pkNames.join(', ')}) = (${a.values.map((v) => v.name).join(', ')})`);
        break;
      case 'span': {
        label = `Span Scan on ${this.table.name}${this.alias !== this.table.name ? ` ${this.alias}` : ''} using ${this.table.primary.name}`;
        const parts = a.prefix.map((_p, i) => `${pkNames[i]} =`);
        if (a.lower) parts.push(`${pkNames[a.prefix.length]} ${a.lower.inclusive ? '>=' : '>'}`);
        if (a.upper) parts.push(`${pkNames[a.prefix.length]} ${a.upper.inclusive ? '<=' : '<'}`);
        details.push(`Span: ${parts.join(' AND ') || 'all'}`);
        break;
      }
      case 'index':
        label = `Index Scan on ${this.table.name}${this.alias !== this.table.name ? ` ${this.alias}` : ''} using ${a.index.name}`;
        details.push(`Index Cond: ${a.index.columns.slice(0, a.prefix.length).map((id) => this.table.columns.find((c) => c.id === id)?.name).join(', ')} =`);
        break;
      default:
        label = `Full Scan on ${this.table.name}${this.alias !== this.table.name ? ` ${this.alias}` : ''}`;
    }
    if (this.filter) details.push(this.pushdown === undefined ? 'Filter: at the gateway' : this.pushedAll ? 'Filter: evaluated on the shards' : `Filter: ${this.pushdown.conds.length} conjunct(s) evaluated on the shards`);
    if (this.limit !== undefined) details.push(`Limit: ${this.limit} (pushed to scan)`);
    return { label, details };
  }
}
