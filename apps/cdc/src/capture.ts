// Applies one log entry to the CDC service's own replica of a shard and says which rows it
// committed, with their stored images before and after. Entries carry no before-images, so they
// come from the replica's MVCC state (decision 0034):
//  - which keys: the entry that commits a transaction names them, or — for a 2PC resolve and a
//    staged (large) transaction — the replica knows them (Materializer.pendingTxnKeys), read
//    BEFORE the entry applies because apply forgets them;
//  - the images: after the entry applied, the version at the commit timestamp is the after-image
//    and the newest version below it the before-image. A staged transaction's rows are still
//    intents at its commit (resolve-staged entries turn them into versions later): they read as
//    versions at the commit timestamp, as every reader of the shard sees them.
// Only the entry that decides a transaction yields changes, so aborted, rolled-back and
// prepared-then-aborted writes never do, and a staged transaction yields all its rows once.
import { decodeEntry, type ApplyOutcome, type LogEntry } from '@weft/logentry';
import type { Materializer } from '@weft/materialize';
import { HASHED_TABLE_MIN, keyRoute, type Timestamp } from '@weft/storage';

/** The primary index id of every table: rows are stored under it. */
export const PRIMARY_INDEX_ID = 1;

export interface RawChange {
  readonly tableId: number;
  readonly key: Buffer;
  /** Stored row before the transaction (undefined: the key had no row). */
  readonly before: Buffer | undefined;
  /** Stored row after it (undefined: deleted). */
  readonly after: Buffer | undefined;
}

/** The rows one entry committed. */
export interface CommittedChanges {
  readonly index: number;
  readonly txId: string;
  readonly commitTs: Timestamp;
  readonly changes: readonly RawChange[];
}

/** A user table's row key (secondary index entries and system tables are not changes). */
function rowTable(key: Buffer): number | undefined {
  const r = keyRoute(key);
  return r !== undefined && r.tableId >= HASHED_TABLE_MIN && r.indexId === PRIMARY_INDEX_ID ? r.tableId : undefined;
}

/** The keys the entry would commit if it commits, or undefined if it cannot commit rows. */
function candidateKeys(sm: Materializer, entry: LogEntry): { txnId: Buffer; keys: readonly Buffer[] } | undefined {
  if (entry.type === 'commit') {
    const pending = sm.pendingTxnKeys(entry.txnId);
    // A re-proposed commit of a staged transaction already decided here changes nothing.
    if (pending.staged !== undefined && pending.staged !== 'pending') return undefined;
    return { txnId: entry.txnId, keys: [...pending.keys, ...entry.writes.map((w) => w.key)] };
  }
  if (entry.type === 'resolve' && entry.decision.kind === 'commit') {
    const pending = sm.pendingTxnKeys(entry.txnId);
    // Not prepared here: a re-delivered resolve, or the prepare aborted: nothing to commit.
    if (!pending.prepared) return undefined;
    return { txnId: entry.txnId, keys: pending.keys };
  }
  return undefined;
}

/**
 * Applies the entry at `index` and returns what it committed to user tables, if anything.
 * Throws what apply throws; the caller stops the shard then.
 */
export function applyAndCapture(sm: Materializer, index: number, data: Uint8Array): { outcome: ApplyOutcome | 'already-applied'; committed?: CommittedChanges } {
  if (index <= sm.appliedIndex) return { outcome: 'already-applied' };
  return applyEntryAndCapture(sm, index, decodeEntry(data));
}

/**
 * applyAndCapture for a decoded entry; `beforeApply` is told the transaction and the keys the
 * entry would commit (only for an entry that may commit rows) before it is applied — the CDC
 * feed journals them there (change-journal.ts).
 */
export function applyEntryAndCapture(
  sm: Materializer, index: number, entry: LogEntry, beforeApply?: (txnId: Buffer, keys: readonly Buffer[]) => void,
): { outcome: ApplyOutcome | 'already-applied'; committed?: CommittedChanges } {
  if (index <= sm.appliedIndex) return { outcome: 'already-applied' };
  const cand = candidateKeys(sm, entry);
  if (cand !== undefined) beforeApply?.(cand.txnId, cand.keys);
  const outcome = sm.applyDecoded(index, entry);
  if (cand === undefined || outcome.status !== 'committed') return { outcome };
  return { outcome, committed: imagesAt(sm, index, cand.txnId, outcome.commitTs, cand.keys) };
}

/**
 * The committed rows of a transaction that committed `keys` at `commitTs`, read from the
 * replica's MVCC history — right after the entry applied, or later as long as nothing since
 * removed versions at or below `commitTs` (a gc entry; the CDC feed publishes before applying
 * one): later entries only add versions above it on those keys (a key with another
 * transaction's intent or newer version could not have committed below it), so the newest
 * version below `commitTs` and the version at it are what they were at the commit.
 */
export function imagesAt(sm: Materializer, index: number, txnId: Buffer, commitTs: Timestamp, keys: readonly Buffer[]): CommittedChanges {
  const txn = txnId.toString('hex');
  const seen = new Set<string>();
  const changes: RawChange[] = [];
  for (const key of keys) {
    const tableId = rowTable(key);
    if (tableId === undefined) continue;
    const k = key.toString('hex');
    if (seen.has(k)) continue;
    seen.add(k);
    const after = sm.store.get(key, commitTs, { intentStatus: (id) => (id === txn ? { committedAt: commitTs } : 'ignore') });
    const before = sm.store.get(key, commitTs - 1n, { intentStatus: () => 'ignore' });
    changes.push({
      tableId,
      key: Buffer.from(key),
      before: before.kind === 'found' ? before.value : undefined,
      after: after.kind === 'found' && after.ts === commitTs ? after.value : undefined,
    });
  }
  return { index, txId: txn, commitTs, changes };
}
