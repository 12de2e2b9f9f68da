// The Kafka mirror of one node process: a ShardMirror per hosted shard, the Kafka clients they
// share, topic creation, and the progress poll through which followers learn how far each
// shard's topic got (their Raft logs are held back until then). See README.md.

import type { Kafka, Producer } from 'kafkajs';
import { KafkaAdminSession } from './admin-session';
import { createKafka, type KafkaSettings } from './kafka-config';
import { ShardMirror, type MirrorKafka, type ShardMirrorStats } from './shard-mirror';
import type { ShardLogSource } from './source';
import { logTopic, mirrorProgressGroup, mirrorTransactionalId } from './topics';

export interface NodeMirrorLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface NodeMirrorOptions {
  readonly kafka: KafkaSettings;
  readonly nodeId: number;
  readonly logger: NodeMirrorLogger;
  /** Unmirrored entries per shard past which its Raft log is no longer held back (default 500,000). */
  readonly maxBacklogEntries?: number;
  /** Entries per Kafka transaction (default 2,000) and about how many bytes (default 4 MiB). */
  readonly maxBatchEntries?: number;
  /** Wait between Kafka transactions that did not fill a batch (default 0; the node sets WEFT_MIRROR_LINGER_MS). */
  readonly lingerMs?: number;
  readonly maxBatchBytes?: number;
  /** How often followers read every hosted shard's progress from Kafka (default 1 s). */
  readonly progressPollMs?: number;
  readonly now?: () => number;
}

export interface NodeMirrorStats {
  readonly nodeId: number;
  readonly shards: readonly ShardMirrorStats[];
}

export class NodeMirror {
  private readonly kafka: Kafka;
  private readonly admin: KafkaAdminSession;
  private readonly mirrors = new Map<number, ShardMirror>();
  private readonly topics = new Set<string>();
  private source: ShardLogSource | undefined;
  private poll: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;
  readonly prefix: string;
  private readonly shardKafka: MirrorKafka;

  constructor(private readonly o: NodeMirrorOptions) {
    this.kafka = createKafka(o.kafka, `weft-node-${o.nodeId}`);
    this.admin = new KafkaAdminSession(this.kafka);
    this.prefix = o.kafka.topicPrefix;
    this.shardKafka = {
      topic: (shardId) => logTopic(this.prefix, shardId),
      progressGroup: mirrorProgressGroup(this.prefix),
      fencedProducer: (shardId) => this.fencedProducer(shardId),
      ensureTopic: (topic) => this.ensureTopic(topic),
      readProgress: (shardId) => this.readProgress(shardId),
    };
  }

  /** NodeHost's compactionFloor option: never compact past the last mirrored index (within the bound). */
  readonly compactionFloor = (shardId: number): number | undefined => {
    const m = this.mirrors.get(shardId);
    // Not mirrored yet (the node is still starting): keep everything.
    if (m === undefined) return 0;
    return m.compactionFloor();
  };

  /** NodeHost's onApplied option; a shard added to the node after start() joins the mirror here. */
  readonly onApplied = (shardId: number, appliedIndex: number): void => {
    if (!this.mirrors.has(shardId)) this.addShard(shardId);
    this.mirrors.get(shardId)?.onApplied(appliedIndex);
  };

  /** Starts mirroring the given shards of `source` (call once the node's shards are open). */
  start(source: ShardLogSource, shardIds: readonly number[]): void {
    this.source = source;
    for (const id of shardIds) this.addShard(id);
    this.poll = setInterval(() => void this.pollProgress(), this.o.progressPollMs ?? 1000);
    void this.pollProgress();
  }

