// OIDs of catalog objects as clients see them, and the DDL text functions
// (pg_get_indexdef, pg_get_constraintdef, pg_get_viewdef) built from descriptors.
import { parseSync, scanSync, type Node, type TypeName } from 'libpg-query';
import type { Catalog, Relation } from '../catalog';
import { OID_BASE, type IndexDesc, type TableDesc, type ViewDesc } from '../descriptors';
import { typeByOid, typeDisplayName, typeFromName, typeOid, type SqlType } from '../../types/types';
import { fromText, toText } from '../../types/values';
import { allSystemViews } from './registry';
import { S, sqlError } from '../../errors';
import { quoteIdent } from '../../functions/string';
import type { SessionInfo } from '../../runtime';

export const relOid = (id: number): number => id + OID_BASE;
export const indexOid = (table: TableDesc, idx: IndexDesc): number => 1_000_000 + table.id * 64 + idx.id;
export const checkOid = (table: TableDesc, i: number): number => 2_000_000 + table.id * 64 + i;
export const fkOid = (table: TableDesc, i: number): number => 3_000_000 + table.id * 64 + i;
export const schemaOid = (id: number): number => (id < 100 ? id : id + OID_BASE);
export const PUBLIC_OID_NOTE = 'public schema OIDs are descriptor ids + 16384';

export function findIndexByOid(catalog: Catalog, oid: number): { table: TableDesc; index: IndexDesc } | undefined {
  const tableId = Math.floor((oid - 1_000_000) / 64);
  const t = catalog.byId.get(tableId);
  if (t?.kind !== 'table') return undefined;
  const index = [t.primary, ...t.indexes].find((i) => indexOid(t, i) === oid);
  return index ? { table: t, index } : undefined;
}

const colName = (t: TableDesc, id: number): string => quoteIdent(t.columns.find((c) => c.id === id)?.name ?? '?');

export function indexDef(catalog: Catalog, t: TableDesc, idx: IndexDesc): string {
  const schema = catalog.schemaName(t.schemaId);
  const cols = idx.columns.map((id, i) => `${colName(t, id)}${idx.directions[i] === 'desc' ? ' DESC' : ''}`).join(', ');
  const where = idx.predicate ? ` WHERE ${indexPredicate(idx, t)}` : '';
  return `CREATE ${idx.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(idx.name)} ON ${quoteIdent(schema)}.${quoteIdent(t.name)} USING btree (${cols})${where}`;
}

/** A partial index's predicate as pg_get_expr(indpred) prints it (parenthesised), else null. */
export function indexPredicate(idx: IndexDesc, table?: TableDesc): string | null {
  if (!idx.predicate) return null;
  const d = deparse(idx.predicate, undefined, table && columnTypes(table));
  return d.startsWith('(') && d.endsWith(')') ? d : `(${d})`;
}

/**
 * Renders a relation name as PostgreSQL's deparser does: schema-qualified unless its schema is
 * on the session's search_path (pg_dump sets search_path to '' so its output names every
 * object fully, and a restore resolves them without a search path).
 */
export type RelationNamer = (name: string) => string;

export function relationNamer(catalog: Catalog, session: SessionInfo): RelationNamer {
  return (name) => {
    const parts = name.split('.').map((p) => p.replace(/^"(.*)"$/, '$1'));
    if (parts.length > 1) return parts.map(quoteIdent).join('.');
    const rel = findRelation(catalog, session, undefined, parts[0]);
    if (!rel) return quoteIdent(parts[0]);
    const schema = catalog.schemaName(rel.schemaId);
    return session.searchPath.includes(schema) ? quoteIdent(rel.name) : `${quoteIdent(schema)}.${quoteIdent(rel.name)}`;
  };
}

/**
 * The relation an unqualified name stands for in a stored definition (a view's FROM, a
 * default's nextval): the session's search_path first, then the database's other schemas in
 * id order, so a definition still names its relation under pg_dump's empty search_path.
 */
