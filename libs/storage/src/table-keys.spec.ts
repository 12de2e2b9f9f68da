// Shard hash buckets of user-table keys (decision 0051).
import { bucketHash, bucketMiddle, decodeIndexKey, encodeIndexKey, HASH_SPACE, keyRoute, type IndexKeySpec } from './table-keys';

describe('hash buckets (WITH (shards = N), decision 0051)', () => {
  it('maps every hash to one of N evenly spread values, one per equal share of the hash space', () => {
    for (const n of [1, 2, 3, 8, 1000]) {
      const seen = new Set<number>();
      for (let h = 0; h < HASH_SPACE; h += 7) seen.add(bucketHash(h, n));
      seen.add(bucketHash(HASH_SPACE - 1, n));
      expect([n, seen.size]).toEqual([n, n]);
      for (let b = 0; b < n; b++) {
        const mid = bucketMiddle(b, n);
        // The middle of bucket b lies inside the b-th of n equal ranges (a uniform map of n shards).
        expect([n, b, mid >= Math.ceil((b * HASH_SPACE) / n) && mid < ((b + 1) * HASH_SPACE) / n]).toEqual([n, b, true]);
        expect(bucketHash(mid, n)).toBe(mid);
      }
    }
    expect(bucketHash(12345, undefined)).toBe(12345);
    expect(() => bucketHash(1, 0)).toThrow(/between 1 and 65536/);
  });

  it('keys of a bucketed index carry the bucket hash; and decode to the same values', () => {
    const bucketed: IndexKeySpec = { tableId: 200, indexId: 1, types: ['int8'], directions: ['asc'], hashColumns: 1, hashBuckets: 2 };
    const hashes = new Set<number | undefined>();
    for (let i = 0n; i < 200n; i++) hashes.add(keyRoute(encodeIndexKey(bucketed, [{ type: 'int8', value: i }]))?.hash);
    expect([...hashes].sort()).toEqual([bucketMiddle(0, 2), bucketMiddle(1, 2)].sort());
    expect(decodeIndexKey(encodeIndexKey(bucketed, [{ type: 'int8', value: 42n }]), bucketed)).toEqual([{ type: 'int8', value: 42n }]);
  });
});
