// Kafka-fed replicas: consumes the shard log topics and applies every record with the same
// @weft/materialize code the Raft replicas use, each shard into its own RocksDB. Given the same
// log prefix the state hash is the replicas' (decision 0012), which is how it is tested.
//
// Position: the consumer group's committed offsets, committed only after the records were
// applied; applying is idempotent by index ('already-applied'), so a redelivery is harmless. A
// shard whose store is empty starts from offset 0 (that is also how to rebuild: an empty data
// directory). A record past the next index (the group's offsets are ahead of this store, e.g.
// the store was replaced) re-reads the topic from 0. A gap record stops the shard: it needs a
// rebuild from a snapshot, which is not built yet.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { Materializer } from '@weft/materialize';
import { fromMessage, logTopic, mirrorProgressGroup, shardOfLogTopic, type LogRecord } from '@weft/mirror';
import { MvccStore } from '@weft/storage';
import type { MaterializedFeed } from './materialized-shard';

export interface LogMaterializerLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface LogMaterializerOptions {
  readonly kafka: Kafka;
  readonly topicPrefix: string;
  readonly shardIds: readonly number[];
  readonly dataDir: string;
  /** Consumer group (its committed offsets are this materializer's position). */
  readonly groupId: string;
  readonly logger: LogMaterializerLogger;
  readonly now?: () => number;
}

export type ShardFeedState = 'waiting-for-topic' | 'applying' | 'caught-up' | 'stopped';

export interface ShardFeedStatus {
  readonly shardId: number;
  readonly state: ShardFeedState;
  readonly appliedIndex: number;
  /** Hex of the 32-byte state hash at appliedIndex. */
  readonly stateHash: string;
  readonly lastCommitTs: string;
  /** Last index in the topic (the mirror's committed progress), as last polled. */
  readonly topicIndex: number;
  /** Entries in the topic not applied here yet (topicIndex − appliedIndex). */
  readonly lagEntries: number;
  /** repl.lag_ms: 0 when caught up, else how long ago the last applied record was produced. */
  readonly lagMs: number;
  readonly recordsApplied: number;
  /** Records whose outcome header differs from what applying them here gave (must stay 0). */
  readonly outcomeMismatches: number;
  readonly error: string | undefined;
}

class ShardFeed {
  state: ShardFeedState = 'waiting-for-topic';
  topicIndex = 0;
  /** Set once the topic was re-read from 0 for being ahead of the store (done at most once). */
  reread = false;
  lastProducedAt = 0;
  recordsApplied = 0;
  outcomeMismatches = 0;
  error: string | undefined;
  constructor(
    readonly shardId: number,
    readonly store: MvccStore,
    readonly sm: Materializer,
  ) {}
}

export class LogMaterializer {
  private readonly feeds = new Map<number, ShardFeed>();
  private consumer: Consumer | undefined;
  private stopping = false;
  private starting: Promise<void> | undefined;
  private poll: NodeJS.Timeout | undefined;
  private admin: Admin | undefined;
  private readonly startedAt = Date.now();

  constructor(private readonly o: LogMaterializerOptions) {}

  /** Opens every shard's store, then (in the background) waits for the topics and consumes. */
  async open(): Promise<void> {
    for (const id of this.o.shardIds) {
      const dir = path.join(this.o.dataDir, `shard-${id}`);
      mkdirSync(dir, { recursive: true });
      const store = await MvccStore.open(dir);
      const sm = await Materializer.open(store, id);
      this.feeds.set(id, new ShardFeed(id, store, sm));
    }
    this.starting = this.consume();
  }

  /** Shard `shardId`'s state and whether its feed stopped (what MaterializedShard serves). */
  feed(shardId: number): MaterializedFeed | undefined {
    const f = this.feeds.get(shardId);
    if (f === undefined) return undefined;
    return { sm: f.sm, stoppedReason: () => (f.state === 'stopped' ? (f.error ?? 'stopped') : undefined) };
  }

  status(): ShardFeedStatus[] {
    const now = (this.o.now ?? Date.now)();
    return [...this.feeds.values()].map((f) => ({
      shardId: f.shardId,
      state: f.state,
      appliedIndex: f.sm.appliedIndex,
      stateHash: f.sm.stateHash().toString('hex'),
      lastCommitTs: f.sm.lastCommitTs.toString(),
      topicIndex: f.topicIndex,
      lagEntries: Math.max(0, f.topicIndex - f.sm.appliedIndex),
      lagMs: f.topicIndex > f.sm.appliedIndex ? Math.max(0, now - (f.lastProducedAt || this.startedAt)) : 0,
      recordsApplied: f.recordsApplied,
      outcomeMismatches: f.outcomeMismatches,
      error: f.error,
    }));
  }

  async close(): Promise<void> {
    this.stopping = true;
    if (this.poll !== undefined) clearInterval(this.poll);
    await this.starting?.catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    for (const f of this.feeds.values()) await f.store.close();
  }

