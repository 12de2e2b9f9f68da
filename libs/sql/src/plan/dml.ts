// INSERT / UPDATE / DELETE: rows are built and validated here (defaults, NOT NULL, CHECK,
// typmods), then written to the transaction with their index entries. Primary-key and unique
// inserts are checked by a read (so the error comes from the statement, as in Postgres) and
// also carry `ifAbsent`, so apply rejects a concurrent duplicate that the read could not see.
import type { InsertStmt, UpdateStmt, DeleteStmt, Node, ResTarget, OnConflictClause, RangeVar } from 'libpg-query';
import { S, sqlError } from '../errors';
import type { ColumnDesc, IndexDesc, TableDesc } from '../catalog/descriptors';
import { OID_BASE } from '../catalog/descriptors';
import { decodeTableRow, encodeTableRow, indexEntry, primaryKey } from '../catalog/table-data';
import { allSlots, prepareSlots } from '../exec/nodes';
import type { Env, Row, Runtime } from '../runtime';
import type { ExecContext, CompiledStatement } from '../statement';
import { type SqlType, type Value, isNumericKind, isStringKind, t, typeDisplayName } from '../types/types';
import { castValue, hashKey, toText } from '../types/values';
import { nowMicros } from '../types/datetime';
import { coerce, konst, stringOf, type Expr, type ParamTypes, type Slot } from './expr';
import { andAll, type CteDef, type Planner } from './select';
import { Scope, type ScopeColumn } from './scope';
import { toRow } from '../compile';
import { hasStagedWrites, withStatementSnapshot } from '../exec/statement-snapshot';
import { checkParents, hasChildren, onParentChange, type ChildWriter } from './foreign-keys';
import { inIndex, predicateMatches } from './partial-index';

const pos = (loc: number | undefined): { position?: number } => (loc !== undefined && loc >= 0 ? { position: loc + 1 } : {});

/**
 * The target of UPDATE/DELETE as the first FROM item: schema-qualified, so that a WITH query of
 * the same name cannot stand in for the table (the target is always a table in Postgres).
 */
function targetRangeVar(planner: Planner, t0: TableDesc, rv: RangeVar | undefined, ctes: Map<string, CteDef>): RangeVar {
  if (rv?.schemaname || !ctes.has(rv?.relname ?? '')) return rv as RangeVar;
  const schema = planner.env.catalog.byId.get(t0.schemaId);
  return { ...(rv as RangeVar), schemaname: rv?.schemaname ?? (schema && 'name' in schema ? schema.name : undefined) };
}

export function resolveTable(planner: Planner, rv: RangeVar | undefined): TableDesc {
  const name = rv?.relname ?? '';
  const rel = planner.env.resolveRelation(rv?.schemaname, name);
  if (!rel) throw sqlError(S.UNDEFINED_TABLE, `relation "${rv?.schemaname ? `${rv.schemaname}.` : ''}${name}" does not exist`, pos(rv?.location));
  if ('rows' in rel || rel.kind !== 'table') throw sqlError(S.WRONG_OBJECT_TYPE, `cannot change relation "${name}"`, pos(rv?.location));
  return rel;
}

export function tableScope(t0: TableDesc, alias: string, schema: string, outer?: Scope): Scope {
  return new Scope(
    t0.columns.map((c, i) => ({ qualifier: alias, name: c.name, type: c.type, hidden: c.hidden, tableOid: t0.id + OID_BASE, attnum: i + 1, schema })),
    outer,
  );
}

let rowIdCounter = 0n;
let lastRowIdBase = 0n;
/** Hidden row ids for tables without a primary key: time-ordered, unique per gateway process. */
export function newRowId(): bigint {
  const base = nowMicros() << 12n;
  if (base > lastRowIdBase) {
    lastRowIdBase = base;
    rowIdCounter = 0n;
  }
  rowIdCounter++;
  return lastRowIdBase + rowIdCounter + BigInt(process.pid % 4096) * 0n;
}

function failingRow(row: Row, t0: TableDesc): string {
  return `Failing row contains (${row
    .filter((_v, i) => !t0.columns[i].hidden)
    .map((v, i) => (v === null ? 'null' : toText(v, t0.columns.filter((c) => !c.hidden)[i].type)))
    .join(', ')}).`;
}

