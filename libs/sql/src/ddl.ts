// Utility statements: DDL (databases, schemas, tables, indexes, sequences, views), TRUNCATE,
// EXPLAIN, COPY and accepted no-ops. DDL writes descriptors in the statement's transaction and
// bumps the catalog version, so it is transactional and concurrent DDL conflicts with 40001.
import type {
  Node, CreateStmt, ColumnDef, Constraint, IndexStmt, DropStmt, AlterTableStmt, AlterTableCmd, CreateSeqStmt, DefElem, TruncateStmt, ViewStmt, RangeVar, RenameStmt,
} from 'libpg-query';
import { PgError, type StatementResult } from '@weft/pgwire';
import { droppedDataMarker } from '@weft/storage';
import { shardCount } from './settings';
import { INFORMATION_SCHEMA_ID, PG_CATALOG_ID, type Relation } from './catalog/catalog';
import type { CheckDesc, ColumnDesc, DatabaseDesc, ForeignKeyDesc, IndexDesc, SchemaDesc, SequenceDesc, TableDesc, ViewDesc } from './catalog/descriptors';
import { bumpVersion, deleteDescriptor, writeDescriptor } from './catalog/store';
import { decodeTableRow, encodeTableRow, indexEntry, primaryKey, primarySpan } from './catalog/table-data';
import { createDatabase } from './engine';
import { S, sqlError } from './errors';
import type { PlannerEnv } from './plan/context';
import { compileCopy } from './copy';
import { typeFromTypeName, stringOf, type ParamTypes } from './plan/expr';
import type { Planner } from './plan/select';
import { newRowId, RowValidator, tableScope } from './plan/dml';
import type { ExecContext, CompiledStatement } from './statement';
import { SERIAL_NAMES, type SqlType, t, typeDisplayName } from './types/types';
import { castValue, toText } from './types/values';
import type { Row } from './runtime';
import { compileStatement, newPlanner } from './compile';
import { checkParents, referencedIndex } from './plan/foreign-keys';
import { fkTypesCompatible } from './plan/fk-types';
import { alterColumnType } from './alter-column-type';
import { alterEnum, createEnum, dropTypes, renameType, type EnumDdlHooks } from './enum-ddl';
import { Scope } from './plan/scope';
import { compilePredicate, inIndex, refersToColumn, renameColumnRefs } from './plan/partial-index';

type Utility = Omit<CompiledStatement, 'paramTypes'>;

const cmd = (kind: string, run: (ctx: ExecContext) => Promise<string | StatementResult>): Utility => ({
  kind,
  columns: null,
  readOnly: false,
  cacheable: false,
  async execute(ctx) {
    const r = await run(ctx);
    return typeof r === 'string' ? { kind: 'command', commandTag: r } : r;
  },
});

const noop = (tag: string): Utility => ({ kind: tag, columns: null, readOnly: true, cacheable: false, execute: async () => ({ kind: 'command', commandTag: tag }) });

function notice(ctx: ExecContext, message: string): void {
  ctx.query.notice({ severity: 'NOTICE', code: '00000', message });
}

export function compileUtility(node: Node, env: PlannerEnv, planner: Planner, params: ParamTypes, sqlText: string): Utility | undefined {
  if ('CreateStmt' in node) return cmd('CREATE TABLE', (ctx) => createTable(ctx, node.CreateStmt));
  if ('IndexStmt' in node) return cmd('CREATE INDEX', (ctx) => createIndex(ctx, node.IndexStmt));
  if ('DropStmt' in node) return cmd('DROP', (ctx) => drop(ctx, node.DropStmt));
  if ('AlterTableStmt' in node) return cmd('ALTER TABLE', (ctx) => alterTable(ctx, node.AlterTableStmt));
  if ('RenameStmt' in node) {
    const r = node.RenameStmt;
    if (r.renameType === 'OBJECT_TYPE') return cmd('ALTER TYPE', (ctx) => renameType(ctx, r.object && 'List' in r.object ? (r.object.List.items ?? []) : [], r.newname ?? '', enumHooks(ctx)));
    return cmd('ALTER', (ctx) => rename(ctx, r));
  }
  if ('CreateEnumStmt' in node) return cmd('CREATE TYPE', (ctx) => createEnum(ctx, node.CreateEnumStmt, enumHooks(ctx)));
  if ('AlterEnumStmt' in node) return cmd('ALTER TYPE', (ctx) => alterEnum(ctx, node.AlterEnumStmt, enumHooks(ctx)));
  if ('CompositeTypeStmt' in node) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'composite types (CREATE TYPE ... AS (...)) are not supported', { hint: 'Enum types (CREATE TYPE ... AS ENUM) are.' });
  if ('CreateRangeStmt' in node) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'range types (CREATE TYPE ... AS RANGE) are not supported', { hint: 'Enum types (CREATE TYPE ... AS ENUM) are.' });
  if ('DefineStmt' in node && node.DefineStmt.kind === 'OBJECT_TYPE') throw sqlError(S.FEATURE_NOT_SUPPORTED, 'base types (CREATE TYPE with input and output functions) are not supported', { hint: 'Enum types (CREATE TYPE ... AS ENUM) are.' });
  if ('CreateDomainStmt' in node) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'domains (CREATE DOMAIN) are not supported');
  if ('CreateSchemaStmt' in node) {
    const s = node.CreateSchemaStmt;
    return cmd('CREATE SCHEMA', async (ctx) => {
      const name = s.schemaname ?? s.authrole?.rolename ?? '';
      if (name === 'pg_catalog' || name === 'information_schema' || ctx.catalog.schema(ctx.rt.session.databaseId, name)) {
        if (s.if_not_exists) {
          notice(ctx, `schema "${name}" already exists, skipping`);
          return 'CREATE SCHEMA';
        }
        throw sqlError(S.DUPLICATE_SCHEMA, `schema "${name}" already exists`);
      }
      if (s.schemaElts?.length) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'CREATE SCHEMA with elements is not supported');
      const id = await ctx.engine.allocateId();
      writeDescriptor(ctx.txn, { kind: 'schema', id, dbId: ctx.rt.session.databaseId, name } satisfies SchemaDesc);
      await ddlDone(ctx);
      return 'CREATE SCHEMA';
    });
  }
  if ('CreatedbStmt' in node) {
    const name = node.CreatedbStmt.dbname ?? '';
    return { ...cmd('CREATE DATABASE', async (ctx) => {
      if (ctx.catalog.databases.has(name)) throw sqlError(S.DUPLICATE_DATABASE, `database "${name}" already exists`);
      await createDatabase(ctx.txn, name, () => ctx.engine.allocateId());
      await ddlDone(ctx);
      return 'CREATE DATABASE';
    }), kind: 'CREATE DATABASE' };
  }
  if ('DropdbStmt' in node) {
    const d = node.DropdbStmt;
    return cmd('DROP DATABASE', async (ctx) => {
      const db = ctx.catalog.databases.get(d.dbname ?? '');
      if (!db) {
        if (d.missing_ok) {
          notice(ctx, `database "${d.dbname}" does not exist, skipping`);
          return 'DROP DATABASE';
        }
        throw sqlError(S.UNDEFINED_DATABASE, `database "${d.dbname}" does not exist`);
      }
      if (db.id === ctx.rt.session.databaseId) throw sqlError(S.OBJECT_IN_USE, 'cannot drop the currently open database');
      for (const s of ctx.catalog.schemasOf(db.id)) deleteDescriptor(ctx.txn, s);
      for (const r of ctx.catalog.relationsOf(db.id)) deleteDescriptor(ctx.txn, r);
      for (const d of ctx.catalog.typesOf(db.id)) deleteDescriptor(ctx.txn, d);
      deleteDescriptor(ctx.txn, db);
      await ddlDone(ctx);
      return 'DROP DATABASE';
    });
  }
  if ('CreateSeqStmt' in node) return cmd('CREATE SEQUENCE', (ctx) => createSequence(ctx, node.CreateSeqStmt));
  if ('AlterSeqStmt' in node) {
    const a = node.AlterSeqStmt;
    return cmd('ALTER SEQUENCE', async (ctx) => {
      const rel = findRelation(ctx, a.sequence, 'sequence', a.missing_ok ?? false);
      if (!rel) return 'ALTER SEQUENCE';
      const seq = rel as SequenceDesc;
      const opts = seqOptions(a.options ?? [], seq.typeKind);
      const owner = opts.ownedBy === undefined ? {} : { ownedBy: sequenceOwner(ctx, seq.schemaId, opts.ownedBy) };
      const next: SequenceDesc = { ...seq, ...retypedBounds(seq, opts.desc.typeKind), ...opts.desc, ...owner };
      validateSequence(next, opts.restart === undefined || opts.restart === 'start' ? undefined : BigInt(opts.restart));
      writeDescriptor(ctx.txn, next);
      if (opts.restart !== undefined) await ctx.engine.setval(next, BigInt(opts.restart === 'start' ? next.start : opts.restart), false);
      await ddlDone(ctx);
      return 'ALTER SEQUENCE';
    });
  }
  if ('TruncateStmt' in node) return cmd('TRUNCATE TABLE', (ctx) => truncate(ctx, node.TruncateStmt));
  if ('ViewStmt' in node) return cmd('CREATE VIEW', (ctx) => createView(ctx, node.ViewStmt, planner, sqlText));
  if ('VacuumStmt' in node) return noop(node.VacuumStmt.is_vacuumcmd ? 'VACUUM' : 'ANALYZE');
  if ('CommentStmt' in node) return noop('COMMENT');
  if ('GrantStmt' in node) return noop(node.GrantStmt.is_grant ? 'GRANT' : 'REVOKE');
  if ('GrantRoleStmt' in node) return noop(node.GrantRoleStmt.is_grant ? 'GRANT ROLE' : 'REVOKE ROLE');
  if ('AlterOwnerStmt' in node) return noop('ALTER');
  if ('CheckPointStmt' in node) return noop('CHECKPOINT');
  if ('LockStmt' in node) return noop('LOCK TABLE');
  if ('CreateExtensionStmt' in node) {
    const name = node.CreateExtensionStmt.extname ?? '';
    if (!['uuid-ossp', 'pgcrypto', 'plpgsql', 'citext'].includes(name)) throw sqlError('58P01', `extension "${name}" is not available`);
    return noop('CREATE EXTENSION');
  }
  if ('ExplainStmt' in node) return explain(node.ExplainStmt.query as Node, node.ExplainStmt.options ?? [], env, sqlText);
  if ('CopyStmt' in node) return compileCopy(node.CopyStmt, planner, params);
  if ('CreateFunctionStmt' in node) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'CREATE FUNCTION is not supported');
  if ('CreateTrigStmt' in node) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'triggers are not supported');
  if ('CreateRoleStmt' in node || 'AlterRoleStmt' in node || 'DropRoleStmt' in node) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'roles are managed by the gateway configuration');
  return undefined;
}

