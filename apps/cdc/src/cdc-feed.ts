// One shard's change stream: consumes `<prefix>.log.<shard>`, applies every entry to this
// service's own replica of the shard (capture.ts), and publishes the committed rows to the
// change topics in Kafka transactions that also commit the progress (decision 0034):
//
//  - Progress = the last Raft index whose changes are published, a record in the compacted
//    topic `<prefix>.cdc.<id>.progress` written in the same transaction as the events, and read
//    back exactly after a takeover (progress-log.ts, decision 0049). Every consumed batch ends
//    with one such transaction, events or not.
//  - Transactional id `<prefix>.cdc.<id>.<shard>`: a second instance of this feed fences the
//    first; the fenced one stops (its open transaction is aborted by the broker).
//  - On start: replica applied index A, published index E. A ≤ E: entries up to E are applied
//    without publishing (a lost or older replica catches up). A > E (the process died between
//    applying and committing): the changes of (E, A] are derived again from the key journal
//    (change-journal.ts: the keys each unpublished entry would commit, written before it
//    applied), the outcome journal and the replica's MVCC history, and published with progress
//    A in one transaction (decision 0039) — no log record needed, so this works on a topic that
//    lost its history. Only a replica the journal does not cover (written before it existed) is
//    rebuilt from the start of the topic (decision 0034 §5).
//  - A gc entry is applied only once everything before it is published: it may remove versions
//    that the images of earlier unpublished entries would be read from again after a crash.
//  - A failed transaction is retried with the same messages until it commits or the feed stops,
//    each retry first re-reading the progress (decision 0049) in case it had landed.
//  - Snapshot modes (decision 0037, snapshot-start.ts): with `initial` or `when_needed` a shard
//    with no published progress starts from a node's snapshot at index I, publishes it as `r`
//    events in one Kafka transaction with progress = I, and streams from I+1; with
//    `when_needed` a gap record is got past the same way (plus `d` events for rows gone in it).
//    A snapshot is staged beside the live replica and made live only once its transaction has
//    committed; a start that finds one staged settles it from the published progress (decision
//    0041), so a crash inside a snapshot needs no log history either.
//  - Outcome journal records at or below the published index are deleted after each commit:
//    only recover() reads outcomes, and only above it.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { KafkaJSNonRetriableError, type Consumer, type EachBatchPayload, type Kafka, type Producer, type Transaction } from 'kafkajs';
import { Materializer } from '@weft/materialize';
import { decodeEntry } from '@weft/logentry';
import { CONSUMER_GROUP_TIMING, fromMessage, heartbeatDue, logTopic, watchConsumerCrashes, type LogRecord } from '@weft/mirror';
import { ShardStateDir, type StagedShardState } from '@weft/replica';
import { MvccStore, type Timestamp } from '@weft/storage';
import { applyEntryAndCapture, imagesAt } from './capture';
import { ChangeJournal } from './change-journal';
import { CatalogView } from './catalog-view';
import { transactionMessages, type OutMessage } from './events';
import type { CdcFailpoint, CdcSnapshotSettings } from './settings';
import { takeSnapshot, type ShardSnapshotInfo } from './snapshot-start';
import { snapshotMessages, snapshotPoint, type SnapshotCounts, type SnapshotPoint } from './snapshot-events';
import { progressMessage, progressTopic, readProgressAfterFence, type PublishedProgress, type SnapshotInFlight } from './progress-log';
import { StagedSnapshotFile, type StagedSnapshotMarker } from './staged-snapshot';
import type { TopicRegistry } from './topics';

export interface CdcLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface CdcFeedOptions {
  readonly kafka: Kafka;
  /** Log topics, groups and transactional ids (WEFT_KAFKA_TOPIC_PREFIX). */
  readonly prefix: string;
  /** Change and transaction topics, source.name (WEFT_CDC_TOPIC_PREFIX, default: prefix). */
  readonly changePrefix: string;
  /** Names this CDC instance's groups and transactional ids. */
  readonly instanceId: string;
  readonly shardId: number;
  readonly dataDir: string;
  readonly topics: TopicRegistry;
  readonly catalog: CatalogView;
  /**
   * This shard holds the catalog (the system shard): its own snapshots list the tables from the
   * snapshot's state, not from the live replica it is about to replace.
   */
  readonly holdsCatalog?: boolean;
  /** Whether the catalog (system shard) is complete up to `ts` here; always true for the system shard itself. */
  readonly catalogSettled: (ts: Timestamp) => boolean;
  readonly logger: CdcLogger;
  /** Snapshot starts (mode initial / when_needed); undefined: mode never. */
  readonly snapshot?: CdcSnapshotSettings;
  /** Test only (WEFT_CDC_FAILPOINT): wait forever at this point, so a test can kill -9 the process there (consumer-crash: crash the consumer once instead). */
  readonly failpoint?: CdcFailpoint;
  /** Most events per Kafka transaction of a snapshot (WEFT_CDC_SNAPSHOT_CHUNK_EVENTS, decision 0043). */
  readonly snapshotChunkEvents?: number;
}

export const DEFAULT_SNAPSHOT_CHUNK_EVENTS = 20_000;

/** waiting-for-catalog: a change is held until the system shard's replica has the catalog as of its commit. */
export type CdcFeedState = 'starting' | 'snapshotting' | 'applying' | 'caught-up' | 'waiting-for-catalog' | 'stopped';

