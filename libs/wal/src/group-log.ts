import { CompactedError, SnapshotOutOfDateError, UnavailableError } from '../../raft/src/errors';
import type { RaftStorage } from '../../raft/src/storage';
import type { ConfState, Entry, HardState, Snapshot } from '../../raft/src/types';
import { EMPTY_HARD_STATE, emptySnapshot, limitSize } from '../../raft/src/util';
import { WalInvalidRecordError } from './errors';
import { GroupRecord, RecordKind, WalRecord } from './records';

/** Term of a compaction point whose entry lived in a deleted segment (replay only). */
const UNKNOWN_TERM = -1;

export type Undo = () => void;

/** Where replay first met entries whose predecessors are missing (for the error message). */
export interface HoleSite {
  readonly file: string;
  readonly offset: number;
  readonly index: number;
}

/** The read side of one group's durable state: Raft's storage interface plus WAL extras. */
export interface GroupStorage extends RaftStorage {
  readonly group: number;
  /** Latest hard state appended (empty if none). */
  hardState(): HardState;
  /** Entries at or below this index were compacted (or replaced by a snapshot). */
  compactIndex(): number;
}

/**
 * One group's log in memory, rebuilt by replay and kept current by appends. The same `apply`
 * runs in both paths, so a recovered group is exactly the group that was written. Validation
 * (`decide`) only runs on append; replay trusts the decisions recorded in the log.
 */
export class GroupLog implements GroupStorage {
  /** ents[k].index === compactIdx + 1 + k. */
  private ents: Entry[] = [];
  private compactIdx = 0;
  private compactTerm = 0;
  /** The real compaction point; below compactIdx only while replay has a hole open. */
  private floor = 0;
  private hard: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = emptySnapshot();
  /** Set by replay when entries start above lastIndex+1; a later compaction must cover it. */
  hole: HoleSite | undefined;

  constructor(readonly group: number) {}

