// SELECT planning: FROM (tables with access-path choice, joins, subqueries, CTEs, VALUES,
// system views) -> WHERE -> GROUP BY/aggregates -> HAVING -> select list -> DISTINCT ->
// ORDER BY -> LIMIT/OFFSET, and set operations.
import type { Node, SelectStmt, RangeVar, JoinExpr, ResTarget, SortBy, WithClause, CommonTableExpr } from 'libpg-query';
import { S, sqlError } from '../errors';
import type { TableDesc } from '../catalog/descriptors';
import { OID_BASE } from '../catalog/descriptors';
import type { SequenceState } from '../catalog/sequence-state';
import type { SystemView } from '../catalog/system-views/registry';
import {
  AggregateNode, DistinctNode, FilterNode, GeneratorNode, LateralJoinNode, LimitNode, MaterializeNode, NestedLoopJoinNode, ProjectNode, RecursiveUnionNode, SetOpNode, SortNode, ValuesNode, WorkingTableNode,
  prepareSlots, runSlot, type JoinKind, type PlanNode, type ShardAggregation, type SortKey,
} from '../exec/nodes';
import { lookupTableFunction } from '../functions/table-functions';
import { TableScanNode, type Access, type Bound } from '../exec/scan';
import type { Env, Row } from '../runtime';
import { type SqlType, t } from '../types/types';
import { castValue } from '../types/values';
import type { PlannerEnv } from './context';
import { coerce, commonType, ExprCompiler, groupFingerprint, stringOf, type AggCall, type AggContext, type Expr, type ParamTypes, type SubqueryPlanner, type WindowContext } from './expr';
import { WindowNode } from '../exec/window';
import { AggregatePushdown } from '../pushdown/aggregate-pushdown';
import { FilterPushdown } from '../pushdown/filter-pushdown';
import { predicateImplied } from './partial-index';
import { Scope, type ScopeColumn } from './scope';

export interface CteDef {
  readonly node: PlanNode;
  readonly columns: readonly ScopeColumn[];
  /** A data-modifying CTE without RETURNING: it runs, but has no rows to reference (0A000). */
  readonly noReturning?: boolean;
}

/** Plans a data-modifying CTE (INSERT/UPDATE/DELETE in WITH) seeing the CTEs before it. */
export type DmlCtePlanner = (cte: CommonTableExpr, query: Node, ctes: Map<string, CteDef>) => CteDef;

export interface PlannedQuery {
  readonly node: PlanNode;
  /** Visible output columns (hidden sort keys excluded). */
  readonly columns: readonly ScopeColumn[];
}

const pos = (loc: number | undefined): { position?: number } => (loc !== undefined && loc >= 0 ? { position: loc + 1 } : {});

function conjuncts(n: Node | undefined): Node[] {
  if (!n) return [];
  if ('BoolExpr' in n && n.BoolExpr.boolop === 'AND_EXPR') return (n.BoolExpr.args ?? []).flatMap(conjuncts);
  return [n];
}

function columnRefs(n: unknown, out: string[][]): void {
  if (!n || typeof n !== 'object') return;
  if (Array.isArray(n)) {
    for (const x of n) columnRefs(x, out);
    return;
  }
  const o = n as Record<string, unknown>;
  if ('SubLink' in o) {
    out.push(['\u0000sublink']);
    return;
  }
  if ('ColumnRef' in o) {
    out.push((((o.ColumnRef as { fields?: Node[] }).fields ?? [])).map(stringOf));
    return;
  }
  for (const v of Object.values(o)) columnRefs(v, out);
}

function hasAggregate(n: unknown, isAgg: (name: string) => boolean): boolean {
  if (!n || typeof n !== 'object') return false;
  if (Array.isArray(n)) return n.some((x) => hasAggregate(x, isAgg));
  const o = n as Record<string, unknown>;
  if ('SubLink' in o) return false;
  if ('FuncCall' in o) {
    const fc = o.FuncCall as { funcname?: Node[]; agg_star?: boolean; args?: Node[]; over?: unknown };
    const name = stringOf((fc.funcname ?? []).slice(-1)[0]);
    if (!fc.over && isAgg(name) && (fc.agg_star || (fc.args ?? []).length > 0 || name === 'count')) return true;
  }
  return Object.values(o).some((v) => hasAggregate(v, isAgg));
}

interface Leaf {
  readonly kind: 'table';
  readonly table: TableDesc;
  readonly alias: string;
  readonly columns: ScopeColumn[];
  readonly outer: Scope | undefined;
  node?: TableScanNode;
}

type FromTree = Leaf | { readonly kind: 'node'; readonly node: PlanNode } | { readonly kind: 'lateral'; readonly left: FromTree; readonly right: PlanNode; readonly jt: 'inner' | 'left'; readonly quals?: Node } | { readonly kind: 'join'; readonly left: FromTree; readonly right: FromTree; readonly jt: JoinKind; readonly quals?: Node; readonly using?: string[]; readonly natural: boolean };

export class Planner implements SubqueryPlanner {
  readonly slotIds = { next: 1 };

  constructor(
    readonly env: PlannerEnv,
    private readonly isAggregate: (name: string) => boolean,
  ) {}

  compiler(scope: Scope, params: ParamTypes, extra: Partial<ConstructorParameters<typeof ExprCompiler>[0]> = {}): ExprCompiler {
    return new ExprCompiler({ scope, params, planner: this, slotIds: this.slotIds, runSlot, ...extra });
  }

  planSubquery(stmt: SelectStmt, outer: Scope, params: ParamTypes): { node: PlanNode; correlated: boolean } {
    const marker = new Scope([], outer, true);
    const q = this.planSelect(stmt, marker, params, new Map(this.currentCtes));
    return { node: q.node, correlated: marker.usesOuter };
  }

  private currentCtes = new Map<string, CteDef>();

  planSelect(stmt: SelectStmt, outer: Scope | undefined, params: ParamTypes, ctes: Map<string, CteDef> = new Map()): PlannedQuery {
    const saved = this.currentCtes;
    try {
      if (stmt.withClause) ctes = this.planCtes(stmt.withClause, outer, params, ctes);
      this.currentCtes = ctes;
      if (stmt.op && stmt.op !== 'SETOP_NONE') return this.planSetOp(stmt, outer, params, ctes);
      if (stmt.valuesLists) return this.planValues(stmt, outer, params, ctes);
      return this.planSimple(stmt, outer, params, ctes);
    } finally {
      this.currentCtes = saved;
    }
  }

