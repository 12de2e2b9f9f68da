import fc from 'fast-check';
import { EntryType, MessageType, type Entry, type Message, type Snapshot } from '../../raft/src/types';
import { CODEC_VERSION, decode, encode, envelopeSize, FrameKind, type Envelope, type Frame } from './codec';
import { FrameDecodeError } from './errors';

/** Decoded objects have ordinary prototypes; generated ones must too for toStrictEqual. */
const NP = { noNullPrototype: true };
const u53 = fc.maxSafeNat();
// Mostly small numbers (the common case, 1–2 byte varints) with the full range mixed in.
const num = fc.oneof(fc.nat({ max: 300 }), u53);
const bytes = fc.uint8Array({ maxLength: 48 });
const ids = fc.array(num, { maxLength: 5 });

const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: num,
  index: num,
  type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange),
  data: bytes,
}, NP);

const snapshotArb: fc.Arbitrary<Snapshot> = fc.record({
  metadata: fc.record({
    index: num,
    term: num,
    confState: fc.record({ voters: ids, learners: ids, votersOutgoing: ids, learnersNext: ids, autoLeave: fc.boolean() }, NP),
  }, NP),
  data: bytes,
}, NP);

const messageTypes = Object.values(MessageType).filter((v): v is MessageType => typeof v === 'number');

const messageArb: fc.Arbitrary<Message> = fc.record(
  {
    type: fc.constantFrom(...messageTypes),
    to: num,
    from: num,
    term: num,
    logTerm: num,
    index: num,
    entries: fc.array(entryArb, { maxLength: 4 }),
    commit: num,
    snapshot: snapshotArb,
    reject: fc.boolean(),
    rejectHint: num,
    context: bytes,
  },
  { ...NP, requiredKeys: ['type', 'to', 'from', 'term', 'logTerm', 'index', 'entries', 'commit', 'reject', 'rejectHint'] },
);

const envelopeArb: fc.Arbitrary<Envelope> = fc.record({ groupId: num, msg: messageArb }, NP);

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ kind: fc.constant(FrameKind.Batch as const), envelopes: fc.array(envelopeArb, { maxLength: 6 }) }, NP),
  fc.record({ kind: fc.constant(FrameKind.Handshake as const), protocolVersion: fc.nat({ max: 0xffff }), nodeId: num }, NP),
  fc.record({ kind: fc.constant(FrameKind.Reject as const), reason: fc.string({ maxLength: 40 }) }, NP),
  fc.record({ kind: fc.constant(FrameKind.ClockPing as const), sentUs: num }, NP),
  fc.record({ kind: fc.constant(FrameKind.ClockPong as const), sentUs: num, peerUs: num }, NP),
);

/** The FrameDecodeError code `fn` throws ('none' if it does not throw). */
function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FrameDecodeError) return err.code;
    throw err;
  }
  return 'none';
}

/** Decoding may succeed or fail, but a failure must be a FrameDecodeError. */
function decodeOnlyThrowsFrameDecodeError(buf: Uint8Array): void {
  try {
    decode(buf);
  } catch (err) {
    if (!(err instanceof FrameDecodeError)) throw err;
  }
}

