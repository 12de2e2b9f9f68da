// Kafka connection settings from the environment, shared by every Weft role that talks to
// Kafka (node mirror, materializer, cdc). WEFT_KAFKA_BROKERS empty = Kafka off.

import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { int, oneOf, optionalHostPorts, type EnvVar, type EnvValues } from '@weft/config';
import { z } from 'zod';
import { DEFAULT_TOPIC_PREFIX } from './topics';

/** A comma-separated host:port list, or empty (Kafka off). */
function optionalBrokers(): EnvVar<string[]> {
  return optionalHostPorts('a comma-separated list of host:port, or empty to run without Kafka');
}

function optionalText(expected = 'a string (empty: not set)'): EnvVar<string> {
  return { expected, schema: z.string(), default: '' };
}

function topicPrefix(): EnvVar<string> {
  return {
    expected: 'a Kafka topic name prefix: letters, digits, ".", "_", "-" (at most 100)',
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/),
    default: DEFAULT_TOPIC_PREFIX,
  };
}

/** The variables; apps spread this into their env spec. */
export function kafkaEnv() {
  return {
    /** Bootstrap brokers, e.g. `127.0.0.1:9092`; empty runs without Kafka. */
    WEFT_KAFKA_BROKERS: optionalBrokers(),
    /** Topic names start with this (`<prefix>.log.<shard>`). */
    WEFT_KAFKA_TOPIC_PREFIX: topicPrefix(),
    /** Replication factor of the topics Weft creates (1 for a single dev broker, 3 in production). */
    WEFT_KAFKA_REPLICATION_FACTOR: int(1, 32, 1),
    /** TLS to the brokers; the file settings below imply it. */
    WEFT_KAFKA_SSL: oneOf(['true', 'false'] as const, 'false'),
    WEFT_KAFKA_SSL_CA_FILE: optionalText('a PEM file path or empty'),
    WEFT_KAFKA_SSL_CERT_FILE: optionalText('a PEM file path or empty'),
    WEFT_KAFKA_SSL_KEY_FILE: optionalText('a PEM file path or empty'),
    WEFT_KAFKA_SASL_MECHANISM: oneOf(['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const, 'none'),
    WEFT_KAFKA_SASL_USERNAME: optionalText(),
    WEFT_KAFKA_SASL_PASSWORD: optionalText(),
  };
}

export type KafkaEnv = EnvValues<ReturnType<typeof kafkaEnv>>;

/** How to reach Kafka; `undefined` from kafkaSettings() means Kafka is off. */
export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly topicPrefix: string;
  readonly replicationFactor: number;
  readonly ssl?: ConnectionOptions | true;
  readonly sasl?: SASLOptions;
}

export class KafkaSettingsError extends Error {
  override readonly name = 'KafkaSettingsError';
}

/** Turns validated env values into settings (reads the TLS files); undefined when no brokers are set. */
export function kafkaSettings(env: KafkaEnv): KafkaSettings | undefined {
  if (env.WEFT_KAFKA_BROKERS.length === 0) return undefined;
  const read = (name: string, file: string): Buffer | undefined => {
    if (file === '') return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      throw new KafkaSettingsError(`${name}=${file}: cannot read it (${e instanceof Error ? e.message : String(e)})`);
    }
  };
  const ca = read('WEFT_KAFKA_SSL_CA_FILE', env.WEFT_KAFKA_SSL_CA_FILE);
  const cert = read('WEFT_KAFKA_SSL_CERT_FILE', env.WEFT_KAFKA_SSL_CERT_FILE);
  const key = read('WEFT_KAFKA_SSL_KEY_FILE', env.WEFT_KAFKA_SSL_KEY_FILE);
  const files = ca !== undefined || cert !== undefined || key !== undefined;
  const ssl: ConnectionOptions | true | undefined = files ? { ca, cert, key } : env.WEFT_KAFKA_SSL === 'true' ? true : undefined;
  let sasl: SASLOptions | undefined;
  if (env.WEFT_KAFKA_SASL_MECHANISM !== 'none') {
    if (env.WEFT_KAFKA_SASL_USERNAME === '' || env.WEFT_KAFKA_SASL_PASSWORD === '') {
      throw new KafkaSettingsError(`WEFT_KAFKA_SASL_MECHANISM=${env.WEFT_KAFKA_SASL_MECHANISM} needs WEFT_KAFKA_SASL_USERNAME and WEFT_KAFKA_SASL_PASSWORD`);
    }
    sasl = { mechanism: env.WEFT_KAFKA_SASL_MECHANISM, username: env.WEFT_KAFKA_SASL_USERNAME, password: env.WEFT_KAFKA_SASL_PASSWORD };
  }
  return {
    brokers: env.WEFT_KAFKA_BROKERS,
    topicPrefix: env.WEFT_KAFKA_TOPIC_PREFIX,
    replicationFactor: env.WEFT_KAFKA_REPLICATION_FACTOR,
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
  };
}

/** Requests to the broker time out after this long (createKafka). */
export const KAFKA_REQUEST_TIMEOUT_MS = 10_000;

/**
 * Group timing for every Weft consumer (CDC feeds, materializers, progress readers). The session
 * timeout must stay below the client's request timeout: a follower's SyncGroup waits at the
 * broker until the group's leader sends its own, and when that leader is a dead member (a
 * process killed, or a join of this process that kafkajs gave up on) the broker answers only once
 * the leader's session has expired. With kafkajs' 30 s session and a 10 s request timeout the
 * SyncGroup timed out first; the restarted consumer joined as yet another member that the next
 * round waited for, and the feed never got a batch (a CDC shard stalled for good). 8 s also bounds
 * how long a killed process's members hold up the group. Heartbeats every second keep a live
 * member well inside it; batch handlers heartbeat between records.
 */
export const CONSUMER_GROUP_TIMING = { sessionTimeout: 8_000, heartbeatInterval: 1_000 } as const;

/**
 * For a batch handler's loop: true at most once per heartbeat interval, so a long batch keeps
 * its group session (`if (due()) await p.heartbeat()`) without an async hop per record.
 */
export function heartbeatDue(everyMs: number = CONSUMER_GROUP_TIMING.heartbeatInterval): () => boolean {
  let last = Date.now();
  return () => {
    const now = Date.now();
    if (now - last < everyMs) return false;
    last = now;
    return true;
  };
}

/**
 * A kafkajs client with short timeouts and few retries: Weft's own loops retry (with backoff)
 * and must notice an unreachable broker within seconds, not after kafkajs' 30 s default.
 * kafkajs' own logging is off; callers log what they see.
 */
export function createKafka(s: KafkaSettings, clientId: string): Kafka {
  const config: KafkaConfig = {
    clientId,
    brokers: [...s.brokers],
    connectionTimeout: 3000,
    requestTimeout: KAFKA_REQUEST_TIMEOUT_MS,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    logLevel: logLevel.NOTHING,
    ...(s.ssl === undefined ? {} : { ssl: s.ssl }),
    ...(s.sasl === undefined ? {} : { sasl: s.sasl }),
  };
  return new Kafka(config);
}
