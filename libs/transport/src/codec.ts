import {
  EntryType,
  MessageType,
  type ConfState,
  type Entry,
  type Message,
  type Snapshot,
} from '../../raft/src/types';
import { FrameDecodeError } from './errors';
import { ByteReader, ByteWriter, checkU53, varintSize } from './wire';

/**
 * Binary encoding of transport frames (the payload inside a [u32 length] TCP frame).
 *
 *   payload   = u8 codecVersion, u8 kind, body
 *   Handshake = "WEFT", u16 protocolVersion, varint nodeId
 *   Batch     = varint count, count × envelope
 *   Reject    = varint len, utf-8 reason            (sent before closing a refused peer)
 *   ClockPing = varint sentUs                        (the sender's clock, µs since the epoch)
 *   ClockPong = varint sentUs, varint peerUs         (the ping's sentUs echoed, the replier's clock)
 *   envelope  = varint groupId, message
 *   message   = u8 type, u8 flags(1=reject 2=snapshot 4=context),
 *               varint to, from, term, logTerm, index, commit, rejectHint,
 *               varint nEntries, nEntries × entry, [snapshot], [varint len, context]
 *   entry     = varint term, varint index, u8 type, varint len, data
 *   snapshot  = varint index, varint term, 4 × (varint n, n × varint id) for voters, learners,
 *               votersOutgoing, learnersNext; u8 autoLeave; varint len, data
 *
 * Varints (not fixed-width) because most ids, terms and small indexes fit in 1–3 bytes and
 * heartbeats dominate the message count.
 */

export const CODEC_VERSION = 1;
export type NodeId = number;

export enum FrameKind {
  Handshake = 1,
  Batch = 2,
  Reject = 3,
  /** Protocol v3: clock readings between nodes (decision 0057). */
  ClockPing = 4,
  ClockPong = 5,
}

/** One Raft message addressed to one group; many groups share a connection. */
export interface Envelope {
  readonly groupId: number;
  readonly msg: Message;
}

export interface HandshakeFrame {
  readonly kind: FrameKind.Handshake;
  readonly protocolVersion: number;
  readonly nodeId: NodeId;
}

export interface BatchFrame {
  readonly kind: FrameKind.Batch;
  readonly envelopes: readonly Envelope[];
}

export interface RejectFrame {
  readonly kind: FrameKind.Reject;
  readonly reason: string;
}

/** Asks the peer for its clock; it answers with a ClockPong on the same connection. */
export interface ClockPingFrame {
  readonly kind: FrameKind.ClockPing;
  readonly sentUs: number;
}

export interface ClockPongFrame {
  readonly kind: FrameKind.ClockPong;
  /** The ping's sentUs, echoed: the asker measures the round trip with its own clock. */
  readonly sentUs: number;
  /** The replier's clock when it answered. */
  readonly peerUs: number;
}

export type Frame = HandshakeFrame | BatchFrame | RejectFrame | ClockPingFrame | ClockPongFrame;

const MAGIC = [0x57, 0x45, 0x46, 0x54]; // "WEFT"
const FLAG_REJECT = 1;
const FLAG_SNAPSHOT = 2;
const FLAG_CONTEXT = 4;
const KNOWN_FLAGS = FLAG_REJECT | FLAG_SNAPSHOT | FLAG_CONTEXT;
const MAX_MESSAGE_TYPE: number = MessageType.SnapChunkAck;
const MAX_ENTRY_TYPE: number = EntryType.ConfChange;
/** Minimum encoded sizes, used to bound counts before allocating. */
const MIN_ENTRY_BYTES = 4;
const MIN_ENVELOPE_BYTES = 1 + 2 + 7 + 1;
const HEADER_BYTES = 2;

/**
 * Compile-time tripwire: if libs/raft adds a field to Message, this object stops type-checking
 * and whoever added it is pointed here, instead of the codec silently dropping the field.
 */
const _MESSAGE_FIELDS: Record<keyof Message, true> = {
  type: true, to: true, from: true, term: true, logTerm: true, index: true, entries: true,
  commit: true, snapshot: true, reject: true, rejectHint: true, context: true,
};
void _MESSAGE_FIELDS;

