// @weft/txn: interactive transactions over one shard (read your writes, read-set tracking, 1PC commit).
export { Txn, type TxnOptions, type TxnRow, type ScanOptions } from './txn';
export { MemoryShard } from './test-support/memory-shard';