export interface CdcFeedStatus {
  readonly shardId: number;
  readonly state: CdcFeedState;
  readonly appliedIndex: number;
  /** Last index whose changes are committed to the change topics. */
  readonly publishedIndex: number;
  /** Last index in the log topic (the mirror's progress), as last polled. */
  readonly topicIndex: number;
  readonly lagEntries: number;
  /**
   * 0 when caught up; else how long ago the oldest unpublished log record was produced, or, with
   * none consumed yet, how long the feed has been behind the topic without publishing (so a feed
   * that stands still shows a growing lag, not 0).
   */
  readonly lagMs: number;
  readonly changeEvents: number;
  readonly transactions: number;
  readonly kafkaTransactions: number;
  /** Rows whose table the catalog did not know at their commit (must stay 0). */
  readonly undecodable: number;
  readonly error: string | undefined;
  /** Snapshots published since this process started. */
  readonly snapshots: number;
  /** The last snapshot this shard's stream was started from (this process). */
  readonly snapshot: ShardSnapshotInfo | undefined;
  /** The last failed attempt while snapshotting (retried). */
  readonly snapshotError: string | undefined;
  /** Crash recoveries (replica ahead of the published changes) since this process started. */
  readonly recoveries: number;
  /** The last one: the unpublished entries whose changes were derived again from the journal. */
  readonly recovery: RecoveryInfo | undefined;
  /** Index of a snapshot staged (state installed, marker written) but not live yet: its events are being published. */
  readonly stagedIndex: number | undefined;
  /** How many of that snapshot's events are committed (it is published in chunks, decision 0043). */
  readonly stagedDone: number | undefined;
  /** A snapshot found staged at a start (decision 0041): made live (its transaction had committed) or discarded. */
  readonly stagedSettled: StagedSettledInfo | undefined;
  /** Outcome journal records of published entries deleted (since start; decision 0041). */
  readonly outcomesPruned: number;
  /** Log-topic batches handed to this feed by its consumer (since start). */
  readonly batches: number;
  /** Consumer crashes kafkajs would not restart from, after which the feed took over again (since start). */
  readonly consumerRestarts: number;
  /** Test only: the failpoint this feed is waiting at. */
  readonly failpoint: string | undefined;
  /** Why the last takeover (start, or restart after an error) failed; retried with backoff. */
  readonly takeoverError: string | undefined;
}

/** What a start did with a snapshot a previous run had staged but not made live (decision 0041). */
export interface StagedSettledInfo {
  readonly index: number;
  /**
   * completed: its last Kafka transaction had committed, so it was made live; resumed: some of
   * its chunks had, so the rest was published from it (decision 0043); discarded: none had.
   */
  readonly how: 'completed' | 'resumed' | 'discarded';
  /** The published index that decided it. */
  readonly published: number;
  readonly at: string;
}

/** A start that found the replica ahead of the published changes (decision 0039). */
export interface RecoveryInfo {
  /** First and last index of the entries applied but not published before the crash. */
  readonly from: number;
  readonly to: number;
  /** journal: republished from the key journal; rebuild: the replica was rebuilt from the topic's start. */
  readonly how: 'journal' | 'rebuild';
  readonly transactions: number;
  readonly changeEvents: number;
  readonly ms: number;
  readonly at: string;
}

