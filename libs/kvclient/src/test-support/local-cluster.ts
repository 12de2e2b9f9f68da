// Test support: N in-process shards (LocalShard: the real materializer on RocksDB, no Raft)
// behind one KvClient with a uniform shard map, and keys of a hashed user table spread over them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalShard, type Clock } from '@weft/materialize';
import { encodeIndexKey, indexSpan, type IndexKeySpec } from '@weft/storage';
import { KvClient, type KvClientOptions } from '../kv-client';
import { ShardMap } from '../shard-map';

export interface LocalCluster {
  readonly kv: KvClient;
  readonly shards: ReadonlyMap<number, LocalShard>;
  close(): Promise<void>;
}

/** `clockOf`: each shard's wall clock (default: the system clock), e.g. to skew one shard's. */
export async function openLocalCluster(count: number, opts: Omit<KvClientOptions, 'map' | 'shards'> = {}, clockOf?: (shardId: number) => Clock): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-local-cluster-'));
  const map = ShardMap.uniform(count);
  const shards = new Map<number, LocalShard>();
  for (const id of map.shardIds()) {
    const clock = clockOf?.(id);
    shards.set(id, await LocalShard.open(join(dir, `shard-${id}`), clock === undefined ? { shardId: id } : { shardId: id, clock }));
  }
  const kv = new KvClient({ ...opts, map, shards: shards });
  return {
    kv,
    shards,
    close: async () => {
      for (const s of shards.values()) await s.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A hashed user table /100/1/<hash>/<int8 id>. */
export const TABLE: IndexKeySpec = { tableId: 100, indexId: 1, types: ['int8'], directions: ['asc'], hashColumns: 1 };

export const rowKey = (id: number): Buffer => encodeIndexKey(TABLE, [{ type: 'int8', value: BigInt(id) }]);
export const tableSpan = (): { start: Buffer; end: Buffer } => indexSpan(TABLE);
