// Catalog descriptors: plain JSON-serialisable records stored in the KV under reserved system
// table ids (see store.ts). Ids are allocated from one counter; a table's OID as clients see it
// in pg_class is its descriptor id + OID_BASE.
import type { Node } from 'libpg-query';
import type { SqlType } from '../types/types';

export const OID_BASE = 16384;

export interface DatabaseDesc {
  readonly kind: 'database';
  readonly id: number;
  readonly name: string;
}

export interface SchemaDesc {
  readonly kind: 'schema';
  readonly id: number;
  readonly dbId: number;
  readonly name: string;
}

export interface ColumnDesc {
  readonly id: number;
  readonly name: string;
  readonly type: SqlType;
  readonly notNull: boolean;
  /** DEFAULT expression as a parse tree (evaluated per row). */
  readonly defaultExpr?: Node;
  /** 'a' GENERATED ALWAYS / 'd' BY DEFAULT AS IDENTITY. */
  readonly identity?: 'a' | 'd';
  /** Hidden row id of a table created without a primary key (never shown). */
  readonly hidden?: boolean;
  /** Text of the value rows written before ADD COLUMN ... DEFAULT read for this column. */
  readonly missingValue?: string;
}

export type IndexDirection = 'asc' | 'desc';

export interface IndexDesc {
  readonly id: number;
  readonly name: string;
  /** Column ids of the index key, in order. */
  readonly columns: readonly number[];
  readonly directions: readonly IndexDirection[];
  readonly unique: boolean;
  readonly primary: boolean;
  /** Named like a constraint (PRIMARY KEY / UNIQUE in the table definition) rather than CREATE INDEX. */
  readonly constraint: boolean;
  /**
   * A partial index's WHERE (CREATE INDEX ... WHERE pred): only rows for which it is true have
   * an entry, and a unique one is unique among those rows only (plan/partial-index.ts).
   */
  readonly predicate?: Node;
}

export interface CheckDesc {
  readonly name: string;
  readonly expr: Node;
}

export interface ForeignKeyDesc {
  readonly name: string;
  readonly columns: readonly number[];
  readonly refTableId: number;
  readonly refColumns: readonly number[];
  /** pg_constraint confdeltype/confupdtype: a NO ACTION, r RESTRICT, c CASCADE, n SET NULL, d SET DEFAULT. */
  readonly onDelete?: string;
  readonly onUpdate?: string;
  /** pg_constraint confmatchtype: s MATCH SIMPLE (absent), f MATCH FULL. */
  readonly matchType?: 's' | 'f';
}

export interface TableDesc {
  readonly kind: 'table';
  readonly id: number;
  readonly schemaId: number;
  readonly name: string;
  readonly columns: readonly ColumnDesc[];
  readonly nextColumnId: number;
  /** The primary index (id 1): the row itself is stored under it. */
  readonly primary: IndexDesc;
  readonly indexes: readonly IndexDesc[];
  readonly nextIndexId: number;
  readonly checks: readonly CheckDesc[];
  readonly foreignKeys?: readonly ForeignKeyDesc[];
  /** Leading primary-key columns that form the hash (shard) key; 0/absent: the first PK column. */
  readonly hashColumns?: number;
  /** CREATE TABLE ... WITH (shards = N): every index of the table takes N hash values (absent: all). */
  readonly shards?: number;
}

export interface SequenceDesc {
  readonly kind: 'sequence';
  readonly id: number;
  readonly schemaId: number;
  readonly name: string;
  readonly start: string;
  readonly increment: string;
  readonly min: string;
  readonly max: string;
  readonly cycle: boolean;
  /** Set for serial/identity sequences: dropped with the column. */
  readonly ownedBy?: { readonly tableId: number; readonly columnId: number };
  readonly typeKind: 'int2' | 'int4' | 'int8';
}

export interface ViewDesc {
  readonly kind: 'view';
  readonly id: number;
  readonly schemaId: number;
  readonly name: string;
  readonly query: Node;
  readonly sql: string;
}

export interface EnumLabelDesc {
  readonly label: string;
  /** pg_enum.enumsortorder; rows and index keys store it, so it never changes once given. */
  readonly sortOrder: number;
  /** Numbers the labels in creation order (pg_enum.oid is derived from it). */
  readonly n: number;
}

/**
 * CREATE TYPE ... AS ENUM. Its OID is id + OID_BASE and its array type's is arrayId + OID_BASE
 * (both ids from the descriptor counter, so OIDs are stable and never reused).
 */
export interface TypeDesc {
  readonly kind: 'type';
  readonly id: number;
  readonly schemaId: number;
  readonly name: string;
  readonly arrayId: number;
  /** In sort order. */
  readonly labels: readonly EnumLabelDesc[];
  readonly nextLabel: number;
}

export type Descriptor = DatabaseDesc | SchemaDesc | TableDesc | SequenceDesc | ViewDesc | TypeDesc;

export const visibleColumns = (t: TableDesc): ColumnDesc[] => t.columns.filter((c) => !c.hidden);
