// Where the catalog lives: in the shard's own keyspace, so DDL is transactional, survives
// restarts and every gateway sees it.
//   /1/1/<descriptor id int8>   -> JSON descriptor
//   /1/2/<name text>            -> int8 counters: 'version' (bumped by every DDL), 'next_id'
//   /1/3/<descriptor id int8>   -> empty: the descriptor's stamp (see descriptorStampKey)
//   /2/1/<sequence id int8>     -> int8 current value of a sequence
// User tables get descriptor ids >= FIRST_USER_ID, so system table ids never collide.
import { decodeRow, encodeIndexKey, encodeRow, indexSpan, type IndexKeySpec } from '@weft/storage';
import type { Txn } from '@weft/txn';
import type { Descriptor } from './descriptors';

export const FIRST_USER_ID = 100;
const DESC: IndexKeySpec = { tableId: 1, indexId: 1, types: ['int8'], directions: ['asc'] };
const META: IndexKeySpec = { tableId: 1, indexId: 2, types: ['text'], directions: ['asc'] };
const SEQ: IndexKeySpec = { tableId: 2, indexId: 1, types: ['int8'], directions: ['asc'] };
const STAMP: IndexKeySpec = { tableId: 1, indexId: 3, types: ['int8'], directions: ['asc'] };

/** Every descriptor stamp key starts with this (the KV client keeps one copy per shard). */
export const DESCRIPTOR_STAMP_PREFIX: Buffer = indexSpan(STAMP).start;

/**
 * The key rewritten whenever descriptor `id` changes (and, for a table, whenever a table whose
 * foreign keys reference it changes). A data transaction depends on the descriptors its
 * statements use, not on the whole catalog: it records their stamps as point reads, so a DDL
 * on one of them fails it at commit (40001) while DDL on other objects leaves it alone
 * (decision 0052). One copy per shard, like the catalog version, so the read never makes a
 * commit multi-shard.
 */
export const descriptorStampKey = (id: number): Buffer => encodeIndexKey(STAMP, [{ type: 'int8', value: BigInt(id) }]);

export const versionKey = (): Buffer => encodeIndexKey(META, [{ type: 'text', value: 'version' }]);
const nextIdKey = (): Buffer => encodeIndexKey(META, [{ type: 'text', value: 'next_id' }]);
const descKey = (id: number): Buffer => encodeIndexKey(DESC, [{ type: 'int8', value: BigInt(id) }]);
export const seqKey = (id: number): Buffer => encodeIndexKey(SEQ, [{ type: 'int8', value: BigInt(id) }]);

export const encodeInt = (v: bigint): Buffer => encodeRow([[1, { type: 'int8', value: v }]]);
export function decodeInt(b: Buffer | undefined): bigint | undefined {
  if (!b) return undefined;
  const cell = decodeRow(b).get(1);
  return cell?.type === 'int8' ? cell.value : undefined;
}

function replacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? { $big: v.toString() } : v;
}
function reviver(_k: string, v: unknown): unknown {
  if (v && typeof v === 'object' && '$big' in v) return BigInt((v as { $big: string }).$big);
  return v;
}

/**
 * How a transaction reads the catalog: 'tracked' records the reads for validation (a DDL
 * transaction serializes with every other DDL); 'snapshot' reads at the transaction's snapshot
 * unrecorded (a data transaction depends only on the stamps of the descriptors it uses).
 */
export type CatalogRead = 'tracked' | 'snapshot';

export async function readCatalogVersion(txn: Txn, how: CatalogRead = 'tracked'): Promise<bigint> {
  return decodeInt(await (how === 'tracked' ? txn.get(versionKey()) : txn.getAtSnapshot(versionKey()))) ?? 0n;
}

export async function loadDescriptors(txn: Txn, how: CatalogRead = 'tracked'): Promise<Descriptor[]> {
  const { start, end } = indexSpan(DESC);
  const out: Descriptor[] = [];
  const rows = how === 'tracked' ? txn.scan(start, end) : txn.scanAtSnapshot(start, end);
  for await (const row of rows) out.push(JSON.parse(row.value.toString('utf8'), reviver) as Descriptor);
  return out;
}

export function writeDescriptor(txn: Txn, d: Descriptor): void {
  txn.put(descKey(d.id), Buffer.from(JSON.stringify(d, replacer), 'utf8'));
  stamp(txn, d);
}

export function deleteDescriptor(txn: Txn, d: Descriptor): void {
  txn.delete(descKey(d.id));
  stamp(txn, d);
}

/**
 * Rewrites the stamps `d`'s change moves: its own, and for a table those of the tables its
 * foreign keys reference (a transaction deleting a parent row must not miss a foreign key
 * added, or act on a child dropped, since its snapshot).
 */
function stamp(txn: Txn, d: Descriptor): void {
  txn.put(descriptorStampKey(d.id), EMPTY);
  if (d.kind === 'table') for (const fk of d.foreignKeys ?? []) txn.put(descriptorStampKey(fk.refTableId), EMPTY);
}

const EMPTY = Buffer.alloc(0);

/** Bumps the catalog version; part of every DDL txn (so concurrent DDL conflicts: 40001). */
export async function bumpVersion(txn: Txn): Promise<bigint> {
  const v = (await readCatalogVersion(txn)) + 1n;
  txn.put(versionKey(), encodeInt(v));
  return v;
}

/**
 * Reserves the next descriptor id in a transaction of its own, committed before the caller's DDL:
 * like PostgreSQL's OIDs, an id is never handed out twice, even when the DDL that took it rolls
 * back. State kept outside transactions under an id (a sequence's value, written by nextval and
 * setval as they happen; a gateway's cached block of sequence values) can then never attach to a
 * later object that would otherwise have reused the id of a rolled-back one.
 */
export async function allocateId(newTxn: () => Txn, retry: <T>(fn: () => Promise<T>) => Promise<T>): Promise<number> {
  return retry(async () => {
    const txn = newTxn();
    const next = decodeInt(await txn.get(nextIdKey())) ?? BigInt(FIRST_USER_ID);
    txn.put(nextIdKey(), encodeInt(next + 1n));
    await txn.commit();
    return Number(next);
  });
}
