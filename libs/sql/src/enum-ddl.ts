// Enum types: CREATE TYPE ... AS ENUM, ALTER TYPE ... ADD VALUE / RENAME VALUE / RENAME TO and
// DROP TYPE. A type is a catalog descriptor like a table (transactional DDL, version bump);
// table columns embed the enum's labels in their SqlType, so every ALTER TYPE rewrites the
// descriptors of the tables that use it in the same transaction. Rows store a label's sort
// order, which no ALTER TYPE changes, so no row is ever rewritten.
import type { AlterEnumStmt, CreateEnumStmt, Node } from 'libpg-query';
import { enumSqlType } from './catalog/catalog';
import { OID_BASE, type ColumnDesc, type EnumLabelDesc, type IndexDesc, type SchemaDesc, type TableDesc, type TypeDesc } from './catalog/descriptors';
import { viewDependencies } from './catalog/system-views/describe';
import { renameEnumLabel, renameLabelInText, type LabelRename } from './enum-label-rename';
import { deleteDescriptor, writeDescriptor } from './catalog/store';
import { resolveTypeDesc } from './catalog/user-types';
import { S, sqlError } from './errors';
import { stringOf } from './plan/expr';
import type { ExecContext } from './statement';
import { type SqlType, arrayOf } from './types/types';

/** PostgreSQL's NAMEDATALEN - 1: the longest label (in bytes). */
const MAX_LABEL_BYTES = 63;

export interface EnumDdlHooks {
  notice(message: string): void;
  /** Bumps the catalog version (every DDL). */
  done(): Promise<void>;
  /** DROP TYPE ... CASCADE: drops a column of a table (its indexes go with it). */
  dropColumn(table: TableDesc, columnId: number): Promise<TableDesc>;
  /** Tables the statement already dropped (DROP SCHEMA ... CASCADE): left alone. */
  readonly droppedTables?: ReadonlySet<number>;
}

function qualifiedParts(names: readonly Node[]): { schema?: string; name: string } {
  const parts = names.map(stringOf);
  return parts.length > 1 ? { schema: parts[parts.length - 2], name: parts[parts.length - 1] } : { name: parts[0] ?? '' };
}

function targetSchema(ctx: ExecContext, schema: string | undefined): SchemaDesc {
  const dbId = ctx.rt.session.databaseId;
  if (schema !== undefined) {
    if (schema === 'pg_catalog' || schema === 'information_schema') throw sqlError('42501', `permission denied for schema ${schema}`);
    const s = ctx.catalog.schema(dbId, schema);
    if (!s) throw sqlError(S.UNDEFINED_SCHEMA, `schema "${schema}" does not exist`);
    return s;
  }
  for (const name of ctx.rt.session.searchPath) {
    const s = ctx.catalog.schema(dbId, name);
    if (s) return s;
  }
  throw sqlError(S.UNDEFINED_SCHEMA, 'no schema has been selected to create in');
}

function findType(ctx: ExecContext, names: readonly Node[]): TypeDesc | undefined {
  const { schema, name } = qualifiedParts(names);
  return resolveTypeDesc(ctx.catalog, ctx.rt.session, schema, name);
}

const typeLabel = (names: readonly Node[]): string => names.map(stringOf).join('.');

function checkLabel(label: string): void {
  if (label.length === 0 || Buffer.byteLength(label) > MAX_LABEL_BYTES) {
    throw sqlError(S.INVALID_PARAMETER_VALUE, `invalid enum label "${label}"`, { detail: `Labels must be ${MAX_LABEL_BYTES} bytes or less.` });
  }
}

