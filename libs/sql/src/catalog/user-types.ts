// Name and OID resolution of user-defined types (enums) over a catalog snapshot, following
// search_path as relations do (pg_catalog holds only built-ins, which types.ts knows).
import type { SessionInfo } from '../runtime';
import { quoteTypeName, type TypeResolver } from '../types/types';
import { type Catalog, enumSqlType } from './catalog';
import type { TypeDesc } from './descriptors';

export function resolveTypeDesc(catalog: Catalog, session: SessionInfo, schema: string | undefined, name: string): TypeDesc | undefined {
  if (schema !== undefined) {
    const s = catalog.schema(session.databaseId, schema);
    return s ? catalog.type(s.id, name) : undefined;
  }
  for (const sp of session.searchPath) {
    const s = catalog.schema(session.databaseId, sp);
    const d = s ? catalog.type(s.id, name) : undefined;
    if (d) return d;
  }
  return undefined;
}

export function typeResolverFor(catalog: Catalog, session: SessionInfo): TypeResolver {
  return {
    byName: (schema, name) => {
      const d = resolveTypeDesc(catalog, session, schema, name);
      return d ? enumSqlType(d) : undefined;
    },
    byOid: (oid) => catalog.typeByOid(oid),
    displayName: (typeId) => {
      const d = catalog.byId.get(typeId);
      if (d?.kind !== 'type') return undefined;
      const schema = catalog.schemaName(d.schemaId);
      // As PostgreSQL's format_type: qualified when the name would not find this type.
      return resolveTypeDesc(catalog, session, undefined, d.name)?.id === d.id ? quoteTypeName(d.name) : `${quoteTypeName(schema)}.${quoteTypeName(d.name)}`;
    },
  };
}
