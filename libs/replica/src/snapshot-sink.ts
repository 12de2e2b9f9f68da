// The receiving side of a shard snapshot: stage the stream in a fresh RocksDB directory, verify
// it, and only then make it the replica's state.
//
// Acceptance, in order (any failure rejects the stream; the staged directory is deleted and the
// replica keeps its state; the leader's host retries with a new stream later):
//   1. every frame's checksum, the header's shard id, keys in strictly increasing order inside
//      the store's key space, and the trailer's record count;
//   2. the staged store, opened as a materializer, is at the trailer's applied index and
//      commit timestamp, at or after the Raft snapshot's index, and its stored state hash equals
//      both the trailer's and a hash recomputed from a full scan of what was written.
// Then, in one synchronous turn: if the staged state is ahead of the replica's, the pointer
// file is switched (durably) and `install` swaps the in-memory state; otherwise (a stale or
// duplicate stream) the staged copy is dropped. finish() returns before the Raft core records
// the snapshot in its WAL, so a crash can never leave a log that starts after the state.

import type { SnapshotMetadata } from '@weft/raft';
import { Materializer, type MaterializerOptions } from '@weft/materialize';
import { MvccStore, RocksBatch } from '@weft/storage';
import type { SnapshotSink, SnapshotWriter } from '@weft/multiraft';
import { SnapshotDecoder, SnapshotFormatError, encodeSnapshotRef, type SnapshotTrailer } from './snapshot-format';
import type { ShardStateDir } from './snapshot-dirs';
import { STORE_RANGE, syncStore } from './snapshot-source';

/** A verified snapshot state, ready to serve. */
export interface StagedShardState {
  readonly dir: string;
  readonly store: MvccStore;
  readonly materializer: Materializer;
}

/** The snapshot stream was received but its content is not acceptable. */
export class SnapshotRejectedError extends Error {
  override readonly name = 'SnapshotRejectedError';
}

export interface ShardSnapshotSinkOptions {
  readonly shardId: number;
  readonly dirs: ShardStateDir;
  /** Applied index of the replica's current state. */
  readonly appliedIndex: () => number;
  /**
   * Called synchronously once the staged state is verified and live on disk: serve it from now
   * on (closing the previous store is the caller's job).
   */
  readonly install: (state: StagedShardState) => void;
  /** Told about every stream that was rejected or aborted (logging). */
  readonly onFailed?: (err: Error) => void;
  /** How the installed state's materializer is opened (as the replica's own). */
  readonly materializer?: MaterializerOptions;
  /**
   * false: a verified state is handed to `install` without switching the pointer file; the
   * caller makes it live later (`dirs.switchTo(state.dir)`) or removes it. The CDC service
   * does, to switch only after the snapshot's Kafka transaction has committed. Default true.
   */
  readonly switchOnInstall?: boolean;
}

export interface ShardSnapshotSinkStats {
  begun: number;
  installed: number;
  /** Verified but not newer than the replica's state: dropped. */
  superseded: number;
  rejected: number;
  aborted: number;
  recordsWritten: number;
}

export class ShardSnapshotSink implements SnapshotSink {
  readonly stats: ShardSnapshotSinkStats = { begun: 0, installed: 0, superseded: 0, rejected: 0, aborted: 0, recordsWritten: 0 };

  private readonly cleanups = new Set<Promise<void>>();

  constructor(private readonly opts: ShardSnapshotSinkOptions) {}

  begin(groupId: number, metadata: SnapshotMetadata): SnapshotWriter {
    if (groupId !== this.opts.shardId) throw new Error(`snapshot for group ${groupId}, but this sink holds shard ${this.opts.shardId}`);
    this.stats.begun++;
    return new StagedWriter(this.opts, metadata, this.stats, (p) => {
      this.cleanups.add(p);
      void p.finally(() => this.cleanups.delete(p));
    });
  }