  addShard(shardId: number): void {
    if (this.source === undefined || this.stopped || this.mirrors.has(shardId)) return;
    const m = new ShardMirror({
      shardId,
      source: this.source,
      kafka: this.shardKafka,
      maxBacklogEntries: this.o.maxBacklogEntries ?? 500_000,
      maxBatchEntries: this.o.maxBatchEntries ?? 2_000,
      lingerMs: this.o.lingerMs ?? 0,
      maxBatchBytes: this.o.maxBatchBytes ?? 4 << 20,
      now: this.o.now ?? Date.now,
      log: (level, msg, fields) => this.o.logger[level](fields, msg),
    });
    this.mirrors.set(shardId, m);
    m.start();
  }

  stats(): NodeMirrorStats {
    return { nodeId: this.o.nodeId, shards: [...this.mirrors.values()].map((m) => m.stats()).sort((a, b) => a.shardId - b.shardId) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poll !== undefined) clearInterval(this.poll);
    await Promise.all([...this.mirrors.values()].map((m) => m.stop()));
    await this.admin.close();
  }

  private async fencedProducer(shardId: number): Promise<Producer> {
    const producer = this.kafka.producer({
      transactionalId: mirrorTransactionalId(this.prefix, shardId),
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 30_000,
    });
    try {
      await producer.connect();
      // kafkajs registers the transactional id (InitProducerId: new epoch, older producers
      // fenced, their open transaction aborted) lazily, on the first transaction: force it now.
      const tx = await producer.transaction();
      await tx.abort();
      return producer;
    } catch (e) {
      await producer.disconnect().catch(() => undefined);
      throw e;
    }
  }

  private async ensureTopic(topic: string): Promise<void> {
    if (this.topics.has(topic)) return;
    await this.admin.run(async (admin) => {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic,
              numPartitions: 1,
              replicationFactor: this.o.kafka.replicationFactor,
              // The log is the history materializers rebuild from: kept until an operator
              // decides otherwise (Kafka's own retention would silently cut it).
              configEntries: [
                { name: 'retention.ms', value: '-1' },
                { name: 'retention.bytes', value: '-1' },
                { name: 'cleanup.policy', value: 'delete' },
              ],
            },
          ],
        });
      } catch (e) {
        if (!/already exists/i.test(e instanceof Error ? e.message : String(e))) throw e;
      }
    });
    this.topics.add(topic);
  }

  private async readProgress(shardId: number): Promise<number | 'empty'> {
    const topic = logTopic(this.prefix, shardId);
    return this.admin.run(async (admin) => {
      const [got] = await admin.fetchOffsets({ groupId: mirrorProgressGroup(this.prefix), topics: [topic] });
      const p = got?.partitions.find((x) => x.partition === 0);
      const progress = p === undefined ? -1 : Number(p.offset);
      if (progress >= 1) return progress;
      const [ends] = await admin.fetchTopicOffsets(topic);
      if (ends !== undefined && Number(ends.high) > Number(ends.low)) {
        throw new Error(`${topic} has records but no committed mirror progress (group ${mirrorProgressGroup(this.prefix)}); refusing to guess where to resume`);
      }
      return 'empty';
    });
  }

  /** Followers learn each shard's mirrored index; one request for all hosted shards. */
  private async pollProgress(): Promise<void> {
    if (this.polling || this.stopped) return;
    const idle = [...this.mirrors.values()].filter((m) => !m.leading);
    if (idle.length === 0) return;
    this.polling = true;
    try {
      const byTopic = new Map(idle.map((m) => [logTopic(this.prefix, m.shardId), m]));
      const got = await this.admin.run((admin) => admin.fetchOffsets({ groupId: mirrorProgressGroup(this.prefix), topics: [...byTopic.keys()] }));
      for (const t of got) {
        const m = byTopic.get(t.topic);
        const p = t.partitions.find((x) => x.partition === 0);
        if (m !== undefined && p !== undefined && Number(p.offset) >= 1 && !m.leading) m.observeProgress(Number(p.offset));
      }
    } catch {
      // Kafka unreachable: followers keep their last known progress (their logs stay held back
      // up to the backlog bound). The leaders' loops report the outage.
    } finally {
      this.polling = false;
    }
  }
}
