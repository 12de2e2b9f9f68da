import fc from 'fast-check';
import { FORMAT_VERSION, EntryDecodeError, EntryEncodeError, decodeEntry, encodeEntry, settledTxnOf } from './codec';
import { crc32c } from './crc32c';
import type { LogEntry, ReadSpan, WriteOp } from './types';

const bytes = (max = 24): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const ts = fc.bigInt(0n, (1n << 64n) - 2n);
const id = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const read: fc.Arbitrary<ReadSpan> = fc.oneof(
  bytes().map((key) => ({ kind: 'point' as const, key })),
  fc.tuple(bytes(), bytes()).map(([start, end]) => ({ kind: 'span' as const, start, end })),
);
const write: fc.Arbitrary<WriteOp> = fc.oneof(
  fc.tuple(bytes(), bytes(64)).map(([key, value]) => ({ kind: 'put' as const, key, value })),
  fc
    .tuple(bytes(), bytes(64), fc.string(), fc.option(fc.string(), { nil: undefined }))
    .map(([key, value, constraint, detail]) => ({
      kind: 'put' as const, key, value, ifAbsent: detail === undefined ? { constraint } : { constraint, detail },
    })),
  bytes().map((key) => ({ kind: 'delete' as const, key })),
);
const txnId = bytes(16);
export const entryArb: fc.Arbitrary<LogEntry> = fc.oneof(
  fc.record({ type: fc.constant('commit' as const), txnId, readTs: ts, minCommitTs: ts, reads: fc.array(read, { maxLength: 4 }), writes: fc.array(write, { maxLength: 4 }) }),
  fc.record({
    type: fc.constant('prepare' as const), txnId, readTs: ts, minCommitTs: ts, primaryKey: bytes(),
    reads: fc.array(read, { maxLength: 4 }), writes: fc.array(write, { maxLength: 4 }),
  }),
  fc.record({
    type: fc.constant('resolve' as const), txnId,
    decision: fc.oneof(fc.constant({ kind: 'abort' as const }), ts.map((commitTs) => ({ kind: 'commit' as const, commitTs }))),
  }),
  fc.record({ type: fc.constant('closed-timestamp' as const), closedTs: ts }),
  fc.record({ type: fc.constant('schema-change' as const), descriptorId: id, version: id }),
  fc.record({ type: fc.constant('split' as const), splitKey: bytes(), newShardId: id }),
  fc.record({ type: fc.constant('merge' as const), rightShardId: id }),
  fc.record({ type: fc.constant('gc' as const), threshold: ts }),
  fc.record({ type: fc.constant('gc' as const), threshold: ts, span: fc.record({ start: bytes(), end: bytes() }) }),
  fc.record({ type: fc.constant('stage' as const), txnId, readTs: ts, seq: id, writes: fc.array(write, { maxLength: 4 }) }),
  fc.record({ type: fc.constant('resolve-staged' as const), txnId, abort: fc.boolean() }),
  fc.record({ type: fc.constant('forget' as const), txnIds: fc.array(txnId, { maxLength: 6 }) }),
);

const reason = (buf: Uint8Array): string => {
  try {
    decodeEntry(buf);
    return 'accepted';
  } catch (e) {
    if (e instanceof EntryDecodeError) return e.reason;
    throw e;
  }
};

describe('log entry codec', () => {
  it('CRC-32C matches the standard check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
  });

  it('round-trips every entry type, byte for byte', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const buf = encodeEntry(e);
        expect(buf[0]).toBe(FORMAT_VERSION);
        const back = decodeEntry(buf);
        expect(back).toEqual(e);
        expect(encodeEntry(back).equals(buf)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('names the transaction a commit or resolve settles, and nothing for other entries', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const settled = settledTxnOf(encodeEntry(e));
        if (e.type === 'commit' || e.type === 'resolve') expect(settled?.equals(e.txnId)).toBe(true);
        else expect(settled).toBeUndefined();
      }),
      { numRuns: 300 },
    );
    expect(settledTxnOf(Buffer.alloc(3))).toBeUndefined();
  });

  it('rejects any single-byte corruption', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (e, at, xor) => {
        const buf = Buffer.from(encodeEntry(e));
        buf[at % buf.length] ^= xor;
        expect(reason(buf)).not.toBe('accepted');
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects every truncation and any extension as truncated / corrupt', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), bytes(8), (e, cut, extra) => {
        const buf = encodeEntry(e);
        expect(reason(buf.subarray(0, cut % buf.length))).toBe('truncated');
        if (extra.length > 0) expect(reason(Buffer.concat([buf, extra]))).toBe('corrupt');
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a well-formed entry of a future format version as unknown-version', () => {
    const buf = Buffer.from(encodeEntry({ type: 'closed-timestamp', closedTs: 5n }));
    buf[0] = 2;
    buf.writeUInt32BE(crc32c(buf, 0, buf.length - 4), buf.length - 4);
    expect(() => decodeEntry(buf)).toThrow(/format version 2 is not supported \(this build reads version 1\)/);
    expect(reason(buf)).toBe('unknown-version');
  });

  it('rejects an unknown type tag with a valid checksum as unknown-type', () => {
    const buf = Buffer.from(encodeEntry({ type: 'closed-timestamp', closedTs: 5n }));
    buf[5] = 99;
    buf.writeUInt32BE(crc32c(buf, 0, buf.length - 4), buf.length - 4);
    expect(reason(buf)).toBe('unknown-type');
  });

  it('names the problem for checksum mismatches and short input', () => {
    const buf = Buffer.from(encodeEntry({ type: 'gc', threshold: 1n }));
    buf[8] ^= 1;
    expect(() => decodeEntry(buf)).toThrow(/checksum mismatch/);
    expect(() => decodeEntry(new Uint8Array(0))).toThrow(/shorter than the 9-byte envelope/);
  });

  it('refuses to encode out-of-range fields', () => {
    expect(() => encodeEntry({ type: 'closed-timestamp', closedTs: (1n << 64n) - 1n })).toThrow(EntryEncodeError);
    expect(() => encodeEntry({ type: 'closed-timestamp', closedTs: -1n })).toThrow(EntryEncodeError);
    expect(() => encodeEntry({ type: 'merge', rightShardId: 1.5 })).toThrow(/rightShardId must be a non-negative safe integer/);
    expect(() => encodeEntry({ type: 'nope' } as unknown as LogEntry)).toThrow(/unknown entry type/);
  });

  it('has a stable layout (format v1 is a contract with Kafka consumers)', () => {
    const buf = encodeEntry({
      type: 'commit', txnId: Buffer.from('t'), readTs: 1n, minCommitTs: 2n,
      reads: [{ kind: 'point', key: Buffer.from('a') }],
      writes: [{ kind: 'put', key: Buffer.from('k'), value: Buffer.from('v'), ifAbsent: { constraint: 'pk' } }],
    });
    expect(buf.toString('hex')).toBe(
      '01' + '00000021' + '01' + '0174' + '0000000000000001' + '0000000000000002' + '01' + '01' + '0161' +
        '01' + '02' + '016b' + '0176' + '02706b' + '00' + '398b6183',
    );
  });
});