export async function createEnum(ctx: ExecContext, s: CreateEnumStmt, hooks: EnumDdlHooks): Promise<string> {
  const { schema, name } = qualifiedParts(s.typeName ?? []);
  const sc = targetSchema(ctx, schema);
  // A table's row type has the table's name, so a relation of that name also takes the name.
  if (ctx.catalog.type(sc.id, name)) throw sqlError(S.DUPLICATE_OBJECT, `type "${name}" already exists`);
  if (ctx.catalog.relation(sc.id, name)) {
    throw sqlError(S.DUPLICATE_OBJECT, `type "${name}" already exists`, { hint: "A relation has an associated type of the same name, so you must use a name that doesn't conflict with any existing type." });
  }
  const id = await ctx.engine.allocateId();
  const arrayId = await ctx.engine.allocateId();
  const labels = (s.vals ?? []).map(stringOf);
  const seen = new Set<string>();
  for (const l of labels) {
    checkLabel(l);
    // PostgreSQL reports this through pg_enum's unique index.
    if (seen.has(l)) throw sqlError(S.UNIQUE_VIOLATION, 'duplicate key value violates unique constraint "pg_enum_typid_label_index"', { detail: `Key (enumtypid, enumlabel)=(${OID_BASE + id}, ${l}) already exists.` });
    seen.add(l);
  }
  writeDescriptor(ctx.txn, {
    kind: 'type', id, schemaId: sc.id, name, arrayId, labels: labels.map((label, i) => ({ label, sortOrder: i + 1, n: i })), nextLabel: labels.length,
  } satisfies TypeDesc);
  await hooks.done();
  return 'CREATE TYPE';
}

/** The columns of the database's tables whose type is the enum or an array of it. */
function dependentColumns(ctx: ExecContext, d: TypeDesc): { table: TableDesc; columnIds: number[] }[] {
  const out: { table: TableDesc; columnIds: number[] }[] = [];
  for (const r of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) {
    if (r.kind !== 'table') continue;
    const ids = r.columns.filter((c) => usesEnum(c.type, d.id)).map((c) => c.id);
    if (ids.length) out.push({ table: r, columnIds: ids });
  }
  return out;
}

const usesEnum = (type: SqlType, typeId: number): boolean => type.enum?.typeId === typeId || (type.kind === 'array' && type.elem?.enum?.typeId === typeId);

/** Writes the type and gives every column that uses it the type's new labels / name. */
function saveType(ctx: ExecContext, d: TypeDesc, renamed?: { from: string; to: string }): void {
  writeDescriptor(ctx.txn, d);
  const retype = (type: SqlType): SqlType => (type.kind === 'array' ? arrayOf(enumSqlType(d)) : enumSqlType(d));
  const follow = (c: ColumnDesc): ColumnDesc => {
    if (!renamed || c.type.kind !== 'enum') return c;
    // PostgreSQL stores a default (and ADD COLUMN's value for older rows) as the label's OID,
    // so a renamed label stays the default: rewrite the literal that names it.
    return { ...c, defaultExpr: renameLiteral(c.defaultExpr, renamed), missingValue: c.missingValue === renamed.from ? renamed.to : c.missingValue };
  };
  const deps = dependentColumns(ctx, d);
  for (const { table, columnIds } of deps) {
    const next: TableDesc = { ...table, columns: table.columns.map((c) => (columnIds.includes(c.id) ? follow({ ...c, type: retype(c.type) }) : c)) };
    writeDescriptor(ctx.txn, renamed ? relabelTable(ctx, d, next, columnIds, renamed) : next);
  }
  if (renamed) relabelViews(ctx, d, deps, renamed);
}

const labelRename = (ctx: ExecContext, d: TypeDesc, renamed: { from: string; to: string }): LabelRename => ({ ...renamed, typeName: d.name, schemaName: ctx.catalog.schemaName(d.schemaId) });

/** A table's CHECK constraints and index predicates after a RENAME VALUE: their literals of the old label name the new one. */
function relabelTable(ctx: ExecContext, d: TypeDesc, table: TableDesc, columnIds: readonly number[], renamed: { from: string; to: string }): TableDesc {
  const names = new Set(table.columns.filter((c) => columnIds.includes(c.id)).map((c) => c.name));
  const r = labelRename(ctx, d, renamed);
  const fix = (n: Node): Node => renameEnumLabel(n, r, (fields) => names.has(fields[fields.length - 1] ?? '')).node;
  const fixIndex = (i: IndexDesc): IndexDesc => (i.predicate === undefined ? i : { ...i, predicate: fix(i.predicate) });
  return { ...table, checks: table.checks.map((c) => ({ ...c, expr: fix(c.expr) })), indexes: table.indexes.map(fixIndex), primary: fixIndex(table.primary) };
}