function enumHooks(ctx: ExecContext): EnumDdlHooks {
  return {
    notice: (m) => notice(ctx, m),
    done: () => ddlDone(ctx),
    dropColumn: (table, columnId) => {
      const col = table.columns.find((c) => c.id === columnId);
      return Promise.resolve(col === undefined ? table : dropColumn(ctx, table, col));
    },
  };
}

/** ALTER TABLE ... DROP COLUMN (and DROP TYPE ... CASCADE): the column and the indexes on it. */
function dropColumn(ctx: ExecContext, table: TableDesc, col: ColumnDesc): TableDesc {
  if (table.primary.columns.includes(col.id)) throw sqlError(S.DEPENDENT_OBJECTS, `cannot drop column ${col.name} of table ${table.name} because the primary key depends on it`);
  // Indexes on the column go with it, as do partial indexes whose predicate reads it.
  const dropped = table.indexes.filter((i) => i.columns.includes(col.id) || (i.predicate !== undefined && refersToColumn(i.predicate, col.name)));
  for (const i of dropped) dropIndexData(ctx, table, i);
  return { ...table, columns: table.columns.filter((x) => x !== col), indexes: table.indexes.filter((i) => !dropped.includes(i)) };
}

async function ddlDone(ctx: ExecContext): Promise<void> {
  await ctx.engine.schemaChangeGate?.();
  await bumpVersion(ctx.txn);
  ctx.catalogChanged();
}