/** Validation shared by INSERT and UPDATE: NOT NULL and CHECK. */
export class RowValidator {
  private readonly checks: { name: string; expr: Expr }[];
  constructor(
    private readonly table: TableDesc,
    planner: Planner,
    params: ParamTypes,
  ) {
    const scope = tableScope(table, table.name, '');
    const c = planner.compiler(scope, params, { noAgg: 'check constraints' });
    this.checks = table.checks.map((ch) => ({ name: ch.name, expr: c.asBool(c.compile(ch.expr, t('bool')), 'argument of CHECK') }));
  }
  validate(row: Row, rt: Runtime): void {
    const t0 = this.table;
    for (let i = 0; i < t0.columns.length; i++) {
      const c = t0.columns[i];
      if (c.notNull && row[i] === null) {
        throw sqlError(S.NOT_NULL_VIOLATION, `null value in column "${c.name}" of relation "${t0.name}" violates not-null constraint`, {
          detail: failingRow(row, t0),
          column: c.name,
          table: t0.name,
        });
      }
    }
    const env: Env = { row, outer: undefined, rt };
    for (const ch of this.checks) {
      if (ch.expr.fn(env) === false) {
        throw sqlError(S.CHECK_VIOLATION, `new row for relation "${t0.name}" violates check constraint "${ch.name}"`, {
          detail: failingRow(row, t0),
          constraint: ch.name,
          table: t0.name,
        });
      }
    }
  }
}

function keyDetail(t0: TableDesc, idx: IndexDesc, row: Row): string {
  const cols = idx.columns.map((id) => t0.columns.findIndex((c) => c.id === id));
  return `Key (${cols.map((i) => t0.columns[i].name).join(', ')})=(${cols.map((i) => (row[i] === null ? 'null' : toText(row[i], t0.columns[i].type))).join(', ')}) already exists.`;
}

/** Writes a new row and its index entries; throws 23505 on a visible duplicate. */
export async function insertRow(ctx: ExecContext, t0: TableDesc, row: Row): Promise<void> {
  const txn = ctx.txn;
  const key = primaryKey(t0, row);
  // A hidden row id is fresh by construction: no read, no condition.
  const rowIdKey = t0.columns.some((c) => c.hidden && t0.primary.columns.includes(c.id));
  if (!rowIdKey && (await txn.get(key)) !== undefined) {
    throw sqlError(S.UNIQUE_VIOLATION, `duplicate key value violates unique constraint "${t0.primary.name}"`, {
      detail: keyDetail(t0, t0.primary, row),
      constraint: t0.primary.name,
      table: t0.name,
    });
  }
  for (const idx of t0.indexes) {
    if (!inIndex(ctx, t0, idx, row)) continue;
    const e = indexEntry(t0, idx, row);
    if (e.unique && (await txn.get(e.key)) !== undefined) {
      throw sqlError(S.UNIQUE_VIOLATION, `duplicate key value violates unique constraint "${idx.name}"`, {
        detail: keyDetail(t0, idx, row),
        constraint: idx.name,
        table: t0.name,
      });
    }
  }
  txn.put(key, encodeTableRow(t0, row), rowIdKey ? undefined : { constraint: t0.primary.name, detail: keyDetail(t0, t0.primary, row) });
  for (const idx of t0.indexes) {
    if (!inIndex(ctx, t0, idx, row)) continue;
    const e = indexEntry(t0, idx, row);
    txn.put(e.key, e.value, e.unique ? { constraint: idx.name, detail: keyDetail(t0, idx, row) } : undefined);
  }
}

export function deleteRow(ctx: ExecContext, t0: TableDesc, row: Row): void {
  ctx.txn.delete(primaryKey(t0, row));
  for (const idx of t0.indexes) if (inIndex(ctx, t0, idx, row)) ctx.txn.delete(indexEntry(t0, idx, row).key);
}

/** Replaces `oldRow` by `newRow`, moving the key and index entries that changed. */
export async function updateRow(ctx: ExecContext, t0: TableDesc, oldRow: Row, newRow: Row): Promise<void> {
  const txn = ctx.txn;
  const oldKey = primaryKey(t0, oldRow);
  const newKey = primaryKey(t0, newRow);
  if (!oldKey.equals(newKey)) {
    deleteRow(ctx, t0, oldRow);
    await insertRow(ctx, t0, newRow);
    return;
  }
  txn.put(newKey, encodeTableRow(t0, newRow));
  for (const idx of t0.indexes) {
    const o = inIndex(ctx, t0, idx, oldRow) ? indexEntry(t0, idx, oldRow) : undefined;
    const n = inIndex(ctx, t0, idx, newRow) ? indexEntry(t0, idx, newRow) : undefined;
    if (o && n && o.key.equals(n.key)) continue;
    if (o) txn.delete(o.key);
    if (!n) continue;
    if (n.unique && (await txn.get(n.key)) !== undefined) {
      throw sqlError(S.UNIQUE_VIOLATION, `duplicate key value violates unique constraint "${idx.name}"`, { detail: keyDetail(t0, idx, newRow), constraint: idx.name, table: t0.name });
    }
    txn.put(n.key, n.value, n.unique ? { constraint: idx.name, detail: keyDetail(t0, idx, newRow) } : undefined);
  }
}

