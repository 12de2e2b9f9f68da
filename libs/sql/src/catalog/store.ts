// Where the catalog lives: in the shard's own keyspace, so DDL is transactional, survives
// restarts and every gateway sees it.
//   /1/1/<descriptor id int8>   -> JSON descriptor
//   /1/2/<name text>            -> int8 counters: 'version' (bumped by every DDL), 'next_id'
//   /2/1/<sequence id int8>     -> int8 current value of a sequence
// User tables get descriptor ids >= FIRST_USER_ID, so system table ids never collide.
import { decodeRow, encodeIndexKey, encodeRow, indexSpan, type IndexKeySpec } from '@weft/storage';
import type { Txn } from '@weft/txn';
import type { Descriptor } from './descriptors';

export const FIRST_USER_ID = 100;
const DESC: IndexKeySpec = { tableId: 1, indexId: 1, types: ['int8'], directions: ['asc'] };
const META: IndexKeySpec = { tableId: 1, indexId: 2, types: ['text'], directions: ['asc'] };
const SEQ: IndexKeySpec = { tableId: 2, indexId: 1, types: ['int8'], directions: ['asc'] };

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

export async function readCatalogVersion(txn: Txn): Promise<bigint> {
  return decodeInt(await txn.get(versionKey())) ?? 0n;
}

export async function loadDescriptors(txn: Txn): Promise<Descriptor[]> {
  const { start, end } = indexSpan(DESC);
  const out: Descriptor[] = [];
  for await (const row of txn.scan(start, end)) out.push(JSON.parse(row.value.toString('utf8'), reviver) as Descriptor);
  return out;
}

export function writeDescriptor(txn: Txn, d: Descriptor): void {
  txn.put(descKey(d.id), Buffer.from(JSON.stringify(d, replacer), 'utf8'));
}

export function deleteDescriptor(txn: Txn, id: number): void {
  txn.delete(descKey(id));
}

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
