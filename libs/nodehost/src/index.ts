// @weft/nodehost: one node process's data plane — WAL, Raft transport, multi-Raft host and
// every shard replica it hosts, with their snapshot/compaction policy and the KV RPC server.
export {
  ELECTION_TICKS,
  NodeHost,
  type NodeHostLogger,
  type NodeHostObserver,
  type NodeHostOptions,
  type PeerSpec,
  type ShardHealth,
  type ShardLogStatus,
  type ShardSnapshotStats,
  type ShardSpec,
} from './node-host';
export { ClockMonitor, type ClockMonitorOptions, type ClockVerdict, type PeerOffset } from './clock-monitor';
export { MetaAgent, type MetaAgentOptions, type MetaAgentStats, type PlacementSource } from './meta-agent';
export { nextMembershipStep, CATCH_UP_ENTRIES, type MembershipStep } from './membership-step';