function explain(inner: Node, options: readonly Node[], env: PlannerEnv, sqlText: string): Utility {
  const opts = options.map((o) => ('DefElem' in o ? (o.DefElem.defname ?? '') : ''));
  const analyze = opts.includes('analyze');
  const compiled = compileStatement(inner, env, [], sqlText);
  return {
    kind: 'EXPLAIN',
    columns: [{ qualifier: undefined, name: 'QUERY PLAN', type: t('text') }],
    readOnly: compiled.readOnly,
    cacheable: false,
    async execute(ctx) {
      const lines = compiled.explain ? compiled.explain() : [`Utility statement: ${compiled.kind}`];
      if (analyze) {
        const start = process.hrtime.bigint();
        await compiled.execute(ctx);
        lines.push(`Execution Time: ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(3)} ms`);
      }
      return { kind: 'rows', columns: [], rows: lines.map((l) => [l]) };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// helpers

function schemaFor(ctx: ExecContext, rv: RangeVar | undefined): SchemaDesc {
  const dbId = ctx.rt.session.databaseId;
  if (rv?.schemaname) {
    if (rv.schemaname === 'pg_catalog' || rv.schemaname === 'information_schema') throw sqlError('42501', `permission denied to create "${rv.schemaname}.${rv.relname}"`);
    const s = ctx.catalog.schema(dbId, rv.schemaname);
    if (!s) throw sqlError(S.UNDEFINED_SCHEMA, `schema "${rv.schemaname}" does not exist`);
    return s;
  }
  for (const name of ctx.rt.session.searchPath) {
    const s = ctx.catalog.schema(dbId, name);
    if (s) return s;
  }
  throw sqlError(S.UNDEFINED_SCHEMA, 'no schema has been selected to create in');
}

function findRelation(ctx: ExecContext, rv: RangeVar | undefined, want: Relation['kind'] | 'index', missingOk: boolean): Relation | undefined {
  const rel = ctx.env.resolveRelation(rv?.schemaname, rv?.relname ?? '');
  const label = want === 'table' ? 'table' : want === 'sequence' ? 'sequence' : want === 'view' ? 'view' : 'index';
  if (!rel || 'rows' in rel) {
    if (missingOk) return undefined;
    throw sqlError(want === 'table' || want === 'view' ? S.UNDEFINED_TABLE : S.UNDEFINED_TABLE, `${want === 'table' ? 'relation' : label} "${rv?.relname}" does not exist`);
  }
  if (rel.kind !== want) throw sqlError(S.WRONG_OBJECT_TYPE, `"${rv?.relname}" is not a ${label}`);
  return rel;
}

function uniqueName(base: string, taken: (n: string) => boolean): string {
  let name = base.slice(0, 63);
  for (let i = 1; taken(name); i++) name = `${base.slice(0, 60)}${i}`;
  return name;
}

function relationNameTaken(ctx: ExecContext, schemaId: number, name: string): boolean {
  if (ctx.catalog.relation(schemaId, name)) return true;
  for (const r of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) if (r.kind === 'table' && r.schemaId === schemaId && [r.primary, ...r.indexes].some((i) => i.name === name)) return true;
  return false;
}

function nodeColumnNames(n: unknown, out: Set<string>): void {
  if (!n || typeof n !== 'object') return;
  if (Array.isArray(n)) return n.forEach((x) => nodeColumnNames(x, out));
  const o = n as Record<string, unknown>;
  if ('ColumnRef' in o) {
    const f = ((o.ColumnRef as { fields?: Node[] }).fields ?? []).map(stringOf);
    out.add(f[f.length - 1]);
    return;
  }
  Object.values(o).forEach((v) => nodeColumnNames(v, out));
}

const nextvalDefault = (seqName: string): Node => ({
  FuncCall: {
    funcname: [{ String: { sval: 'nextval' } }],
    args: [{ TypeCast: { arg: { A_Const: { sval: { sval: seqName } } }, typeName: { names: [{ String: { sval: 'regclass' } }], typemod: -1 } } }],
    funcformat: 'COERCE_EXPLICIT_CALL',
  },
});

function seqOptions(opts: readonly Node[], typeKind: 'int2' | 'int4' | 'int8'): { desc: Partial<Omit<SequenceDesc, 'kind' | 'id'>>; restart?: string; ownedBy?: string[] } {
  const desc: { -readonly [K in keyof SequenceDesc]?: SequenceDesc[K] } = {};
  let restart: string | undefined;
  let ownedBy: string[] | undefined;
  const num = (d: DefElem): string => {
    const a = d.arg;
    if (!a) return '';
    if ('Integer' in a) return String(a.Integer.ival ?? 0);
    if ('Float' in a) {
      // Sequence parameters are bigint: a larger literal is 22003, as in Postgres.
      const v = a.Float.fval ?? '0';
      if (!/^[-+]?\d+$/.test(v) || BigInt(v) > INT8_MAX || BigInt(v) < INT8_MIN) throw sqlError(S.NUMERIC_OUT_OF_RANGE, `value "${v}" is out of range for type bigint`);
      return BigInt(v).toString();
    }
    return '';
  };
  for (const o of opts) {
    if (!('DefElem' in o)) continue;
    const d = o.DefElem;
    switch (d.defname) {
      case 'start': desc.start = num(d); break;
      case 'increment': desc.increment = num(d); break;
      case 'minvalue': if (d.arg) desc.min = num(d); break;
      case 'maxvalue': if (d.arg) desc.max = num(d); break;
      case 'cycle': desc.cycle = Boolean(d.arg && 'Boolean' in (d.arg) ? (d.arg).Boolean.boolval : true); break;
      case 'cache': {
        const cache = num(d);
        if (cache !== '' && BigInt(cache) <= 0n) throw sqlError(S.INVALID_PARAMETER_VALUE, `CACHE (${cache}) must be greater than zero`);
        break;
      }
      case 'restart': restart = d.arg ? num(d) : 'start'; break;
      case 'as': {
        const k = typeFromTypeName((d.arg as { TypeName: import('libpg-query').TypeName }).TypeName).kind;
        if (k !== 'int2' && k !== 'int4' && k !== 'int8') throw sqlError(S.INVALID_PARAMETER_VALUE, 'sequence type must be smallint, integer, or bigint');
        desc.typeKind = k;
        break;
      }
      case 'owned_by': ownedBy = ((d.arg as { List: { items?: Node[] } }).List.items ?? []).map(stringOf); break;
      case 'sequence_name': break;
      default: throw sqlError(S.SYNTAX_ERROR, `option "${d.defname}" not recognized`);
    }
  }
  void typeKind;
  return { desc, restart, ownedBy };
}

/**
 * OWNED BY table.column (or NONE): the column whose table's DROP drops the sequence, which
 * pg_get_serial_sequence reports and pg_dump restores serial columns with. As in PostgreSQL the
 * table must be in the sequence's schema.
 */
function sequenceOwner(ctx: ExecContext, seqSchemaId: number, names: readonly string[]): SequenceDesc['ownedBy'] {
  if (names.length === 1 && names[0].toLowerCase() === 'none') return undefined;
  if (names.length < 2) throw sqlError(S.SYNTAX_ERROR, 'invalid OWNED BY option', { hint: 'Specify OWNED BY table.column or OWNED BY NONE.' });
  const column = names[names.length - 1];
  const tableName = names[names.length - 2];
  const schemaName = names.length > 2 ? names[names.length - 3] : undefined;
  const rel = ctx.env.resolveRelation(schemaName, tableName);
  if (!rel || 'rows' in rel) throw sqlError(S.UNDEFINED_TABLE, `relation "${schemaName ? `${schemaName}.` : ''}${tableName}" does not exist`);
  if (rel.kind !== 'table') throw sqlError(S.WRONG_OBJECT_TYPE, `sequence cannot be owned by relation "${tableName}"`);
  if (rel.schemaId !== seqSchemaId) throw sqlError('55000', 'sequence must be in same schema as table it is linked to');
  const col = rel.columns.find((c) => c.name === column && !c.hidden);
  if (!col) throw sqlError(S.UNDEFINED_COLUMN, `column "${column}" of relation "${tableName}" does not exist`);
  return { tableId: rel.id, columnId: col.id };
}

function newSequence(id: number, schemaId: number, name: string, typeKind: 'int2' | 'int4' | 'int8', opts: Partial<SequenceDesc> = {}, ownedBy?: SequenceDesc['ownedBy']): SequenceDesc {
  const kind = opts.typeKind ?? typeKind;
  const max = kind === 'int2' ? '32767' : kind === 'int4' ? '2147483647' : '9223372036854775807';
  const inc = opts.increment ?? '1';
  const desc = BigInt(inc) < 0n;
  const min = opts.min ?? (desc ? (kind === 'int2' ? '-32768' : kind === 'int4' ? '-2147483648' : '-9223372036854775808') : '1');
  const maxV = opts.max ?? (desc ? '-1' : max);
  if (BigInt(inc) === 0n) throw sqlError(S.INVALID_PARAMETER_VALUE, 'INCREMENT must not be zero');
  const seq: SequenceDesc = { kind: 'sequence', id, schemaId, name, start: opts.start ?? (desc ? maxV : min), increment: inc, min, max: maxV, cycle: opts.cycle ?? false, ownedBy, typeKind: kind };
  validateSequence(seq);
  return seq;
}

const INT8_MAX = 9223372036854775807n;
const INT8_MIN = -9223372036854775808n;
const SEQ_TYPE_RANGE: Record<SequenceDesc['typeKind'], { min: bigint; max: bigint; name: string }> = {
  int2: { min: -32768n, max: 32767n, name: 'smallint' },
  int4: { min: -2147483648n, max: 2147483647n, name: 'integer' },
  int8: { min: INT8_MIN, max: INT8_MAX, name: 'bigint' },
};

/** ALTER SEQUENCE ... AS: bounds that were the old type's defaults become the new type's (as Postgres). */
function retypedBounds(seq: SequenceDesc, to: SequenceDesc['typeKind'] | undefined): Partial<SequenceDesc> {
  if (!to || to === seq.typeKind) return {};
  const from = SEQ_TYPE_RANGE[seq.typeKind];
  const next = SEQ_TYPE_RANGE[to];
  const out: { max?: string; min?: string } = {};
  if (BigInt(seq.max) === from.max) out.max = next.max.toString();
  if (BigInt(seq.min) === from.min) out.min = next.min.toString();
  return out;
}

/** Postgres's checks of a sequence's parameters (sequence.c init_params), all 22023. */
function validateSequence(seq: SequenceDesc, restart?: bigint): void {
  const type = SEQ_TYPE_RANGE[seq.typeKind];
  const [min, max, start, inc] = [BigInt(seq.min), BigInt(seq.max), BigInt(seq.start), BigInt(seq.increment)];
  const bad = (m: string): PgError => sqlError(S.INVALID_PARAMETER_VALUE, m);
  if (inc === 0n) throw bad('INCREMENT must not be zero');
  if (max < type.min || max > type.max) throw bad(`MAXVALUE (${max}) is out of range for sequence data type ${type.name}`);
  if (min < type.min || min > type.max) throw bad(`MINVALUE (${min}) is out of range for sequence data type ${type.name}`);
  if (min >= max) throw bad(`MINVALUE (${min}) must be less than MAXVALUE (${max})`);
  if (start < min) throw bad(`START value (${start}) cannot be less than MINVALUE (${min})`);
  if (start > max) throw bad(`START value (${start}) cannot be greater than MAXVALUE (${max})`);
  if (restart !== undefined && restart < min) throw bad(`RESTART value (${restart}) cannot be less than MINVALUE (${min})`);
  if (restart !== undefined && restart > max) throw bad(`RESTART value (${restart}) cannot be greater than MAXVALUE (${max})`);
}

// ---------------------------------------------------------------------------------------------
// CREATE TABLE

export async function createTable(ctx: ExecContext, s: CreateStmt): Promise<string> {
  if (s.inhRelations?.length) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'table inheritance is not supported');
  if (s.partspec) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'declarative partitioning is not supported (Weft shards by primary key hash)');
  const schema = schemaFor(ctx, s.relation);
  const name = s.relation?.relname ?? '';
  if (ctx.catalog.relation(schema.id, name)) {
    if (s.if_not_exists) {
      notice(ctx, `relation "${name}" already exists, skipping`);
      return 'CREATE TABLE';
    }
    throw sqlError(S.DUPLICATE_TABLE, `relation "${name}" already exists`);
  }
  const tableId = await ctx.engine.allocateId();
  const columns: ColumnDesc[] = [];
  const checks: CheckDesc[] = [];
  const fks: ForeignKeyDesc[] = [];
  const pendingFks: { c: Constraint; cols: string[]; name: string }[] = [];
  const uniques: { cols: string[]; name?: string; primary: boolean; options?: readonly Node[] }[] = [];
  const sequences: SequenceDesc[] = [];
  const takenNames = new Set<string>();
  const taken = (n: string): boolean => takenNames.has(n) || relationNameTaken(ctx, schema.id, n);
  let nextCol = 1;
  for (const el of s.tableElts ?? []) {
    if ('ColumnDef' in el) {
      const cd: ColumnDef = el.ColumnDef;
      const colName = cd.colname ?? '';
      if (columns.some((c) => c.name === colName)) throw sqlError(S.DUPLICATE_COLUMN, `column "${colName}" specified more than once`);
      const tn = cd.typeName ?? {};
      const rawName = (tn.names ?? []).map(stringOf).filter((x) => x !== 'pg_catalog').join('.');
      const serial = SERIAL_NAMES[rawName];
      let type: SqlType = serial ? t(serial) : typeFromTypeName(tn);
      if (type.kind === 'unknown' || type.kind === 'void' || type.kind === 'record') throw sqlError(S.DATATYPE_MISMATCH, `column "${colName}" has pseudo-type ${typeDisplayName(type)}`);
      let notNull = false;
      let defaultExpr: Node | undefined;
      let identity: 'a' | 'd' | undefined;
      if (serial) {
        const seqName = uniqueName(`${name}_${colName}_seq`, taken);
        takenNames.add(seqName);
        sequences.push(newSequence(await ctx.engine.allocateId(), schema.id, seqName, serial as 'int2' | 'int4' | 'int8', {}, { tableId, columnId: nextCol }));
        defaultExpr = nextvalDefault(schema.name === 'public' ? seqName : `${schema.name}.${seqName}`);
        notNull = true;
      }
      for (const cn of cd.constraints ?? []) {
        const c = (cn as { Constraint: Constraint }).Constraint;
        switch (c.contype) {
          case 'CONSTR_NOTNULL': notNull = true; break;
          case 'CONSTR_NULL': break;
          case 'CONSTR_DEFAULT': defaultExpr = c.raw_expr; break;
          case 'CONSTR_PRIMARY': uniques.push({ cols: [colName], name: c.conname, primary: true }); notNull = true; break;
          case 'CONSTR_UNIQUE': uniques.push({ cols: [colName], name: c.conname, primary: false }); break;
          case 'CONSTR_CHECK': checks.push({ name: c.conname ?? uniqueName(`${name}_${colName}_check`, (n) => checks.some((x) => x.name === n)), expr: c.raw_expr as Node }); break;
          case 'CONSTR_IDENTITY': {
            identity = c.generated_when === 'a' ? 'a' : 'd';
            notNull = true;
            const seqName = uniqueName(`${name}_${colName}_seq`, taken);
            takenNames.add(seqName);
            const k = type.kind === 'int2' || type.kind === 'int4' ? type.kind : 'int8';
            sequences.push(newSequence(await ctx.engine.allocateId(), schema.id, seqName, k, seqOptions(c.options ?? [], k).desc, { tableId, columnId: nextCol }));
            defaultExpr = nextvalDefault(schema.name === 'public' ? seqName : `${schema.name}.${seqName}`);
            break;
          }
          case 'CONSTR_FOREIGN': pendingFks.push({ c, cols: [colName], name: `${name}_${colName}_fkey` }); break;
          case 'CONSTR_GENERATED': throw sqlError(S.FEATURE_NOT_SUPPORTED, 'generated columns are not supported');
          default: break;
        }
      }
      if (tn.arrayBounds?.length && type.kind !== 'array') type = { kind: 'array', typmod: -1, elem: type };
      columns.push({ id: nextCol++, name: colName, type, notNull, defaultExpr, identity });
    } else if ('Constraint' in el) {
      const c = el.Constraint;
      const keys = (c.keys ?? []).map(stringOf);
      switch (c.contype) {
        case 'CONSTR_PRIMARY': uniques.push({ cols: keys, name: c.conname, primary: true, options: c.options }); break;
        case 'CONSTR_UNIQUE': uniques.push({ cols: keys, name: c.conname, primary: false }); break;
        case 'CONSTR_CHECK': {
          const refs = new Set<string>();
          nodeColumnNames(c.raw_expr, refs);
          // PostgreSQL names a CHECK after its column only when it references exactly one.
          const only = refs.size === 1 ? [...refs][0] : undefined;
          checks.push({ name: c.conname ?? uniqueName(only ? `${name}_${only}_check` : `${name}_check`, (n) => checks.some((x) => x.name === n)), expr: c.raw_expr as Node });
          break;
        }
        case 'CONSTR_FOREIGN': pendingFks.push({ c, cols: (c.fk_attrs ?? []).map(stringOf), name: `${name}_${(c.fk_attrs ?? []).map(stringOf).join('_')}_fkey` }); break;
        case 'CONSTR_EXCLUSION': throw sqlError(S.FEATURE_NOT_SUPPORTED, 'exclusion constraints are not supported');
        default: break;
      }
    } else if ('TableLikeClause' in el) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'CREATE TABLE ... LIKE is not supported');
  }
  const pks = uniques.filter((u) => u.primary);
  if (pks.length > 1) throw sqlError(S.INVALID_TABLE_DEFINITION, `multiple primary keys for table "${name}" are not allowed`);
  const colId = (n: string): number => {
    const c = columns.find((x) => x.name === n);
    if (!c) throw sqlError(S.UNDEFINED_COLUMN, `column "${n}" named in key does not exist`);
    return c.id;
  };
  let primary: IndexDesc;
  let hashColumns: number | undefined;
  if (pks.length) {
    const ids = pks[0].cols.map(colId);
    for (const id of ids) {
      const i = columns.findIndex((c) => c.id === id);
      columns[i] = { ...columns[i], notNull: true };
    }
    const pkName = pks[0].name ?? uniqueName(`${name}_pkey`, taken);
    takenNames.add(pkName);
    const pkOpts = primaryKeyOptions(pks[0].options ?? [], pks[0].cols);
    hashColumns = pkOpts.hashColumns;
    primary = { id: 1, name: pkName, columns: ids, directions: pks[0].cols.map((c) => (pkOpts.desc.has(c) ? 'desc' : 'asc')), unique: true, primary: true, constraint: true };
  } else {
    const id = nextCol++;
    columns.push({ id, name: 'rowid', type: t('int8'), notNull: true, hidden: true });
    primary = { id: 1, name: `${name}_rowid_key`, columns: [id], directions: ['asc'], unique: true, primary: true, constraint: false };
  }
  for (const p of pendingFks) {
    const self = p.c.pktable?.relname === name && !p.c.pktable.schemaname ? { id: tableId, columns, primary } : undefined;
    fks.push(fkFrom(ctx, p.c, p.cols, p.name, (n) => columns.find((x) => x.id === colId(n)) as ColumnDesc, self));
  }
  const indexes: IndexDesc[] = [];
  let nextIndex = 2;
  for (const u of uniques.filter((x) => !x.primary)) {
    const ids = u.cols.map(colId);
    const idxName = u.name ?? uniqueName(`${name}_${u.cols.join('_')}_key`, taken);
    takenNames.add(idxName);
    indexes.push({ id: nextIndex++, name: idxName, columns: ids, directions: ids.map(() => 'asc'), unique: true, primary: false, constraint: true });
  }
  const shards = tableShards(s.options ?? [], ctx.rt.session.setting('weft.default_table_shards'));
  const table: TableDesc = { kind: 'table', id: tableId, schemaId: schema.id, name, columns, nextColumnId: nextCol, primary, indexes, nextIndexId: nextIndex, checks, foreignKeys: fks, hashColumns, ...(shards === undefined ? {} : { shards }) };
  // Validate CHECK expressions and defaults now (bad column names fail the CREATE, as in PG).
  writeDescriptor(ctx.txn, table);
  for (const sq of sequences) writeDescriptor(ctx.txn, sq);
  await ddlDone(ctx);
  return 'CREATE TABLE';
}

