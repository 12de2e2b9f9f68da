// ALTER TABLE ... ALTER COLUMN ... [SET DATA] TYPE t [USING expr]: every row is converted in the
// DDL's transaction (the whole conversion is computed before anything is written, so a value
// that does not convert fails the statement with the cast's own error and nothing changes),
// then the changed rows are moved: old row and index entries deleted, new ones written under
// the new type's encoding. Unique keys are re-checked (a conversion can make two keys equal),
// as are CHECK constraints. A foreign key through the column, on either side, must still pair
// compatible types (42804 as PostgreSQL says) and is re-validated over the converted rows
// (23503): a conversion that changes a key value must not leave a child without its parent.
// Views that use the column, and a table referencing itself through it, are refused precisely.
import type { ColumnDef, Node } from 'libpg-query';
import { PgError } from '@weft/pgwire';
import type { ColumnDesc, ForeignKeyDesc, TableDesc } from './catalog/descriptors';
import { viewDependencies } from './catalog/system-views/describe';
import { encodeTableRow, indexEntry, primaryKey } from './catalog/table-data';
import { newPlanner } from './compile';
import { S, sqlError } from './errors';
import { RowValidator, tableScope } from './plan/dml';
import { checkParents } from './plan/foreign-keys';
import { fkTypesCompatible } from './plan/fk-types';
import { Scope } from './plan/scope';
import { typeFromTypeName } from './plan/expr';
import type { Row } from './runtime';
import type { ExecContext } from './statement';
import { type SqlType, isDateTimeKind, isNumericKind, isStringKind, typeDisplayName } from './types/types';
import { castValue, toText } from './types/values';

/** Whether PostgreSQL has an implicit or assignment cast `from` -> `to` (what ALTER TYPE needs without USING). */
function assignable(from: SqlType, to: SqlType): boolean {
  if (from.kind === 'enum' || to.kind === 'enum') return (from.kind === to.kind && from.enum?.typeId === to.enum?.typeId) || (from.kind === 'enum' && isStringKind(to.kind) && to.kind !== 'char');
  if (from.kind === 'unknown') return true;
  if (from.kind === to.kind) return from.kind !== 'array' || (from.elem !== undefined && to.elem !== undefined && assignable(from.elem, to.elem));
  // Output to a string type is an assignment cast (I/O conversion); input from one is explicit.
  if (isStringKind(to.kind) && to.kind !== 'char') return from.kind !== 'array' || to.kind === 'text' || to.kind === 'varchar';
  if (isStringKind(from.kind)) return isStringKind(to.kind);
  if (isNumericKind(from.kind) && isNumericKind(to.kind)) return true;
  if (isDateTimeKind(from.kind) && isDateTimeKind(to.kind)) return from.kind !== 'time' && (to.kind !== 'time' || from.kind !== 'date');
  if ((from.kind === 'json' || from.kind === 'jsonb') && (to.kind === 'json' || to.kind === 'jsonb')) return true;
  return false;
}

/** The cell and key encodings of two types are the same (a value that prints the same is stored the same). */
function sameStorage(a: SqlType, b: SqlType): boolean {
  const text = (k: string): boolean => k === 'text' || k === 'varchar';
  return (a.kind === b.kind && a.kind !== 'enum' && a.kind !== 'array') || (text(a.kind) && text(b.kind));
}

/** The foreign keys through `col`: the table's own (it references with it) and other tables' that reference it. */
function foreignKeysThrough(ctx: ExecContext, table: TableDesc, col: ColumnDesc): { own: ForeignKeyDesc[]; referencing: { child: TableDesc; fk: ForeignKeyDesc }[] } {
  const own = (table.foreignKeys ?? []).filter((fk) => fk.columns.includes(col.id));
  const referencing: { child: TableDesc; fk: ForeignKeyDesc }[] = [];
  for (const r of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) {
    if (r.kind !== 'table') continue;
    for (const fk of r.foreignKeys ?? []) if (fk.refTableId === table.id && fk.refColumns.includes(col.id)) referencing.push({ child: r, fk });
  }
  for (const fk of own) {
    if (fk.refTableId === table.id) throw sqlError(S.FEATURE_NOT_SUPPORTED, `changing the type of a column in a foreign key of a table referencing itself is not supported (constraint ${fk.name} on table ${table.name})`);
  }
  for (const { child, fk } of referencing) {
    if (child.id === table.id) throw sqlError(S.FEATURE_NOT_SUPPORTED, `changing the type of a column of a table referencing itself is not supported (constraint ${fk.name} on table ${table.name})`);
  }
  return { own, referencing };
}

