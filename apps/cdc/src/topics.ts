// Kafka administration of the CDC service: it creates its change topics itself (brokers may have
// auto-create off), waits for the log topics the nodes create, and creates its progress topic.
import type { ITopicConfig, Kafka } from 'kafkajs';
import { KafkaAdminSession, startOffsetAfter, type SnapshotPosition } from '@weft/mirror';

export interface TopicSettings {
  /** Partitions of a table's change topic (events of one key always go to one partition). */
  readonly partitions: number;
  readonly replicationFactor: number;
  /** retention.ms of the change topics (-1: keep forever). */
  readonly retentionMs: number;
}

export class TopicRegistry {
  private readonly admin: KafkaAdminSession;
  private readonly known = new Set<string>();

  constructor(
    kafka: Kafka,
    private readonly s: TopicSettings,
  ) {
    this.admin = new KafkaAdminSession(kafka);
  }

  /** Creates the topics not seen yet: transaction topics get one partition (one ordered stream per database). */
  async ensure(topics: readonly string[]): Promise<void> {
    await this.createMissing([...new Set(topics)], (topic) => ({
      topic,
      numPartitions: topic.endsWith('.transactions') ? 1 : this.s.partitions,
      replicationFactor: this.s.replicationFactor,
      configEntries: [
        { name: 'retention.ms', value: String(this.s.retentionMs) },
        { name: 'cleanup.policy', value: 'delete' },
      ],
    }));
  }

  /**
   * Creates `topic` if missing as a one-partition compacted topic (the progress topic,
   * progress-log.ts): compaction keeps the latest record per key, so reading it from the start
   * stays short.
   */
  async ensureCompacted(topic: string): Promise<void> {
    await this.createMissing([topic], () => ({
      topic,
      numPartitions: 1,
      replicationFactor: this.s.replicationFactor,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        // Roll segments often: only closed segments are compacted.
        { name: 'segment.ms', value: '60000' },
        { name: 'min.cleanable.dirty.ratio', value: '0.1' },
      ],
    }));
  }

  /** Creates those of `topics` neither seen here nor on the broker, each as `config` says. */
  private async createMissing(topics: readonly string[], config: (topic: string) => ITopicConfig): Promise<void> {
    const missing = topics.filter((t) => !this.known.has(t));
    if (missing.length === 0) return;
    await this.admin.run(async (admin) => {
      const have = new Set(await admin.listTopics());
      const create = missing.filter((t) => !have.has(t));
      if (create.length === 0) return;
      try {
        await admin.createTopics({ waitForLeaders: true, topics: create.map(config) });
      } catch (e) {
        if (!/already exists/i.test(e instanceof Error ? e.message : String(e))) throw e;
      }
    });
    for (const t of missing) this.known.add(t);
  }

  /** Waits until `topic` exists (the node leading the shard creates its log topic). */
  async waitFor(topic: string, stopping: () => boolean): Promise<void> {
    for (;;) {
      if (stopping()) throw new Error('stopping');
      const ok = await this.admin.run(async (a) => (await a.listTopics()).includes(topic)).catch(() => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /** Where to read `topic` from after a snapshot at `state` (found by time, libs/mirror start-offset.ts). */
  async startOffsetAfter(topic: string, state: SnapshotPosition, marginMs: number): Promise<string> {
    return this.admin.run((admin) => startOffsetAfter(admin, topic, state, marginMs));
  }

  /** Offsets of `groupId` on each topic's partition 0 (the mirror's progress, for the lag). */
  async offsets(groupId: string, topics: readonly string[]): Promise<Map<string, number>> {
    return this.admin.run(async (admin) => {
      const got = await admin.fetchOffsets({ groupId, topics: [...topics] });
      return new Map(got.map((t) => [t.topic, Number(t.partitions.find((x) => x.partition === 0)?.offset ?? -1)]));
    });
  }

  async close(): Promise<void> {
    await this.admin.close();
  }
}