/** A foreign key as recorded in the catalog (shown to tools; not enforced yet). */
/** Storage parameters of a PRIMARY KEY: Weft's hash_columns / desc_columns (see parse.ts), else 22023. */
/**
 * How many shards a new table spreads over: WITH (shards = N), else the session's
 * weft.default_table_shards (0: all of them). Other storage parameters (fillfactor, ...) are
 * accepted and ignored, as before: dumps from PostgreSQL carry them.
 */
function tableShards(options: readonly Node[], sessionDefault: string | undefined): number | undefined {
  let shards: number | undefined;
  for (const o of options) {
    if (!('DefElem' in o) || o.DefElem.defname !== 'shards') continue;
    shards = shardCount(defElemText(o.DefElem.arg), 'shards');
  }
  if (shards !== undefined) return shards;
  // The setting was validated by SET (settings.ts).
  const d = Number(sessionDefault ?? '0');
  return d === 0 ? undefined : d;
}

function defElemText(arg: Node | undefined): string {
  if (arg === undefined) return '';
  if ('Integer' in arg) return String(arg.Integer.ival ?? 0);
  if ('String' in arg) return arg.String.sval ?? '';
  if ('Float' in arg) return arg.Float.fval ?? '';
  return '';
}

function primaryKeyOptions(options: readonly Node[], cols: readonly string[]): { hashColumns?: number; desc: Set<string> } {
  let hashColumns: number | undefined;
  const desc = new Set<string>();
  for (const o of options) {
    if (!('DefElem' in o)) continue;
    const d = o.DefElem;
    const arg = d.arg;
    if (d.defname === 'hash_columns' && arg && 'Integer' in arg) {
      hashColumns = arg.Integer.ival ?? 0;
      if (hashColumns < 1 || hashColumns > cols.length) throw sqlError(S.INVALID_PARAMETER_VALUE, 'the hash part of a primary key must name at least one of its columns');
    } else if (d.defname === 'desc_columns' && arg && 'String' in arg) {
      for (const c of (arg.String.sval ?? '').split(',')) desc.add(c.trim());
    } else throw sqlError(S.INVALID_PARAMETER_VALUE, `unrecognized parameter "${d.defname}"`);
  }
  return { hashColumns, desc };
}

function fkFrom(ctx: ExecContext, c: Constraint, cols: string[], defaultName: string, columnOf: (name: string) => ColumnDesc, self?: { id: number; columns: readonly ColumnDesc[]; primary: IndexDesc }): ForeignKeyDesc {
  // A table referencing itself is not in the catalog yet while it is being created.
  const ref = self ?? ctx.env.resolveRelation(c.pktable?.schemaname, c.pktable?.relname ?? '');
  if (!ref || 'rows' in ref || ('kind' in ref && ref.kind !== 'table')) throw sqlError(S.UNDEFINED_TABLE, `relation "${c.pktable?.relname}" does not exist`);
  const refCols = (c.pk_attrs ?? []).map(stringOf);
  const refIds = refCols.map((n) => {
    const col = ref.columns.find((x) => x.name === n);
    if (!col) throw sqlError(S.UNDEFINED_COLUMN, `column "${n}" referenced in foreign key constraint does not exist`);
    return col.id;
  });
  const refColumns = refIds.length ? refIds : [...ref.primary.columns];
  if (!referencedIndex(ref, refColumns)) throw sqlError('42830', `there is no unique constraint matching given keys for referenced table "${c.pktable?.relname}"`);
  if (cols.length !== refColumns.length) throw sqlError('42830', 'number of referencing and referenced columns for foreign key disagree');
  // MATCH FULL is enforced (checkParents); MATCH PARTIAL is not implemented in Postgres either.
  if (c.fk_matchtype === 'p') throw sqlError(S.FEATURE_NOT_SUPPORTED, 'MATCH PARTIAL not yet implemented');
  const full = c.fk_matchtype === 'f' ? { matchType: 'f' as const } : {};
  const name = c.conname ?? defaultName;
  const referencing = cols.map(columnOf);
  for (const [k, col] of referencing.entries()) {
    const target = ref.columns.find((x) => x.id === refColumns[k]) as ColumnDesc;
    if (!fkTypesCompatible(col.type, target.type)) {
      throw sqlError(S.DATATYPE_MISMATCH, `foreign key constraint "${name}" cannot be implemented`, {
        detail: `Key columns "${col.name}" and "${target.name}" are of incompatible types: ${typeDisplayName(col.type)} and ${typeDisplayName(target.type)}.`,
      });
    }
  }
  return { name, columns: referencing.map((x) => x.id), refTableId: ref.id, refColumns, onDelete: c.fk_del_action ?? 'a', onUpdate: c.fk_upd_action ?? 'a', ...full };
}

// ---------------------------------------------------------------------------------------------
// indexes

async function backfillIndex(ctx: ExecContext, table: TableDesc, idx: IndexDesc): Promise<void> {
  const { start, end } = primarySpan(table);
  const seen = new Set<string>();
  for await (const kv of ctx.txn.scan(start, end)) {
    const row = decodeTableRow(table, kv.value, (c) => ctx.env.missingValue(c));
    if (!inIndex(ctx, table, idx, row)) continue;
    const e = indexEntry(table, idx, row);
    if (e.unique) {
      const k = e.key.toString('latin1');
      if (seen.has(k)) {
        const cols = idx.columns.map((id) => table.columns.findIndex((c) => c.id === id));
        throw sqlError(S.UNIQUE_VIOLATION, `could not create unique index "${idx.name}"`, {
          detail: `Key (${cols.map((i) => table.columns[i].name).join(', ')})=(${cols.map((i) => toText(row[i], table.columns[i].type)).join(', ')}) is duplicated.`,
          constraint: idx.name,
        });
      }
      seen.add(k);
    }
    ctx.txn.put(e.key, e.value);
  }
}