/** UPDATE of a row with its foreign keys: the new values must find parents; children follow. */
export async function updateWithKeys(ctx: ExecContext, t0: TableDesc, oldRow: Row, newRow: Row): Promise<void> {
  if (t0.foreignKeys?.length) await checkParents(ctx, t0, newRow, oldRow);
  if (hasChildren(ctx, t0)) await onParentChange(ctx, t0, oldRow, newRow, FK_WRITER);
  await updateRow(ctx, t0, oldRow, newRow);
}

/** DELETE of a row with its foreign keys: children are refused or cascaded first. */
export async function deleteWithKeys(ctx: ExecContext, t0: TableDesc, row: Row): Promise<void> {
  if (hasChildren(ctx, t0)) await onParentChange(ctx, t0, row, undefined, FK_WRITER);
  deleteRow(ctx, t0, row);
}

const FK_WRITER: ChildWriter = { deleteRow: deleteWithKeys, updateRow: updateWithKeys };

/** Compiled DEFAULT expressions of a table (NULL when none; row ids for the hidden key). */
export function compileDefaults(t0: TableDesc, planner: Planner, params: ParamTypes): Expr[] {
  const c = planner.compiler(new Scope([]), params, { noAgg: 'DEFAULT expressions' });
  return t0.columns.map((col) => {
    if (col.hidden) return { type: t('int8'), fn: () => newRowId(), slots: [], name: col.name };
    if (col.defaultExpr) return coerce(c.compile(col.defaultExpr, col.type), col.type);
    return konst(col.type, null);
  });
}

interface Returning {
  readonly exprs: Expr[];
  readonly columns: ScopeColumn[];
}

function compileReturning(list: readonly Node[] | undefined, scope: Scope, planner: Planner, params: ParamTypes): Returning | undefined {
  if (!list?.length) return undefined;
  const c = planner.compiler(scope, params, { noAgg: 'RETURNING' });
  const exprs: Expr[] = [];
  const columns: ScopeColumn[] = [];
  for (const n of list) {
    const rt = (n as { ResTarget: ResTarget }).ResTarget;
    const v = rt.val as Node;
    if ('ColumnRef' in v && stringOf((v.ColumnRef.fields ?? []).slice(-1)[0]) === '*') {
      // rel.* is that relation's columns only (not those of FROM/USING tables).
      const fields = (v.ColumnRef.fields ?? []).map(stringOf);
      const qual = fields.length > 1 ? fields[fields.length - 2] : undefined;
      if (qual !== undefined && !scope.hasQualifier(qual)) throw sqlError(S.UNDEFINED_TABLE, `missing FROM-clause entry for table "${qual}"`);
      scope.columns.forEach((col, i) => {
        if (col.hidden || (qual === undefined ? col.mergedAway : col.qualifier !== qual)) return;
        exprs.push({ type: col.type, fn: (env) => env.row[i], slots: [], name: col.name });
        columns.push({ qualifier: undefined, name: col.name, type: col.type, tableOid: col.tableOid, attnum: col.attnum });
      });
      continue;
    }
    const e = c.compile(v);
    const ec = e.type.kind === 'unknown' ? coerce(e, t('text')) : e;
    exprs.push(ec);
    columns.push({ qualifier: undefined, name: rt.name ?? e.name, type: ec.type });
  }
  return { exprs, columns };
}

async function returningRow(ret: Returning, row: Row, rt: Runtime): Promise<Row> {
  const env: Env = { row, outer: undefined, rt };
  await prepareSlots(allSlots(ret.exprs), env);
  return ret.exprs.map((e) => e.fn(env));
}

/** A planned INSERT, UPDATE or DELETE: a statement of its own or a data-modifying CTE. */
export interface DmlPlan {
  readonly kind: 'INSERT' | 'UPDATE' | 'DELETE';
  /** RETURNING columns, or null without RETURNING. */
  readonly returning: readonly ScopeColumn[] | null;
  /**
   * Whether subqueries run while rows are being written (in SET, RETURNING, ON CONFLICT): then
   * the statement reads through a statement snapshot, so they cannot see its own writes.
   */
  readonly readsWhileWriting: boolean;
  /** Does the writes; `rows` are the RETURNING rows (empty without RETURNING). */
  run(ctx: ExecContext): Promise<{ count: number; rows: Row[] }>;
  explain(): string[];
}

