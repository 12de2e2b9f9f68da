import fc from 'fast-check';
import { MessageType, type Message } from '../../raft/src/types';
import { decode, envelopeSize, FrameKind, type Frame } from './codec';
import { FrameDecodeError } from './errors';
import { encodeBatchFramed, encodeFramed, FRAME_HEADER_BYTES, FrameReader } from './framing';

const msg = (index: number): Message => ({
  type: MessageType.App, to: 2, from: 1, term: 3, logTerm: 3, index, commit: index,
  entries: [{ term: 3, index: index + 1, type: 0, data: new Uint8Array(index % 50) }], reject: false, rejectHint: 0,
});

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

describe('framing', () => {
  it('reassembles frames from arbitrary chunk boundaries', () => {
    const frames: Frame[] = [
      { kind: FrameKind.Handshake, protocolVersion: 1, nodeId: 7 },
      ...Array.from({ length: 20 }, (_, i): Frame => ({ kind: FrameKind.Batch, envelopes: [{ groupId: i, msg: msg(i) }] })),
    ];
    const stream = Buffer.concat(frames.map(encodeFramed));
    fc.assert(
      fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 30 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const reader = new FrameReader(1024 * 1024);
        const out: Frame[] = [];
        for (let i = 1; i < points.length; i++) {
          for (const p of reader.push(stream.subarray(points[i - 1], points[i]))) out.push(decode(p));
        }
        expect(out).toEqual(frames);
        expect(reader.pendingBytes).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('batch frames sized by the caller match the generic encoder', () => {
    const envelopes = Array.from({ length: 50 }, (_, i) => ({ groupId: i * 1000, msg: msg(i) }));
    const bytes = envelopes.reduce((n, e) => n + envelopeSize(e), 0);
    expect(encodeBatchFramed(envelopes, bytes)).toEqual(encodeFramed({ kind: FrameKind.Batch, envelopes }));
  });

  it('gives a small frame its own buffer instead of pinning a large shared chunk', () => {
    const frame = encodeFramed({ kind: FrameKind.Batch, envelopes: [{ groupId: 1, msg: msg(3) }] });
    const big = Buffer.alloc(64 * 1024);
    frame.copy(big);
    const [payload] = new FrameReader().push(big.subarray(0, frame.length));
    expect(payload.buffer).not.toBe(big.buffer);
    expect(payload.buffer.byteLength).toBeLessThan(16 * 1024);
    // Decoded entry data is a view into that payload, not into the socket chunk.
    const f = decode(payload);
    expect(f.kind === FrameKind.Batch && f.envelopes[0].msg.entries[0].data.buffer).toBe(payload.buffer);
  });

  it('refuses an oversized length before buffering the payload', () => {
    const reader = new FrameReader(1000);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32LE(1001, 0);
    expect(errorCode(() => reader.push(header))).toBe('too_large');
    const r2 = new FrameReader(1000);
    header.writeUInt32LE(0xffffffff, 0);
    expect(() => r2.push(header)).toThrow(FrameDecodeError);
  });

  it('refuses a length too short to hold a frame header', () => {
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32LE(1, 0);
    expect(errorCode(() => new FrameReader().push(header))).toBe('length');
  });

  it('random byte streams only ever throw FrameDecodeError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
        const reader = new FrameReader(256);
        try {
          for (const c of chunks) for (const p of reader.push(Buffer.from(c))) decode(p, 256);
        } catch (err) {
          if (!(err instanceof FrameDecodeError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
