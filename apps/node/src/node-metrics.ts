import { statfsSync } from 'node:fs';
import type { Attributes, Meter } from '@opentelemetry/api';
import type { NodeMirrorStats } from '@weft/mirror';
import type { NodeHost, NodeHostObserver, ShardHealth } from '@weft/nodehost';
import { secondsHistogram } from '@weft/telemetry';

/** fdatasync takes 0.05–50 ms on healthy disks; a slow or failing one shows in the tail. */
const FSYNC_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Microseconds since the epoch, now (the closed timestamps' clock). */
const nowMicros = (): number => Date.now() * 1000;

/**
 * How far behind the present a replica's state is: now minus its closed timestamp, which the
 * leader moves forward every 200 ms under traffic and every 2 s when idle. A follower that stops
 * receiving or applying the log falls behind by the wall-clock time since. Infinity before the
 * first closed timestamp applied (a replica that has not caught up yet).
 */
export function replicationLagSeconds(h: Pick<ShardHealth, 'closedTs'>, nowUs = nowMicros()): number {
  if (h.closedTs === 0n) return Number.POSITIVE_INFINITY;
  return Math.max(0, (nowUs - Number(h.closedTs)) / 1e6);
}

/**
 * The node's metrics. Hot-path values (commit latency, fsync durations, elections) are recorded
 * through `observer`, which NodeHost calls as they happen; everything else is read from the
 * host's own counters and shard status once per scrape (observable instruments), so it costs
 * nothing between scrapes.
 */
export class NodeMetrics {
  readonly observer: NodeHostObserver;
  private readonly attrs = new Map<number, Attributes>();
  private readonly nodeAttrs: Attributes;
  /** performance.now() when this node last saw a shard lose its leader (failover time). */
  private readonly leaderlessSince = new Map<number, number>();

  constructor(
    meter: Meter,
    private readonly nodeId: number,
    host: () => NodeHost | undefined,
    /** The node's data directory: its file system's free space is exported (disk-full alerts). */
    dataDir?: string,
    /** The Kafka mirror, when the node mirrors its shards' logs (its backlog is exported). */
    mirror: () => { stats(): NodeMirrorStats } | undefined = () => undefined,
  ) {
    this.nodeAttrs = { node: String(nodeId) };
    const commit = secondsHistogram(meter, 'weft_raft_commit_latency_seconds', 'Proposal to commit and apply on the leader (quorum fsync included), per shard');
    const fsync = secondsHistogram(meter, 'weft_wal_fsync_duration_seconds', 'Duration of each WAL fdatasync (group commit of every shard of the node)', FSYNC_BUCKETS_SECONDS);
    const failover = secondsHistogram(meter, 'weft_raft_leaderless_seconds', 'Time a shard had no known leader, as seen by this node (failover time)');
    const elections = meter.createCounter('weft_raft_leader_elections', { description: 'Times this node became leader of a shard (sum over nodes: leader changes)' });
    const changes = meter.createCounter('weft_raft_leader_changes', { description: "Changes of a shard's leader as seen by this node (a new leader, or none)" });

    this.observer = {
      onCommit: (shard, ms) => commit.record(ms / 1000, this.shard(shard)),
      onWalSync: (info) => fsync.record(info.ms / 1000, this.nodeAttrs),
      onLeaderChange: (shard, leader) => {
        const a = this.shard(shard);
        changes.add(1, a);
        if (leader === this.nodeId) elections.add(1, a);
        if (leader === 0) {
          if (!this.leaderlessSince.has(shard)) this.leaderlessSince.set(shard, performance.now());
        } else {
          const since = this.leaderlessSince.get(shard);
          if (since !== undefined) {
            failover.record((performance.now() - since) / 1000, a);
            this.leaderlessSince.delete(shard);
          }
        }
      },
    };

    const g = (name: string, description: string, unit?: string) => meter.createObservableGauge(name, { description, ...(unit ? { unit } : {}) });
    const c = (name: string, description: string) => meter.createObservableCounter(name, { description });
    const isLeader = g('weft_raft_is_leader', '1 if this node leads the shard');
    const leader = g('weft_raft_leader_node', "The shard's leader as this node knows it (0: none)");
    const term = g('weft_raft_term', "The shard's Raft term on this node");
    const commitIndex = g('weft_raft_commit_index', "The shard's commit index on this node");
    const applied = g('weft_replica_applied_index', "The shard's applied index on this node");
    const pending = g('weft_raft_proposals_pending', 'Proposals on this node waiting to commit, per shard');
    const stopped = g('weft_replica_stopped', '1 if the replica stopped applying (a bad entry); it needs an operator');
    const lag = g('weft_replication_lag_seconds', "Now minus the replica's closed timestamp: how stale its state is (see runbook high-replication-lag)", 's');
    const followerLag = g('weft_raft_follower_lag_entries', 'On the leader: commit index minus a follower\'s match index');
    const queue = g('weft_raft_append_queue_length', 'WAL appends queued behind the one being written (group commit backlog)');
    const walAppends = c('weft_wal_appends', 'WAL append calls');
    const walBytes = c('weft_wal_written_bytes', 'Bytes written to the WAL, framing included');
    const cycles = c('weft_raft_ready_cycles', 'Ready cycles of the multi-Raft host');
    const messages = c('weft_raft_messages_sent', 'Raft messages sent');
    const entries = c('weft_raft_entries_applied', 'Log entries applied');
    const kvRequests = c('weft_kvrpc_server_requests', 'KV RPC requests served');
    const kvConnections = c('weft_kvrpc_server_connections', 'KV RPC connections accepted');
    const diskFree = g('weft_node_disk_free_bytes', "Bytes available to the node on its data directory's file system", 'By');
    const diskSize = g('weft_node_disk_size_bytes', "Size of the node's data directory's file system", 'By');
    const mirrorBacklog = g('weft_mirror_backlog_entries', 'Applied log entries of the shard not yet known to be in its Kafka topic (per node; decision 0026)');
    const mirrorBacklogAge = g('weft_mirror_backlog_age_seconds', 'Age of the oldest of them: how far the Kafka log topic is behind this replica', 's');
    const mirrorOverflowed = g('weft_mirror_overflowed', '1 while the backlog exceeds WEFT_MIRROR_MAX_BACKLOG and the Raft log is compacted anyway (the topic will get a gap record)');
    const clockOffset = g('weft_node_clock_offset_seconds', "A peer's clock minus this node's, as last measured (decision 0057; the node exits past 80 % of the 250 ms max offset)", 's');

    meter.addBatchObservableCallback(
      (obs) => {
        const h = host();
        if (!h) return;
        const now = nowMicros();
        for (const s of h.shardHealth()) {
          const a = this.shard(s.shardId);
          obs.observe(isLeader, s.isLeader ? 1 : 0, a);
          obs.observe(leader, s.leader, a);
          obs.observe(term, s.term, a);
          obs.observe(commitIndex, s.commitIndex, a);
          obs.observe(applied, s.appliedIndex, a);
          obs.observe(pending, s.pendingProposals, a);
          obs.observe(stopped, s.stopped ? 1 : 0, a);
          const l = replicationLagSeconds(s, now);
          if (Number.isFinite(l)) obs.observe(lag, l, a);
          for (const [f, match] of Object.entries(s.followerMatch ?? {})) {
            obs.observe(followerLag, Math.max(0, s.commitIndex - match), { ...a, follower: f });
          }
        }
        const w = h.walStats();
        if (w) {
          obs.observe(queue, w.queuedAppends, this.nodeAttrs);
          obs.observe(walAppends, w.appends, this.nodeAttrs);
          obs.observe(walBytes, w.bytes, this.nodeAttrs);
        }
        const r = h.raftHost?.stats;
        if (r) {
          obs.observe(cycles, r.cycles, this.nodeAttrs);
          obs.observe(messages, r.messagesSent, this.nodeAttrs);
          obs.observe(entries, r.entriesApplied, this.nodeAttrs);
        }
        if (dataDir) {
          try {
            const fs = statfsSync(dataDir);
            obs.observe(diskFree, fs.bavail * fs.bsize, this.nodeAttrs);
            obs.observe(diskSize, fs.blocks * fs.bsize, this.nodeAttrs);
          } catch {
            // The directory is gone or unreadable: the node reports that through its own errors.
          }
        }
        for (const m of mirror()?.stats().shards ?? []) {
          const a = this.shard(m.shardId);
          obs.observe(mirrorBacklog, m.backlogEntries, a);
          obs.observe(mirrorBacklogAge, m.backlogAgeMs / 1000, a);
          obs.observe(mirrorOverflowed, m.overflowed ? 1 : 0, a);
        }
        for (const o of h.clockOffsets()) obs.observe(clockOffset, o.offsetUs / 1e6, { ...this.nodeAttrs, peer: String(o.peer) });
        const k = h.kvServerStats();
        if (k) {
          obs.observe(kvRequests, k.requests, this.nodeAttrs);
          obs.observe(kvConnections, k.connections, this.nodeAttrs);
        }
      },
      [isLeader, leader, term, commitIndex, applied, pending, stopped, lag, followerLag, queue, walAppends, walBytes, cycles, messages, entries, kvRequests, kvConnections, diskFree, diskSize, clockOffset, mirrorBacklog, mirrorBacklogAge, mirrorOverflowed],
    );
  }

  /** Labels of a shard's series on this node (cached: the hot path allocates nothing). */
  private shard(id: number): Attributes {
    let a = this.attrs.get(id);
    if (!a) {
      a = { shard: String(id), node: String(this.nodeId) };
      this.attrs.set(id, a);
    }
    return a;
  }
}