/** Views over tables with columns of the type: their queries (and the text pg_get_viewdef shows) name the new label. */
function relabelViews(ctx: ExecContext, d: TypeDesc, deps: readonly { table: TableDesc; columnIds: number[] }[], renamed: { from: string; to: string }): void {
  const byTable = new Map(deps.map(({ table, columnIds }) => [table.id, table.columns.filter((c) => columnIds.includes(c.id)).map((c) => c.name)]));
  const r = labelRename(ctx, d, renamed);
  for (const v of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) {
    if (v.kind !== 'view') continue;
    const names = new Set(viewDependencies(ctx.catalog, ctx.rt.session, v).flatMap((t) => byTable.get(t.id) ?? []));
    if (names.size === 0) continue;
    const { node, changed } = renameEnumLabel(v.query, r, (fields) => names.has(fields[fields.length - 1] ?? ''));
    if (changed > 0) writeDescriptor(ctx.txn, { ...v, query: node, sql: renameLabelInText(v.sql, r) });
  }
}

/** A DEFAULT that is the label as a literal ('x' or 'x'::t) names the new label after a rename. */
function renameLiteral(expr: Node | undefined, renamed: { from: string; to: string }): Node | undefined {
  if (!expr) return expr;
  const inner = 'TypeCast' in expr ? expr.TypeCast.arg : expr;
  if (!inner || !('A_Const' in inner) || inner.A_Const.sval?.sval !== renamed.from) return expr;
  const lit: Node = { A_Const: { ...inner.A_Const, sval: { sval: renamed.to } } };
  return 'TypeCast' in expr ? { TypeCast: { ...expr.TypeCast, arg: lit } } : lit;
}

export async function alterEnum(ctx: ExecContext, s: AlterEnumStmt, hooks: EnumDdlHooks): Promise<string> {
  const names = s.typeName ?? [];
  const d = findType(ctx, names);
  if (!d) throw sqlError(S.UNDEFINED_OBJECT, `type "${typeLabel(names)}" does not exist`);
  const newVal = s.newVal ?? '';
  const at = (label: string): number => d.labels.findIndex((l) => l.label === label);
  if (s.oldVal !== undefined && s.oldVal !== null) {
    const i = at(s.oldVal);
    if (i < 0) throw sqlError(S.INVALID_PARAMETER_VALUE, `"${s.oldVal}" is not an existing enum label`);
    if (s.oldVal === newVal) return 'ALTER TYPE';
    if (at(newVal) >= 0) throw sqlError(S.DUPLICATE_OBJECT, `enum label "${newVal}" already exists`);
    checkLabel(newVal);
    // Arrays are stored as text (their labels), which a rename would orphan.
    const arrays = dependentColumns(ctx, d).flatMap(({ table, columnIds }) => table.columns.filter((c) => columnIds.includes(c.id) && c.type.kind === 'array').map((c) => `${table.name}.${c.name}`));
    if (arrays.length) throw sqlError(S.FEATURE_NOT_SUPPORTED, `ALTER TYPE ... RENAME VALUE is not supported while an array column uses the type (${arrays.join(', ')})`);
    saveType(ctx, { ...d, labels: d.labels.map((l, j) => (j === i ? { ...l, label: newVal } : l)) }, { from: s.oldVal, to: newVal });
    await hooks.done();
    return 'ALTER TYPE';
  }
  if (at(newVal) >= 0) {
    if (s.skipIfNewValExists) {
      hooks.notice(`enum label "${newVal}" already exists, skipping`);
      return 'ALTER TYPE';
    }
    throw sqlError(S.DUPLICATE_OBJECT, `enum label "${newVal}" already exists`);
  }
  checkLabel(newVal);
  let pos = d.labels.length; // index the new label takes
  let sortOrder = d.labels.length ? d.labels[d.labels.length - 1].sortOrder + 1 : 1;
  if (s.newValNeighbor !== undefined && s.newValNeighbor !== null) {
    const n = at(s.newValNeighbor);
    if (n < 0) throw sqlError(S.INVALID_PARAMETER_VALUE, `"${s.newValNeighbor}" is not an existing enum label`);
    pos = s.newValIsAfter ? n + 1 : n;
    const lo = pos > 0 ? d.labels[pos - 1].sortOrder : undefined;
    const hi = pos < d.labels.length ? d.labels[pos].sortOrder : undefined;
    sortOrder = lo === undefined ? (hi as number) - 1 : hi === undefined ? lo + 1 : (lo + hi) / 2;
    // Stored rows hold sort orders, so existing labels cannot be renumbered (PostgreSQL does
    // renumber): once two neighbours' orders are as close as a double allows, say so.
    if (sortOrder === lo || sortOrder === hi) {
      throw sqlError('54000', `no room left to add enum label "${newVal}" ${s.newValIsAfter ? 'after' : 'before'} "${s.newValNeighbor}"`, {
        hint: 'Add the label at another position, or create a new type.',
      });
    }
  }
  const label: EnumLabelDesc = { label: newVal, sortOrder, n: d.nextLabel };
  saveType(ctx, { ...d, labels: [...d.labels.slice(0, pos), label, ...d.labels.slice(pos)], nextLabel: d.nextLabel + 1 });
  await hooks.done();
  return 'ALTER TYPE';
}