  /**
   * The CTEs of a WITH clause, added to `ctes`. Data-modifying CTEs are planned by `dml`, which
   * only the top level of a statement passes (elsewhere they are 0A000, as in Postgres).
   */
  planCtes(withClause: WithClause, outer: Scope | undefined, params: ParamTypes, inherited: Map<string, CteDef>, dml?: DmlCtePlanner): Map<string, CteDef> {
    const ctes = new Map(inherited);
    const seen = new Set<string>();
    const saved = this.currentCtes;
    try {
      for (const c of withClause.ctes ?? []) {
        if (!('CommonTableExpr' in c)) continue;
        const cte = c.CommonTableExpr;
        this.currentCtes = ctes;
        const q = (cte.ctequery ?? {}) as Node;
        const names = (cte.aliascolnames ?? []).map(stringOf);
        if (seen.has(cte.ctename ?? '')) throw sqlError('42712', `WITH query name "${cte.ctename}" specified more than once`, pos(cte.location));
        seen.add(cte.ctename ?? '');
        const checkNames = (available: number): void => {
          if (names.length > available) throw sqlError('42P10', `WITH query "${cte.ctename}" has ${available} columns available but ${names.length} columns specified`, pos(cte.location));
        };
        if (!('SelectStmt' in q)) {
          if (!dml) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'WITH clause containing a data-modifying statement must be at the top level', pos(cte.location));
          const def = dml(cte, q, new Map(ctes));
          checkNames(def.columns.length);
          ctes.set(cte.ctename ?? '', def);
          continue;
        }
        if (withClause.recursive && q.SelectStmt.op === 'SETOP_UNION' && q.SelectStmt.larg && q.SelectStmt.rarg) {
          const def = this.recursiveCte(cte.ctename ?? '', names, q.SelectStmt, outer, params, ctes);
          checkNames(def.columns.length);
          ctes.set(cte.ctename ?? '', def);
          continue;
        }
        const planned = this.planSelect(q.SelectStmt, outer, params, ctes);
        checkNames(planned.columns.length);
        const cols = planned.columns.map((col, i) => ({ ...col, name: names[i] ?? col.name, qualifier: cte.ctename, hidden: false }));
        ctes.set(cte.ctename ?? '', { node: new MaterializeNode(planned.node, cols, `CTE ${cte.ctename}`), columns: cols });
      }
    } finally {
      this.currentCtes = saved;
    }
    return ctes;
  }

  /** Plans `fn` (a DML statement's parts) with `ctes` visible to its subqueries too. */
  withCtes<T>(ctes: Map<string, CteDef>, fn: () => T): T {
    const saved = this.currentCtes;
    this.currentCtes = ctes;
    try {
      return fn();
    } finally {
      this.currentCtes = saved;
    }
  }

  /** WITH RECURSIVE name AS (base UNION [ALL] recursive term referencing name). */
  private recursiveCte(name: string, names: string[], q: SelectStmt, outer: Scope | undefined, params: ParamTypes, ctes: Map<string, CteDef>): CteDef {
    const base = this.planSelect(q.larg as SelectStmt, outer, params, ctes);
    const cols = base.columns.map((c, i) => ({ ...c, name: names[i] ?? c.name, qualifier: name, hidden: false, untyped: false }));
    const working = new WorkingTableNode(cols, name);
    const inner = new Map(ctes);
    inner.set(name, { node: working, columns: cols });
    this.currentCtes = inner;
    const rec = this.planSelect(q.rarg as SelectStmt, outer, params, inner);
    if (rec.columns.length !== cols.length) throw sqlError(S.SYNTAX_ERROR, 'each UNION query must have the same number of columns');
    const convert = (row: Row): Row => cols.map((c, i) => castValue(row[i], rec.columns[i].type, c.type, false));
    const node = new RecursiveUnionNode(base.node, rec.node, working, q.all ?? false, cols, convert);
    return { node: new MaterializeNode(node, cols, `CTE ${name}`), columns: cols };
  }

  private planValues(stmt: SelectStmt, outer: Scope | undefined, params: ParamTypes, ctes: Map<string, CteDef>): PlannedQuery {
    const lists = (stmt.valuesLists ?? []).map((l) => ('List' in l ? (l.List.items ?? []) : []));
    const width = lists[0]?.length ?? 0;
    if (lists.some((l) => l.length !== width)) throw sqlError(S.SYNTAX_ERROR, 'VALUES lists must all be the same length');
    const c = this.compiler(new Scope([], outer), params);
    const byCol: Expr[][] = [];
    for (let i = 0; i < width; i++) byCol.push(c.compileCommon(lists.map((l) => l[i])));
    const rows = lists.map((_l, r) => byCol.map((col) => col[r]));
    const columns = byCol.map((col, i) => ({ qualifier: undefined, name: `column${i + 1}`, type: col[0].type.kind === 'unknown' ? t('text') : col[0].type, untyped: col[0].type.kind === 'unknown' }));
    const node: PlanNode = new ValuesNode(columns, rows);
    return this.finish(node, columns, stmt, params, outer, ctes);
  }

  /** ORDER BY / LIMIT over a VALUES or set operation result (output columns only). */
  private finish(node0: PlanNode, columns: readonly ScopeColumn[], stmt: SelectStmt, params: ParamTypes, outer: Scope | undefined, _ctes: Map<string, CteDef>): PlannedQuery {
    let node = node0;
    const scope = new Scope(columns.map((c) => ({ ...c, qualifier: undefined })), outer);
    const c = this.compiler(scope, params);
    if (stmt.sortClause?.length) {
      const keys = stmt.sortClause.map((s) => this.sortKey((s as { SortBy: SortBy }).SortBy, (n) => this.outputRef(n, columns) ?? c.compile(n)));
      node = new SortNode(node, keys);
    }
    node = this.limit(node, stmt, params, outer);
    return { node, columns };
  }

  private outputRef(n: Node, columns: readonly ScopeColumn[]): Expr | undefined {
    if ('A_Const' in n && n.A_Const.ival !== undefined) {
      const i = (n.A_Const.ival.ival ?? 0) - 1;
      if (i < 0 || i >= columns.filter((x) => !x.hidden).length) throw sqlError(S.INVALID_COLUMN_REFERENCE, `ORDER BY position ${i + 1} is not in select list`, pos(n.A_Const.location));
      return { type: columns[i].type, fn: (env) => env.row[i], slots: [], name: columns[i].name };
    }
    if ('ColumnRef' in n && (n.ColumnRef.fields ?? []).length === 1) {
      const name = stringOf(n.ColumnRef.fields?.[0]);
      const hits = columns.map((c, i) => [c, i] as const).filter(([c]) => c.name === name && !c.hidden);
      if (hits.length === 1) {
        const i = hits[0][1];
        return { type: columns[i].type, fn: (env) => env.row[i], slots: [], name };
      }
    }
    return undefined;
  }

  private sortKey(sb: SortBy, compile: (n: Node) => Expr): SortKey {
    const desc = sb.sortby_dir === 'SORTBY_DESC';
    const nullsFirst = sb.sortby_nulls === 'SORTBY_NULLS_FIRST' ? true : sb.sortby_nulls === 'SORTBY_NULLS_LAST' ? false : desc;
    if (sb.useOp) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'ORDER BY USING is not supported');
    const expr = compile(sb.node as Node);
    return { expr: expr.type.kind === 'unknown' ? coerce(expr, t('text')) : expr, desc, nullsFirst };
  }

  private limit(node: PlanNode, stmt: SelectStmt, params: ParamTypes, outer: Scope | undefined): PlanNode {
    if (!stmt.limitCount && !stmt.limitOffset) return node;
    if (stmt.limitOption === 'LIMIT_OPTION_WITH_TIES') throw sqlError(S.FEATURE_NOT_SUPPORTED, 'FETCH ... WITH TIES is not supported');
    const c = this.compiler(new Scope([], outer), params, { noAgg: 'LIMIT' });
    const lim = stmt.limitCount && !('A_Const' in stmt.limitCount && stmt.limitCount.A_Const.isnull) ? coerce(c.compile(stmt.limitCount, t('int8')), t('int8')) : undefined;
    const off = stmt.limitOffset ? coerce(c.compile(stmt.limitOffset, t('int8')), t('int8')) : undefined;
    return new LimitNode(node, lim, off);
  }

  private planSetOp(stmt: SelectStmt, outer: Scope | undefined, params: ParamTypes, ctes: Map<string, CteDef>): PlannedQuery {
    const l = this.planSelect(stmt.larg as SelectStmt, outer, params, ctes);
    const r = this.planSelect(stmt.rarg as SelectStmt, outer, params, ctes);
    if (l.columns.length !== r.columns.length) throw sqlError(S.SYNTAX_ERROR, `each ${stmt.op === 'SETOP_UNION' ? 'UNION' : stmt.op === 'SETOP_INTERSECT' ? 'INTERSECT' : 'EXCEPT'} query must have the same number of columns`);
    const typeOf = (c: ScopeColumn): SqlType => (c.untyped ? t('unknown') : c.type);
    const types = l.columns.map((c, i) => commonType(typeOf(c), typeOf(r.columns[i])));
    const columns = l.columns.map((c, i) => ({ qualifier: undefined, name: c.name, type: types[i].kind === 'unknown' ? t('text') : types[i], untyped: types[i].kind === 'unknown' }));
    const conv = (from: readonly ScopeColumn[]) => (row: Row): Row => columns.map((c, i) => castValue(row[i], from[i].type, c.type, false));
    const op = stmt.op === 'SETOP_UNION' ? 'union' : stmt.op === 'SETOP_INTERSECT' ? 'intersect' : 'except';
    const node = new SetOpNode(l.node, r.node, op, stmt.all ?? false, columns, conv(r.columns), conv(l.columns));
    return this.finish(node, columns, stmt, params, outer, ctes);
  }

  // -------------------------------------------------------------------------------------------
  // FROM

  private fromItem(n: Node, outer: Scope | undefined, params: ParamTypes, ctes: Map<string, CteDef>): FromTree {
    if ('RangeVar' in n) return this.rangeVar(n.RangeVar, outer, ctes);
    if ('JoinExpr' in n) return this.joinExpr(n.JoinExpr, outer, params, ctes);
    if ('RangeSubselect' in n) {
      const rs = n.RangeSubselect;
      const sub = (rs.subquery as { SelectStmt: SelectStmt }).SelectStmt;
      const q = this.planSelect(sub, outer, params, ctes);
      const alias = rs.alias?.aliasname;
      const names = (rs.alias?.colnames ?? []).map(stringOf);
      const cols = q.columns.map((c, i) => ({ ...c, qualifier: alias, name: names[i] ?? c.name }));
      return { kind: 'node', node: new Renamed(q.node, cols) };
    }
    if ('RangeFunction' in n) return this.rangeFunction(n.RangeFunction, outer, params);
    throw sqlError(S.FEATURE_NOT_SUPPORTED, `FROM item ${Object.keys(n)[0]} is not supported`);
  }

  private rangeFunction(rf: import('libpg-query').RangeFunction, outer: Scope | undefined, params: ParamTypes): FromTree {
    const fnNode = ((rf.functions ?? [])[0] as { List: { items: Node[] } } | undefined)?.List.items[0];
    if (!fnNode || !('FuncCall' in fnNode)) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'this FROM function is not supported');
    const fc = fnNode.FuncCall;
    const name = stringOf((fc.funcname ?? []).slice(-1)[0]);
    const tf = lookupTableFunction(name);
    const alias = rf.alias?.aliasname ?? name;
    const colnames = (rf.alias?.colnames ?? []).map(stringOf);
    const c = this.compiler(new Scope([], outer), params);
    if (!tf) {
      // A scalar function in FROM is a one-row relation (SELECT * FROM current_schema()).
      const e = c.compile(fnNode);
      const type = e.type.kind === 'unknown' ? t('text') : e.type;
      const cols: ScopeColumn[] = [{ qualifier: alias, name: colnames[0] ?? alias, type }];
      if (rf.ordinality) cols.push({ qualifier: alias, name: colnames[1] ?? 'ordinality', type: t('int8') });
      return {
        kind: 'node',
        node: new GeneratorNode(cols, async function* (outerEnv, rt) {
          const env = { row: [], outer: outerEnv, rt };
          await prepareSlots(e.slots, env);
          yield rf.ordinality ? [e.fn(env), 1n] : [e.fn(env)];
        }, `Result (${name})`),
      };
    }
    let args = (fc.args ?? []).map((a) => c.compile(a));
    const declared = args.map((a) => a.type);
    const wanted = tf.argTypes?.(declared) ?? [];
    const outCols = tf.columns(declared, name);
    args = args.map((a, i) => (a.type.kind === 'unknown' || (wanted[i] && wanted[i]?.kind !== a.type.kind && a.type.kind !== 'array') ? coerce(a, wanted[i] ?? t('text')) : a));
    const types = args.map((a) => a.type);
    if (!outCols) throw sqlError(S.UNDEFINED_FUNCTION, `function ${name}(${types.map((x) => x.kind).join(', ')}) does not exist`, pos(fc.location));
    // A single-column function aliased without column names takes the alias as its column name.
    const cols: ScopeColumn[] = outCols.map((col, i) => ({ qualifier: alias, name: colnames[i] ?? (outCols.length === 1 && rf.alias && !colnames.length ? alias : col.name), type: col.type }));
    const ordinality = rf.ordinality ?? false;
    if (ordinality) cols.push({ qualifier: alias, name: colnames[outCols.length] ?? 'ordinality', type: t('int8') });
    const fns = args.map((a) => a.fn);
    const slots = args.flatMap((a) => a.slots);
    const outTypes = outCols.map((x) => x.type);
    return {
      kind: 'node',
      node: new GeneratorNode(cols, async function* (outerEnv, rt) {
        const env = { row: [], outer: outerEnv, rt };
        await prepareSlots(slots, env);
        const vals = fns.map((f) => f(env));
        if (vals.some((v) => v === null)) return;
        let n = 0n;
        for (const r of tf.rows(vals, types, outTypes)) yield ordinality ? [...r, ++n] : r;
      }, `Function Scan on ${name}`),
    };
  }

  private rangeVar(rv: RangeVar, outer: Scope | undefined, ctes: Map<string, CteDef>): FromTree {
    const name = rv.relname ?? '';
    const alias = rv.alias?.aliasname ?? name;
    const colnames = (rv.alias?.colnames ?? []).map(stringOf);
    if (!rv.schemaname && ctes.has(name)) {
      const cte = ctes.get(name) as CteDef;
      if (cte.noReturning) throw sqlError(S.FEATURE_NOT_SUPPORTED, `WITH query "${name}" does not have a RETURNING clause`, pos(rv.location));
      const cols = cte.columns.map((c, i) => ({ ...c, qualifier: alias, name: colnames[i] ?? c.name }));
      return { kind: 'node', node: new Renamed(cte.node, cols) };
    }
    const rel = this.env.resolveRelation(rv.schemaname, name);
    if (!rel) {
      throw sqlError(S.UNDEFINED_TABLE, `relation "${rv.schemaname ? `${rv.schemaname}.` : ''}${name}" does not exist`, pos(rv.location));
    }
    if ('rows' in rel) return { kind: 'node', node: this.viewNode(rel, alias, colnames) };
    if (rel.kind === 'sequence') {
      const cols: ScopeColumn[] = [
        { qualifier: alias, name: 'last_value', type: t('int8') },
        { qualifier: alias, name: 'log_cnt', type: t('int8') },
        { qualifier: alias, name: 'is_called', type: t('bool') },
      ];
      const seqName = rel.name;
      const seqOid = rel.id + OID_BASE;
      return {
        kind: 'node',
        // The sequence's state as every session sees it, not this session's currval.
        node: new GeneratorNode(cols, async function* (_o, rt) {
          const s = await rt.services.sequenceState(seqOid);
          yield [s.lastValue, 0n, s.isCalled];
        }, `Seq Scan on ${seqName}`),
      };
    }
    if (rel.kind === 'view') {
      const q = this.planSelect((rel.query as { SelectStmt: SelectStmt }).SelectStmt, undefined, { types: [] }, new Map());
      return { kind: 'node', node: new Renamed(q.node, q.columns.map((c) => ({ ...c, qualifier: alias }))) };
    }
    const schema = this.env.catalog.schemaName(rel.schemaId);
    const pkIds = rel.primary.columns;
    const declaredKey = !rel.columns.some((c) => c.hidden && pkIds.includes(c.id));
    const primaryKeyAttnums = declaredKey ? pkIds.map((id) => rel.columns.findIndex((c) => c.id === id) + 1) : undefined;
    const columns: ScopeColumn[] = rel.columns.map((c, i) => ({
      primaryKeyAttnums,
      qualifier: alias,
      name: c.hidden ? c.name : (colnames[i] ?? c.name),
      type: c.type,
      hidden: c.hidden,
      tableOid: rel.id + OID_BASE,
      attnum: i + 1,
      schema,
    }));
    return { kind: 'table', table: rel, alias, columns, outer };
  }

  private viewNode(v: SystemView, alias: string, colnames: string[]): PlanNode {
    // Every row also carries the system column tableoid (the view's pg_class OID), which pg_dump
    // selects from each catalog it reads to key the objects it finds.
    const cols: ScopeColumn[] = [
      ...v.columns.map((c, i) => ({ qualifier: alias, name: colnames[i] ?? c.name, type: c.type, schema: v.schema })),
      { qualifier: alias, name: 'tableoid', type: t('oid'), schema: v.schema, hidden: true, system: true },
    ];
    const env = this.env;
    const tableOid = v.oid;
    const withOid = function* (rows: Iterable<Row>): Iterable<Row> {
      for (const r of rows) yield [...r, tableOid];
    };
    if (!v.readsSequenceStates) return new GeneratorNode(cols, () => withOid(v.rows({ catalog: env.catalog, session: env.session })), `Virtual Scan on ${v.schema}.${v.name}`);
    return new GeneratorNode(cols, async function* (_o, rt) {
      const sequenceStates = new Map<number, SequenceState>();
      for (const d of env.catalog.byId.values()) if (d.kind === 'sequence') sequenceStates.set(d.id, await rt.services.sequenceState(d.id + OID_BASE));
      yield* withOid(v.rows({ catalog: env.catalog, session: env.session, sequenceStates }));
    }, `Virtual Scan on ${v.schema}.${v.name}`);
  }

  private joinExpr(j: JoinExpr, outer: Scope | undefined, params: ParamTypes, ctes: Map<string, CteDef>): FromTree {
    const left = this.fromItem(j.larg as Node, outer, params, ctes);
    if (isLateral(j.rarg as Node)) {
      if (j.jointype !== 'JOIN_INNER' && j.jointype !== 'JOIN_LEFT') throw sqlError(S.FEATURE_NOT_SUPPORTED, 'only inner and left joins to LATERAL are supported');
      return this.lateral(left, j.rarg as Node, outer, params, ctes, j.jointype === 'JOIN_LEFT' ? 'left' : 'inner', j.quals);
    }
    const right = this.fromItem(j.rarg as Node, outer, params, ctes);
    const jt: JoinKind = j.jointype === 'JOIN_LEFT' ? 'left' : j.jointype === 'JOIN_RIGHT' ? 'right' : j.jointype === 'JOIN_FULL' ? 'full' : j.quals || j.usingClause || j.isNatural ? 'inner' : 'cross';
    return { kind: 'join', left, right, jt, quals: j.quals, using: (j.usingClause ?? []).map(stringOf), natural: j.isNatural ?? false };
  }

  /** A LATERAL item planned with the columns to its left as its outer scope. */
  private lateral(left: FromTree, item: Node, outer: Scope | undefined, params: ParamTypes, ctes: Map<string, CteDef>, jt: 'inner' | 'left', quals?: Node): FromTree {
    const leftScope = new Scope(this.treeColumns(left), outer);
    const right = this.fromItem(item, leftScope, params, ctes);
    if (right.kind !== 'node') throw sqlError(S.FEATURE_NOT_SUPPORTED, 'LATERAL needs a subquery or function');
    return { kind: 'lateral', left, right: right.node, jt, quals };
  }

  private treeColumns(f: FromTree): ScopeColumn[] {
    if (f.kind === 'table') return f.columns;
    if (f.kind === 'node') return [...f.node.columns];
    if (f.kind === 'lateral') return [...this.treeColumns(f.left), ...f.right.columns];
    return joinLayout(f, this.treeColumns(f.left), this.treeColumns(f.right)).columns;
  }

  private leaves(f: FromTree, out: Leaf[]): void {
    if (f.kind === 'table') out.push(f);
    else if (f.kind === 'join' && (f.jt === 'inner' || f.jt === 'cross')) {
      this.leaves(f.left, out);
      this.leaves(f.right, out);
    } else if (f.kind === 'join' && f.jt === 'left') this.leaves(f.left, out);
    else if (f.kind === 'lateral') this.leaves(f.left, out);
  }

  /** Builds the operator tree of FROM; leaves get their pushed conjuncts and access paths. */
  private buildTree(f: FromTree, params: ParamTypes, pushed: Map<Leaf, Node[]>, outer: Scope | undefined): PlanNode {
    if (f.kind === 'table') {
      f.node = this.tableScan(f, pushed.get(f) ?? [], params);
      return f.node;
    }
    if (f.kind === 'node') return f.node;
    if (f.kind === 'lateral') {
      const ln = this.buildTree(f.left, params, pushed, outer);
      const scope = new Scope([...ln.columns, ...f.right.columns], outer);
      const c = this.compiler(scope, params, { noAgg: 'JOIN conditions' });
      const cond = f.quals ? c.asBool(c.compile(f.quals, t('bool')), 'argument of JOIN/ON') : undefined;
      return new LateralJoinNode(ln, f.right, f.jt, cond);
    }
    const l = this.buildTree(f.left, params, pushed, outer);
    const r = this.buildTree(f.right, params, pushed, outer);
    const scope = new Scope([...l.columns, ...r.columns], outer);
    const c = this.compiler(scope, params, { noAgg: 'JOIN conditions' });
    let quals: Node[] = f.quals ? conjuncts(f.quals) : [];
    let cond: Expr | undefined;
    const eqL: Expr[] = [];
    const eqR: Expr[] = [];
    const layout = joinLayout(f, l.columns, r.columns);
    const extra: Expr[] = [];
    for (const { li, ri, type, name } of layout.merged) {
      const nl = l.columns.length;
      eqL.push(coerce({ type: l.columns[li].type, fn: (env) => env.row[li], slots: [], name }, type));
      eqR.push(coerce({ type: r.columns[ri].type, fn: (env) => env.row[nl + ri], slots: [], name }, type));
      extra.push(c.compare('=', eqL[eqL.length - 1], eqR[eqR.length - 1]));
    }
    // Equi-conditions left.col = right.col become a hash join.
    const hashable: Node[] = [];
    for (const q of quals) {
      if ('A_Expr' in q && q.A_Expr.kind === 'AEXPR_OP' && stringOf((q.A_Expr.name ?? [])[0]) === '=' && q.A_Expr.lexpr && q.A_Expr.rexpr) {
        const side = (n: Node): 'l' | 'r' | undefined => {
          const refs: string[][] = [];
          columnRefs(n, refs);
          if (refs.length === 0 || refs.some((x) => x[0] === '\u0000sublink')) return undefined;
          const ls = new Scope(l.columns);
          const rs = new Scope(r.columns);
          const inL = refs.every((x) => safeResolve(ls, x));
          const inR = refs.every((x) => safeResolve(rs, x));
          return inL && !inR ? 'l' : inR && !inL ? 'r' : undefined;
        };
        const a = side(q.A_Expr.lexpr);
        const b = side(q.A_Expr.rexpr);
        if (a && b && a !== b) {
          const le = c.compile(a === 'l' ? q.A_Expr.lexpr : q.A_Expr.rexpr);
          const re = c.compile(a === 'l' ? q.A_Expr.rexpr : q.A_Expr.lexpr);
          const type = commonType(le.type, re.type);
          eqL.push(coerce(le, type));
          eqR.push(coerce(re, type));
          hashable.push(q);
        }
      }
    }
    quals = quals.filter((q) => !hashable.includes(q));
    const condParts = [...extra, ...quals.map((q) => c.asBool(c.compile(q, t('bool')), 'argument of JOIN/ON'))];
    if (hashable.length) condParts.push(...hashable.map((q) => c.compile(q)));
    if (condParts.length === 1) cond = condParts[0];
    else if (condParts.length > 1) {
      const fns = condParts.map((p) => p.fn);
      cond = {
        type: t('bool'),
        fn: (env) => {
          let sawNull = false;
          for (const f of fns) {
            const v = f(env);
            if (v === false) return false;
            if (v === null) sawNull = true;
          }
          return sawNull ? null : true;
        },
        slots: condParts.flatMap((p) => p.slots),
        name: 'cond',
      };
    }
    const nl = l.columns.length;
    const hashKeys = eqL.length ? { left: eqL, right: eqR.map((e) => shiftRight(e, nl)) } : undefined;
    const join = new NestedLoopJoinNode(l, r, f.jt, cond, hashKeys);
    if (layout.merged.length === 0) return join;
    // USING/NATURAL: the merged columns come first (left's value; right's for RIGHT JOIN;
    // COALESCE of both for FULL JOIN), then every input column (the merged-away ones reachable
    // only qualified).
    const mergedExprs: Expr[] = layout.merged.map(({ li, ri, type, name }) => {
      const lv = coerce({ type: l.columns[li].type, fn: (env) => env.row[li], slots: [], name }, type).fn;
      const rv = coerce({ type: r.columns[ri].type, fn: (env) => env.row[nl + ri], slots: [], name }, type).fn;
      const fn = f.jt === 'right' ? rv : f.jt === 'full' ? (env: Env) => lv(env) ?? rv(env) : lv;
      return { type, fn, slots: [], name };
    });
    const passThrough: Expr[] = join.columns.map((col, i) => ({ type: col.type, fn: (env: Env) => env.row[i], slots: [], name: col.name }));
    return new ProjectNode(join, [...mergedExprs, ...passThrough], layout.columns);
  }

  /**
   * What the shards can aggregate for an aggregate directly over one table scan (decision
   * 0038): every call, group key and WHERE conjunct must run there exactly as here.
   */
  private shardAggregation(input: PlanNode, scope: Scope, groups: readonly { node: Node; type: SqlType }[], calls: readonly AggCall[], params: ParamTypes): ShardAggregation | undefined {
    if (!(input instanceof TableScanNode) || !input.countable || scope.columns.length !== input.columns.length || calls.length === 0) return undefined;
    const filter = input.pushdown ?? FilterPushdown.none(input.table, input.columns, params);
    const agg = AggregatePushdown.plan(groups, calls, filter, this.compiler(scope, params, { noAgg: 'GROUP BY' }));
    return agg === undefined ? undefined : { filter, agg };
  }

  /** Chooses the access path of a table from conjuncts that only reference it (and outer/consts). */
  private tableScan(leaf: Leaf, conds: Node[], params: ParamTypes): TableScanNode {
    const t0 = leaf.table;
    const scope = new Scope(leaf.columns, leaf.outer);
    const c = this.compiler(scope, params, { noAgg: 'WHERE' });
    const filterParts = conds.map((q) => c.asBool(c.compile(q, t('bool'))));
    // col = value / col op value where value does not reference this table.
    const free = this.compiler(new Scope([], leaf.outer), params, { noAgg: 'WHERE' });
    const eq = new Map<number, Expr>();
    const lower = new Map<number, Bound>();
    const upper = new Map<number, Bound>();
    for (const q of conds) {
      const m = simpleComparison(q);
      if (!m) continue;
      const colIdx = scope.columns.findIndex((x) => x.name === m.column[m.column.length - 1] && (m.column.length === 1 || x.qualifier === m.column[m.column.length - 2]) && !(x.hidden && m.column.length === 1));
      if (colIdx < 0) continue;
      const col = t0.columns[colIdx];
      let v: Expr;
      try {
        v = free.compile(m.value, col.type);
      } catch {
        continue;
      }
      if (v.slots.some((s) => !s.once)) continue;
      let common: SqlType;
      try {
        common = commonType(col.type, v.type);
      } catch {
        continue;
      }
      if (common.kind !== col.type.kind && !(col.type.kind === 'varchar' || col.type.kind === 'bpchar')) continue;
      const vc = coerce(v, { ...col.type, typmod: -1 });
      if (m.op === '=') eq.set(col.id, vc);
      else if (m.op === '>' || m.op === '>=') lower.set(col.id, { expr: vc, inclusive: m.op === '>=' });
      else if (m.op === '<' || m.op === '<=') upper.set(col.id, { expr: vc, inclusive: m.op === '<=' });
    }
    let access: Access = { kind: 'full' };
    const pk = t0.primary;
    const prefix: Expr[] = [];
    for (const id of pk.columns) {
      const e = eq.get(id);
      if (!e) break;
      prefix.push(e);
    }
    const ascending = pk.directions.every((d) => d === 'asc');
    if (prefix.length === pk.columns.length) access = { kind: 'point', values: prefix };
    else if (prefix.length > 0 || (ascending && (lower.has(pk.columns[0]) || upper.has(pk.columns[0])))) {
      const next = pk.columns[prefix.length];
      access = ascending ? { kind: 'span', prefix, lower: lower.get(next), upper: upper.get(next) } : { kind: 'span', prefix };
    } else {
      let best: { index: (typeof t0.indexes)[number]; prefix: Expr[] } | undefined;
      for (const idx of t0.indexes) {
        // A partial index holds only its predicate's rows: usable when the WHERE implies it.
        if (idx.predicate && !predicateImplied(idx.predicate, conds, leaf.alias)) continue;
        const p: Expr[] = [];
        for (const id of idx.columns) {
          const e = eq.get(id);
          if (!e) break;
          p.push(e);
        }
        if (p.length && (!best || p.length > best.prefix.length || (idx.unique && p.length === idx.columns.length))) best = { index: idx, prefix: p };
      }
      if (best) access = { kind: 'index', index: best.index, prefix: best.prefix };
    }
    const filter = filterParts.length === 0 ? undefined : andAll(filterParts);
    // Full and primary-span scans carry the conjuncts their shards can evaluate (decision 0038).
    const pushdown = access.kind === 'full' || access.kind === 'span' ? FilterPushdown.plan(t0, leaf.columns, conds, c, params) : undefined;
    return new TableScanNode(t0, leaf.columns, access, filter, (col) => this.env.missingValue(col), leaf.alias, pushdown, pushdown?.conds.length === conds.length);
  }

  // -------------------------------------------------------------------------------------------

  /** Plans FROM + WHERE: returns the input node and scope of the select list. */
  planFromWhere(fromClause: readonly Node[], where: Node | undefined, outer: Scope | undefined, params: ParamTypes, ctes: Map<string, CteDef>): { node: PlanNode; scope: Scope; single?: TableScanNode } {
    let tree: FromTree | undefined;
    for (const n of fromClause) {
      if (tree && isLateral(n)) tree = this.lateral(tree, n, outer, params, ctes, 'inner');
      else {
        const it = this.fromItem(n, outer, params, ctes);
        tree = tree ? { kind: 'join', left: tree, right: it, jt: 'cross', natural: false } : it;
      }
    }
    const allCols = tree ? this.treeColumns(tree) : [];
    const scope = new Scope(allCols, outer);
    const conds = conjuncts(where);
    const leaves: Leaf[] = [];
    if (tree) this.leaves(tree, leaves);
    const pushed = new Map<Leaf, Node[]>();
    const rest: Node[] = [];
    for (const q of conds) {
      const refs: string[][] = [];
      columnRefs(q, refs);
      const target = leaves.length === 1 && tree?.kind === 'table' ? leaves[0] : this.soleLeaf(refs, leaves, scope);
      if (target && !refs.some((r) => r[0] === '\u0000sublink' && leaves.length > 1)) {
        const list = pushed.get(target) ?? [];
        list.push(q);
        pushed.set(target, list);
      } else rest.push(q);
    }
    if (tree && rest.length) {
      // WHERE conditions between comma-joined items become join conditions of the lowest inner
      // join that sees all their columns, so equalities plan as hash joins instead of a filter
      // over the cross product (catalog queries of pgjdbc, Sequelize, pg_dump join 5-9 tables so).
      const placed = this.pushIntoInnerJoins(tree, rest, scope);
      tree = placed.tree;
      rest.splice(0, rest.length, ...placed.rest);
    }
    let node: PlanNode = tree ? this.buildTree(tree, params, pushed, outer) : new ValuesNode([], [[]]);
    if (rest.length) {
      const c = this.compiler(scope, params, { noAgg: 'WHERE' });
      node = new FilterNode(node, andAll(rest.map((q) => c.asBool(c.compile(q, t('bool'))))));
    }
    const single = tree?.kind === 'table' ? tree.node : undefined;
    return { node, scope, single };
  }

  /**
   * Attaches each condition (no subqueries, every column reference resolving to exactly one
   * column of the FROM list) to the lowest inner/cross join whose two sides it spans; returns
   * the new tree and the conditions left for the filter above it. Outer joins are opaque.
   */
  private pushIntoInnerJoins(tree: FromTree, conds: readonly Node[], scope: Scope): { tree: FromTree; rest: Node[] } {
    const local = new Scope(scope.columns);
    const movable: { q: Node; refs: string[][] }[] = [];
    const rest: Node[] = [];
    for (const q of conds) {
      const refs: string[][] = [];
      columnRefs(q, refs);
      if (refs.length > 0 && refs.every((r) => r[0] !== '\u0000sublink' && resolvesUniquely(local, r))) movable.push({ q, refs });
      else rest.push(q);
    }
    const taken = new Set<Node>();
    const visit = (f: FromTree): FromTree => {
      if (f.kind !== 'join' || (f.jt !== 'inner' && f.jt !== 'cross') || f.using || f.natural) return f;
      const left = visit(f.left);
      const right = visit(f.right);
      const ls = new Scope(this.treeColumns(left));
      const rs = new Scope(this.treeColumns(right));
      const mine: Node[] = [];
      for (const m of movable) {
        if (taken.has(m.q)) continue;
        const inL = m.refs.map((r) => resolvesUniquely(ls, r));
        const inR = m.refs.map((r) => resolvesUniquely(rs, r));
        if (inL.every((x, i) => x || inR[i]) && inL.some((x) => x) && inR.some((x) => x)) {
          mine.push(m.q);
          taken.add(m.q);
        }
      }
      if (mine.length === 0 && left === f.left && right === f.right) return f;
      const quals = [...(f.quals ? [f.quals] : []), ...mine];
      const joined: Node | undefined = quals.length === 0 ? undefined : quals.length === 1 ? quals[0] : { BoolExpr: { boolop: 'AND_EXPR', args: quals } };
      return { ...f, left, right, jt: quals.length > 0 ? 'inner' : f.jt, quals: joined };
    };
    const out = visit(tree);
    return { tree: out, rest: [...rest, ...movable.filter((m) => !taken.has(m.q)).map((m) => m.q)] };
  }

  private soleLeaf(refs: string[][], leaves: Leaf[], scope: Scope): Leaf | undefined {
    if (refs.length === 0 || refs.some((r) => r[0] === '\u0000sublink')) return undefined;
    let target: Leaf | undefined;
    for (const r of refs) {
      const owner = leaves.find((l) => safeResolve(new Scope(l.columns), r));
      if (!owner) {
        if (safeResolve(new Scope(scope.columns), r)) return undefined; // belongs to a non-leaf FROM item
        continue; // outer reference
      }
      if (target && target !== owner) return undefined;
      target = owner;
    }
    return target;
  }

  private planSimple(stmt: SelectStmt, outer: Scope | undefined, params: ParamTypes, ctes: Map<string, CteDef>): PlannedQuery {
    if (stmt.intoClause) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'SELECT INTO is not supported');
    stmt = this.srfToFrom(stmt);
    const { node: input, scope, single } = this.planFromWhere(stmt.fromClause ?? [], stmt.whereClause, outer, params, ctes);
    // FOR UPDATE/SHARE: serializable validation at commit already protects what was read; on a
    // single table, rows fetched by key are also locked so concurrent writers queue.
    if (stmt.lockingClause?.length && single) single.locking = true;
    const targets = (stmt.targetList ?? []).map((n) => (n as { ResTarget: ResTarget }).ResTarget);
    const sorts = (stmt.sortClause ?? []).map((s) => (s as { SortBy: SortBy }).SortBy);
    const isAgg = (stmt.groupClause ?? []).length > 0 || hasAggregate(targets, this.isAggregate) || hasAggregate(stmt.havingClause, this.isAggregate) || hasAggregate(sorts, this.isAggregate);
    let node = input;
    let exprScopeCompiler = this.compiler(scope, params);
    // Expand the select list (* and rel.*).
    const items: { node: Node; name: string | undefined }[] = [];
    for (const tgt of targets) {
      const v = tgt.val as Node;
      if ('ColumnRef' in v) {
        const f = (v.ColumnRef.fields ?? []).map(stringOf);
        if (f[f.length - 1] === '*') {
          const qual = f.length > 1 ? f[f.length - 2] : undefined;
          const cols = scope.columns.map((c, i) => [c, i] as const).filter(([c]) => !c.hidden && (qual === undefined ? !c.mergedAway : c.qualifier === qual));
          if (qual !== undefined && cols.length === 0 && !scope.hasQualifier(qual)) throw sqlError(S.UNDEFINED_TABLE, `missing FROM-clause entry for table "${qual}"`, pos(v.ColumnRef.location));
          if (qual === undefined && scope.columns.length === 0) throw sqlError(S.SYNTAX_ERROR, 'SELECT * with no tables specified is not valid', pos(v.ColumnRef.location));
          for (const [c] of cols) items.push({ node: { ColumnRef: { fields: c.qualifier ? [{ String: { sval: c.qualifier } }, { String: { sval: c.name } }] : [{ String: { sval: c.name } }] } }, name: c.name });
          continue;
        }
      }
      items.push({ node: v, name: tgt.name });
    }
    let agg: AggContext | undefined;
    if (isAgg) {
      const groupNodes = (stmt.groupClause ?? []).map((g) => this.resolveGroupRef(g, items));
      const gc = this.compiler(scope, params, { noAgg: 'GROUP BY' });
      const groupExprs = groupNodes.map((g) => gc.compile(g));
      const groupKeys = groupNodes.map((g, i) => ({ fingerprint: groupFingerprint(g, scope), type: groupExprs[i].type }));
      // Columns functionally dependent on a grouped primary key become extra (invisible)
      // group keys: they cannot split a group, and references to them then compile as keys.
      const groupTrees: Node[] = [...groupNodes];
      for (const i of dependentColumns(scope, groupKeys.map((k) => k.fingerprint))) {
        const col = scope.columns[i];
        groupExprs.push({ type: col.type, fn: (env) => env.row[i], slots: [], name: col.name });
        groupKeys.push({ fingerprint: JSON.stringify({ $column: i }), type: col.type });
        groupTrees.push({ ColumnRef: { fields: [...(col.qualifier === undefined ? [] : [{ String: { sval: col.qualifier } }]), { String: { sval: col.name } }] } });
      }
      agg = { inputScope: scope, groupKeys, calls: [] };
      exprScopeCompiler = this.compiler(scope, params, { agg });
      // Compile select list, HAVING and ORDER BY first to collect aggregate calls.
      const outExprs = items.map((it) => exprScopeCompiler.compile(it.node));
      const having = stmt.havingClause ? exprScopeCompiler.asBool(exprScopeCompiler.compile(stmt.havingClause, t('bool')), 'argument of HAVING') : undefined;
      const aggCols: ScopeColumn[] = [...groupExprs.map((e) => ({ qualifier: undefined, name: e.name, type: e.type })), ...agg.calls.map((cl) => ({ qualifier: undefined, name: cl.def.name, type: t('text') }))];
      const sortExprs = sorts.map((s) => this.sortKey(s, (n) => this.outputAlias(n, items, outExprs) ?? exprScopeCompiler.compile(n)));
      node = new AggregateNode(input, groupExprs, agg.calls, aggCols, this.shardAggregation(input, scope, groupTrees.map((g, i) => ({ node: g, type: groupExprs[i].type })), agg.calls, params));
      if (having) node = new FilterNode(node, having, 'Filter (HAVING)');
      return this.project(node, items, outExprs, sortExprs, stmt, params, outer, scope);
    }
    if (stmt.havingClause) throw sqlError(S.GROUPING_ERROR, 'HAVING without GROUP BY or aggregates is not supported');
    const win: WindowContext = { inputWidth: scope.columns.length, calls: [] };
    exprScopeCompiler = this.compiler(scope, params, { win });
    const outExprs = items.map((it) => exprScopeCompiler.compileTarget(it.node));
    const sortExprs = sorts.map((s) => this.sortKey(s, (n) => this.outputAlias(n, items, outExprs) ?? exprScopeCompiler.compile(n)));
    if (win.calls.length) return this.project(new WindowNode(node, win.calls), items, outExprs, sortExprs, stmt, params, outer, scope);
    // LIMIT pushdown into a single-table scan when nothing above needs every row.
    if (single && !sorts.length && !stmt.distinctClause && !outExprs.some((e) => e.set) && stmt.limitCount && 'A_Const' in stmt.limitCount && stmt.limitCount.A_Const.ival && !stmt.limitOffset) {
      single.limit = stmt.limitCount.A_Const.ival.ival ?? 0;
    }
    return this.project(node, items, outExprs, sortExprs, stmt, params, outer, scope);
  }

  /** `SELECT srf(...)` without FROM runs as `SELECT x FROM srf(...) x` (one set-returning call). */
  private srfToFrom(stmt: SelectStmt): SelectStmt {
    const targets = (stmt.targetList ?? []).map((n) => (n as { ResTarget: ResTarget }).ResTarget);
    const srfs = targets.filter((tg) => {
      const v = tg.val as Node;
      return 'FuncCall' in v && lookupTableFunction(stringOf((v.FuncCall.funcname ?? []).slice(-1)[0])) !== undefined;
    });
    if (srfs.length === 0) return stmt;
    // With FROM (or several), the select list expands per row (ProjectNode); alone, it becomes FROM.
    if ((stmt.fromClause ?? []).length > 0 || srfs.length > 1) return stmt;
    // A multi-column function's select-list form is a record per row: keep it in the select list.
    if (lookupTableFunction(stringOf(((srfs[0].val as { FuncCall: import('libpg-query').FuncCall }).FuncCall.funcname ?? []).slice(-1)[0]))?.multiColumn) return stmt;
    const fc = (srfs[0].val as { FuncCall: import('libpg-query').FuncCall }).FuncCall;
    const fname = stringOf((fc.funcname ?? []).slice(-1)[0]);
    const alias = '__srf';
    return {
      ...stmt,
      fromClause: [{ RangeFunction: { functions: [{ List: { items: [{ FuncCall: fc }] } }], alias: { aliasname: alias, colnames: [{ String: { sval: fname } }] } } }],
      targetList: targets.map((tg) =>
        tg === srfs[0] ? { ResTarget: { name: tg.name ?? fname, val: { ColumnRef: { fields: [{ String: { sval: alias } }, { String: { sval: fname } }] } } } } : { ResTarget: tg },
      ),
    };
  }

  private outputAlias(n: Node, items: readonly { name: string | undefined }[], outExprs: readonly Expr[]): Expr | undefined {
    if ('A_Const' in n && n.A_Const.ival !== undefined) {
      const i = (n.A_Const.ival.ival ?? 0) - 1;
      if (i < 0 || i >= outExprs.length) throw sqlError(S.INVALID_COLUMN_REFERENCE, `ORDER BY position ${i + 1} is not in select list`, pos(n.A_Const.location));
      return outExprs[i];
    }
    if ('ColumnRef' in n && (n.ColumnRef.fields ?? []).length === 1) {
      const name = stringOf(n.ColumnRef.fields?.[0]);
      const i = items.findIndex((it) => it.name === name);
      if (i >= 0) return outExprs[i];
    }
    return undefined;
  }

  private resolveGroupRef(g: Node, items: readonly { node: Node; name: string | undefined }[]): Node {
    if ('A_Const' in g && g.A_Const.ival !== undefined) {
      const i = (g.A_Const.ival.ival ?? 0) - 1;
      if (i < 0 || i >= items.length) throw sqlError(S.INVALID_COLUMN_REFERENCE, `GROUP BY position ${i + 1} is not in select list`, pos(g.A_Const.location));
      return items[i].node;
    }
    if ('ColumnRef' in g && (g.ColumnRef.fields ?? []).length === 1) {
      const name = stringOf(g.ColumnRef.fields?.[0]);
      const it = items.find((x) => x.name === name);
      if (it) return it.node;
    }
    return g;
  }

  private project(input: PlanNode, items: readonly { node: Node; name: string | undefined }[], outExprs: Expr[], sortKeys: SortKey[], stmt: SelectStmt, params: ParamTypes, outer: Scope | undefined, scope: Scope): PlannedQuery {
    const cols: ScopeColumn[] = outExprs.map((e, i) => {
      const n = items[i].node;
      let src: ScopeColumn | undefined;
      if ('ColumnRef' in n) {
        try {
          const r = scope.resolve((n.ColumnRef.fields ?? []).map(stringOf));
          if (r && r.depth === 0) src = r.column;
        } catch {
          src = undefined;
        }
      }
      return {
        qualifier: undefined,
        name: items[i].name ?? e.name,
        type: e.type.kind === 'unknown' ? t('text') : e.type,
        untyped: e.type.kind === 'unknown',
        tableOid: src?.tableOid,
        attnum: src?.attnum,
      };
    });
    const exprs = outExprs.map((e) => (e.type.kind === 'unknown' ? coerce(e, t('text')) : e));
    // Sort keys that are not output columns ride along as hidden columns.
    const allExprs = [...exprs];
    const allCols: ScopeColumn[] = [...cols];
    const keys: SortKey[] = sortKeys.map((k) => {
      let i = allExprs.indexOf(k.expr);
      if (i < 0) {
        i = allExprs.length;
        allExprs.push(k.expr);
        allCols.push({ qualifier: undefined, name: k.expr.name, type: k.expr.type, hidden: true });
      }
      const idx = i;
      return { ...k, expr: { type: k.expr.type, fn: (env) => env.row[idx], slots: [], name: k.expr.name } };
    });
    let node: PlanNode = new ProjectNode(input, allExprs, allCols);
    if (stmt.distinctClause) {
      const on = stmt.distinctClause.filter((d) => Object.keys(d).length > 0);
      if (on.length) {
        const c = this.compiler(new Scope(allCols, outer), params);
        const onExprs = on.map((d) => this.outputRef(d, allCols) ?? c.compile(d));
        if (keys.length) node = new SortNode(node, keys);
        node = new DistinctNode(node, onExprs);
      } else {
        node = new DistinctNode(node, exprs.map((e, i) => ({ type: e.type, fn: (env) => env.row[i], slots: [], name: e.name })));
        if (keys.length) node = new SortNode(node, keys);
      }
    } else if (keys.length) node = new SortNode(node, keys);
    node = this.limit(node, stmt, params, outer);
    return { node, columns: cols };
  }
}

