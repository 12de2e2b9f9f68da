import { ConfChangeType } from '@weft/raft';
import type { NodeInfo, NodeLiveness, NodeRecord, ShardRecord } from '@weft/meta';
import { nextMembershipStep } from './membership-step';
import type { NodeHost, NodeHostLogger } from './node-host';

/** What the agent needs from the meta service (MetaClient implements it). */
export interface PlacementSource {
  heartbeat(info: NodeInfo): Promise<{ readonly state: NodeLiveness }>;
  nodes(): Promise<readonly NodeRecord[]>;
  shardMap(): Promise<readonly ShardRecord[]>;
}

export interface MetaAgentOptions {
  readonly host: NodeHost;
  readonly meta: PlacementSource;
  /** This node as other processes reach it (heartbeat payload, without the leading shards). */
  readonly self: Omit<NodeInfo, 'leading'>;
  readonly logger: NodeHostLogger;
  /** Heartbeat and placement sync period (default 1000 ms). */
  readonly intervalMs?: number;
  /**
   * A replica no longer placed here, whose group still lists this node, keeps serving this long
   * (default 30 s) so the group keeps its redundancy while the leader moves it; past that (the
   * node was replaced while it was down and never heard of its removal) it stops anyway.
   */
  readonly removeGraceMs?: number;
  /** Milliseconds now (injectable for tests). */
  readonly nowMs?: () => number;
}

export interface MetaAgentStats {
  syncs: number;
  failures: number;
  shardsAdded: number;
  shardsRemoved: number;
  confChanges: number;
  leaseTransfers: number;
  lastError: string;
}

/**
 * Makes a node host what meta places on it (decision 0033). Every interval it heartbeats (with
 * the shards it leads, meta's leaseholder hints), learns the other nodes' Raft addresses, opens
 * the shards placed on it, stops hosting the shards moved away from it, and — for each shard it
 * leads — takes one step toward the placement (nextMembershipStep: learner, snapshot, joint
 * promotion and removal). Meta decides where replicas go; the shards' own Raft groups make the
 * change, so a meta outage never blocks data traffic, only placement changes.
 */
export class MetaAgent {
  readonly stats: MetaAgentStats = { syncs: 0, failures: 0, shardsAdded: 0, shardsRemoved: 0, confChanges: 0, leaseTransfers: 0, lastError: '' };
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  /** Shards with a membership change or an add/remove in flight: one at a time each. */
  private readonly busy = new Set<number>();
  private readonly work = new Set<Promise<unknown>>();
  /** When each hosted shard was first seen no longer placed here. */
  private readonly unplacedSince = new Map<number, number>();

  constructor(private readonly opts: MetaAgentOptions) {}

  /** Starts the periodic sync; the first runs at once. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.sync(), this.opts.intervalMs ?? 1000);
    void this.sync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await Promise.allSettled([...this.work]);
  }

  /** One round (tests call it directly); a round still running is joined, not doubled. */
  sync(): Promise<void> {
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    const { host, meta, self } = this.opts;
    try {
      const leading = host.shardIds().filter((id) => {
        const st = host.groupStatus(id);
        return st !== undefined && st.state === 'leader';
      });
      await meta.heartbeat({ ...self, leading });
      const nodes = await meta.nodes();
      for (const n of nodes) host.setPeer({ nodeId: n.nodeId, host: n.address, port: n.raftPort });
      const map = await meta.shardMap();
      if (this.stopped) return;
      this.reconcile(map);
      this.stats.syncs++;
    } catch (e) {
      this.stats.failures++;
      this.stats.lastError = e instanceof Error ? e.message : String(e);
      this.opts.logger.warn({ err: this.stats.lastError }, 'placement sync with meta failed; keeping the current replicas');
    }
  }

