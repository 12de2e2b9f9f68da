// Foreign keys (MATCH SIMPLE, and MATCH FULL, which also refuses a key that is partly NULL): a
// child row whose key columns are all non-NULL must find its
// parent row — a point read of the parent's primary key or unique index, so a concurrent delete
// of that parent conflicts at commit (40001). Deleting or re-keying a parent looks for children
// through an index on the child's key columns when there is one (else a scan) and applies the
// constraint's action: NO ACTION/RESTRICT (23503), CASCADE, SET NULL, SET DEFAULT.
import type { ForeignKeyDesc, IndexDesc, TableDesc } from '../catalog/descriptors';
import { decodeTableRow, indexEntry, primaryKey, primarySpan, secondarySpan } from '../catalog/table-data';
import { S, sqlError } from '../errors';
import type { Row } from '../runtime';
import type { ExecContext } from '../statement';
import { type Value } from '../types/types';
import { castValue, compareValues, toText } from '../types/values';
import { equalIn } from './fk-types';

const colIndex = (t: TableDesc, id: number): number => t.columns.findIndex((c) => c.id === id);

/** The parent index an FK points at: its primary key or a unique index on exactly those columns. */
export function referencedIndex(parent: { readonly primary: IndexDesc; readonly indexes?: readonly IndexDesc[] }, refColumns: readonly number[]): IndexDesc | undefined {
  const same = (cols: readonly number[]): boolean => cols.length === refColumns.length && refColumns.every((c) => cols.includes(c));
  if (same(parent.primary.columns)) return parent.primary;
  // A partial unique index does not make the columns unique (PostgreSQL: 42830).
  return (parent.indexes ?? []).find((i) => i.unique && !i.predicate && same(i.columns));
}

function keyText(t: TableDesc, ids: readonly number[], values: readonly Value[]): string {
  return `Key (${ids.map((id) => t.columns[colIndex(t, id)].name).join(', ')})=(${values.map((v, i) => (v === null ? 'null' : toText(v, t.columns[colIndex(t, ids[i])].type))).join(', ')})`;
}

/**
 * Checks every foreign key of `child` for a new or changed row. `parentNow`: a parent table's
 * descriptor newer than the catalog's (ALTER COLUMN TYPE re-validates against the converted keys).
 */
export async function checkParents(ctx: ExecContext, child: TableDesc, row: Row, oldRow?: Row, parentNow?: TableDesc): Promise<void> {
  for (const fk of child.foreignKeys ?? []) {
    const idx = fk.columns.map((id) => colIndex(child, id));
    const values = idx.map((i) => row[i]);
    if (values.some((v) => v === null)) {
      // MATCH SIMPLE: any NULL key column exempts the row; MATCH FULL: only all of them.
      if (fk.matchType === 'f' && values.some((v) => v !== null)) {
        throw sqlError(S.FOREIGN_KEY_VIOLATION, `insert or update on table "${child.name}" violates foreign key constraint "${fk.name}"`, {
          detail: 'MATCH FULL does not allow mixing of null and nonnull key values.',
          constraint: fk.name,
          table: child.name,
        });
      }
      continue;
    }
    if (oldRow && idx.every((i) => oldRow[i] !== null && compareValues(oldRow[i], row[i], child.columns[i].type) === 0)) continue;
    const parent = parentNow?.id === fk.refTableId ? parentNow : ctx.catalog.byId.get(fk.refTableId);
    if (parent?.kind !== 'table') continue;
    if (!(await parentExists(ctx, parent, fk, values, child))) {
      throw sqlError(S.FOREIGN_KEY_VIOLATION, `insert or update on table "${child.name}" violates foreign key constraint "${fk.name}"`, {
        detail: `${keyText(child, fk.columns, values)} is not present in table "${parent.name}".`,
        constraint: fk.name,
        table: child.name,
      });
    }
  }
}

async function parentExists(ctx: ExecContext, parent: TableDesc, fk: ForeignKeyDesc, values: readonly Value[], child: TableDesc): Promise<boolean> {
  const probe: Value[] = parent.columns.map(() => null);
  for (const [k, id] of fk.refColumns.entries()) {
    const i = colIndex(parent, id);
    const v = equalIn(values[k], child.columns[colIndex(child, fk.columns[k])].type, parent.columns[i].type);
    if (v === undefined) return false; // no key of the parent's type equals it
    probe[i] = v;
  }
  const idx = referencedIndex(parent, fk.refColumns);
  if (!idx) throw sqlError('42830', `there is no unique constraint matching given keys for referenced table "${parent.name}"`);
  if (idx.primary) return (await ctx.txn.get(primaryKey(parent, probe))) !== undefined;
  return (await ctx.txn.get(indexEntry(parent, idx, probe).key)) !== undefined;
}