/** A node whose columns are renamed/requalified (subqueries in FROM, CTE references). */
class Renamed implements PlanNode {
  constructor(
    private readonly child: PlanNode,
    readonly columns: readonly ScopeColumn[],
  ) {}
  rows(outer: Parameters<PlanNode['rows']>[0], rt: Parameters<PlanNode['rows']>[1]): AsyncGenerator<Row> {
    const n = this.columns.length;
    const child = this.child;
    return (async function* () {
      for await (const r of child.rows(outer, rt)) yield r.length === n ? r : r.slice(0, n);
    })();
  }
  explain(): ReturnType<PlanNode['explain']> {
    return this.child.explain();
  }
}

function isLateral(n: Node): boolean {
  return ('RangeSubselect' in n && n.RangeSubselect.lateral === true) || ('RangeFunction' in n && n.RangeFunction.lateral === true);
}

/**
 * The columns a join exposes. With USING/NATURAL, Postgres merges each named pair into one column
 * listed first; the pair's own columns stay reachable only qualified (ScopeColumn.mergedAway).
 */
function joinLayout(
  f: Extract<FromTree, { kind: 'join' }>,
  lcols: readonly ScopeColumn[],
  rcols: readonly ScopeColumn[],
): { columns: ScopeColumn[]; merged: { li: number; ri: number; type: SqlType; name: string }[] } {
  const visible = (c: ScopeColumn): boolean => !c.hidden && !c.mergedAway;
  const names = f.natural ? lcols.filter((lc) => visible(lc) && rcols.some((rc) => visible(rc) && rc.name === lc.name)).map((x) => x.name) : (f.using ?? []);
  if (names.length === 0) return { columns: [...lcols, ...rcols], merged: [] };
  const merged: { li: number; ri: number; type: SqlType; name: string }[] = [];
  for (const name of names) {
    const find = (cols: readonly ScopeColumn[], side: string): number => {
      const hits = cols.map((c, i) => [c, i] as const).filter(([c]) => visible(c) && c.name === name);
      if (hits.length === 0) throw sqlError(S.UNDEFINED_COLUMN, `column "${name}" specified in USING clause does not exist in ${side} table`);
      if (hits.length > 1) throw sqlError(S.AMBIGUOUS_COLUMN, `common column name "${name}" appears more than once in ${side} table`);
      return hits[0][1];
    };
    if (merged.some((m) => m.name === name)) throw sqlError(S.DUPLICATE_COLUMN, `column name "${name}" appears more than once in USING clause`);
    const li = find(lcols, 'left');
    const ri = find(rcols, 'right');
    merged.push({ li, ri, type: commonType(lcols[li].type, rcols[ri].type), name });
  }
  const away = (cols: readonly ScopeColumn[], idx: Set<number>): ScopeColumn[] => cols.map((c, i) => (idx.has(i) ? { ...c, mergedAway: true } : c));
  return {
    columns: [
      ...merged.map((m) => ({ qualifier: undefined, name: m.name, type: m.type })),
      ...away(lcols, new Set(merged.map((m) => m.li))),
      ...away(rcols, new Set(merged.map((m) => m.ri))),
    ],
    merged,
  };
}

