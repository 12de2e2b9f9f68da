// Fetches a shard snapshot from a node (GET /shards/<id>/snapshot, the stream Raft replicas send
// each other) and installs it as this materializer's state of the shard, with the replicas' own
// sink: staged in a fresh directory, every frame checksummed, the state hash recomputed from the
// data and compared with the trailer's, then made live by the pointer file (ShardStateDir). So a
// materializer trusts a snapshot exactly as much as a Raft follower does.

import type { MaterializerOptions } from '@weft/materialize';
import type { SnapshotMetadata } from '@weft/raft';
import { ShardSnapshotSink, type ShardStateDir, type StagedShardState } from '@weft/replica';

export interface FetchShardSnapshotOptions {
  /** Nodes' HTTP addresses (host:port), tried in order until one serves an acceptable snapshot. */
  readonly sources: readonly string[];
  readonly shardId: number;
  readonly dirs: ShardStateDir;
  /** The snapshot must be past this index (the current state's, or the end of a gap). */
  readonly mustExceed: number;
  /** Per source: connecting plus the whole transfer. */
  readonly timeoutMs?: number;
  /** How the installed state's materializer is opened (e.g. with the scan filter compiler). */
  readonly materializer?: MaterializerOptions;
  /**
   * true: the verified state is staged in its own directory but NOT made live (the pointer file
   * is not switched); the caller switches to it (`dirs.switchTo(state.dir)`) or removes it.
   */
  readonly stageOnly?: boolean;
}

export interface FetchedSnapshot {
  readonly state: StagedShardState;
  /** The source that served it. */
  readonly source: string;
}

/** No source served an acceptable snapshot; `message` lists why for each. */
export class SnapshotFetchError extends Error {
  override readonly name = 'SnapshotFetchError';
}

/** Not a Raft snapshot: the sink checks the state against this index only (>= 0 always holds). */
const NO_RAFT_METADATA: SnapshotMetadata = { index: 0, term: 0, confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } };

export function snapshotUrl(source: string, shardId: number): string {
  const base = /^https?:\/\//.test(source) ? source : `http://${source}`;
  return `${base.replace(/\/+$/, '')}/shards/${shardId}/snapshot`;
}

/**
 * Installs the first acceptable snapshot into `dirs` (switching its pointer file unless
 * `stageOnly`) and returns
 * the opened state; the caller serves it and retires its previous store. Throws
 * SnapshotFetchError if none was: the previous state stays live.
 */
export async function fetchShardSnapshot(o: FetchShardSnapshotOptions): Promise<FetchedSnapshot> {
  const failures: string[] = [];
  for (const source of o.sources) {
    let installed: StagedShardState | undefined;
    const sink = new ShardSnapshotSink({ shardId: o.shardId, dirs: o.dirs, appliedIndex: () => o.mustExceed, install: (st) => (installed = st), switchOnInstall: o.stageOnly !== true, ...(o.materializer ? { materializer: o.materializer } : {}) });
    const writer = sink.begin(o.shardId, NO_RAFT_METADATA);
    try {
      const res = await fetch(snapshotUrl(source, o.shardId), { signal: AbortSignal.timeout(o.timeoutMs ?? 120_000) });
      if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await writer.write(value);
      }
      await writer.finish();
      if (installed === undefined) throw new Error(`its state is not past index ${o.mustExceed}`);
      return { state: installed, source };
    } catch (e) {
      writer.abort(e instanceof Error ? e : new Error(String(e)));
      failures.push(`${source}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await sink.settled();
    }
  }
  throw new SnapshotFetchError(`shard ${o.shardId}: no snapshot past index ${o.mustExceed} from ${failures.join('; ')}`);
}
