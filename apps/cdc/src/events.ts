// One committed transaction's raw row changes (capture.ts) → the Kafka messages that publish it:
// BEGIN on the database's transaction topic, one change event per row on its table's topic,
// END with the counts. Decoding uses the table's descriptor as of the commit timestamp.
import type { CommittedChanges } from './capture';
import type { CatalogView, ResolvedTable } from './catalog-view';
import { beginEvent, changeEvent, changeTopic, dataCollection, endEvent, opOf, boundaryId, transactionTopic } from './envelope';
import { keyJson, rowJson } from './row-json';

export interface OutMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
}

export interface BuildContext {
  readonly prefix: string;
  readonly shard: number;
  readonly catalog: CatalogView;
  readonly nowMs: number;
}

/** The messages of one transaction, in the order they must be produced; [] if it changed no user row. */
export function transactionMessages(c: BuildContext, t: CommittedChanges): { messages: OutMessage[]; undecodable: number } {
  const tables = new Map<number, ResolvedTable | undefined>();
  const rows: OutMessage[] = [];
  const counts = new Map<string, number>();
  let db: string | undefined;
  let undecodable = 0;
  const id = boundaryId(t.txId, c.shard);
  for (const ch of t.changes) {
    let rt = tables.get(ch.tableId);
    if (!tables.has(ch.tableId)) {
      rt = c.catalog.table(ch.tableId, t.commitTs);
      tables.set(ch.tableId, rt);
    }
    if (rt === undefined) {
      // A row of a table the catalog does not know at its commit: cannot be named or decoded.
      undecodable++;
      continue;
    }
    const before = ch.before === undefined ? null : rowJson(rt.table, ch.before);
    const after = ch.after === undefined ? null : rowJson(rt.table, ch.after);
    const op = opOf(before, after);
    const image = ch.after ?? ch.before;
    if (op === undefined || image === undefined) continue;
    const names = { db: rt.db, schema: rt.schema, table: rt.table.name };
    const collection = dataCollection(names);
    const n = (counts.get(collection) ?? 0) + 1;
    counts.set(collection, n);
    db ??= rt.db;
    const ev = changeEvent(c.prefix, { ...names, shard: c.shard, index: t.index, commitTs: t.commitTs, txId: t.txId }, before, after, op, c.nowMs, {
      totalOrder: rows.length + 1,
      collectionOrder: n,
    });
    rows.push({ topic: changeTopic(c.prefix, names), key: JSON.stringify(keyJson(rt.table, image)), value: JSON.stringify(ev) });
  }
  if (rows.length === 0 || db === undefined) return { messages: [], undecodable };
  const txTopic = transactionTopic(c.prefix, db);
  const txKey = JSON.stringify({ id });
  return {
    messages: [
      { topic: txTopic, key: txKey, value: JSON.stringify(beginEvent(id, c.nowMs)) },
      ...rows,
      { topic: txTopic, key: txKey, value: JSON.stringify(endEvent(id, counts, c.nowMs)) },
    ],
    undecodable,
  };
}
