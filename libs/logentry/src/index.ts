// @weft/logentry: the versioned binary schema of shard log entries.
export type * from './types';
export { FORMAT_VERSION, encodeEntry, decodeEntry, settledTxnOf, EntryDecodeError, EntryEncodeError } from './codec';
export type { EntryDecodeReason } from './codec';
export { crc32c } from './crc32c';