/** Each key column pair of `fk` between `child` and `parent` must still be of compatible types (42804). */
function checkKeyTypes(fk: ForeignKeyDesc, child: TableDesc, parent: TableDesc): void {
  for (const [k, id] of fk.columns.entries()) {
    const c = child.columns.find((x) => x.id === id);
    const p = parent.columns.find((x) => x.id === fk.refColumns[k]);
    if (c === undefined || p === undefined || fkTypesCompatible(c.type, p.type)) continue;
    throw sqlError(S.DATATYPE_MISMATCH, `foreign key constraint "${fk.name}" cannot be implemented`, {
      detail: `Key columns "${c.name}" and "${p.name}" are of incompatible types: ${typeDisplayName(c.type)} and ${typeDisplayName(p.type)}.`,
    });
  }
}

function refuseDependents(ctx: ExecContext, table: TableDesc, col: ColumnDesc): void {
  for (const r of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) {
    if (r.kind === 'view' && viewDependencies(ctx.catalog, ctx.rt.session, r).some((d) => d.id === table.id) && mentionsColumn(r.query, col.name)) {
      throw sqlError(S.FEATURE_NOT_SUPPORTED, 'cannot alter type of a column used by a view or rule', { detail: `rule _RETURN on view ${r.name} depends on column "${col.name}"` });
    }
  }
}

/** Whether a view's query may read the column: it names it, or selects * (conservative). */
function mentionsColumn(n: unknown, name: string): boolean {
  if (Array.isArray(n)) return n.some((x) => mentionsColumn(x, name));
  if (n === null || typeof n !== 'object') return false;
  const o = n as Record<string, unknown>;
  if ('ColumnRef' in o) {
    const fields = ((o.ColumnRef as { fields?: Node[] }).fields ?? []);
    const last = fields[fields.length - 1];
    if (last && ('A_Star' in last || ('String' in last && last.String.sval === name))) return true;
  }
  return Object.values(o).some((v) => mentionsColumn(v, name));
}

/** Converts the column; returns the new descriptor (the caller writes it). */
export async function alterColumnType(ctx: ExecContext, table: TableDesc, col: ColumnDesc, cd: ColumnDef, readRows: (t: TableDesc) => Promise<readonly Row[]>): Promise<TableDesc> {
  let type = typeFromTypeName(cd.typeName ?? {});
  if (cd.typeName?.arrayBounds?.length && type.kind !== 'array') type = { kind: 'array', typmod: -1, elem: type };
  if (type.kind === 'unknown' || type.kind === 'void' || type.kind === 'record') throw sqlError(S.DATATYPE_MISMATCH, `column "${col.name}" has pseudo-type ${typeDisplayName(type)}`);
  const i = table.columns.indexOf(col);
  const next: TableDesc = { ...table, columns: table.columns.map((c) => (c === col ? { ...c, type } : c)) };
  const using = cd.raw_default;
  const sameType = type.kind === col.type.kind && type.typmod === col.type.typmod && JSON.stringify(type) === JSON.stringify(col.type);
  if (sameType && !using) return next;
  refuseDependents(ctx, table, col);
  const fks = foreignKeysThrough(ctx, table, col);
  for (const fk of fks.own) {
    const parent = ctx.catalog.byId.get(fk.refTableId);
    if (parent?.kind === 'table') checkKeyTypes(fk, next, parent);
  }
  for (const { child, fk } of fks.referencing) checkKeyTypes(fk, child, next);

  // The conversion of one row: the USING expression over the old row, or the column's value.
  let convert: (r: Row) => ReturnType<typeof castValue>;
  if (using) {
    const c = newPlanner(ctx.env).compiler(tableScope(table, table.name, ''), { types: [] }, { noAgg: 'transform expressions' });
    const e = c.compile(using);
    if (e.slots.length) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'cannot use subquery in transform expression');
    if (!assignable(e.type, type)) {
      throw sqlError(S.DATATYPE_MISMATCH, `result of USING clause for column "${col.name}" cannot be cast automatically to type ${typeDisplayName(type)}`, { hint: 'You might need to add an explicit cast.' });
    }
    convert = (r) => castValue(e.fn({ row: r, outer: undefined, rt: ctx.rt }), e.type, type, false);
  } else {
    if (!assignable(col.type, type)) {
      throw sqlError(S.DATATYPE_MISMATCH, `column "${col.name}" cannot be cast automatically to type ${typeDisplayName(type)}`, { hint: `You might need to specify "USING ${col.name}::${typeDisplayName(type)}".` });
    }
    convert = (r) => castValue(r[i], col.type, type, false);
  }
  checkDefault(ctx, col, type);

  // Every conversion first: an error leaves nothing written.
  const moves: { from: Row; to: Row }[] = [];
  const storageKept = sameStorage(col.type, type);
  for (const r of await readRows(table)) {
    const v = convert(r);
    if (storageKept && !using && (v === null ? r[i] === null : r[i] !== null && toText(v, type) === toText(r[i], col.type))) continue;
    const to = [...r];
    to[i] = v;
    moves.push({ from: r, to });
  }
  if (col.notNull) {
    const nul = moves.find((m) => m.to[i] === null);
    if (nul) throw sqlError(S.NOT_NULL_VIOLATION, `column "${col.name}" of relation "${table.name}" contains null values`, { column: col.name, table: table.name });
  }
  if (next.checks.length) {
    const v = new RowValidator({ ...next, columns: next.columns.map((x) => ({ ...x, notNull: false })) }, newPlanner(ctx.env), { types: [] });
    for (const m of moves) {
      try {
        v.validate(m.to, ctx.rt);
      } catch (e) {
        if (e instanceof PgError && e.code === S.CHECK_VIOLATION) throw sqlError(S.CHECK_VIOLATION, `${e.message.replace(/^new row for relation "[^"]*" violates /, '')} of relation "${table.name}" is violated by some row`);
        throw e;
      }
    }
  }
  await moveRows(ctx, table, next, moves);
  // Foreign keys re-validated as PostgreSQL re-adds them: the rows that changed must still have
  // their parents, and every child of a changed key must still find it.
  for (const fk of fks.own) for (const m of moves) await checkParents(ctx, { ...next, foreignKeys: [fk] }, m.to);
  if (moves.length > 0) {
    for (const { child, fk } of fks.referencing) {
      for (const r of await readRows(child)) await checkParents(ctx, { ...child, foreignKeys: [fk] }, r, undefined, next);
    }
  }
  return next;
}

