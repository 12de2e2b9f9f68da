// @weft/kv: the shard interface the transaction and SQL layers are written against.
export type { ShardKv, KvRow, ScanPage, ScanRequestOptions } from './shard-kv';
