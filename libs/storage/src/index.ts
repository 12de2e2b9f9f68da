// @weft/storage: key and row encodings and the MVCC store on RocksDB.
export * from './key-types';
export { encodeTuple, decodeTuple, compareKeys } from './keys';
export { compareValues, compareTuples, compareFloat, compareNumeric } from './compare-values';
export { canonicalNumeric, InvalidNumericError } from './numeric';
export { bucketHash, bucketMiddle, encodeIndexKey, decodeIndexKey, indexSpan, keyRoute, prefixCoversHash, shardHash, HASHED_TABLE_MIN, HASH_SPACE } from './table-keys';
export type { IndexKeySpec, KeyRoute } from './table-keys';
export { CorruptEncodingError, prefixEnd } from './bytes';
export { DROPPED_DATA_PREFIX, DROPPED_MARKER_SPAN, droppedDataMarker, droppedSpanOf } from './dropped-data';
export { ROW_FORMAT_V1, encodeRow, decodeRow, readColumn } from './rows';
export type { RowValue, RowType } from './rows';
export { MAX_TIMESTAMP, InvalidTimestampError } from './mvcc-keys';
export type { Timestamp } from './mvcc-keys';
export type { Intent } from './mvcc-values';
export { MvccStore, MvccBatch, DEFAULT_GC_TTL } from './mvcc';
export type { MvccOptions } from './mvcc';
export type {
  GetResult, ScanResult, Uncertain, ScanRow, IntentConflict, IntentVerdict, KeyedIntent, ReadOptions, ScanOptions, WriteOptions, ResolveOutcome, GcOptions, GcStats,
} from './mvcc';
export { RocksDb, RocksBatch, RocksIterator } from './rocks';
export type { RocksOptions, IteratorOptions } from './rocks';
// Physical layout, for code that must see exactly what is on disk: the materializer hashes raw
// entries (state hash) and stages intents, versions and local keys in its own apply batch.
export {
  NS_DATA, NS_LOCAL, versionPrefix, versionKey, intentKey, localKey, afterVersions, dataLowerBound, dataUpperBound,
  isIntentSlot, timestampOf, userKeyOf, prefixLength, checkTimestamp,
} from './mvcc-keys';
export { TOMBSTONE, encodeVersion, decodeVersion, encodeIntent, decodeIntent } from './mvcc-values';