/** The command tag Postgres sends for a DML statement. */
export function dmlTag(kind: DmlPlan['kind'], count: number): string {
  return kind === 'INSERT' ? `INSERT 0 ${count}` : `${kind} ${count}`;
}

/** A DML plan as a statement of its own (no CTEs): rows for RETURNING, else the command tag. */
export function dmlStatement(plan: DmlPlan, paramTypes: readonly SqlType[]): CompiledStatement {
  const cols = plan.returning;
  return {
    kind: plan.kind,
    paramTypes,
    columns: cols,
    readOnly: false,
    cacheable: true,
    explain: () => plan.explain(),
    async execute(ctx0) {
      // Inside a statement with data-modifying CTEs the whole statement already reads one snapshot.
      // A transaction that staged writes keeps reading through itself (see hasStagedWrites).
      const ctx = plan.readsWhileWriting && !ctx0.modifiedEarlier && !hasStagedWrites(ctx0.txn) ? withStatementSnapshot(ctx0)() : ctx0;
      const r = await plan.run(ctx);
      const commandTag = dmlTag(plan.kind, r.count);
      if (!cols) return { kind: 'command', commandTag };
      return { kind: 'rows', columns: [], rows: r.rows.map((row) => toRow(row, cols, cols.length, ctx.rt)), commandTag };
    },
  };
}

/** Which source types Postgres converts to a column type on assignment (else 42804). */
function assignable(from: SqlType, to: SqlType): boolean {
  const f = from.kind;
  const k = to.kind;
  if (f === k || f === 'unknown' || isStringKind(k)) return true;
  if (isNumericKind(f) && isNumericKind(k)) return true;
  if (isStringKind(f) && isStringKind(k)) return true;
  if ((f === 'date' || f === 'timestamp' || f === 'timestamptz') && (k === 'date' || k === 'timestamp' || k === 'timestamptz' || k === 'time')) return true;
  if ((f === 'json' || f === 'jsonb') && (k === 'json' || k === 'jsonb')) return true;
  if (f === 'array' && k === 'array') return true;
  return false;
}

function assignCast(v: Value, from: SqlType, col: ColumnDesc, table: TableDesc): Value {
  if (!assignable(from, col.type)) {
    throw sqlError(S.DATATYPE_MISMATCH, `column "${col.name}" is of type ${typeDisplayName(col.type)} but expression is of type ${typeDisplayName(from)}`, {
      hint: 'You will need to rewrite or cast the expression.',
      table: table.name,
      column: col.name,
    });
  }
  try {
    return castValue(v, from, col.type, false);
  } catch (e) {
    if (e instanceof Error && 'code' in e && (e as { code: string }).code === S.CANNOT_COERCE) {
      throw sqlError(S.DATATYPE_MISMATCH, `column "${col.name}" is of type ${typeDisplayName(col.type)} but expression is of type ${typeDisplayName(from)}`, {
        hint: 'You will need to rewrite or cast the expression.',
        table: table.name,
        column: col.name,
      });
    }
    throw e;
  }
}

