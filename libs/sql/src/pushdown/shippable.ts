// Which WHERE conjuncts a shard may evaluate (decision 0038). A shard compiles the conjunct's
// parse tree with the gateway's own expression compiler, so the answer is the same as the
// gateway's only if the conjunct depends on nothing but the row, constants and the statement's
// parameters (and the time zone, which travels with it): no subqueries, no volatile or
// session-dependent functions, no catalog lookups, no outer columns (checked by compiling it
// without an outer scope). Anything else stays at the gateway.
import type { Node } from 'libpg-query';
import { stringOf } from '../plan/expr';
import { isBuiltinTypeName } from '../types/types';

/** Immutable built-ins a shard may call: pure functions of their arguments. */
const SHIPPABLE_FUNCTIONS = new Set([
  'abs', 'btrim', 'ceil', 'ceiling', 'char_length', 'character_length', 'floor', 'left', 'length', 'lower', 'ltrim', 'mod', 'octet_length',
  'position', 'replace', 'right', 'round', 'rtrim', 'sign', 'starts_with', 'strpos', 'substr', 'substring', 'trim', 'trunc', 'upper',
]);

const SHIPPABLE_EXPR_KINDS = new Set([
  'AEXPR_OP', 'AEXPR_OP_ANY', 'AEXPR_OP_ALL', 'AEXPR_DISTINCT', 'AEXPR_NOT_DISTINCT', 'AEXPR_NULLIF', 'AEXPR_IN', 'AEXPR_LIKE', 'AEXPR_ILIKE',
  'AEXPR_BETWEEN', 'AEXPR_NOT_BETWEEN', 'AEXPR_BETWEEN_SYM', 'AEXPR_NOT_BETWEEN_SYM',
]);

/** Casts whose input needs the catalog (reg* types name relations, types, functions, roles). */
const CATALOG_TYPES = /^reg/;

const all = (ns: readonly Node[] | undefined): boolean => (ns ?? []).every(isShippable);

export function isShippable(node: Node | undefined): boolean {
  if (node === undefined) return true;
  if ('A_Const' in node || 'ParamRef' in node) return true;
  if ('ColumnRef' in node) return (node.ColumnRef.fields ?? []).every((f) => 'String' in f);
  if ('A_Expr' in node) {
    const e = node.A_Expr;
    return SHIPPABLE_EXPR_KINDS.has(e.kind ?? '') && isShippable(e.lexpr) && isShippable(e.rexpr);
  }
  if ('BoolExpr' in node) return all(node.BoolExpr.args);
  if ('NullTest' in node) return isShippable(node.NullTest.arg);
  if ('BooleanTest' in node) return isShippable(node.BooleanTest.arg);
  if ('List' in node) return all(node.List.items);
  if ('A_ArrayExpr' in node) return all(node.A_ArrayExpr.elements);
  if ('CoalesceExpr' in node) return all(node.CoalesceExpr.args);
  if ('TypeCast' in node) {
    const names = (node.TypeCast.typeName?.names ?? []).map(stringOf).filter((n) => n !== 'pg_catalog');
    // A user type (an enum) is resolved through the catalog, which a shard does not have.
    return names.length === 1 && isBuiltinTypeName(names[0]) && !CATALOG_TYPES.test(names[0]) && isShippable(node.TypeCast.arg);
  }
  if ('CaseExpr' in node) {
    const c = node.CaseExpr;
    return isShippable(c.arg) && isShippable(c.defresult) && (c.args ?? []).every((w) => 'CaseWhen' in w && isShippable(w.CaseWhen.expr) && isShippable(w.CaseWhen.result));
  }
  if ('FuncCall' in node) {
    const f = node.FuncCall;
    const names = (f.funcname ?? []).map(stringOf);
    const schemaOk = names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog');
    return schemaOk && SHIPPABLE_FUNCTIONS.has(names[names.length - 1]) && !f.over && !f.agg_star && !f.agg_distinct && !f.agg_filter && !f.agg_order && all(f.args);
  }
  return false;
}