/**
 * A column DEFAULT must convert to the new type, as PostgreSQL checks when the type changes:
 * it stored the default coerced to the old type, so it needs an assignment cast old -> new
 * (whatever USING says), and a constant default must convert.
 */
function checkDefault(ctx: ExecContext, col: ColumnDesc, type: SqlType): void {
  if (!col.defaultExpr || col.identity) return;
  const refuse = (): PgError => sqlError(S.DATATYPE_MISMATCH, `default for column "${col.name}" cannot be cast automatically to type ${typeDisplayName(type)}`);
  if (!assignable(col.type, type)) throw refuse();
  const e = newPlanner(ctx.env).compiler(new Scope([]), { types: [] }).compile(col.defaultExpr, col.type);
  if (e.isConst && e.slots.length === 0) castValue(castValue(e.fn({ row: [], outer: undefined, rt: ctx.rt }), e.type, col.type, false), col.type, type, false);
}

/** Deletes the rows' old entries, then writes the new ones, refusing keys a conversion made equal. */
async function moveRows(ctx: ExecContext, before: TableDesc, after: TableDesc, moves: readonly { from: Row; to: Row }[]): Promise<void> {
  const indexes = [...before.indexes];
  for (const { from } of moves) {
    ctx.txn.delete(primaryKey(before, from));
    for (const idx of indexes) ctx.txn.delete(indexEntry(before, idx, from).key);
  }
  const written = new Set<string>();
  const claim = async (key: Buffer, name: string): Promise<void> => {
    const hex = key.toString('hex');
    if (written.has(hex) || (await ctx.txn.get(key)) !== undefined) {
      throw sqlError(S.UNIQUE_VIOLATION, `could not create unique index "${name}"`, { detail: 'The converted values of some rows are duplicates.', constraint: name, table: before.name });
    }
    written.add(hex);
  };
  for (const { to } of moves) {
    const pk = primaryKey(after, to);
    await claim(pk, after.primary.name);
    ctx.txn.put(pk, encodeTableRow(after, to));
    for (const idx of after.indexes) {
      const entry = indexEntry(after, idx, to);
      if (entry.unique) await claim(entry.key, idx.name);
      ctx.txn.put(entry.key, entry.value);
    }
  }
}
