// The mirror of one shard on one node. While this node leads the shard it produces every
// applied Raft entry, in index order, to the shard's log topic; otherwise it only tracks how far
// the topic got (the service tells it), so its Raft log is held back until then.
//
// Exactly once, in order, across leader changes and restarts:
//  - each batch is one Kafka transaction holding the entries AND the consumer-group offset
//    "last mirrored index" (mirrorProgressGroup), so progress and data commit together;
//  - a leader first fences every earlier producer of the shard (same transactional id, new
//    epoch: a deposed leader's open transaction is aborted and its later sends are refused),
//    then reads the progress and resumes after it. Any error: drop the producer, back off,
//    fence and re-read (an ambiguous commit is settled by the re-read, never by guessing).
// Kafka is never in the commit path: this loop only reads what Raft already applied.

import type { Producer } from 'kafkajs';
import type { Entry } from '@weft/raft';
import { toMessage, type LogRecord, type MirroredOutcome } from './log-record';
import { isEmptyEntry, type ShardLogSource } from './source';

/** What the shard mirror asks of the node-wide service (Kafka clients, topics, progress). */
export interface MirrorKafka {
  readonly topic: (shardId: number) => string;
  readonly progressGroup: string;
  /** A new transactional producer for the shard, connected and with every older one fenced. */
  fencedProducer(shardId: number): Promise<Producer>;
  /** Creates the topic if missing. */
  ensureTopic(topic: string): Promise<void>;
  /**
   * Last mirrored index per the committed progress, or 'empty' for a topic that has neither
   * records nor progress yet. Throws if the topic has records but no progress (never guessed).
   */
  readProgress(shardId: number): Promise<number | 'empty'>;
}

export interface ShardMirrorOptions {
  readonly shardId: number;
  readonly source: ShardLogSource;
  readonly kafka: MirrorKafka;
  /** Unmirrored entries past which the Raft log is no longer held back (see README: backlog). */
  readonly maxBacklogEntries: number;
  readonly maxBatchEntries: number;
  readonly maxBatchBytes: number;
  /**
   * After a Kafka transaction that did not fill a batch, wait this long before the next one so
   * entries gather (default 0). Each transaction costs several broker round trips and markers
   * whatever it carries; one per entry or two under load took most of the machine's CPU.
   */
  readonly lingerMs?: number;
  readonly now: () => number;
  /** [0, 1) for backoff jitter (default Math.random). */
  readonly random?: () => number;
  readonly log: (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>) => void;
}

export type ShardMirrorState = 'following' | 'fencing' | 'mirroring' | 'backing-off' | 'blocked' | 'stopped';

export interface ShardMirrorStats {
  readonly shardId: number;
  readonly state: ShardMirrorState;
  /** Term this node leads the shard in, while it mirrors it. */
  readonly term: number | undefined;
  /** Last index known to be in the topic (0: none known). */
  readonly mirroredIndex: number;
  readonly appliedIndex: number;
  /** Applied entries not known to be mirrored. */
  readonly backlogEntries: number;
  /** Age of the oldest of them (ms since it was applied here; 0 when none). */
  readonly backlogAgeMs: number;
  /** True while the backlog exceeds its bound and the Raft log is no longer held back for it. */
  readonly overflowed: boolean;
  readonly entriesProduced: number;
  readonly bytesProduced: number;
  readonly transactions: number;
  /** Gap records produced (entries lost to the topic after an overflow). */
  readonly gaps: number;
  readonly errors: number;
  readonly lastError: string | undefined;
}

/**
 * 0.25-5 s, doubling per consecutive failure, with jitter: two nodes that both believe they lead
 * (one deposed, not knowing yet) fence each other on every takeover; equal delays would keep
 * them colliding.
 */
class Backoff {
  private ms = 0;
  constructor(private readonly random: () => number) {}
  next(): number {
    this.ms = this.ms === 0 ? 250 : Math.min(5000, this.ms * 2);
    return Math.round(this.ms * (0.5 + this.random()));
  }
  reset(): void {
    this.ms = 0;
  }
}