const MAX_MESSAGES_PER_SEND = 500;
/** How long reading the progress back after a takeover may take (progress-log.ts). */
const PROGRESS_READ_TIMEOUT_MS = 60_000;
const FLUSH_AFTER_MESSAGES = 5000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
  /** When the topic was first seen past the published index since the last publish (0: not behind). */
  private behindSince = 0;
  private lastPublishedAt = 0;
  /** A takeover started after a consumer crash (restartAfterCrash); close() waits for it. */
  private restarting: Promise<void> | undefined;
  private crashedAtFailpoint = false;
  private stopping = false;
  private reread = false;
  /** Last index whose changes are all in `pending` or published. */
  private captured = 0;
  private error: string | undefined;
  private readonly counters = { changeEvents: 0, transactions: 0, kafkaTransactions: 0, undecodable: 0, snapshots: 0, recoveries: 0, outcomesPruned: 0, batches: 0, consumerRestarts: 0 };
  /** Outcome journal records at or below this index are deleted (this store). */
  private outcomesPrunedTo = 0;
  private stagedSettledInfo: StagedSettledInfo | undefined;
  private failpointAt: string | undefined;
  private stagedIndex: number | undefined;
  private stagedDone: number | undefined;
  private takeoverError: string | undefined;
  private readonly staged: StagedSnapshotFile;
  private recoveryInfo: RecoveryInfo | undefined;
  private journalRef: ChangeJournal | undefined;
  private snapshotInfo: ShardSnapshotInfo | undefined;
  private snapshotError: string | undefined;
  /** Where to seek once the consumer runs (after a snapshot). */
  private pendingSeek: string | undefined;
  private readonly dirs: ShardStateDir;
  private topicIndex = 0;

  /** CdcFeedStatus.lagMs: since the oldest pending change was produced, else since the feed last published or fell behind. */
  private lagMs(now: number, topicIndex: number): number {
    if (topicIndex <= this.published) return 0;
    const since = this.oldestPendingAt > 0 ? this.oldestPendingAt : Math.max(this.behindSince, this.lastPublishedAt) || now;
    return Math.max(0, now - since);
  }

  /** The log topic's last mirrored index, as polled (change-capture.ts). */
  noteTopicIndex(index: number, now: number): void {
    if (index <= this.topicIndex) return;
    this.topicIndex = index;
    if (index > this.published && this.behindSince === 0) this.behindSince = now;
  }

  constructor(private readonly o: CdcFeedOptions) {
    this.dirs = new ShardStateDir(o.dataDir, o.shardId);
    this.staged = new StagedSnapshotFile(o.dataDir, o.shardId);
  }

  get sm(): Materializer {
    if (this.smRef === undefined) throw new Error(`cdc shard ${this.o.shardId}: not open`);
    return this.smRef;
  }

  private get journal(): ChangeJournal {
    if (this.journalRef === undefined) throw new Error(`cdc shard ${this.o.shardId}: not open`);
    return this.journalRef;
  }

  get mvcc(): MvccStore {
    if (this.store === undefined) throw new Error(`cdc shard ${this.o.shardId}: not open`);
    return this.store;
  }

  /**
   * The replicas' layout (ShardStateDir): shard-<id>/ until a snapshot is installed, then the
   * directory shard-<id>.current names; leftovers of an interrupted install are removed here,
   * except a snapshot staged by a run that died before making it live: takeOver() settles it
   * once it knows the published progress.
   */
  async open(): Promise<void> {
    mkdirSync(this.o.dataDir, { recursive: true });
    const staged = this.staged.read();
    this.dirs.cleanup(staged === undefined ? [] : [staged.dir]);
    const dir = this.dirs.current();
    mkdirSync(dir, { recursive: true });
    this.store = await MvccStore.open(dir);
    this.smRef = await Materializer.open(this.store, this.o.shardId);
    this.journalRef = new ChangeJournal(this.store.db);
    this.journal.cover(this.sm.appliedIndex);
    this.outcomesPrunedTo = 0;
  }

  /** Closes and deletes this shard's replica, then opens an empty one. */
  private async wipe(): Promise<void> {
    await this.store?.close();
    this.store = undefined;
    this.smRef = undefined;
    this.journalRef = undefined;
    this.staged.clear();
    this.dirs.destroy();
    await this.open();
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
      lagMs: this.lagMs(now, top),
      ...this.counters,
      error: this.error,
      snapshot: this.snapshotInfo,
      snapshotError: this.snapshotError,
      recovery: this.recoveryInfo,
      stagedIndex: this.stagedIndex,
      stagedDone: this.stagedDone,
      stagedSettled: this.stagedSettledInfo,
      failpoint: this.failpointAt,
      takeoverError: this.takeoverError,
    };
  }

  /** Takes over the shard's change stream and consumes until close(); errors are retried with backoff. */
  async run(): Promise<void> {
    let backoff = 250;
    while (!this.stopping && this.state !== 'stopped') {
      try {
        await this.takeOver();
        this.takeoverError = undefined;
        return;
      } catch (e) {
        if (this.stopping) return;
        this.takeoverError = errText(e);
        this.o.logger.warn({ shard: this.o.shardId, err: errText(e) }, 'cdc: takeover failed; retrying');
        await this.dropKafka();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    await this.restarting?.catch(() => undefined);
    // A clean stop publishes what it applied: otherwise the replica is ahead of the progress and
    // the restart rebuilds it from the start of the log topic (decision 0034 §5), which a topic
    // that lost its history (0037) cannot serve. Only when every applied entry's messages are
    // pending: an entry interrupted while waiting for the catalog has none yet.
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.disconnect().catch(() => undefined);
    if (this.smRef !== undefined && this.state !== 'stopped' && this.captured === this.sm.appliedIndex && this.captured > this.published) {
      await this.commitTransaction(this.pending, this.captured).then(
        () => (this.published = this.captured),
        (e: unknown) => this.o.logger.warn({ shard: this.o.shardId, err: errText(e) }, 'cdc: could not publish the last changes at shutdown'),
      );
    }
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
    // A takeover after a consumer crash: what was applied but not published is derived again
    // from the key journal (recover()), not from messages held in memory.
    this.pending = [];
    this.oldestPendingAt = 0;
    this.reread = false;
    const producer = o.kafka.producer({ transactionalId: cdcTransactionalId(o.prefix, o.instanceId, o.shardId), idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
    this.producer = producer;
    await producer.connect();
    // kafkajs registers the transactional id lazily; an empty transaction fences older instances now.
    await (await producer.transaction()).abort();
    await o.topics.waitFor(logTopic(o.prefix, o.shardId), () => this.stopping);
    await o.topics.ensureCompacted(progressTopic(o.prefix, o.instanceId));
    const progress = await this.readProgress();
    this.markPublished(progress.index);
    const resume = await this.settleStaged(progress.snapshot ?? undefined);
    if (resume !== undefined) {
      const offset = await this.resumeSnapshot(resume.marker, resume.done);
      if (offset === undefined) throw new Error('stopping');
      this.pendingSeek = offset;
    } else if (this.published === 0 && o.snapshot !== undefined) {
      // Nothing published yet (or a snapshot that never committed): start from a snapshot. A
      // replica left by a run that did not commit is discarded, so the snapshot restarts whole.
      if (this.sm.appliedIndex > 0) {
        o.logger.warn({ shard: o.shardId, applied: this.sm.appliedIndex }, 'cdc: no published progress; discarding the replica and starting from a snapshot');
        await this.wipe();
      }
      const offset = await this.snapshotAndPublish(0, 'no published progress');
      if (offset === undefined) throw new Error('stopping');
      this.pendingSeek = offset;
    } else if (this.sm.appliedIndex > this.published) {
      await this.recover();
    } else {
      this.journal.prune(this.published);
      this.pruneOutcomes();
    }
    if (this.stopping) throw new Error('stopping');
    this.captured = this.published;
    const consumer = o.kafka.consumer({ groupId: positionGroup(o.prefix, o.instanceId, o.shardId), readUncommitted: false, retry: { retries: 10 }, ...CONSUMER_GROUP_TIMING });
    this.consumer = consumer;
    watchConsumerCrashes(consumer, `cdc shard ${o.shardId}`, o.logger, (why) => this.restartAfterCrash(consumer, why));
    await consumer.connect();
    await consumer.subscribe({ topics: [logTopic(o.prefix, o.shardId)], fromBeginning: true });
    // Serving from here on (set before run: the first batch may already report caught-up).
    this.state = 'applying';
    await consumer.run({ eachBatchAutoResolve: false, autoCommitInterval: 1000, eachBatch: (p) => this.onBatch(p) });
    // An empty replica reads the topic from its start; a snapshot-started one from after its index.
    const seekTo = this.pendingSeek ?? (this.sm.appliedIndex === 0 ? '0' : undefined);
    this.pendingSeek = undefined;
    if (seekTo !== undefined) consumer.seek({ topic: logTopic(o.prefix, o.shardId), partition: 0, offset: seekTo });
  }

  /** kafkajs gave up on `consumer` (watchConsumerCrashes): take the shard over again, as at a start. */
  private restartAfterCrash(consumer: Consumer, why: string): void {
    if (this.consumer !== consumer || this.stopping || this.state === 'stopped') return;
    this.counters.consumerRestarts++;
    this.takeoverError = `consumer crashed: ${why}`;
    this.restarting = (async () => {
      await this.dropKafka();
      await this.run();
    })();
  }

  private async onBatch(p: EachBatchPayload): Promise<void> {
    this.counters.batches++;
    if (this.o.failpoint === 'consumer-crash' && !this.crashedAtFailpoint && p.batch.messages.length > 0) {
      this.crashedAtFailpoint = true;
      throw new KafkaJSNonRetriableError(`WEFT_CDC_FAILPOINT=consumer-crash (shard ${this.o.shardId})`);
    }
    if (this.state === 'stopped' || this.state === 'snapshotting') return;
    const { batch } = p;
    const beatDue = heartbeatDue();
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
        const why = `the log has a gap (indexes ${rec.outcome.gapFrom}..${rec.index} were never published)`;
        if (this.o.snapshot?.mode !== 'when_needed') {
          return this.stop(`${why}: its changes are lost; WEFT_CDC_SNAPSHOT_MODE=when_needed gets past it with a new snapshot of the shard (r events, d for rows deleted in it)`);
        }
        // Publish what precedes the gap, then a snapshot at or past its last index replaces it.
        if (this.sm.appliedIndex > this.published) await this.flush(p);
        this.resnapshot(batch.topic, rec.index - 1, why);
        return;
      }
      // The first index a record stands for (a gap record: its first missing one).
      const first = rec.outcome.status === 'gap' ? rec.outcome.gapFrom : rec.index;
      if (first > next) {
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
          this.captured = rec.index;
        } catch (e) {
          return this.stop(`index ${rec.index}: ${errText(e)}`);
        }
      }
      p.resolveOffset(m.offset);
      // A long batch keeps its group session.
      if (beatDue()) await p.heartbeat();
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
    const entry = decodeEntry(rec.data);
    // A gc entry may remove versions the unpublished entries' images would be read from again
    // after a crash (recover()): publish them first.
    if (entry.type === 'gc' && this.sm.appliedIndex > this.published && rec.index > this.published) await this.flush(p);
    // Above the published index: journal the keys before applying (a crash after apply needs them).
    const journal = rec.index > this.published ? this.journal : undefined;
    const got = applyEntryAndCapture(this.sm, rec.index, entry, journal && ((txnId, keys) => journal.record(rec.index, { txnId, keys }, this.published)));
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
    const { messages, undecodable } = transactionMessages({ prefix: this.o.changePrefix, shard: this.o.shardId, catalog: this.o.catalog, nowMs: Date.now() }, got.committed);
    this.counters.undecodable += undecodable;
    if (undecodable > 0) this.o.logger.error({ shard: this.o.shardId, index: rec.index, undecodable }, 'cdc: rows of a table unknown to the catalog at their commit');
    if (messages.length === 0) return;
    for (const m of messages) this.pending.push(m);
    this.counters.changeEvents += messages.length - 2;
    this.counters.transactions++;
  }

  /**
   * Takes a node's snapshot past `mustExceed` and publishes it — `d` events for rows of the
   * live (replaced) state gone in it, then `r` for every live row; the live state is empty for
   * an initial snapshot — ending with progress = its index; returns the offset to stream from.
   * Retries fetching and publishing until done; undefined once closing.
   *
   * Staged, then switched (decision 0041): the snapshot's state is installed into a directory of
   * its own without becoming live, a marker file names it, and the replaced state stays live and
   * untouched until the last transaction has committed; only then is the pointer switched. A
   * crash before any commit leaves nothing visible and the replaced state live (the restart
   * discards the staged one and, at a gap, re-snapshots against the same replaced state); a
   * crash after some chunks resumes after them (decision 0043); a crash after the last leaves
   * progress = the snapshot's index, and the restart completes the switch (settleStaged). None
   * needs the log topic's history.
   */
  private async snapshotAndPublish(mustExceed: number, reason: string): Promise<string | undefined> {
    const o = this.o;
    const settings = o.snapshot as CdcSnapshotSettings;
    this.state = 'snapshotting';
    const began = Date.now();
    const got = await takeSnapshot({
      settings, shardId: o.shardId, dirs: this.dirs, mustExceed,
      stopping: () => this.stopping,
      onRetry: (why) => {
        this.snapshotError = why;
        o.logger.warn({ shard: o.shardId, err: why }, 'cdc: snapshot not taken yet; retrying');
      },
    });
    if (got === undefined) return undefined;
    const marker: StagedSnapshotMarker = { dir: path.basename(got.state.dir), index: got.state.materializer.appliedIndex };
    try {
      // The key journal covers the staged state from the entry after the snapshot (0039).
      new ChangeJournal(got.state.store.db).cover(marker.index);
      this.staged.write(marker);
    } catch (e) {
      await got.state.store.close().catch(() => undefined);
      throw e;
    }
    return this.publishStaged(got.state, marker, { source: got.source, reason, began, skip: 0 });
  }

  /**
   * Publishes a staged snapshot (after its first `skip` events, which a previous run committed)
   * in chunks of at most `snapshotChunkEvents` events per Kafka transaction, then makes it live.
   * The staged store is closed unless it became live (the marker stays for the next takeover).
   */
  private async publishStaged(staged: StagedShardState, marker: StagedSnapshotMarker, how: { source: string; reason: string; began: number; skip: number }): Promise<string | undefined> {
    const o = this.o;
    this.state = 'snapshotting';
    let live = false;
    try {
      this.stagedIndex = marker.index;
      await this.failpoint('snapshot-staged');
      const at = snapshotPoint(staged.materializer);
      // Rows are decoded with the descriptors as of the snapshot timestamp.
      while (!o.catalogSettled(at.ts)) {
        if (this.stopping) return undefined;
        await sleep(50);
      }
      // The state it replaces (empty for an initial snapshot): its rows gone at I get `d`.
      const replaced = { sm: this.sm, at: snapshotPoint(this.sm) };
      // The tables as of the snapshot: the system shard's own snapshot holds them (its live
      // replica is the state being replaced, without the catalog changes the snapshot brings).
      const catalog = o.holdsCatalog === true ? new CatalogView(() => staged.store) : o.catalog;
      const counts = await this.publishChunks(staged.materializer, catalog, at, replaced, how.skip);
      if (counts === undefined) return undefined;
      this.counters.snapshots++;
      await this.failpoint('snapshot-committed');
      this.makeLive(staged, marker);
      live = true;
      this.markPublished(at.index);
      this.captured = at.index;
      const startOffset = await this.retrying(() => o.topics.startOffsetAfter(logTopic(o.prefix, o.shardId), this.sm, o.snapshot?.startMarginMs ?? 5000), () => this.stopping);
      if (startOffset === undefined) return undefined;
      this.reread = false;
      this.snapshotError = undefined;
      this.snapshotInfo = {
        index: at.index, ts: at.ts.toString(), source: how.source, reason: how.reason, startOffset,
        reads: counts.reads, deletes: counts.deletes, tables: counts.tables, ms: Date.now() - how.began, at: new Date().toISOString(),
        transactions: counts.transactions, resumedAfter: how.skip,
      };
      o.logger.info({ shard: o.shardId, ...this.snapshotInfo }, 'cdc: snapshot published; streaming from the entry after it');
      return startOffset;
    } finally {
      // Not made live (closing, or a step failed): the marker and directory stay for the next
      // takeover to settle from the published progress.
      this.stagedIndex = undefined;
      this.stagedDone = undefined;
      if (!live) await staged.store.close().catch(() => undefined);
    }
  }

  /**
   * The snapshot's events, generated from the staged state (deterministic: the same states give
   * the same sequence), skipping the first `skip`, in Kafka transactions of at most
   * `snapshotChunkEvents`: every one but the last commits the progress index unchanged with
   * "snapshot I, n events published" beside it (progress-log.ts); the last commits index = I. Each transaction is retried with the same events; a retry first re-reads the progress,
   * so a commit that failed ambiguously but landed is never published twice. Undefined once
   * closing.
   */
  private async publishChunks(state: Materializer, catalog: CatalogView, at: SnapshotPoint, replaced: { sm: Materializer; at: SnapshotPoint }, skip: number): Promise<(SnapshotCounts & { transactions: number }) | undefined> {
    const gen = snapshotMessages({ prefix: this.o.changePrefix, shard: this.o.shardId, catalog, nowMs: Date.now() }, state, at, replaced);
    const chunkEvents = this.o.snapshotChunkEvents ?? DEFAULT_SNAPSHOT_CHUNK_EVENTS;
    let r = gen.next();
    let generated = 0;
    while (r.done !== true && generated < skip) {
      generated++;
      r = gen.next();
    }
    let transactions = 0;
    for (;;) {
      const chunk: OutMessage[] = [];
      while (r.done !== true && chunk.length < chunkEvents) {
        chunk.push(r.value);
        r = gen.next();
      }
      const last = r.done === true;
      const done = generated + chunk.length;
      const upTo = last ? at.index : this.published;
      const inFlight = last ? null : { index: at.index, done };
      let attempts = 0;
      const ok = await this.retrying(async () => {
        if (attempts++ > 0) {
          const p = await this.readProgress();
          if (last ? p.index >= at.index : (p.snapshot?.index === at.index && p.snapshot.done >= done)) return true;
        }
        await this.commitTransaction(chunk, upTo, inFlight);
        return true;
      }, () => this.stopping);
      if (ok === undefined) return undefined;
      this.counters.kafkaTransactions++;
      transactions++;
      generated = done;
      this.stagedDone = done;
      if (r.done === true) return { ...r.value, transactions };
      await this.failpoint('snapshot-chunk');
    }
  }

  /** A snapshot a previous run published in part (decision 0043): the rest of it, from the same staged state. */
  private async resumeSnapshot(m: StagedSnapshotMarker, done: number): Promise<string | undefined> {
    const o = this.o;
    const dir = this.staged.dirOf(m);
    const store = await MvccStore.open(dir);
    const sm = await Materializer.open(store, o.shardId).catch(async (e: unknown) => {
      await store.close();
      throw e;
    });
    if (sm.appliedIndex !== m.index) {
      await store.close();
      throw new Error(`cdc shard ${o.shardId}: staged state ${m.dir} is at index ${sm.appliedIndex}, its marker says ${m.index}`);
    }
    o.logger.warn({ shard: o.shardId, index: m.index, done }, 'cdc: resuming a snapshot published in part before a restart');
    return this.publishStaged({ dir, store, materializer: sm }, m, { source: `staged ${m.dir}`, reason: `resumed after ${done} events published before a restart`, began: Date.now(), skip: done });
  }

  /**
   * Makes a staged snapshot the live replica: the pointer file first (durable), then the
   * in-memory state, then the marker goes; the replaced state is closed and deleted.
   * Synchronous up to the retirement of the old store, so nothing reads a half-switched feed.
   */
  private makeLive(state: StagedShardState, marker: StagedSnapshotMarker): void {
    const old = this.store;
    this.dirs.switchTo(state.dir);
    this.store = state.store;
    this.smRef = state.materializer;
    this.journalRef = new ChangeJournal(state.store.db);
    this.journal.cover(marker.index);
    this.outcomesPrunedTo = 0;
    this.staged.clear();
    if (old !== undefined && old !== state.store) {
      const oldDir = old.db.location;
      void old.close().then(() => this.dirs.remove(oldDir)).catch((e: unknown) => this.o.logger.warn({ shard: this.o.shardId, err: errText(e) }, 'cdc: could not remove the replaced replica'));
    }
  }

  /**
   * A snapshot staged by an earlier run that died before making it live (decision 0041): its
   * Kafka transactions are the decision. Last one committed (published >= its index): make it
   * live and stream from after it. Some chunks committed (the progress record names it,
   * decision 0043): returned, to be resumed after them. None: drop it; the live state is the
   * replaced one, untouched, and the stream resumes from it (at a gap it re-snapshots).
   * Published events of a snapshot whose staged state is gone cannot be completed without
   * repeating or missing some: the shard stops and says so.
   */
  private async settleStaged(inFlight: SnapshotInFlight | undefined): Promise<{ marker: StagedSnapshotMarker; done: number } | undefined> {
    const o = this.o;
    const m = this.staged.read();
    const lost = (why: string): Error => {
      const msg = `cdc shard ${o.shardId}: ${inFlight?.done} events of the snapshot at index ${inFlight?.index} are published but ${why}; the rest cannot be published without repeating or missing events: start this CDC service over under a new WEFT_CDC_ID (or delete its progress topic) with an empty data directory`;
      this.stop(msg);
      return new Error(msg);
    };
    if (m === undefined) {
      if (inFlight !== undefined && this.published < inFlight.index) throw lost('no staged state is marked');
      return undefined;
    }
    const dir = this.staged.dirOf(m);
    const liveIsStaged = path.resolve(this.dirs.current()) === path.resolve(dir);
    if (this.published < m.index) {
      if (liveIsStaged) throw new Error(`cdc shard ${o.shardId}: the live replica ${m.dir} is a snapshot at index ${m.index} whose transaction is not committed (published index ${this.published}); was the progress topic deleted?`);
      if (inFlight !== undefined) {
        if (inFlight.index !== m.index) throw lost(`the staged state is at index ${m.index}`);
        if (!existsSync(dir)) throw lost(`its staged state ${m.dir} is gone`);
        this.stagedSettledInfo = { index: m.index, how: 'resumed', published: this.published, at: new Date().toISOString() };
        return { marker: m, done: inFlight.done };
      }
      this.staged.clear();
      await this.dirs.remove(dir);
      this.stagedSettledInfo = { index: m.index, how: 'discarded', published: this.published, at: new Date().toISOString() };
      o.logger.warn({ shard: o.shardId, ...this.stagedSettledInfo }, 'cdc: a staged snapshot whose transaction never committed was discarded; continuing from the state it was to replace');
      return;
    }
    if (!liveIsStaged) {
      if (!existsSync(dir)) throw new Error(`cdc shard ${o.shardId}: the snapshot at index ${m.index} was published but its staged state ${m.dir} is gone`);
      const store = await MvccStore.open(dir);
      const sm = await Materializer.open(store, o.shardId).catch(async (e: unknown) => {
        await store.close();
        throw e;
      });
      if (sm.appliedIndex !== m.index) {
        await store.close();
        throw new Error(`cdc shard ${o.shardId}: staged state ${m.dir} is at index ${sm.appliedIndex}, its marker says ${m.index}`);
      }
      this.makeLive({ dir, store, materializer: sm }, m);
    } else {
      this.staged.clear();
    }
    const settings = o.snapshot;
    this.pendingSeek = await o.topics.startOffsetAfter(logTopic(o.prefix, o.shardId), this.sm, settings?.startMarginMs ?? 5000);
    this.stagedSettledInfo = { index: m.index, how: 'completed', published: this.published, at: new Date().toISOString() };
    o.logger.warn({ shard: o.shardId, ...this.stagedSettledInfo }, 'cdc: a staged snapshot whose transaction had committed was made live');
    return undefined;
  }

  /**
   * The exact published progress as of this producer's takeover (decision 0049): commits a
   * takeover record and reads the progress topic read_committed up to it. Call only with a
   * producer that has just fenced its predecessor (a takeover or renewProducer).
   */
  private async readProgress(): Promise<PublishedProgress> {
    const producer = this.producer;
    if (producer === undefined) throw new Error('no producer');
    return readProgressAfterFence({
      kafka: this.o.kafka, topic: progressTopic(this.o.prefix, this.o.instanceId), shardId: this.o.shardId,
      producer, timeoutMs: PROGRESS_READ_TIMEOUT_MS, stopping: () => this.stopping,
    });
  }

  /** Test only (WEFT_CDC_FAILPOINT): waits at `name` until the process is killed or closed. */
  private async failpoint(name: CdcFailpoint): Promise<void> {
    if (this.o.failpoint !== name) return;
    this.failpointAt = name;
    this.o.logger.warn({ shard: this.o.shardId, failpoint: name }, 'cdc: waiting at a failpoint (WEFT_CDC_FAILPOINT)');
    while (!this.stopping) await sleep(100);
    throw new Error('stopping');
  }

  /**
   * Deletes the outcome journal records of published entries (decision 0041): the only reader
   * of the CDC replica's outcomes is recover(), which needs those in (published, applied]; the
   * published index is durable in Kafka, so nothing at or below it is read again.
   */
  private pruneOutcomes(): void {
    if (this.published <= this.outcomesPrunedTo || this.smRef === undefined) return;
    this.counters.outcomesPruned += this.sm.pruneOutcomes(this.published, this.outcomesPrunedTo + 1);
    this.outcomesPrunedTo = this.published;
  }

  /**
   * The process died between applying entries and committing their changes (replica index A >
   * published index E; decision 0039): the changes of (E, A] are derived again — which entries
   * committed and at what timestamp from the outcome journal, which keys from the key journal,
   * the images from the MVCC history at those timestamps (capture.ts imagesAt) — and published
   * with progress A in one Kafka transaction, before anything else is consumed. The events of
   * the interrupted transaction were never visible (the broker aborted it when this instance
   * fenced the old one), so each change is published once. A replica the journal does not cover
   * is rebuilt from the start of the log topic instead (decision 0034 §5).
   */
  private async recover(): Promise<void> {
    const o = this.o;
    const began = Date.now();
    const from = this.published + 1;
    const to = this.sm.appliedIndex;
    const covered = this.journal.coveredFrom();
    if (covered === undefined || covered > from) {
      o.logger.warn({ shard: o.shardId, applied: to, published: this.published, journalFrom: covered }, 'cdc: replica ahead of the published changes and not covered by the key journal; rebuilding it from the start of the log');
      this.recoveryInfo = { from, to, how: 'rebuild', transactions: 0, changeEvents: 0, ms: 0, at: new Date().toISOString() };
      this.counters.recoveries++;
      await this.wipe();
      return;
    }
    const msgs: OutMessage[] = [];
    let transactions = 0;
    let changeEvents = 0;
    for (const index of this.journal.recordedAfter(this.published)) {
      // A record is written before its entry applies: one past A was never applied.
      if (index > to) continue;
      const outcome = this.sm.outcomeAt(index);
      if (outcome === undefined) throw new Error(`cdc shard ${o.shardId}: entry ${index} is journaled but has no outcome`);
      if (outcome.status !== 'committed') continue;
      const rec = this.journal.read(index);
      if (rec === undefined) continue;
      const committed = imagesAt(this.sm, index, rec.txnId, outcome.commitTs, rec.keys);
      if (committed.changes.length === 0) continue;
      // Decoded with the catalog as of the commit, as when the entry was first captured.
      while (!o.catalogSettled(committed.commitTs)) {
        if (this.stopping) throw new Error('stopping');
        await sleep(20);
      }
      const { messages, undecodable } = transactionMessages({ prefix: o.changePrefix, shard: o.shardId, catalog: o.catalog, nowMs: Date.now() }, committed);
      this.counters.undecodable += undecodable;
      if (undecodable > 0) o.logger.error({ shard: o.shardId, index, undecodable }, 'cdc: rows of a table unknown to the catalog at their commit');
      if (messages.length === 0) continue;
      msgs.push(...messages);
      transactions++;
      changeEvents += messages.length - 2;
    }
    // A failure here fails the takeover, which is retried: the same changes, never half of them.
    await this.commitTransaction(msgs, to);
    this.markPublished(to);
    this.counters.kafkaTransactions++;
    this.counters.transactions += transactions;
    this.counters.changeEvents += changeEvents;
    this.counters.recoveries++;
    this.journal.prune(to);
    this.pruneOutcomes();
    this.recoveryInfo = { from, to, how: 'journal', transactions, changeEvents, ms: Date.now() - began, at: new Date().toISOString() };
    o.logger.warn({ shard: o.shardId, ...this.recoveryInfo }, 'cdc: replica was ahead of the published changes; published them from the key journal');
  }

  /** A running shard met a gap (mode when_needed): pause its topic, re-snapshot, resume after it. */
  private resnapshot(topic: string, mustExceed: number, why: string): void {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    consumer.pause([{ topic }]);
    this.o.logger.warn({ shard: this.o.shardId, applied: this.sm.appliedIndex, err: why }, 'cdc: gap in the log; re-snapshotting the shard');
    void this.snapshotAndPublish(mustExceed, why).then(
      (offset) => {
        if (offset === undefined || this.consumer !== consumer) return;
        this.state = 'applying';
        consumer.seek({ topic, partition: 0, offset });
        consumer.resume([{ topic }]);
      },
      (e: unknown) => this.stop(`re-snapshot after the gap: ${errText(e)}`),
    );
  }

  /** Runs `op` until it succeeds, renewing the producer between tries; undefined once `give` says so. */
  private async retrying<T>(op: () => Promise<T>, give: () => boolean): Promise<T | undefined> {
    let backoff = 250;
    for (;;) {
      if (give()) return undefined;
      try {
        return await op();
      } catch (e) {
        if (/fenced|ProducerFenced|INVALID_PRODUCER_EPOCH/i.test(errText(e))) {
          this.stop(`another CDC instance took over shard ${this.o.shardId}: ${errText(e)}`);
          throw e;
        }
        this.snapshotError = errText(e);
        this.o.logger.warn({ shard: this.o.shardId, err: errText(e) }, 'cdc: snapshot step failed; retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
        await this.renewProducer().catch(() => undefined);
      }
    }
  }

  /** Publishes the pending messages and the progress (= applied index) in one Kafka transaction, retrying until it commits. */
  private async flush(p: EachBatchPayload): Promise<void> {
    const upTo = this.sm.appliedIndex;
    const msgs = this.pending;
    let backoff = 250;
    for (let attempt = 0; ; attempt++) {
      try {
        // A commit that failed ambiguously may have landed (the retry's producer fenced the
        // old one, so that transaction is complete now): never publish these changes twice.
        if (attempt > 0 && (await this.readProgress()).index >= upTo) break;
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
    this.markPublished(upTo);
    this.oldestPendingAt = 0;
    this.counters.kafkaTransactions++;
    this.pruneOutcomes();
  }

  private async renewProducer(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    const o = this.o;
    const producer = o.kafka.producer({ transactionalId: cdcTransactionalId(o.prefix, o.instanceId, o.shardId), idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 });
    this.producer = producer;
    await producer.connect();
    await (await producer.transaction()).abort();
  }

  /** `inFlight`: a snapshot chunk's position (decision 0043); null clears it. */
  private async commitTransaction(msgs: readonly OutMessage[], upTo: number, inFlight: SnapshotInFlight | null = null): Promise<void> {
    const producer = this.producer;
    if (producer === undefined) throw new Error('no producer');
    const tx = await producer.transaction();
    try {
      for (let i = 0; i < msgs.length; i += MAX_MESSAGES_PER_SEND) await this.send(tx, msgs.slice(i, i + MAX_MESSAGES_PER_SEND));
      await tx.send({ topic: progressTopic(this.o.prefix, this.o.instanceId), messages: [progressMessage(this.o.shardId, { index: upTo, snapshot: inFlight })] });
      await tx.commit();
    } catch (e) {
      await tx.abort().catch(() => undefined);
      throw e;
    }
  }

  /** One send of up to MAX_MESSAGES_PER_SEND messages, grouped by topic, in order within a topic (one key's events stay ordered). */
  private async send(tx: Transaction, msgs: readonly OutMessage[]): Promise<void> {
    if (msgs.length === 0) return;
    await this.o.topics.ensure(msgs.map((m) => m.topic));
    const byTopic = new Map<string, { key: string; value: string }[]>();
    for (const m of msgs) {
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: m.value });
      byTopic.set(m.topic, list);
    }
    await tx.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  /** The changes up to `index` are committed to the change topics (or were, as of a takeover). */
  private markPublished(index: number): void {
    this.published = index;
    this.lastPublishedAt = Date.now();
    this.behindSince = 0;
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