/** INSERT; `ctes` are the statement's WITH queries (its own WITH is planned by the caller). */
export function planInsert(stmt: InsertStmt, planner: Planner, params: ParamTypes, ctes: Map<string, CteDef>): DmlPlan {
  const t0 = resolveTable(planner, stmt.relation);
  const alias = stmt.relation?.alias?.aliasname ?? t0.name;
  const visible = t0.columns.map((c, i) => [c, i] as const).filter(([c]) => !c.hidden);
  const targets: number[] = stmt.cols?.length
    ? stmt.cols.map((n) => {
        const r = (n as { ResTarget: ResTarget }).ResTarget;
        const i = t0.columns.findIndex((c) => c.name === r.name && !c.hidden);
        if (i < 0) throw sqlError(S.UNDEFINED_COLUMN, `column "${r.name}" of relation "${t0.name}" does not exist`, pos(r.location));
        return i;
      })
    : visible.map(([, i]) => i);
  if (new Set(targets).size !== targets.length) throw sqlError(S.DUPLICATE_COLUMN, 'column specified more than once');
  const overriding = stmt.override === 'OVERRIDING_SYSTEM_VALUE';
  for (const i of targets) {
    const col = t0.columns[i];
    if (col.identity === 'a' && !overriding) {
      throw sqlError('428C9', `cannot insert a non-DEFAULT value into column "${col.name}"`, {
        detail: `Column "${col.name}" is an identity column defined as GENERATED ALWAYS.`,
        hint: 'Use OVERRIDING SYSTEM VALUE to override.',
      });
    }
  }
  const defaults = compileDefaults(t0, planner, params);
  const sel = (stmt.selectStmt as { SelectStmt: import('libpg-query').SelectStmt } | undefined)?.SelectStmt;
  // Source rows: VALUES lists compiled per target column type, or any query.
  type Source = { kind: 'values'; rows: (Expr | 'default')[][] } | { kind: 'query'; node: import('../exec/nodes').PlanNode; types: SqlType[] } | { kind: 'defaults' };
  let source: Source;
  if (!sel) source = { kind: 'defaults' };
  else if (sel.valuesLists && !sel.sortClause && !sel.limitCount && (!sel.op || sel.op === 'SETOP_NONE')) {
    const c = planner.compiler(new Scope([]), params, { noAgg: 'VALUES' });
    const width = sel.valuesLists.length ? ('List' in sel.valuesLists[0] ? (sel.valuesLists[0].List.items ?? []).length : 0) : 0;
    const rows = sel.valuesLists.map((l) => {
      const items = 'List' in l ? (l.List.items ?? []) : [];
      if (items.length !== width) throw sqlError(S.SYNTAX_ERROR, 'VALUES lists must all be the same length');
      if (items.length > targets.length) throw sqlError(S.SYNTAX_ERROR, 'INSERT has more expressions than target columns', pos(undefined));
      // Without a column list, fewer values than columns fill the first ones (the rest get
      // their defaults), as in Postgres; with a list, every listed column needs a value.
      if (items.length < targets.length && stmt.cols?.length) throw sqlError(S.SYNTAX_ERROR, 'INSERT has more target columns than expressions');
      return items.map((n, j): Expr | 'default' => {
        if ('SetToDefault' in n) return 'default';
        const col = t0.columns[targets[j]];
        const e = c.compile(n, col.type);
        return e.type.kind === 'unknown' ? coerce(e, col.type) : e;
      });
    });
    source = { kind: 'values', rows };
  } else {
    const q = planner.planSelect(sel, undefined, params, ctes);
    if (q.columns.length > targets.length) throw sqlError(S.SYNTAX_ERROR, 'INSERT has more expressions than target columns');
    if (q.columns.length < targets.length && stmt.cols?.length) throw sqlError(S.SYNTAX_ERROR, 'INSERT has more target columns than expressions');
    // An untyped NULL or literal in the query's select list is coerced to its target column
    // (INSERT ... SELECT g, NULL, '5' into bigint columns), not first resolved to text.
    // (A set operation has already resolved its unknown columns to text, as in Postgres.)
    const simple = !sel.op || sel.op === 'SETOP_NONE';
    source = { kind: 'query', node: q.node, types: q.columns.map((c) => (c.untyped && simple ? t('unknown') : c.type)) };
  }
  const validator = new RowValidator(t0, planner, params);
  const scope = tableScope(t0, alias, '');
  const returning = compileReturning(stmt.returningClause?.exprs, scope, planner, params);
  const onConflict = stmt.onConflictClause ? compileOnConflict(stmt.onConflictClause, t0, alias, planner, params) : undefined;
  const allSourceSlots = source.kind === 'values' ? allSlots(source.rows.flat().filter((e): e is Expr => e !== 'default')) : [];
  const defaultSlots = allSlots(defaults);
  // The async parts (nextval, subqueries) of the defaults of a set of left-out columns, by set.
  const slotsByMissing = new Map<string, Slot[]>();
  const missingSlots = (missing: readonly number[]): Slot[] => {
    const key = missing.join(',');
    let slots = slotsByMissing.get(key);
    if (!slots) slotsByMissing.set(key, (slots = allSlots(missing.map((i) => defaults[i]))));
    return slots;
  };
  return {
    kind: 'INSERT',
    returning: returning ? returning.columns : null,
    readsWhileWriting: allSlots([...(returning?.exprs ?? [])]).length > 0 || (onConflict?.hasSubqueries ?? false),
    explain: () => [`Insert on ${t0.name}`, ...(source.kind === 'query' ? explainChild(source.node) : [])],
    async run(ctx) {
      const rt = ctx.rt;
      let count = 0;
      const out: Row[] = [];
      const emptyEnv: Env = { row: [], outer: undefined, rt };
      const build = async (vals: (Value | undefined)[], types: (SqlType | undefined)[]): Promise<Row> => {
        const row: Value[] = new Array<Value>(t0.columns.length).fill(null);
        const given = new Set<number>();
        for (let j = 0; j < targets.length && j < vals.length; j++) {
          if (vals[j] === undefined) continue;
          const i = targets[j];
          row[i] = assignCast(vals[j] as Value, types[j] as SqlType, t0.columns[i], t0);
          given.add(i);
        }
        if (given.size < t0.columns.length) {
          // Only the defaults of the columns left out run (as in Postgres): a serial column
          // given explicitly must not draw a nextval, nor may any other default's side effect run.
          const missing: number[] = [];
          for (let i = 0; i < t0.columns.length; i++) if (!given.has(i)) missing.push(i);
          const slots = defaultSlots.length ? missingSlots(missing) : [];
          if (slots.length) await prepareSlots(slots, emptyEnv);
          for (const i of missing) row[i] = castValue(defaults[i].fn(emptyEnv), defaults[i].type, t0.columns[i].type, false);
        }
        return row;
      };
      // ON CONFLICT DO UPDATE: rows this statement inserted or updated, by primary key. A
      // later row conflicting with one of them would update it a second time: 21000, as Postgres.
      const pkIdx = t0.primary.columns.map((id) => t0.columns.findIndex((c) => c.id === id));
      const touched = onConflict?.action === 'update' ? new Set<string>() : undefined;
      const identity = (r: Row): string => pkIdx.map((i) => hashKey(r[i], t0.columns[i].type)).join('\u0000');
      const handle = async (row: Row): Promise<void> => {
        validator.validate(row, rt);
        if (t0.foreignKeys?.length) await checkParents(ctx, t0, row);
        if (onConflict) {
          const existing = await onConflict.findConflict(ctx, row);
          if (existing) {
            if (onConflict.action === 'nothing') return;
            if (touched?.has(identity(existing))) {
              throw sqlError(S.CARDINALITY_VIOLATION, 'ON CONFLICT DO UPDATE command cannot affect row a second time', {
                hint: 'Ensure that no rows proposed for insertion within the same command have duplicate constrained values.',
              });
            }
            const updated = await onConflict.update(ctx, existing, row);
            if (!updated) return;
            validator.validate(updated, rt);
            await updateWithKeys(ctx, t0, existing, updated);
            touched?.add(identity(updated));
            count++;
            if (returning) out.push(await returningRow(returning, updated, rt));
            return;
          }
        }
        touched?.add(identity(row));
        await insertRow(ctx, t0, row);
        count++;
        if (returning) out.push(await returningRow(returning, row, rt));
      };
      if (source.kind === 'defaults') await handle(await build([], []));
      else if (source.kind === 'values') {
        for (const exprs of source.rows) {
          if (allSourceSlots.length) await prepareSlots(allSourceSlots, emptyEnv);
          const vals = exprs.map((e) => (e === 'default' ? undefined : e.fn(emptyEnv)));
          await handle(await build(vals, exprs.map((e) => (e === 'default' ? undefined : e.type))));
        }
      } else {
        const rows: Row[] = [];
        for await (const r of source.node.rows(undefined, rt)) rows.push(r);
        for (const r of rows) await handle(await build(r.slice(0, source.types.length), source.types));
      }
      return { count, rows: out };
    },
  };
}

