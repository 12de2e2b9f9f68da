// pg_catalog views drivers and tools read (psql \d, node-postgres, TypeORM, Knex, pgbench).
import { FIRST_USER_ID } from '../store';
import { OID_BASE, type Descriptor, type ForeignKeyDesc, type IndexDesc } from '../descriptors';
import { INFORMATION_SCHEMA_ID, PG_CATALOG_ID } from '../catalog';
import type { Row } from '../../runtime';
import { SETTINGS } from '../../settings';
import { INT2VECTOR, OIDVECTOR, TYPE_INFO, type TypeKind, arrayOf, t, typeOid, typeLen } from '../../types/types';
import { functionNames } from '../../functions/registry';
import type { SqlType } from '../../types/types';
import { checkOid, columnDefault, fkOid, hasDefault, indexPredicate, findRelation, indexDef, indexOid, nextvalTargets, relationNamer, relOid, schemaOid, viewDefinition, viewDependencies } from './describe';
import { allSystemViews, defineView, type ViewContext } from './registry';

const oid = t('oid');
const name = t('name');
const text = t('text');
const bool = t('bool');
const int2 = t('int2');
const int4 = t('int4');
const char = t('char');
const regproc = t('regproc');
/** aclitem[] is read as text[] (Weft has no privileges to list; every ACL is NULL = default). */
const acl = arrayOf(text);
const cols = (spec: Record<string, SqlType>): { name: string; type: SqlType }[] => Object.entries(spec).map(([n, type]) => ({ name: n, type }));
const BOOTSTRAP_USER_OID = 10;

/** pg_attrdef OID of a table's column default (column index i), also used in pg_depend. */
const attrdefOid = (tableId: number, i: number): number => 4_000_000 + tableId * 64 + i;
/** PostgreSQL 15's owner of the public schema, the pseudo-role pg_database_owner. */
const PG_DATABASE_OWNER_OID = 6171;
/** The public schema's ACL as initdb creates it in PostgreSQL 15 (also its pg_init_privs row). */
const PUBLIC_SCHEMA_ACL = ['pg_database_owner=UC/pg_database_owner', '=U/pg_database_owner'];

function* tables(ctx: ViewContext) {
  for (const r of ctx.catalog.relationsOf(ctx.session.databaseId)) yield r;
}