  /** Resolves once every dropped staging directory is closed and deleted (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.cleanups.size > 0) await Promise.all(this.cleanups);
  }
}

class StagedWriter implements SnapshotWriter {
  private readonly dir: string;
  private readonly opening: Promise<MvccStore>;
  private store: MvccStore | undefined;
  private readonly decoder = new SnapshotDecoder();
  private readonly batch = new RocksBatch();
  private lastKey: Buffer = STORE_RANGE.gte;
  private records = 0;
  private trailer: SnapshotTrailer | undefined;
  private state: 'writing' | 'done' | 'failed' = 'writing';

  constructor(
    private readonly opts: ShardSnapshotSinkOptions,
    private readonly metadata: SnapshotMetadata,
    private readonly stats: ShardSnapshotSinkStats,
    private readonly track: (cleanup: Promise<void>) => void,
  ) {
    this.dir = opts.dirs.createStaging();
    this.opening = MvccStore.open(this.dir);
    // Errors surface through write()/finish(); this only keeps an early failure from being unhandled.
    this.opening.catch(() => undefined);
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'writing') throw new Error('snapshot writer is no longer writing');
    const store = (this.store ??= await this.opening);
    this.ensureWriting();
    try {
      for (const f of this.decoder.push(chunk)) {
        if (f.kind === 'header') {
          if (f.header.shardId !== this.opts.shardId) throw new SnapshotRejectedError(`snapshot is of shard ${f.header.shardId}, expected shard ${this.opts.shardId}`);
        } else if (f.kind === 'records') {
          this.writeRows(store, f.rows);
        } else {
          this.trailer = f.trailer;
        }
      }
    } catch (e) {
      throw this.reject(e);
    }
  }

  private writeRows(store: MvccStore, rows: readonly Buffer[]): void {
    this.batch.clear();
    for (let i = 0; i < rows.length; i += 2) {
      const k = rows[i];
      // Strictly increasing keys inside the store's key space: a duplicated, reordered or
      // foreign record cannot slip in even with valid checksums.
      if (k.compare(this.lastKey) <= 0 || k.compare(STORE_RANGE.lt) >= 0) {
        throw new SnapshotRejectedError(`record ${this.records + i / 2}: key ${k.toString('hex')} is out of order or outside the shard's key space`);
      }
      this.lastKey = k;
      this.batch.put(k, rows[i + 1]);
    }
    store.db.write(this.batch, false);
    this.records += rows.length / 2;
    this.stats.recordsWritten += rows.length / 2;
  }

  async finish(): Promise<Uint8Array> {
    if (this.state !== 'writing') throw new Error('snapshot writer is no longer writing');
    let m: Materializer;
    let store: MvccStore;
    try {
      store = this.store ?? (await this.opening);
      this.store = store;
      this.ensureWriting();
      this.decoder.end();
      const t = this.trailer as SnapshotTrailer;
      if (t.records !== this.records) throw new SnapshotRejectedError(`trailer counts ${t.records} records, ${this.records} arrived`);
      syncStore(store.db);
      m = await Materializer.open(store, this.opts.shardId, this.opts.materializer).catch((e: unknown) => {
        throw new SnapshotRejectedError(`staged state is not a store of shard ${this.opts.shardId}: ${e instanceof Error ? e.message : String(e)}`);
      });
      // The host may have aborted the stream (timeout, host closing) while we awaited.
      this.ensureWriting();
      this.verify(m, t);
    } catch (e) {
      throw this.reject(e);
    }
    // From here to the end: one synchronous turn (no apply can run between check and switch).
    if (m.appliedIndex <= this.opts.appliedIndex()) {
      this.state = 'done';
      this.stats.superseded++;
      this.track(this.discard());
      return encodeSnapshotRef(this.opts.appliedIndex());
    }
    if (this.opts.switchOnInstall !== false) this.opts.dirs.switchTo(this.dir);
    this.state = 'done';
    this.stats.installed++;
    this.opts.install({ dir: this.dir, store, materializer: m });
    return encodeSnapshotRef(m.appliedIndex);
  }

  private ensureWriting(): void {
    if (this.state !== 'writing') throw new Error('snapshot stream was aborted');
  }

  private verify(m: Materializer, t: SnapshotTrailer): void {
    const shard = this.opts.shardId;
    if (m.appliedIndex !== t.appliedIndex) {
      throw new SnapshotRejectedError(`shard ${shard}: staged state is at applied index ${m.appliedIndex}, the trailer says ${t.appliedIndex}`);
    }
    if (m.appliedIndex < this.metadata.index) {
      throw new SnapshotRejectedError(`shard ${shard}: staged state at applied index ${m.appliedIndex} is older than the Raft snapshot's index ${this.metadata.index}`);
    }
    if (m.lastCommitTs !== t.lastCommitTs) {
      throw new SnapshotRejectedError(`shard ${shard}: staged state's last commit ts ${m.lastCommitTs} differs from the trailer's ${t.lastCommitTs}`);
    }
    if (!m.stateHash().equals(t.stateHash)) {
      throw new SnapshotRejectedError(`shard ${shard}: staged state hash ${m.stateHash().toString('hex')} differs from the trailer's ${t.stateHash.toString('hex')}`);
    }
    const v = m.verifyStateHash();
    if (!v.ok) {
      throw new SnapshotRejectedError(`shard ${shard}: state hash recomputed from the staged data is ${v.recomputed.toString('hex')}, expected ${v.stored.toString('hex')}`);
    }
  }

  abort(reason: Error): void {
    if (this.state !== 'writing') return;
    this.state = 'failed';
    this.stats.aborted++;
    this.opts.onFailed?.(reason);
    this.track(this.discard());
  }

  /** Counts content problems; the host then aborts the stream (cleanup happens there). */
  private reject(e: unknown): Error {
    if (e instanceof SnapshotFormatError || e instanceof SnapshotRejectedError) this.stats.rejected++;
    return e instanceof Error ? e : new Error(String(e));
  }

  private async discard(): Promise<void> {
    try {
      const store = await this.opening;
      await store.close();
    } catch {
      // A store that never opened has nothing to close.
    }
    try {
      await this.opts.dirs.remove(this.dir);
    } catch {
      // Left for the next start's cleanup().
    }
  }
}
