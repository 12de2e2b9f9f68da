import { Kafka, logLevel } from 'kafkajs';

/** The broker global-setup guarantees is up. */
export const TEST_KAFKA_BROKER = process.env.WEFT_TEST_KAFKA ?? '127.0.0.1:9092';

export function testKafka(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [TEST_KAFKA_BROKER], logLevel: logLevel.WARN });
}

/** A topic name no other test or earlier run uses. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}
