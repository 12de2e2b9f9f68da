/**
 * A record that cannot be trusted somewhere other than the torn tail of the last segment.
 * Recovery refuses to continue: silently dropping such a record could drop acknowledged
 * writes, so a human must look. The message names the file and byte offset.
 */
export class WalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corruption in ${file} at byte offset ${offset}: ${reason}`);
    this.name = 'WalCorruptionError';
  }
}

/**
 * The WAL hit an I/O error (a failed write or fdatasync) and stopped accepting appends.
 * After a failed fdatasync the kernel may already have dropped the dirty pages, so retrying
 * could report success for data that is gone; the only safe path is to restart and recover.
 */
export class WalFailedError extends Error {
  constructor(override readonly cause: unknown) {
    super(`wal: stopped after an I/O error: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'WalFailedError';
  }
}

export class WalClosedError extends Error {
  constructor() {
    super('wal: closed');
    this.name = 'WalClosedError';
  }
}

/** A record the caller asked to append breaks the log's rules (gap, bad index, ...). */
export class WalInvalidRecordError extends Error {
  constructor(group: number, reason: string) {
    super(`wal: invalid record for group ${group}: ${reason}`);
    this.name = 'WalInvalidRecordError';
  }
}
