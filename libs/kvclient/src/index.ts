// @weft/kvclient: routes keys and spans to shards (shard map), fans reads out and merges them,
// and resolves the intents reads run into.
export { KvClient, mergePages } from './kv-client';
export type { KvClientClock, KvClientOptions, LockOptions, LockedRow } from './kv-client';
export { ShardMap } from './shard-map';
export type { ShardRange } from './shard-map';
