// Which shard holds a key. User-table keys carry a 16-bit shard hash right after their table and
// index ids (see @weft/storage table-keys.ts); the map splits that hash space into contiguous
// ranges, one per shard. System tables (the catalog, sequences: ids below HASHED_TABLE_MIN) live
// on the system shard. A shard's store therefore holds, for every index, the rows whose hash
// falls in its range: a span scan asks every shard whose range the span can touch and merges
// their answers by key (each is in key order already).
import { HASH_SPACE, HASHED_TABLE_MIN, keyRoute } from '@weft/storage';

export interface ShardRange {
  readonly shardId: number;
  /** First hash of the range. */
  readonly hashLo: number;
  /** One past the last hash of the range. */
  readonly hashHi: number;
}

export class ShardMap {
  /** Ranges sorted by hash, covering [0, HASH_SPACE) without gaps or overlaps. */
  readonly ranges: readonly ShardRange[];
  private readonly ids: readonly number[];

  constructor(
    /** Bumped by every change of the map (splits, moves); caches compare it. */
    readonly version: number,
    ranges: readonly ShardRange[],
    /** Holds the system tables (catalog, sequences) besides its hash range. */
    readonly systemShard: number,
  ) {
    const sorted = [...ranges].sort((a, b) => a.hashLo - b.hashLo);
    let at = 0;
    for (const r of sorted) {
      if (r.hashLo !== at || r.hashHi <= r.hashLo) throw new Error(`shard map v${version}: range of shard ${r.shardId} [${r.hashLo}, ${r.hashHi}) leaves a gap or overlaps at ${at}`);
      at = r.hashHi;
    }
    if (at !== HASH_SPACE) throw new Error(`shard map v${version}: ranges end at ${at}, not ${HASH_SPACE}`);
    this.ranges = sorted;
    this.ids = [...new Set([systemShard, ...sorted.map((r) => r.shardId)])].sort((a, b) => a - b);
    if (!sorted.some((r) => r.shardId === systemShard)) throw new Error(`shard map v${version}: system shard ${systemShard} has no hash range`);
  }

  /** Shards 1..count, each an equal slice of the hash space; shard 1 also holds the system tables. */
  static uniform(count: number): ShardMap {
    if (!Number.isInteger(count) || count < 1 || count > HASH_SPACE) throw new RangeError(`shard count must be an integer 1..${HASH_SPACE}, got ${count}`);
    const ranges: ShardRange[] = [];
    for (let i = 0; i < count; i++) {
      ranges.push({ shardId: i + 1, hashLo: Math.floor((i * HASH_SPACE) / count), hashHi: Math.floor(((i + 1) * HASH_SPACE) / count) });
    }
    return new ShardMap(1, ranges, 1);
  }

  /** Everything on one shard (tests, the simulator, a one-shard cluster). */
  static single(shardId: number): ShardMap {
    return new ShardMap(1, [{ shardId, hashLo: 0, hashHi: HASH_SPACE }], shardId);
  }

  /** Every shard id, ascending. */
  shardIds(): readonly number[] {
    return this.ids;
  }

  forHash(hash: number): number {
    const rs = this.ranges;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (rs[mid].hashLo <= hash) lo = mid;
      else hi = mid - 1;
    }
    return rs[lo].shardId;
  }

  /** The shard of one key (a full row or index-entry key). */
  forKey(key: Buffer): number {
    const r = keyRoute(key);
    if (r === undefined || r.tableId < HASHED_TABLE_MIN || r.hash === undefined) return this.systemShard;
    return this.forHash(r.hash);
  }

  /**
   * For a span inside one hashed index: the shards holding its parts, in key order (each holds
   * one contiguous hash range, and keys sort by hash within an index). Undefined for other spans,
   * or when a shard holds several ranges the span touches (its part would not be contiguous).
   */
  partsOfIndexSpan(start: Buffer, end: Buffer): readonly number[] | undefined {
    const a = keyRoute(start);
    const b = end.length === 0 ? undefined : keyRoute(end);
    if (a === undefined || b === undefined || a.tableId < HASHED_TABLE_MIN || a.tableId !== b.tableId || a.indexId === undefined || b.indexId === undefined) return undefined;
    // The end of a whole index is the next index's prefix (no hash): the rest of the index.
    const toIndexEnd = b.indexId === a.indexId + 1 && b.hash === undefined;
    if (b.indexId !== a.indexId && !toIndexEnd) return undefined;
    const lo = a.hash ?? 0;
    const hi = toIndexEnd ? HASH_SPACE - 1 : (b.hash ?? HASH_SPACE - 1);
    const out: number[] = [];
    for (const r of this.ranges) {
      if (r.hashHi <= lo || r.hashLo > hi) continue;
      if (out.includes(r.shardId)) return undefined;
      out.push(r.shardId);
    }
    return out;
  }

  /**
   * The shards that may hold keys in [start, end), ascending. Exact for spans inside one index
   * whose bounds carry hashes; otherwise a superset (asking a shard that holds nothing in the
   * span costs a round trip, never a wrong answer).
   */
  forSpan(start: Buffer, end: Buffer): readonly number[] {
    const a = keyRoute(start);
    const b = end.length === 0 ? undefined : keyRoute(end);
    if (a !== undefined && a.tableId < HASHED_TABLE_MIN && b !== undefined && (b.tableId < HASHED_TABLE_MIN || (b.tableId === HASHED_TABLE_MIN && b.indexId === undefined))) {
      return [this.systemShard];
    }
    if (a === undefined || b === undefined || a.tableId !== b.tableId || a.tableId < HASHED_TABLE_MIN || a.indexId === undefined || a.indexId !== b.indexId) {
      return this.ids;
    }
    const lo = a.hash ?? 0;
    const hi = b.hash ?? HASH_SPACE - 1;
    const out = new Set<number>();
    for (const r of this.ranges) if (r.hashHi > lo && r.hashLo <= hi) out.add(r.shardId);
    return [...out].sort((x, y) => x - y);
  }
}
