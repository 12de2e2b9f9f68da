// One shard's change stream: consumes `<prefix>.log.<shard>`, applies every entry to this
// service's own replica of the shard (capture.ts), and publishes the committed rows to the
// change topics in Kafka transactions that also commit the progress (decision 0034):
//
//  - Progress = the last Raft index whose changes are published, stored as the offset of group
//    `<prefix>.cdc.<id>.progress` on the log topic, sent with sendOffsets in the same
//    transaction as the events (as libs/mirror does: offsets on a transactional topic have holes,
//    indexes do not). Every consumed batch ends with one such transaction, events or not.
//  - Transactional id `<prefix>.cdc.<id>.<shard>`: a second instance of this feed fences the
//    first; the fenced one stops (its open transaction is aborted by the broker).
//  - On start: replica applied index A, published index E. A ≤ E: entries up to E are applied
//    without publishing (a lost or older replica catches up). A > E (the process died between
//    applying and committing): the replica is rebuilt from the start of the topic, because the
//    before-images of (E, A] are no longer the replica's current state.
//  - A failed transaction is retried with the same messages until it commits or the feed stops.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import { Materializer } from '@weft/materialize';
import { fromMessage, logTopic, type LogRecord } from '@weft/mirror';
import { MvccStore, type Timestamp } from '@weft/storage';
import { applyAndCapture } from './capture';
import type { CatalogView } from './catalog-view';
import { transactionMessages, type OutMessage } from './events';
import type { TopicRegistry } from './topics';

export interface CdcLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface CdcFeedOptions {
  readonly kafka: Kafka;
  readonly prefix: string;
  /** Names this CDC instance's groups and transactional ids. */
  readonly instanceId: string;
  readonly shardId: number;
  readonly dataDir: string;
  readonly topics: TopicRegistry;
  readonly catalog: CatalogView;
  /** Whether the catalog (system shard) is complete up to `ts` here; always true for the system shard itself. */
  readonly catalogSettled: (ts: Timestamp) => boolean;
  readonly logger: CdcLogger;
}

/** waiting-for-catalog: a change is held until the system shard's replica has the catalog as of its commit. */
export type CdcFeedState = 'starting' | 'applying' | 'caught-up' | 'waiting-for-catalog' | 'stopped';

export interface CdcFeedStatus {
  readonly shardId: number;
  readonly state: CdcFeedState;
  readonly appliedIndex: number;
  /** Last index whose changes are committed to the change topics. */
  readonly publishedIndex: number;
  /** Last index in the log topic (the mirror's progress), as last polled. */
  readonly topicIndex: number;
  readonly lagEntries: number;
  /** 0 when caught up, else how long ago the oldest unpublished log record was produced. */
  readonly lagMs: number;
  readonly changeEvents: number;
  readonly transactions: number;
  readonly kafkaTransactions: number;
  /** Rows whose table the catalog did not know at their commit (must stay 0). */
  readonly undecodable: number;
  readonly error: string | undefined;
}

const MAX_MESSAGES_PER_SEND = 500;
const FLUSH_AFTER_MESSAGES = 5000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const progressGroup = (prefix: string, instanceId: string): string => `${prefix}.cdc.${instanceId}.progress`;
export const positionGroup = (prefix: string, instanceId: string, shardId: number): string => `${prefix}.cdc.${instanceId}.${shardId}`;
export const cdcTransactionalId = (prefix: string, instanceId: string, shardId: number): string => `${prefix}.cdc.${instanceId}.${shardId}`;

export class CdcFeed {
  private store: MvccStore | undefined;
  private smRef: Materializer | undefined;
  private producer: Producer | undefined;
  private consumer: Consumer | undefined;
  private state: CdcFeedState = 'starting';
  private published = 0;
  private pending: OutMessage[] = [];
  private oldestPendingAt = 0;
  private stopping = false;
  private reread = false;
  private error: string | undefined;
  private readonly counters = { changeEvents: 0, transactions: 0, kafkaTransactions: 0, undecodable: 0 };
  topicIndex = 0;

  constructor(private readonly o: CdcFeedOptions) {}

  get sm(): Materializer {
    if (this.smRef === undefined) throw new Error(`cdc shard ${this.o.shardId}: not open`);
    return this.smRef;
  }

  get mvcc(): MvccStore {
    if (this.store === undefined) throw new Error(`cdc shard ${this.o.shardId}: not open`);
    return this.store;
  }

  private get dir(): string {
    return path.join(this.o.dataDir, `shard-${this.o.shardId}`);
  }

  async open(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    this.store = await MvccStore.open(this.dir);
    this.smRef = await Materializer.open(this.store, this.o.shardId);
  }

