// Fetching the shard state a CDC snapshot is taken from: a node's snapshot of the shard
// (GET /shards/<id>/snapshot), installed with the Raft replicas' own sink into this service's
// replica directory — the machinery of the materializer's snapshot start (decision 0036),
// shared through @weft/mirror. Retries while no source serves one.
import { fetchShardSnapshot, type FetchedSnapshot } from '@weft/mirror';
import type { ShardStateDir } from '@weft/replica';
import type { CdcSnapshotSettings } from './settings';

/** The last snapshot a shard's stream was started from (GET /cdc). */
export interface ShardSnapshotInfo {
  /** Applied index I of the snapshot: the stream continues with I+1. */
  readonly index: number;
  /** Snapshot timestamp (µs, decimal): rows and descriptors are read as of it. */
  readonly ts: string;
  readonly source: string;
  /** Why: no published progress, or the gap record it got past. */
  readonly reason: string;
  /** Log-topic offset streaming (re)started from. */
  readonly startOffset: string;
  readonly reads: number;
  readonly deletes: number;
  readonly tables: number;
  /** From the first fetch attempt to the committed transaction and the offset found. */
  readonly ms: number;
  readonly at: string;
  /** Kafka transactions its events took (chunks, decision 0043). */
  readonly transactions: number;
  /** Events committed by a run before a restart, not published again (0: none). */
  readonly resumedAfter: number;
}

export interface TakeSnapshotOptions {
  readonly settings: CdcSnapshotSettings;
  readonly shardId: number;
  readonly dirs: ShardStateDir;
  /** The snapshot must be past this index (0, or the last index of a gap). */
  readonly mustExceed: number;
  readonly stopping: () => boolean;
  readonly onRetry: (why: string) => void;
}

/**
 * Stages a verified snapshot in its own directory WITHOUT making it live (the pointer file is
 * not switched: the caller does so once the snapshot's Kafka transaction committed, decision
 * 0041); undefined if stopping first.
 */
export async function takeSnapshot(o: TakeSnapshotOptions): Promise<FetchedSnapshot | undefined> {
  for (;;) {
    if (o.stopping()) return undefined;
    try {
      const got = await fetchShardSnapshot({ sources: o.settings.sources, shardId: o.shardId, dirs: o.dirs, mustExceed: o.mustExceed, stageOnly: true });
      if (o.stopping()) {
        await got.state.store.close();
        await o.dirs.remove(got.state.dir);
        return undefined;
      }
      return got;
    } catch (e) {
      o.onRetry(`fetching a snapshot: ${e instanceof Error ? e.message : String(e)}`);
      await new Promise((r) => setTimeout(r, o.settings.retryMs));
    }
  }
}
