// Gateway-wide engine state shared by all sessions: the KV client, the catalog cache (keyed by the
// catalog version stored in the KV), sequence value blocks, and the bootstrap of the catalog.
import { ClusterAdvisoryLocks } from './cluster-advisory-locks';
import type { ShardKv } from '@weft/kv';
import { KvClient } from '@weft/kvclient';
import { PgError } from '@weft/pgwire';
import { Txn, type TxnOptions } from '@weft/txn';
import { Catalog } from './catalog/catalog';
import type { Descriptor, SequenceDesc } from './catalog/descriptors';
import { DROPPED_DATA_PREFIX } from '@weft/storage';
import { DESCRIPTOR_STAMP_PREFIX, allocateId, type CatalogRead, bumpVersion, decodeInt, encodeInt, loadDescriptors, readCatalogVersion, seqKey, versionKey, writeDescriptor } from './catalog/store';
import { seqUncalledKey, type SequenceState } from './catalog/sequence-state';
import { S, sqlError } from './errors';

export interface EngineOptions {
  /** Values a gateway reserves per sequence round trip (gaps after restart, as with CACHE). */
  readonly sequenceCache?: number;
  /** Retries of an implicit transaction that hit 40001 before sending rows. */
  readonly maxRetries?: number;
  /** Size of the per-gateway parse+plan cache for simple queries. */
  readonly planCacheSize?: number;
  /** Bytes of buffered writes at which a transaction stages them to the shard (Txn stageBytes). */
  readonly txnStageBytes?: number;
  /**
   * Runs before a schema change commits; a throw fails the statement. With a meta service the
   * gateway checks there that the control plane has a quorum (it refuses DDL without one,
   * rather than change schemas meta could not record); KvError 'unavailable' maps to 57P03.
   */
  readonly schemaChangeGate?: () => Promise<void>;
  /** Lease of a gateway's cluster-wide advisory lock holds (default 15 s; cluster-advisory-locks.ts). */
  readonly advisoryLockLeaseMs?: number;
}

export const DEFAULT_DATABASES = ['weft', 'postgres'];

/**
 * Keys the SQL layer keeps one copy of per shard (KvClientOptions.replicatedKeys): the catalog
 * version. Every transaction reads it (to know its descriptors are current) and every DDL writes
 * it; with a copy on each shard, a data transaction validates that read on the shards it commits
 * on, so it stays a one-shard (1PC) commit, while DDL writes all copies in one 2PC.
 */
export const SQL_REPLICATED_KEYS: readonly Buffer[] = [versionKey()];

/**
 * Key prefixes the SQL layer keeps one copy of per shard (KvClientOptions.replicatedPrefixes):
 * markers of dropped tables and indexes, which each shard's gc reads to delete their data, and
 * descriptor stamps, which data transactions validate on the shards they commit on.
 */
export const SQL_REPLICATED_PREFIXES: readonly Buffer[] = [DROPPED_DATA_PREFIX, DESCRIPTOR_STAMP_PREFIX];

/**
 * A transaction that has written nothing reads the catalog at its snapshot, unrecorded; one
 * with writes (possibly its own DDL) reads it through the transaction, as DDL must.
 */
function catalogRead(txn: Txn): CatalogRead {
  return txn.hasWrites ? 'tracked' : 'snapshot';
}

export class Engine {
  private cached: Catalog | undefined;
  private readonly seqBlocks = new Map<number, { next: bigint; end: bigint }>();
  readonly maxRetries: number;
  readonly sequenceCache: number;
  readonly schemaChangeGate: (() => Promise<void>) | undefined;
  readonly planCacheSize: number;
  private readonly txnOptions: TxnOptions;
  readonly kv: KvClient;
  /** Advisory locks: this gateway's sessions in order, and gateways among each other (decision 0050). */
  readonly advisoryLocks: ClusterAdvisoryLocks;

