/** Errors the Raft core and its storage use to talk to their callers. */

/** The requested index is older than the storage's first index (it was compacted away). */
export class CompactedError extends Error {
  constructor(index: number) {
    super(`raft: index ${index} is compacted`);
    this.name = 'CompactedError';
  }
}

/** The requested index is beyond the last index storage holds. */
export class UnavailableError extends Error {
  constructor(index: number) {
    super(`raft: index ${index} is unavailable`);
    this.name = 'UnavailableError';
  }
}

/** Storage cannot produce a snapshot right now; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  constructor() {
    super('raft: snapshot is temporarily unavailable');
    this.name = 'SnapshotTemporarilyUnavailableError';
  }
}

/** A snapshot older than the one storage already has. */
export class SnapshotOutOfDateError extends Error {
  constructor(index: number, current: number) {
    super(`raft: snapshot at ${index} is older than the current one at ${current}`);
    this.name = 'SnapshotOutOfDateError';
  }
}

/**
 * A proposal was not accepted: no known leader, a leadership transfer in progress, the
 * uncommitted-size limit was hit, or a configuration change was refused. The caller retries
 * (possibly elsewhere); the core never queues proposals it cannot place in the log.
 */
export class ProposalDroppedError extends Error {
  constructor(reason: string) {
    super(`raft: proposal dropped: ${reason}`);
    this.name = 'ProposalDroppedError';
  }
}

/** Misuse of the configuration-change machinery (e.g. entering joint twice). */
export class ConfChangeError extends Error {
  constructor(reason: string) {
    super(`raft: invalid configuration change: ${reason}`);
    this.name = 'ConfChangeError';
  }
}