/** The reference names exactly one column of `s` (not ambiguous, not an outer reference). */
function resolvesUniquely(s: Scope, parts: readonly string[]): boolean {
  try {
    const r = s.resolve(parts);
    return r !== undefined && r.depth === 0;
  } catch {
    return false;
  }
}

function safeResolve(s: Scope, parts: readonly string[]): boolean {
  try {
    return s.resolve(parts) !== undefined;
  } catch {
    return true;
  }
}

function shiftRight(e: Expr, n: number): Expr {
  const f = e.fn;
  return { ...e, fn: (env) => f({ ...env, row: padLeft(env.row, n) }) };
}

const padCache = new WeakMap<Row, Row>();
function padLeft(row: Row, n: number): Row {
  let r = padCache.get(row);
  if (!r) {
    r = [...new Array<null>(n).fill(null), ...row];
    padCache.set(row, r);
  }
  return r;
}

export function andAll(parts: readonly Expr[]): Expr {
  if (parts.length === 1) return parts[0];
  const fns = parts.map((p) => p.fn);
  return {
    type: t('bool'),
    fn: (env) => {
      let sawNull = false;
      for (const f of fns) {
        const v = f(env);
        if (v === false) return false;
        if (v === null) sawNull = true;
      }
      return sawNull ? null : true;
    },
    slots: parts.flatMap((p) => p.slots).filter((s, i, a) => a.indexOf(s) === i),
    name: 'and',
  };
}