  // ---- RaftStorage ----

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.snap.metadata.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.compactIdx) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    if (hi <= lo) return [];
    const base = this.compactIdx + 1;
    return limitSize(this.ents.slice(lo - base, hi - base), maxBytes);
  }

  term(i: number): number {
    if (i < this.compactIdx) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    if (i === this.compactIdx) return this.compactTerm;
    return this.ents[i - this.compactIdx - 1].term;
  }

  firstIndex(): number {
    return this.compactIdx + 1;
  }

  lastIndex(): number {
    return this.compactIdx + this.ents.length;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  hardState(): HardState {
    return this.hard;
  }

  compactIndex(): number {
    return this.compactIdx;
  }

  /** The compaction term, for checkpoints. */
  compactionTerm(): number {
    return this.compactTerm;
  }

  /**
   * Validates an appended record against the current state and returns what will be stored,
   * or undefined when it changes nothing (entries already compacted, an old compaction point).
   */
  decide(rec: WalRecord): GroupRecord | undefined {
    const g = this.group;
    switch (rec.type) {
      case 'entries': {
        const ents = rec.entries;
        if (ents.length === 0) return undefined;
        for (let k = 0; k < ents.length; k++) {
          const e = ents[k];
          if (!Number.isSafeInteger(e.index) || e.index < 1) throw new WalInvalidRecordError(g, `bad index ${e.index}`);
          if (k > 0 && e.index !== ents[k - 1].index + 1) {
            throw new WalInvalidRecordError(g, `entries not consecutive at ${ents[k - 1].index} -> ${e.index}`);
          }
          if (!Number.isSafeInteger(e.term) || e.term < 0) throw new WalInvalidRecordError(g, `bad term ${e.term}`);
        }
        const last = ents[ents.length - 1].index;
        if (last <= this.compactIdx) return undefined;
        const kept = ents[0].index <= this.compactIdx ? ents.slice(this.compactIdx + 1 - ents[0].index) : ents;
        if (kept[0].index > this.lastIndex() + 1) {
          throw new WalInvalidRecordError(g, `gap: last index ${this.lastIndex()}, append at ${kept[0].index}`);
        }
        return { kind: RecordKind.Entries, group: g, entries: kept };
      }
      case 'hardState':
        return { kind: RecordKind.HardState, group: g, hardState: rec.hardState };
      case 'snapshot': {
        const { index, term } = rec.snapshot.metadata;
        const cur = this.snap.metadata.index;
        if (index < cur) throw new SnapshotOutOfDateError(index, cur);
        if (index === cur && cur !== 0) return undefined;
        if (index < this.compactIdx) throw new SnapshotOutOfDateError(index, this.compactIdx);
        const matches = index <= this.lastIndex() && this.term(index) === term;
        return { kind: RecordKind.Snapshot, group: g, snapshot: rec.snapshot, reset: !matches };
      }
      case 'compact': {
        if (rec.index <= this.compactIdx) return undefined;
        if (rec.index > this.lastIndex()) throw new UnavailableError(rec.index);
        return { kind: RecordKind.Compact, group: g, index: rec.index, term: this.term(rec.index) };
      }
    }
  }

  /**
   * Applies a stored record. The same code serves appends and replay. Replay is the harder
   * case: segments before the first surviving one are gone, so a group's first surviving
   * entries may start above lastIndex+1. The log then enters "hole" mode: indices in
   * (floor, compactIdx] are unknown, entries above are known. Records that reach into the
   * unknown zone move its upper end down (their truncation is replayed exactly); a later
   * compaction point at or above the zone closes it. `floor` is always the real compaction
   * point as the original writer saw it (checkpoints restate it at every segment start), so
   * records the writer ignored are ignored again. A hole still open at the end of replay
   * means acknowledged entries are missing: recovery refuses.
   * Returns an undo so a multi-record append that fails validation part-way leaves no trace.
   */
  apply(rec: GroupRecord, site?: { file: string; offset: number }): Undo {
    const prev = {
      ents: this.ents,
      compactIdx: this.compactIdx,
      compactTerm: this.compactTerm,
      floor: this.floor,
      hole: this.hole,
    };
    const restoreLog: Undo = () => {
      this.ents = prev.ents;
      this.compactIdx = prev.compactIdx;
      this.compactTerm = prev.compactTerm;
      this.floor = prev.floor;
      this.hole = prev.hole;
    };
    switch (rec.kind) {
      case RecordKind.Entries: {
        let ents = rec.entries;
        if (ents.length === 0 || ents[ents.length - 1].index <= this.floor) return () => {};
        if (ents[0].index <= this.floor) ents = ents.slice(this.floor + 1 - ents[0].index);
        const start = ents[0].index;
        const inUnknownZone = this.hole !== undefined && start <= this.compactIdx;
        if (inUnknownZone || start > this.lastIndex() + 1) {
          this.ents = [];
          this.compactIdx = start - 1;
          this.compactTerm = UNKNOWN_TERM;
          this.hole = { file: site?.file ?? '?', offset: site?.offset ?? 0, index: start };
          for (const e of ents) this.ents.push(e);
          return restoreLog;
        }
        // In place: the common case is a pure append, so the undo only remembers the cut
        // point and any overwritten suffix instead of copying the whole log.
        const cut = start - this.compactIdx - 1;
        const removed = cut < this.ents.length ? this.ents.splice(cut) : [];
        for (const e of ents) this.ents.push(e);
        return () => {
          this.ents.length = cut;
          for (const e of removed) this.ents.push(e);
        };
      }
      case RecordKind.HardState: {
        const old = this.hard;
        this.hard = rec.hardState;
        return () => {
          this.hard = old;
        };
      }
      case RecordKind.Snapshot: {
        const old = this.snap;
        this.snap = rec.snapshot;
        if (rec.reset) {
          const { index, term } = rec.snapshot.metadata;
          this.ents = [];
          this.compactIdx = index;
          this.compactTerm = term;
          this.floor = index;
          this.hole = undefined;
        }
        return () => {
          this.snap = old;
          restoreLog();
        };
      }
      case RecordKind.Compact: {
        if (rec.index < this.floor || (rec.index === this.floor && this.hole === undefined)) return () => {};
        this.floor = rec.index;
        if (rec.index < this.compactIdx) return restoreLog; // still inside the unknown zone
        this.ents = rec.index >= this.lastIndex() ? [] : this.ents.slice(rec.index - this.compactIdx);
        this.compactIdx = rec.index;
        this.compactTerm = rec.term;
        this.hole = undefined;
        return restoreLog;
      }
    }
  }
}