async function createIndex(ctx: ExecContext, s: IndexStmt): Promise<string> {
  const rel = findRelation(ctx, s.relation, 'table', false) as TableDesc;
  const cols = (s.indexParams ?? []).map((p) => {
    const e = (p as { IndexElem: import('libpg-query').IndexElem }).IndexElem;
    if (!e.name) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'expression indexes are not supported');
    const c = rel.columns.find((x) => x.name === e.name && !x.hidden);
    if (!c) throw sqlError(S.UNDEFINED_COLUMN, `column "${e.name}" does not exist`);
    return { id: c.id, dir: e.ordering === 'SORTBY_DESC' ? ('desc' as const) : ('asc' as const), name: c.name };
  });
  // Checked now, as PostgreSQL does: its columns exist, it is boolean, immutable, no subquery.
  if (s.whereClause) compilePredicate(ctx, rel, s.whereClause);
  if (s.accessMethod && s.accessMethod !== 'btree' && s.accessMethod !== 'hash') throw sqlError(S.FEATURE_NOT_SUPPORTED, `access method "${s.accessMethod}" is not supported`);
  const name = s.idxname ?? uniqueName(`${rel.name}_${cols.map((c) => c.name).join('_')}_${s.unique ? 'key' : 'idx'}`, (n) => relationNameTaken(ctx, rel.schemaId, n));
  if (relationNameTaken(ctx, rel.schemaId, name)) {
    if (s.if_not_exists) {
      notice(ctx, `relation "${name}" already exists, skipping`);
      return 'CREATE INDEX';
    }
    throw sqlError(S.DUPLICATE_TABLE, `relation "${name}" already exists`);
  }
  const idx: IndexDesc = {
    id: rel.nextIndexId, name, columns: cols.map((c) => c.id), directions: cols.map((c) => c.dir), unique: s.unique ?? false, primary: false, constraint: false,
    ...(s.whereClause ? { predicate: s.whereClause } : {}),
  };
  await backfillIndex(ctx, rel, idx);
  writeDescriptor(ctx.txn, { ...rel, indexes: [...rel.indexes, idx], nextIndexId: rel.nextIndexId + 1 });
  await ddlDone(ctx);
  return 'CREATE INDEX';
}

