// A CDC snapshot staged but not live yet (decision 0041). A snapshot's state is installed into
// its own directory WITHOUT switching the replica's pointer file; this marker names it, then
// the snapshot's events and progress = its index commit in one Kafka transaction, and only then
// the pointer is switched and the marker deleted. The Kafka commit is the decision point, so a
// crash anywhere leaves a state the next start can settle from the published progress alone:
//
//   no marker                      the live state is the one to continue from (nothing staged,
//                                  or the switch completed)
//   marker, progress < its index   the transaction never committed: nothing of the snapshot is
//                                  visible; the staged directory is dropped and the replaced
//                                  state (untouched, still live) is where the stream resumes —
//                                  at a gap it re-snapshots, so the `d` events are computed
//                                  against the state its consumers were told about
//   marker, progress >= its index  committed: switch the pointer to the staged directory (again,
//                                  if the crash followed the switch) and delete the marker
//
// File: <root>/shard-<id>.staged, one line of JSON {dir, index}, written like the pointer
// (temporary name, fsync, rename, fsync of the directory).
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface StagedSnapshotMarker {
  /** Base name of the staged state directory (shard-<id>.snap-XXXXXX) under the data directory. */
  readonly dir: string;
  /** Applied index of the staged state: the progress its Kafka transaction commits. */
  readonly index: number;
}

export class StagedSnapshotError extends Error {
  override readonly name = 'StagedSnapshotError';
}

export class StagedSnapshotFile {
  private readonly file: string;

  constructor(
    private readonly root: string,
    private readonly shardId: number,
  ) {
    this.file = path.join(root, `shard-${shardId}.staged`);
  }

  read(): StagedSnapshotMarker | undefined {
    if (!existsSync(this.file)) return undefined;
    const text = readFileSync(this.file, 'utf8');
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new StagedSnapshotError(`${this.file} is not JSON: ${JSON.stringify(text.slice(0, 100))}`);
    }
    const m = v as Partial<StagedSnapshotMarker>;
    if (typeof m.dir !== 'string' || !new RegExp(`^shard-${this.shardId}\\.snap-[A-Za-z0-9_-]+$`).test(m.dir) || typeof m.index !== 'number' || !Number.isSafeInteger(m.index) || m.index < 1) {
      throw new StagedSnapshotError(`${this.file} does not name a staged state of shard ${this.shardId}: ${JSON.stringify(text.slice(0, 200))}`);
    }
    return { dir: m.dir, index: m.index };
  }

  /** Absolute path of a marker's directory. */
  dirOf(m: StagedSnapshotMarker): string {
    return path.join(this.root, m.dir);
  }

  /** Records `m` durably before returning. */
  write(m: StagedSnapshotMarker): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${JSON.stringify({ dir: m.dir, index: m.index })}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.syncRoot();
  }

  /** Deletes the marker durably (its directory is the caller's business). */
  clear(): void {
    if (!existsSync(this.file)) return;
    rmSync(this.file, { force: true });
    this.syncRoot();
  }

  private syncRoot(): void {
    const dfd = openSync(this.root, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }
}
