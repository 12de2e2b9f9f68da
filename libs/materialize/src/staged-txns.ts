// Persistent bookkeeping of staged (large, chunked) transactions: one record per transaction
// and one per staged chunk, both under the hashed local prefix so they travel in snapshots and
// count in the state hash. See StageEntry / ResolveStagedEntry in @weft/logentry.
//
//   h/stg/<txnId>             u8 format | u8 state | u64 readTs | u64 commitTs | u32 nextSeq | u64 lastIndex
//   h/stgk/<txnId><u32 seq>   u32 key count, then per key u32 length + key bytes
import type { Timestamp } from '@weft/logentry';
import { localKey } from '@weft/storage';

/**
 * pending: open, chunks may still arrive; prepared: part of a multi-shard commit, waiting for
 * the decision recorded on its primary's shard (neither the sweep nor a rollback may end it
 * here); committed/aborted: decided, chunks being settled.
 */
export type StagedState = 'pending' | 'committed' | 'aborted' | 'prepared';

export interface StagedTxn {
  readonly txnId: Buffer;
  state: StagedState;
  readonly readTs: Timestamp;
  /** Meaningful once committed. */
  commitTs: Timestamp;
  /** The seq the next stage entry must carry. */
  nextSeq: number;
  /** Chunk records not yet resolved. */
  chunks: number;
  /** Raft index of the last entry that staged or decided this transaction. */
  lastIndex: number;
}

const META_FORMAT = 1;
// Stored as the index in this list: new states go at the end.
const STATES: readonly StagedState[] = ['pending', 'committed', 'aborted', 'prepared'];
const META_PREFIX = Buffer.from('h/stg/');
const CHUNK_PREFIX = Buffer.from('h/stgk/');

/** [gte, lt) of every staged-transaction record. */
export function metaRange(): [Buffer, Buffer] {
  return [localKey(META_PREFIX), localKey(Buffer.from('h/stg0'))];
}

/** [gte, lt) of one transaction's chunk records, lowest seq first. */
export function chunkRange(txnId: Buffer): [Buffer, Buffer] {
  const lo = Buffer.concat([CHUNK_PREFIX, txnId]);
  const hi = Buffer.concat([CHUNK_PREFIX, txnId, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])]);
  return [localKey(lo), localKey(hi)];
}

export function metaKey(txnId: Buffer): Buffer {
  return localKey(Buffer.concat([META_PREFIX, txnId]));
}

export function chunkKey(txnId: Buffer, seq: number): Buffer {
  const s = Buffer.allocUnsafe(4);
  s.writeUInt32BE(seq, 0);
  return localKey(Buffer.concat([CHUNK_PREFIX, txnId, s]));
}

export function encodeMeta(t: StagedTxn): Buffer {
  const b = Buffer.allocUnsafe(2 + 8 + 8 + 4 + 8);
  b[0] = META_FORMAT;
  b[1] = STATES.indexOf(t.state);
  b.writeBigUInt64BE(t.readTs, 2);
  b.writeBigUInt64BE(t.commitTs, 10);
  b.writeUInt32BE(t.nextSeq, 18);
  b.writeBigUInt64BE(BigInt(t.lastIndex), 22);
  return b;
}

/** Decodes a record read back from the store (chunk count supplied by the caller). */
export function decodeMeta(txnId: Buffer, raw: Buffer, chunks: number): StagedTxn {
  if (raw.length !== 30 || raw[0] !== META_FORMAT || raw[1] >= STATES.length) {
    throw new Error(`staged transaction record of ${txnId.toString('hex')} is unreadable (${raw.length} bytes)`);
  }
  return {
    txnId,
    state: STATES[raw[1]],
    readTs: raw.readBigUInt64BE(2),
    commitTs: raw.readBigUInt64BE(10),
    nextSeq: raw.readUInt32BE(18),
    chunks,
    lastIndex: Number(raw.readBigUInt64BE(22)),
  };
}

/** The txnId inside a record key produced by metaKey(). */
export function txnIdOfMetaKey(rawKey: Buffer): Buffer {
  const at = rawKey.indexOf(META_PREFIX);
  return Buffer.from(rawKey.subarray(at + META_PREFIX.length));
}

export function encodeChunk(keys: readonly Buffer[]): Buffer {
  let n = 4;
  for (const k of keys) n += 4 + k.length;
  const b = Buffer.allocUnsafe(n);
  b.writeUInt32BE(keys.length, 0);
  let at = 4;
  for (const k of keys) {
    b.writeUInt32BE(k.length, at);
    k.copy(b, at + 4);
    at += 4 + k.length;
  }
  return b;
}

export function decodeChunk(raw: Buffer): Buffer[] {
  const n = raw.readUInt32BE(0);
  const out: Buffer[] = [];
  let at = 4;
  for (let i = 0; i < n; i++) {
    const len = raw.readUInt32BE(at);
    out.push(raw.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (at !== raw.length) throw new Error(`staged chunk record is malformed (${raw.length} bytes, ${n} keys)`);
  return out;
}