function findIndex(ctx: ExecContext, schemaName: string | undefined, name: string): { table: TableDesc; index: IndexDesc } | undefined {
  for (const r of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) {
    if (r.kind !== 'table') continue;
    if (schemaName && ctx.catalog.schemaName(r.schemaId) !== schemaName) continue;
    const index = [r.primary, ...r.indexes].find((i) => i.name === name);
    if (index) return { table: r, index };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// DROP

async function drop(ctx: ExecContext, s: DropStmt): Promise<string> {
  const kind = s.removeType ?? '';
  const tag: Record<string, string> = {
    OBJECT_TABLE: 'DROP TABLE', OBJECT_INDEX: 'DROP INDEX', OBJECT_SEQUENCE: 'DROP SEQUENCE', OBJECT_VIEW: 'DROP VIEW', OBJECT_SCHEMA: 'DROP SCHEMA',
    OBJECT_TYPE: 'DROP TYPE', OBJECT_EXTENSION: 'DROP EXTENSION', OBJECT_FUNCTION: 'DROP FUNCTION', OBJECT_TRIGGER: 'DROP TRIGGER',
  };
  if (!(kind in tag)) throw sqlError(S.FEATURE_NOT_SUPPORTED, `DROP ${kind.replace('OBJECT_', '')} is not supported`);
  if (kind === 'OBJECT_TYPE') return dropTypes(ctx, s.objects ?? [], s.missing_ok ?? false, s.behavior === 'DROP_CASCADE', enumHooks(ctx));
  if (kind === 'OBJECT_EXTENSION' || kind === 'OBJECT_FUNCTION' || kind === 'OBJECT_TRIGGER') {
    if (!s.missing_ok) throw sqlError(S.UNDEFINED_OBJECT, `${kind.replace('OBJECT_', '').toLowerCase()} does not exist`);
    return tag[kind];
  }
  const cascade = s.behavior === 'DROP_CASCADE';
  for (const obj of s.objects ?? []) {
    const names = ('List' in obj ? (obj.List.items ?? []) : [obj]).map(stringOf);
    const name = names[names.length - 1];
    const schemaName = names.length > 1 ? names[names.length - 2] : undefined;
    if (kind === 'OBJECT_SCHEMA') {
      const sc = ctx.catalog.schema(ctx.rt.session.databaseId, name);
      if (!sc) {
        if (s.missing_ok) notice(ctx, `schema "${name}" does not exist, skipping`);
        else throw sqlError(S.UNDEFINED_SCHEMA, `schema "${name}" does not exist`);
        continue;
      }
      const rels = ctx.catalog.relationsOf(ctx.rt.session.databaseId).filter((r) => r.schemaId === sc.id);
      const types = ctx.catalog.typesOf(ctx.rt.session.databaseId).filter((d) => d.schemaId === sc.id);
      if ((rels.length || types.length) && !cascade) {
        throw sqlError(S.DEPENDENT_OBJECTS, `cannot drop schema ${name} because other objects depend on it`, { hint: 'Use DROP ... CASCADE to drop the dependent objects too.' });
      }
      for (const r of rels) {
        deleteDescriptor(ctx.txn, r);
        if (r.kind === 'table') dropData(ctx, r.id);
      }
      // Types go last: columns of tables in other schemas that use them go with them (CASCADE).
      if (types.length) await dropTypes(ctx, types.map((d) => ({ List: { items: [{ String: { sval: sc.name } }, { String: { sval: d.name } }] } })), false, true, { ...enumHooks(ctx), done: async () => undefined, droppedTables: new Set(rels.map((r) => r.id)) });
      deleteDescriptor(ctx.txn, sc);
      continue;
    }
    if (kind === 'OBJECT_INDEX') {
      const found = findIndex(ctx, schemaName, name);
      if (!found) {
        if (s.missing_ok) notice(ctx, `index "${name}" does not exist, skipping`);
        else throw sqlError(S.UNDEFINED_OBJECT, `index "${name}" does not exist`);
        continue;
      }
      if (found.index.primary || found.index.constraint) {
        throw sqlError(S.DEPENDENT_OBJECTS, `cannot drop index ${name} because constraint ${name} on table ${found.table.name} requires it`, { hint: `You can drop constraint ${name} on table ${found.table.name} instead.` });
      }
      dropIndexData(ctx, found.table, found.index);
      writeDescriptor(ctx.txn, { ...found.table, indexes: found.table.indexes.filter((i) => i !== found.index) });
      continue;
    }
    const want = kind === 'OBJECT_TABLE' ? 'table' : kind === 'OBJECT_VIEW' ? 'view' : 'sequence';
    const rel = findRelation(ctx, { relname: name, schemaname: schemaName }, want, s.missing_ok ?? false);
    if (!rel) {
      notice(ctx, `${want === 'table' ? 'table' : want} "${name}" does not exist, skipping`);
      continue;
    }
    if (rel.kind === 'table') {
      // Foreign keys of other tables that reference this one: refused, or dropped with CASCADE.
      for (const other of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) {
        if (other.kind !== 'table' || other.id === rel.id) continue;
        const refs = (other.foreignKeys ?? []).filter((fk) => fk.refTableId === rel.id);
        if (!refs.length) continue;
        if (!cascade) {
          throw sqlError(S.DEPENDENT_OBJECTS, `cannot drop table ${rel.name} because other objects depend on it`, {
            detail: refs.map((fk) => `constraint ${fk.name} on table ${other.name} depends on table ${rel.name}`).join('\n'),
            hint: 'Use DROP ... CASCADE to drop the dependent objects too.',
          });
        }
        notice(ctx, `drop cascades to constraint ${refs.map((fk) => fk.name).join(', ')} on table ${other.name}`);
        writeDescriptor(ctx.txn, { ...other, foreignKeys: (other.foreignKeys ?? []).filter((fk) => fk.refTableId !== rel.id) });
      }
    }
    deleteDescriptor(ctx.txn, rel);
    if (rel.kind === 'table') {
      dropData(ctx, rel.id);
      // Owned sequences go with the table.
      for (const r of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) {
        if (r.kind === 'sequence' && r.ownedBy?.tableId === rel.id) deleteDescriptor(ctx.txn, r);
      }
    }
    if (rel.kind === 'sequence') ctx.engine.forgetSequence(rel.id);
  }
  await ddlDone(ctx);
  return tag[kind];
}

function dropIndexData(ctx: ExecContext, table: TableDesc, idx: IndexDesc): void {
  dropData(ctx, table.id, idx.id);
}

/**
 * Drops a table's (or one index's) stored data without touching its rows: one marker, kept on
 * every shard, that each shard's gc acts on once the drop is older than the gc ttl (see
 * @weft/storage dropped-data.ts). Index and table ids are never reused, so nothing new can land
 * in the dropped span, and no descriptor leads a read there any more.
 */
function dropData(ctx: ExecContext, tableId: number, indexId?: number): void {
  ctx.txn.put(droppedDataMarker(tableId, indexId), DROPPED_MARKER_VALUE);
}

const DROPPED_MARKER_VALUE = Buffer.from([1]);

// ---------------------------------------------------------------------------------------------
// TRUNCATE

/**
 * Deletes every row of `rel` with its index entries (TRUNCATE: each deletion is a change CDC
 * consumers see; DROP uses dropData instead). Keys are collected before deleting: writes wait for the scan
 * to end (see Txn staging), and a big table's deletes are then staged as they go.
 */
async function deleteAllRows(ctx: ExecContext, rel: TableDesc): Promise<void> {
  const { start, end } = primarySpan(rel);
  const keys: Buffer[] = [];
  for await (const kv of ctx.txn.scan(start, end)) {
    const row = decodeTableRow(rel, kv.value, (c) => ctx.env.missingValue(c));
    keys.push(kv.key, ...rel.indexes.map((i) => indexEntry(rel, i, row).key));
  }
  for (const k of keys) {
    ctx.txn.delete(k);
    const staging = ctx.txn.yieldToStaging();
    if (staging) await staging;
  }
}

async function truncate(ctx: ExecContext, s: TruncateStmt): Promise<string> {
  const listed = (s.relations ?? []).map((r) => findRelation(ctx, (r as { RangeVar: RangeVar }).RangeVar, 'table', false) as TableDesc);
  // Foreign keys, as Postgres: a table referenced from a table outside the truncated set is
  // 0A000 unless CASCADE, which truncates the referencing tables too (transitively).
  const tables = ctx.catalog.relationsOf(ctx.rt.session.databaseId).filter((q): q is TableDesc => q.kind === 'table');
  const set = new Map<number, TableDesc>();
  for (const rel of listed) set.set(rel.id, rel);
  const cascade = s.behavior === 'DROP_CASCADE';
  for (let grew = true; grew; ) {
    grew = false;
    for (const child of tables) {
      if (set.has(child.id)) continue;
      const fk = (child.foreignKeys ?? []).find((f) => set.has(f.refTableId));
      if (!fk) continue;
      const parent = set.get(fk.refTableId) as TableDesc;
      if (!cascade) {
        throw sqlError(S.FEATURE_NOT_SUPPORTED, 'cannot truncate a table referenced in a foreign key constraint', {
          detail: `Table "${child.name}" references "${parent.name}".`,
          hint: `Truncate table "${child.name}" at the same time, or use TRUNCATE ... CASCADE.`,
        });
      }
      notice(ctx, `truncate cascades to table "${child.name}"`);
      set.set(child.id, child);
      grew = true;
    }
  }
  for (const rel of set.values()) {
    await deleteAllRows(ctx, rel);
    if (s.restart_seqs) {
      for (const q of ctx.catalog.relationsOf(ctx.rt.session.databaseId)) {
        if (q.kind === 'sequence' && q.ownedBy?.tableId === rel.id) await ctx.engine.setval(q, BigInt(q.start), false);
      }
    }
  }
  return 'TRUNCATE TABLE';
}

// ---------------------------------------------------------------------------------------------
// sequences, views

async function createSequence(ctx: ExecContext, s: CreateSeqStmt): Promise<string> {
  const schema = schemaFor(ctx, s.sequence);
  const name = s.sequence?.relname ?? '';
  if (ctx.catalog.relation(schema.id, name)) {
    if (s.if_not_exists) {
      notice(ctx, `relation "${name}" already exists, skipping`);
      return 'CREATE SEQUENCE';
    }
    throw sqlError(S.DUPLICATE_TABLE, `relation "${name}" already exists`);
  }
  const opts = seqOptions(s.options ?? [], 'int8');
  const ownedBy = opts.ownedBy === undefined ? undefined : sequenceOwner(ctx, schema.id, opts.ownedBy);
  writeDescriptor(ctx.txn, newSequence(await ctx.engine.allocateId(), schema.id, name, 'int8', opts.desc, ownedBy));
  await ddlDone(ctx);
  return 'CREATE SEQUENCE';
}

async function createView(ctx: ExecContext, s: ViewStmt, planner: Planner, sqlText: string): Promise<string> {
  const schema = schemaFor(ctx, s.view);
  const name = s.view?.relname ?? '';
  const existing = ctx.catalog.relation(schema.id, name);
  if (existing && !(s.replace && existing.kind === 'view')) throw sqlError(S.DUPLICATE_TABLE, `relation "${name}" already exists`);
  const query = s.query as Node;
  if (!('SelectStmt' in query)) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'view query must be a SELECT');
  planner.planSelect(query.SelectStmt, undefined, { types: [] });
  const id = existing?.id ?? (await ctx.engine.allocateId());
  writeDescriptor(ctx.txn, { kind: 'view', id, schemaId: schema.id, name, query, sql: sqlText } satisfies ViewDesc);
  await ddlDone(ctx);
  return 'CREATE VIEW';
}

// ---------------------------------------------------------------------------------------------
// ALTER TABLE

async function rename(ctx: ExecContext, s: RenameStmt): Promise<string> {
  const newName = s.newname ?? '';
  if (s.renameType === 'OBJECT_TABLE' || s.renameType === 'OBJECT_SEQUENCE' || s.renameType === 'OBJECT_VIEW') {
    const want = s.renameType === 'OBJECT_TABLE' ? 'table' : s.renameType === 'OBJECT_VIEW' ? 'view' : 'sequence';
    const rel = findRelation(ctx, s.relation, want, s.missing_ok ?? false);
    if (!rel) return 'ALTER TABLE';
    if (ctx.catalog.relation(rel.schemaId, newName)) throw sqlError(S.DUPLICATE_TABLE, `relation "${newName}" already exists`);
    writeDescriptor(ctx.txn, { ...rel, name: newName });
    await ddlDone(ctx);
    return want === 'table' ? 'ALTER TABLE' : want === 'view' ? 'ALTER VIEW' : 'ALTER SEQUENCE';
  }
  if (s.renameType === 'OBJECT_COLUMN') {
    const rel = findRelation(ctx, s.relation, 'table', s.missing_ok ?? false) as TableDesc | undefined;
    if (!rel) return 'ALTER TABLE';
    const col = rel.columns.find((c) => c.name === s.subname && !c.hidden);
    if (!col) throw sqlError(S.UNDEFINED_COLUMN, `column "${s.subname}" does not exist`);
    if (rel.columns.some((c) => c.name === newName)) throw sqlError(S.DUPLICATE_COLUMN, `column "${newName}" of relation "${rel.name}" already exists`);
    // Stored expressions name columns: CHECKs and index predicates follow the rename.
    const rename = <N>(n: N): N => renameColumnRefs(n, col.name, newName);
    writeDescriptor(ctx.txn, {
      ...rel,
      columns: rel.columns.map((c) => (c === col ? { ...c, name: newName } : c)),
      checks: rel.checks.map((ch) => ({ ...ch, expr: rename(ch.expr) })),
      indexes: rel.indexes.map((i) => (i.predicate ? { ...i, predicate: rename(i.predicate) } : i)),
    });
    await ddlDone(ctx);
    return 'ALTER TABLE';
  }
  if (s.renameType === 'OBJECT_INDEX' || s.renameType === 'OBJECT_TABCONSTRAINT') {
    const found = s.renameType === 'OBJECT_INDEX' ? findIndex(ctx, s.relation?.schemaname, s.relation?.relname ?? '') : findIndex(ctx, undefined, s.subname ?? '');
    if (!found) throw sqlError(S.UNDEFINED_OBJECT, `index "${s.relation?.relname ?? s.subname}" does not exist`);
    const rn = (i: IndexDesc): IndexDesc => (i === found.index ? { ...i, name: newName } : i);
    writeDescriptor(ctx.txn, { ...found.table, primary: rn(found.table.primary), indexes: found.table.indexes.map(rn) });
    await ddlDone(ctx);
    return s.renameType === 'OBJECT_INDEX' ? 'ALTER INDEX' : 'ALTER TABLE';
  }
  if (s.renameType === 'OBJECT_SCHEMA') {
    const sc = ctx.catalog.schema(ctx.rt.session.databaseId, s.subname ?? '');
    if (!sc) throw sqlError(S.UNDEFINED_SCHEMA, `schema "${s.subname}" does not exist`);
    writeDescriptor(ctx.txn, { ...sc, name: newName });
    await ddlDone(ctx);
    return 'ALTER SCHEMA';
  }
  throw sqlError(S.FEATURE_NOT_SUPPORTED, `ALTER ... RENAME of ${s.renameType} is not supported`);
}

async function allRows(ctx: ExecContext, table: TableDesc): Promise<Row[]> {
  const { start, end } = primarySpan(table);
  const rows: Row[] = [];
  for await (const kv of ctx.txn.scan(start, end)) rows.push(decodeTableRow(table, kv.value, (c) => ctx.env.missingValue(c)));
  return rows;
}

async function alterTable(ctx: ExecContext, s: AlterTableStmt): Promise<string> {
  if (s.objtype === 'OBJECT_INDEX' || s.objtype === 'OBJECT_SEQUENCE' || s.objtype === 'OBJECT_VIEW') {
    return s.objtype === 'OBJECT_INDEX' ? 'ALTER INDEX' : s.objtype === 'OBJECT_VIEW' ? 'ALTER VIEW' : 'ALTER SEQUENCE';
  }
  // ALTER TABLE ... OWNER TO applies to any relation in PostgreSQL (pg_dump emits it for views
  // and sequences too); Weft has one role, so it checks the relation exists and does nothing.
  const cmds = (s.cmds ?? []).map((c) => (c as { AlterTableCmd: AlterTableCmd }).AlterTableCmd);
  if (cmds.length > 0 && cmds.every((c) => c.subtype === 'AT_ChangeOwner')) {
    const rel = ctx.env.resolveRelation(s.relation?.schemaname, s.relation?.relname ?? '');
    if (!rel || 'rows' in rel) {
      if (!s.missing_ok) throw sqlError(S.UNDEFINED_TABLE, `relation "${s.relation?.relname}" does not exist`);
      notice(ctx, `relation "${s.relation?.relname}" does not exist, skipping`);
    }
    return 'ALTER TABLE';
  }
  let table = findRelation(ctx, s.relation, 'table', s.missing_ok ?? false) as TableDesc | undefined;
  if (!table) {
    notice(ctx, `relation "${s.relation?.relname}" does not exist, skipping`);
    return 'ALTER TABLE';
  }
  for (const c of s.cmds ?? []) table = await alterCmd(ctx, table, (c as { AlterTableCmd: AlterTableCmd }).AlterTableCmd);
  writeDescriptor(ctx.txn, table);
  await ddlDone(ctx);
  return 'ALTER TABLE';
}

async function alterCmd(ctx: ExecContext, table: TableDesc, c: AlterTableCmd): Promise<TableDesc> {
  const colByName = (n: string | undefined): ColumnDesc => {
    const col = table.columns.find((x) => x.name === n && !x.hidden);
    if (!col) throw sqlError(S.UNDEFINED_COLUMN, `column "${n}" of relation "${table.name}" does not exist`);
    return col;
  };
  const replaceCol = (col: ColumnDesc, next: ColumnDesc): TableDesc => ({ ...table, columns: table.columns.map((x) => (x === col ? next : x)) });
  switch (c.subtype) {
    case 'AT_AddColumn': {
      const cd = (c.def as { ColumnDef: ColumnDef }).ColumnDef;
      if (table.columns.some((x) => x.name === cd.colname && !x.hidden)) {
        if (c.missing_ok) {
          notice(ctx, `column "${cd.colname}" of relation "${table.name}" already exists, skipping`);
          return table;
        }
        throw sqlError(S.DUPLICATE_COLUMN, `column "${cd.colname}" of relation "${table.name}" already exists`);
      }
      const tn = cd.typeName ?? {};
      const rawName = (tn.names ?? []).map(stringOf).filter((x) => x !== 'pg_catalog').join('.');
      if (SERIAL_NAMES[rawName]) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'ADD COLUMN with a serial type is not supported; create a sequence and use DEFAULT nextval()');
      const type = typeFromTypeName(tn);
      let notNull = false;
      let defaultExpr: Node | undefined;
      const newIndexes: { unique: boolean; name?: string; primary: boolean }[] = [];
      const checks: CheckDesc[] = [];
      for (const cn of cd.constraints ?? []) {
        const k = (cn as { Constraint: Constraint }).Constraint;
        if (k.contype === 'CONSTR_NOTNULL') notNull = true;
        else if (k.contype === 'CONSTR_DEFAULT') defaultExpr = k.raw_expr;
        else if (k.contype === 'CONSTR_UNIQUE') newIndexes.push({ unique: true, name: k.conname, primary: false });
        else if (k.contype === 'CONSTR_PRIMARY') newIndexes.push({ unique: true, name: k.conname, primary: true });
        else if (k.contype === 'CONSTR_CHECK') checks.push({ name: k.conname ?? `${table.name}_${cd.colname}_check`, expr: k.raw_expr as Node });
        else if (k.contype === 'CONSTR_FOREIGN' || k.contype === 'CONSTR_NULL') continue;
        else throw sqlError(S.FEATURE_NOT_SUPPORTED, `constraint ${k.contype} in ADD COLUMN is not supported`);
      }
      let missingValue: string | undefined;
      if (defaultExpr) {
        // Existing rows see the default as evaluated now (stored once in the descriptor).
        const p = newPlanner(ctx.env);
        const e = p.compiler(new Scope([]), { types: [] }).compile(defaultExpr, type);
        if (e.slots.length) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'ADD COLUMN with a volatile DEFAULT is not supported');
        const v = castValue(e.fn({ row: [], outer: undefined, rt: ctx.rt }), e.type, type, false);
        missingValue = v === null ? undefined : toText(v, type);
      }
      const rows = notNull && missingValue === undefined ? await allRows(ctx, table) : [];
      if (rows.length) throw sqlError(S.NOT_NULL_VIOLATION, `column "${cd.colname}" of relation "${table.name}" contains null values`);
      const col: ColumnDesc = { id: table.nextColumnId, name: cd.colname ?? '', type, notNull, defaultExpr, missingValue };
      let next: TableDesc = { ...table, columns: [...table.columns.filter((x) => !x.hidden), col, ...table.columns.filter((x) => x.hidden)], nextColumnId: table.nextColumnId + 1, checks: [...table.checks, ...checks] };
      for (const ni of newIndexes) {
        if (ni.primary) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'ADD COLUMN ... PRIMARY KEY is not supported');
        const idx: IndexDesc = { id: next.nextIndexId, name: ni.name ?? `${table.name}_${col.name}_key`, columns: [col.id], directions: ['asc'], unique: true, primary: false, constraint: true };
        await backfillIndex(ctx, next, idx);
        next = { ...next, indexes: [...next.indexes, idx], nextIndexId: next.nextIndexId + 1 };
      }
      return next;
    }
    case 'AT_DropColumn': {
      const col = table.columns.find((x) => x.name === c.name && !x.hidden);
      if (!col) {
        if (c.missing_ok) {
          notice(ctx, `column "${c.name}" of relation "${table.name}" does not exist, skipping`);
          return table;
        }
        throw sqlError(S.UNDEFINED_COLUMN, `column "${c.name}" of relation "${table.name}" does not exist`);
      }
      return dropColumn(ctx, table, col);
    }
    case 'AT_ColumnDefault': {
      const col = colByName(c.name);
      return replaceCol(col, { ...col, defaultExpr: c.def });
    }
    case 'AT_DropNotNull': {
      const col = colByName(c.name);
      if (table.primary.columns.includes(col.id)) throw sqlError(S.INVALID_TABLE_DEFINITION, `column "${col.name}" is in a primary key`);
      return replaceCol(col, { ...col, notNull: false });
    }
    case 'AT_SetNotNull': {
      const col = colByName(c.name);
      const i = table.columns.indexOf(col);
      if ((await allRows(ctx, table)).some((r) => r[i] === null)) throw sqlError(S.NOT_NULL_VIOLATION, `column "${col.name}" of relation "${table.name}" contains null values`);
      return replaceCol(col, { ...col, notNull: true });
    }
    case 'AT_AlterColumnType': {
      const col = colByName(c.name);
      return alterColumnType(ctx, table, col, (c.def as { ColumnDef: ColumnDef }).ColumnDef, (t) => allRows(ctx, t));
    }
    case 'AT_AddConstraint': {
      const k = (c.def as { Constraint: Constraint }).Constraint;
      const keys = (k.keys ?? []).map(stringOf);
      if (k.contype === 'CONSTR_PRIMARY') return addPrimaryKey(ctx, table, keys, k.conname);
      if (k.contype === 'CONSTR_UNIQUE') {
        const ids = keys.map((n) => colByName(n).id);
        const idx: IndexDesc = { id: table.nextIndexId, name: k.conname ?? uniqueName(`${table.name}_${keys.join('_')}_key`, (n) => relationNameTaken(ctx, table.schemaId, n)), columns: ids, directions: ids.map(() => 'asc'), unique: true, primary: false, constraint: true };
        await backfillIndex(ctx, table, idx);
        return { ...table, indexes: [...table.indexes, idx], nextIndexId: table.nextIndexId + 1 };
      }
      if (k.contype === 'CONSTR_CHECK') {
        const refs = new Set<string>();
        nodeColumnNames(k.raw_expr, refs);
        const only = refs.size === 1 ? [...refs][0] : undefined;
        const check: CheckDesc = { name: k.conname ?? uniqueName(only ? `${table.name}_${only}_check` : `${table.name}_check`, (n) => table.checks.some((x) => x.name === n)), expr: k.raw_expr as Node };
        const next = { ...table, checks: [...table.checks, check] };
        const v = new RowValidator({ ...next, columns: next.columns.map((x) => ({ ...x, notNull: false })) }, newPlanner(ctx.env), { types: [] });
        for (const r of await allRows(ctx, table)) {
          try {
            v.validate(r, ctx.rt);
          } catch (e) {
            if (e instanceof PgError && e.code === S.CHECK_VIOLATION) throw sqlError(S.CHECK_VIOLATION, `check constraint "${check.name}" of relation "${table.name}" is violated by some row`, { constraint: check.name });
            throw e;
          }
        }
        return next;
      }
      if (k.contype === 'CONSTR_FOREIGN') {
        const fk = fkFrom(ctx, k, (k.fk_attrs ?? []).map(stringOf), `${table.name}_${(k.fk_attrs ?? []).map(stringOf).join('_')}_fkey`, colByName, k.pktable?.relname === table.name ? table : undefined);
        const next = { ...table, foreignKeys: [...(table.foreignKeys ?? []), fk] };
        // Existing rows must already satisfy the new key (as ALTER TABLE validates in Postgres).
        for (const r of await allRows(ctx, table)) await checkParents(ctx, { ...next, foreignKeys: [fk] }, r);
        return next;
      }
      throw sqlError(S.FEATURE_NOT_SUPPORTED, `ADD CONSTRAINT of type ${k.contype} is not supported`);
    }
    case 'AT_DropConstraint': {
      const name = c.name ?? '';
      if (table.checks.some((x) => x.name === name)) return { ...table, checks: table.checks.filter((x) => x.name !== name) };
      if ((table.foreignKeys ?? []).some((x) => x.name === name)) return { ...table, foreignKeys: (table.foreignKeys ?? []).filter((x) => x.name !== name) };
      const idx = table.indexes.find((i) => i.name === name && i.constraint);
      if (idx) {
        dropIndexData(ctx, table, idx);
        return { ...table, indexes: table.indexes.filter((i) => i !== idx) };
      }
      if (table.primary.name === name && table.primary.constraint) return dropPrimaryKey(ctx, table, c.behavior === 'DROP_CASCADE');
      if (c.missing_ok) {
        notice(ctx, `constraint "${name}" of relation "${table.name}" does not exist, skipping`);
        return table;
      }
      throw sqlError(S.UNDEFINED_OBJECT, `constraint "${name}" of relation "${table.name}" does not exist`);
    }
    case 'AT_AddIdentity': {
      // ALTER COLUMN c ADD GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY [(SEQUENCE NAME s, ...)]:
      // how pg_dump restores an identity column (its CREATE TABLE has the bare NOT NULL column).
      const col = colByName(c.name);
      const def = (c.def as { Constraint: Constraint }).Constraint;
      // The checks in PostgreSQL's order: the type (at parse analysis), then the column's state.
      const k = col.type.kind;
      if (k !== 'int2' && k !== 'int4' && k !== 'int8') throw sqlError(S.INVALID_PARAMETER_VALUE, `identity column type must be smallint, integer, or bigint`);
      if (col.identity) throw sqlError('55000', `column "${col.name}" of relation "${table.name}" is already an identity column`);
      if (col.defaultExpr) throw sqlError('55000', `column "${col.name}" of relation "${table.name}" already has a default value`);
      if (!col.notNull) throw sqlError('55000', `column "${col.name}" of relation "${table.name}" must be declared NOT NULL before identity can be added`);
      const options = def.options ?? [];
      const named = options.map((o) => ('DefElem' in o ? o.DefElem : undefined)).find((d) => d?.defname === 'sequence_name');
      const parts = named ? ((named.arg as { List: { items?: Node[] } }).List.items ?? []).map(stringOf) : [];
      const schemaId = parts.length > 1 ? (ctx.catalog.schema(ctx.rt.session.databaseId, parts[parts.length - 2])?.id ?? -1) : table.schemaId;
      if (schemaId !== table.schemaId) throw sqlError('55000', 'sequence must be in same schema as table it is linked to');
      const seqName = parts.length ? parts[parts.length - 1] : uniqueName(`${table.name}_${col.name}_seq`, (n) => relationNameTaken(ctx, table.schemaId, n));
      if (relationNameTaken(ctx, table.schemaId, seqName)) throw sqlError(S.DUPLICATE_TABLE, `relation "${seqName}" already exists`);
      writeDescriptor(ctx.txn, newSequence(await ctx.engine.allocateId(), table.schemaId, seqName, k, seqOptions(options, k).desc, { tableId: table.id, columnId: col.id }));
      const schemaName = ctx.catalog.schemaName(table.schemaId);
      return replaceCol(col, { ...col, identity: def.generated_when === 'a' ? 'a' : 'd', defaultExpr: nextvalDefault(schemaName === 'public' ? seqName : `${schemaName}.${seqName}`) });
    }
    // Storage and compression are TOAST settings; Weft has no TOAST, so a dump that sets them
    // restores with them ignored.
    case 'AT_SetStorage':
    case 'AT_SetCompression':
    case 'AT_ChangeOwner':
    case 'AT_SetRelOptions':
    case 'AT_ResetRelOptions': {
      const opts = (c.def !== undefined && 'List' in c.def ? c.def.List.items ?? [] : []) as readonly Node[];
      if (opts.some((o) => 'DefElem' in o && o.DefElem.defname === 'shards')) {
        throw sqlError(S.FEATURE_NOT_SUPPORTED, 'changing the shard count of an existing table is not supported', { hint: 'Create a new table WITH (shards = N) and copy the rows into it.' });
      }
      return table;
    }
    case 'AT_SetStatistics':
    case 'AT_ClusterOn':
    case 'AT_EnableTrig':
    case 'AT_DisableTrig':
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
      return table;
    default:
      throw sqlError(S.FEATURE_NOT_SUPPORTED, `ALTER TABLE ${String(c.subtype).replace('AT_', '')} is not supported`);
  }
}

