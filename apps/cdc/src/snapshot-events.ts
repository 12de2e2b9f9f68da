// The initial snapshot's events (decision 0037): one `op: "r"` event per live row of every user
// table in a shard's state at one applied index I, read at the snapshot timestamp S (the newest
// of the state's closed and last commit timestamps: every commit of an entry <= I is at or
// below it). "Live" is the committed state at I exactly: a staged transaction committed by an
// entry <= I reads as its rows even where its intents are not resolved yet; an intent of a
// transaction that is open, prepared or aborted at I is read past — if it commits, a later
// entry does so and the stream after I publishes it. So snapshot + stream from I+1 neither miss
// nor repeat a change.
//
// Rows are decoded with the descriptors as of S (the caller waits until the catalog is settled
// there), the shape every row has for a reader at S. Events of a snapshot carry no transaction
// block (as Debezium's), source.index = I, source.commit_ts = S, source.txId = '' and
// source.snapshot 'true', 'last' on the last event of the shard's snapshot.
//
// A re-snapshot after a gap (mode when_needed) also knows the state it replaces, which its
// consumers were told about: a row live there and gone at I was deleted inside the gap, and
// gets an `op: "d"` event (before = its last published image) ahead of the `r` events, so a
// consumer that applies the events ends with the shard's rows at I, deletions included.
import type { Materializer } from '@weft/materialize';
import { indexSpan, type Timestamp } from '@weft/storage';
import { PRIMARY_INDEX_ID } from './capture';
import type { ResolvedTable, SnapshotCatalog } from './catalog-view';
import { changeEvent, changeTopic, type ChangeEvent, type Op } from './envelope';
import type { OutMessage } from './events';
import { keyJson, rowJson } from './row-json';

export interface SnapshotContext {
  /** Change-topic prefix (and source.name). */
  readonly prefix: string;
  readonly shard: number;
  readonly catalog: SnapshotCatalog;
  readonly nowMs: number;
}

/** Where a snapshot is taken: a state's applied index and the timestamp its rows are read at. */
export interface SnapshotPoint {
  readonly index: number;
  readonly ts: Timestamp;
}

export interface SnapshotCounts {
  /** `r` events: live rows at the snapshot. */
  readonly reads: number;
  /** `d` events: rows of the replaced state that are gone at the snapshot (re-snapshot only). */
  readonly deletes: number;
  readonly tables: number;
}

/** The point of a state: its applied index, read at the newest of its closed and last commit timestamps. */
export function snapshotPoint(sm: Materializer): SnapshotPoint {
  return { index: sm.appliedIndex, ts: sm.closedTs > sm.lastCommitTs ? sm.closedTs : sm.lastCommitTs };
}

const PAGE = 512;

/** Every live row of `table` in `sm` at `ts`, in key order, paged. */
function* liveRows(sm: Materializer, table: ResolvedTable, ts: Timestamp): Generator<{ key: Buffer; value: Buffer }> {
  if (ts === 0n) return;
  // Any key types will do: only the /<table>/<primary index>/ prefix is used.
  const span = indexSpan({ tableId: table.table.id, indexId: PRIMARY_INDEX_ID, types: ['int8'], directions: ['asc'], hashColumns: 1 });
  let start = span.start;
  for (;;) {
    const page = sm.store.scan(start, span.end, ts, { limit: PAGE, intentStatus: sm.committedIntentVerdict });
    // The verdict is defined for every intent, so no read conflicts here.
    if (page.kind !== 'rows') throw new Error(`snapshot of table ${table.table.id}: unexpected intent conflict`);
    for (const r of page.rows) yield { key: r.key, value: r.value };
    if (page.resumeKey === undefined) return;
    start = page.resumeKey;
  }
}

/**
 * The snapshot's messages in the order they must be produced (deletes of a replaced state
 * first, then reads, table by table in key order); returns the counts. `replaced`: the state a
 * re-snapshot replaces, with its own point.
 */
export function* snapshotMessages(
  c: SnapshotContext, state: Materializer, at: SnapshotPoint, replaced?: { readonly sm: Materializer; readonly at: SnapshotPoint },
): Generator<OutMessage, SnapshotCounts> {
  const tables = c.catalog.tables(at.ts);
  // One event held back so the last one can be marked 'last'.
  let held: { topic: string; key: string; event: ChangeEvent } | undefined;
  const release = (marker: 'true' | 'last'): OutMessage | undefined => {
    if (held === undefined) return undefined;
    const m = { topic: held.topic, key: held.key, value: JSON.stringify({ ...held.event, source: { ...held.event.source, snapshot: marker } }) };
    held = undefined;
    return m;
  };
  const event = (t: ResolvedTable, op: Op, stored: Buffer): { topic: string; key: string; event: ChangeEvent } => {
    const names = { db: t.db, schema: t.schema, table: t.table.name };
    const image = rowJson(t.table, stored);
    const src = { ...names, shard: c.shard, index: at.index, commitTs: at.ts, txId: '' };
    return {
      topic: changeTopic(c.prefix, names),
      key: JSON.stringify(keyJson(t.table, stored)),
      event: changeEvent(c.prefix, src, op === 'd' ? image : null, op === 'd' ? null : image, op, c.nowMs, undefined, 'true'),
    };
  };
  let reads = 0;
  let deletes = 0;
  if (replaced !== undefined) {
    for (const t of tables) {
      for (const row of liveRows(replaced.sm, t, replaced.at.ts)) {
        const now = state.store.get(row.key, at.ts, { intentStatus: state.committedIntentVerdict });
        if (now.kind === 'found') continue;
        const out = release('true');
        if (out !== undefined) yield out;
        held = event(t, 'd', row.value);
        deletes++;
      }
    }
  }
  for (const t of tables) {
    for (const row of liveRows(state, t, at.ts)) {
      const out = release('true');
      if (out !== undefined) yield out;
      held = event(t, 'r', row.value);
      reads++;
    }
  }
  const last = release('last');
  if (last !== undefined) yield last;
  return { reads, deletes, tables: tables.length };
}