interface OnConflict {
  readonly action: 'nothing' | 'update';
  readonly hasSubqueries: boolean;
  findConflict(ctx: ExecContext, row: Row): Promise<Row | undefined>;
  update(ctx: ExecContext, existing: Row, excluded: Row): Promise<Row | undefined>;
}

function compileOnConflict(oc: OnConflictClause, t0: TableDesc, alias: string, planner: Planner, params: ParamTypes): OnConflict {
  const inferCols = (oc.infer?.indexElems ?? []).map((n) => (n as { IndexElem: { name?: string } }).IndexElem.name ?? '');
  // Without a conflict target every unique index arbitrates (DO NOTHING), partial ones too. With
  // one, a partial unique index is inferred only when the clause names its predicate (ON
  // CONFLICT (cols) WHERE pred), as PostgreSQL does; it is never a named constraint.
  const infer = oc.infer;
  let arbiters: IndexDesc[] = [t0.primary, ...t0.indexes.filter((i) => i.unique && (!i.predicate || !infer || (!infer.conname && predicateMatches(i, infer.whereClause))))];
  if (oc.infer?.conname) {
    arbiters = arbiters.filter((i) => i.name === oc.infer?.conname);
    if (!arbiters.length) throw sqlError(S.UNDEFINED_OBJECT, `constraint "${oc.infer.conname}" for table "${t0.name}" does not exist`);
  } else if (inferCols.length) {
    const ids = inferCols.map((n) => t0.columns.find((c) => c.name === n)?.id);
    arbiters = arbiters.filter((i) => i.columns.length === ids.length && ids.every((id) => id !== undefined && i.columns.includes(id)));
    if (!arbiters.length) throw sqlError(S.INVALID_COLUMN_REFERENCE, 'there is no unique or exclusion constraint matching the ON CONFLICT specification');
  } else if (oc.action === 'ONCONFLICT_UPDATE') {
    throw sqlError(S.SYNTAX_ERROR, 'ON CONFLICT DO UPDATE requires inference specification or constraint name', { hint: 'For example, ON CONFLICT (column_name).' });
  }
  const action = oc.action === 'ONCONFLICT_NOTHING' ? 'nothing' : 'update';
  const base = tableScope(t0, alias, '');
  const scope = new Scope([...base.columns, ...t0.columns.map((c) => ({ qualifier: 'excluded', name: c.name, type: c.type, hidden: c.hidden }))]);
  const c = planner.compiler(scope, params, { noAgg: 'ON CONFLICT' });
  const sets = (oc.targetList ?? []).map((n) => {
    const r = (n as { ResTarget: ResTarget }).ResTarget;
    const i = t0.columns.findIndex((col) => col.name === r.name && !col.hidden);
    if (i < 0) throw sqlError(S.UNDEFINED_COLUMN, `column "${r.name}" of relation "${t0.name}" does not exist`, pos(r.location));
    const e = c.compile(r.val as Node, t0.columns[i].type);
    return { i, e };
  });
  const where = oc.whereClause ? c.asBool(c.compile(oc.whereClause, t('bool'))) : undefined;
  const slots = allSlots([...sets.map((s) => s.e), where]);
  const n = t0.columns.length;
  return {
    action,
    hasSubqueries: slots.length > 0,
    async findConflict(ctx, row) {
      for (const idx of arbiters) {
        let existingBuf: Buffer | undefined;
        if (idx.primary) existingBuf = await ctx.txn.get(primaryKey(t0, row));
        else {
          if (!inIndex(ctx, t0, idx, row)) continue;
          const e = indexEntry(t0, idx, row);
          if (!e.unique) continue;
          const pk = await ctx.txn.get(e.key);
          if (pk) existingBuf = await ctx.txn.get(pk);
        }
        if (existingBuf) return decodeTableRow(t0, existingBuf, (col) => ctx.env.missingValue(col));
      }
      return undefined;
    },
    async update(ctx, existing, excluded) {
      const env: Env = { row: [...existing, ...excluded], outer: undefined, rt: ctx.rt };
      if (slots.length) await prepareSlots(slots, env);
      if (where && where.fn(env) !== true) return undefined;
      const next = [...existing];
      for (const s of sets) next[s.i] = assignCast(s.e.fn(env), s.e.type, t0.columns[s.i], t0);
      void n;
      return next;
    },
  };
}

