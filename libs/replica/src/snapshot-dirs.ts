// Where a shard replica's RocksDB state lives on disk, and how an installed snapshot replaces it.
//
//   <root>/shard-<id>/               the first state directory (a replica that never installed one)
//   <root>/shard-<id>.snap-XXXXXX/   a snapshot's state, written while staged, live once switched to
//   <root>/shard-<id>.current        names the live directory (absent: shard-<id>)
//
// A RocksDB directory cannot be renamed while open, so a snapshot is written into its own
// directory and the switch is the pointer file: written to a temporary name, fsynced, renamed
// over the old one, and the parent directory fsynced. A crash leaves either the old pointer (the
// staged directory is then garbage, removed by the next cleanup()) or the new one.

import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';

export class ShardStateDirError extends Error {
  override readonly name = 'ShardStateDirError';
}

export class ShardStateDir {
  private readonly base: string;
  private readonly pointer: string;
  private readonly nameRe: RegExp;

  constructor(
    readonly root: string,
    readonly shardId: number,
  ) {
    this.base = `shard-${shardId}`;
    this.pointer = path.join(root, `${this.base}.current`);
    this.nameRe = new RegExp(`^shard-${shardId}(\\.snap-[A-Za-z0-9_-]+)?$`);
  }

  /** The live state directory (absolute). */
  current(): string {
    if (!existsSync(this.pointer)) return path.join(this.root, this.base);
    const name = readFileSync(this.pointer, 'utf8').trim();
    if (!this.nameRe.test(name)) {
      throw new ShardStateDirError(`${this.pointer} names ${JSON.stringify(name)}, which is not a state directory of shard ${this.shardId}`);
    }
    const dir = path.join(this.root, name);
    if (!existsSync(dir)) throw new ShardStateDirError(`${this.pointer} names ${name}, but ${dir} does not exist`);
    return dir;
  }

  /**
   * Deletes every state directory of this shard and its pointer (a replica removed from the
   * shard's group; call after closing its store). The pointer goes first: a crash part-way
   * leaves either an older directory (opened as before, behind the group, which then sends a
   * snapshot) or nothing (a new empty replica), never a pointer naming a missing directory.
   */
  destroy(): string[] {
    rmSync(this.pointer, { force: true });
    const removed: string[] = [];
    for (const name of readdirSync(this.root)) {
      if (!this.nameRe.test(name)) continue;
      rmSync(path.join(this.root, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }

  /**
   * Removes staged and superseded state directories of this shard (call before opening), except
   * the live one and those named in `keep` (a staged state its owner still decides about).
   */
  cleanup(keep: readonly string[] = []): string[] {
    const live = path.basename(this.current());
    const removed: string[] = [];
    for (const name of readdirSync(this.root)) {
      if (name === live || keep.includes(name) || !this.nameRe.test(name)) continue;
      rmSync(path.join(this.root, name), { recursive: true, force: true });
      removed.push(name);
    }
    return removed;
  }

  /** A new, empty directory to stage a snapshot's state in. */
  createStaging(): string {
    return mkdtempSync(path.join(this.root, `${this.base}.snap-`));
  }

  /**
   * Makes `dir` the live state, durably, before returning. Synchronous on purpose: the caller
   * swaps the in-memory state in the same turn, so nothing is applied to the old state between
   * the on-disk switch and the in-memory one.
   */
  switchTo(dir: string): void {
    const name = path.basename(dir);
    if (path.dirname(path.resolve(dir)) !== path.resolve(this.root) || !this.nameRe.test(name)) {
      throw new ShardStateDirError(`${dir} is not a state directory of shard ${this.shardId} under ${this.root}`);
    }
    const tmp = `${this.pointer}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${name}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.pointer);
    const dfd = openSync(this.root, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  /** Deletes a state directory that is no longer live (closed first by the caller). */
  async remove(dir: string): Promise<void> {
    if (path.resolve(dir) === path.resolve(this.current())) throw new ShardStateDirError(`refusing to remove the live state directory ${dir}`);
    await rm(dir, { recursive: true, force: true });
  }
}
