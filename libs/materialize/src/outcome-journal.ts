// The outcome journal: the outcome of every applied entry, kept under an unhashed local key
// (`o/<index u64be>`) written in the entry's own apply batch. Outcomes exist only once an
// entry is applied; the leader that mirrors the log to Kafka needs them for entries it may
// have applied before it became leader or before a restart, so they are kept with the state
// they belong to (a crash keeps both or neither). Pruned together with the Raft log (an
// outcome is useless once its entry is no longer in the log to be mirrored). Not hashed: how far
// each replica has pruned is its own business.

import type { ApplyOutcome, Timestamp } from '@weft/logentry';
import { localKey } from '@weft/storage';

const PREFIX = 'o/';
const PREFIX_BYTES = Buffer.from(PREFIX);
const START = localKey(PREFIX_BYTES);
const END = localKey(Buffer.from([PREFIX_BYTES[0], PREFIX_BYTES[1] + 1]));

/** What the mirror publishes of an entry's outcome: the status, its timestamp and SQLSTATE. */
export type OutcomeSummary =
  | { readonly status: 'committed'; readonly commitTs: Timestamp }
  | { readonly status: 'applied'; readonly ts?: Timestamp }
  | { readonly status: 'aborted'; readonly sqlstate: string };

const STATUS = { committed: 1, applied: 2, aborted: 3 } as const;

export function outcomeKey(index: number): Buffer {
  const k = Buffer.allocUnsafe(PREFIX_BYTES.length + 8);
  PREFIX_BYTES.copy(k, 0);
  k.writeBigUInt64BE(BigInt(index), PREFIX_BYTES.length);
  return localKey(k);
}

/** [first key, end) of the journal from `from` up to and including `upTo`. */
export function outcomeRange(upTo: number, from = 0): { gte: Buffer; lt: Buffer } {
  return { gte: outcomeKey(from), lt: upTo >= Number.MAX_SAFE_INTEGER ? END : outcomeKey(upTo + 1) };
}

/** Whether a raw store key belongs to the journal (snapshot streams leave it out). */
export function isOutcomeKey(rawKey: Buffer): boolean {
  return rawKey.length === 1 + PREFIX_BYTES.length + 8 && rawKey[0] === START[0] && rawKey[1] === PREFIX_BYTES[0] && rawKey[2] === PREFIX_BYTES[1];
}

/** status u8 | ts u64be (0 = none) | sqlstate (aborted only, 5 ASCII bytes). */
export function encodeOutcome(o: ApplyOutcome): Buffer {
  const sqlstate = o.status === 'aborted' ? Buffer.from(o.sqlstate, 'latin1') : undefined;
  const b = Buffer.alloc(9 + (sqlstate?.length ?? 0));
  b[0] = STATUS[o.status];
  const ts = o.status === 'committed' ? o.commitTs : o.status === 'applied' ? (o.ts ?? 0n) : 0n;
  b.writeBigUInt64BE(ts, 1);
  sqlstate?.copy(b, 9);
  return b;
}

export function decodeOutcome(b: Buffer): OutcomeSummary {
  if (b.length < 9) throw new Error(`outcome record of ${b.length} bytes is truncated`);
  const ts = b.readBigUInt64BE(1);
  switch (b[0]) {
    case STATUS.committed:
      return { status: 'committed', commitTs: ts };
    case STATUS.applied:
      return ts === 0n ? { status: 'applied' } : { status: 'applied', ts };
    case STATUS.aborted:
      return { status: 'aborted', sqlstate: b.subarray(9).toString('latin1') };
    default:
      throw new Error(`outcome record has unknown status ${b[0]}`);
  }
}