  private reconcile(map: readonly ShardRecord[]): void {
    const { host } = this.opts;
    const me = this.opts.self.nodeId;
    const hosted = new Set(host.shardIds());
    for (const s of map) {
      if (this.busy.has(s.shardId)) continue;
      const placed = s.replicas.includes(me);
      if (placed && !hosted.has(s.shardId)) {
        // The first placement bootstraps the group with the same voters on every node; a
        // replica added later starts empty and waits for the leader's snapshot.
        const voters = s.bootstrapVoters.includes(me) ? s.bootstrapVoters : [];
        this.track(s.shardId, 'add', async () => {
          await host.addShard(s.shardId, voters);
          this.stats.shardsAdded++;
          this.opts.logger.info({ shard: s.shardId, joining: voters.length === 0 }, 'hosting a replica placed here by meta');
        });
        continue;
      }
      const st = host.groupStatus(s.shardId);
      if (placed) this.unplacedSince.delete(s.shardId);
      if (!placed && hosted.has(s.shardId)) {
        // Moved away. A leader first hands leadership to a replica that stays (below). A
        // follower stops once its group no longer lists it, or after the grace period; to the
        // group, stopping is the same as this node being down, so either is safe.
        const now = (this.opts.nowMs ?? Date.now)();
        const since = this.unplacedSince.get(s.shardId) ?? now;
        this.unplacedSince.set(s.shardId, since);
        const listed = st !== undefined && [...st.confState.voters, ...st.confState.votersOutgoing, ...st.confState.learners].includes(me);
        const graceOver = now - since >= (this.opts.removeGraceMs ?? 30_000);
        if (st?.state !== 'leader' && (!listed || graceOver)) {
          this.unplacedSince.delete(s.shardId);
          // Its state is deleted only when the group's applied configuration excludes it;
          // after the grace period alone it is kept (the group may still count on it).
          const destroyState = st !== undefined && !listed;
          this.track(s.shardId, 'remove', async () => {
            await host.removeShard(s.shardId, { destroyState });
            this.stats.shardsRemoved++;
          });
          continue;
        }
      }
      if (!st || st.state !== 'leader' || s.replicas.length === 0) continue;
      // A learner still at index 0 (added under an earlier leader, or before a restart) needs a
      // snapshot this leader can send.
      if (st.confState.learners.some((l) => (st.progress?.[l]?.match ?? 0) === 0)) {
        this.track(s.shardId, 'seeding a new replica', () => host.seedNewReplicas(s.shardId));
        continue;
      }
      const step = nextMembershipStep(st, s.replicas);
      if (step.kind === 'transfer') {
        this.stats.leaseTransfers++;
        this.opts.logger.info({ shard: s.shardId, to: step.to, why: step.why }, 'transferring leadership before leaving the group');
        host.raftHost?.transferLeader(s.shardId, step.to);
      } else if (step.kind === 'conf') {
        this.track(s.shardId, 'membership change', async () => {
          this.opts.logger.info({ shard: s.shardId, change: step.change, why: step.why }, 'changing shard membership toward the placement');
          await host.proposeConfChange(s.shardId, step.change);
          this.stats.confChanges++;
          // A new learner can only start from a snapshot: make sure the leader has one to send.
          if (step.change.changes.some((c) => c.type === ConfChangeType.AddLearnerNode)) await host.seedNewReplicas(s.shardId);
        });
      }
    }
  }

  /** Runs one shard's change in the background, one per shard at a time. */
  private track(shardId: number, what: string, fn: () => Promise<void>): void {
    this.busy.add(shardId);
    const p = fn()
      .catch((e: unknown) => {
        this.stats.failures++;
        this.stats.lastError = `shard ${shardId} ${what}: ${e instanceof Error ? e.message : String(e)}`;
        this.opts.logger.warn({ shard: shardId, err: this.stats.lastError }, 'placement step failed; the next sync retries');
      })
      .finally(() => {
        this.busy.delete(shardId);
        this.work.delete(p);
      });
    this.work.add(p);
  }
}
