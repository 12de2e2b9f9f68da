import { CompactedError, SnapshotOutOfDateError, UnavailableError } from './errors';
import { ConfState, Entry, EntryType, HardState, Snapshot } from './types';
import { EMPTY_CONF_STATE, EMPTY_HARD_STATE, limitSize } from './util';

/**
 * The stable (persisted) part of a replica's log, as the core reads it. The core never writes
 * through this interface: the application persists what Ready hands it, then the core sees it
 * here. Implemented in memory below and by the WAL-backed storage.
 */
export interface RaftStorage {
  /** The persisted hard state and membership, read once when a RawNode starts. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in [lo, hi), at most maxBytes in total (but at least one if any exist).
   * Throws CompactedError if lo <= the snapshot index, UnavailableError if hi > lastIndex+1.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /**
   * Term of entry i, for i in [firstIndex-1, lastIndex] (firstIndex-1 is the snapshot's
   * index, whose term is retained so log matching still works across compaction).
   */
  term(i: number): number;
  /** Index of the first entry still available (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot (may throw SnapshotTemporarilyUnavailableError). */
  snapshot(): Snapshot;
}

/**
 * In-memory storage for tests, the simulator, and as a model for durable implementations.
 * ents[0] is a dummy entry carrying the snapshot's index and term.
 */
export class MemoryStorage implements RaftStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = {
    metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
    data: new Uint8Array(0),
  };
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }];

  /** Convenience for bootstrapping a fresh group: a membership with these voters, no log. */
  static withVoters(voters: readonly number[], learners: readonly number[] = []): MemoryStorage {
    const s = new MemoryStorage();
    s.snap = {
      metadata: {
        index: 0,
        term: 0,
        confState: { ...EMPTY_CONF_STATE, voters: [...voters], learners: [...learners] },
      },
      data: new Uint8Array(0),
    };
    return s;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    // Only the dummy entry left: nothing to return.
    if (this.ents.length === 1) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) throw new CompactedError(i);
    if (i - offset >= this.ents.length) throw new UnavailableError(i);
    return this.ents[i - offset].term;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot (a follower installing one from its leader). */
  applySnapshot(snap: Snapshot): void {
    const cur = this.snap.metadata.index;
    if (snap.metadata.index < cur) throw new SnapshotOutOfDateError(snap.metadata.index, cur);
    if (snap.metadata.index === cur && cur !== 0) return;
    this.snap = snap;
    this.ents = [
      { term: snap.metadata.term, index: snap.metadata.index, type: EntryType.Normal, data: new Uint8Array(0) },
    ];
  }

  /**
   * Records a snapshot of the applied state at index i (which must be <= lastIndex). Does not
   * discard entries: compaction is a separate decision the application makes (Weft holds it
   * back until entries are mirrored to Kafka).
   */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new SnapshotOutOfDateError(i, this.snap.metadata.index);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    const offset = this.ents[0].index;
    this.snap = {
      metadata: { index: i, term: this.ents[i - offset].term, confState: cs ?? this.snap.metadata.confState },
      data,
    };
    return this.snap;
  }

  /** Discards entries before compactIndex; the entry at compactIndex becomes the dummy. */
  compact(compactIndex: number): void {
    const offset = this.ents[0].index;
    if (compactIndex <= offset) throw new CompactedError(compactIndex);
    if (compactIndex > this.lastIndex()) throw new UnavailableError(compactIndex);
    const i = compactIndex - offset;
    const head = this.ents[i];
    const dummy: Entry = { term: head.term, index: head.index, type: EntryType.Normal, data: new Uint8Array(0) };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends entries, truncating any conflicting suffix (entries at or after the first new
   * index are replaced). Entries already compacted are ignored.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return;
    let ents = entries;
    if (first > ents[0].index) ents = ents.slice(first - ents[0].index);
    const offset = ents[0].index - this.ents[0].index;
    if (offset > this.ents.length) {
      throw new Error(`raft: missing log entry [last: ${this.lastIndex()}, append at: ${ents[0].index}]`);
    }
    this.ents = this.ents.slice(0, offset).concat(ents);
  }
}
