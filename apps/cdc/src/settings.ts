// The CDC service's snapshot and naming settings, validated once at start with errors that name
// the setting and the fix (decision 0037).
import { z } from 'zod';
import type { EnvVar } from '@weft/config';

/**
 * WEFT_CDC_SNAPSHOT_MODE, named after Debezium's snapshot.mode:
 *  - never: a shard without published progress replays its log topic from offset 0 (every
 *    historic change as c/u/d); a gap record stops the shard.
 *  - initial: a shard without published progress starts from a node's snapshot (`r` events),
 *    then streams from the entry after it; a gap record stops the shard.
 *  - when_needed: as initial, and a gap record is got past by a new snapshot of the shard.
 */
export const SNAPSHOT_MODES = ['never', 'initial', 'when_needed'] as const;
export type SnapshotMode = (typeof SNAPSHOT_MODES)[number];

export interface CdcSnapshotSettings {
  readonly mode: Exclude<SnapshotMode, 'never'>;
  /** Nodes' HTTP addresses (host:port) serving GET /shards/<id>/snapshot, tried in order. */
  readonly sources: readonly string[];
  /** Clock-skew margin of the start-offset lookup (libs/mirror start-offset.ts). */
  readonly startMarginMs: number;
  /** Wait between rounds over the sources while none serves a snapshot. */
  readonly retryMs: number;
}

/**
 * Test only: WEFT_CDC_FAILPOINT makes every shard's feed wait forever at the named point (GET
 * /cdc shows `failpoint`), so a crash test can kill -9 the process exactly there (decision 0041):
 *  - snapshot-staged: a snapshot is staged (marker written), its Kafka transaction not begun;
 *  - snapshot-chunk: a chunk of a snapshot committed, more to come (decision 0043);
 *  - snapshot-committed: its transaction committed, the pointer not switched yet.
 * And one that does not wait:
 *  - consumer-crash: the first log batch each feed consumes throws an error kafkajs does not
 *    restart a consumer from, so the feed must take its shard over again (watchConsumerCrashes).
 */
export const FAILPOINTS = ['', 'snapshot-staged', 'snapshot-chunk', 'snapshot-committed', 'consumer-crash'] as const;
export type CdcFailpoint = Exclude<(typeof FAILPOINTS)[number], ''>;

/** WEFT_CDC_FAILPOINT: empty (off, the default) or one of the points above. */
export function failpointSetting(): EnvVar<CdcFailpoint | ''> {
  return {
    expected: `empty (off) or one of ${FAILPOINTS.filter((f) => f !== '').join(', ')} (tests only)`,
    schema: z.enum(FAILPOINTS),
    default: '',
  };
}

/** Topic names allow [A-Za-z0-9._-]; empty: the change topics use WEFT_KAFKA_TOPIC_PREFIX. */
export function optionalTopicPrefix(): EnvVar<string> {
  return {
    expected: 'a topic prefix of 1-100 characters A-Z a-z 0-9 . _ - (empty: WEFT_KAFKA_TOPIC_PREFIX)',
    schema: z.union([z.literal(''), z.string().regex(/^[A-Za-z0-9._-]{1,100}$/)]),
    default: '',
  };
}

export interface SnapshotEnv {
  readonly WEFT_CDC_SNAPSHOT_MODE: SnapshotMode;
  readonly WEFT_CDC_SNAPSHOT_FROM: readonly string[];
  readonly WEFT_CDC_SNAPSHOT_START_MARGIN_MS: number;
}

/** The snapshot settings, or undefined for mode never; throws on a combination that cannot work. */
export function snapshotSettings(c: SnapshotEnv): CdcSnapshotSettings | undefined {
  const sources = c.WEFT_CDC_SNAPSHOT_FROM;
  if (c.WEFT_CDC_SNAPSHOT_MODE === 'never') {
    if (sources.length > 0) throw new Error('WEFT_CDC_SNAPSHOT_FROM is set but WEFT_CDC_SNAPSHOT_MODE=never never takes a snapshot; set WEFT_CDC_SNAPSHOT_MODE=initial or when_needed, or unset WEFT_CDC_SNAPSHOT_FROM');
    return undefined;
  }
  if (sources.length === 0) {
    throw new Error(`WEFT_CDC_SNAPSHOT_MODE=${c.WEFT_CDC_SNAPSHOT_MODE} needs WEFT_CDC_SNAPSHOT_FROM: the HTTP host:port of one or more nodes (they serve GET /shards/<id>/snapshot)`);
  }
  return { mode: c.WEFT_CDC_SNAPSHOT_MODE, sources: [...sources], startMarginMs: c.WEFT_CDC_SNAPSHOT_START_MARGIN_MS, retryMs: 2000 };
}
