// The one module that touches @nxtedition/rocksdb. The package is untyped and its public API is
// abstract-level's (callbacks, encodings, deferred open), which costs several microseconds per
// call on the hot path. We open and close through RocksLevel (it owns the lifecycle) and then
// call the native binding's synchronous functions directly: MultiGet, iterators with
// seek/nextv, and WriteBatch. Hot block-cache reads thus never hop through the event loop.
// The binding version is pinned in package.json; openRocks() fails loudly if its shape changes.

/* eslint-disable @typescript-eslint/no-require-imports -- untyped native package, typed at this boundary */

type Handle = { readonly __brand: 'native-handle' };

interface NativeBinding {
  db_get_many_sync(db: Handle, keys: Buffer[], options: object): (Buffer | undefined | null)[];
  iterator_init(db: Handle, options: object): Handle;
  iterator_seek(it: Handle, target: Buffer): void;
  iterator_nextv_sync(it: Handle, count: number): { rows: (Buffer | undefined)[]; finished: boolean };
  iterator_close(it: Handle): void;
  batch_init(): Handle;
  batch_put(batch: Handle, key: Buffer, value: Buffer, options: object): void;
  batch_del(batch: Handle, key: Buffer, options: object): void;
  batch_clear(batch: Handle): void;
  batch_count(batch: Handle): number;
  batch_write(db: Handle, batch: Handle, options: object): void;
}

interface RocksLevelLike {
  open(options: object): Promise<void>;
  close(): Promise<void>;
  getProperty(name: string): string;
  readonly status: string;
}

type RocksLevelCtor = new (location: string, options: object) => RocksLevelLike;

const pkg = require('@nxtedition/rocksdb') as { RocksLevel: RocksLevelCtor };
const native = require('@nxtedition/rocksdb/binding') as NativeBinding;

export interface RocksOptions {
  /** Block cache size in bytes (default 64 MiB). */
  readonly cacheSize?: number;
  readonly createIfMissing?: boolean;
}

export interface IteratorOptions {
  /** Inclusive lower bound. */
  readonly gte?: Buffer;
  /** Exclusive upper bound. */
  readonly lt?: Buffer;
  readonly reverse?: boolean;
  /** Keep blocks read by this iterator in the block cache (true for OLTP scans, false for GC). */
  readonly fillCache?: boolean;
  /** A tailing iterator sees writes made after its creation (reusable for point reads; forward only). */
  readonly tailing?: boolean;
  /** false: rows carry keys only (values come back undefined), which scans of keys need not copy. */
  readonly values?: boolean;
}

/** A synchronous RocksDB iterator. Always close() it (try/finally): it pins memtables and files. */
export class RocksIterator {
  private handle: Handle | null;

  constructor(db: Handle, options: IteratorOptions) {
    this.handle = native.iterator_init(db, {
      gte: options.gte,
      lt: options.lt,
      reverse: options.reverse ?? false,
      fillCache: options.fillCache ?? true,
      tailing: options.tailing ?? false,
      values: options.values ?? true,
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    });
  }

  /** Repositions at the first key >= target (forward) or the last key <= target (reverse). */
  seek(target: Buffer): void {
    native.iterator_seek(this.live(), target);
  }

  /** Up to `count` entries as a flat [key, value, key, value, ...] array. */
  next(count: number): { rows: Buffer[]; finished: boolean } {
    const r = native.iterator_nextv_sync(this.live(), count);
    return { rows: r.rows as Buffer[], finished: r.finished };
  }

  close(): void {
    if (this.handle !== null) {
      native.iterator_close(this.handle);
      this.handle = null;
    }
  }

  private live(): Handle {
    if (this.handle === null) throw new Error('iterator is closed');
    return this.handle;
  }
}

/** An atomic RocksDB WriteBatch. */
export class RocksBatch {
  readonly handle = native.batch_init();

  put(key: Buffer, value: Buffer): void {
    native.batch_put(this.handle, key, value, EMPTY);
  }

  del(key: Buffer): void {
    native.batch_del(this.handle, key, EMPTY);
  }

  get count(): number {
    return native.batch_count(this.handle);
  }

  clear(): void {
    native.batch_clear(this.handle);
  }
}

const EMPTY = {};
const SYNC = { sync: true };

export class RocksDb {
  private constructor(
    private readonly level: RocksLevelLike,
    private readonly db: Handle,
    readonly location: string,
  ) {}

  static async open(location: string, options: RocksOptions = {}): Promise<RocksDb> {
    const level = new pkg.RocksLevel(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    // Level-style tuning (up to six 64 MiB memtables, early L0->L1 compaction): a bulk load
    // otherwise fills the two default memtables faster than a busy 2-core box flushes them,
    // and RocksDB then stalls the write, which here is a synchronous call on the event loop.
    await level.open({ createIfMissing: options.createIfMissing ?? true, cacheSize: options.cacheSize ?? 64 << 20, infoLogLevel: 'error', compaction: 'level' });
    const sym = Object.getOwnPropertySymbols(level).find((s) => s.description === 'context');
    const db = sym === undefined ? undefined : (level as unknown as Record<symbol, unknown>)[sym];
    if (db === undefined || db === null) {
      await level.close();
      throw new Error('@nxtedition/rocksdb: native database handle not found (binding version changed?)');
    }
    return new RocksDb(level, db as Handle, location);
  }

  /** Synchronous MultiGet; undefined where a key is absent. */
  getMany(keys: Buffer[]): (Buffer | undefined)[] {
    const rows = native.db_get_many_sync(this.db, keys, EMPTY);
    for (let i = 0; i < rows.length; i++) {
      if (rows[i] === null) throw new Error('rocksdb: read aborted or timed out');
    }
    return rows as (Buffer | undefined)[];
  }

  iterator(options: IteratorOptions): RocksIterator {
    return new RocksIterator(this.db, options);
  }

  /** Applies the batch atomically; `sync` waits for the RocksDB WAL to reach the disk. */
  write(batch: RocksBatch, sync = false): void {
    native.batch_write(this.db, batch.handle, sync ? SYNC : EMPTY);
  }

  property(name: string): string {
    return this.level.getProperty(name);
  }

  async close(): Promise<void> {
    await this.level.close();
  }
}