describe('codec', () => {
  it('round-trips arbitrary frames exactly', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        expect(decode(encode(frame))).toStrictEqual(frame);
      }),
      { numRuns: 500 },
    );
  });

  it('sizes envelopes exactly as encoded', () => {
    fc.assert(
      fc.property(envelopeArb, (env) => {
        const payload = encode({ kind: FrameKind.Batch, envelopes: [env] });
        expect(payload.length).toBe(2 + 1 + envelopeSize(env));
      }),
      { numRuns: 200 },
    );
  });

  it('encodes a heartbeat compactly', () => {
    const hb: Message = {
      type: MessageType.Heartbeat, to: 2, from: 1, term: 7, logTerm: 0, index: 0, entries: [], commit: 42,
      reject: false, rejectHint: 0,
    };
    expect(envelopeSize({ groupId: 17, msg: hb })).toBeLessThanOrEqual(12);
  });

  it('refuses to encode values the wire cannot carry', () => {
    const bad = { type: MessageType.App, to: -1, from: 1, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
    expect(() => encode({ kind: FrameKind.Batch, envelopes: [{ groupId: 1, msg: bad }] })).toThrow(RangeError);
    expect(() => encode({ kind: FrameKind.Batch, envelopes: [{ groupId: 1.5, msg: { ...bad, to: 1 } }] })).toThrow(RangeError);
    expect(() => encode({ kind: FrameKind.Batch, envelopes: [{ groupId: 1, msg: { ...bad, to: 1, type: 99 as MessageType } }] })).toThrow(RangeError);
  });

  it('rejects every truncation of a valid frame with FrameDecodeError', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const buf = encode(frame);
        for (let n = 0; n < buf.length; n++) {
          // Plain try/catch: expect().toThrow per prefix is too slow for thousands of prefixes.
          let threw: unknown;
          try {
            decode(buf.subarray(0, n));
          } catch (err) {
            threw = err;
          }
          if (!(threw instanceof FrameDecodeError)) throw new Error(`prefix ${n}/${buf.length} did not throw FrameDecodeError`);
        }
        const longer = new Uint8Array(buf.length + 1);
        longer.set(buf);
        expect(errorCode(() => decode(longer))).toBe('trailing');
      }),
      { numRuns: 100 },
    );
  });

  it('classifies specific malformations', () => {
    const code = (b: number[]): string => {
      try {
        decode(Uint8Array.from(b));
      } catch (err) {
        return (err as FrameDecodeError).code;
      }
      return 'ok';
    };
    expect(code([CODEC_VERSION + 1, FrameKind.Batch, 0])).toBe('version');
    expect(code([CODEC_VERSION, 9])).toBe('kind');
    expect(code([CODEC_VERSION, FrameKind.Batch, 0])).toBe('ok');
    // Count claims 2^28 envelopes in a 7-byte frame: refused before any allocation.
    expect(code([CODEC_VERSION, FrameKind.Batch, 0x80, 0x80, 0x80, 0x80, 0x01])).toBe('length');
    expect(code([CODEC_VERSION, FrameKind.Batch, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).toBe('varint');
    // 2^53 does not fit in a JS safe integer.
    expect(code([CODEC_VERSION, FrameKind.Batch, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])).toBe('varint');
    expect(code([CODEC_VERSION, FrameKind.Handshake, 0x48, 0x54, 0x54, 0x50, 1, 0, 1])).toBe('magic');
    // One envelope: group 1, message type 99.
    expect(code([CODEC_VERSION, FrameKind.Batch, 1, 1, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0])).toBe('enum');
    expect(code([CODEC_VERSION, FrameKind.Batch, 1, 1, 3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0])).toBe('flags');
    // Entry data length 100 with 1 byte left.
    expect(code([CODEC_VERSION, FrameKind.Batch, 1, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 100, 0])).toBe('length');
  });

  it('enforces the max frame size', () => {
    const buf = encode({ kind: FrameKind.Reject, reason: 'x'.repeat(100) });
    expect(errorCode(() => decode(buf, 50))).toBe('too_large');
  });

  describe('fuzz', () => {
    it('random bytes only ever throw FrameDecodeError', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), decodeOnlyThrowsFrameDecodeError), { numRuns: 3000 });
      // Random bodies behind a valid header reach deeper into the decoder.
      fc.assert(
        fc.property(fc.constantFrom(FrameKind.Batch, FrameKind.Handshake, FrameKind.Reject), fc.uint8Array({ maxLength: 256 }), (kind, body) => {
          decodeOnlyThrowsFrameDecodeError(Uint8Array.from([CODEC_VERSION, kind, ...body]));
        }),
        { numRuns: 3000 },
      );
    });

    it('mutated valid frames only ever throw FrameDecodeError', () => {
      const mutation = fc.record({
        at: fc.nat(),
        value: fc.nat({ max: 255 }),
        op: fc.constantFrom('set', 'insert', 'delete', 'truncate', 'flip'),
      });
      fc.assert(
        fc.property(frameArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (frame, muts) => {
          let b = Array.from(encode(frame));
          for (const m of muts) {
            const i = b.length === 0 ? 0 : m.at % b.length;
            if (m.op === 'set') b[i] = m.value;
            else if (m.op === 'flip') b[i] ^= 1 << (m.value % 8);
            else if (m.op === 'insert') b.splice(i, 0, m.value);
            else if (m.op === 'delete') b.splice(i, 1);
            else b = b.slice(0, i);
          }
          decodeOnlyThrowsFrameDecodeError(Uint8Array.from(b));
        }),
        { numRuns: 3000 },
      );
    });
  });
});
