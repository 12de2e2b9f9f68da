// Markers of dropped data. DROP TABLE and DROP INDEX do not delete their rows one by one (a
// million-row table took minutes, as that many intents and then versions on every replica).
// The dropping transaction writes one marker per dropped table or index instead, a system row
// kept on every shard (the KV client writes keys under DROPPED_DATA_PREFIX to each shard, like
// the catalog version). Once the marker's commit timestamp is at or below a shard's gc
// threshold, no read can reach the data any more (reads below the threshold are refused), and
// that shard's gc entries delete the data outright, then the marker.
//   /3/1/<table id int8>/<index id int8>   (index id 0: the whole table)
import { encodeIndexKey, decodeIndexKey, indexSpan, writeOrderedUint, type IndexKeySpec } from './table-keys';
import { ByteWriter, CorruptEncodingError, prefixEnd } from './bytes';

const MARKERS: IndexKeySpec = { tableId: 3, indexId: 1, types: ['int8', 'int8'], directions: ['asc', 'asc'] };

/** Every marker key starts with this (the KV client replicates keys under it to every shard). */
export const DROPPED_DATA_PREFIX: Buffer = indexSpan(MARKERS).start;

/** User-key span of all markers. */
export const DROPPED_MARKER_SPAN: { readonly start: Buffer; readonly end: Buffer } = indexSpan(MARKERS);

/** The marker recording that index `indexId` of table `tableId` (0: the whole table) was dropped. */
export function droppedDataMarker(tableId: number, indexId = 0): Buffer {
  return encodeIndexKey(MARKERS, [{ type: 'int8', value: BigInt(tableId) }, { type: 'int8', value: BigInt(indexId) }]);
}

/** The user-key span a marker stands for: [start, end). */
export function droppedSpanOf(marker: Uint8Array): { readonly start: Buffer; readonly end: Buffer } {
  const [t, i] = decodeIndexKey(marker, MARKERS);
  if (t.type !== 'int8' || i.type !== 'int8') throw new CorruptEncodingError('dropped-data marker without its table and index ids');
  const tableId = Number(t.value);
  const indexId = Number(i.value);
  const w = new ByteWriter(20);
  writeOrderedUint(w, tableId);
  if (indexId > 0) writeOrderedUint(w, indexId);
  const start = w.finish();
  return { start, end: prefixEnd(start) as Buffer };
}
