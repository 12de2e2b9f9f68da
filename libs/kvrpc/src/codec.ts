// The KV RPC wire format: what the gateway (RemoteShardKv) and a node's KV server exchange.
// Binary, little-endian. A frame is [u32 payload length][payload] (the same framing as the Raft
// transport, so FrameReader is shared). Payload: [u8 version][u8 kind][u32 request id][body].
// Requests and responses share the id; responses may come back in any order (pipelining).
// Timestamps are u64; keys, values and log entries are u32-length-prefixed bytes; strings are
// u32-length-prefixed UTF-8. Log entries travel in @weft/logentry's own checksummed encoding.
import type { KvRow, LockReadResult, LockWaitEdge, MetIntent, RefreshResult, ScanFilter, ScanPage, TxnStatus } from '@weft/kv';
import type { ApplyOutcome, ReadSpan, Timestamp } from '@weft/logentry';

/**
 * 2: Get and Scan carry the reading transaction's id (empty: none).
 * 4: TxnStatus; reads answer IntentConflict with the intents met; outcomes carry a prepare's
 *    timestamp and the intent behind a conflict; LockRead, ReleaseLocks, Refresh.
 * 5: Status carries the group's voters; LockWaits (a shard's waits-for edges).
 * 6: Propose carries the caller's W3C trace context (`traceparent`, empty: none), so a write's
 *    trace continues on the node (decision 0030); GetNow (a first read at the leaseholder's clock,
 *    answering the timestamp it used).
 * 7: GetNow reads several keys at the one timestamp (a first read and the catalog version the
 *    gateway assumed, in one round trip); LockRead too (`also`, read at the lock read's ts).
 *    Get, Scan, GetNow and LockRead carry the caller's trace context like Propose.
 * 8: Scan carries a pushed-down row filter (program, args, count-only; decision 0038) and ScanOk
 *    the count of a count-only scan and the partial aggregate of an aggregating one.
 * 9: Get and Scan carry the reader's uncertainty limit (0: none), and a read that meets a
 *    version within it answers Uncertain with that version's timestamp; GetOk and ScanOk carry
 *    the replica's observed timestamp for such a read (0: none) (decision 0055).
 */
export const KVRPC_VERSION = 9;
const HEADER_BYTES = 6; // version, kind, request id
/** Keys one GetNow may read (a first read plus what the transaction assumed): a bound on bad input. */
export const MAX_GET_NOW_KEYS = 64;

export enum Kind {
  Now = 1,
  Get = 2,
  Scan = 3,
  Propose = 4,
  Status = 5,
  TxnStatus = 6,
  LockRead = 7,
  ReleaseLocks = 8,
  Refresh = 9,
  TransferLease = 10,
  LockWaits = 11,
  GetNow = 12,
  NowOk = 0x81,
  GetOk = 0x82,
  ScanOk = 0x83,
  ProposeOk = 0x84,
  StatusOk = 0x85,
  TxnStatusOk = 0x86,
  LockReadOk = 0x88,
  ReleaseLocksOk = 0x89,
  RefreshOk = 0x8a,
  TransferLeaseOk = 0x8b,
  LockWaitsOk = 0x8c,
  GetNowOk = 0x8d,
  /** A read met other transactions' intents: the client resolves them and reads again. */
  IntentConflict = 0x87,
  /** A read met a version within its uncertainty window: the client moves its snapshot up. */
  Uncertain = 0x8e,
  Error = 0xff,
}

/** What a node reports about its replica of a shard (tests, tooling, leader discovery). */
export interface ReplicaStatus {
  readonly nodeId: number;
  readonly leader: number;
  readonly term: number;
  readonly appliedIndex: number;
  readonly closedTs: Timestamp;
  readonly stateHash: Buffer;
  /** The group's voters as this replica knows them (empty: not known yet, e.g. a new replica). */
  readonly voters: readonly number[];
}