export function findRelation(catalog: Catalog, session: SessionInfo, schemaName: string | undefined, name: string): Relation | undefined {
  if (schemaName !== undefined) {
    const s = catalog.schema(session.databaseId, schemaName);
    return s ? catalog.relation(s.id, name) : undefined;
  }
  const schemas = catalog.schemasOf(session.databaseId).sort((a, b) => a.id - b.id);
  const ordered = [...session.searchPath.map((n) => schemas.find((s) => s.name === n)).filter((s) => s !== undefined), ...schemas];
  for (const s of ordered) {
    const r = catalog.relation(s.id, name);
    if (r) return r;
  }
  return undefined;
}

/**
 * The OID of the index `name` ('ix'::regclass, as pg_get_indexdef('ix'::regclass) needs):
 * indexes are relations in PostgreSQL, looked up like tables along the search path. A hidden
 * row id key is not an index PostgreSQL would have.
 */
export function findIndexOid(catalog: Catalog, session: SessionInfo, schemaName: string | undefined, name: string): number | undefined {
  const schemas = catalog.schemasOf(session.databaseId).sort((a, b) => a.id - b.id);
  const ordered = schemaName !== undefined ? schemas.filter((s) => s.name === schemaName) : [...session.searchPath.map((n) => schemas.find((s) => s.name === n)).filter((s) => s !== undefined), ...schemas];
  for (const s of ordered) {
    for (const r of catalog.relationsOf(session.databaseId)) {
      if (r.kind !== 'table' || r.schemaId !== s.id) continue;
      const hidden = r.columns.some((c) => c.hidden);
      const idx = [...(hidden ? [] : [r.primary]), ...r.indexes].find((i) => i.name === name);
      if (idx) return indexOid(r, idx);
    }
  }
  return undefined;
}

/** The sequences a default expression calls nextval() on (by name, as written). */
export function nextvalTargets(n: unknown, out: string[] = []): string[] {
  if (Array.isArray(n)) {
    for (const x of n) nextvalTargets(x, out);
    return out;
  }
  if (n === null || typeof n !== 'object') return out;
  const fc = (n as { FuncCall?: { funcname?: Node[]; args?: Node[] } }).FuncCall;
  if (fc) {
    const fname = (fc.funcname ?? []).map((x) => ('String' in x ? x.String.sval : '')).pop();
    const arg = seqNameArg(fc.args?.[0]);
    if (fname === 'nextval' && arg !== undefined) out.push(arg);
  }
  for (const v of Object.values(n)) nextvalTargets(v, out);
  return out;
}

/** The string constant (optionally cast to regclass) a sequence function names its sequence by. */
function seqNameArg(a: Node | undefined): string | undefined {
  if (!a) return undefined;
  if ('A_Const' in a) return a.A_Const.sval?.sval;
  if ('TypeCast' in a) {
    const names = (a.TypeCast.typeName?.names ?? []).map((x) => ('String' in x ? x.String.sval : ''));
    if (names[names.length - 1] === 'regclass') return seqNameArg(a.TypeCast.arg);
  }
  return undefined;
}

/**
 * A cast's type as format_type() prints it (`::integer`, `::character varying(10)`, `::bpchar`):
 * the parser spells `integer` as pg_catalog.int4, and a copy restored from a dump must print the
 * same text again. Names Weft does not know print as written.
 */
function castTypeName(tn: TypeName | undefined, names: readonly (string | undefined)[]): string {
  const mods = (tn?.typmods ?? []).map((m) => ('A_Const' in m ? (m.A_Const.ival?.ival ?? 0) : NaN));
  const dims = tn?.arrayBounds?.length ?? 0;
  if (names.length !== 1 || mods.some((m) => Number.isNaN(m))) return names.join('.');
  try {
    const type = typeFromName(names[0] ?? '', mods, dims);
    const base = dims > 0 ? type.elem : type;
    if (base?.kind === 'bpchar' && base.typmod < 0) return `bpchar${'[]'.repeat(dims)}`;
    return typeDisplayName(type);
  } catch {
    return names.join('.');
  }
}

/**
 * pg_get_constraintdef(oid, true) (SQLAlchemy reflects CHECKs so): PostgreSQL's pretty mode
 * drops the parentheses precedence does not need. Done here for the common CHECK of one
 * comparison (`CHECK (score >= 0::numeric)`); other shapes keep the full parentheses.
 */
