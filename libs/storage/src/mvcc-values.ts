// Values stored under MVCC keys. A version is a tag byte then the user value; an intent carries
// its transaction's identity so any reader (or replica) can tell whose provisional write it met.
//
//   version:   0x00                               tombstone
//              0x01 <value>                       value
//   intent:    0x02 0x01(format) uvarint len <txnId utf8> u64 ts u8 flags
//              [uvarint len <primary key>] [<value>]
//              flags: bit0 = has value (else: provisional delete), bit1 = has primary key

import { ByteReader, ByteWriter, CorruptEncodingError } from './bytes';
import { Timestamp } from './mvcc-keys';

const V_TOMBSTONE = 0x00;
const V_VALUE = 0x01;
const V_INTENT = 0x02;
const INTENT_FORMAT = 0x01;
const F_VALUE = 0x01;
const F_PRIMARY = 0x02;

/** A provisional write owned by a transaction (2PC prepare), one per user key at most. */
export interface Intent {
  readonly txnId: string;
  /** The transaction's provisional (start/prepare) timestamp. */
  readonly ts: Timestamp;
  /** The value to commit, or null for a provisional delete. */
  readonly value: Buffer | null;
  /** User key of the transaction's primary (where its decision is recorded), if known. */
  readonly primary?: Buffer;
}

export const TOMBSTONE = Buffer.from([V_TOMBSTONE]);

export function encodeVersion(value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(value.length + 1);
  out[0] = V_VALUE;
  out.set(value, 1);
  return out;
}

/** The user value of a stored version, or null for a tombstone. */
export function decodeVersion(raw: Buffer): Buffer | null {
  if (raw[0] === V_VALUE) return raw.subarray(1);
  if (raw[0] === V_TOMBSTONE && raw.length === 1) return null;
  throw new CorruptEncodingError(`bad MVCC version tag ${raw[0]}`);
}

export function encodeIntent(intent: Intent): Buffer {
  const txn = Buffer.from(intent.txnId, 'utf8');
  const w = new ByteWriter(24 + txn.length + (intent.value?.length ?? 0) + (intent.primary?.length ?? 0));
  w.u8(V_INTENT);
  w.u8(INTENT_FORMAT);
  w.uvarint(txn.length);
  w.bytes(txn);
  w.u64be(intent.ts);
  w.u8((intent.value !== null ? F_VALUE : 0) | (intent.primary !== undefined ? F_PRIMARY : 0));
  if (intent.primary !== undefined) {
    w.uvarint(intent.primary.length);
    w.bytes(intent.primary);
  }
  if (intent.value !== null) w.bytes(intent.value);
  return w.finish();
}

export function decodeIntent(raw: Buffer): Intent {
  const r = new ByteReader(raw);
  if (r.u8() !== V_INTENT) throw new CorruptEncodingError('intent slot holds a non-intent value');
  const format = r.u8();
  if (format !== INTENT_FORMAT) throw new CorruptEncodingError(`unsupported intent format ${format}`);
  const txnId = r.take(r.uvarint()).toString('utf8');
  const ts = r.u64be();
  const flags = r.u8();
  let primary: Buffer | undefined;
  if (flags & F_PRIMARY) primary = r.take(r.uvarint());
  const value = flags & F_VALUE ? raw.subarray(r.pos) : null;
  return primary === undefined ? { txnId, ts, value } : { txnId, ts, value, primary };
}
