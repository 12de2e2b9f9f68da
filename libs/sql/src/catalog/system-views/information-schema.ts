// information_schema views ORMs and migration tools read.
import type { Row } from '../../runtime';
import { typeDisplayName, t, type SqlType } from '../../types/types';
import { columnDefault, relationNamer } from './describe';
import { defineView, type ViewContext } from './registry';

const name = t('name');
// character_data / yes_or_no domains are varchar in Postgres.
const text = t('varchar');
const int4 = t('int4');
const cols = (spec: Record<string, SqlType>): { name: string; type: SqlType }[] => Object.entries(spec).map(([n, type]) => ({ name: n, type }));
const yn = (b: boolean): string => (b ? 'YES' : 'NO');

function* tables(ctx: ViewContext) {
  for (const r of ctx.catalog.relationsOf(ctx.session.databaseId)) yield r;
}

defineView({
  schema: 'information_schema',
  name: 'schemata',
  columns: cols({ catalog_name: name, schema_name: name, schema_owner: name, default_character_set_catalog: name, default_character_set_schema: name, default_character_set_name: name, sql_path: text }),
  *rows(ctx) {
    for (const s of ['pg_catalog', 'information_schema', ...ctx.catalog.schemasOf(ctx.session.databaseId).map((x) => x.name)]) yield [ctx.session.database, s, ctx.session.user, null, null, null, null];
  },
});

defineView({
  schema: 'information_schema',
  name: 'tables',
  columns: cols({ table_catalog: name, table_schema: name, table_name: name, table_type: text, self_referencing_column_name: name, reference_generation: text, user_defined_type_catalog: name, user_defined_type_schema: name, user_defined_type_name: name, is_insertable_into: text, is_typed: text, commit_action: text }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind === 'sequence') continue;
      yield [ctx.session.database, ctx.catalog.schemaName(r.schemaId), r.name, r.kind === 'view' ? 'VIEW' : 'BASE TABLE', null, null, null, null, null, yn(r.kind === 'table'), 'NO', null];
    }
  },
});

function dataType(type: SqlType): string {
  if (type.kind === 'array') return 'ARRAY';
  if (type.kind === 'enum') return 'USER-DEFINED';
  if (type.kind === 'json' || type.kind === 'jsonb' || type.kind === 'uuid' || type.kind === 'bytea' || type.kind === 'name') return type.kind;
  return typeDisplayName({ kind: type.kind, typmod: -1 });
}

defineView({
  schema: 'information_schema',
  name: 'columns',
  columns: cols({
    table_catalog: name, table_schema: name, table_name: name, column_name: name, ordinal_position: int4, column_default: text, is_nullable: text, data_type: text,
    character_maximum_length: int4, character_octet_length: int4, numeric_precision: int4, numeric_precision_radix: int4, numeric_scale: int4, datetime_precision: int4,
    interval_type: text, interval_precision: int4, character_set_catalog: name, character_set_schema: name, character_set_name: name, collation_catalog: name, collation_schema: name, collation_name: name,
    domain_catalog: name, domain_schema: name, domain_name: name, udt_catalog: name, udt_schema: name, udt_name: name, scope_catalog: name, scope_schema: name, scope_name: name,
    maximum_cardinality: int4, dtd_identifier: name, is_self_referencing: text, is_identity: text, identity_generation: text, identity_start: text, identity_increment: text,
    identity_maximum: text, identity_minimum: text, identity_cycle: text, is_generated: text, generation_expression: text, is_updatable: text,
  }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      let pos = 0;
      for (const c of r.columns) {
        pos++;
        if (c.hidden) continue;
        const k = c.type.kind;
        const charLen = (k === 'varchar' || k === 'bpchar') && c.type.typmod >= 4 ? c.type.typmod - 4 : null;
        const numPrec = k === 'int2' ? 16 : k === 'int4' ? 32 : k === 'int8' ? 64 : k === 'float4' ? 24 : k === 'float8' ? 53 : k === 'numeric' && c.type.typmod >= 4 ? ((c.type.typmod - 4) >> 16) & 0xffff : null;
        const numScale = k === 'int2' || k === 'int4' || k === 'int8' ? 0 : k === 'numeric' && c.type.typmod >= 4 ? (c.type.typmod - 4) & 0xffff : null;
        const radix = k === 'numeric' ? 10 : numPrec !== null ? 2 : null;
        // An enum's udt is the type itself (in its schema); its array's is `_name` there too.
        const en = c.type.enum ?? c.type.elem?.enum;
        const udt = en ? `${k === 'array' ? '_' : ''}${en.name}` : k === 'array' ? `_${c.type.elem?.kind ?? 'text'}` : k;
        const udtDesc = en ? ctx.catalog.byId.get(en.typeId) : undefined;
        const udtSchema = udtDesc?.kind === 'type' ? ctx.catalog.schemaName(udtDesc.schemaId) : 'pg_catalog';
        const row: Row = [
          ctx.session.database, ctx.catalog.schemaName(r.schemaId), r.name, c.name, pos, c.identity ? null : columnDefault(c.defaultExpr, relationNamer(ctx.catalog, ctx.session), c.type), yn(!c.notNull), dataType(c.type),
          charLen, charLen !== null ? charLen * 4 : k === 'text' ? 1073741824 : null, numPrec, radix, numScale, ['timestamp', 'timestamptz', 'time', 'date'].includes(k) ? (k === 'date' ? 0 : c.type.typmod >= 0 ? c.type.typmod : 6) : null,
          null, null, null, null, null, null, null, null,
          null, null, null, ctx.session.database, udtSchema, udt, null, null, null,
          null, String(pos), 'NO', yn(c.identity !== undefined), c.identity === 'a' ? 'ALWAYS' : c.identity === 'd' ? 'BY DEFAULT' : null, null, null,
          null, null, 'NO', 'NEVER', null, 'YES',
        ];
        yield row;
      }
    }
  },
});