export async function renameType(ctx: ExecContext, names: readonly Node[], newName: string, hooks: EnumDdlHooks): Promise<string> {
  const d = findType(ctx, names);
  if (!d) throw sqlError(S.UNDEFINED_OBJECT, `type "${typeLabel(names)}" does not exist`);
  if (ctx.catalog.type(d.schemaId, newName) || ctx.catalog.relation(d.schemaId, newName)) throw sqlError(S.DUPLICATE_OBJECT, `type "${newName}" already exists`);
  saveType(ctx, { ...d, name: newName });
  await hooks.done();
  return 'ALTER TYPE';
}

export async function dropTypes(ctx: ExecContext, objects: readonly Node[], missingOk: boolean, cascade: boolean, hooks: EnumDdlHooks): Promise<string> {
  const found: TypeDesc[] = [];
  for (const obj of objects) {
    const names = 'TypeName' in obj ? (obj.TypeName.names ?? []) : 'List' in obj ? (obj.List.items ?? []) : [obj];
    const d = findType(ctx, names);
    if (!d) {
      if (!missingOk) throw sqlError(S.UNDEFINED_OBJECT, `type "${typeLabel(names)}" does not exist`);
      hooks.notice(`type "${typeLabel(names)}" does not exist, skipping`);
      continue;
    }
    found.push(d);
  }
  const changed = new Map<number, TableDesc>();
  for (const d of found) {
    const deps = dependentColumns(ctx, d).filter(({ table }) => !hooks.droppedTables?.has(table.id));
    const described = deps.flatMap(({ table, columnIds }) => columnIds.map((id) => `column ${table.columns.find((c) => c.id === id)?.name ?? id} of table ${table.name}`));
    if (deps.length && !cascade) {
      throw sqlError(S.DEPENDENT_OBJECTS, `cannot drop type ${d.name} because other objects depend on it`, {
        detail: described.map((x) => `${x} depends on type ${d.name}`).join('\n'),
        hint: 'Use DROP ... CASCADE to drop the dependent objects too.',
      });
    }
    if (described.length === 1) hooks.notice(`drop cascades to ${described[0]}`);
    else if (described.length > 1) hooks.notice(`drop cascades to ${described.length} other objects`);
    for (const { table, columnIds } of deps) {
      let next = changed.get(table.id) ?? table;
      for (const id of columnIds) next = await hooks.dropColumn(next, id);
      changed.set(table.id, next);
      writeDescriptor(ctx.txn, next);
    }
    deleteDescriptor(ctx.txn, d);
  }
  await hooks.done();
  return 'DROP TYPE';
}
