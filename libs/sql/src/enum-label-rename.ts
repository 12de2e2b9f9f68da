// ALTER TYPE ... RENAME VALUE in stored expressions. PostgreSQL stores CHECK constraints, index
// predicates, defaults and view queries analysed, with enum constants as label OIDs, so they
// follow a rename. Weft stores them as parse trees with the label as a string literal. Left as
// is, `CHECK (status <> 'cancelled')` named a label that no longer existed after the rename, and
// every INSERT into the table failed with 22P02 (a view over it as well).
//
// This rewrites the literals that stand for a label of the renamed type: a string constant cast
// to the type (`'x'::t`), and one compared with a column of the type (`=`, `<>`, `<`, ..., `IN
// (...)`, `= ANY (ARRAY[...])`, on either side). A literal the expression compares with something
// else is left alone. `'x'::t` and a comparison with a column of the type are how such constants
// are written; an enum constant reached any other way (a CASE result, a function argument) is
// not recognised.
import type { Node, TypeName } from 'libpg-query';

export interface LabelRename {
  readonly from: string;
  readonly to: string;
  /** The enum type's name, and its schema's (for `'x'::schema.t`). */
  readonly typeName: string;
  readonly schemaName: string;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * `node` with every literal of the renamed label rewritten where it stands for the enum value.
 * `enumColumn(fields)` says whether a column reference (its dotted names) is a column of the
 * type. Returns the same object when nothing changed.
 */
export function renameEnumLabel(node: Node, r: LabelRename, enumColumn: (fields: readonly string[]) => boolean): { node: Node; changed: number } {
  let changed = 0;
  const relabel = (n: unknown): unknown => {
    if (!isObj(n) || !isObj(n.A_Const)) return n;
    const c = n.A_Const;
    if (!isObj(c.sval) || c.sval.sval !== r.from) return n;
    changed++;
    return { A_Const: { ...c, sval: { ...c.sval, sval: r.to } } };
  };
  const isEnumColumn = (n: unknown): boolean => {
    if (!isObj(n) || !isObj(n.ColumnRef)) return false;
    const fields = (Array.isArray(n.ColumnRef.fields) ? n.ColumnRef.fields : []).map((f) => (isObj(f) && isObj(f.String) ? String(f.String.sval) : '*'));
    return enumColumn(fields);
  };
  /** The operand compared with an enum column: a literal, a list of them (IN), or an ARRAY[...] of them (ANY/ALL). */
  const relabelAll = (items: readonly unknown[]): unknown[] | undefined => {
    const out = items.map(relabel);
    return out.some((x, i) => x !== items[i]) ? out : undefined;
  };
  const relabelOperand = (n: unknown): unknown => {
    if (isObj(n) && isObj(n.List) && Array.isArray(n.List.items)) {
      const items = relabelAll(n.List.items);
      return items === undefined ? n : { List: { ...n.List, items } };
    }
    if (isObj(n) && isObj(n.A_ArrayExpr) && Array.isArray(n.A_ArrayExpr.elements)) {
      const elements = relabelAll(n.A_ArrayExpr.elements);
      return elements === undefined ? n : { A_ArrayExpr: { ...n.A_ArrayExpr, elements } };
    }
    return relabel(n);
  };
  /** A one-dimensional array literal '{a,"b c",...}' with the renamed label's element rewritten. */
  const relabelArrayLiteral = (n: unknown): unknown => {
    if (!isObj(n) || !isObj(n.A_Const) || !isObj(n.A_Const.sval) || typeof n.A_Const.sval.sval !== 'string') return n;
    const text = n.A_Const.sval.sval;
    const m = /^\{(.*)\}$/s.exec(text);
    if (m === null) return n;
    const unquote = (e: string): string => (e.startsWith('"') && e.endsWith('"') ? e.slice(1, -1).replace(/\\(.)/g, '$1') : e.trim());
    const elements = m[1] === '' ? [] : m[1].split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/);
    if (!elements.some((e) => unquote(e) === r.from)) return n;
    changed++;
    const quote = (e: string): string => `"${e.replace(/(["\\])/g, '\\$1')}"`;
    const out = `{${elements.map((e) => (unquote(e) === r.from ? quote(r.to) : e)).join(',')}}`;
    return { A_Const: { ...n.A_Const, sval: { ...n.A_Const.sval, sval: out } } };
  };
  const walk = (n: unknown): unknown => {
    if (Array.isArray(n)) {
      const out = n.map(walk);
      return out.some((x, i) => x !== n[i]) ? out : n;
    }
    if (!isObj(n)) return n;
    if (isObj(n.TypeCast)) {
      const cast = namesType(n.TypeCast.typeName, r);
      // 'x'::t; ARRAY['x', ...]::t[] and '{x,...}'::t[]
      const arg = cast === 'enum' ? relabel(n.TypeCast.arg) : cast === 'array' ? relabelOperand(relabelArrayLiteral(n.TypeCast.arg)) : n.TypeCast.arg;
      if (arg !== n.TypeCast.arg) return { TypeCast: { ...n.TypeCast, arg } };
    }
    let out: Json = n;
    if (isObj(n.A_Expr)) {
      const e = n.A_Expr;
      const compares = ['AEXPR_OP', 'AEXPR_IN', 'AEXPR_OP_ANY', 'AEXPR_OP_ALL', 'AEXPR_DISTINCT', 'AEXPR_NOT_DISTINCT', 'AEXPR_NULLIF'].includes(String(e.kind));
      // = ANY ('{a,b}'): the operand is an array literal of labels.
      const arrayOperand = e.kind === 'AEXPR_OP_ANY' || e.kind === 'AEXPR_OP_ALL';
      if (compares && isEnumColumn(e.lexpr)) {
        const rexpr = relabelOperand(arrayOperand ? relabelArrayLiteral(e.rexpr) : e.rexpr);
        if (rexpr !== e.rexpr) out = { A_Expr: { ...e, rexpr } };
      } else if (compares && isEnumColumn(e.rexpr)) {
        const lexpr = relabelOperand(e.lexpr);
        if (lexpr !== e.lexpr) out = { A_Expr: { ...e, lexpr } };
      }
    }
    let copied = out !== n;
    for (const [k, v] of Object.entries(out)) {
      const w = walk(v);
      if (w === v) continue;
      if (!copied) {
        out = { ...out };
        copied = true;
      }
      out[k] = w;
    }
    return out;
  };
  const result = walk(node) as Node;
  return { node: result, changed };
}

/** Whether a cast's type name is the renamed enum type (bare or schema-qualified), or an array of it. */
function namesType(tn: unknown, r: LabelRename): 'enum' | 'array' | undefined {
  if (!isObj(tn)) return undefined;
  const t = tn as TypeName;
  const names = (t.names ?? []).map((x) => (isObj(x) && 'String' in x ? String(x.String.sval) : ''));
  const named = (names.length === 1 && names[0] === r.typeName) || (names.length === 2 && names[0] === r.schemaName && names[1] === r.typeName);
  if (!named) return undefined;
  return (t.arrayBounds ?? []).length === 0 ? 'enum' : (t.arrayBounds ?? []).length === 1 ? 'array' : undefined;
}

/** A view's SQL text with the renamed label's literal rewritten (what pg_get_viewdef and pg_dump show). */
export function renameLabelInText(sql: string, r: LabelRename): string {
  const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;
  return sql.split(quote(r.from)).join(quote(r.to));
}
