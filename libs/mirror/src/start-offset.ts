// Where in a log topic to start after installing a snapshot at index I: at or before the record
// of index I+1. Kafka offsets are not indexes (a gap record stands for many), so it is found by
// time: the record of any index after I was produced after I was applied, which is no earlier
// than the state's closed and last commit timestamps (HLC, µs) less the clock skew the cluster
// tolerates: commit timestamps may run up to twice the replicas' max clock offset (250 ms) ahead
// of the wall clock, and the node that produced later records may lag the one that applied I.
// The margin covers both with room to spare. Starting early only
// costs skipping records at or below I (apply is idempotent by index); starting late is caught
// by the consumer (a first record past I+1), which then re-reads the topic from offset 0.

import type { Admin } from 'kafkajs';

export const START_OFFSET_SKEW_MARGIN_MS = 5_000;

export interface SnapshotPosition {
  readonly closedTs: bigint;
  readonly lastCommitTs: bigint;
}

/** Offset (as kafkajs wants it, a decimal string) to start reading `topic` from after `state`. */
export async function startOffsetAfter(admin: Admin, topic: string, state: SnapshotPosition, marginMs = START_OFFSET_SKEW_MARGIN_MS): Promise<string> {
  const newest = state.closedTs > state.lastCommitTs ? state.closedTs : state.lastCommitTs;
  const at = Number(newest / 1000n) - marginMs;
  if (at <= 0) return '0';
  const found = (await admin.fetchTopicOffsetsByTimestamp(topic, at)).find((p) => p.partition === 0);
  const offset = Number(found?.offset ?? -1);
  if (offset >= 0) return String(offset);
  // Nothing produced since: start at the end (the next record is the first one after I, or later).
  const ends = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0);
  return ends?.high ?? '0';
}
