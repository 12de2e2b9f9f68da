// Partial indexes (CREATE INDEX ... WHERE pred): which rows have an entry, when a query may read
// one, and how the stored predicate follows column renames. The predicate is kept as the parse
// tree written (like CHECK constraints) and compiled per catalog version on first use.
//
// Reading a partial index is sound only when every row the query can return is in the index,
// i.e. the query's WHERE implies the predicate. The implication test is deliberately small
// (each predicate conjunct appears among the query's conjuncts, or is `col IS NOT NULL` implied
// by a comparison on col): when it cannot prove the implication the planner scans the table,
// which is slower but never wrong.
import type { Node } from 'libpg-query';
import type { IndexDesc, TableDesc } from '../catalog/descriptors';
import type { Row } from '../runtime';
import type { ExecContext } from '../statement';
import { S, sqlError } from '../errors';
import { t } from '../types/types';
import { newPlanner } from '../compile';
import type { Expr } from './expr';
import { Scope } from './scope';

// Per table descriptor too: the compiled predicate reads columns by position, which the same
// index has at different places in two versions of its table (after DROP COLUMN).
const compiled = new WeakMap<TableDesc, WeakMap<IndexDesc, Expr>>();

/** Whether `row` has an entry in `idx` (always, for an index without a predicate). */
export function inIndex(ctx: ExecContext, t0: TableDesc, idx: IndexDesc, row: Row): boolean {
  if (!idx.predicate) return true;
  let forTable = compiled.get(t0);
  if (!forTable) compiled.set(t0, (forTable = new WeakMap()));
  let e = forTable.get(idx);
  if (!e) {
    e = compilePredicate(ctx, t0, idx.predicate);
    forTable.set(idx, e);
  }
  return e.fn({ row, outer: undefined, rt: ctx.rt }) === true;
}

/**
 * Compiles a predicate over `t0`'s columns; throws what PostgreSQL throws for a bad one
 * (unknown column 42703, not boolean 42804, aggregate 42803, subquery 0A000).
 */
export function compilePredicate(ctx: ExecContext, t0: TableDesc, predicate: Node): Expr {
  const scope = new Scope(t0.columns.map((c) => ({ qualifier: t0.name, name: c.name, type: c.type, hidden: c.hidden })));
  const c = newPlanner(ctx.env).compiler(scope, { types: [] }, { noAgg: 'index predicates' });
  const e = c.asBool(c.compile(predicate, t('bool')));
  if (e.slots.length > 0) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'cannot use subquery in index predicate');
  if (callsVolatile(predicate)) throw sqlError('42P17', 'functions in index predicate must be marked IMMUTABLE');
  return e;
}

/** Functions whose result changes between calls or with the session (not IMMUTABLE in PostgreSQL). */
const NOT_IMMUTABLE = new Set([
  'now', 'random', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp', 'timeofday', 'nextval', 'currval', 'lastval',
  'setval', 'gen_random_uuid', 'current_setting', 'set_config', 'pg_backend_pid', 'txid_current', 'to_char', 'age', 'current_database',
  'current_schema', 'current_user', 'session_user', 'version', 'pg_advisory_lock', 'pg_try_advisory_lock',
]);

function callsVolatile(n: unknown): boolean {
  if (Array.isArray(n)) return n.some(callsVolatile);
  if (!n || typeof n !== 'object') return false;
  const o = n as Record<string, unknown>;
  if ('SQLValueFunction' in o) return true;
  if ('FuncCall' in o) {
    const names = ((o.FuncCall as { funcname?: Node[] }).funcname ?? []).map((x) => ('String' in x ? x.String.sval : ''));
    if (NOT_IMMUTABLE.has(names[names.length - 1] ?? '')) return true;
  }
  return Object.values(o).some(callsVolatile);
}

function conjuncts(n: Node | undefined): Node[] {
  if (!n) return [];
  if ('BoolExpr' in n && n.BoolExpr.boolop === 'AND_EXPR') return (n.BoolExpr.args ?? []).flatMap(conjuncts);
  return [n];
}