  constructor(kv: KvClient | ShardKv, options: EngineOptions = {}) {
    this.kv = kv instanceof KvClient ? kv : KvClient.single(kv, { replicatedKeys: SQL_REPLICATED_KEYS, replicatedPrefixes: SQL_REPLICATED_PREFIXES });
    if (this.kv.map.shardIds().length > 1 && (SQL_REPLICATED_PREFIXES.some((p) => !this.kv.isReplicated(p)) || !this.kv.isReplicated(versionKey()))) {
      throw new Error('the KV client must keep the catalog version, dropped-data markers and descriptor stamps replicated (replicatedKeys: SQL_REPLICATED_KEYS, replicatedPrefixes: SQL_REPLICATED_PREFIXES)');
    }
    this.maxRetries = options.maxRetries ?? 5;
    this.schemaChangeGate = options.schemaChangeGate;
    this.sequenceCache = options.sequenceCache ?? 32;
    this.planCacheSize = options.planCacheSize ?? 500;
    this.txnOptions = options.txnStageBytes === undefined ? {} : { stageBytes: options.txnStageBytes };
    this.advisoryLocks = new ClusterAdvisoryLocks({
      newTxn: () => this.newTxn(),
      retry: (fn) => this.retry(fn, 20),
      ...(options.advisoryLockLeaseMs === undefined ? {} : { leaseMs: options.advisoryLockLeaseMs, marginMs: Math.floor(options.advisoryLockLeaseMs / 5) }),
    });
  }

  newTxn(extra: Pick<TxnOptions, 'asOf'> = {}): Txn {
    return new Txn(this.kv, { ...this.txnOptions, ...extra });
  }

  /**
   * The catalog as seen by `txn` (cached when the stored version matches). A transaction
   * without writes reads it at its snapshot without recording the reads: it depends on the
   * stamps of the descriptors its statements use (recorded when they run), not on the catalog.
   */
  async catalogFor(txn: Txn): Promise<Catalog> {
    const how = catalogRead(txn);
    const version = await readCatalogVersion(txn, how);
    if (this.cached && this.cached.version === version) return this.cached;
    const cat = new Catalog(version, await loadDescriptors(txn, how));
    if (!txn.hasWrites) this.cache(cat);
    return cat;
  }

  /**
   * The cached catalog for a transaction that has not read anything yet, without a round trip:
   * `txn` assumes the version the cache was loaded at, and its first read checks that (the
   * version's copy on the row's shard comes back with the row), so an autocommit point read is
   * one round trip. Undefined when nothing is cached or `txn` has already read.
   * On AssumptionFailedError the caller asks catalogAfterFailedAssumption and plans again.
   */
  assumeCachedCatalog(txn: Txn): Catalog | undefined {
    const cat = this.cached;
    if (cat === undefined || !txn.fresh) return undefined;
    // Checked at the snapshot only: the statements record the stamps of what they use.
    txn.assume(versionKey(), (v) => (decodeInt(v) ?? 0n) === cat.version, { validate: false });
    return cat;
  }

  /** The catalog at `txn`'s snapshot after its assumed version proved stale (cached if newer). */
  async catalogAfterFailedAssumption(txn: Txn): Promise<Catalog> {
    const cat = await this.reloadCatalog(txn, catalogRead(txn));
    if (!txn.hasWrites) this.cache(cat);
    return cat;
  }

  /** Keeps `cat` unless a newer version is cached (a follower read may load an older one). */
  private cache(cat: Catalog): void {
    if (this.cached === undefined || cat.version > this.cached.version) this.cached = cat;
  }

  /** The cached catalog, unchecked: for planning only; execution checks its version first. */
  get cachedCatalog(): Catalog | undefined {
    return this.cached;
  }

  /** Whether `cat` is the newest catalog (one read of the version, in a transaction of its own). */
  async isCurrent(cat: Catalog): Promise<boolean> {
    return (await readCatalogVersion(this.newTxn())) === cat.version;
  }

  /** Re-reads the catalog through `txn` (which may hold uncommitted DDL), or at its snapshot unrecorded. */
  async reloadCatalog(txn: Txn, how: CatalogRead = 'tracked'): Promise<Catalog> {
    return new Catalog(await readCatalogVersion(txn, how), await loadDescriptors(txn, how));
  }

  invalidateCatalog(): void {
    this.cached = undefined;
  }

  /** Creates the default databases (with schema public) once per cluster. */
  async bootstrap(): Promise<void> {
    await this.retry(async () => {
      const txn = this.newTxn();
      const cat = await this.reloadCatalog(txn);
      const missing = DEFAULT_DATABASES.filter((d) => !cat.databases.has(d));
      if (missing.length === 0) return;
      for (const name of missing) await createDatabase(txn, name, () => this.allocateId());
      await bumpVersion(txn);
      await txn.commit();
    });
  }

