// @weft/kv: the shard interface the transaction and SQL layers are written against, and the
// typed errors of the KV layers with their one SQLSTATE table.
export type { ShardKv, KvRow, ScanPage, ReadRequestOptions, ScanRequestOptions, ScanFilter, RowFilter, ScanFilterCompiler, LockReadResult, RefreshResult } from './shard-kv';
export { KV_SQLSTATE, KvError, UncertainReadError, WriteIntentError, sqlstateOf } from './errors';
export type { KvErrorCode, MetIntent, TxnStatus } from './errors';
export { LockTable, WaitGraph, deadlockDetected, findDeadlockVictim, lockTimeout } from './lock-table';
export type { LockAttempt, LockTableOptions, LockWaitEdge } from './lock-table';