function compileAssignments(list: readonly Node[], t0: TableDesc, c: ReturnType<Planner['compiler']>): { i: number; e: Expr; isDefault: boolean }[] {
  const out: { i: number; e: Expr; isDefault: boolean }[] = [];
  for (const n of list) {
    const r = (n as { ResTarget: ResTarget }).ResTarget;
    if (r.indirection?.length) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'assignment to a field or array element is not supported');
    const i = t0.columns.findIndex((col) => col.name === r.name && !col.hidden);
    if (i < 0) throw sqlError(S.UNDEFINED_COLUMN, `column "${r.name}" of relation "${t0.name}" does not exist`, pos(r.location));
    const v = r.val as Node;
    if ('MultiAssignRef' in v) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'multi-column assignment is not supported');
    const col = t0.columns[i];
    if (col.identity === 'a' && !('SetToDefault' in v)) throw sqlError('428C9', `column "${col.name}" can only be updated to DEFAULT`, { detail: `Column "${col.name}" is an identity column defined as GENERATED ALWAYS.` });
    out.push({ i, e: 'SetToDefault' in v ? konst(col.type, null) : c.compile(v, col.type), isDefault: 'SetToDefault' in v });
  }
  return out;
}

export function planUpdate(stmt: UpdateStmt, planner: Planner, params: ParamTypes, ctes: Map<string, CteDef>): DmlPlan {
  const t0 = resolveTable(planner, stmt.relation);
  const { node, scope, single } = planner.planFromWhere([{ RangeVar: targetRangeVar(planner, t0, stmt.relation, ctes) }, ...(stmt.fromClause ?? [])], stmt.whereClause, undefined, params, ctes);
  // The rows it changes are locked as they are read: concurrent writers queue.
  if (single) single.locking = true;
  const c = planner.compiler(scope, params, { noAgg: 'UPDATE' });
  const sets = compileAssignments(stmt.targetList ?? [], t0, c);
  const defaults = compileDefaults(t0, planner, params);
  const validator = new RowValidator(t0, planner, params);
  const returning = compileReturning(stmt.returningClause?.exprs, scope, planner, params);
  const slots = allSlots(sets.map((s) => s.e));
  const n = t0.columns.length;
  const multi = (stmt.fromClause ?? []).length > 0;
  return {
    kind: 'UPDATE',
    returning: returning ? returning.columns : null,
    readsWhileWriting: slots.length > 0 || allSlots(returning?.exprs ?? []).length > 0,
    explain: () => [`Update on ${t0.name}`, ...explainChild(node)],
    async run(ctx) {
      const rt = ctx.rt;
      const matched: Row[] = [];
      for await (const r of node.rows(undefined, rt)) matched.push(r);
      const seen = multi ? new Set<string>() : undefined;
      const out: Row[] = [];
      let count = 0;
      for (const joined of matched) {
        const old = joined.slice(0, n);
        if (ctx.modifiedEarlier?.(primaryKey(t0, old))) continue;
        if (seen) {
          const k = primaryKey(t0, old).toString('latin1');
          if (seen.has(k)) continue;
          seen.add(k);
        }
        const env: Env = { row: joined, outer: undefined, rt };
        if (slots.length) await prepareSlots(slots, env);
        const next = [...old];
        for (const s of sets) {
          if (s.isDefault) {
            const d = defaults[s.i];
            const denv: Env = { row: [], outer: undefined, rt };
            await prepareSlots(d.slots, denv);
            next[s.i] = assignCast(d.fn(denv), d.type, t0.columns[s.i], t0);
          } else next[s.i] = assignCast(s.e.fn(env), s.e.type, t0.columns[s.i], t0);
        }
        validator.validate(next, rt);
        await updateWithKeys(ctx, t0, old, next);
        count++;
        if (returning) out.push(await returningRow(returning, [...next, ...joined.slice(n)], rt));
      }
      return { count, rows: out };
    },
  };
}