  /** Runs `fn` again on 40001 (bounded, with a short randomized backoff). */
  async retry<T>(fn: () => Promise<T>, attempts = this.maxRetries): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof PgError) || e.code !== S.SERIALIZATION_FAILURE || i >= attempts) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * 2 ** i * 2));
      }
    }
  }

  /** A new descriptor id, never handed out before (see allocateId in catalog/store.ts). */
  allocateId(): Promise<number> {
    return allocateId(() => this.newTxn(), (fn) => this.retry(fn, 20));
  }

  /** nextval: values come from a gateway-local block reserved with its own small transaction. */
  async nextval(seq: SequenceDesc): Promise<bigint> {
    const inc = BigInt(seq.increment);
    const block = this.seqBlocks.get(seq.id);
    if (block && (inc > 0n ? block.next <= block.end : block.next >= block.end)) {
      const v = block.next;
      block.next += inc;
      return v;
    }
    const n = BigInt(this.sequenceCache);
    const reserved = await this.retry(async () => {
      const txn = this.newTxn();
      const cur = decodeInt(await txn.get(seqKey(seq.id)));
      const first = cur === undefined ? BigInt(seq.start) : cur + inc;
      let last = first + inc * (n - 1n);
      const max = BigInt(seq.max);
      const min = BigInt(seq.min);
      if (inc > 0n ? first > max : first < min) {
        throw sqlError('2200H', `nextval: reached ${inc > 0n ? 'maximum' : 'minimum'} value of sequence "${seq.name}" (${inc > 0n ? seq.max : seq.min})`);
      }
      if (inc > 0n && last > max) last = max - ((max - first) % inc);
      if (inc < 0n && last < min) last = min + ((first - min) % -inc);
      txn.put(seqKey(seq.id), encodeInt(last));
      txn.delete(seqUncalledKey(seq.id));
      await txn.commit();
      return { first, last };
    }, 20);
    this.seqBlocks.set(seq.id, { next: reserved.first + inc, end: reserved.last });
    return reserved.first;
  }

  async setval(seq: SequenceDesc, value: bigint, isCalled: boolean): Promise<bigint> {
    const inc = BigInt(seq.increment);
    if (value < BigInt(seq.min) || value > BigInt(seq.max)) {
      throw sqlError(S.NUMERIC_OUT_OF_RANGE, `setval: value ${value} is out of bounds for sequence "${seq.name}" (${seq.min}..${seq.max})`);
    }
    await this.retry(async () => {
      const txn = this.newTxn();
      txn.put(seqKey(seq.id), encodeInt(isCalled ? value : value - inc));
      if (isCalled) txn.delete(seqUncalledKey(seq.id));
      else txn.put(seqUncalledKey(seq.id), encodeInt(value));
      await txn.commit();
    });
    this.seqBlocks.delete(seq.id);
    return value;
  }

  /**
   * last_value/is_called as Postgres reports them. The stored value is the end of the newest
   * reserved block; when this gateway reserved that block, the last value it handed out from it
   * is the largest value any gateway handed out, so that is reported; otherwise the block end
   * (an upper bound, as Postgres reports for a sequence with CACHE > 1). Read outside the
   * caller's transaction (sequences are not transactional).
   */
  async sequenceState(seq: SequenceDesc): Promise<SequenceState> {
    const txn = this.newTxn();
    try {
      const stored = decodeInt(await txn.get(seqKey(seq.id)));
      const uncalled = decodeInt(await txn.get(seqUncalledKey(seq.id)));
      if (stored === undefined) return { lastValue: BigInt(seq.start), isCalled: false };
      if (uncalled !== undefined) return { lastValue: uncalled, isCalled: false };
      const block = this.seqBlocks.get(seq.id);
      if (block && block.end === stored) return { lastValue: block.next - BigInt(seq.increment), isCalled: true };
      return { lastValue: stored, isCalled: true };
    } finally {
      txn.rollback();
    }
  }

  forgetSequence(id: number): void {
    this.seqBlocks.delete(id);
  }
}

export async function createDatabase(txn: Txn, name: string, newId: () => Promise<number>): Promise<void> {
  const dbId = await newId();
  writeDescriptor(txn, { kind: 'database', id: dbId, name } satisfies Descriptor);
  const schemaId = await newId();
  writeDescriptor(txn, { kind: 'schema', id: schemaId, dbId, name: 'public' });
}
