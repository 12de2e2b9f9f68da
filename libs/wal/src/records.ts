import type { Entry, HardState, Snapshot } from '../../raft/src/types';

/** What a caller may append. Every record belongs to one Raft group. */
export type WalRecord =
  /** A run of consecutive entries; an index already in the log truncates the suffix there. */
  | { readonly type: 'entries'; readonly group: number; readonly entries: readonly Entry[] }
  | { readonly type: 'hardState'; readonly group: number; readonly hardState: HardState }
  /**
   * A snapshot marker. If the log holds the snapshot's (index, term) the log is kept (a
   * snapshot taken locally); otherwise the whole log is replaced (one installed from a leader).
   * `data` is stored too, so keep it small: a reference to a checkpoint, not the checkpoint.
   */
  | { readonly type: 'snapshot'; readonly group: number; readonly snapshot: Snapshot }
  /** Entries at or below `index` may be discarded (the application decides when). */
  | { readonly type: 'compact'; readonly group: number; readonly index: number };

/** Numeric record kinds as they appear on disk. Values are part of the format. */
export enum RecordKind {
  Entries = 1,
  HardState = 2,
  Snapshot = 3,
  Compact = 4,
  /** First record of every segment. */
  SegmentHeader = 0x10,
  /** Closes the per-group checkpoint written at the start of every segment. */
  CheckpointEnd = 0x11,
  /**
   * Several group records in one frame under one CRC: everything one append() call wrote
   * (e.g. a Ready's snapshot, entries and hard state) survives a crash whole or not at all.
   */
  Batch = 0x12,
}

/**
 * A record as stored: the decisions made at append time (does the snapshot reset the log,
 * what term does the compaction point have) are written down, so replay never has to re-derive
 * them from entries that may since have been deleted with their segment.
 */
export type LogRecord =
  | { readonly kind: RecordKind.Entries; readonly group: number; readonly entries: readonly Entry[] }
  | { readonly kind: RecordKind.HardState; readonly group: number; readonly hardState: HardState }
  | {
      readonly kind: RecordKind.Snapshot;
      readonly group: number;
      readonly snapshot: Snapshot;
      readonly reset: boolean;
    }
  | { readonly kind: RecordKind.Compact; readonly group: number; readonly index: number; readonly term: number }
  | { readonly kind: RecordKind.SegmentHeader; readonly seq: number; readonly prevEnd: number }
  | { readonly kind: RecordKind.CheckpointEnd; readonly records: number };

export type GroupRecord = Extract<LogRecord, { group: number }>;
