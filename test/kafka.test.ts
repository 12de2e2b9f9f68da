import type { EachMessagePayload } from 'kafkajs';
import { testKafka, uniqueTopic } from './support/kafka';

// Real broker (tools/kafka/kafka.sh, KRaft mode): the round trip every Kafka-backed part of
// Weft relies on — explicit topic creation, idempotent produce, in-order consumption.
describe('Kafka broker round trip', () => {
  const kafka = testKafka('weft-kafka-test');

  it('creates a topic, produces idempotently and consumes every message back in order', async () => {
    const topic = uniqueTopic('weft.test.roundtrip');
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
      expect(await admin.listTopics()).toContain(topic);
    } finally {
      await admin.disconnect();
    }

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const count = 200;
    try {
      // Several batches so ordering across produce requests is exercised, not just within one.
      for (let batch = 0; batch < 4; batch++) {
        const messages = Array.from({ length: count / 4 }, (_, i) => {
          const n = batch * (count / 4) + i;
          return { key: 'shard-1', value: `entry-${n}`, headers: { index: String(n) } };
        });
        await producer.send({ topic, acks: -1, messages });
      }
    } finally {
      await producer.disconnect();
    }

    const consumer = kafka.consumer({ groupId: uniqueTopic('weft-test-group') });
    await consumer.connect();
    const seen: { offset: string; value: string; index: string }[] = [];
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${seen.length}/${count} messages arrived`)), 60000);
        void consumer.run({
          eachMessage: async ({ message }: EachMessagePayload) => {
            seen.push({ offset: message.offset, value: message.value?.toString() ?? '', index: message.headers?.index?.toString() ?? '' });
            if (seen.length === count) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }

    expect(seen.map((m) => m.value)).toEqual(Array.from({ length: count }, (_, n) => `entry-${n}`));
    expect(seen.map((m) => m.index)).toEqual(Array.from({ length: count }, (_, n) => String(n)));
    // Gap-free offsets: the idempotent producer wrote each message exactly once.
    expect(seen.map((m) => Number(m.offset))).toEqual(Array.from({ length: count }, (_, n) => n));
  });
});