/** `column op value` (either side), op in = < <= > >=. */
function simpleComparison(q: Node): { column: string[]; op: string; value: Node } | undefined {
  if (!('A_Expr' in q) || q.A_Expr.kind !== 'AEXPR_OP' || !q.A_Expr.lexpr || !q.A_Expr.rexpr) return undefined;
  const op = stringOf((q.A_Expr.name ?? [])[0]);
  const flip: Record<string, string> = { '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
  if (!(op in flip)) return undefined;
  const l = q.A_Expr.lexpr;
  const r = q.A_Expr.rexpr;
  if ('ColumnRef' in l) return { column: (l.ColumnRef.fields ?? []).map(stringOf), op, value: r };
  if ('ColumnRef' in r) return { column: (r.ColumnRef.fields ?? []).map(stringOf), op: flip[op], value: l };
  return undefined;
}

/**
 * The input columns made functionally dependent by the GROUP BY keys (given as group
 * fingerprints): every column of a base-table reference whose whole declared primary key is
 * grouped by plain column references, minus the columns already grouped.
 */
function dependentColumns(scope: Scope, keyFingerprints: readonly string[]): number[] {
  const grouped = new Set<number>();
  for (const fp of keyFingerprints) {
    const m = /^\{"\$column":(\d+)\}$/.exec(fp);
    if (m) grouped.add(Number(m[1]));
  }
  if (!grouped.size) return [];
  // One table reference: the columns sharing its alias and relation.
  const refs = new Map<string, number[]>();
  scope.columns.forEach((c, i) => {
    if (!c.primaryKeyAttnums || c.mergedAway) return;
    const ref = `${c.qualifier ?? ''}\u0000${c.tableOid ?? ''}`;
    refs.set(ref, [...(refs.get(ref) ?? []), i]);
  });
  const out: number[] = [];
  for (const cols of refs.values()) {
    const key = scope.columns[cols[0]].primaryKeyAttnums ?? [];
    const covered = key.length > 0 && key.every((attnum) => cols.some((i) => scope.columns[i].attnum === attnum && grouped.has(i)));
    if (covered) for (const i of cols) if (!grouped.has(i)) out.push(i);
  }
  return out;
}
