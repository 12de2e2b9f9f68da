// Where a CDC instance records what it has published (decision 0049): a compacted topic
// `<prefix>.cdc.<id>.progress`, one record per committed Kafka transaction, written in that same
// transaction as its change events. Key `shard-<id>`, value {index, snapshot}: the last Raft index
// whose changes are published, and a chunked snapshot in flight (decision 0043).
//
// Why a topic and not a consumer group's offset (decision 0044's mechanism): after fencing, the
// group coordinator applies a transactional offset commit asynchronously, and OffsetFetch without
// `require_stable` (which kafkajs cannot send) may answer the previous offset — a restart then
// published a committed batch again. A topic read with read_committed has no such window:
//
//   1. the new producer fences the old one (InitProducerId returns once the old transaction is
//      committed or aborted, its markers written);
//   2. it commits a takeover record (key `shard-<id>.takeover`, a fresh nonce) to the topic;
//   3. it reads the topic read_committed from the start until it meets that nonce. Every
//      transaction of the old producer lies before the nonce in the partition and is resolved,
//      so the last `shard-<id>` record before it is the published progress — exactly.
//
// The takeover key differs from the progress key so compaction never drops the progress for it.
import { randomUUID } from 'node:crypto';
import type { Kafka, Message, Producer } from 'kafkajs';
import { CONSUMER_GROUP_TIMING } from '@weft/mirror';

/** A snapshot published over several Kafka transactions (decision 0043). */
export interface SnapshotInFlight {
  /** Applied index of the staged snapshot being published. */
  readonly index: number;
  /** How many of its events (in generation order) are committed. */
  readonly done: number;
}

export const progressTopic = (prefix: string, instanceId: string): string => `${prefix}.cdc.${instanceId}.progress`;

/** The published progress of one shard. */
export interface PublishedProgress {
  /** Last Raft index whose changes are committed to the change topics (0: none). */
  readonly index: number;
  /** A snapshot published in part (decision 0043), or null. */
  readonly snapshot: SnapshotInFlight | null;
}

export const NO_PROGRESS: PublishedProgress = { index: 0, snapshot: null };

const progressKey = (shardId: number): string => `shard-${shardId}`;
const takeoverKey = (shardId: number): string => `shard-${shardId}.takeover`;

/** The record a transaction carries to publish `p` for `shardId`. */
export function progressMessage(shardId: number, p: PublishedProgress): Message {
  return { key: progressKey(shardId), value: JSON.stringify({ index: p.index, snapshot: p.snapshot }) };
}

/** Parses a progress record's value; throws on anything this service did not write. */
export function decodeProgress(value: Buffer | string | null): PublishedProgress {
  const v: unknown = JSON.parse(String(value));
  if (typeof v !== 'object' || v === null) throw new Error(`progress record is not an object: ${String(value)}`);
  const { index, snapshot } = v as { index?: unknown; snapshot?: unknown };
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) throw new Error(`progress record has a bad index: ${String(value)}`);
  if (snapshot === null || snapshot === undefined) return { index, snapshot: null };
  const s = snapshot as { index?: unknown; done?: unknown };
  if (typeof s.index !== 'number' || typeof s.done !== 'number' || s.index <= 0 || s.done <= 0) throw new Error(`progress record has a bad snapshot: ${String(value)}`);
  return { index, snapshot: { index: s.index, done: s.done } };
}

export interface ProgressReadOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly shardId: number;
  /** The feed's transactional producer, already fenced in (step 1 above). */
  readonly producer: Producer;
  readonly timeoutMs: number;
  readonly stopping: () => boolean;
}

/** Steps 2 and 3 above: the exact published progress of the shard as of this producer's takeover. */
export async function readProgressAfterFence(o: ProgressReadOptions): Promise<PublishedProgress> {
  const nonce = randomUUID();
  const tx = await o.producer.transaction();
  try {
    await tx.send({ topic: o.topic, messages: [{ key: takeoverKey(o.shardId), value: JSON.stringify({ takeover: nonce }) }] });
    await tx.commit();
  } catch (e) {
    await tx.abort().catch(() => undefined);
    throw e;
  }
  const consumer = o.kafka.consumer({
    groupId: `${o.topic}.reader.${o.shardId}.${nonce}`,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    retry: { retries: 5 },
    ...CONSUMER_GROUP_TIMING,
  });
  let progress = NO_PROGRESS;
  let failure: Error | undefined;
  let found = false;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (found || failure !== undefined) return;
        const key = String(message.key);
        try {
          if (key === progressKey(o.shardId)) progress = decodeProgress(message.value);
          else if (key === takeoverKey(o.shardId) && (JSON.parse(String(message.value)) as { takeover?: unknown }).takeover === nonce) found = true;
        } catch (e) {
          failure = e instanceof Error ? e : new Error(String(e));
        }
      },
    });
    const deadline = Date.now() + o.timeoutMs;
    while (!found && failure === undefined) {
      if (o.stopping()) throw new Error('stopping');
      if (Date.now() > deadline) throw new Error(`${o.topic}: the takeover record was not read back within ${o.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
    if (failure !== undefined) throw failure;
    return progress;
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}
