// Kafka-fed replicas: consumes the shard log topics and applies every record with the same
// @weft/materialize code the Raft replicas use, each shard into its own RocksDB. Given the same
// log prefix the state hash is the replicas' (decision 0012), which is how it is tested.
//
// Position: the consumer group's committed offsets, committed only after the records were
// applied; applying is idempotent by index ('already-applied'), so a redelivery is harmless. A
// shard whose store is empty starts from offset 0 (that is also how to rebuild: an empty data
// directory), unless it bootstraps from a snapshot. A record past the next index (the group's
// offsets are ahead of this store, e.g. the store was replaced, or a snapshot start guessed its
// offset too late) re-reads the topic from 0.
//
// Bootstrap from snapshot + offset (decision 0036, `bootstrap` option): an empty store, and a
// shard that meets a gap record, install a snapshot of the shard fetched from a node (the Raft
// replicas' own format and verification) and consume from the record after its index. Without
// it a gap record stops the shard.

import { mkdirSync } from 'node:fs';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { ScanFilterCompiler } from '@weft/kv';
import { Materializer, type MaterializerOptions } from '@weft/materialize';
import { CONSUMER_GROUP_TIMING, fetchShardSnapshot, fromMessage, heartbeatDue, logTopic, mirrorProgressGroup, shardOfLogTopic, startOffsetAfter, watchConsumerCrashes, type LogRecord } from '@weft/mirror';
import { ShardStateDir, type StagedShardState } from '@weft/replica';
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
  /** Start empty shards, and get past gap records, from node snapshots (undefined: offset 0, stop at gaps). */
  readonly bootstrap?: SnapshotBootstrap;
  /** Compiles row filters pushed down with the scans this materializer serves (decision 0038). */
  readonly scanFilters?: ScanFilterCompiler;
}

export interface SnapshotBootstrap {
  /** Nodes' HTTP addresses (host:port) serving GET /shards/<id>/snapshot, tried in order. */
  readonly sources: readonly string[];
  /** Wait between rounds over the sources when none served a snapshot. */
  readonly retryMs?: number;
  /** Clock-skew margin when finding the start offset by time (@weft/mirror start-offset.ts). */
  readonly startMarginMs?: number;
}

export type ShardFeedState = 'waiting-for-topic' | 'bootstrapping' | 'applying' | 'caught-up' | 'stopped';

