// The sending side of a shard snapshot: a consistent, framed stream of the replica's store.
//
// What is streamed: every key of the shard's store. The materializer is its only writer and
// everything it writes is a deterministic function of the log prefix: the MVCC data (versions,
// tombstones, intents), the hashed local keys (prepared-transaction records, resolved markers,
// schema markers) and the apply-state record (applied index, commit/closed timestamps, state
// hash). Nothing per-replica lives there (the Raft log and hard state are in the WAL), so the
// receiver ends up with a byte-identical store.
//
// Consistency: a RocksDB iterator reads an implicit snapshot taken when it is created. It is
// created in the same synchronous turn in which the materializer's applied index and state hash
// are read, and the materializer persists an entry and updates those fields in one synchronous
// call, so the trailer describes exactly the state the iterator sees, while applies go on.
//
// Which index: the stream carries the state as of when it is opened, which is at or after the
// Raft snapshot's index (the leader applied more since it compacted). That is safe: the state
// reflects only committed entries, and the receiving replica skips entries it already reflects.

import type { Snapshot } from '@weft/raft';
import { isOutcomeKey, type Materializer } from '@weft/materialize';
import { NS_DATA, NS_LOCAL, RocksBatch, localKey, type MvccStore, type RocksDb, type RocksIterator } from '@weft/storage';
import type { SnapshotSource } from '@weft/multiraft';
import { encodeHeader, encodeRecords, encodeTrailer } from './snapshot-format';

/** The whole key space of a shard store: local keys (0x01...) and MVCC data (0x02...). */
export const STORE_RANGE = { gte: Buffer.from([NS_LOCAL]), lt: Buffer.from([NS_DATA + 1]) } as const;

/** Records per frame are cut at about this many bytes (a frame holds at least one record). */
const DEFAULT_FRAME_BYTES = 256 << 10;

/** Set when the stream's store was released: the stream must not read any further. */
export interface StreamLease {
  released: boolean;
}

export interface StreamShardStateOptions {
  readonly frameBytes?: number;
  /**
   * Told about the iterator so its owner can close it if the store must go away mid-stream;
   * returns the untrack function. Once closed that way, the stream fails at its next chunk.
   */
  readonly onIterator?: (it: RocksIterator, lease: StreamLease) => () => void;
}

/**
 * The framed stream of `m`'s store (see snapshot-format.ts). Nothing is read until the first
 * chunk is requested; the view is fixed at that moment.
 */
export async function* streamShardState(m: Materializer, opts: StreamShardStateOptions = {}): AsyncGenerator<Buffer> {
  const frameBytes = opts.frameBytes ?? DEFAULT_FRAME_BYTES;
  // One synchronous block: iterator view and trailer values describe the same applied index.
  const it = m.store.db.iterator({ gte: STORE_RANGE.gte, lt: STORE_RANGE.lt, fillCache: false });
  const appliedIndex = m.appliedIndex;
  const stateHash = m.stateHash();
  const lastCommitTs = m.lastCommitTs;
  const lease: StreamLease = { released: false };
  const untrack = opts.onIterator?.(it, lease);
  const emit = function* (chunk: Buffer): Generator<Buffer> {
    yield chunk;
    if (lease.released) throw new Error(`shard ${m.shardId}: the state being streamed was replaced; stream abandoned`);
  };
  try {
    yield* emit(encodeHeader(m.shardId));
    let records = 0;
    let rows: Buffer[] = [];
    let bytes = 0;
    for (;;) {
      const { rows: got, finished } = it.next(256);
      for (let i = 0; i < got.length; i += 2) {
        // The outcome journal is this replica's bookkeeping for the Kafka mirror, unhashed and
        // unverifiable: the receiver's log starts after the snapshot, so it needs none of it.
        if (isOutcomeKey(got[i])) continue;
        rows.push(got[i], got[i + 1]);
        bytes += got[i].length + got[i + 1].length + 8;
        if (bytes >= frameBytes) {
          records += rows.length / 2;
          yield* emit(encodeRecords(rows));
          rows = [];
          bytes = 0;
        }
      }
      if (finished || got.length === 0) break;
    }
    if (rows.length > 0) {
      records += rows.length / 2;
      yield* emit(encodeRecords(rows));
    }
    yield encodeTrailer({ appliedIndex, stateHash, records, lastCommitTs });
  } finally {
    it.close();
    untrack?.();
  }
}

/**
 * Makes everything written to `db` so far durable: a sync write of a batch that puts and
 * deletes one scratch key (no visible change; an empty batch might not reach the WAL). Needed
 * before the Raft log is compacted past what the store reflects: the materializer writes
 * without fsync because the log is normally the durable copy.
 */
export function syncStore(db: RocksDb): void {
  const b = new RocksBatch();
  const k = localKey('snapshot/sync-barrier');
  b.put(k, Buffer.alloc(0));
  b.del(k);
  db.write(b, true);
}

/**
 * The SnapshotSource a node gives its MultiRaftHost: streams the current state of the group's
 * replica. `release(store)` closes the iterators of streams reading a store that is about to be
 * closed (the state was replaced): those streams fail, and the leader retries later.
 */
export class ShardSnapshotSource implements SnapshotSource {
  private readonly open_ = new Map<RocksIterator, { store: MvccStore; lease: StreamLease }>();
  readonly stats = { streamsOpened: 0 };

  constructor(
    /** The materializer of a hosted group, or undefined for a group this node does not host. */
    private readonly state: (groupId: number) => Materializer | undefined,
    private readonly opts: { readonly frameBytes?: number } = {},
  ) {}

  open(groupId: number, snapshot: Snapshot): AsyncIterable<Uint8Array> {
    return this.stream(groupId, snapshot.metadata.index);
  }

  /**
   * The group's current state, in the same format, outside Raft (a Kafka-fed materializer
   * bootstrapping from it): whatever index the replica has applied when the first chunk is
   * asked for. Tracked like a Raft stream, so a state replaced mid-stream fails it cleanly.
   */
  current(groupId: number): AsyncIterable<Uint8Array> {
    return this.stream(groupId, 0);
  }

  private async *stream(groupId: number, snapshotIndex: number): AsyncGenerator<Buffer> {
    // Looked up when the first chunk is asked for, in the same turn the iterator is created, so
    // a state replaced since the Raft core asked for the snapshot is never read.
    const m = this.state(groupId);
    if (!m) throw new Error(`snapshot of group ${groupId} requested, but this node does not host it`);
    if (m.appliedIndex < snapshotIndex) {
      throw new Error(`shard ${m.shardId}: state at applied index ${m.appliedIndex} is behind the snapshot's index ${snapshotIndex}`);
    }
    this.stats.streamsOpened++;
    yield* streamShardState(m, {
      frameBytes: this.opts.frameBytes,
      onIterator: (it, lease) => {
        this.open_.set(it, { store: m.store, lease });
        return () => this.open_.delete(it);
      },
    });
  }

  /** Closes the iterators of open streams over `store`; each fails when asked for its next chunk. */
  release(store: MvccStore): void {
    for (const [it, s] of this.open_) {
      if (s.store !== store) continue;
      s.lease.released = true;
      it.close();
      this.open_.delete(it);
    }
  }
}