// ---------------------------------------------------------------------------------------------
// Sizes (also validate, so the write pass can trust its input)

function entrySize(e: Entry): number {
  const type: number = e.type;
  if (type < 0 || type > MAX_ENTRY_TYPE || !Number.isInteger(type)) {
    throw new RangeError(`cannot encode entry type ${String(type)}`);
  }
  return (
    varintSize(checkU53(e.term, 'entry.term')) +
    varintSize(checkU53(e.index, 'entry.index')) +
    1 +
    varintSize(e.data.length) +
    e.data.length
  );
}

function idListSize(ids: readonly number[], field: string): number {
  let n = varintSize(ids.length);
  for (const id of ids) n += varintSize(checkU53(id, field));
  return n;
}

function confStateSize(c: ConfState): number {
  return (
    idListSize(c.voters, 'voters') +
    idListSize(c.learners, 'learners') +
    idListSize(c.votersOutgoing, 'votersOutgoing') +
    idListSize(c.learnersNext, 'learnersNext') +
    1
  );
}

function snapshotSize(s: Snapshot): number {
  return (
    varintSize(checkU53(s.metadata.index, 'snapshot.index')) +
    varintSize(checkU53(s.metadata.term, 'snapshot.term')) +
    confStateSize(s.metadata.confState) +
    varintSize(s.data.length) +
    s.data.length
  );
}

/** Encoded size of one message; throws RangeError on values the wire cannot carry. */
export function messageSize(m: Message): number {
  const type: number = m.type;
  if (type < 0 || type > MAX_MESSAGE_TYPE || !Number.isInteger(type)) {
    throw new RangeError(`cannot encode message type ${String(type)}`);
  }
  let n =
    2 +
    varintSize(checkU53(m.to, 'to')) +
    varintSize(checkU53(m.from, 'from')) +
    varintSize(checkU53(m.term, 'term')) +
    varintSize(checkU53(m.logTerm, 'logTerm')) +
    varintSize(checkU53(m.index, 'index')) +
    varintSize(checkU53(m.commit, 'commit')) +
    varintSize(checkU53(m.rejectHint, 'rejectHint')) +
    varintSize(m.entries.length);
  for (const e of m.entries) n += entrySize(e);
  if (m.snapshot) n += snapshotSize(m.snapshot);
  if (m.context) n += varintSize(m.context.length) + m.context.length;
  return n;
}

export function envelopeSize(env: Envelope): number {
  return varintSize(checkU53(env.groupId, 'groupId')) + messageSize(env.msg);
}

/** Payload size of a batch whose envelopes total `envelopeBytes` (as summed from envelopeSize). */
export function batchPayloadSize(count: number, envelopeBytes: number): number {
  return HEADER_BYTES + varintSize(count) + envelopeBytes;
}

