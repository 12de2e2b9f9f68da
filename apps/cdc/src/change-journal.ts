// The CDC replica's key journal (decision 0039): for every entry that may commit rows and is not
// published yet, the transaction id and the keys it would commit, written to the replica's
// RocksDB just BEFORE the entry is applied. After a SIGKILL between apply and the Kafka commit
// (replica index A > published index E), the changes of (E, A] are derived again from it: the
// outcome journal (Materializer.outcomeAt) says which of those entries committed and at what
// timestamp, and the MVCC history still holds every image at those timestamps (capture.ts
// imagesAt). The keys are what the replica cannot give back: a 2PC resolve and a staged commit
// do not list them, and apply forgets the prepared key list and (later) the staged chunks.
//
// Layout, unhashed local keys (outside the state hash, like the outcome journal):
//   cdc/j/<index u64be>  u8 format | u16 txnId length | txnId | u32 key count | (u32 length | key)*
//   cdc/journal-from     u64be: the first index applied with this journal in place. Entries
//                        below it (a replica written before the journal existed) are not
//                        covered, and a crash there falls back to the rebuild from the topic.
// Records at or below the published index are useless and deleted with the next record's write
// (or at start); the journal holds about one consumed batch.
import { localKey, RocksBatch, type RocksDb } from '@weft/storage';

const FORMAT = 1;
const PREFIX = Buffer.from('cdc/j/');
const FROM_KEY = localKey('cdc/journal-from');

export interface JournalRecord {
  readonly txnId: Buffer;
  readonly keys: readonly Buffer[];
}

export function journalKey(index: number): Buffer {
  const k = Buffer.allocUnsafe(PREFIX.length + 8);
  PREFIX.copy(k, 0);
  k.writeBigUInt64BE(BigInt(index), PREFIX.length);
  return localKey(k);
}

export function encodeJournalRecord(r: JournalRecord): Buffer {
  let n = 1 + 2 + r.txnId.length + 4;
  for (const k of r.keys) n += 4 + k.length;
  const b = Buffer.allocUnsafe(n);
  b[0] = FORMAT;
  b.writeUInt16BE(r.txnId.length, 1);
  r.txnId.copy(b, 3);
  let at = 3 + r.txnId.length;
  b.writeUInt32BE(r.keys.length, at);
  at += 4;
  for (const k of r.keys) {
    b.writeUInt32BE(k.length, at);
    k.copy(b, at + 4);
    at += 4 + k.length;
  }
  return b;
}

export function decodeJournalRecord(b: Buffer): JournalRecord {
  if (b.length < 7 || b[0] !== FORMAT) throw new Error(`cdc journal record is unreadable (format ${b[0]}, ${b.length} bytes)`);
  const idLen = b.readUInt16BE(1);
  const txnId = Buffer.from(b.subarray(3, 3 + idLen));
  let at = 3 + idLen;
  const count = b.readUInt32BE(at);
  at += 4;
  const keys: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const len = b.readUInt32BE(at);
    keys.push(Buffer.from(b.subarray(at + 4, at + 4 + len)));
    at += 4 + len;
  }
  if (at !== b.length) throw new Error(`cdc journal record is malformed (${b.length} bytes, ${count} keys)`);
  return { txnId, keys };
}

/** One replica's journal. Not thread-safe; the feed is its only writer. */
export class ChangeJournal {
  /** Indexes recorded and not deleted yet, ascending. */
  private recorded: number[] = [];

  constructor(private readonly db: RocksDb) {}

  /**
   * Marks entries from `appliedIndex + 1` on as covered, unless an earlier mark exists (a
   * reopened replica keeps its coverage); call on every newly opened or installed store.
   */
  cover(appliedIndex: number): void {
    if (this.coveredFrom() !== undefined) return;
    const v = Buffer.allocUnsafe(8);
    v.writeBigUInt64BE(BigInt(appliedIndex + 1), 0);
    const b = new RocksBatch();
    b.put(FROM_KEY, v);
    this.db.write(b);
  }

  /** The first index whose entries are journaled, undefined if none is marked. */
  coveredFrom(): number | undefined {
    const v = this.db.getMany([FROM_KEY])[0];
    return v === undefined ? undefined : Number(v.readBigUInt64BE(0));
  }

  /**
   * Writes the record of the entry at `index` (before it is applied) and deletes the records at
   * or below `published` in the same write. Written in index order ahead of the apply batch:
   * RocksDB's WAL recovers a prefix of the writes, so an applied entry's record survives with it.
   */
  record(index: number, r: JournalRecord, published: number): void {
    const b = new RocksBatch();
    while (this.recorded.length > 0 && this.recorded[0] <= published) b.del(journalKey(this.recorded.shift() as number));
    b.put(journalKey(index), encodeJournalRecord(r));
    this.db.write(b);
    this.recorded.push(index);
  }

  read(index: number): JournalRecord | undefined {
    const v = this.db.getMany([journalKey(index)])[0];
    return v === undefined ? undefined : decodeJournalRecord(v);
  }

  /** Deletes every record at or below `upTo` (at start: records a crash left behind). */
  prune(upTo: number): void {
    const b = new RocksBatch();
    const it = this.db.iterator({ gte: journalKey(0), lt: journalKey(upTo + 1), values: false, fillCache: false });
    try {
      for (;;) {
        const { rows, finished } = it.next(256);
        for (let i = 0; i < rows.length; i += 2) b.del(rows[i]);
        if (finished || rows.length === 0) break;
      }
    } finally {
      it.close();
    }
    if (b.count > 0) this.db.write(b);
    this.recorded = this.recorded.filter((i) => i > upTo);
  }

  /** Indexes with a record above `after` (at start: they are still unpublished). */
  recordedAfter(after: number): number[] {
    const out: number[] = [];
    const it = this.db.iterator({ gte: journalKey(after + 1), lt: localKey(Buffer.from('cdc/j0')), values: false, fillCache: false });
    try {
      for (;;) {
        const { rows, finished } = it.next(256);
        for (let i = 0; i < rows.length; i += 2) out.push(Number(rows[i].readBigUInt64BE(1 + PREFIX.length)));
        if (finished || rows.length === 0) break;
      }
    } finally {
      it.close();
    }
    this.recorded = [...new Set([...this.recorded, ...out])].sort((a, b) => a - b);
    return out;
  }
}