/** ADD PRIMARY KEY on a table keyed by its hidden row id: every row moves to its new key. */
/**
 * ALTER TABLE ... DROP CONSTRAINT <primary key> (pg_restore --clean sends it before DROP TABLE):
 * the table goes back to a hidden row id as its storage key, as if created without a primary
 * key, and every row is rewritten under a fresh id; the key columns stay NOT NULL, as in
 * PostgreSQL. Foreign keys that reference the key are refused (2BP01) or dropped with CASCADE.
 */
async function dropPrimaryKey(ctx: ExecContext, table: TableDesc, cascade: boolean): Promise<TableDesc> {
  const pkName = table.primary.name;
  const onKey = (fk: ForeignKeyDesc): boolean => fk.refTableId === table.id && referencedIndex(table, fk.refColumns) === table.primary;
  const others = ctx.catalog.relationsOf(ctx.rt.session.databaseId).filter((r): r is TableDesc => r.kind === 'table' && r.id !== table.id && (r.foreignKeys ?? []).some(onKey));
  const dependents = [...others, table].flatMap((r) => (r.foreignKeys ?? []).filter(onKey).map((fk) => ({ table: r.id === table.id ? table : r, fk })));
  if (dependents.length > 0 && !cascade) {
    throw sqlError(S.DEPENDENT_OBJECTS, `cannot drop constraint ${pkName} on table ${table.name} because other objects depend on it`, {
      detail: dependents.map((d) => `constraint ${d.fk.name} on table ${d.table.name} depends on index ${pkName}`).join('\n'),
      hint: 'Use DROP ... CASCADE to drop the dependent objects too.',
    });
  }
  for (const d of dependents) notice(ctx, `drop cascades to constraint ${d.fk.name} on table ${d.table.name}`);
  for (const r of others) writeDescriptor(ctx.txn, { ...r, foreignKeys: (r.foreignKeys ?? []).filter((fk) => !onKey(fk)) });
  const rows = await allRows(ctx, table);
  const rowId = table.nextColumnId;
  const next: TableDesc = {
    ...table,
    columns: [...table.columns, { id: rowId, name: 'rowid', type: t('int8'), notNull: true, hidden: true }],
    nextColumnId: rowId + 1,
    primary: { id: 1, name: `${table.name}_rowid_key`, columns: [rowId], directions: ['asc'], unique: true, primary: true, constraint: false },
    foreignKeys: (table.foreignKeys ?? []).filter((fk) => !onKey(fk)),
    hashColumns: undefined,
  };
  // Every old key goes before any new one is written: a fresh row id may encode like an old key.
  for (const r of rows) {
    ctx.txn.delete(primaryKey(table, r));
    for (const i of table.indexes) if (inIndex(ctx, table, i, r)) ctx.txn.delete(indexEntry(table, i, r).key);
    const staging = ctx.txn.yieldToStaging();
    if (staging) await staging;
  }
  for (const r of rows) {
    const nr = [...r, newRowId()];
    ctx.txn.put(primaryKey(next, nr), encodeTableRow(next, nr));
    for (const i of next.indexes) {
      if (!inIndex(ctx, next, i, nr)) continue;
      const e = indexEntry(next, i, nr);
      ctx.txn.put(e.key, e.value);
    }
    const staging = ctx.txn.yieldToStaging();
    if (staging) await staging;
  }
  return next;
}