export function frameSize(frame: Frame): number {
  switch (frame.kind) {
    case FrameKind.Handshake:
      if (frame.protocolVersion < 0 || frame.protocolVersion > 0xffff || !Number.isInteger(frame.protocolVersion)) {
        throw new RangeError(`cannot encode protocol version ${frame.protocolVersion}`);
      }
      return HEADER_BYTES + MAGIC.length + 2 + varintSize(checkU53(frame.nodeId, 'nodeId'));
    case FrameKind.Batch: {
      let bytes = 0;
      for (const env of frame.envelopes) bytes += envelopeSize(env);
      return batchPayloadSize(frame.envelopes.length, bytes);
    }
    case FrameKind.Reject: {
      const len = Buffer.byteLength(frame.reason, 'utf8');
      return HEADER_BYTES + varintSize(len) + len;
    }
    case FrameKind.ClockPing:
      return HEADER_BYTES + varintSize(checkU53(frame.sentUs, 'sentUs'));
    case FrameKind.ClockPong:
      return HEADER_BYTES + varintSize(checkU53(frame.sentUs, 'sentUs')) + varintSize(checkU53(frame.peerUs, 'peerUs'));
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

function writeIds(w: ByteWriter, ids: readonly number[]): void {
  w.varint(ids.length);
  for (const id of ids) w.varint(id);
}

function writeMessage(w: ByteWriter, m: Message): void {
  w.u8(m.type);
  w.u8((m.reject ? FLAG_REJECT : 0) | (m.snapshot ? FLAG_SNAPSHOT : 0) | (m.context ? FLAG_CONTEXT : 0));
  w.varint(m.to);
  w.varint(m.from);
  w.varint(m.term);
  w.varint(m.logTerm);
  w.varint(m.index);
  w.varint(m.commit);
  w.varint(m.rejectHint);
  w.varint(m.entries.length);
  for (const e of m.entries) {
    w.varint(e.term);
    w.varint(e.index);
    w.u8(e.type);
    w.varint(e.data.length);
    w.bytes(e.data);
  }
  const s = m.snapshot;
  if (s) {
    w.varint(s.metadata.index);
    w.varint(s.metadata.term);
    const c = s.metadata.confState;
    writeIds(w, c.voters);
    writeIds(w, c.learners);
    writeIds(w, c.votersOutgoing);
    writeIds(w, c.learnersNext);
    w.u8(c.autoLeave ? 1 : 0);
    w.varint(s.data.length);
    w.bytes(s.data);
  }
  if (m.context) {
    w.varint(m.context.length);
    w.bytes(m.context);
  }
}

/** Writes a batch payload; `envelopes` must have been sized (and thus validated) already. */
export function writeBatch(w: ByteWriter, envelopes: readonly Envelope[]): void {
  w.u8(CODEC_VERSION);
  w.u8(FrameKind.Batch);
  w.varint(envelopes.length);
  for (const env of envelopes) {
    w.varint(env.groupId);
    writeMessage(w, env.msg);
  }
}

/** Writes `frame` at `offset` of `buf`, which must hold frameSize(frame) bytes from there. */
export function encodeInto(frame: Frame, buf: Uint8Array, offset: number): number {
  const w = new ByteWriter(buf, offset);
  switch (frame.kind) {
    case FrameKind.Handshake:
      w.u8(CODEC_VERSION);
      w.u8(FrameKind.Handshake);
      for (const b of MAGIC) w.u8(b);
      w.u16(frame.protocolVersion);
      w.varint(frame.nodeId);
      break;
    case FrameKind.Batch:
      writeBatch(w, frame.envelopes);
      break;
    case FrameKind.Reject: {
      const reason = Buffer.from(frame.reason, 'utf8');
      w.u8(CODEC_VERSION);
      w.u8(FrameKind.Reject);
      w.varint(reason.length);
      w.bytes(reason);
      break;
    }
    case FrameKind.ClockPing:
      w.u8(CODEC_VERSION);
      w.u8(FrameKind.ClockPing);
      w.varint(frame.sentUs);
      break;
    case FrameKind.ClockPong:
      w.u8(CODEC_VERSION);
      w.u8(FrameKind.ClockPong);
      w.varint(frame.sentUs);
      w.varint(frame.peerUs);
      break;
  }
  return w.pos;
}

/** Encodes a frame payload (without the TCP length prefix; see framing.ts). */
export function encode(frame: Frame): Uint8Array {
  const buf = new Uint8Array(frameSize(frame));
  encodeInto(frame, buf, 0);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Reading

function readIds(r: ByteReader, field: string): number[] {
  const n = r.count(field, 1);
  const ids = new Array<number>(n);
  for (let i = 0; i < n; i++) ids[i] = r.varint(field);
  return ids;
}

function readEntry(r: ByteReader): Entry {
  const term = r.varint('entry.term');
  const index = r.varint('entry.index');
  const at = r.pos;
  const type = r.u8('entry.type');
  if (type > MAX_ENTRY_TYPE) throw new FrameDecodeError('enum', `unknown entry type ${type}`, at);
  const data = r.lengthPrefixed('entry.data');
  return { term, index, type, data };
}

function readSnapshot(r: ByteReader): Snapshot {
  const index = r.varint('snapshot.index');
  const term = r.varint('snapshot.term');
  const voters = readIds(r, 'voters');
  const learners = readIds(r, 'learners');
  const votersOutgoing = readIds(r, 'votersOutgoing');
  const learnersNext = readIds(r, 'learnersNext');
  const at = r.pos;
  const autoLeave = r.u8('autoLeave');
  if (autoLeave > 1) throw new FrameDecodeError('enum', `autoLeave must be 0 or 1, got ${autoLeave}`, at);
  const data = r.lengthPrefixed('snapshot.data');
  return {
    metadata: { index, term, confState: { voters, learners, votersOutgoing, learnersNext, autoLeave: autoLeave === 1 } },
    data,
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function readMessage(r: ByteReader): Message {
  let at = r.pos;
  const type = r.u8('message.type');
  if (type > MAX_MESSAGE_TYPE) throw new FrameDecodeError('enum', `unknown message type ${type}`, at);
  at = r.pos;
  const flags = r.u8('message.flags');
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new FrameDecodeError('flags', `unknown message flags 0x${flags.toString(16)}`, at);
  const to = r.varint('to');
  const from = r.varint('from');
  const term = r.varint('term');
  const logTerm = r.varint('logTerm');
  const index = r.varint('index');
  const commit = r.varint('commit');
  const rejectHint = r.varint('rejectHint');
  const n = r.count('entries', MIN_ENTRY_BYTES);
  const entries = new Array<Entry>(n);
  for (let i = 0; i < n; i++) entries[i] = readEntry(r);
  // Optional fields are left absent (not `undefined`) so decoded messages equal the originals.
  const m: Mutable<Message> = {
    type, to, from, term, logTerm, index, entries, commit,
    reject: (flags & FLAG_REJECT) !== 0, rejectHint,
  };
  if (flags & FLAG_SNAPSHOT) m.snapshot = readSnapshot(r);
  if (flags & FLAG_CONTEXT) m.context = r.lengthPrefixed('context');
  return m;
}

/**
 * Decodes one frame payload. Every length, count and enum is checked against the buffer;
 * anything malformed throws FrameDecodeError and nothing else (a bug aside). Byte fields
 * (entry data, snapshot data, context) are views into `payload`: do not reuse it afterwards.
 */
export function decode(payload: Uint8Array, maxFrameBytes = Number.MAX_SAFE_INTEGER): Frame {
  if (payload.length > maxFrameBytes) {
    throw new FrameDecodeError('too_large', `frame of ${payload.length} bytes exceeds ${maxFrameBytes}`, 0);
  }
  const r = new ByteReader(payload);
  const version = r.u8('version');
  if (version !== CODEC_VERSION) {
    throw new FrameDecodeError('version', `codec version ${version} unsupported (this node speaks ${CODEC_VERSION})`, 0);
  }
  const kind = r.u8('kind');
  let frame: Frame;
  switch (kind as FrameKind) {
    case FrameKind.Handshake: {
      for (const b of MAGIC) {
        const at = r.pos;
        if (r.u8('magic') !== b) throw new FrameDecodeError('magic', 'handshake is not from a Weft raft transport', at);
      }
      const protocolVersion = r.u16('protocolVersion');
      const nodeId = r.varint('nodeId');
      frame = { kind: FrameKind.Handshake, protocolVersion, nodeId };
      break;
    }
    case FrameKind.Batch: {
      const n = r.count('envelopes', MIN_ENVELOPE_BYTES);
      const envelopes = new Array<Envelope>(n);
      for (let i = 0; i < n; i++) {
        const groupId = r.varint('groupId');
        envelopes[i] = { groupId, msg: readMessage(r) };
      }
      frame = { kind: FrameKind.Batch, envelopes };
      break;
    }
    case FrameKind.Reject: {
      const reason = Buffer.from(r.lengthPrefixed('reason')).toString('utf8');
      frame = { kind: FrameKind.Reject, reason };
      break;
    }
    case FrameKind.ClockPing:
      frame = { kind: FrameKind.ClockPing, sentUs: r.varint('sentUs') };
      break;
    case FrameKind.ClockPong: {
      const sentUs = r.varint('sentUs');
      frame = { kind: FrameKind.ClockPong, sentUs, peerUs: r.varint('peerUs') };
      break;
    }
    default:
      throw new FrameDecodeError('kind', `unknown frame kind ${kind}`, 1);
  }
  r.expectEnd();
  return frame;
}