export type Request =
  | { readonly kind: Kind.Now; readonly id: number; readonly shardId: number }
  | {
      readonly kind: Kind.Get;
      readonly id: number;
      readonly shardId: number;
      readonly ts: Timestamp;
      readonly key: Buffer;
      /** The reading transaction (sees its own staged intents); empty for none. */
      readonly txnId: Buffer;
      /** The caller's W3C trace context (sampled traces only), as in Propose. */
      readonly traceparent?: string;
      /** The reader's uncertainty limit (decision 0055); absent or 0: none. */
      readonly uncertaintyLimit?: Timestamp;
    }
  | {
      readonly kind: Kind.Scan;
      readonly id: number;
      readonly shardId: number;
      readonly ts: Timestamp;
      readonly start: Buffer;
      readonly end: Buffer;
      /** 0 = no limit. */
      readonly limit: number;
      readonly reverse: boolean;
      /** As for Get. */
      readonly txnId: Buffer;
      /** The caller's W3C trace context (sampled traces only), as in Propose. */
      readonly traceparent?: string;
      /** As for Get. */
      readonly uncertaintyLimit?: Timestamp;
      /** A row filter for the shard (decision 0038). */
      readonly filter?: ScanFilter;
    }
  | { readonly kind: Kind.Propose; readonly id: number; readonly shardId: number; readonly entry: Buffer; readonly traceparent?: string }
  | { readonly kind: Kind.Status; readonly id: number; readonly shardId: number }
  | { readonly kind: Kind.TxnStatus; readonly id: number; readonly shardId: number; readonly txnId: Buffer }
  | {
      readonly kind: Kind.LockRead;
      readonly id: number;
      readonly shardId: number;
      readonly key: Buffer;
      readonly txnId: Buffer;
      readonly waitMs: number;
      readonly minTs: Timestamp;
      readonly readerTxn: Buffer;
      /** Other keys of the shard read at the lock read's timestamp (GetNow's extra keys, for a first locking read). */
      readonly also: readonly Buffer[];
      readonly traceparent?: string;
    }
  | { readonly kind: Kind.ReleaseLocks; readonly id: number; readonly shardId: number; readonly txnId: Buffer }
  | { readonly kind: Kind.LockWaits; readonly id: number; readonly shardId: number }
  | { readonly kind: Kind.GetNow; readonly id: number; readonly shardId: number; readonly minTs: Timestamp; readonly keys: readonly Buffer[]; readonly txnId: Buffer; readonly traceparent?: string }
  | { readonly kind: Kind.TransferLease; readonly id: number; readonly shardId: number; readonly target: number }
  | {
      readonly kind: Kind.Refresh;
      readonly id: number;
      readonly shardId: number;
      readonly txnId: Buffer;
      readonly fromTs: Timestamp;
      readonly toTs: Timestamp;
      readonly reads: readonly ReadSpan[];
    };

/** Error codes: the replica's (see @weft/replica errors) plus the server's own. */
export type WireErrorCode =
  | 'not-leader'
  | 'ambiguous'
  | 'read-ts-too-far'
  | 'stopped'
  | 'unavailable'
  | 'unknown-shard'
  | 'bad-request'
  | 'aborted'
  | 'internal';

const ERROR_CODES: readonly WireErrorCode[] = [
  'not-leader',
  'ambiguous',
  'read-ts-too-far',
  'stopped',
  'unavailable',
  'unknown-shard',
  'bad-request',
  'aborted',
  'internal',
];

export interface WireError {
  readonly code: WireErrorCode;
  readonly sqlstate: string;
  readonly message: string;
  readonly leaderHint: number;
}

