// The SQL catalog as change capture needs it: descriptors are JSON rows of system table 1 on the
// system shard (libs/sql/src/catalog/store.ts), versioned by MVCC like any row. Reading them at
// a change's commit timestamp gives the shape that change was written with, so events after a
// schema change carry the new shape from the commit that introduced it and not before.
//
// Only the fields CDC uses are declared here (structural subsets of libs/sql's descriptors):
// the SQL engine stays out of this service.
import { encodeIndexKey, HASHED_TABLE_MIN, indexSpan, type IndexKeySpec, type MvccStore, type Timestamp } from '@weft/storage';

export interface ColumnDescView {
  readonly id: number;
  readonly name: string;
  readonly type: { readonly kind: string };
  readonly hidden?: boolean;
  readonly missingValue?: string;
}

export interface TableDescView {
  readonly kind: 'table';
  readonly id: number;
  readonly schemaId: number;
  readonly name: string;
  readonly columns: readonly ColumnDescView[];
  readonly primary: { readonly id: number; readonly columns: readonly number[] };
}

interface SchemaDescView {
  readonly kind: 'schema';
  readonly id: number;
  readonly dbId: number;
  readonly name: string;
}

interface DatabaseDescView {
  readonly kind: 'database';
  readonly id: number;
  readonly name: string;
}

/** A table with the names its events are published under. */
export interface ResolvedTable {
  readonly db: string;
  readonly schema: string;
  readonly table: TableDescView;
}

const DESC: IndexKeySpec = { tableId: 1, indexId: 1, types: ['int8'], directions: ['asc'] };
const descKey = (id: number): Buffer => encodeIndexKey(DESC, [{ type: 'int8', value: BigInt(id) }]);

/** The catalog's JSON encodes bigints as {"$big": "..."}; CDC never needs their values. */
function parse(raw: Buffer): unknown {
  return JSON.parse(raw.toString('utf8'));
}

/** What the initial snapshot needs of the catalog (an interface so tests can hand one in). */
export interface SnapshotCatalog {
  tables(ts: Timestamp): ResolvedTable[];
}

/** Reads descriptors from the system shard's store as of a timestamp. */
export class CatalogView implements SnapshotCatalog {
  constructor(private readonly store: () => MvccStore) {}

  private descriptor(id: number, ts: Timestamp): unknown {
    // Intents are read past: a DDL still in flight at `ts` has not committed at or below it
    // (the caller waits until the system shard is settled up to `ts`, see cdc-feed.ts).
    const r = this.store().get(descKey(id), ts, { intentStatus: () => 'ignore' });
    return r.kind === 'found' ? parse(r.value) : undefined;
  }

  /**
   * Every user table as of `ts`, by id (the initial snapshot's list of what to read). Pages
   * through the descriptor index: a catalog of any size is read in bounded steps.
   */
  tables(ts: Timestamp): ResolvedTable[] {
    const ids: number[] = [];
    const span = indexSpan(DESC);
    let start = span.start;
    for (;;) {
      const page = this.store().scan(start, span.end, ts, { limit: 256, intentStatus: () => 'ignore' });
      if (page.kind !== 'rows') break;
      for (const r of page.rows) {
        const d = parse(r.value) as { kind?: string; id?: number };
        if (d.kind === 'table' && typeof d.id === 'number' && d.id >= HASHED_TABLE_MIN) ids.push(d.id);
      }
      if (page.resumeKey === undefined) break;
      start = page.resumeKey;
    }
    return ids.map((id) => this.table(id, ts)).filter((t): t is ResolvedTable => t !== undefined);
  }

  /** The table `tableId` as of `ts`, with its database and schema names; undefined if it did not exist then. */
  table(tableId: number, ts: Timestamp): ResolvedTable | undefined {
    const t = this.descriptor(tableId, ts) as TableDescView | undefined;
    if (t?.kind !== 'table') return undefined;
    const s = this.descriptor(t.schemaId, ts) as SchemaDescView | undefined;
    const d = s?.kind === 'schema' ? (this.descriptor(s.dbId, ts) as DatabaseDescView | undefined) : undefined;
    return { db: d?.kind === 'database' ? d.name : 'weft', schema: s?.kind === 'schema' ? s.name : 'public', table: t };
  }
}