/** A parse tree without source positions, and column references without the `alias` qualifier. */
function normalize(n: unknown, alias: string | undefined): unknown {
  if (Array.isArray(n)) return n.map((x) => normalize(x, alias));
  if (!n || typeof n !== 'object') return n;
  const o = n as Record<string, unknown>;
  if ('ColumnRef' in o) {
    const fields = ((o.ColumnRef as { fields?: Node[] }).fields ?? []).map((f) => ('String' in f ? f.String.sval : '*'));
    const name = fields.length === 2 && fields[0] === alias ? [fields[1]] : fields;
    return { ColumnRef: name };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (k !== 'location') out[k] = normalize(v, alias);
  return out;
}

const same = (a: Node, b: Node, alias: string | undefined): boolean => JSON.stringify(normalize(a, alias)) === JSON.stringify(normalize(b, alias));

/** The column a `col IS NOT NULL` test is about, or undefined. */
function notNullColumn(n: Node): string | undefined {
  if (!('NullTest' in n) || n.NullTest.nulltesttype !== 'IS_NOT_NULL') return undefined;
  const arg = n.NullTest.arg;
  if (!arg || !('ColumnRef' in arg)) return undefined;
  const f = arg.ColumnRef.fields ?? [];
  return f.length === 1 && 'String' in f[0] ? f[0].String.sval : undefined;
}

/** The column compared by a strict comparison (`col op expr`, either side): NULL never passes it. */
function strictlyCompared(q: Node, alias: string | undefined): string | undefined {
  if (!('A_Expr' in q) || q.A_Expr.kind !== 'AEXPR_OP' || !q.A_Expr.lexpr || !q.A_Expr.rexpr) return undefined;
  const op = (q.A_Expr.name ?? []).map((x) => ('String' in x ? x.String.sval : '')).join('');
  if (!['=', '<', '>', '<=', '>=', '<>', '!='].includes(op)) return undefined;
  for (const side of [q.A_Expr.lexpr, q.A_Expr.rexpr]) {
    if (!('ColumnRef' in side)) continue;
    const f = (side.ColumnRef.fields ?? []).map((x) => ('String' in x ? x.String.sval : '*'));
    if (f.length === 1) return f[0];
    if (f.length === 2 && f[0] === alias) return f[1];
  }
  return undefined;
}

/** Whether the conjuncts of a query's WHERE on the table (as `alias`) imply `predicate`. */
export function predicateImplied(predicate: Node, conds: readonly Node[], alias?: string): boolean {
  return conjuncts(predicate).every((p) => {
    if (conds.some((q) => same(p, q, alias))) return true;
    const col = notNullColumn(p);
    return col !== undefined && conds.some((q) => strictlyCompared(q, alias) === col || notNullColumn(normalizeRef(q, alias)) === col);
  });
}

/** `alias.col IS NOT NULL` as `col IS NOT NULL` (for the implication test). */
function normalizeRef(q: Node, alias: string | undefined): Node {
  if (!('NullTest' in q) || !q.NullTest.arg || !('ColumnRef' in q.NullTest.arg)) return q;
  const f = q.NullTest.arg.ColumnRef.fields ?? [];
  if (f.length !== 2 || !('String' in f[0]) || f[0].String.sval !== alias) return q;
  return { NullTest: { ...q.NullTest, arg: { ColumnRef: { fields: [f[1]] } } } };
}

/** ON CONFLICT (cols) WHERE w: whether `w` names the index's predicate (or implies it). */
export function predicateMatches(idx: IndexDesc, where: Node | undefined): boolean {
  if (!idx.predicate) return true;
  return where !== undefined && predicateImplied(idx.predicate, conjuncts(where));
}

/** A stored expression with column `from` renamed to `to` (RENAME COLUMN keeps checks and predicates working). */
export function renameColumnRefs<T>(n: T, from: string, to: string): T {
  if (Array.isArray(n)) return n.map((x: unknown) => renameColumnRefs(x, from, to)) as T;
  if (!n || typeof n !== 'object') return n;
  const o = n as Record<string, unknown>;
  if ('ColumnRef' in o) {
    const fields = (o.ColumnRef as { fields?: Node[] }).fields ?? [];
    const last = fields[fields.length - 1];
    if (last && 'String' in last && last.String.sval === from) {
      return { ...o, ColumnRef: { ...(o.ColumnRef as object), fields: [...fields.slice(0, -1), { String: { sval: to } }] } } as T;
    }
    return n;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = renameColumnRefs(v, from, to);
  return out as T;
}

/** Whether a stored expression refers to column `name`. */
export function refersToColumn(n: unknown, name: string): boolean {
  if (Array.isArray(n)) return n.some((x) => refersToColumn(x, name));
  if (!n || typeof n !== 'object') return false;
  const o = n as Record<string, unknown>;
  if ('ColumnRef' in o) {
    const fields = (o.ColumnRef as { fields?: Node[] }).fields ?? [];
    const last = fields[fields.length - 1];
    return !!last && 'String' in last && last.String.sval === name;
  }
  return Object.values(o).some((v) => refersToColumn(v, name));
}