function prettyCheck(def: string): string {
  const m = /^CHECK \(\((.*)\)\)$/.exec(def);
  if (!m) return def;
  const body = m[1];
  // One comparison: no parenthesis left at depth 0 around an AND/OR/NOT.
  if (/\b(AND|OR|NOT|IN|ANY|ALL)\b/.test(body.replace(/'[^']*'/g, "''"))) return def;
  const simple = String.raw`(?:[A-Za-z_][\w$]*|'(?:[^']|'')*'(?:::[a-z ]+)?|\d+(?:\.\d+)?)`;
  const pretty = body.replace(new RegExp(String.raw`\((${simple})\)::`, 'g'), '$1::');
  return `CHECK (${pretty})`;
}

/** A table's column types by name, for deparsing its CHECKs and index predicates. */
export type ColumnTypes = (name: string) => SqlType | undefined;

export const columnTypes = (t: TableDesc): ColumnTypes => (name) => t.columns.find((c) => c.name === name && !c.hidden)?.type;

/**
 * `col op constant` as PostgreSQL prints it after coercing the constant to the operator's input
 * type (what pg_get_constraintdef and pg_get_indexdef show, and what SQLAlchemy reflects): a
 * string literal becomes a labelled constant of the column's type ('x'::text, with a varchar
 * column compared as (c)::text); an integer meeting a numeric or float column gets PostgreSQL's
 * implicit cast, (0)::numeric. Undefined for any other shape (printed as written).
 */
function typedComparison(l: Node | undefined, op: string, r: Node | undefined, columns: ColumnTypes, deparse1: (x: Node | undefined) => string): string | undefined {
  if (!l || !r || !['=', '<>', '!=', '<', '<=', '>', '>='].includes(op)) return undefined;
  const colName = (x: Node): string | undefined => {
    if (!('ColumnRef' in x)) return undefined;
    const f = x.ColumnRef.fields ?? [];
    return f.length === 1 && 'String' in f[0] ? f[0].String.sval : undefined;
  };
  const lc = colName(l);
  const rc = colName(r);
  const colSide = lc !== undefined && 'A_Const' in r ? 'left' : rc !== undefined && 'A_Const' in l ? 'right' : undefined;
  if (!colSide) return undefined;
  const col = (colSide === 'left' ? lc : rc) as string;
  const k = (colSide === 'left' ? r : l) as { A_Const: import('libpg-query').A_Const };
  const type = columns(col);
  if (!type || k.A_Const.isnull) return undefined;
  let colText = col;
  let constText: string | undefined;
  if (k.A_Const.sval) {
    // varchar/bpchar compare as text in PostgreSQL: the column gets the cast.
    const cmp: SqlType = type.kind === 'varchar' ? { kind: 'text', typmod: -1 } : type;
    if (type.kind === 'varchar') colText = `(${col})::text`;
    constText = columnDefault(k, undefined, cmp) ?? undefined;
  } else if ((k.A_Const.ival || k.A_Const.fval) && (type.kind === 'numeric' || type.kind === 'float4' || type.kind === 'float8')) {
    const lit = deparse1(k);
    const isInt = !!k.A_Const.ival || /^-?\d+$/.test(k.A_Const.fval?.fval ?? '');
    if (type.kind === 'numeric' && !isInt) return undefined; // a numeric literal is already numeric
    constText = `(${lit})::${typeDisplayName({ ...type, typmod: -1 })}`;
  }
  if (constText === undefined) return undefined;
  return colSide === 'left' ? `(${colText} ${op} ${constText})` : `(${constText} ${op} ${colText})`;
}

/** A readable SQL rendering of a stored expression tree (defaults, checks). */
export function deparse(n: Node | undefined, namer?: RelationNamer, columns?: ColumnTypes): string {
  if (!n) return '';
  const deparse1 = (x: Node | undefined): string => deparse(x, namer, columns);
  if ('A_Const' in n) {
    const c = n.A_Const;
    if (c.isnull) return 'NULL';
    // As PostgreSQL's deparser prints constants: a negative integer is quoted and labelled
    // (-1 is one int4 constant), an integral literal beyond int4 is a bigint (or numeric).
    if (c.ival) return constLiteral(String(c.ival.ival ?? 0), 'integer');
    if (c.fval) {
      const v = c.fval.fval ?? '0';
      if (/^-?\d+$/.test(v)) return constLiteral(v, BigInt(v) >= -(2n ** 63n) && BigInt(v) < 2n ** 63n ? 'bigint' : 'numeric');
      return constLiteral(v, 'numeric');
    }
    if (c.boolval) return c.boolval.boolval ? 'true' : 'false';
    if (c.sval) return `'${(c.sval.sval ?? '').replace(/'/g, "''")}'`;
    return 'NULL';
  }
  if ('ColumnRef' in n) return (n.ColumnRef.fields ?? []).map((f) => ('String' in f ? f.String.sval : '*')).join('.');
  if ('TypeCast' in n) {
    const names = (n.TypeCast.typeName?.names ?? []).map((x) => ('String' in x ? x.String.sval : '')).filter((x) => x !== 'pg_catalog');
    // A cast of anything but a string literal is parenthesised, as the deparser prints a cast
    // it applied: (c)::text, (0)::numeric, ('-1000'::integer)::numeric; 'x'::text stays bare.
    const arg = n.TypeCast.arg;
    const inner = deparse1(arg);
    const bare = arg && 'A_Const' in arg && arg.A_Const.sval !== undefined;
    const wrapped = !bare && !(inner.startsWith('(') && inner.endsWith(')')) ? `(${inner})` : inner;
    return `${wrapped}::${castTypeName(n.TypeCast.typeName, names)}`;
  }
  if ('FuncCall' in n) {
    const name = (n.FuncCall.funcname ?? []).map((x) => ('String' in x ? x.String.sval : '')).join('.');
    // A sequence function's argument is a regclass: PostgreSQL prints it as a (qualified) cast.
    const seqArg = ['nextval', 'currval', 'setval'].includes(name) ? seqNameArg(n.FuncCall.args?.[0]) : undefined;
    if (seqArg !== undefined && namer) {
      const rest = (n.FuncCall.args ?? []).slice(1).map(deparse1);
      return `${name}(${[`'${namer(seqArg).replace(/'/g, "''")}'::regclass`, ...rest].join(', ')})`;
    }
    return `${name}(${n.FuncCall.agg_star ? '*' : (n.FuncCall.args ?? []).map(deparse1).join(', ')})`;
  }
  if ('A_Expr' in n) {
    const op = (n.A_Expr.name ?? []).map((x) => ('String' in x ? x.String.sval : '')).join('');
    const typed = columns && n.A_Expr.kind === 'AEXPR_OP' ? typedComparison(n.A_Expr.lexpr, op, n.A_Expr.rexpr, columns, deparse1) : undefined;
    if (typed !== undefined) return typed;
    if (n.A_Expr.kind === 'AEXPR_IN') return `(${deparse1(n.A_Expr.lexpr)} IN (${('List' in (n.A_Expr.rexpr ?? {}) ? ((n.A_Expr.rexpr as { List: { items?: Node[] } }).List.items ?? []) : []).map(deparse1).join(', ')}))`;
    return n.A_Expr.lexpr ? `(${deparse1(n.A_Expr.lexpr)} ${op} ${deparse1(n.A_Expr.rexpr)})` : `(${op}${deparse1(n.A_Expr.rexpr)})`;
  }
  if ('BoolExpr' in n) {
    const args = (n.BoolExpr.args ?? []).map(deparse1);
    if (n.BoolExpr.boolop === 'NOT_EXPR') return `(NOT ${args[0]})`;
    return `(${args.join(n.BoolExpr.boolop === 'AND_EXPR' ? ' AND ' : ' OR ')})`;
  }
  if ('NullTest' in n) return `(${deparse1(n.NullTest.arg)} IS ${n.NullTest.nulltesttype === 'IS_NULL' ? '' : 'NOT '}NULL)`;
  if ('SQLValueFunction' in n) {
    const map: Record<string, string> = { SVFOP_CURRENT_TIMESTAMP: 'CURRENT_TIMESTAMP', SVFOP_CURRENT_DATE: 'CURRENT_DATE', SVFOP_CURRENT_USER: 'CURRENT_USER', SVFOP_LOCALTIMESTAMP: 'LOCALTIMESTAMP' };
    return map[n.SQLValueFunction.op ?? ''] ?? 'CURRENT_TIMESTAMP';
  }
  return '?';
}