export class ShardMirror {
  private state: ShardMirrorState = 'following';
  private term: number | undefined;
  private producer: Producer | undefined;
  /** Last index known mirrored; at start, whatever the log no longer holds counts as done. */
  private mirrored: number;
  /** A new, empty topic over a log already compacted: it starts with a gap record. */
  private freshTopic = false;
  /** (last index applied, when) samples, oldest first, for the backlog's age. */
  private readonly applied: { index: number; at: number }[] = [];
  private wake: (() => void) | undefined;
  /** Ends a linger early when the mirror stops. */
  private stopCheck: (() => void) | undefined;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly backoff: Backoff;
  private readonly counters = { entriesProduced: 0, bytesProduced: 0, transactions: 0, gaps: 0, errors: 0 };
  private lastError: string | undefined;

  constructor(private readonly o: ShardMirrorOptions) {
    this.backoff = new Backoff(o.random ?? Math.random);
    this.mirrored = Math.max(0, o.source.firstIndex(o.shardId) - 1);
  }

  get shardId(): number {
    return this.o.shardId;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.stopCheck?.();
    await this.loop;
    await this.dropProducer();
    this.state = 'stopped';
  }

  /** The shard applied up to `index` (NodeHost's onApplied): age bookkeeping, and wake the loop. */
  onApplied(index: number): void {
    const now = this.o.now();
    const last = this.applied[this.applied.length - 1];
    // One sample per 100 ms is enough for an age and keeps this bounded under load.
    if (last !== undefined && now - last.at < 100) last.index = Math.max(last.index, index);
    else this.applied.push({ index, at: now });
    this.wake?.();
  }

  /** Progress read by the service from Kafka (followers learn it this way). Only moves forward. */
  observeProgress(index: number): void {
    if (index > this.mirrored) this.setMirrored(index);
  }

  /** True while this node mirrors the shard (the service does not overwrite its progress then). */
  get leading(): boolean {
    return this.term !== undefined;
  }

  /**
   * How far the Raft log may be compacted for the mirror: the last mirrored index while the
   * backlog is within its bound; past it, the log is not held back at all (undefined) and the
   * entries compacted before Kafka takes them become a gap record (README: backlog).
   */
  compactionFloor(): number | undefined {
    return this.overflowed() ? undefined : this.mirrored;
  }

  private overflowed(): boolean {
    return this.o.source.appliedIndex(this.o.shardId) - this.mirrored > this.o.maxBacklogEntries;
  }

  stats(): ShardMirrorStats {
    const applied = this.o.source.appliedIndex(this.o.shardId);
    const backlog = Math.max(0, applied - this.mirrored);
    const oldest = backlog > 0 ? this.applied.find((s) => s.index > this.mirrored) : undefined;
    return {
      shardId: this.o.shardId,
      state: this.state,
      term: this.term,
      mirroredIndex: this.mirrored,
      appliedIndex: applied,
      backlogEntries: backlog,
      backlogAgeMs: oldest === undefined ? 0 : Math.max(0, this.o.now() - oldest.at),
      overflowed: this.overflowed(),
      ...this.counters,
      lastError: this.lastError,
    };
  }

