// One mirrored log entry as a Kafka record: key = shard id, value = the entry's bytes exactly
// as Raft committed them (@weft/logentry format; empty for Raft no-op and membership entries),
// headers say where it sits in the log and what applying it did. A `gap` record stands for
// entries [gapFrom, index] that could not be mirrored (the bounded backlog overflowed while
// Kafka was away and the Raft log was compacted past them): consumers must rebuild from a
// snapshot past it. See README.md.

import type { IHeaders, Message } from 'kafkajs';
import type { OutcomeSummary } from '@weft/materialize';

/** What applying the entry did: `empty` for Raft no-op/membership entries (nothing to apply). */
export type MirroredOutcome =
  | OutcomeSummary
  | { readonly status: 'empty' }
  /** Applied before this replica kept outcomes (an upgraded node): consumers apply it to learn. */
  | { readonly status: 'unknown' }
  | { readonly status: 'gap'; readonly gapFrom: number };

export interface LogRecord {
  readonly shardId: number;
  /** Raft index (for a gap: the last index it stands for). */
  readonly index: number;
  /** Raft term of the entry (0 for a gap). */
  readonly term: number;
  readonly outcome: MirroredOutcome;
  /** The entry bytes (empty for `empty` and `gap`). */
  readonly data: Buffer;
}

export const HEADER = {
  shard: 'weft.shard',
  index: 'weft.index',
  term: 'weft.term',
  outcome: 'weft.outcome',
  /** Commit timestamp (µs since the epoch) of a committed entry; the intents' ts of a prepare. */
  commitTs: 'weft.commit_ts',
  sqlstate: 'weft.sqlstate',
  gapFrom: 'weft.gap_from',
} as const;

/** The Kafka message for a record (key = shard id as text, so one shard is one ordered stream). */
export function toMessage(r: LogRecord): Message {
  const headers: IHeaders = {
    [HEADER.shard]: String(r.shardId),
    [HEADER.index]: String(r.index),
    [HEADER.term]: String(r.term),
    [HEADER.outcome]: r.outcome.status,
  };
  const o = r.outcome;
  if (o.status === 'committed') headers[HEADER.commitTs] = o.commitTs.toString();
  if (o.status === 'applied' && o.ts !== undefined) headers[HEADER.commitTs] = o.ts.toString();
  if (o.status === 'aborted') headers[HEADER.sqlstate] = o.sqlstate;
  if (o.status === 'gap') headers[HEADER.gapFrom] = String(o.gapFrom);
  return { key: String(r.shardId), value: r.data, headers };
}

export class LogRecordError extends Error {
  override readonly name = 'LogRecordError';
}

function header(h: IHeaders | undefined, name: string): string | undefined {
  const v = h?.[name];
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

function required(h: IHeaders | undefined, name: string, where: string): string {
  const v = header(h, name);
  if (v === undefined) throw new LogRecordError(`${where}: header ${name} is missing`);
  return v;
}

function uint(s: string, name: string, where: string): number {
  if (!/^\d{1,15}$/.test(s)) throw new LogRecordError(`${where}: header ${name}=${JSON.stringify(s)} is not an unsigned integer`);
  return Number(s);
}

/** Reads a consumed Kafka message back into a record; throws LogRecordError naming what is wrong. */
export function fromMessage(m: { readonly value: Buffer | null; readonly headers?: IHeaders; readonly offset?: string }, where = `offset ${m.offset ?? '?'}`): LogRecord {
  const h = m.headers;
  const shardId = uint(required(h, HEADER.shard, where), HEADER.shard, where);
  const index = uint(required(h, HEADER.index, where), HEADER.index, where);
  const term = uint(required(h, HEADER.term, where), HEADER.term, where);
  const status = required(h, HEADER.outcome, where);
  const ts = header(h, HEADER.commitTs);
  let outcome: MirroredOutcome;
  switch (status) {
    case 'committed':
      if (ts === undefined) throw new LogRecordError(`${where}: committed entry without ${HEADER.commitTs}`);
      outcome = { status, commitTs: BigInt(ts) };
      break;
    case 'applied':
      outcome = ts === undefined ? { status } : { status, ts: BigInt(ts) };
      break;
    case 'aborted':
      outcome = { status, sqlstate: header(h, HEADER.sqlstate) ?? '' };
      break;
    case 'empty':
    case 'unknown':
      outcome = { status };
      break;
    case 'gap':
      outcome = { status, gapFrom: uint(required(h, HEADER.gapFrom, where), HEADER.gapFrom, where) };
      break;
    default:
      throw new LogRecordError(`${where}: unknown outcome ${JSON.stringify(status)}`);
  }
  return { shardId, index, term, outcome, data: m.value ?? Buffer.alloc(0) };
}