export function constraintDef(catalog: Catalog, oid: number, session?: SessionInfo): string | null {
  const found = findIndexByOid(catalog, oid);
  if (found) {
    const { table, index } = found;
    return `${index.primary ? 'PRIMARY KEY' : 'UNIQUE'} (${index.columns.map((id) => colName(table, id)).join(', ')})`;
  }
  for (const d of catalog.byId.values()) {
    if (d.kind !== 'table') continue;
    for (const [i, ch] of d.checks.entries()) if (checkOid(d, i) === oid) return `CHECK (${deparse(ch.expr, session && relationNamer(catalog, session), columnTypes(d))})`;
    for (const [i, fk] of (d.foreignKeys ?? []).entries()) {
      if (fkOid(d, i) === oid) {
        const ref = catalog.byId.get(fk.refTableId);
        const refName = ref?.kind === 'table' ? qualifiedName(catalog, session, ref) : '?';
        const refCols = ref?.kind === 'table' ? fk.refColumns.map((id) => colName(ref, id)).join(', ') : '';
        // As pg_get_constraintdef: MATCH FULL, then the non-default actions.
        const action = (a: string | undefined): string => ({ r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' })[a ?? 'a'] ?? '';
        const tail = [fk.matchType === 'f' ? ' MATCH FULL' : '', action(fk.onUpdate) ? ` ON UPDATE ${action(fk.onUpdate)}` : '', action(fk.onDelete) ? ` ON DELETE ${action(fk.onDelete)}` : ''].join('');
        return `FOREIGN KEY (${fk.columns.map((id) => (id < 0 ? '?' : colName(d, id))).join(', ')}) REFERENCES ${refName}(${refCols})${tail}`;
      }
    }
  }
  return null;
}

/**
 * A column default as pg_get_expr prints it. PostgreSQL stores the default coerced to the column
 * type, so a bare string literal comes back as a constant of that type: normalised by the type's
 * input and output functions and labelled ('x'::text, '1'::numeric, '2024-01-01'::date), except
 * the types whose constants print bare (non-negative integers, decimals with a point, booleans).
 * A NULL default is no default (PostgreSQL stores none). `type` is the column's type.
 */
export function columnDefault(n: Node | undefined, namer?: RelationNamer, type?: SqlType): string | null {
  if (!hasDefault(n)) return null;
  const sval = 'A_Const' in n ? n.A_Const.sval : undefined;
  if (sval && type && type.kind !== 'unknown') {
    const untyped: SqlType = { ...type, typmod: -1 };
    let text: string;
    try {
      text = toText(fromText(sval.sval ?? '', untyped), untyped);
    } catch {
      // Not valid for the column type (the INSERT using it will fail): print it as written.
      return deparse(n, namer);
    }
    if (type.kind === 'bool') return text === 't' ? 'true' : 'false';
    const label = type.kind === 'bpchar' ? 'bpchar' : type.kind === 'array' && type.elem?.kind === 'bpchar' ? 'bpchar[]' : typeDisplayName(untyped);
    if (type.kind === 'int4') return constLiteral(text, label);
    if (type.kind === 'numeric' && /^\d/.test(text) && /[.eE]/.test(text)) return text;
    return `'${text.replace(/'/g, "''")}'::${label}`;
  }
  return deparse(n, namer);
}

/** Whether a column has a default as PostgreSQL records one (DEFAULT NULL is none). */
export function hasDefault(n: Node | undefined): n is Node {
  return n !== undefined && !('A_Const' in n && n.A_Const.isnull);
}

/** A numeric constant as the deparser prints it: bare when non-negative int4 or decimal, else quoted and labelled. */
function constLiteral(text: string, label: string): string {
  const bare = label === 'integer' ? !text.startsWith('-') : label === 'numeric' ? /^\d/.test(text) && /[.eE]/.test(text) : false;
  return bare ? text : `'${text}'::${label}`;
}

/** A relation's name as the deparser prints it for this session (see relationNamer). */
function qualifiedName(catalog: Catalog, session: SessionInfo | undefined, rel: Relation): string {
  const schema = catalog.schemaName(rel.schemaId);
  return !session || session.searchPath.includes(schema) ? quoteIdent(rel.name) : `${quoteIdent(schema)}.${quoteIdent(rel.name)}`;
}

/** The RangeVars of a view's query, with the CTE names it defines (those are not relations). */
function viewRangeVars(query: unknown): { ranges: { schemaname?: string; relname: string; location: number }[]; ctes: Set<string> } {
  const ranges: { schemaname?: string; relname: string; location: number }[] = [];
  const ctes = new Set<string>();
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (n === null || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    const rv = o.RangeVar as { schemaname?: string; relname?: string; location?: number } | undefined;
    if (rv?.relname !== undefined) ranges.push({ schemaname: rv.schemaname, relname: rv.relname, location: rv.location ?? -1 });
    const cte = o.CommonTableExpr as { ctename?: string } | undefined;
    if (cte?.ctename) ctes.add(cte.ctename);
    for (const v of Object.values(o)) walk(v);
  };
  walk(query);
  return { ranges, ctes };
}

/** The relations a view reads (pg_depend rows, so pg_dump creates them before the view). */
export function viewDependencies(catalog: Catalog, session: SessionInfo, v: ViewDesc): Relation[] {
  const { ranges, ctes } = viewRangeVars(v.query);
  const out = new Map<number, Relation>();
  for (const r of ranges) {
    if (r.schemaname === undefined && ctes.has(r.relname)) continue;
    const rel = findRelation(catalog, session, r.schemaname, r.relname);
    if (rel && rel.id !== v.id) out.set(rel.id, rel);
  }
  return [...out.values()];
}

/**
 * pg_get_viewdef: the view's query as written (after CREATE VIEW ... AS), its relation names
 * qualified as the session needs them, ending in ';' as PostgreSQL's does (pg_dump strips it).
 * The text is edited at the parser's byte locations of each relation reference, so the rest
 * of the query stays exactly as the user wrote it.
 */
export function viewDefinition(catalog: Catalog, session: SessionInfo, v: ViewDesc): string {
  const text = Buffer.from(v.sql, 'utf8');
  let stmt: unknown;
  let asEnd: number;
  try {
    stmt = parseSync(v.sql).stmts?.[0]?.stmt;
    // The first AS keyword ends the CREATE VIEW header (a column list or WITH options have none).
    const as = scanSync(v.sql).tokens.find((tk) => tk.text.toUpperCase() === 'AS' && tk.keywordKind > 0);
    asEnd = as ? as.end : -1;
  } catch {
    return v.sql;
  }
  const view = (stmt as { ViewStmt?: { query?: unknown; aliases?: Node[] } } | undefined)?.ViewStmt;
  if (!view || asEnd < 0) return v.sql;
  const { ranges, ctes } = viewRangeVars(view.query);
  const edits: { at: number; insert: string }[] = [];
  for (const r of ranges) {
    if (r.schemaname !== undefined || r.location < asEnd || ctes.has(r.relname)) continue;
    const rel = findRelation(catalog, session, undefined, r.relname);
    if (!rel) continue;
    const schema = catalog.schemaName(rel.schemaId);
    if (!session.searchPath.includes(schema)) edits.push({ at: r.location, insert: `${quoteIdent(schema)}.` });
  }
  edits.sort((a, b) => a.at - b.at);
  const parts: Buffer[] = [];
  let last = asEnd;
  for (const e of edits) {
    parts.push(text.subarray(last, e.at), Buffer.from(e.insert, 'utf8'));
    last = e.at;
  }
  parts.push(text.subarray(last));
  const body = Buffer.concat(parts).toString('utf8').trim().replace(/;\s*$/, '');
  // CREATE VIEW v (a, b) AS ...: the column names are part of the definition (PostgreSQL's
  // deparser writes them as output aliases); a subquery with a column alias list keeps them.
  const aliases = (view.aliases ?? []).map((a) => ('String' in a ? quoteIdent(a.String.sval ?? '') : ''));
  if (aliases.length > 0) return ` SELECT * FROM (${body}) ${quoteIdent(v.name)}(${aliases.join(', ')});`;
  return ` ${body};`;
}

export { typeDisplayName };

/** Backs pg_get_indexdef / pg_get_constraintdef / pg_get_viewdef / pg_get_serial_sequence. */
export function describeObject(catalog: Catalog, session: SessionInfo, what: 'indexdef' | 'indexcolumn' | 'constraintdef' | 'constraintdef_pretty' | 'viewdef' | 'serial_sequence', oid: number, column?: string): string | null {
  switch (what) {
    case 'indexcolumn': {
      const f = findIndexByOid(catalog, oid);
      const id = f?.index.columns[Number(column) - 1];
      return f && id !== undefined ? colName(f.table, id) : null;
    }
    case 'indexdef': {
      const f = findIndexByOid(catalog, oid);
      return f ? indexDef(catalog, f.table, f.index) : null;
    }
    case 'constraintdef':
      return constraintDef(catalog, oid, session);
    case 'constraintdef_pretty': {
      const def = constraintDef(catalog, oid, session);
      return def === null ? null : prettyCheck(def);
    }
    case 'viewdef': {
      const v = catalog.byId.get(oid - OID_BASE);
      return v?.kind === 'view' ? viewDefinition(catalog, session, v) : null;
    }
    case 'serial_sequence': {
      const tbl = catalog.byId.get(oid - OID_BASE);
      if (tbl?.kind !== 'table') return null;
      const col = tbl.columns.find((c) => c.name === column);
      if (!col) return null;
      for (const r of catalog.relationsOf(session.databaseId)) {
        if (r.kind === 'sequence' && r.ownedBy?.tableId === tbl.id && r.ownedBy.columnId === col.id) return `${catalog.schemaName(r.schemaId)}.${r.name}`;
      }
      return null;
    }
  }
}

/** reg* output: the name an OID stands for (the number itself when unknown, as Postgres prints). */
export function regName(catalog: Catalog, kind: string, oid: number, session?: SessionInfo): string {
  switch (kind) {
    case 'regclass': {
      const d = catalog.byId.get(oid - OID_BASE);
      // Qualified when its schema is not on the search path, as PostgreSQL prints a regclass.
      if (d && 'name' in d && d.kind !== 'database' && d.kind !== 'schema' && d.kind !== 'type') return session ? qualifiedName(catalog, session, d) : d.name;
      const view = allSystemViews().find((v) => v.oid === oid);
      if (view) return view.name;
      for (const t of catalog.byId.values()) {
        if (t.kind !== 'table') continue;
        const idx = [t.primary, ...t.indexes].find((i) => indexOid(t, i) === oid);
        if (idx) return idx.name;
      }
      return String(oid);
    }
    case 'regtype': {
      const type = typeByOid(oid) ?? catalog.typeByOid(oid);
      return type ? typeDisplayName(type) : String(oid);
    }
    case 'regnamespace': {
      if (oid === 11) return 'pg_catalog';
      if (oid === 13) return 'information_schema';
      const d = catalog.byId.get(oid - OID_BASE);
      return d?.kind === 'schema' ? d.name : String(oid);
    }
    case 'regrole':
      // 6171: pg_database_owner, the public schema's owner (as in PostgreSQL 15).
      return oid === 10 ? 'weft' : oid === 6171 ? 'pg_database_owner' : String(oid);
    default:
      return oid === 0 ? '-' : String(oid);
  }
}

export function regOid(catalog: Catalog, session: SessionInfo, kind: string, name: string): number {
  switch (kind) {
    case 'regtype': {
      const bare = name.replace(/"/g, '').replace(/^pg_catalog\./, '').trim().toLowerCase();
      const arr = /^_(.*)$/.exec(bare) ?? /^(.*)\[\]$/.exec(bare);
      return typeOid(arr ? typeFromName(arr[1], [], 1) : typeFromName(bare));
    }
    case 'regnamespace': {
      if (name === 'pg_catalog') return 11;
      if (name === 'information_schema') return 13;
      const s = catalog.schema(session.databaseId, name);
      if (!s) throw sqlError(S.UNDEFINED_SCHEMA, `schema "${name}" does not exist`);
      return s.id + OID_BASE;
    }
    case 'regrole':
      return name.replace(/"/g, '') === 'pg_database_owner' ? 6171 : 10;
    default:
      return 0;
  }
}
