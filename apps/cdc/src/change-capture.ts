// The CDC service: one CdcFeed per shard (cdc-feed.ts) sharing the topic registry and the
// catalog, which is read from the system shard's replica in this process. Reports per shard
// the applied and published index and the lag behind the log topic (GET /cdc).
import type { Kafka } from 'kafkajs';
import { logTopic, mirrorProgressGroup, shardOfLogTopic } from '@weft/mirror';
import type { Timestamp } from '@weft/storage';
import { CatalogView } from './catalog-view';
import { CdcFeed, type CdcFeedStatus, type CdcLogger } from './cdc-feed';
import type { CdcFailpoint, CdcSnapshotSettings } from './settings';
import { TopicRegistry, type TopicSettings } from './topics';

/** The shard holding the SQL catalog (system tables are not hashed; kvclient routes them here). */
export const SYSTEM_SHARD = 1;

export interface ChangeCaptureOptions {
  readonly kafka: Kafka;
  readonly topicPrefix: string;
  /** Prefix of the change and transaction topics (default: topicPrefix). */
  readonly changeTopicPrefix?: string;
  readonly shardIds: readonly number[];
  readonly dataDir: string;
  readonly instanceId: string;
  readonly topics: TopicSettings;
  readonly logger: CdcLogger;
  /** Snapshot starts (decision 0037); undefined: mode never. */
  readonly snapshot?: CdcSnapshotSettings;
  /** Test only (WEFT_CDC_FAILPOINT). */
  readonly failpoint?: CdcFailpoint;
  /** Most events per Kafka transaction of a snapshot (decision 0043). */
  readonly snapshotChunkEvents?: number;
}

export class ChangeCapture {
  private readonly feeds = new Map<number, CdcFeed>();
  private readonly registry: TopicRegistry;
  private readonly runs: Promise<void>[] = [];
  private poll: NodeJS.Timeout | undefined;

  constructor(private readonly o: ChangeCaptureOptions) {
    if (!o.shardIds.includes(SYSTEM_SHARD)) throw new Error(`the CDC service needs shard ${SYSTEM_SHARD} (the catalog) among its shards`);
    this.registry = new TopicRegistry(o.kafka, o.topics);
  }

  /** Opens every shard's replica, then consumes in the background. */
  async open(): Promise<void> {
    const catalog = new CatalogView(() => this.system.mvcc);
    for (const shardId of this.o.shardIds) {
      const feed = new CdcFeed({
        kafka: this.o.kafka,
        prefix: this.o.topicPrefix,
        changePrefix: this.o.changeTopicPrefix ?? this.o.topicPrefix,
        instanceId: this.o.instanceId,
        shardId,
        dataDir: this.o.dataDir,
        topics: this.registry,
        catalog,
        holdsCatalog: shardId === SYSTEM_SHARD,
        catalogSettled: shardId === SYSTEM_SHARD ? () => true : (ts) => this.catalogSettled(ts),
        logger: this.o.logger,
        snapshot: this.o.snapshot,
        failpoint: this.o.failpoint,
        snapshotChunkEvents: this.o.snapshotChunkEvents,
      });
      await feed.open();
      this.feeds.set(shardId, feed);
    }
    for (const f of this.feeds.values()) this.runs.push(f.run());
    this.poll = setInterval(() => void this.pollTopics(), 1000);
  }

  private get system(): CdcFeed {
    return this.feeds.get(SYSTEM_SHARD) as CdcFeed;
  }

  /**
   * The catalog as of `ts` is final here once no later system-shard entry can commit at or below
   * `ts`: its closed timestamp covers it, or it applied a commit at or above `ts` and has no
   * prepared transaction that might still resolve below it (a new one would prepare above).
   */
  private catalogSettled(ts: Timestamp): boolean {
    if (!this.system.serving) return false;
    const sm = this.system.sm;
    return sm.closedTs >= ts || (sm.lastCommitTs >= ts && sm.preparedTxns.length === 0);
  }

  private async pollTopics(): Promise<void> {
    try {
      const topics = [...this.feeds.keys()].map((id) => logTopic(this.o.topicPrefix, id));
      const got = await this.registry.offsets(mirrorProgressGroup(this.o.topicPrefix), topics);
      const now = Date.now();
      for (const [topic, idx] of got) this.feeds.get(shardOfLogTopic(this.o.topicPrefix, topic) ?? 0)?.noteTopicIndex(idx, now);
    } catch {
      // Kafka away: the lag keeps its last value.
    }
  }

  status(): CdcFeedStatus[] {
    const now = Date.now();
    return [...this.feeds.values()].map((f) => f.status(now));
  }

  async close(): Promise<void> {
    if (this.poll !== undefined) clearInterval(this.poll);
    await Promise.all([...this.feeds.values()].map((f) => f.close()));
    await Promise.all(this.runs.map((r) => r.catch(() => undefined)));
    await this.registry.close();
  }
}
