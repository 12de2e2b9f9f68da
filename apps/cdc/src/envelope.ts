// The change-event format: Debezium's envelope (before/after/op/source/ts_ms plus the
// transaction block) and its transaction-boundary events, as JSON with schemas off. Pure
// functions: what goes on the wire is decided here and unit-tested in envelope.spec.ts.
import type { RowJson } from './row-json';

export type Op = 'c' | 'u' | 'd' | 'r';
export type SnapshotMarker = 'false' | 'true' | 'last';

export interface ChangeSource {
  readonly db: string;
  readonly schema: string;
  readonly table: string;
  readonly shard: number;
  /** Raft index of the entry that committed the change on its shard. */
  readonly index: number;
  /** Commit timestamp, µs since the Unix epoch (decimal string: exact beyond 2^53). */
  readonly commitTs: bigint;
  /** The transaction's 16-byte id, hex. */
  readonly txId: string;
}

export interface ChangeEvent {
  readonly before: RowJson | null;
  readonly after: RowJson | null;
  readonly source: {
    readonly version: string;
    readonly connector: 'weft';
    readonly name: string;
    readonly ts_ms: number;
    /** 'true' for an initial-snapshot event, 'last' for the last one of a shard's snapshot (as Debezium). */
    readonly snapshot: SnapshotMarker;
    readonly db: string;
    readonly schema: string;
    readonly table: string;
    readonly shard: number;
    readonly index: number;
    readonly commit_ts: string;
    readonly txId: string;
  };
  readonly op: Op;
  readonly ts_ms: number;
  readonly transaction: { readonly id: string; readonly total_order: number; readonly data_collection_order: number } | null;
}

export interface TransactionEvent {
  readonly status: 'BEGIN' | 'END';
  readonly id: string;
  readonly event_count: number | null;
  readonly data_collections: readonly { readonly data_collection: string; readonly event_count: number }[] | null;
  readonly ts_ms: number;
}

export const CDC_VERSION = '1';

/** c (created), u (updated) or d (deleted); undefined when neither image exists (nothing changed for a reader). */
export function opOf(before: RowJson | null, after: RowJson | null): Op | undefined {
  if (after === null) return before === null ? undefined : 'd';
  return before === null ? 'c' : 'u';
}

/**
 * The id of a transaction's boundary events. Each shard's change stream is produced
 * independently (decision 0034), so a transaction that wrote on several shards has one
 * BEGIN/END pair per shard; the shard in the id keeps each pair's id unique.
 */
export function boundaryId(txId: string, shard: number): string {
  return `${txId}:${shard}`;
}

/** "db.schema.table": the name Debezium's data_collections use. */
export function dataCollection(s: Pick<ChangeSource, 'db' | 'schema' | 'table'>): string {
  return `${s.db}.${s.schema}.${s.table}`;
}

export function changeEvent(
  name: string, src: ChangeSource, before: RowJson | null, after: RowJson | null, op: Op, nowMs: number,
  order?: { readonly totalOrder: number; readonly collectionOrder: number },
  snapshot: SnapshotMarker = op === 'r' ? 'true' : 'false',
): ChangeEvent {
  return {
    before,
    after,
    source: {
      version: CDC_VERSION,
      connector: 'weft',
      name,
      ts_ms: Number(src.commitTs / 1000n),
      snapshot,
      db: src.db,
      schema: src.schema,
      table: src.table,
      shard: src.shard,
      index: src.index,
      commit_ts: src.commitTs.toString(),
      txId: src.txId,
    },
    op,
    ts_ms: nowMs,
    transaction: order === undefined ? null : { id: boundaryId(src.txId, src.shard), total_order: order.totalOrder, data_collection_order: order.collectionOrder },
  };
}

export function beginEvent(id: string, nowMs: number): TransactionEvent {
  return { status: 'BEGIN', id, event_count: null, data_collections: null, ts_ms: nowMs };
}

/** END with per-table counts, tables in the order they first appeared in the transaction. */
export function endEvent(id: string, counts: ReadonlyMap<string, number>, nowMs: number): TransactionEvent {
  let total = 0;
  const collections = [...counts].map(([data_collection, event_count]) => {
    total += event_count;
    return { data_collection, event_count };
  });
  return { status: 'END', id, event_count: total, data_collections: collections, ts_ms: nowMs };
}

/** Kafka topic names allow [a-zA-Z0-9._-]; any other character of an identifier becomes '_'. */
export function topicPart(identifier: string): string {
  return identifier.replace(/[^a-zA-Z0-9_-]/g, '_');
}

/** `<prefix>.cdc.<db>.<schema>.<table>` */
export function changeTopic(prefix: string, s: Pick<ChangeSource, 'db' | 'schema' | 'table'>): string {
  return `${prefix}.cdc.${topicPart(s.db)}.${topicPart(s.schema)}.${topicPart(s.table)}`;
}

/** `<prefix>.cdc.<db>.transactions` */
export function transactionTopic(prefix: string, db: string): string {
  return `${prefix}.cdc.${topicPart(db)}.transactions`;
}
