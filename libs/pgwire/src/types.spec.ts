import fc from 'fast-check';
import { BufferWriter } from './buffer-writer';
import { PgError } from './errors';
import { codecFor, decodeParam, normalizeNumeric, Oid, type PgValue } from './types';

function binary(oid: number, v: Exclude<PgValue, null>): Buffer {
  const w = new BufferWriter(4);
  codecFor(oid).writeBinary(w, v);
  return Buffer.from(w.flush());
}

function roundTrip(oid: number, v: Exclude<PgValue, null>): { text: PgValue; bin: PgValue } {
  const c = codecFor(oid);
  return { text: c.fromText(c.toText(v)), bin: c.fromBinary(binary(oid, v)) };
}

describe('type codecs', () => {
  it('integers round-trip in both formats and enforce ranges', () => {
    fc.assert(
      fc.property(fc.integer({ min: -2147483648, max: 2147483647 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (i, b) => {
        expect(roundTrip(Oid.int4, i)).toEqual({ text: i, bin: i });
        expect(roundTrip(Oid.int8, b)).toEqual({ text: b, bin: b });
      }),
    );
    expect(() => codecFor(Oid.int2).fromText('40000')).toThrow(expect.objectContaining({ code: '22003' }) as PgError);
    expect(() => codecFor(Oid.int4).fromText('12x')).toThrow(expect.objectContaining({ code: '22P02' }) as PgError);
    expect(codecFor(Oid.oid).fromBinary(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toBe(4294967295);
  });

  it('floats round-trip and print like Postgres', () => {
    fc.assert(
      fc.property(fc.double(), (d) => {
        const { text, bin } = roundTrip(Oid.float8, d);
        expect(Object.is(text, d) || (Number.isNaN(d) && Number.isNaN(text))).toBe(true);
        expect(Object.is(bin, d) || (Number.isNaN(d) && Number.isNaN(bin))).toBe(true);
      }),
    );
    const f8 = codecFor(Oid.float8);
    expect([0.1, 1e15, 123456789012345, 1234567890123456, 1e-5, 0.0001, Infinity, NaN, -0, 1.5e300].map((v) => f8.toText(v))).toEqual([
      '0.1',
      '1e+15',
      '123456789012345',
      '1.234567890123456e+15',
      '1e-05',
      '0.0001',
      'Infinity',
      'NaN',
      '-0',
      '1.5e+300',
    ]);
    const f4 = codecFor(Oid.float4);
    expect([0.1, 1.5, 123456.7, 1234567].map((v) => f4.toText(v))).toEqual(['0.1', '1.5', '123456.7', '1.234567e+06']);
  });

  it('numeric: exact text, binary in base 10000', () => {
    expect(binary(Oid.numeric, '-12345.678900').toString('hex')).toBe(
      // ndigits 3, weight 1, NEG, dscale 6, digits 1 2345 6789
      '0003' + '0001' + '4000' + '0006' + '0001' + '0929' + '1a85',
    );
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
        fc.integer({ min: 0, max: 12 }),
        (unscaled, scale) => {
          const abs = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
          const text =
            (unscaled < 0n ? '-' : '') + (scale > 0 ? `${abs.slice(0, abs.length - scale)}.${abs.slice(abs.length - scale)}` : abs);
          const c = codecFor(Oid.numeric);
          const expected = normalizeNumeric(text);
          expect(c.fromBinary(binary(Oid.numeric, text))).toBe(expected);
          expect(c.fromText(text)).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
    expect(normalizeNumeric('1.5e3')).toBe('1500');
    expect(normalizeNumeric('-0.00')).toBe('0.00');
    expect(codecFor(Oid.numeric).fromBinary(binary(Oid.numeric, 'NaN'))).toBe('NaN');
    expect(() => normalizeNumeric('1..2')).toThrow(PgError);
  });

  it('bytea, uuid, bool, json', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (a) => {
        const b = Buffer.from(a);
        expect(roundTrip(Oid.bytea, b)).toEqual({ text: b, bin: b });
      }),
    );
    expect(codecFor(Oid.bytea).toText(Buffer.from([0xde, 0xad]))).toBe('\\xdead');
    expect(codecFor(Oid.bytea).fromText('a\\\\b\\001')).toEqual(Buffer.from([0x61, 0x5c, 0x62, 1]));
    fc.assert(
      fc.property(fc.uuid(), (u) => {
        expect(roundTrip(Oid.uuid, u)).toEqual({ text: u, bin: u });
      }),
    );
    expect(codecFor(Oid.uuid).fromText('{A0EEBC999C0B4EF8BB6D6BB9BD380A11}')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(codecFor(Oid.bool).fromText(' YES ')).toBe(true);
    expect(() => codecFor(Oid.bool).fromText('maybe')).toThrow(PgError);
    expect(binary(Oid.jsonb, { a: 1 }).toString()).toBe('\u0001{"a":1}');
    expect(() => decodeParam(Oid.json, 0, Buffer.from('{bad'))).toThrow(expect.objectContaining({ code: '22P02' }) as PgError);
  });

  it('date and timestamps in binary are days/microseconds since 2000-01-01', () => {
    expect(binary(Oid.date, '2000-01-02').readInt32BE(0)).toBe(1);
    expect(binary(Oid.date, '1999-12-31').readInt32BE(0)).toBe(-1);
    expect(codecFor(Oid.date).fromBinary(binary(Oid.date, '2024-02-29'))).toBe('2024-02-29');
    expect(codecFor(Oid.date).fromBinary(binary(Oid.date, 'infinity'))).toBe('infinity');
    expect(binary(Oid.timestamp, '2000-01-01 00:00:01.5').readBigInt64BE(0)).toBe(1_500_000n);
    expect(codecFor(Oid.timestamp).fromBinary(binary(Oid.timestamp, '1969-07-20 20:17:40.000001'))).toBe(
      '1969-07-20 20:17:40.000001',
    );
    expect(codecFor(Oid.timestamptz).fromBinary(binary(Oid.timestamptz, '2024-01-01 12:00:00+02'))).toBe('2024-01-01 10:00:00+00');
    expect(codecFor(Oid.timestamptz).toText(new Date(Date.UTC(2024, 0, 1, 10)))).toBe('2024-01-01 10:00:00+00');
    expect(() => binary(Oid.date, '2023-02-29')).toThrow(expect.objectContaining({ code: '22008' }) as PgError);
    fc.assert(
      fc.property(fc.date({ min: new Date('0001-01-01'), max: new Date('9999-12-31'), noInvalidDate: true }), (d) => {
        const tz = codecFor(Oid.timestamptz);
        const text = tz.toText(d);
        expect(tz.fromBinary(binary(Oid.timestamptz, d))).toBe(text);
        expect(tz.fromBinary(binary(Oid.timestamptz, text))).toBe(text);
      }),
    );
  });

  it('binary decoding of wrong-sized input is 22P03, never a RangeError', () => {
    for (const oid of [Oid.bool, Oid.int2, Oid.int4, Oid.int8, Oid.float4, Oid.float8, Oid.uuid, Oid.date, Oid.timestamp, Oid.numeric]) {
      expect(() => codecFor(oid).fromBinary(Buffer.alloc(3))).toThrow(expect.objectContaining({ code: '22P03' }) as PgError);
    }
    fc.assert(
      fc.property(fc.constantFrom(...Object.values(Oid)), fc.uint8Array({ maxLength: 24 }), fc.constantFrom(0 as const, 1 as const), (oid, bytes, fmt) => {
        try {
          decodeParam(oid, fmt, Buffer.from(bytes));
        } catch (e) {
          expect(e).toBeInstanceOf(PgError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('time and interval codecs', () => {
  it('write PostgreSQL text output as binary and read binary back as that text', () => {
    const iv = codecFor(Oid.interval);
    for (const s of ['00:00:00', '1 day', '1 year 2 mons 3 days 04:05:06.5', '-1 days +02:00:00', '-00:00:01', '3 mons -4 days -05:06:07.000001', '-1 years -2 mons']) {
      expect(iv.fromBinary(binary(Oid.interval, s))).toBe(s);
    }
    const b = binary(Oid.interval, '1 year 2 mons 3 days 04:05:06.5');
    expect([b.readBigInt64BE(0), b.readInt32BE(8), b.readInt32BE(12)]).toEqual([14_706_500_000n, 3, 14]);
    const tm = codecFor(Oid.time);
    expect(binary(Oid.time, '13:14:15.25').readBigInt64BE(0)).toBe(47_655_250_000n);
    expect(tm.fromBinary(binary(Oid.time, '00:00:00'))).toBe('00:00:00');
    expect(tm.fromBinary(binary(Oid.time, '23:59:59.999999'))).toBe('23:59:59.999999');
    expect(() => binary(Oid.interval, '2 fortnights')).toThrow(expect.objectContaining({ code: '22P02' }) as PgError);
  });
});