  status(now: number): CdcFeedStatus {
    const applied = this.smRef?.appliedIndex ?? 0;
    const top = Math.max(this.topicIndex, applied);
    return {
      shardId: this.o.shardId,
      state: this.state,
      appliedIndex: applied,
      publishedIndex: this.published,
      topicIndex: top,
      lagEntries: Math.max(0, top - this.published),
      lagMs: top > this.published && this.oldestPendingAt > 0 ? Math.max(0, now - this.oldestPendingAt) : 0,
      ...this.counters,
      error: this.error,
    };
  }

  /** Takes over the shard's change stream and consumes until close(); errors are retried with backoff. */
  async run(): Promise<void> {
    let backoff = 250;
    while (!this.stopping && this.state !== 'stopped') {
      try {
        await this.takeOver();
        return;
      } catch (e) {
        if (this.stopping) return;
        this.o.logger.warn({ shard: this.o.shardId, err: errText(e) }, 'cdc: takeover failed; retrying');
        await this.dropKafka();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    await this.dropKafka();
    await this.store?.close();
  }

  private async dropKafka(): Promise<void> {
    const c = this.consumer;
    const p = this.producer;
    this.consumer = undefined;
    this.producer = undefined;
    await c?.disconnect().catch(() => undefined);
    await p?.disconnect().catch(() => undefined);
  }

  /**
   * Whether others may read the catalog from this replica: open and not being rebuilt. (A
   * stopped feed still serves what it applied; readers' settledness check bounds what they use.)
   */
  get serving(): boolean {
    return this.state !== 'starting';
  }

  private async takeOver(): Promise<void> {
    const o = this.o;
    this.state = 'starting';
    const producer = o.kafka.producer({ transactionalId: cdcTransactionalId(o.prefix, o.instanceId, o.shardId), idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
    this.producer = producer;
    await producer.connect();
    // kafkajs registers the transactional id lazily; an empty transaction fences older instances now.
    await (await producer.transaction()).abort();
    await o.topics.waitFor(logTopic(o.prefix, o.shardId), () => this.stopping);
    this.published = await o.topics.readProgress(progressGroup(o.prefix, o.instanceId), logTopic(o.prefix, o.shardId));
    if (this.sm.appliedIndex > this.published) {
      o.logger.warn({ shard: o.shardId, applied: this.sm.appliedIndex, published: this.published }, 'cdc: replica ahead of the published changes; rebuilding it from the start of the log');
      await this.store?.close();
      rmSync(this.dir, { recursive: true, force: true });
      await this.open();
    }
    if (this.stopping) throw new Error('stopping');
    const consumer = o.kafka.consumer({ groupId: positionGroup(o.prefix, o.instanceId, o.shardId), readUncommitted: false, retry: { retries: 10 } });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [logTopic(o.prefix, o.shardId)], fromBeginning: true });
    // Serving from here on (set before run: the first batch may already report caught-up).
    this.state = 'applying';
    await consumer.run({ eachBatchAutoResolve: false, autoCommitInterval: 1000, eachBatch: (p) => this.onBatch(p) });
    if (this.sm.appliedIndex === 0) consumer.seek({ topic: logTopic(o.prefix, o.shardId), partition: 0, offset: '0' });
  }

  private async onBatch(p: EachBatchPayload): Promise<void> {
    if (this.state === 'stopped') return;
    const { batch } = p;
    for (const m of batch.messages) {
      if (!p.isRunning() || p.isStale()) return;
      let rec: LogRecord;
      try {
        rec = fromMessage(m, `${batch.topic}@${m.offset}`);
      } catch (e) {
        return this.stop(errText(e));
      }
      const next = this.sm.appliedIndex + 1;
      if (rec.outcome.status === 'gap' && rec.outcome.gapFrom <= next && rec.index >= next) {
        return this.stop(`the log has a gap (indexes ${rec.outcome.gapFrom}..${rec.index} were never published): changes in it are lost; rebuild from a snapshot`);
      }
      if (rec.index > next && rec.outcome.status !== 'gap') {
        if (this.reread) return this.stop(`index ${rec.index} follows ${this.sm.appliedIndex} in the topic itself: entries are missing`);
        // The position group is ahead of this replica (it was rebuilt): read the log again from 0.
        this.reread = true;
        this.consumer?.seek({ topic: batch.topic, partition: 0, offset: '0' });
        return;
      }
      if (rec.index >= next) {
        if (this.oldestPendingAt === 0) this.oldestPendingAt = Number(m.timestamp);
        try {
          await this.apply(rec, p);
        } catch (e) {
          return this.stop(`index ${rec.index}: ${errText(e)}`);
        }
      }
      p.resolveOffset(m.offset);
      if (this.pending.length >= FLUSH_AFTER_MESSAGES) await this.flush(p);
    }
    if (this.sm.appliedIndex > this.published) await this.flush(p);
    this.state = this.topicIndex > this.published ? 'applying' : 'caught-up';
    await p.heartbeat();
  }

  private async apply(rec: LogRecord, p: EachBatchPayload): Promise<void> {
    if (rec.outcome.status === 'empty' || rec.outcome.status === 'gap') {
      this.sm.applyEmpty(rec.index);
      return;
    }
    const got = applyAndCapture(this.sm, rec.index, rec.data);
    // Up to the published index the changes are in the topics already (a replica catching up).
    if (got.committed === undefined || got.committed.changes.length === 0 || rec.index <= this.published) return;
    const ts = got.committed.commitTs;
    // The row's shape is the descriptor at its commit: wait until the system shard has every
    // catalog change committed at or below it (it is consumed by another feed).
    let waited = 0;
    while (!this.o.catalogSettled(ts)) {
      if (this.stopping || !p.isRunning()) throw new Error('stopping');
      if (this.state === 'applying' || this.state === 'caught-up') this.state = 'waiting-for-catalog';
      await sleep(20);
      if ((waited += 20) % 2000 === 0) await p.heartbeat();
    }
    if (this.state === 'waiting-for-catalog') this.state = 'applying';
    const { messages, undecodable } = transactionMessages({ prefix: this.o.prefix, shard: this.o.shardId, catalog: this.o.catalog, nowMs: Date.now() }, got.committed);
    this.counters.undecodable += undecodable;
    if (undecodable > 0) this.o.logger.error({ shard: this.o.shardId, index: rec.index, undecodable }, 'cdc: rows of a table unknown to the catalog at their commit');
    if (messages.length === 0) return;
    for (const m of messages) this.pending.push(m);
    this.counters.changeEvents += messages.length - 2;
    this.counters.transactions++;
  }

  /** Publishes the pending messages and the progress (= applied index) in one Kafka transaction, retrying until it commits. */
  private async flush(p: EachBatchPayload): Promise<void> {
    const upTo = this.sm.appliedIndex;
    const msgs = this.pending;
    let backoff = 250;
    for (;;) {
      try {
        await this.commitTransaction(msgs, upTo);
        break;
      } catch (e) {
        if (this.stopping || !p.isRunning()) throw e;
        if (/fenced|ProducerFenced|INVALID_PRODUCER_EPOCH/i.test(errText(e))) {
          this.stop(`another CDC instance took over shard ${this.o.shardId}: ${errText(e)}`);
          throw e;
        }
        this.o.logger.warn({ shard: this.o.shardId, err: errText(e) }, 'cdc: transaction failed; retrying');
        await p.heartbeat().catch(() => undefined);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
        await this.renewProducer().catch(() => undefined);
      }
    }
    this.pending = [];
    this.published = upTo;
    this.oldestPendingAt = 0;
    this.counters.kafkaTransactions++;
  }

  private async renewProducer(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    const o = this.o;
    const producer = o.kafka.producer({ transactionalId: cdcTransactionalId(o.prefix, o.instanceId, o.shardId), idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
    this.producer = producer;
    await producer.connect();
    await (await producer.transaction()).abort();
  }

  private async commitTransaction(msgs: readonly OutMessage[], upTo: number): Promise<void> {
    const producer = this.producer;
    if (producer === undefined) throw new Error('no producer');
    await this.o.topics.ensure(msgs.map((m) => m.topic));
    const tx = await producer.transaction();
    try {
      for (let i = 0; i < msgs.length; i += MAX_MESSAGES_PER_SEND) {
        // Grouped by topic per send, in order within a topic (one key's events stay ordered).
        const byTopic = new Map<string, { key: string; value: string }[]>();
        for (const m of msgs.slice(i, i + MAX_MESSAGES_PER_SEND)) {
          const list = byTopic.get(m.topic) ?? [];
          list.push({ key: m.key, value: m.value });
          byTopic.set(m.topic, list);
        }
        await tx.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
      }
      await tx.sendOffsets({
        consumerGroupId: progressGroup(this.o.prefix, this.o.instanceId),
        topics: [{ topic: logTopic(this.o.prefix, this.o.shardId), partitions: [{ partition: 0, offset: String(upTo) }] }],
      });
      await tx.commit();
    } catch (e) {
      await tx.abort().catch(() => undefined);
      throw e;
    }
  }

  private stop(why: string): void {
    this.state = 'stopped';
    this.error = why;
    this.o.logger.error({ shard: this.o.shardId, err: why }, 'cdc: shard stopped');
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
