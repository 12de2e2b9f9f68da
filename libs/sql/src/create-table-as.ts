// CREATE TABLE ... AS query [WITH [NO] DATA] and SELECT ... INTO: a table with the query's
// column names and types (created as CREATE TABLE would, so without a primary key it gets the
// hidden row id), then the query's rows inserted through the INSERT path, in one transaction.
import type { CreateStmt, IntoClause, Node, SelectStmt, TypeName } from 'libpg-query';
import { createTable } from './ddl';
import { S, sqlError } from './errors';
import { allSlots, prepareSlots } from './exec/nodes';
import { compileDefaults, insertRow } from './plan/dml';
import type { Env } from './runtime';
import { castValue } from './types/values';
import { stringOf, type ParamTypes } from './plan/expr';
import type { Planner } from './plan/select';
import type { CompiledStatement } from './statement';
import { type SqlType, t } from './types/types';

/** The TypeName that names `type` in a column definition (unknown literals become text). */
function typeNameOf(type: SqlType): TypeName {
  const base = type.kind === 'array' ? type.elem ?? t('text') : type;
  const name = base.kind === 'char' ? '"char"' : base.kind === 'unknown' ? 'text' : base.kind;
  if (base.kind === 'record' || base.kind === 'void') throw sqlError(S.DATATYPE_MISMATCH, `column has pseudo-type ${base.kind}`);
  const m = base.typmod - 4;
  const mods = base.typmod < 4 ? [] : base.kind === 'numeric' ? [(m >> 16) & 0xffff, m & 0xffff] : base.kind === 'varchar' || base.kind === 'bpchar' ? [m] : [];
  return {
    names: [{ String: { sval: name } }],
    typmods: mods.map((ival) => ({ A_Const: { ival: { ival } } })),
    ...(type.kind === 'array' ? { arrayBounds: [{ Integer: { ival: -1 } }] } : {}),
    typemod: -1,
  };
}

export function compileCreateTableAs(query: SelectStmt, into: IntoClause, ifNotExists: boolean, planner: Planner, params: ParamTypes): Omit<CompiledStatement, 'paramTypes'> {
  if (into.rel?.relpersistence === 't') throw sqlError(S.FEATURE_NOT_SUPPORTED, 'temporary tables are not supported');
  const q = planner.planSelect(query, undefined, params);
  const visible = q.columns.filter((c) => !c.hidden);
  const given = (into.colNames ?? []).map(stringOf);
  if (given.length > visible.length) throw sqlError(S.SYNTAX_ERROR, 'too many column names were specified');
  const names = visible.map((c, i) => given[i] ?? c.name);
  const createStmt: CreateStmt = {
    relation: into.rel,
    tableElts: visible.map((c, i): Node => ({ ColumnDef: { colname: names[i], typeName: typeNameOf(c.type), is_local: true } })),
    if_not_exists: ifNotExists,
  };
  return {
    kind: 'CREATE TABLE AS',
    columns: null,
    readOnly: false,
    cacheable: false,
    async execute(ctx) {
      const schemaId = ctx.catalog.schema(ctx.rt.session.databaseId, into.rel?.schemaname ?? ctx.rt.session.searchPath[0] ?? 'public')?.id;
      const existed = schemaId !== undefined && ctx.catalog.relation(schemaId, into.rel?.relname ?? '') !== undefined;
      await createTable(ctx, createStmt);
      if (existed) return { kind: 'command', commandTag: 'CREATE TABLE AS' }; // IF NOT EXISTS: skipped with a notice
      ctx.catalogChanged();
      const catalog = await ctx.engine.reloadCatalog(ctx.txn);
      const rel = catalog.relation(catalog.schema(ctx.rt.session.databaseId, into.rel?.schemaname ?? ctx.rt.session.searchPath[0] ?? 'public')?.id ?? -1, into.rel?.relname ?? '');
      if (rel?.kind !== 'table') throw sqlError(S.INTERNAL, 'the table CREATE TABLE AS created is not in the catalog');
      const table = rel;
      if (into.skipData) return { kind: 'command', commandTag: 'CREATE TABLE AS' };
      const insertCtx = { ...ctx, catalog };
      // The hidden row id (no primary key) comes from its default, as in INSERT.
      const defaults = compileDefaults(table, planner, params);
      const defaultSlots = allSlots(defaults);
      const emptyEnv: Env = { row: [], outer: undefined, rt: ctx.rt };
      const shown = table.columns.filter((c) => !c.hidden);
      let n = 0;
      for await (const r of q.node.rows(undefined, ctx.rt)) {
        if (defaultSlots.length) await prepareSlots(defaultSlots, emptyEnv);
        const row = table.columns.map((col, i) => (col.hidden ? castValue(defaults[i].fn(emptyEnv), defaults[i].type, col.type, false) : (r[shown.indexOf(col)] ?? null)));
        await insertRow(insertCtx, table, row);
        n++;
      }
      return { kind: 'command', commandTag: `SELECT ${n}` };
    },
  };
}
