// fast-check generators shared by the storage property tests (test-only; not exported by the lib).
import fc from 'fast-check';
import { INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, KeyType, KeyValue } from '../key-types';
import { canonicalNumeric } from '../numeric';

const digits = (max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom('0', '0', '1', '5', '9'), maxLength: max });

export const numericText: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('NaN', 'Infinity', '-Infinity', '0', '-0', '0.000', '1', '1.0', '-1.00', '.5', '5e-1') },
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom('', '-', '+'), digits(8), digits(8), fc.option(fc.integer({ min: -20, max: 20 }), { nil: undefined }))
      .map(([s, i, f, e]) => `${s}${i === '' ? '0' : i}${f === '' ? '' : `.${f}`}${e === undefined ? '' : `e${e}`}`),
  },
);

// Values drawn from small pools as well as full ranges so that ties and neighbours are common.
export function valueOf(type: KeyType): fc.Arbitrary<KeyValue> {
  const pick = <T>(small: fc.Arbitrary<T>, full: fc.Arbitrary<T>): fc.Arbitrary<T> => fc.oneof(small, full);
  switch (type) {
    case 'bool':
      return fc.boolean().map((value) => ({ type, value }));
    case 'int2':
      return pick(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -32768, max: 32767 })).map((value) => ({ type, value }));
    case 'int4':
      return pick(fc.integer({ min: -3, max: 3 }), fc.integer()).map((value) => ({ type, value }));
    case 'int8':
    case 'timestamp':
    case 'timestamptz':
      return pick(fc.bigInt(-3n, 3n), fc.bigInt(INT64_MIN, INT64_MAX)).map((value) => ({ type, value }));
    case 'date':
      return pick(fc.constantFrom(-Infinity, Infinity, -1, 0, 1), fc.integer({ min: INT32_MIN + 1, max: INT32_MAX - 1 })).map((value) => ({ type, value }));
    case 'float4':
      return pick(fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 1, -1), fc.float()).map((value) => ({ type, value }));
    case 'float8':
      return pick(fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, 1, -1, Number.MIN_VALUE), fc.double()).map((value) => ({ type, value }));
    case 'numeric':
      return numericText.map((value) => ({ type, value }));
    case 'text':
      return pick(fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\u00ff', '\u{1F600}'), maxLength: 4 }), fc.string({ unit: 'binary' })).map((value) => ({ type, value }));
    case 'bytea':
      return pick(
        fc.array(fc.constantFrom(0, 1, 0xfe, 0xff), { maxLength: 4 }).map((a) => Uint8Array.from(a)),
        fc.uint8Array({ maxLength: 24 }),
      ).map((value) => ({ type, value }));
    case 'uuid':
      return pick(
        fc.constantFrom('00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
        fc.uuid(),
      ).map((value) => ({ type, value }));
  }
}

export const nullable = (type: KeyType): fc.Arbitrary<KeyValue> =>
  fc.oneof({ weight: 1, arbitrary: fc.constant<KeyValue>({ type: 'null' }) }, { weight: 5, arbitrary: valueOf(type) });

/** What decode must return for x: -0 -> 0, float4 rounding, canonical numeric, lower-case uuid. */
export function canonicalKey(v: KeyValue): unknown {
  switch (v.type) {
    case 'float8':
      return v.value === 0 ? 0 : v.value;
    case 'float4':
      return Math.fround(v.value) === 0 ? 0 : Math.fround(v.value);
    case 'numeric':
      return canonicalNumeric(v.value);
    case 'uuid':
      return v.value.toLowerCase();
    case 'bytea':
      return Buffer.from(v.value).toString('hex');
    case 'null':
      return null;
    default:
      return v.value;
  }
}

