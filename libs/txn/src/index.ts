// @weft/txn: interactive transactions over one shard (read your writes, read-set tracking, 1PC commit).
export { Txn, AssumptionFailedError, DEFAULT_MAX_TXN_BYTES, DEFAULT_STAGE_BYTES, DEFAULT_STAGE_OPS, type TxnOptions, type TxnRow, type TxnSavepoint, type ScanOptions } from './txn';
export { MemoryShard } from './test-support/memory-shard';
