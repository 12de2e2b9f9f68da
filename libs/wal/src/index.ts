export { Wal } from './wal';
export type { WalOptions, WalStats, SegmentInfo, RecoveryInfo } from './wal';
export type { WalRecord } from './records';
export type { GroupStorage } from './group-log';
export type { WalFs, WalFile } from './fs';
export { nodeFs, MemFs } from './fs';
export { WalCorruptionError, WalFailedError, WalClosedError, WalInvalidRecordError } from './errors';
export { crc32, crc32IsNative } from './crc32';
