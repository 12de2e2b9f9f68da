// @weft/kvrpc: the binary KV protocol between gateways and nodes, its server and ShardKv client.
export { RemoteShardKv, KvRpcError, type RemoteShardKvOptions, type ReplicaAddress } from './client';
export { KvServer, toWireError, type KvServerOptions, type ServedShard, type KvServerLogger, type TracedRead } from './server';
export { KVRPC_VERSION, Kind, KvRpcDecodeError, decodeRequest, decodeResponse, encodeRequest, encodeResponse } from './codec';
export type { ReplicaStatus, Request, Response, WireError, WireErrorCode } from './codec';