export type Response =
  | { readonly kind: Kind.NowOk; readonly id: number; readonly ts: Timestamp }
  /** `observedTs`: the replica's clock reading for a read with an uncertainty limit (decision 0055). */
  | { readonly kind: Kind.GetOk; readonly id: number; readonly row: KvRow | undefined; readonly observedTs?: Timestamp }
  | { readonly kind: Kind.ScanOk; readonly id: number; readonly page: ScanPage; readonly observedTs?: Timestamp }
  | { readonly kind: Kind.ProposeOk; readonly id: number; readonly outcome: ApplyOutcome }
  | { readonly kind: Kind.StatusOk; readonly id: number; readonly status: ReplicaStatus }
  | { readonly kind: Kind.TxnStatusOk; readonly id: number; readonly status: TxnStatus }
  | { readonly kind: Kind.LockReadOk; readonly id: number; readonly result: LockReadResult }
  | { readonly kind: Kind.ReleaseLocksOk; readonly id: number }
  | { readonly kind: Kind.LockWaitsOk; readonly id: number; readonly edges: readonly LockWaitEdge[] }
  | { readonly kind: Kind.GetNowOk; readonly id: number; readonly ts: Timestamp; readonly rows: readonly (KvRow | undefined)[] }
  | { readonly kind: Kind.TransferLeaseOk; readonly id: number }
  | { readonly kind: Kind.RefreshOk; readonly id: number; readonly result: RefreshResult }
  | { readonly kind: Kind.IntentConflict; readonly id: number; readonly intents: readonly MetIntent[] }
  | { readonly kind: Kind.Uncertain; readonly id: number; readonly readTs: Timestamp; readonly valueTs: Timestamp }
  | { readonly kind: Kind.Error; readonly id: number; readonly error: WireError };

export class KvRpcDecodeError extends Error {
  constructor(
    message: string,
    /** The request id, when the header was readable (the server then answers that request). */
    readonly requestId: number | undefined,
  ) {
    super(message);
    this.name = 'KvRpcDecodeError';
  }
}

// ------------------------------------------------------------------------------ writer

/** Growable little-endian writer; frames are small, so one doubling buffer is plenty. */
class Writer {
  private buf = Buffer.allocUnsafe(256);
  pos = 4; // room for the frame length

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  u64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(v, this.pos);
    this.pos += 8;
  }

  /** A JS number up to 2^53 - 1 (indexes, terms) as a u64. */
  n64(v: number): void {
    this.u64(BigInt(v));
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  str(s: string): void {
    this.bytes(Buffer.from(s, 'utf8'));
  }

  /** The finished frame: length prefix filled in. */
  frame(): Buffer {
    this.buf.writeUInt32LE(this.pos - 4, 0);
    return this.buf.subarray(0, this.pos);
  }
}

function header(kind: Kind, id: number): Writer {
  const w = new Writer();
  w.u8(KVRPC_VERSION);
  w.u8(kind);
  w.u32(id);
  return w;
}

/** Longest string / key the protocol carries; longer fields are refused while decoding. */
const MAX_FIELD_BYTES = 64 * 1024 * 1024;

export function encodeRequest(r: Request): Buffer {
  const w = header(r.kind, r.id);
  w.u32(r.shardId);
  switch (r.kind) {
    case Kind.Now:
    case Kind.Status:
      break;
    case Kind.Get:
      w.u64(r.ts);
      w.bytes(r.key);
      w.bytes(r.txnId);
      w.str(r.traceparent ?? '');
      w.u64(r.uncertaintyLimit ?? 0n);
      break;
    case Kind.Scan:
      w.u64(r.ts);
      w.bytes(r.start);
      w.bytes(r.end);
      w.u32(r.limit);
      w.u8(r.reverse ? 1 : 0);
      w.bytes(r.txnId);
      w.str(r.traceparent ?? '');
      w.u64(r.uncertaintyLimit ?? 0n);
      if (r.filter === undefined) w.u8(0);
      else {
        w.u8(r.filter.countOnly ? 2 : 1);
        w.bytes(r.filter.program);
        w.bytes(r.filter.args);
      }
      break;
    case Kind.Propose:
      w.bytes(r.entry);
      w.str(r.traceparent ?? '');
      break;
    case Kind.TxnStatus:
    case Kind.ReleaseLocks:
      w.bytes(r.txnId);
      break;
    case Kind.TransferLease:
      w.u32(r.target);
      break;
    case Kind.LockWaits:
      break;
    case Kind.GetNow:
      w.u64(r.minTs);
      w.u32(r.keys.length);
      for (const key of r.keys) w.bytes(key);
      w.bytes(r.txnId);
      w.str(r.traceparent ?? '');
      break;
    case Kind.LockRead:
      w.bytes(r.key);
      w.bytes(r.txnId);
      w.u32(r.waitMs);
      w.u64(r.minTs);
      w.bytes(r.readerTxn);
      w.u32(r.also.length);
      for (const k of r.also) w.bytes(k);
      w.str(r.traceparent ?? '');
      break;
    case Kind.Refresh:
      w.bytes(r.txnId);
      w.u64(r.fromTs);
      w.u64(r.toTs);
      w.u32(r.reads.length);
      for (const s of r.reads) {
        if (s.kind === 'point') {
          w.u8(0);
          w.bytes(s.key);
        } else {
          w.u8(1);
          w.bytes(s.start);
          w.bytes(s.end);
        }
      }
      break;
  }
  return w.frame();
}

