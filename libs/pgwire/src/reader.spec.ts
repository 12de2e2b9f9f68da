import fc from 'fast-check';
import { serialize } from 'pg-protocol';
import { ProtocolViolation } from './errors';
import { decodeFrontend, decodeStartup } from './frontend';
import { MessageReader, type Packet } from './reader';

function drain(r: MessageReader): Packet[] {
  const out: Packet[] = [];
  for (let p = r.next(); p; p = r.next()) out.push({ type: p.type, body: Buffer.from(p.body) });
  return out;
}

const stream = Buffer.concat([
  serialize.query('select 1'),
  serialize.parse({ name: 's', text: 'echo $1', types: [23] }),
  serialize.bind({ statement: 's', values: ['1', null, Buffer.from([1, 2])] }),
  serialize.describe({ type: 'P', name: '' }),
  serialize.execute({ rows: 10 }),
  serialize.copyData(Buffer.alloc(3000, 1)),
  serialize.flush(),
  serialize.sync(),
]);

describe('MessageReader', () => {
  const whole = new MessageReader();
  whole.startupPhase = false;
  whole.feed(stream);
  const expected = drain(whole);

  it('frames every message of a chunk', () => {
    expect(expected.map((p) => String.fromCharCode(p.type)).join('')).toBe('QPBDEdHS');
  });

  it('gives the same packets for any split of the stream', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 20 }), (cuts) => {
        const r = new MessageReader();
        r.startupPhase = false;
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        let prev = 0;
        const got: Packet[] = [];
        for (const c of [...points, stream.length]) {
          r.feed(stream.subarray(prev, c));
          got.push(...drain(r));
          prev = c;
        }
        expect(got).toEqual(expected);
        expect(r.buffered).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('frames untyped startup packets', () => {
    const r = new MessageReader();
    r.feed(Buffer.concat([serialize.requestSsl(), serialize.startup({ user: 'u', database: 'd' })]));
    const [ssl, startup] = drain(r);
    expect(decodeStartup(ssl.body)).toEqual({ kind: 'ssl' });
    const s = decodeStartup(startup.body);
    expect(s.kind === 'startup' && Object.fromEntries(s.params)).toMatchObject({ user: 'u', database: 'd' });
  });

  it('rejects bad lengths before buffering them', () => {
    const r = new MessageReader({ maxMessageLength: 100, maxStartupLength: 10000 });
    r.startupPhase = false;
    r.feed(Buffer.from([0x51, 0, 0, 1, 0]));
    expect(() => r.next()).toThrow(ProtocolViolation);
    const s = new MessageReader();
    s.feed(Buffer.from([0, 0, 0, 3]));
    expect(() => s.next()).toThrow(ProtocolViolation);
  });

  it('decoding arbitrary bodies never throws anything but ProtocolViolation', () => {
    const types = [...'QPBDECHSXdcfpF!'].map((c) => c.charCodeAt(0));
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 64 }), (type, body) => {
        try {
          decodeFrontend({ type, body: Buffer.from(body) });
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolViolation);
        }
        try {
          decodeStartup(Buffer.from(body));
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolViolation);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
