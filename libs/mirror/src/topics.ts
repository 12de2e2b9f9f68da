// Names Weft uses in Kafka. A prefix (default "weft") lets several clusters, or several test
// runs, share one broker without seeing each other's topics.

export const DEFAULT_TOPIC_PREFIX = 'weft';

/** The topic a shard's committed log entries are mirrored to: `<prefix>.log.<shard id>`. */
export function logTopic(prefix: string, shardId: number): string {
  return `${prefix}.log.${shardId}`;
}

/** Parses a log topic name back to its shard id (undefined if it is not one). */
export function shardOfLogTopic(prefix: string, topic: string): number | undefined {
  const head = `${prefix}.log.`;
  if (!topic.startsWith(head)) return undefined;
  const rest = topic.slice(head.length);
  if (!/^[1-9]\d{0,9}$/.test(rest)) return undefined;
  const id = Number(rest);
  return id <= 0xffffffff ? id : undefined;
}

/**
 * The consumer group whose committed offset on a log topic is the shard's last mirrored Raft
 * index (written in the same Kafka transaction as the entries; see docs/decisions/0026).
 */
export function mirrorProgressGroup(prefix: string): string {
  return `${prefix}.mirror.progress`;
}

/** One transactional id per shard: a new leader's producer fences the previous leader's. */
export function mirrorTransactionalId(prefix: string, shardId: number): string {
  return `${prefix}.mirror.${shardId}`;
}