/** The last snapshot this shard's state was started from. */
export interface ShardSnapshotStart {
  /** Applied index of the snapshot: the log was consumed from the record after it. */
  readonly index: number;
  readonly source: string;
  /** Kafka offset consumption (re)started from. */
  readonly startOffset: string;
  /** Why: an empty store, or a gap record (the indexes it stood for). */
  readonly reason: string;
  readonly installedAt: string;
  /** From the installed snapshot to the offset found (the Kafka lookup, with its retries). */
  readonly offsetLookupMs: number;
}

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
  /** Snapshots installed since this process started. */
  readonly snapshotsInstalled: number;
  readonly snapshotStart: ShardSnapshotStart | undefined;
  /** The last failed attempt to fetch a snapshot, while bootstrapping. */
  readonly bootstrapError: string | undefined;
  /** Crashes of the (shared) consumer kafkajs would not restart from, each followed by a new consumer; and the last one's error. */
  readonly consumerRestarts: number;
  readonly lastConsumerCrash: string | undefined;
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
  snapshotsInstalled = 0;
  snapshotStart: ShardSnapshotStart | undefined;
  bootstrapError: string | undefined;
  /** Where to seek once the consumer runs, after a snapshot installed before it did. */
  pendingSeek: string | undefined;
  /** Past a gap, a snapshot is being installed while the consumer has the topic paused. */
  rebootstrapping = false;
  /** Outcome journal records at or below this index are deleted from `sm`'s store. */
  outcomesPrunedTo = 0;
  constructor(
    readonly shardId: number,
    readonly dirs: ShardStateDir,
    /** Replaced when a snapshot is installed. */
    public store: MvccStore,
    public sm: Materializer,
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
  /** Consumer crashes kafkajs would not restart from, after which a new consumer was started. */
  private consumerRestarts = 0;
  private lastConsumerCrash: string | undefined;

  constructor(private readonly o: LogMaterializerOptions) {}

  private get materializerOptions(): MaterializerOptions {
    return this.o.scanFilters === undefined ? {} : { scanFilters: this.o.scanFilters };
  }

  /** Opens every shard's store, then (in the background) waits for the topics and consumes. */
  async open(): Promise<void> {
    mkdirSync(this.o.dataDir, { recursive: true });
    for (const id of this.o.shardIds) {
      // The replicas' layout: shard-<id>/ until a snapshot is installed, then the directory
      // shard-<id>.current names; leftovers of an interrupted install are removed here.
      const dirs = new ShardStateDir(this.o.dataDir, id);
      dirs.cleanup();
      const dir = dirs.current();
      mkdirSync(dir, { recursive: true });
      const store = await MvccStore.open(dir);
      const sm = await Materializer.open(store, id, this.materializerOptions);
      this.feeds.set(id, new ShardFeed(id, dirs, store, sm));
    }
    this.starting = this.consume();
  }

  /** Shard `shardId`'s state and whether its feed stopped (what MaterializedShard serves). */
  feed(shardId: number): MaterializedFeed | undefined {
    const f = this.feeds.get(shardId);
    if (f === undefined) return undefined;
    return { get sm() { return f.sm; }, stoppedReason: () => (f.state === 'stopped' ? (f.error ?? 'stopped') : undefined) };
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
      snapshotsInstalled: f.snapshotsInstalled,
      snapshotStart: f.snapshotStart,
      bootstrapError: f.bootstrapError,
      consumerRestarts: this.consumerRestarts,
      lastConsumerCrash: this.lastConsumerCrash,
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
        for (const f of this.feeds.values()) if (f.state === 'applying' || f.state === 'caught-up') f.state = f.topicIndex > f.sm.appliedIndex ? 'applying' : 'caught-up';
      } catch {
        // Kafka away: the lag keeps its last value and lagMs grows.
      }
    };
    this.poll = setInterval(() => void pollProgress(), 1000);
    void pollProgress();

    // Snapshot start of empty stores, before consuming: each then reads from after its snapshot.
    if (this.o.bootstrap !== undefined) {
      for (const f of this.feeds.values()) {
        if (f.sm.appliedIndex > 0) continue;
        const offset = await this.bootstrap(f, this.o.bootstrap, 0, 'empty store');
        if (offset === undefined) return;
        f.pendingSeek = offset;
      }
    }

    await this.startConsumer(topics);
  }

  /** Consumes every shard's topic in group `groupId`; started over if kafkajs gives up on it. */
  private async startConsumer(topics: string[]): Promise<void> {
    const consumer = this.o.kafka.consumer({ groupId: this.o.groupId, readUncommitted: false, retry: { retries: 10 }, ...CONSUMER_GROUP_TIMING });
    this.consumer = consumer;
    watchConsumerCrashes(consumer, 'materializer', this.o.logger, (why) => this.restartAfterCrash(consumer, topics, why));
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({ eachBatchAutoResolve: false, autoCommitInterval: 1000, eachBatch: (p) => this.onBatch(p) });
    // An empty store (first start, or a rebuild) reads its topic from the start, whatever the group committed.
    // A snapshot-started one reads from after its snapshot. Otherwise the group's position holds.
    for (const f of this.feeds.values()) {
      const topic = logTopic(this.o.topicPrefix, f.shardId);
      if (f.state === 'stopped') continue;
      // Re-bootstrapping past a gap (a restart after a crash): rebootstrap() resumes it. (A
      // start's own bootstrap of an empty store is done by now: it left pendingSeek.)
      if (f.rebootstrapping) {
        consumer.pause([{ topic }]);
        continue;
      }
      f.state = 'applying';
      const offset = f.pendingSeek ?? (f.sm.appliedIndex === 0 ? '0' : undefined);
      f.pendingSeek = undefined;
      if (offset !== undefined) consumer.seek({ topic, partition: 0, offset });
    }
  }

  /** kafkajs gave up on `consumer` (watchConsumerCrashes): start a new one, retrying with backoff. */
  private restartAfterCrash(consumer: Consumer, topics: string[], why: string): void {
    if (this.consumer !== consumer || this.stopping) return;
    this.consumerRestarts++;
    this.lastConsumerCrash = why;
    this.starting = (async () => {
      await consumer.disconnect().catch(() => undefined);
      for (let backoff = 250; !this.stopping; backoff = Math.min(backoff * 2, 5000)) {
        try {
          await this.startConsumer(topics);
          return;
        } catch (e) {
          this.o.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'materializer: could not start the consumer again; retrying');
          await new Promise((r) => setTimeout(r, backoff));
        }
      }
    })();
  }

  private async onBatch(p: EachBatchPayload): Promise<void> {
    const { batch } = p;
    const shardId = shardOfLogTopic(this.o.topicPrefix, batch.topic);
    const f = shardId === undefined ? undefined : this.feeds.get(shardId);
    if (f === undefined || f.state === 'stopped' || f.state === 'bootstrapping') return;
    const beatDue = heartbeatDue();
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
        const why = `the log has a gap (indexes ${rec.outcome.gapFrom}..${rec.index} were never published)`;
        if (this.o.bootstrap === undefined) {
          this.stop(f, `${why}; rebuild this shard from a snapshot (WEFT_MATERIALIZER_BOOTSTRAP=snapshot)`);
        } else {
          // The way past a gap: a snapshot at or after its last index, then the records after it.
          this.rebootstrap(f, this.o.bootstrap, batch.topic, rec.index - 1, why);
        }
        return;
      }
      // The first index a record stands for (a gap record: its first missing one).
      const first = rec.outcome.status === 'gap' ? rec.outcome.gapFrom : rec.index;
      if (first > next) {
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
      // A long batch keeps its group session.
      if (beatDue()) await p.heartbeat();
    }
    if (f.sm.appliedIndex > f.topicIndex) f.topicIndex = f.sm.appliedIndex;
    f.state = f.topicIndex > f.sm.appliedIndex ? 'applying' : 'caught-up';
    // The apply writes every entry's outcome (decision 0026) and nothing here reads them: the
    // header check uses what apply returns. Drop them per batch (decision 0041).
    if (f.sm.appliedIndex > f.outcomesPrunedTo) {
      f.sm.pruneOutcomes(f.sm.appliedIndex, f.outcomesPrunedTo + 1);
      f.outcomesPrunedTo = f.sm.appliedIndex;
    }
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

  /**
   * Installs a snapshot past `mustExceed` into `f` and returns the offset to consume from,
   * retrying every retryMs while no source serves one (the state stays as it was meanwhile);
   * undefined once the materializer is closing.
   */
  private async bootstrap(f: ShardFeed, b: SnapshotBootstrap, mustExceed: number, reason: string): Promise<string | undefined> {
    f.state = 'bootstrapping';
    const topic = logTopic(this.o.topicPrefix, f.shardId);
    const retry = async (what: string, e: unknown): Promise<void> => {
      f.bootstrapError = `${what}: ${e instanceof Error ? e.message : String(e)}`;
      this.o.logger.warn({ shard: f.shardId, err: f.bootstrapError }, 'materializer: bootstrap from a snapshot not done yet; retrying');
      await new Promise((r) => setTimeout(r, b.retryMs ?? 2000));
    };
    let source: string | undefined;
    while (source === undefined) {
      if (this.stopping) return undefined;
      try {
        const got = await fetchShardSnapshot({ sources: b.sources, shardId: f.shardId, dirs: f.dirs, mustExceed, materializer: this.materializerOptions });
        if (this.stopping) {
          // Closing: the state is live on disk already, so the next start opens it.
          await got.state.store.close();
          return undefined;
        }
        this.install(f, got.state);
        source = got.source;
      } catch (e) {
        await retry('fetching a snapshot', e);
      }
    }
    // Installed (live on disk too): from here only the offset to continue from is missing, and a
    // restart would simply continue from the group's position or re-read from offset 0.
    const installedAt = new Date();
    for (;;) {
      if (this.stopping) return undefined;
      try {
        const startOffset = await startOffsetAfter(this.admin as Admin, topic, f.sm, b.startMarginMs);
        f.snapshotStart = { index: f.sm.appliedIndex, source, startOffset, reason, installedAt: installedAt.toISOString(), offsetLookupMs: Date.now() - installedAt.getTime() };
        f.bootstrapError = undefined;
        // A fresh chance to fall back to offset 0 if the offset was guessed too late.
        f.reread = false;
        this.o.logger.info({ shard: f.shardId, ...f.snapshotStart }, 'materializer: started the shard from a snapshot');
        return startOffset;
      } catch (e) {
        await retry('finding the offset after the snapshot', e);
      }
    }
  }

  /** A running shard met a gap: pause its topic, install a snapshot past it, resume after it. */
  private rebootstrap(f: ShardFeed, b: SnapshotBootstrap, topic: string, mustExceed: number, why: string): void {
    const consumer = this.consumer as Consumer;
    consumer.pause([{ topic }]);
    this.o.logger.warn({ shard: f.shardId, applied: f.sm.appliedIndex, err: why }, 'materializer: gap in the log; bootstrapping the shard from a snapshot');
    f.rebootstrapping = true;
    void this.bootstrap(f, b, mustExceed, why).then((offset) => {
      f.rebootstrapping = false;
      if (offset === undefined) return;
      f.state = 'applying';
      // The consumer now running: a crash meanwhile replaced the one paused above.
      const now = this.consumer ?? consumer;
      now.seek({ topic, partition: 0, offset });
      now.resume([{ topic }]);
    });
  }

  /** Serves a verified snapshot state from now on (already live on disk); retires the old store. */
  private install(f: ShardFeed, st: StagedShardState): void {
    const old = f.store;
    const oldDir = old.db.location;
    f.store = st.store;
    f.sm = st.materializer;
    f.outcomesPrunedTo = 0;
    f.snapshotsInstalled++;
    void old
      .close()
      .then(() => f.dirs.remove(oldDir))
      .catch((e: unknown) => this.o.logger.warn({ shard: f.shardId, err: e instanceof Error ? e.message : String(e) }, 'materializer: could not remove the replaced shard state'));
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
