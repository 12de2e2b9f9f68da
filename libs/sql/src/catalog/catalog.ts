// An immutable snapshot of the catalog (all descriptors at one version) with name lookups.
// Sessions cache it per gateway keyed by the catalog version and rebuild it after DDL.
import { S, sqlError } from '../errors';
import { arrayOf, type SqlType } from '../types/types';
import { OID_BASE, type DatabaseDesc, type Descriptor, type SchemaDesc, type SequenceDesc, type TableDesc, type TypeDesc, type ViewDesc } from './descriptors';

/** Virtual schemas (their relations are system views, not descriptors). Ids below FIRST_USER_ID. */
export const PG_CATALOG_ID = 11;
export const INFORMATION_SCHEMA_ID = 13;
export const PUBLIC_SCHEMA_NAME = 'public';

export type Relation = TableDesc | SequenceDesc | ViewDesc;

export class Catalog {
  readonly databases = new Map<string, DatabaseDesc>();
  readonly byId = new Map<number, Descriptor>();
  private readonly schemas = new Map<string, SchemaDesc>();
  private readonly relations = new Map<string, Relation>();
  private readonly types = new Map<string, TypeDesc>();
  /** Enum array type id -> its element type's descriptor. */
  private readonly arrayTypes = new Map<number, TypeDesc>();

  constructor(
    readonly version: bigint,
    descriptors: readonly Descriptor[],
  ) {
    for (const d of descriptors) {
      this.byId.set(d.id, d);
      if (d.kind === 'database') this.databases.set(d.name, d);
      else if (d.kind === 'schema') this.schemas.set(`${d.dbId}/${d.name}`, d);
      else if (d.kind === 'type') {
        this.types.set(`${d.schemaId}/${d.name}`, d);
        this.arrayTypes.set(d.arrayId, d);
      } else this.relations.set(`${d.schemaId}/${d.name}`, d);
    }
  }

  schema(dbId: number, name: string): SchemaDesc | undefined {
    return this.schemas.get(`${dbId}/${name}`);
  }

  schemasOf(dbId: number): SchemaDesc[] {
    return [...this.schemas.values()].filter((s) => s.dbId === dbId);
  }

  relation(schemaId: number, name: string): Relation | undefined {
    return this.relations.get(`${schemaId}/${name}`);
  }

  type(schemaId: number, name: string): TypeDesc | undefined {
    return this.types.get(`${schemaId}/${name}`);
  }

  /** User-defined types of a database, in id order. */
  typesOf(dbId: number): TypeDesc[] {
    const schemaIds = new Set(this.schemasOf(dbId).map((s) => s.id));
    return [...this.types.values()].filter((d) => schemaIds.has(d.schemaId)).sort((a, b) => a.id - b.id);
  }

  /** The SqlType of a user type or its array type by OID. */
  typeByOid(oid: number): SqlType | undefined {
    const d = this.byId.get(oid - OID_BASE);
    if (d?.kind === 'type') return enumSqlType(d);
    const elem = this.arrayTypes.get(oid - OID_BASE);
    return elem ? arrayOf(enumSqlType(elem)) : undefined;
  }

  /** Relations of a database, in id order. */
  relationsOf(dbId: number): Relation[] {
    const schemaIds = new Set(this.schemasOf(dbId).map((s) => s.id));
    return [...this.relations.values()].filter((r) => schemaIds.has(r.schemaId)).sort((a, b) => a.id - b.id);
  }

  table(id: number): TableDesc {
    const d = this.byId.get(id);
    if (d?.kind !== 'table') throw sqlError(S.UNDEFINED_TABLE, `table with id ${id} does not exist`);
    return d;
  }

  schemaName(id: number): string {
    if (id === PG_CATALOG_ID) return 'pg_catalog';
    if (id === INFORMATION_SCHEMA_ID) return 'information_schema';
    const d = this.byId.get(id);
    return d?.kind === 'schema' ? d.name : `schema_${id}`;
  }
}

/** The SqlType values of an enum type carry (see EnumInfo). */
export function enumSqlType(d: TypeDesc): SqlType {
  return {
    kind: 'enum',
    typmod: -1,
    enum: { typeId: d.id, oid: d.id + OID_BASE, arrayOid: d.arrayId + OID_BASE, name: d.name, labels: d.labels.map((l) => l.label), sortOrders: d.labels.map((l) => l.sortOrder) },
  };
}