async function addPrimaryKey(ctx: ExecContext, table: TableDesc, keys: string[], conname: string | undefined): Promise<TableDesc> {
  const hidden = table.columns.find((c) => c.hidden);
  if (!hidden) throw sqlError(S.INVALID_TABLE_DEFINITION, `multiple primary keys for table "${table.name}" are not allowed`);
  const ids = keys.map((n) => {
    const col = table.columns.find((x) => x.name === n && !x.hidden);
    if (!col) throw sqlError(S.UNDEFINED_COLUMN, `column "${n}" of relation "${table.name}" does not exist`);
    return col.id;
  });
  const rows = await allRows(ctx, table);
  const name = conname ?? uniqueName(`${table.name}_pkey`, (n) => relationNameTaken(ctx, table.schemaId, n));
  const next: TableDesc = {
    ...table,
    columns: table.columns.filter((c) => !c.hidden).map((c) => (ids.includes(c.id) ? { ...c, notNull: true } : c)),
    primary: { id: 1, name, columns: ids, directions: ids.map(() => 'asc'), unique: true, primary: true, constraint: true },
  };
  const hiddenIdx = table.columns.indexOf(hidden);
  const seen = new Set<string>();
  for (const r of rows) {
    ctx.txn.delete(primaryKey(table, r));
    for (const i of table.indexes) ctx.txn.delete(indexEntry(table, i, r).key);
    const staging = ctx.txn.yieldToStaging();
    if (staging) await staging;
  }
  for (const r of rows) {
    const nr = r.filter((_v, i) => i !== hiddenIdx);
    for (const id of ids) {
      const i = next.columns.findIndex((c) => c.id === id);
      if (nr[i] === null) throw sqlError(S.NOT_NULL_VIOLATION, `column "${next.columns[i].name}" of relation "${table.name}" contains null values`);
    }
    const key = primaryKey(next, nr);
    const k = key.toString('latin1');
    if (seen.has(k)) {
      throw sqlError(S.UNIQUE_VIOLATION, `could not create unique index "${name}"`, {
        detail: `Key (${keys.join(', ')})=(${ids.map((id) => { const i = next.columns.findIndex((c) => c.id === id); return toText(nr[i], next.columns[i].type); }).join(', ')}) is duplicated.`,
        constraint: name,
      });
    }
    seen.add(k);
    ctx.txn.put(key, encodeTableRow(next, nr));
    for (const i of next.indexes) {
      const e = indexEntry(next, i, nr);
      ctx.txn.put(e.key, e.value);
    }
    const staging = ctx.txn.yieldToStaging();
    if (staging) await staging;
  }
  return next;
}

export { PG_CATALOG_ID, INFORMATION_SCHEMA_ID, tableScope };
export type { DatabaseDesc };
