// OIDs of catalog objects as clients see them, and the DDL text functions
// (pg_get_indexdef, pg_get_constraintdef, pg_get_viewdef) built from descriptors.
import type { Node } from 'libpg-query';
import type { Catalog } from '../catalog';
import { OID_BASE, type IndexDesc, type TableDesc } from '../descriptors';
import { typeByOid, typeDisplayName, typeFromName, typeOid } from '../../types/types';
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
  return `CREATE ${idx.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(idx.name)} ON ${quoteIdent(schema)}.${quoteIdent(t.name)} USING btree (${cols})`;
}

/** A readable SQL rendering of a stored expression tree (defaults, checks). */
export function deparse(n: Node | undefined): string {
  if (!n) return '';
  if ('A_Const' in n) {
    const c = n.A_Const;
    if (c.isnull) return 'NULL';
    if (c.ival) return String(c.ival.ival ?? 0);
    if (c.fval) return c.fval.fval ?? '0';
    if (c.boolval) return c.boolval.boolval ? 'true' : 'false';
    if (c.sval) return `'${(c.sval.sval ?? '').replace(/'/g, "''")}'`;
    return 'NULL';
  }
  if ('ColumnRef' in n) return (n.ColumnRef.fields ?? []).map((f) => ('String' in f ? f.String.sval : '*')).join('.');
  if ('TypeCast' in n) {
    const names = (n.TypeCast.typeName?.names ?? []).map((x) => ('String' in x ? x.String.sval : '')).filter((x) => x !== 'pg_catalog');
    return `${deparse(n.TypeCast.arg)}::${names.join('.')}`;
  }
  if ('FuncCall' in n) {
    const name = (n.FuncCall.funcname ?? []).map((x) => ('String' in x ? x.String.sval : '')).join('.');
    return `${name}(${n.FuncCall.agg_star ? '*' : (n.FuncCall.args ?? []).map(deparse).join(', ')})`;
  }
  if ('A_Expr' in n) {
    const op = (n.A_Expr.name ?? []).map((x) => ('String' in x ? x.String.sval : '')).join('');
    if (n.A_Expr.kind === 'AEXPR_IN') return `(${deparse(n.A_Expr.lexpr)} IN (${('List' in (n.A_Expr.rexpr ?? {}) ? ((n.A_Expr.rexpr as { List: { items?: Node[] } }).List.items ?? []) : []).map(deparse).join(', ')}))`;
    return n.A_Expr.lexpr ? `(${deparse(n.A_Expr.lexpr)} ${op} ${deparse(n.A_Expr.rexpr)})` : `(${op}${deparse(n.A_Expr.rexpr)})`;
  }
  if ('BoolExpr' in n) {
    const args = (n.BoolExpr.args ?? []).map(deparse);
    if (n.BoolExpr.boolop === 'NOT_EXPR') return `(NOT ${args[0]})`;
    return `(${args.join(n.BoolExpr.boolop === 'AND_EXPR' ? ' AND ' : ' OR ')})`;
  }
  if ('NullTest' in n) return `(${deparse(n.NullTest.arg)} IS ${n.NullTest.nulltesttype === 'IS_NULL' ? '' : 'NOT '}NULL)`;
  if ('SQLValueFunction' in n) {
    const map: Record<string, string> = { SVFOP_CURRENT_TIMESTAMP: 'CURRENT_TIMESTAMP', SVFOP_CURRENT_DATE: 'CURRENT_DATE', SVFOP_CURRENT_USER: 'CURRENT_USER', SVFOP_LOCALTIMESTAMP: 'LOCALTIMESTAMP' };
    return map[n.SQLValueFunction.op ?? ''] ?? 'CURRENT_TIMESTAMP';
  }
  return '?';
}

export function constraintDef(catalog: Catalog, oid: number): string | null {
  const found = findIndexByOid(catalog, oid);
  if (found) {
    const { table, index } = found;
    return `${index.primary ? 'PRIMARY KEY' : 'UNIQUE'} (${index.columns.map((id) => colName(table, id)).join(', ')})`;
  }
  for (const d of catalog.byId.values()) {
    if (d.kind !== 'table') continue;
    for (const [i, ch] of d.checks.entries()) if (checkOid(d, i) === oid) return `CHECK (${deparse(ch.expr)})`;
    for (const [i, fk] of (d.foreignKeys ?? []).entries()) {
      if (fkOid(d, i) === oid) {
        const ref = catalog.byId.get(fk.refTableId);
        const refName = ref && 'name' in ref ? ref.name : '?';
        const refCols = ref?.kind === 'table' ? fk.refColumns.map((id) => colName(ref, id)).join(', ') : '';
        // As pg_get_constraintdef: MATCH FULL, then the non-default actions.
        const action = (a: string | undefined): string => ({ r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' })[a ?? 'a'] ?? '';
        const tail = [fk.matchType === 'f' ? ' MATCH FULL' : '', action(fk.onUpdate) ? ` ON UPDATE ${action(fk.onUpdate)}` : '', action(fk.onDelete) ? ` ON DELETE ${action(fk.onDelete)}` : ''].join('');
        return `FOREIGN KEY (${fk.columns.map((id) => (id < 0 ? '?' : colName(d, id))).join(', ')}) REFERENCES ${quoteIdent(refName)}(${refCols})${tail}`;
      }
    }
  }
  return null;
}

export function columnDefault(n: Node | undefined): string | null {
  return n ? deparse(n) : null;
}

export { typeDisplayName };

/** Backs pg_get_indexdef / pg_get_constraintdef / pg_get_viewdef / pg_get_serial_sequence. */
export function describeObject(catalog: Catalog, session: SessionInfo, what: 'indexdef' | 'indexcolumn' | 'constraintdef' | 'viewdef' | 'serial_sequence', oid: number, column?: string): string | null {
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
      return constraintDef(catalog, oid);
    case 'viewdef': {
      const v = catalog.byId.get(oid - OID_BASE);
      return v?.kind === 'view' ? v.sql : null;
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
export function regName(catalog: Catalog, kind: string, oid: number): string {
  switch (kind) {
    case 'regclass': {
      const d = catalog.byId.get(oid - OID_BASE);
      if (d && 'name' in d && d.kind !== 'database' && d.kind !== 'schema') return d.name;
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
      const type = typeByOid(oid);
      return type ? typeDisplayName(type) : String(oid);
    }
    case 'regnamespace': {
      if (oid === 11) return 'pg_catalog';
      if (oid === 13) return 'information_schema';
      const d = catalog.byId.get(oid - OID_BASE);
      return d?.kind === 'schema' ? d.name : String(oid);
    }
    case 'regrole':
      return oid === 10 ? 'weft' : String(oid);
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
      return 10;
    default:
      return 0;
  }
}
