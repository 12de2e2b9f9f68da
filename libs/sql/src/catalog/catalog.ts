// An immutable snapshot of the catalog (all descriptors at one version) with name lookups.
// Sessions cache it per gateway keyed by the catalog version and rebuild it after DDL.
import { S, sqlError } from '../errors';
import type { DatabaseDesc, Descriptor, SchemaDesc, SequenceDesc, TableDesc, ViewDesc } from './descriptors';

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

  constructor(
    readonly version: bigint,
    descriptors: readonly Descriptor[],
  ) {
    for (const d of descriptors) {
      this.byId.set(d.id, d);
      if (d.kind === 'database') this.databases.set(d.name, d);
      else if (d.kind === 'schema') this.schemas.set(`${d.dbId}/${d.name}`, d);
      else this.relations.set(`${d.schemaId}/${d.name}`, d);
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
