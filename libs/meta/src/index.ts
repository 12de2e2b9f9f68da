// @weft/meta: the control plane's replicated state (meta Raft group + TypeORM catalog), the
// timestamp oracle, node liveness, shard placement, and the meta RPC (server and client).
export * from './types';
export * from './commands';
export * from './state';
export * from './entities';
export * from './catalog';
export * from './tso';
export * from './liveness';
export * from './placement';
export * from './errors';
export * from './codec';
export * from './replica';
export * from './server';
export * from './client';