/** Rows of `child` whose FK columns equal `values` (through a leading index when possible). */
async function findChildren(ctx: ExecContext, child: TableDesc, fk: ForeignKeyDesc, values: readonly Value[]): Promise<Row[]> {
  const idx = fk.columns.map((id) => colIndex(child, id));
  const matches = (row: Row): boolean => idx.every((i, k) => row[i] !== null && compareValues(row[i], values[k], child.columns[i].type) === 0);
  const missing = (c: Parameters<ExecContext['env']['missingValue']>[0]): Value => ctx.env.missingValue(c);
  const leading = (cols: readonly number[]): boolean => fk.columns.every((id, k) => cols[k] === id);
  const out: Row[] = [];
  if (leading(child.primary.columns)) {
    // (A prefix shorter than the hash columns spans the whole table: filter.)
    const { start, end } = primarySpan(child, values);
    for await (const kv of ctx.txn.scan(start, end)) out.push(decodeTableRow(child, kv.value, missing));
    return out.filter(matches);
  }
  // A partial index lacks the rows outside its predicate: it cannot list every child.
  const sec = child.indexes.find((i) => !i.predicate && leading(i.columns));
  if (sec) {
    const { start, end } = secondarySpan(child, sec, values);
    for await (const e of ctx.txn.scan(start, end)) {
      const v = await ctx.txn.get(e.value);
      if (v) out.push(decodeTableRow(child, v, missing));
    }
    return out.filter(matches);
  }
  const { start, end } = primarySpan(child);
  for await (const kv of ctx.txn.scan(start, end)) {
    const row = decodeTableRow(child, kv.value, missing);
    if (matches(row)) out.push(row);
  }
  return out;
}

export interface ChildWriter {
  deleteRow(ctx: ExecContext, t: TableDesc, row: Row): Promise<void>;
  updateRow(ctx: ExecContext, t: TableDesc, oldRow: Row, newRow: Row): Promise<void>;
}

/**
 * A parent row is deleted (newRow undefined) or updated: children referencing its old key are
 * refused (23503) or cascaded per the FK's action.
 */
export async function onParentChange(ctx: ExecContext, parent: TableDesc, oldRow: Row, newRow: Row | undefined, writer: ChildWriter): Promise<void> {
  for (const child of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) {
    if (child.kind !== 'table') continue;
    for (const fk of child.foreignKeys ?? []) {
      if (fk.refTableId !== parent.id) continue;
      const pidx = fk.refColumns.map((id) => colIndex(parent, id));
      const oldKey = pidx.map((i) => oldRow[i]);
      if (oldKey.some((v) => v === null)) continue;
      if (newRow && pidx.every((i) => compareValues(oldRow[i], newRow[i], parent.columns[i].type) === 0)) continue;
      const childKey = oldKey.map((v, k) => equalIn(v, parent.columns[pidx[k]].type, child.columns[colIndex(child, fk.columns[k])].type));
      // A key value the child's type cannot hold exactly has no children (float8 1.5, int4 child).
      if (childKey.some((v) => v === undefined)) continue;
      const children = await findChildren(ctx, child, fk, childKey as Value[]);
      if (children.length === 0) continue;
      const action = newRow ? (fk.onUpdate ?? 'a') : (fk.onDelete ?? 'a');
      if (action === 'a' || action === 'r') {
        throw sqlError(S.FOREIGN_KEY_VIOLATION, `update or delete on table "${parent.name}" violates foreign key constraint "${fk.name}" on table "${child.name}"`, {
          detail: `${keyText(parent, fk.refColumns, oldKey)} is still referenced from table "${child.name}".`,
          constraint: fk.name,
          table: child.name,
        });
      }
      for (const row of children) {
        if (action === 'c' && !newRow) await writer.deleteRow(ctx, child, row);
        else {
          const next = [...row];
          fk.columns.forEach((id, k) => {
            const i = colIndex(child, id);
            next[i] = action === 'c' && newRow ? castValue(newRow[pidx[k]], parent.columns[pidx[k]].type, child.columns[i].type, false) : null;
          });
          await writer.updateRow(ctx, child, row, next);
        }
      }
    }
  }
}

export function hasChildren(ctx: ExecContext, parent: TableDesc): boolean {
  return ctx.catalog.relationsOf(ctx.rt.session.databaseId).some((r) => r.kind === 'table' && (r.foreignKeys ?? []).some((fk) => fk.refTableId === parent.id));
}