function writeIntent(w: Writer, i: MetIntent): void {
  w.bytes(i.key);
  w.str(i.txnId);
  w.u64(i.ts);
  if (i.primary !== undefined) {
    w.u8(1);
    w.bytes(i.primary);
  } else w.u8(0);
}

function readIntent(r: Reader): MetIntent {
  const key = r.bytes('intent key');
  const txnId = r.str('intent txn');
  const ts = r.u64('intent ts');
  return r.bool('has primary') ? { key, txnId, ts, primary: r.bytes('intent primary') } : { key, txnId, ts };
}

const TXN_STATUS_KINDS: readonly TxnStatus['kind'][] = ['pending', 'committed', 'aborted', 'unknown'];

function writeRow(w: Writer, row: KvRow): void {
  w.bytes(row.key);
  w.bytes(row.value);
  w.u64(row.ts);
}

export function encodeResponse(r: Response): Buffer {
  const w = header(r.kind, r.id);
  switch (r.kind) {
    case Kind.NowOk:
      w.u64(r.ts);
      break;
    case Kind.GetOk:
      if (r.row) {
        w.u8(1);
        writeRow(w, r.row);
      } else w.u8(0);
      w.u64(r.observedTs ?? 0n);
      break;
    case Kind.GetNowOk:
      w.u64(r.ts);
      w.u32(r.rows.length);
      for (const row of r.rows) {
        if (row) {
          w.u8(1);
          writeRow(w, row);
        } else w.u8(0);
      }
      break;
    case Kind.ScanOk:
      w.u32(r.page.rows.length);
      for (const row of r.page.rows) writeRow(w, row);
      if (r.page.resumeKey) {
        w.u8(1);
        w.bytes(r.page.resumeKey);
      } else w.u8(0);
      if (r.page.count === undefined) w.u8(0);
      else {
        w.u8(1);
        w.u32(r.page.count);
      }
      if (r.page.partial === undefined) w.u8(0);
      else {
        w.u8(1);
        w.bytes(r.page.partial);
      }
      w.u64(r.observedTs ?? 0n);
      break;
    case Kind.ProposeOk: {
      const o = r.outcome;
      if (o.status === 'committed') {
        w.u8(0);
        w.u64(o.commitTs);
      } else if (o.status === 'applied') {
        w.u8(1);
        if (o.ts !== undefined) {
          w.u8(1);
          w.u64(o.ts);
        } else w.u8(0);
      } else {
        w.u8(2);
        w.str(o.sqlstate);
        w.str(o.message);
        w.u8((o.detail !== undefined ? 1 : 0) | (o.constraint !== undefined ? 2 : 0) | (o.intent !== undefined ? 4 : 0));
        if (o.detail !== undefined) w.str(o.detail);
        if (o.constraint !== undefined) w.str(o.constraint);
        if (o.intent !== undefined) writeIntent(w, o.intent);
      }
      break;
    }
    case Kind.TxnStatusOk: {
      const s = r.status;
      w.u8(TXN_STATUS_KINDS.indexOf(s.kind));
      w.u64(s.kind === 'pending' || s.kind === 'committed' ? s.ts : 0n);
      if (s.kind === 'pending' && s.primary !== undefined) {
        w.u8(1);
        w.bytes(s.primary);
      } else w.u8(0);
      break;
    }
    case Kind.IntentConflict:
      w.u32(r.intents.length);
      for (const i of r.intents) writeIntent(w, i);
      break;
    case Kind.Uncertain:
      w.u64(r.readTs);
      w.u64(r.valueTs);
      break;
    case Kind.LockReadOk: {
      const x = r.result;
      if (x.granted) {
        w.u8(1);
        w.u64(x.readTs);
        w.u64(x.newestTs);
        if (x.row) {
          w.u8(1);
          writeRow(w, x.row);
        } else w.u8(0);
        const also = x.also ?? [];
        w.u32(also.length);
        for (const row of also) {
          if (row) {
            w.u8(1);
            writeRow(w, row);
          } else w.u8(0);
        }
      } else {
        w.u8(0);
        w.str(x.holder);
      }
      break;
    }
    case Kind.ReleaseLocksOk:
    case Kind.TransferLeaseOk:
      break;
    case Kind.LockWaitsOk:
      w.u32(r.edges.length);
      for (const [waiter, holder] of r.edges) {
        w.str(waiter);
        w.str(holder);
      }
      break;
    case Kind.RefreshOk: {
      const x = r.result;
      if (x.ok) w.u8(1);
      else {
        w.u8(0);
        w.str(x.detail);
        if (x.intent !== undefined) {
          w.u8(1);
          writeIntent(w, x.intent);
        } else w.u8(0);
      }
      break;
    }
    case Kind.StatusOk: {
      const s = r.status;
      w.u32(s.nodeId);
      w.u32(s.leader);
      w.n64(s.term);
      w.n64(s.appliedIndex);
      w.u64(s.closedTs);
      w.bytes(s.stateHash);
      w.u32(s.voters.length);
      for (const v of s.voters) w.u32(v);
      break;
    }
    case Kind.Error:
      w.u8(ERROR_CODES.indexOf(r.error.code));
      w.u32(r.error.leaderHint);
      w.str(r.error.sqlstate);
      w.str(r.error.message);
      break;
  }
  return w.frame();
}