  private setMirrored(index: number): void {
    this.mirrored = index;
    while (this.applied.length > 0 && this.applied[0].index <= index) this.applied.shift();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = undefined;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const term = this.o.source.leaderTerm(this.o.shardId);
      if (term !== this.term) await this.dropProducer();
      if (term === undefined) {
        this.state = 'following';
        await this.sleep(200);
        continue;
      }
      try {
        if (this.producer === undefined) await this.takeOver(term);
        const produced = await this.produceNext();
        this.backoff.reset();
        if (produced === 'none') await this.sleep(200);
        else if (produced === 'partial' && (this.o.lingerMs ?? 0) > 0) await this.linger(this.o.lingerMs ?? 0);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        this.counters.errors++;
        if (msg !== this.lastError) this.o.log('warn', 'kafka mirror: will retry', { shard: this.o.shardId, err: msg });
        this.lastError = msg;
        await this.dropProducer();
        if (this.state !== 'blocked') this.state = 'backing-off';
        await this.sleep(this.backoff.next());
      }
    }
  }

  /** Fence older producers of the shard, then learn where the topic ends. */
  private async takeOver(term: number): Promise<void> {
    this.state = 'fencing';
    const topic = this.o.kafka.topic(this.o.shardId);
    await this.o.kafka.ensureTopic(topic);
    const producer = await this.o.kafka.fencedProducer(this.o.shardId);
    this.producer = producer;
    this.term = term;
    const progress = await this.o.kafka.readProgress(this.o.shardId);
    this.freshTopic = progress === 'empty';
    // Progress in Kafka is the truth, also when it is behind what this node believed (a
    // follower's view is only ever a lower bound, but a takeover must not skip anything).
    this.setMirrored(progress === 'empty' ? 0 : progress);
    this.state = 'mirroring';
    this.o.log('info', 'kafka mirror: leading the shard log', { shard: this.o.shardId, term, resumeAfter: this.mirrored });
  }

  private async dropProducer(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    this.term = undefined;
    if (p !== undefined) await p.disconnect().catch(() => undefined);
  }

  /** Waits `ms` without being woken by applied entries (stop still ends it). */
  private linger(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        if (this.stopCheck === done) this.stopCheck = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.stopCheck = done;
    });
  }

  /** Produces the next batch: 'none' if there was nothing, 'partial' if it did not fill a batch. */
  private async produceNext(): Promise<'none' | 'partial' | 'full'> {
    const id = this.o.shardId;
    const src = this.o.source;
    const applied = src.appliedIndex(id);
    const next = this.mirrored + 1;
    if (next > applied) {
      this.state = 'mirroring';
      return 'none';
    }
    const first = src.firstIndex(id);
    if (next < first) {
      if (!this.overflowed() && !this.freshTopic) {
        this.state = 'blocked';
        throw new Error(
          `entries ${next}..${first - 1} are not in this replica's Raft log (it was installed from a snapshot); ` +
            'another replica that still has them must lead the shard to mirror them',
        );
      }
      await this.commit([{ shardId: id, index: first - 1, term: 0, outcome: { status: 'gap', gapFrom: next }, data: Buffer.alloc(0) }]);
      this.counters.gaps++;
      this.o.log('warn', 'kafka mirror: entries compacted before Kafka took them were published as a gap record', {
        shard: id,
        gapFrom: next,
        gapTo: first - 1,
      });
      return 'full';
    }
    const hi = Math.min(applied, next + this.o.maxBatchEntries - 1);
    const entries = src.entries(id, next, hi + 1, this.o.maxBatchBytes);
    await this.commit(entries.map((e) => this.record(e)));
    this.freshTopic = false;
    // More applied entries than this batch took: go on at once; else let the next ones gather.
    return next + entries.length - 1 < applied ? 'full' : 'partial';
  }

  private record(e: Entry): LogRecord {
    const id = this.o.shardId;
    let outcome: MirroredOutcome;
    if (isEmptyEntry(e)) outcome = { status: 'empty' };
    else outcome = this.o.source.outcomeAt(id, e.index) ?? { status: 'unknown' };
    return { shardId: id, index: e.index, term: e.term, outcome, data: isEmptyEntry(e) ? Buffer.alloc(0) : Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength) };
  }

  /** One Kafka transaction: the records and the new progress (the last record's index). */
  private async commit(records: readonly LogRecord[]): Promise<void> {
    const producer = this.producer;
    if (producer === undefined || records.length === 0) throw new Error('no producer or nothing to commit');
    const topic = this.o.kafka.topic(this.o.shardId);
    const last = records[records.length - 1].index;
    const tx = await producer.transaction();
    try {
      await tx.send({ topic, acks: -1, messages: records.map(toMessage) });
      await tx.sendOffsets({ consumerGroupId: this.o.kafka.progressGroup, topics: [{ topic, partitions: [{ partition: 0, offset: String(last) }] }] });
      await tx.commit();
    } catch (e) {
      await tx.abort().catch(() => undefined);
      throw e;
    }
    this.setMirrored(last);
    this.counters.transactions++;
    this.counters.entriesProduced += records.length;
    for (const r of records) this.counters.bytesProduced += r.data.length;
  }
}