export function planDelete(stmt: DeleteStmt, planner: Planner, params: ParamTypes, ctes: Map<string, CteDef>): DmlPlan {
  const t0 = resolveTable(planner, stmt.relation);
  const { node, scope, single } = planner.planFromWhere([{ RangeVar: targetRangeVar(planner, t0, stmt.relation, ctes) }, ...(stmt.usingClause ?? [])], stmt.whereClause, undefined, params, ctes);
  if (single) single.locking = true;
  const returning = compileReturning(stmt.returningClause?.exprs, scope, planner, params);
  const n = t0.columns.length;
  return {
    kind: 'DELETE',
    returning: returning ? returning.columns : null,
    readsWhileWriting: allSlots(returning?.exprs ?? []).length > 0,
    explain: () => [`Delete on ${t0.name}`, ...explainChild(node)],
    async run(ctx) {
      const matched: Row[] = [];
      for await (const r of node.rows(undefined, ctx.rt)) matched.push(r);
      const seen = new Set<string>();
      const out: Row[] = [];
      for (const joined of matched) {
        const old = joined.slice(0, n);
        const key = primaryKey(t0, old);
        if (ctx.modifiedEarlier?.(key)) continue;
        const k = key.toString('latin1');
        if (seen.has(k)) continue;
        seen.add(k);
        await deleteWithKeys(ctx, t0, old);
        if (returning) out.push(await returningRow(returning, joined, ctx.rt));
      }
      return { count: seen.size, rows: out };
    },
  };
}

function explainChild(node: import('../exec/nodes').PlanNode): string[] {
  // Imported lazily to keep this module's dependencies one-directional.
  return explainLinesIndented(node.explain());
}

function explainLinesIndented(n: import('../exec/nodes').ExplainNode, depth = 1): string[] {
  const out = [`${' '.repeat(depth * 6 - 4)}->  ${n.label}`];
  for (const d of n.details ?? []) out.push(`${' '.repeat(depth * 6)}${d}`);
  for (const c of n.children ?? []) out.push(...explainLinesIndented(c, depth + 1));
  return out;
}

export { andAll, toRow };