defineView({
  schema: 'pg_catalog',
  name: 'pg_namespace',
  oid: 2615,
  columns: cols({ oid, nspname: name, nspowner: oid, nspacl: acl }),
  *rows(ctx) {
    yield [PG_CATALOG_ID, 'pg_catalog', BOOTSTRAP_USER_OID, null];
    yield [INFORMATION_SCHEMA_ID, 'information_schema', BOOTSTRAP_USER_OID, null];
    // public is owned by pg_database_owner with initdb's ACL, as in PostgreSQL 15, so pg_dump
    // treats it as the built-in schema (no CREATE SCHEMA, no GRANT/REVOKE) as it does there.
    for (const s of ctx.catalog.schemasOf(ctx.session.databaseId)) {
      const isPublic = s.name === 'public';
      yield [schemaOid(s.id), s.name, isPublic ? PG_DATABASE_OWNER_OID : BOOTSTRAP_USER_OID, isPublic ? PUBLIC_SCHEMA_ACL : null];
    }
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_database',
  oid: 1262,
  columns: cols({ oid, datname: name, datdba: oid, encoding: int4, datcollate: name, datctype: name, datistemplate: bool, datallowconn: bool, datconnlimit: int4, dattablespace: oid, datacl: arrayOf(text), datlocprovider: char, daticulocale: text, daticurules: text, datcollversion: text, datfrozenxid: t('int8'), datminmxid: t('int8') }),
  *rows(ctx) {
    // datfrozenxid/datminmxid: PostgreSQL's values for a database that never needed freezing
    // (pg_dump's archive formats read them with the database entry).
    for (const d of ctx.catalog.databases.values()) yield [schemaOid(d.id), d.name, BOOTSTRAP_USER_OID, 6, 'C', 'C', false, true, -1, 1663, null, 'c', null, null, null, 716, 1];
  },
});

const typeRows = (): Row[] => {
  const out: Row[] = [];
  for (const [kind, info] of Object.entries(TYPE_INFO) as [Exclude<TypeKind, 'array'>, (typeof TYPE_INFO)[keyof typeof TYPE_INFO]][]) {
    const internal = ['bool', 'int2', 'int4', 'int8', 'float4', 'float8', 'oid', 'char', 'name', 'date', 'time', 'timestamp', 'timestamptz', 'regclass', 'regtype', 'regproc', 'void'].includes(kind);
    const typname = kind === 'bpchar' ? 'bpchar' : kind === 'varchar' ? 'varchar' : kind === 'char' ? 'char' : kind;
    out.push([info.oid, typname, PG_CATALOG_ID, BOOTSTRAP_USER_OID, info.len, internal, info.category === 'P' ? 'p' : 'b', info.category, false, true, ',', 0, 0, info.arrayOid, 0, 'i', 'p', false, 0, -1, 0, null, null]);
    if (info.arrayOid) out.push([info.arrayOid, `_${typname}`, PG_CATALOG_ID, BOOTSTRAP_USER_OID, -1, false, 'b', 'A', false, true, ',', 0, info.oid, 0, 0, 'i', 'x', false, 0, -1, 0, null, null]);
  }
  // int2vector and oidvector (pg_index.indkey, pg_proc.proargtypes), arrays with an element type.
  out.push([typeOid(INT2VECTOR), 'int2vector', PG_CATALOG_ID, BOOTSTRAP_USER_OID, -1, false, 'b', 'A', false, true, ',', 0, TYPE_INFO.int2.oid, 1006, 0, 'i', 'p', false, 0, -1, 0, null, null]);
  out.push([typeOid(OIDVECTOR), 'oidvector', PG_CATALOG_ID, BOOTSTRAP_USER_OID, -1, false, 'b', 'A', false, true, ',', 0, TYPE_INFO.oid.oid, 1013, 0, 'i', 'p', false, 0, -1, 0, null, null]);
  return out;
};
defineView({
  schema: 'pg_catalog',
  name: 'pg_type',
  oid: 1247,
  columns: cols({
    oid, typname: name, typnamespace: oid, typowner: oid, typlen: int2, typbyval: bool, typtype: char, typcategory: char, typispreferred: bool, typisdefined: bool,
    typdelim: char, typrelid: oid, typelem: oid, typarray: oid, typbasetype: oid, typalign: char, typstorage: char, typnotnull: bool, typtypmod: oid, typndims: int4, typcollation: oid, typdefault: text, typacl: acl,
  }),
  *rows(ctx) {
    yield* typeRows();
    // Enum types (typtype 'e', category 'E') and their array types, OIDs from their descriptor ids.
    for (const d of ctx.catalog.typesOf(ctx.session.databaseId)) {
      const o = d.id + OID_BASE;
      const ao = d.arrayId + OID_BASE;
      const ns = schemaOid(d.schemaId);
      yield [o, d.name, ns, BOOTSTRAP_USER_OID, 4, true, 'e', 'E', false, true, ',', 0, 0, ao, 0, 'i', 'p', false, -1, 0, 0, null, null];
      yield [ao, `_${d.name}`.slice(0, 63), ns, BOOTSTRAP_USER_OID, -1, false, 'b', 'A', false, true, ',', 0, o, 0, 0, 'i', 'x', false, -1, 0, 0, null, null];
    }
  },
});

/** pg_enum.oid of a label: derived from the type's id and the label's creation number (stable). */
const enumLabelOid = (typeId: number, n: number): number => 3_000_000_000 + ((typeId * 4096 + n) % 1_000_000_000);

defineView({
  schema: 'pg_catalog',
  name: 'pg_enum',
  oid: 3501,
  columns: cols({ oid, enumtypid: oid, enumsortorder: t('float4'), enumlabel: name }),
  *rows(ctx) {
    for (const d of ctx.catalog.typesOf(ctx.session.databaseId)) {
      for (const l of d.labels) yield [enumLabelOid(d.id, l.n), d.id + OID_BASE, l.sortOrder, l.label];
    }
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_class',
  oid: 1259,
  columns: cols({
    oid, relname: name, relnamespace: oid, reltype: oid, relowner: oid, relam: oid, relfilenode: oid, reltablespace: oid, relpages: int4, reltuples: t('float4'),
    relhasindex: bool, relisshared: bool, relpersistence: char, relkind: char, relnatts: int2, relchecks: int2, relhasrules: bool, relhastriggers: bool,
    relhassubclass: bool, relrowsecurity: bool, relforcerowsecurity: bool, relispopulated: bool, relreplident: char, relispartition: bool, reloptions: arrayOf(text), relacl: arrayOf(text), relpartbound: text, reloftype: oid, reltoastrelid: oid, relrewrite: oid, relfrozenxid: oid, relminmxid: oid, relallvisible: int4,
  }),
  *rows(ctx) {
    const base = (o: number, n: string, ns: number, kind: string, natts: number, hasIndex: boolean, checks: number, am = 0, triggers = false): Row => [
      o, n, ns, 0, BOOTSTRAP_USER_OID, am, o, 0, 0, -1, hasIndex, false, 'p', kind, natts, checks, false, triggers, false, false, false, true, 'd', false, null, null, null, 0, 0, 0, 0, 0, 0,
    ];
    // Foreign keys are triggers in PostgreSQL: both tables of one have relhastriggers, and
    // pg_dump reads a table's foreign keys only when it is set.
    const fkTables = new Set<number>();
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      for (const fk of r.foreignKeys ?? []) fkTables.add(r.id).add(fk.refTableId);
    }
    for (const v of allSystemViews()) yield base(v.oid, v.name, v.schema === 'pg_catalog' ? PG_CATALOG_ID : INFORMATION_SCHEMA_ID, 'v', v.columns.length, false, 0);
    for (const r of tables(ctx)) {
      const ns = schemaOid(r.schemaId);
      if (r.kind === 'table') {
        const row = base(relOid(r.id), r.name, ns, 'r', r.columns.filter((c) => !c.hidden).length, r.indexes.length > 0 || !r.columns.some((c) => c.hidden), r.checks.length, 2, fkTables.has(r.id));
        // reloptions: pg_dump writes them back as WITH (...), so a dump keeps the shard count.
        if (r.shards !== undefined) row[24] = [`shards=${r.shards}`];
        yield row;
        for (const idx of [r.primary, ...r.indexes]) {
          if (idx.primary && r.columns.some((c) => c.hidden)) continue;
          yield base(indexOid(r, idx), idx.name, ns, 'i', idx.columns.length, false, 0, 403);
        }
      } else if (r.kind === 'sequence') yield base(relOid(r.id), r.name, ns, 'S', 3, false, 0);
      else yield base(relOid(r.id), r.name, ns, 'v', 0, false, 0);
    }
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_attribute',
  oid: 1249,
  columns: cols({
    attrelid: oid, attname: name, atttypid: oid, attstattarget: int4, attlen: int2, attnum: int2, attndims: int4, attcacheoff: int4, atttypmod: int4, attbyval: bool, attalign: char,
    attstorage: char, attnotnull: bool, atthasdef: bool, atthasmissing: bool, attidentity: char, attgenerated: char, attisdropped: bool, attislocal: bool, attinhcount: int4, attcollation: oid, attacl: acl, attoptions: arrayOf(text), attfdwoptions: arrayOf(text), attmissingval: text, attcompression: char,
  }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      let n = 0;
      for (const c of r.columns) {
        n++;
        if (c.hidden) continue;
        yield [relOid(r.id), c.name, typeOid(c.type), -1, typeLen(c.type), n, c.type.kind === 'array' ? 1 : 0, -1, c.type.kind === 'array' ? (c.type.elem?.typmod ?? -1) : c.type.typmod, false, 'i', c.type.kind === 'array' ? 'x' : 'p', c.notNull, hasDefault(c.defaultExpr) && !c.identity, c.missingValue !== undefined, c.identity ?? '', '', false, true, 0, 0, null, null, null, null, ''];
      }
      for (const idx of [r.primary, ...r.indexes]) {
        if (idx.primary && r.columns.some((c) => c.hidden)) continue;
        for (const [i, id] of idx.columns.entries()) {
          const c = r.columns.find((x) => x.id === id);
          if (c) yield [indexOid(r, idx), c.name, typeOid(c.type), -1, typeLen(c.type), i + 1, 0, -1, c.type.typmod, false, 'i', 'p', false, false, false, '', '', false, true, 0, 0, null, null, null, null, ''];
        }
      }
    }
    for (const v of allSystemViews()) {
      let n = 0;
      for (const c of v.columns) yield [v.oid, c.name, typeOid(c.type), -1, typeLen(c.type), ++n, 0, -1, -1, false, 'i', 'p', false, false, false, '', '', false, true, 0, 0, null, null, null, null, ''];
    }
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_attrdef',
  oid: 2604,
  columns: cols({ oid, adrelid: oid, adnum: int2, adbin: text }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      // An identity column's nextval is not a default in PostgreSQL (pg_dump restores it with ADD GENERATED).
      for (const [i, c] of r.columns.entries()) {
        const def = c.identity ? null : columnDefault(c.defaultExpr, relationNamer(ctx.catalog, ctx.session), c.type);
        if (def !== null) yield [attrdefOid(r.id, i), relOid(r.id), i + 1, def];
      }
    }
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_index',
  oid: 2610,
  columns: cols({
    indexrelid: oid, indrelid: oid, indnatts: int2, indnkeyatts: int2, indisunique: bool, indnullsnotdistinct: bool, indisprimary: bool, indisexclusion: bool, indimmediate: bool,
    indisclustered: bool, indisvalid: bool, indcheckxmin: bool, indisready: bool, indislive: bool, indisreplident: bool, indkey: INT2VECTOR, indcollation: OIDVECTOR, indclass: OIDVECTOR, indoption: INT2VECTOR, indexprs: text, indpred: text,
  }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      for (const idx of [r.primary, ...r.indexes]) {
        if (idx.primary && r.columns.some((c) => c.hidden)) continue;
        const attnums = idx.columns.map((id) => attnumOf(r, id));
        yield [indexOid(r, idx), relOid(r.id), attnums.length, attnums.length, idx.unique, false, idx.primary, false, true, false, true, false, true, true, false, attnums, attnums.map(() => 0), attnums.map(() => 0), idx.directions.map((d) => (d === 'desc' ? 3 : 0)), null, indexPredicate(idx, r)];
      }
    }
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_indexes',
  columns: cols({ schemaname: name, tablename: name, indexname: name, tablespace: name, indexdef: text }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      for (const idx of [r.primary, ...r.indexes]) {
        if (idx.primary && r.columns.some((c) => c.hidden)) continue;
        yield [ctx.catalog.schemaName(r.schemaId), r.name, idx.name, null, indexDef(ctx.catalog, r, idx)];
      }
    }
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_constraint',
  oid: 2606,
  columns: cols({
    oid, conname: name, connamespace: oid, contype: char, condeferrable: bool, condeferred: bool, convalidated: bool, conrelid: oid, contypid: oid, conindid: oid, conparentid: oid,
    confrelid: oid, confupdtype: char, confdeltype: char, confmatchtype: char, conislocal: bool, coninhcount: int4, connoinherit: bool, conkey: arrayOf(int2), confkey: arrayOf(int2), conbin: text,
  }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      const ns = schemaOid(r.schemaId);
      const attnum = (id: number): number => attnumOf(r, id);
      for (const idx of [r.primary, ...r.indexes]) {
        if (!idx.constraint) continue;
        yield [indexOid(r, idx), idx.name, ns, idx.primary ? 'p' : 'u', false, false, true, relOid(r.id), 0, indexOid(r, idx), 0, 0, ' ', ' ', ' ', true, 0, true, idx.columns.map(attnum), null, null];
      }
      for (const [i, ch] of r.checks.entries()) yield [checkOid(r, i), ch.name, ns, 'c', false, false, true, relOid(r.id), 0, 0, 0, 0, ' ', ' ', ' ', true, 0, false, null, null, null];
      for (const [i, fk] of (r.foreignKeys ?? []).entries()) {
        const ref = ctx.catalog.byId.get(fk.refTableId);
        const refAttnum = (id: number): number => (ref?.kind === 'table' ? attnumOf(ref, id) : 0);
        // conindid: the referenced table's unique index over the referenced columns (what pgjdbc and pg_dump join on).
        const refIndex = referencedIndex(ref, fk);
        const conindid = ref?.kind === 'table' && refIndex ? indexOid(ref, refIndex) : 0;
        yield [fkOid(r, i), fk.name, ns, 'f', false, false, true, relOid(r.id), 0, conindid, 0, relOid(fk.refTableId), fk.onUpdate ?? 'a', fk.onDelete ?? 'a', fk.matchType ?? 's', true, 0, true, fk.columns.map(attnum), fk.refColumns.map(refAttnum), null];
      }
    }
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_tables',
  columns: cols({ schemaname: name, tablename: name, tableowner: name, tablespace: name, hasindexes: bool, hasrules: bool, hastriggers: bool, rowsecurity: bool }),
  *rows(ctx) {
    for (const r of tables(ctx)) if (r.kind === 'table') yield [ctx.catalog.schemaName(r.schemaId), r.name, ctx.session.user, null, true, false, false, false];
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_views',
  columns: cols({ schemaname: name, viewname: name, viewowner: name, definition: text }),
  *rows(ctx) {
    for (const r of tables(ctx)) if (r.kind === 'view') yield [ctx.catalog.schemaName(r.schemaId), r.name, ctx.session.user, viewDefinition(ctx.catalog, ctx.session, r)];
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_sequence',
  oid: 2224,
  columns: cols({ seqrelid: oid, seqtypid: oid, seqstart: t('int8'), seqincrement: t('int8'), seqmax: t('int8'), seqmin: t('int8'), seqcache: t('int8'), seqcycle: bool }),
  *rows(ctx) {
    for (const r of tables(ctx)) if (r.kind === 'sequence') yield [relOid(r.id), typeOid(t(r.typeKind)), BigInt(r.start), BigInt(r.increment), BigInt(r.max), BigInt(r.min), 1n, r.cycle];
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_sequences',
  columns: cols({ schemaname: name, sequencename: name, sequenceowner: name, data_type: t('regtype'), start_value: t('int8'), min_value: t('int8'), max_value: t('int8'), increment_by: t('int8'), cycle: bool, cache_size: t('int8'), last_value: t('int8') }),
  readsSequenceStates: true,
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'sequence') continue;
      // last_value: NULL until the sequence is used (or after setval(..., false)), as in Postgres.
      const state = ctx.sequenceStates?.get(r.id);
      const last = state?.isCalled ? state.lastValue : null;
      yield [ctx.catalog.schemaName(r.schemaId), r.name, ctx.session.user, TYPE_INFO[r.typeKind].name, BigInt(r.start), BigInt(r.min), BigInt(r.max), BigInt(r.increment), r.cycle, 1n, last];
    }
  },
});

/** A column's attnum (1-based position in the table), 0 if the table has no such column. */
function attnumOf(table: { readonly columns: readonly { readonly id: number }[] }, columnId: number): number {
  return table.columns.findIndex((c) => c.id === columnId) + 1;
}

/** The referenced table's unique index over a foreign key's referenced columns (pg_constraint.conindid). */
function referencedIndex(ref: Descriptor | undefined, fk: ForeignKeyDesc): IndexDesc | undefined {
  if (ref?.kind !== 'table') return undefined;
  return [ref.primary, ...ref.indexes].find((x) => x.unique && x.columns.length === fk.refColumns.length && x.columns.every((c) => fk.refColumns.includes(c)));
}

defineView({
  schema: 'pg_catalog',
  name: 'pg_depend',
  oid: 2608,
  columns: cols({ classid: oid, objid: oid, objsubid: int4, refclassid: oid, refobjid: oid, refobjsubid: int4, deptype: char }),
  *rows(ctx) {
    // What pg_dump orders its output by: a view after the relations it reads, a column default
    // after the sequence it calls nextval() on (and, with the sequence owned by the column,
    // that loop is what makes pg_dump emit the default as a separate ALTER TABLE, as for PostgreSQL).
    for (const r of tables(ctx)) {
      if (r.kind === 'view') {
        for (const dep of viewDependencies(ctx.catalog, ctx.session, r)) yield [1259, relOid(r.id), 0, 1259, relOid(dep.id), 0, 'n'];
      }
      if (r.kind === 'table') {
        // Constraints, as PostgreSQL records them. pg_dump orders a foreign key after the
        // referenced table's primary key or unique constraint through these rows: the key
        // depends on the unique index ('n'), and that index on its constraint ('i'). Without
        // them `pg_restore -j` could add the foreign key before the key it needs.
        const attnum = (id: number): number => attnumOf(r, id);
        for (const idx of [r.primary, ...r.indexes]) {
          if (!idx.constraint) continue;
          yield [1259, indexOid(r, idx), 0, 2606, indexOid(r, idx), 0, 'i'];
          for (const c of idx.columns) yield [2606, indexOid(r, idx), 0, 1259, relOid(r.id), attnum(c), 'a'];
        }
        for (const [i, fk] of (r.foreignKeys ?? []).entries()) {
          for (const c of fk.columns) yield [2606, fkOid(r, i), 0, 1259, relOid(r.id), attnum(c), 'a'];
          const ref = ctx.catalog.byId.get(fk.refTableId);
          if (ref?.kind !== 'table') continue;
          const refIndex = referencedIndex(ref, fk);
          if (refIndex) yield [2606, fkOid(r, i), 0, 1259, indexOid(ref, refIndex), 0, 'n'];
          for (const c of fk.refColumns) yield [2606, fkOid(r, i), 0, 1259, relOid(ref.id), attnumOf(ref, c), 'n'];
        }
        for (const [i, c] of r.columns.entries()) {
          if (!c.defaultExpr || c.identity) continue;
          for (const target of new Set(nextvalTargets(c.defaultExpr))) {
            const parts = target.split('.').map((p) => p.replace(/^"(.*)"$/, '$1'));
            const seq = findRelation(ctx.catalog, ctx.session, parts.length > 1 ? parts[0] : undefined, parts[parts.length - 1]);
            if (seq?.kind === 'sequence') yield [2604, attrdefOid(r.id, i), 0, 1259, relOid(seq.id), 0, 'n'];
          }
        }
      }
      if (r.kind === 'sequence' && r.ownedBy) {
        const owner = ctx.catalog.byId.get(r.ownedBy.tableId);
        const attnum = owner?.kind === 'table' ? attnumOf(owner, r.ownedBy.columnId) : 0;
        // 'i' (internal) for an identity column's sequence, 'a' (auto) for serial / OWNED BY.
        const identity = owner?.kind === 'table' && owner.columns.find((c) => c.id === r.ownedBy?.columnId)?.identity !== undefined;
        yield [1259, relOid(r.id), 0, 1259, relOid(r.ownedBy.tableId), attnum, identity ? 'i' : 'a'];
      }
    }
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_settings',
  columns: cols({ name: text, setting: text, unit: text, category: text, short_desc: text, extra_desc: text, context: text, vartype: text, source: text, min_val: text, max_val: text, enumvals: arrayOf(text), boot_val: text, reset_val: text, sourcefile: text, sourceline: int4, pending_restart: bool }),
  *rows(ctx) {
    for (const n of Object.keys(SETTINGS).sort()) {
      const v = ctx.session.setting(n) ?? '';
      yield [n, v, null, 'Weft', '', null, 'user', 'string', 'default', null, null, null, SETTINGS[n].default, SETTINGS[n].default, null, null, false];
    }
  },
});

// pg_statio_all_tables / pg_statio_user_tables: the tables, with block I/O counters NULL (Weft has
// no shared buffer cache to count hits and reads in). Sequelize's describeTable joins it to
// pg_description for column comments.
for (const viewName of ['pg_statio_all_tables', 'pg_statio_user_tables']) {
  defineView({
    schema: 'pg_catalog',
    name: viewName,
    columns: cols({ relid: oid, schemaname: name, relname: name, heap_blks_read: t('int8'), heap_blks_hit: t('int8'), idx_blks_read: t('int8'), idx_blks_hit: t('int8'), toast_blks_read: t('int8'), toast_blks_hit: t('int8'), tidx_blks_read: t('int8'), tidx_blks_hit: t('int8') }),
    *rows(ctx) {
      for (const r of tables(ctx)) {
        if (r.kind === 'table') yield [relOid(r.id), ctx.catalog.schemaName(r.schemaId), r.name, null, null, null, null, null, null, null, null];
      }
    },
  });
}

defineView({
  schema: 'pg_catalog',
  name: 'pg_cursors',
  columns: cols({ name: text, statement: text, is_holdable: bool, is_binary: bool, is_scrollable: bool, creation_time: t('timestamptz') }),
  *rows(ctx) {
    for (const c of ctx.session.cursors?.() ?? []) yield [c.name, c.statement, c.isHoldable, c.isBinary, c.isScrollable, c.creationTimeUs];
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_roles',
  oid: 1260,
  columns: cols({ oid, rolname: name, rolsuper: bool, rolinherit: bool, rolcreaterole: bool, rolcreatedb: bool, rolcanlogin: bool, rolreplication: bool, rolconnlimit: int4, rolpassword: text, rolvaliduntil: t('timestamptz'), rolbypassrls: bool, rolconfig: arrayOf(text) }),
  *rows(ctx) {
    yield [BOOTSTRAP_USER_OID, ctx.session.user, true, true, true, true, true, false, -1, '********', null, true, null];
    yield [PG_DATABASE_OWNER_OID, 'pg_database_owner', false, true, false, false, false, false, -1, null, null, false, null];
  },
});
defineView({
  schema: 'pg_catalog',
  name: 'pg_user',
  columns: cols({ usename: name, usesysid: oid, usecreatedb: bool, usesuper: bool, userepl: bool, usebypassrls: bool, passwd: text, valuntil: t('timestamptz'), useconfig: arrayOf(text) }),
  *rows(ctx) {
    yield [ctx.session.user, BOOTSTRAP_USER_OID, true, true, false, true, '********', null, null];
  },
});
defineView({
  schema: 'pg_catalog',
  name: 'pg_authid',
  columns: cols({ oid, rolname: name, rolsuper: bool }),
  *rows(ctx) {
    yield [BOOTSTRAP_USER_OID, ctx.session.user, true];
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_am',
  oid: 2601,
  columns: cols({ oid, amname: name, amhandler: t('regproc'), amtype: char }),
  rows: () => [[2, 'heap', 3, 't'], [403, 'btree', 330, 'i'], [405, 'hash', 331, 'i']],
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_proc',
  oid: 1255,
  columns: cols({ oid, proname: name, pronamespace: oid, proowner: oid, prolang: oid, prokind: char, prorettype: oid, pronargs: int2, proargtypes: OIDVECTOR, proretset: bool, prosrc: text, proacl: acl }),
  *rows() {
    let i = 0;
    for (const n of functionNames().sort()) yield [5000 + i++, n, PG_CATALOG_ID, BOOTSTRAP_USER_OID, 12, 'f', 25, 0, [], false, n, null];
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_extension',
  oid: 3079,
  columns: cols({ oid, extname: name, extowner: oid, extnamespace: oid, extrelocatable: bool, extversion: text, extconfig: arrayOf(oid), extcondition: arrayOf(text) }),
  rows: () => [[13000, 'plpgsql', BOOTSTRAP_USER_OID, PG_CATALOG_ID, false, '1.0', null, null]],
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_tablespace',
  oid: 1213,
  columns: cols({ oid, spcname: name, spcowner: oid }),
  rows: () => [[1663, 'pg_default', BOOTSTRAP_USER_OID], [1664, 'pg_global', BOOTSTRAP_USER_OID]],
});

// Per-database and per-role settings (ALTER DATABASE/ROLE ... SET): Weft has none, so the
// catalog is empty (pg_dump's archive formats read it with the database entry).
defineView({
  schema: 'pg_catalog',
  name: 'pg_db_role_setting',
  oid: 2964,
  columns: cols({ setdatabase: oid, setrole: oid, setconfig: arrayOf(text) }),
  rows: () => [],
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_stat_activity',
  columns: cols({ datid: oid, datname: name, pid: int4, usename: name, application_name: text, client_addr: text, state: text, query: text, backend_start: t('timestamptz') }),
  *rows(ctx) {
    yield [0, ctx.session.database, ctx.session.pid, ctx.session.user, ctx.session.setting('application_name') ?? '', '127.0.0.1', 'active', '', null];
  },
});

defineView({
  schema: 'pg_catalog',
  name: 'pg_collation',
  oid: 3456,
  columns: cols({ oid, collname: name, collnamespace: oid, collowner: oid, collprovider: char, collisdeterministic: bool, collencoding: int4, collcollate: name, collctype: name, colliculocale: text, collversion: text }),
  rows: () => [[100, 'default', PG_CATALOG_ID, BOOTSTRAP_USER_OID, 'd', true, -1, '', '', null, null], [950, 'C', PG_CATALOG_ID, BOOTSTRAP_USER_OID, 'c', true, -1, 'C', 'C', null, null]],
});

/** The public schema of the session's database (for its comment and initial privileges). */
const publicSchemaOid = (ctx: ViewContext): number | undefined => {
  const s = ctx.catalog.schema(ctx.session.databaseId, 'public');
  return s ? schemaOid(s.id) : undefined;
};

// Comments: Weft stores none of its own yet; the public schema has initdb's comment, as in
// PostgreSQL (pg_dump leaves an unchanged comment out of the dump).
defineView({
  schema: 'pg_catalog',
  name: 'pg_description',
  oid: 2609,
  columns: cols({ objoid: oid, classoid: oid, objsubid: int4, description: text }),
  *rows(ctx) {
    const pub = publicSchemaOid(ctx);
    if (pub !== undefined) yield [pub, 2615, 0, 'standard public schema'];
  },
});

// Initial privileges: the public schema's, as initdb records them in PostgreSQL 15.
defineView({
  schema: 'pg_catalog',
  name: 'pg_init_privs',
  oid: 3394,
  columns: cols({ objoid: oid, classoid: oid, objsubid: int4, privtype: char, initprivs: acl }),
  *rows(ctx) {
    const pub = publicSchemaOid(ctx);
    if (pub !== undefined) yield [pub, 2615, 0, 'i', PUBLIC_SCHEMA_ACL];
  },
});

// Relations that exist in Postgres and that tools join against; Weft has no rows for them.
for (const [n, o, spec] of [
  ['pg_shdescription', 2396, { objoid: oid, classoid: oid, description: text }],
  ['pg_inherits', 2611, { inhrelid: oid, inhparent: oid, inhseqno: int4, inhdetachpending: bool }],
  ['pg_foreign_data_wrapper', 2328, { oid, fdwname: name, fdwowner: oid, fdwhandler: regproc, fdwvalidator: regproc, fdwacl: acl, fdwoptions: arrayOf(text) }],
  ['pg_foreign_server', 1417, { oid, srvname: name, srvowner: oid, srvfdw: oid, srvtype: text, srvversion: text, srvacl: acl, srvoptions: arrayOf(text) }],
  ['pg_conversion', 2607, { oid, conname: name, connamespace: oid, conowner: oid, conforencoding: int4, contoencoding: int4, conproc: regproc, condefault: bool }],
  ['pg_ts_config', 3602, { oid, cfgname: name, cfgnamespace: oid, cfgowner: oid, cfgparser: oid }],
  ['pg_ts_config_map', 3603, { mapcfg: oid, maptokentype: int4, mapseqno: int4, mapdict: oid }],
  ['pg_ts_parser', 3601, { oid, prsname: name, prsnamespace: oid, prsstart: regproc, prstoken: regproc, prsend: regproc, prsheadline: regproc, prslextype: regproc }],
  ['pg_ts_template', 3764, { oid, tmplname: name, tmplnamespace: oid, tmplinit: regproc, tmpllexize: regproc }],
  ['pg_ts_dict', 3600, { oid, dictname: name, dictnamespace: oid, dictowner: oid, dicttemplate: oid, dictinitoption: text }],
  ['pg_opfamily', 2753, { oid, opfmethod: oid, opfname: name, opfnamespace: oid, opfowner: oid }],
  ['pg_amop', 2602, { oid, amopfamily: oid, amoplefttype: oid, amoprighttype: oid, amopstrategy: int2, amoppurpose: char, amopopr: oid, amopmethod: oid, amopsortfamily: oid }],
  ['pg_amproc', 2603, { oid, amprocfamily: oid, amproclefttype: oid, amprocrighttype: oid, amprocnum: int2, amproc: regproc }],
  ['pg_transform', 3576, { oid, trftype: oid, trflang: oid, trffromsql: regproc, trftosql: regproc }],
  ['pg_seclabel', 3596, { objoid: oid, classoid: oid, objsubid: int4, provider: text, label: text }],
  ['pg_shseclabel', 3592, { objoid: oid, classoid: oid, provider: text, label: text }],
  ['pg_seclabels', 12104, { objoid: oid, classoid: oid, objsubid: int4, objtype: text, objnamespace: oid, objname: text, provider: text, label: text }],
  ['pg_default_acl', 826, { oid, defaclrole: oid, defaclnamespace: oid, defaclobjtype: char, defaclacl: arrayOf(text) }],
  ['pg_largeobject_metadata', 2995, { oid, lomowner: oid, lomacl: acl }],
  ['pg_trigger', 2620, { oid, tgrelid: oid, tgparentid: oid, tgname: name, tgfoid: oid, tgtype: int2, tgenabled: char, tgisinternal: bool, tgconstraint: oid, tgdeferrable: bool, tginitdeferred: bool, tgnargs: int2, tgattr: INT2VECTOR, tgargs: t('bytea'), tgqual: text, tgoldtable: name, tgnewtable: name }],
  ['pg_rewrite', 2618, { oid, rulename: name, ev_class: oid, ev_type: char, ev_enabled: char, is_instead: bool, ev_qual: text, ev_action: text }],
  ['pg_policy', 3256, { oid, polname: name, polrelid: oid, polcmd: char, polpermissive: bool, polroles: arrayOf(oid), polqual: text, polwithcheck: text }],
  ['pg_statistic_ext', 3381, { oid, stxrelid: oid, stxname: name, stxnamespace: oid, stxowner: oid, stxstattarget: int4, stxkeys: arrayOf(int2), stxkind: arrayOf(char), stxexprs: text }],
  ['pg_partitioned_table', 3350, { partrelid: oid, partstrat: char, partnatts: int2, partdefid: oid, partattrs: INT2VECTOR, partclass: OIDVECTOR, partcollation: OIDVECTOR, partexprs: text }],
  ['pg_foreign_table', 3118, { ftrelid: oid, ftserver: oid, ftoptions: arrayOf(text) }],
  ['pg_publication', 6104, { oid, pubname: name, pubowner: oid, puballtables: bool, pubinsert: bool, pubupdate: bool, pubdelete: bool, pubtruncate: bool, pubviaroot: bool }],
  ['pg_publication_namespace', 6237, { oid, pnpubid: oid, pnnspid: oid }],
  ['pg_publication_rel', 6106, { oid, prpubid: oid, prrelid: oid, prqual: text, prattrs: arrayOf(int2) }],
  ['pg_subscription', 6100, { oid, subdbid: oid, subskiplsn: text, subname: name, subowner: oid, subenabled: bool, subbinary: bool, substream: bool, subtwophasestate: char, subdisableonerr: bool, subconninfo: text, subslotname: name, subsynccommit: text, subpublications: arrayOf(text) }],
  ['pg_range', 3541, { rngtypid: oid, rngsubtype: oid, rngmultitypid: oid, rngcollation: oid, rngsubopc: oid, rngcanonical: t('regproc'), rngsubdiff: t('regproc') }],
  ['pg_event_trigger', 3466, { oid, evtname: name, evtevent: name, evtowner: oid, evtfoid: oid, evtenabled: char, evttags: arrayOf(text) }],
  ['pg_auth_members', 1261, { oid, roleid: oid, member: oid, grantor: oid }],
  ['pg_opclass', 2616, { oid, opcmethod: oid, opcname: name, opcnamespace: oid, opcowner: oid, opcfamily: oid, opcintype: oid, opcdefault: bool, opckeytype: oid }],
  ['pg_cast', 2605, { oid, castsource: oid, casttarget: oid, castfunc: oid, castcontext: char, castmethod: char }],
  ['pg_operator', 2617, { oid, oprname: name, oprnamespace: oid, oprowner: oid, oprkind: char, oprcanmerge: bool, oprcanhash: bool, oprleft: oid, oprright: oid, oprresult: oid, oprcom: oid, oprnegate: oid, oprcode: regproc, oprrest: regproc, oprjoin: regproc }],
  ['pg_language', 2612, { oid, lanname: name, lanowner: oid, lanispl: bool, lanpltrusted: bool, lanplcallfoid: oid, laninline: oid, lanvalidator: oid, lanacl: acl }],
  ['pg_locks', 12100, { locktype: text, database: oid, relation: oid, pid: int4, mode: text, granted: bool }],
  ['pg_prepared_xacts', 12101, { transaction: text, gid: text, prepared: t('timestamptz'), owner: name, database: name }],
  ['pg_matviews', 12102, { schemaname: name, matviewname: name, matviewowner: name, definition: text }],
  ['pg_stat_user_tables', 12103, { relid: oid, schemaname: name, relname: name, n_live_tup: t('int8') }],
] as const) {
  defineView({ schema: 'pg_catalog', name: n, oid: o, columns: cols(spec), rows: () => [] });
}

export const SYSTEM_SCHEMA_OIDS = { pg_catalog: PG_CATALOG_ID, information_schema: INFORMATION_SCHEMA_ID, firstUser: FIRST_USER_ID };
