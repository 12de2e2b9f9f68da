// @weft/kv: the shard interface the transaction and SQL layers are written against.
export type { ShardKv, KvRow, ScanPage, ReadRequestOptions, ScanRequestOptions } from './shard-kv';