defineView({
  schema: 'information_schema',
  name: 'table_constraints',
  columns: cols({ constraint_catalog: name, constraint_schema: name, constraint_name: name, table_catalog: name, table_schema: name, table_name: name, constraint_type: text, is_deferrable: text, initially_deferred: text, enforced: text, nulls_distinct: text }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      const s = ctx.catalog.schemaName(r.schemaId);
      const db = ctx.session.database;
      for (const idx of [r.primary, ...r.indexes]) if (idx.constraint) yield [db, s, idx.name, db, s, r.name, idx.primary ? 'PRIMARY KEY' : 'UNIQUE', 'NO', 'NO', 'YES', idx.primary ? null : 'YES'];
      for (const ch of r.checks) yield [db, s, ch.name, db, s, r.name, 'CHECK', 'NO', 'NO', 'YES', null];
      for (const fk of r.foreignKeys ?? []) yield [db, s, fk.name, db, s, r.name, 'FOREIGN KEY', 'NO', 'NO', 'YES', null];
    }
  },
});

defineView({
  schema: 'information_schema',
  name: 'key_column_usage',
  columns: cols({ constraint_catalog: name, constraint_schema: name, constraint_name: name, table_catalog: name, table_schema: name, table_name: name, column_name: name, ordinal_position: int4, position_in_unique_constraint: int4 }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      const s = ctx.catalog.schemaName(r.schemaId);
      const db = ctx.session.database;
      const cn = (id: number): string => r.columns.find((c) => c.id === id)?.name ?? '';
      for (const idx of [r.primary, ...r.indexes]) {
        if (!idx.constraint) continue;
        for (const [i, id] of idx.columns.entries()) yield [db, s, idx.name, db, s, r.name, cn(id), i + 1, null];
      }
      for (const fk of r.foreignKeys ?? []) for (const [i, id] of fk.columns.entries()) yield [db, s, fk.name, db, s, r.name, cn(id), i + 1, i + 1];
    }
  },
});

defineView({
  schema: 'information_schema',
  name: 'referential_constraints',
  columns: cols({ constraint_catalog: name, constraint_schema: name, constraint_name: name, unique_constraint_catalog: name, unique_constraint_schema: name, unique_constraint_name: name, match_option: text, update_rule: text, delete_rule: text }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      const s = ctx.catalog.schemaName(r.schemaId);
      for (const fk of r.foreignKeys ?? []) {
        const ref = ctx.catalog.byId.get(fk.refTableId);
        const refPk = ref?.kind === 'table' ? ref.primary.name : null;
        yield [ctx.session.database, s, fk.name, ctx.session.database, s, refPk, 'NONE', 'NO ACTION', 'NO ACTION'];
      }
    }
  },
});

defineView({
  schema: 'information_schema',
  name: 'constraint_column_usage',
  columns: cols({ table_catalog: name, table_schema: name, table_name: name, column_name: name, constraint_catalog: name, constraint_schema: name, constraint_name: name }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'table') continue;
      const s = ctx.catalog.schemaName(r.schemaId);
      const db = ctx.session.database;
      for (const idx of [r.primary, ...r.indexes]) {
        if (!idx.constraint) continue;
        for (const id of idx.columns) yield [db, s, r.name, r.columns.find((c) => c.id === id)?.name ?? '', db, s, idx.name];
      }
      for (const fk of r.foreignKeys ?? []) {
        const ref = ctx.catalog.byId.get(fk.refTableId);
        if (ref?.kind !== 'table') continue;
        for (const id of fk.refColumns) yield [db, s, ref.name, ref.columns.find((c) => c.id === id)?.name ?? '', db, s, fk.name];
      }
    }
  },
});

defineView({
  schema: 'information_schema',
  name: 'sequences',
  columns: cols({ sequence_catalog: name, sequence_schema: name, sequence_name: name, data_type: text, numeric_precision: int4, numeric_precision_radix: int4, numeric_scale: int4, start_value: text, minimum_value: text, maximum_value: text, increment: text, cycle_option: text }),
  *rows(ctx) {
    for (const r of tables(ctx)) {
      if (r.kind !== 'sequence') continue;
      yield [ctx.session.database, ctx.catalog.schemaName(r.schemaId), r.name, typeDisplayName(t(r.typeKind)), r.typeKind === 'int2' ? 16 : r.typeKind === 'int4' ? 32 : 64, 2, 0, r.start, r.min, r.max, r.increment, yn(r.cycle)];
    }
  },
});

defineView({
  schema: 'information_schema',
  name: 'views',
  columns: cols({ table_catalog: name, table_schema: name, table_name: name, view_definition: text, check_option: text, is_updatable: text, is_insertable_into: text }),
  *rows(ctx) {
    for (const r of tables(ctx)) if (r.kind === 'view') yield [ctx.session.database, ctx.catalog.schemaName(r.schemaId), r.name, r.sql, 'NONE', 'NO', 'NO'];
  },
});

for (const n of ['routines', 'triggers', 'check_constraints', 'domains', 'parameters', 'table_privileges', 'column_privileges', 'enabled_roles', 'character_sets', 'collations', 'user_defined_types', 'element_types', 'attributes']) {
  defineView({ schema: 'information_schema', name: n, columns: cols({ specific_name: name, [`${n}_name`]: name }), rows: () => [] });
}
