import { existsSync, readFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { DataSource } from 'typeorm';
import { META_ENTITIES, MetaState, Node, Shard, TsoState } from './entities';
import type { MetaChanges } from './state';
import type { NodeRecord, ShardRecord } from './types';

/** What the catalog holds, read back at start. */
export interface CatalogContents {
  readonly appliedIndex: number;
  readonly tsoHighUs: bigint;
  readonly nodes: NodeRecord[];
  readonly shards: ShardRecord[];
}

/** sql.js exposes the in-memory database as bytes; TypeORM's driver type does not say so. */
interface ExportingDriver {
  export(): Uint8Array;
}

/**
 * One meta replica's catalog: an SQLite database (sql.js, pure WASM) accessed through TypeORM,
 * held in memory and written to `file` after each persisted batch. Rows and the applied index
 * change in one database transaction, and the file is replaced atomically (temp file, fsync,
 * rename, fsync of the directory), so after a crash the file is some earlier consistent batch
 * whose applied index says exactly which log entries to apply again.
 */
export class MetaCatalog {
  private persisted = 0;
  private closed = false;

  private constructor(
    private readonly ds: DataSource,
    private readonly file: string | undefined,
  ) {}

  /** Opens (or creates) the catalog stored in `file`; without a file it lives in memory only (tests). */
  static async open(file: string | undefined): Promise<MetaCatalog> {
    const database = file !== undefined && existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
    const ds = new DataSource({
      type: 'sqljs',
      database,
      entities: META_ENTITIES,
      // The schema is exactly the entities: four small tables created on first start. A change
      // of schema will need a TypeORM migration; none has happened yet.
      synchronize: true,
      logging: false,
    });
    await ds.initialize();
    const c = new MetaCatalog(ds, file);
    c.persisted = (await c.load()).appliedIndex;
    return c;
  }

  /** Applied index the catalog (and, with a file, the disk) reflects. */
  get persistedIndex(): number {
    return this.persisted;
  }

  async load(): Promise<CatalogContents> {
    const m = this.ds.manager;
    const st = await m.findOneBy(MetaState, { id: 1 });
    const tso = await m.findOneBy(TsoState, { id: 1 });
    const nodes = (await m.find(Node, { order: { id: 'ASC' } })).map(
      (n): NodeRecord => ({ nodeId: n.id, address: n.address, kvPort: n.kvPort, raftPort: n.raftPort, region: n.region, zone: n.zone, lastHeartbeatMs: n.lastHeartbeatMs, state: n.state }),
    );
    const shards = (await m.find(Shard, { order: { id: 'ASC' } })).map(
      (s): ShardRecord => ({ shardId: s.id, hashLo: s.hashLo, hashHi: s.hashHi, replicas: s.replicas, leaseholder: s.leaseholder, version: s.version, bootstrapVoters: s.bootstrapVoters ?? [] }),
    );
    return { appliedIndex: st?.appliedIndex ?? 0, tsoHighUs: BigInt(tso?.highUs ?? '0'), nodes, shards };
  }

  /** Writes a batch of changes and its applied index in one transaction, then saves the file. */
  async persist(ch: MetaChanges): Promise<void> {
    if (this.closed) throw new Error('meta catalog closed');
    await this.ds.transaction(async (m) => {
      if (ch.replaceAll) {
        await m.clear(Node);
        await m.clear(Shard);
      }
      if (ch.nodes.length > 0) {
        await m.save(
          Node,
          ch.nodes.map((n) => m.create(Node, { id: n.nodeId, address: n.address, kvPort: n.kvPort, raftPort: n.raftPort, region: n.region, zone: n.zone, lastHeartbeatMs: n.lastHeartbeatMs, state: n.state })),
        );
      }
      if (ch.shards.length > 0) {
        await m.save(
          Shard,
          ch.shards.map((s) => m.create(Shard, { id: s.shardId, hashLo: s.hashLo, hashHi: s.hashHi, replicas: [...s.replicas], leaseholder: s.leaseholder, version: s.version, bootstrapVoters: [...s.bootstrapVoters] })),
        );
      }
      await m.save(TsoState, m.create(TsoState, { id: 1, highUs: ch.tsoHighUs.toString() }));
      await m.save(MetaState, m.create(MetaState, { id: 1, appliedIndex: ch.appliedIndex }));
    });
    if (this.file !== undefined) await writeAtomically(this.file, (this.ds.driver as unknown as ExportingDriver).export());
    this.persisted = ch.appliedIndex;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ds.destroy();
  }
}

/** Replaces `file` with `data` so a crash leaves either the old or the new content, never a mix. */
export async function writeAtomically(file: string, data: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // The rename itself must be durable before the batch counts as persisted.
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
