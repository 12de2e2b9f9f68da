// A materializer's copy of a shard, served for reads the way a follower serves them: at any
// timestamp at or below the closed timestamp its applied log carries (no entry applied later can
// commit at or below it, so the answer is final), from the same @weft/materialize state the Raft
// replicas read. Everything else — writes, locks, fresh timestamps, reads above the closed
// timestamp — is refused with `not-leader`, so a client that lists this server among a shard's
// replicas retries those on the Raft replicas. A read that meets an unresolved intent answers
// IntentConflict like a replica; the client resolves it through the shard's Raft group.
import type { KvRow, ReadRequestOptions, ScanPage, ScanRequestOptions, TxnStatus } from '@weft/kv';
import type { ReplicaStatus, ServedShard } from '@weft/kvrpc';
import type { ApplyOutcome, Timestamp } from '@weft/logentry';
import type { Materializer } from '@weft/materialize';

/** Not served here: the client tries the shard's Raft replicas (`not-leader`, no hint). */
export class NotServedByMaterializer extends Error {
  readonly code = 'not-leader' as const;
  readonly sqlstate = '40001';
  readonly leaderHint = 0;
  constructor(shardId: number, what: string) {
    super(`shard ${shardId}: a materializer serves only reads at or below its closed timestamp (${what})`);
    this.name = 'NotServedByMaterializer';
  }
}

/** The feed stopped applying (a gap, a bad record): its state is not served at all. */
export class MaterializerFeedStopped extends Error {
  readonly code = 'stopped' as const;
  readonly sqlstate = 'XX001';
  readonly leaderHint = 0;
  constructor(shardId: number, reason: string) {
    super(`shard ${shardId}: the materializer stopped applying this shard: ${reason}`);
    this.name = 'MaterializerFeedStopped';
  }
}

export interface MaterializedFeed {
  readonly sm: Materializer;
  /** Why the feed stopped, or undefined while it applies. */
  stoppedReason(): string | undefined;
}

export class MaterializedShard implements ServedShard {
  /** Reads answered, and requests refused with not-leader (a newer read, a write, ...). */
  readonly stats = { reads: 0, refused: 0 };

  constructor(
    readonly shardId: number,
    private readonly feed: MaterializedFeed,
  ) {}

  private check(ts: Timestamp): Materializer {
    const stopped = this.feed.stoppedReason();
    if (stopped !== undefined) throw new MaterializerFeedStopped(this.shardId, stopped);
    const sm = this.feed.sm;
    if (ts > sm.closedTs) {
      this.stats.refused++;
      throw new NotServedByMaterializer(this.shardId, `read at ${ts}, closed timestamp ${sm.closedTs} at log index ${sm.appliedIndex}`);
    }
    this.stats.reads++;
    return sm;
  }

  async get(key: Buffer, ts: Timestamp, options?: ReadRequestOptions): Promise<KvRow | undefined> {
    return this.check(ts).read(key, ts, options);
  }

  async scan(start: Buffer, end: Buffer, ts: Timestamp, options?: ScanRequestOptions): Promise<ScanPage> {
    return this.check(ts).scan(start, end, ts, options);
  }

  async now(): Promise<Timestamp> {
    this.stats.refused++;
    throw new NotServedByMaterializer(this.shardId, 'a fresh timestamp comes from the leaseholder');
  }

  async propose(): Promise<ApplyOutcome> {
    this.stats.refused++;
    throw new NotServedByMaterializer(this.shardId, 'writes go through the shard\'s Raft group');
  }

  async txnStatus(): Promise<TxnStatus> {
    throw new NotServedByMaterializer(this.shardId, 'transaction records are read from the shard\'s Raft group');
  }

  replicaStatus(): Omit<ReplicaStatus, 'nodeId'> {
    const sm = this.feed.sm;
    return { leader: 0, term: 0, appliedIndex: sm.appliedIndex, closedTs: sm.closedTs, stateHash: sm.stateHash(), voters: [] };
  }
}
