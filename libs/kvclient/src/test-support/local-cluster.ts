// Test support: N in-process shards (LocalShard: the real materializer on RocksDB, no Raft)
// behind one KvClient with a uniform shard map, and keys of a hashed user table spread over them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalShard } from '@weft/materialize';
import { encodeIndexKey, indexSpan, type IndexKeySpec } from '@weft/storage';
import { KvClient, type KvClientOptions } from '../kv-client';
import { ShardMap } from '../shard-map';

export interface LocalCluster {
  readonly kv: KvClient;
  readonly shards: ReadonlyMap<number, LocalShard>;
  close(): Promise<void>;
}

export async function openLocalCluster(count: number, opts: Omit<KvClientOptions, 'map' | 'shards'> = {}): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-local-cluster-'));
  const map = ShardMap.uniform(count);
  const shards = new Map<number, LocalShard>();
  for (const id of map.shardIds()) shards.set(id, await LocalShard.open(join(dir, `shard-${id}`), { shardId: id }));
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
