import { type Consumer, Kafka, logLevel } from 'kafkajs';

/** The broker global-setup guarantees is up. */
export const TEST_KAFKA_BROKER = process.env.WEFT_TEST_KAFKA ?? '127.0.0.1:9092';

export function testKafka(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [TEST_KAFKA_BROKER], logLevel: logLevel.WARN });
}

/** A topic name no other test or earlier run uses. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}

/** One consumed message, its key and value parsed as JSON. */
export interface JsonMessage<K, V> {
  readonly partition: number;
  readonly key: K;
  readonly value: V;
}

/**
 * Reads `topic` from its start with `consumer` (read_committed, kafkajs' default) until no new
 * message has arrived for a poll interval (1.5 s), and returns the messages in arrival order
 * (per partition, topic order). The caller disconnects the consumer.
 */
export async function readTopicToEnd<K, V>(consumer: Consumer, topic: string, timeoutMs = 120_000): Promise<JsonMessage<K, V>[]> {
  const got: JsonMessage<K, V>[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message, partition }) => void got.push({ partition, key: JSON.parse(String(message.key)) as K, value: JSON.parse(String(message.value)) as V }) });
  const deadline = Date.now() + timeoutMs;
  for (let last = -1; got.length === 0 || got.length !== last; ) {
    if (Date.now() > deadline) throw new Error(`${topic}: still receiving (or nothing) after ${timeoutMs} ms (${got.length} messages)`);
    last = got.length;
    await new Promise((r) => setTimeout(r, 1500));
  }
  return got;
}
