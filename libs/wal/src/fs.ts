/**
 * The WAL's only door to the file system. Small on purpose, so the simulator can supply a disk
 * that loses unsynced writes (see MemFs) and the real one stays a thin layer over node:fs.
 * Writes are synchronous (they only copy into the page cache, cheaper than a thread-pool hop);
 * the flushes that wait on the device are asynchronous, off the event loop.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface WalFile {
  /** Writes all of `data` at `position`. Not durable until `datasync` resolves. */
  write(data: Uint8Array, position: number): void;
  /** fdatasync: makes the written data (and the size needed to read it) durable. */
  datasync(): Promise<void>;
  truncate(size: number): void;
  size(): number;
  close(): void;
}

export interface WalFs {
  mkdirp(dir: string): void;
  /** Names (not paths) of the entries in `dir`. */
  list(dir: string): string[];
  /** Opens for reading and writing; `create` fails if the file exists. */
  open(file: string, create: boolean): WalFile;
  read(file: string): Buffer;
  rename(from: string, to: string): void;
  unlink(file: string): void;
  /** Makes creations, renames and deletions in `dir` durable. */
  syncDir(dir: string): Promise<void>;
}

class NodeFile implements WalFile {
  constructor(private readonly fd: number) {}

  write(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.length) {
      done += fs.writeSync(this.fd, data, done, data.length - done, position + done);
    }
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve())));
  }

  truncate(size: number): void {
    fs.ftruncateSync(this.fd, size);
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

export const nodeFs: WalFs = {
  mkdirp: (dir) => void fs.mkdirSync(dir, { recursive: true }),
  list: (dir) => fs.readdirSync(dir),
  open: (file, create) =>
    new NodeFile(fs.openSync(file, create ? fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL : fs.constants.O_RDWR, 0o644)),
  read: (file) => fs.readFileSync(file),
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (file) => fs.unlinkSync(file),
  syncDir: (dir) =>
    new Promise((resolve, reject) => {
      fs.open(dir, fs.constants.O_RDONLY, (err, fd) => {
        if (err) return reject(err);
        fs.fsync(fd, (syncErr) => {
          fs.close(fd, () => (syncErr ? reject(syncErr) : resolve()));
        });
      });
    }),
};

interface MemInode {
  data: Buffer;
  length: number;
  /** What survives a crash: the content as of the last datasync. */
  durable: Buffer;
}

/**
 * An in-memory disk for tests and the simulator. A crash (`crash`) keeps only what was made
 * durable: file contents as of their last datasync plus, at the caller's choice, some prefix of
 * the bytes appended since (the OS may have flushed part of them, possibly tearing a record),
 * and directory entries as of the last syncDir.
 */
export class MemFs implements WalFs {
  private names = new Map<string, MemInode>();
  private durableNames = new Map<string, MemInode>();
  private dirs = new Set<string>();
  /** Injected failures: throw from the next datasync when set. */
  failNextSync: Error | undefined;
  syncs = 0;

  mkdirp(dir: string): void {
    this.dirs.add(path.resolve(dir));
  }

  list(dir: string): string[] {
    const d = path.resolve(dir);
    if (!this.dirs.has(d)) throw Object.assign(new Error(`ENOENT: ${dir}`), { code: 'ENOENT' });
    return [...this.names.keys()].filter((p) => path.dirname(p) === d).map((p) => path.basename(p));
  }

  open(file: string, create: boolean): WalFile {
    const p = path.resolve(file);
    let inode = this.names.get(p);
    if (create) {
      if (inode) throw Object.assign(new Error(`EEXIST: ${file}`), { code: 'EEXIST' });
      inode = { data: Buffer.alloc(0), length: 0, durable: Buffer.alloc(0) };
      this.names.set(p, inode);
    } else if (!inode) {
      throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    }
    return this.fileFor(inode);
  }

  private fileFor(node: MemInode): WalFile {
    return {
      write: (data, position) => {
        const end = position + data.length;
        if (end > node.data.length) {
          const grown = Buffer.alloc(Math.max(end, node.data.length * 2));
          node.data.copy(grown, 0, 0, node.length);
          node.data = grown;
        }
        if (position > node.length) node.data.fill(0, node.length, position);
        node.data.set(data, position);
        node.length = Math.max(node.length, end);
      },
      datasync: async () => {
        if (this.failNextSync) {
          const e = this.failNextSync;
          this.failNextSync = undefined;
          throw e;
        }
        node.durable = Buffer.from(node.data.subarray(0, node.length));
        this.syncs++;
      },
      truncate: (size) => {
        if (size > node.length) this.fileFor(node).write(Buffer.alloc(size - node.length), node.length);
        node.length = size;
      },
      size: () => node.length,
      close: () => {},
    };
  }

  read(file: string): Buffer {
    const node = this.names.get(path.resolve(file));
    if (!node) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    return Buffer.from(node.data.subarray(0, node.length));
  }

  rename(from: string, to: string): void {
    const node = this.names.get(path.resolve(from));
    if (!node) throw Object.assign(new Error(`ENOENT: ${from}`), { code: 'ENOENT' });
    this.names.delete(path.resolve(from));
    this.names.set(path.resolve(to), node);
  }

  unlink(file: string): void {
    if (!this.names.delete(path.resolve(file))) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
  }

  async syncDir(dir: string): Promise<void> {
    const d = path.resolve(dir);
    for (const p of [...this.durableNames.keys()]) if (path.dirname(p) === d) this.durableNames.delete(p);
    for (const [p, node] of this.names) if (path.dirname(p) === d) this.durableNames.set(p, node);
  }

  /**
   * Simulates power loss. `keepUnsynced(name, n)` says how many of the n bytes appended since a
   * file's last datasync reached the disk anyway (default 0); a cut mid-record is a torn write.
   */
  crash(keepUnsynced: (name: string, unsyncedBytes: number) => number = () => 0): void {
    const survivors = new Map<string, MemInode>();
    for (const [p, node] of this.durableNames) {
      const cur = node.data.subarray(0, node.length);
      let content = node.durable;
      if (cur.length >= node.durable.length && cur.subarray(0, node.durable.length).equals(node.durable)) {
        const extra = cur.length - node.durable.length;
        const keep = Math.max(0, Math.min(extra, Math.floor(keepUnsynced(path.basename(p), extra))));
        content = Buffer.from(cur.subarray(0, node.durable.length + keep));
      }
      survivors.set(p, { data: Buffer.from(content), length: content.length, durable: Buffer.from(content) });
    }
    this.names = survivors;
    this.durableNames = new Map(survivors);
  }

  /** Test hook: overwrite bytes in place, as a failing disk would. */
  corrupt(file: string, offset: number, bytes: Uint8Array): void {
    const node = this.names.get(path.resolve(file));
    if (!node) throw new Error(`no such file ${file}`);
    node.data.set(bytes, offset);
    node.durable = Buffer.from(node.data.subarray(0, node.length));
  }
}