  private async consume(): Promise<void> {
    const topics = this.o.shardIds.map((id) => logTopic(this.o.topicPrefix, id));
    // The nodes create the topics when they first lead a shard; wait for them (auto-create is off).
    const admin = this.o.kafka.admin();
    this.admin = admin;
    for (;;) {
      if (this.stopping) return;
      try {
        await admin.connect();
        const have = new Set(await admin.listTopics());
        if (topics.every((t) => have.has(t))) break;
      } catch (e) {
        this.o.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'materializer: Kafka not reachable yet');
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    // How far each topic goes (the mirror's progress), for the lag.
    const pollProgress = async (): Promise<void> => {
      try {
        const got = await admin.fetchOffsets({ groupId: mirrorProgressGroup(this.o.topicPrefix), topics });
        for (const t of got) {
          const f = this.feeds.get(shardOfLogTopic(this.o.topicPrefix, t.topic) ?? 0);
          const p = Number(t.partitions.find((x) => x.partition === 0)?.offset ?? -1);
          if (f !== undefined && p > f.topicIndex) f.topicIndex = p;
        }
        for (const f of this.feeds.values()) if (f.state !== 'stopped' && f.state !== 'waiting-for-topic') f.state = f.topicIndex > f.sm.appliedIndex ? 'applying' : 'caught-up';
      } catch {
        // Kafka away: the lag keeps its last value and lagMs grows.
      }
    };
    this.poll = setInterval(() => void pollProgress(), 1000);
    void pollProgress();

    const consumer = this.o.kafka.consumer({ groupId: this.o.groupId, readUncommitted: false, retry: { retries: 10 } });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({ eachBatchAutoResolve: false, autoCommitInterval: 1000, eachBatch: (p) => this.onBatch(p) });
    // An empty store (first start, or a rebuild) reads its topic from the start, whatever the group committed.
    for (const f of this.feeds.values()) {
      f.state = 'applying';
      if (f.sm.appliedIndex === 0) consumer.seek({ topic: logTopic(this.o.topicPrefix, f.shardId), partition: 0, offset: '0' });
    }
  }

  private async onBatch(p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    const shardId = shardOfLogTopic(this.o.topicPrefix, batch.topic);
    const f = shardId === undefined ? undefined : this.feeds.get(shardId);
    if (f === undefined || f.state === 'stopped') return;
    for (const m of batch.messages) {
      if (!p.isRunning() || p.isStale()) return;
      let rec: LogRecord;
      try {
        rec = fromMessage(m, `${batch.topic}@${m.offset}`);
      } catch (e) {
        this.stop(f, e instanceof Error ? e.message : String(e));
        return;
      }
      const next = f.sm.appliedIndex + 1;
      if (rec.outcome.status === 'gap' && rec.outcome.gapFrom <= next && rec.index >= next) {
        this.stop(f, `the log has a gap (indexes ${rec.outcome.gapFrom}..${rec.index} were never published); rebuild this shard from a snapshot`);
        return;
      }
      if (rec.index > next && rec.outcome.status !== 'gap') {
        if (f.reread) {
          this.stop(f, `index ${rec.index} follows ${f.sm.appliedIndex} in the topic itself: entries are missing`);
          return;
        }
        // Our store is behind the group's committed position: read the topic again from 0.
        f.reread = true;
        this.o.logger.warn({ shard: f.shardId, index: rec.index, applied: f.sm.appliedIndex }, 'materializer: position ahead of the store; re-reading the topic from the start');
        this.consumer?.seek({ topic: batch.topic, partition: 0, offset: '0' });
        return;
      }
      if (rec.index >= next) {
        try {
          this.apply(f, rec);
        } catch (e) {
          this.stop(f, `index ${rec.index}: ${e instanceof Error ? e.message : String(e)}`);
          return;
        }
        f.lastProducedAt = Number(m.timestamp);
      }
      p.resolveOffset(m.offset);
    }
    if (f.sm.appliedIndex > f.topicIndex) f.topicIndex = f.sm.appliedIndex;
    f.state = f.topicIndex > f.sm.appliedIndex ? 'applying' : 'caught-up';
    await p.heartbeat();
  }

  private apply(f: ShardFeed, rec: LogRecord): void {
    if (rec.outcome.status === 'empty') {
      f.sm.applyEmpty(rec.index);
    } else {
      const got = f.sm.apply(rec.index, rec.data);
      if (got !== 'already-applied' && !sameOutcome(rec, got)) {
        f.outcomeMismatches++;
        this.o.logger.error({ shard: f.shardId, index: rec.index, header: rec.outcome.status, applied: got.status }, 'materializer: outcome differs from the leader\'s');
      }
    }
    f.recordsApplied++;
  }

  private stop(f: ShardFeed, why: string): void {
    f.state = 'stopped';
    f.error = why;
    this.o.logger.error({ shard: f.shardId, err: why }, 'materializer: shard stopped');
  }
}

function sameOutcome(rec: LogRecord, got: Exclude<ReturnType<Materializer['apply']>, 'already-applied'>): boolean {
  const want = rec.outcome;
  switch (want.status) {
    case 'committed':
      return got.status === 'committed' && got.commitTs === want.commitTs;
    case 'aborted':
      return got.status === 'aborted' && got.sqlstate === want.sqlstate;
    case 'applied':
      return got.status === 'applied' && got.ts === want.ts;
    default:
      return true;
  }
}