// ------------------------------------------------------------------------------ reader

class Reader {
  private pos = HEADER_BYTES;
  constructor(
    private readonly buf: Buffer,
    private readonly id: number,
  ) {}

  private need(n: number, field: string): void {
    if (this.pos + n > this.buf.length) throw new KvRpcDecodeError(`truncated frame: ${field} needs ${n} bytes at offset ${this.pos}`, this.id);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++];
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(field: string): bigint {
    this.need(8, field);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  n64(field: string): number {
    const v = this.u64(field);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new KvRpcDecodeError(`${field} ${v} exceeds 2^53-1`, this.id);
    return Number(v);
  }

  /** A copy, so values handed to callers never pin (or alias) the socket's frame buffer. */
  bytes(field: string): Buffer {
    const n = this.u32(field);
    if (n > MAX_FIELD_BYTES) throw new KvRpcDecodeError(`${field} length ${n} exceeds ${MAX_FIELD_BYTES}`, this.id);
    this.need(n, field);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  str(field: string): string {
    return this.bytes(field).toString('utf8');
  }

  bool(field: string): boolean {
    const b = this.u8(field);
    if (b > 1) throw new KvRpcDecodeError(`${field} must be 0 or 1, got ${b}`, this.id);
    return b === 1;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw new KvRpcDecodeError(`${this.buf.length - this.pos} trailing bytes after the message`, this.id);
  }
}

function readHeader(payload: Buffer): { kind: Kind; id: number } {
  if (payload.length < HEADER_BYTES) throw new KvRpcDecodeError(`frame of ${payload.length} bytes is shorter than the ${HEADER_BYTES}-byte header`, undefined);
  const id = payload.readUInt32LE(2);
  if (payload[0] !== KVRPC_VERSION) throw new KvRpcDecodeError(`unsupported KV RPC version ${payload[0]} (this node speaks ${KVRPC_VERSION})`, id);
  return { kind: payload[1], id };
}

/** Decodes one request payload (no length prefix). Throws KvRpcDecodeError. */
/** A voter list: u32 count, then that many u32 node ids (a group has a handful; more is garbage). */
function readVoters(r: Reader, id: number): number[] {
  const n = r.u32('voter count');
  if (n > 1024) throw new KvRpcDecodeError(`voter count ${n} is not plausible`, id);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u32('voter'));
  return out;
}

export function decodeRequest(payload: Buffer): Request {
  const { kind, id } = readHeader(payload);
  const r = new Reader(payload, id);
  const shardId = r.u32('shard id');
  let req: Request;
  switch (kind) {
    case Kind.Now:
      req = { kind, id, shardId };
      break;
    case Kind.Status:
      req = { kind, id, shardId };
      break;
    case Kind.Get: {
      const base = { kind, id, shardId, ts: r.u64('ts'), key: r.bytes('key'), txnId: r.bytes('txn id') };
      req = withUncertainty(withTrace(base, r.str('traceparent')), r.u64('uncertainty limit'));
      break;
    }
    case Kind.Scan: {
      const base = {
        kind, id, shardId, ts: r.u64('ts'), start: r.bytes('start'), end: r.bytes('end'), limit: r.u32('limit'), reverse: r.bool('reverse'),
        txnId: r.bytes('txn id'),
      };
      const traced = withUncertainty(withTrace(base, r.str('traceparent')), r.u64('uncertainty limit'));
      const filterKind = r.u8('filter');
      if (filterKind > 2) throw new KvRpcDecodeError(`unknown scan filter kind ${filterKind}`, id);
      req = filterKind === 0 ? traced : { ...traced, filter: { program: r.bytes('filter program'), args: r.bytes('filter args'), countOnly: filterKind === 2 } };
      break;
    }
    case Kind.Propose: {
      const entry = r.bytes('entry');
      const traceparent = r.str('traceparent');
      req = traceparent ? { kind, id, shardId, entry, traceparent } : { kind, id, shardId, entry };
      break;
    }
    case Kind.TxnStatus:
      req = { kind, id, shardId, txnId: r.bytes('txn id') };
      break;
    case Kind.ReleaseLocks:
      req = { kind, id, shardId, txnId: r.bytes('txn id') };
      break;
    case Kind.TransferLease:
      req = { kind, id, shardId, target: r.u32('target node') };
      break;
    case Kind.LockWaits:
      req = { kind, id, shardId };
      break;
    case Kind.GetNow: {
      const minTs = r.u64('min ts');
      const n = r.u32('key count');
      if (n === 0 || n > MAX_GET_NOW_KEYS) throw new KvRpcDecodeError(`GetNow reads 1..${MAX_GET_NOW_KEYS} keys, got ${n}`, id);
      const keys: Buffer[] = [];
      for (let i = 0; i < n; i++) keys.push(r.bytes('key'));
      const txnId = r.bytes('txn id');
      req = withTrace({ kind, id, shardId, minTs, keys, txnId }, r.str('traceparent'));
      break;
    }
    case Kind.LockRead: {
      const key = r.bytes('key');
      const txnId = r.bytes('txn id');
      const waitMs = r.u32('wait ms');
      const minTs = r.u64('min ts');
      const readerTxn = r.bytes('reader txn');
      const n = r.u32('also count');
      if (n > MAX_GET_NOW_KEYS) throw new KvRpcDecodeError(`LockRead reads at most ${MAX_GET_NOW_KEYS} more keys, got ${n}`, id);
      const also: Buffer[] = [];
      for (let i = 0; i < n; i++) also.push(r.bytes('also key'));
      req = withTrace({ kind, id, shardId, key, txnId, waitMs, minTs, readerTxn, also }, r.str('traceparent'));
      break;
    }
    case Kind.Refresh: {
      const txnId = r.bytes('txn id');
      const fromTs = r.u64('from ts');
      const toTs = r.u64('to ts');
      const n = r.u32('read count');
      const reads: ReadSpan[] = [];
      for (let i = 0; i < n; i++) {
        const k = r.u8('read kind');
        if (k === 0) reads.push({ kind: 'point', key: r.bytes('read key') });
        else if (k === 1) reads.push({ kind: 'span', start: r.bytes('span start'), end: r.bytes('span end') });
        else throw new KvRpcDecodeError(`unknown read kind ${k}`, id);
      }
      req = { kind, id, shardId, txnId, fromTs, toTs, reads };
      break;
    }
    default:
      throw new KvRpcDecodeError(`unknown request kind ${kind}`, id);
  }
  r.end();
  return req;
}

/** A request with its trace context, if it carried one (empty on the wire: none). */
function withTrace<T extends Request>(req: T, traceparent: string): T {
  return traceparent ? { ...req, traceparent } : req;
}

function withUncertainty<T extends Request>(req: T, limit: Timestamp): T {
  return limit > 0n ? { ...req, uncertaintyLimit: limit } : req;
}

function readRow(r: Reader): KvRow {
  return { key: r.bytes('row key'), value: r.bytes('row value'), ts: r.u64('row ts') };
}

/** Decodes one response payload (no length prefix). Throws KvRpcDecodeError. */
export function decodeResponse(payload: Buffer): Response {
  const { kind, id } = readHeader(payload);
  const r = new Reader(payload, id);
  let res: Response;
  switch (kind) {
    case Kind.NowOk:
      res = { kind, id, ts: r.u64('ts') };
      break;
    case Kind.GetOk: {
      const row = r.bool('found') ? readRow(r) : undefined;
      const observedTs = r.u64('observed ts');
      res = observedTs > 0n ? { kind, id, row, observedTs } : { kind, id, row };
      break;
    }
    case Kind.GetNowOk: {
      const ts = r.u64('ts');
      const n = r.u32('row count');
      const rows: (KvRow | undefined)[] = [];
      for (let i = 0; i < n; i++) rows.push(r.bool('found') ? readRow(r) : undefined);
      res = { kind, id, ts, rows };
      break;
    }
    case Kind.ScanOk: {
      const n = r.u32('row count');
      const rows: KvRow[] = [];
      for (let i = 0; i < n; i++) rows.push(readRow(r));
      const resumeKey = r.bool('has resume key') ? r.bytes('resume key') : undefined;
      const count = r.bool('has count') ? r.u32('count') : undefined;
      const partial = r.bool('has partial') ? r.bytes('partial') : undefined;
      const counted: ScanPage = count === undefined ? { rows } : { rows, count };
      const page: ScanPage = partial === undefined ? counted : { ...counted, partial };
      const observedTs = r.u64('observed ts');
      const base = { kind, id, page: resumeKey ? { ...page, resumeKey } : page };
      res = observedTs > 0n ? { ...base, observedTs } : base;
      break;
    }
    case Kind.ProposeOk: {
      const status = r.u8('outcome');
      let outcome: ApplyOutcome;
      if (status === 0) outcome = { status: 'committed', commitTs: r.u64('commit ts') };
      else if (status === 1) outcome = r.bool('has ts') ? { status: 'applied', ts: r.u64('ts') } : { status: 'applied' };
      else if (status === 2) {
        const sqlstate = r.str('sqlstate');
        const message = r.str('message');
        const flags = r.u8('flags');
        const detail = flags & 1 ? r.str('detail') : undefined;
        const constraint = flags & 2 ? r.str('constraint') : undefined;
        const intent = flags & 4 ? readIntent(r) : undefined;
        outcome = {
          status: 'aborted',
          sqlstate,
          message,
          ...(detail !== undefined ? { detail } : {}),
          ...(constraint !== undefined ? { constraint } : {}),
          ...(intent !== undefined ? { intent } : {}),
        };
      } else throw new KvRpcDecodeError(`unknown outcome ${status}`, id);
      res = { kind, id, outcome };
      break;
    }
    case Kind.StatusOk: {
      res = {
        kind,
        id,
        status: {
          nodeId: r.u32('node id'),
          leader: r.u32('leader'),
          term: r.n64('term'),
          appliedIndex: r.n64('applied index'),
          closedTs: r.u64('closed ts'),
          stateHash: r.bytes('state hash'),
          voters: readVoters(r, id),
        },
      };
      break;
    }
    case Kind.TxnStatusOk: {
      const k = TXN_STATUS_KINDS[r.u8('txn status')];
      if (k === undefined) throw new KvRpcDecodeError('unknown txn status', id);
      const ts = r.u64('txn ts');
      const primary = r.bool('has primary') ? r.bytes('primary') : undefined;
      const status: TxnStatus =
        k === 'pending' ? (primary === undefined ? { kind: k, ts } : { kind: k, ts, primary }) : k === 'committed' ? { kind: k, ts } : { kind: k };
      res = { kind, id, status };
      break;
    }
    case Kind.LockReadOk: {
      if (r.bool('granted')) {
        const readTs = r.u64('read ts');
        const newestTs = r.u64('newest ts');
        const row = r.bool('found') ? readRow(r) : undefined;
        const n = r.u32('also count');
        const also: (KvRow | undefined)[] = [];
        for (let i = 0; i < n; i++) also.push(r.bool('found') ? readRow(r) : undefined);
        res = { kind, id, result: n > 0 ? { granted: true, row, readTs, newestTs, also } : { granted: true, row, readTs, newestTs } };
      } else res = { kind, id, result: { granted: false, holder: r.str('holder') } };
      break;
    }
    case Kind.ReleaseLocksOk:
      res = { kind, id };
      break;
    case Kind.TransferLeaseOk:
      res = { kind, id };
      break;
    case Kind.LockWaitsOk: {
      const n = r.u32('edge count');
      if (n > 1_000_000) throw new KvRpcDecodeError(`edge count ${n} is not plausible`, id);
      const edges: LockWaitEdge[] = [];
      for (let i = 0; i < n; i++) edges.push([r.str('waiter'), r.str('holder')]);
      res = { kind, id, edges };
      break;
    }
    case Kind.RefreshOk: {
      if (r.bool('ok')) res = { kind, id, result: { ok: true } };
      else {
        const detail = r.str('detail');
        res = { kind, id, result: r.bool('has intent') ? { ok: false, detail, intent: readIntent(r) } : { ok: false, detail } };
      }
      break;
    }
    case Kind.Uncertain:
      res = { kind, id, readTs: r.u64('read ts'), valueTs: r.u64('value ts') };
      break;
    case Kind.IntentConflict: {
      const n = r.u32('intent count');
      const intents: MetIntent[] = [];
      for (let i = 0; i < n; i++) intents.push(readIntent(r));
      res = { kind, id, intents };
      break;
    }
    case Kind.Error: {
      const c = r.u8('error code');
      const code = ERROR_CODES[c];
      if (code === undefined) throw new KvRpcDecodeError(`unknown error code ${c}`, id);
      res = { kind, id, error: { code, leaderHint: r.u32('leader hint'), sqlstate: r.str('sqlstate'), message: r.str('message') } };
      break;
    }
    default:
      throw new KvRpcDecodeError(`unknown response kind ${kind}`, id);
  }
  r.end();
  return res;
}
