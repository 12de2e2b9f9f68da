import fc from 'fast-check';
import { compareTuples, compareValues } from './compare-values';
import { Direction, KEY_TYPES, KeyType, KeyValue } from './key-types';
import { compareKeys, decodeTuple, encodeTuple } from './keys';
import { canonicalKey as canonical, nullable } from './testing/arbitraries';
import { decodeIndexKey, encodeIndexKey, indexSpan } from './table-keys';

const DIRECTIONS: Direction[] = ['asc', 'desc', 'asc nulls first', 'desc nulls last'];
const RUNS = { numRuns: 300 };
const sign = (n: number): number => (n > 0 ? 1 : n < 0 ? -1 : 0);

describe('key encoding', () => {
  describe.each(KEY_TYPES)('%s', (type) => {
    it.each(DIRECTIONS)('memcmp order equals value order (%s)', (dir) => {
      fc.assert(
        fc.property(nullable(type), nullable(type), (a, b) => {
          const ka = encodeTuple([a], [dir]);
          const kb = encodeTuple([b], [dir]);
          expect(sign(compareKeys(ka, kb))).toBe(compareValues(a, b, dir));
        }),
        RUNS,
      );
    });

    it.each(DIRECTIONS)('decode(encode(x)) = x (%s)', (dir) => {
      fc.assert(
        fc.property(nullable(type), (x) => {
          const [y] = decodeTuple(encodeTuple([x], [dir]), [type], [dir]);
          expect(y.type).toBe(x.type === 'null' ? 'null' : type);
          expect(canonical(y)).toEqual(canonical(x));
        }),
        RUNS,
      );
    });
  });

  const schema = fc.array(fc.record({ type: fc.constantFrom(...KEY_TYPES), dir: fc.constantFrom(...DIRECTIONS) }), { minLength: 1, maxLength: 4 });
  const tuplesOf = (cols: { type: KeyType; dir: Direction }[]) => fc.tuple(...cols.map((c) => nullable(c.type)));

  it('multi-column tuples: order and round trip', () => {
    fc.assert(
      fc.property(
        schema.chain((cols) => fc.tuple(fc.constant(cols), tuplesOf(cols), tuplesOf(cols), fc.nat({ max: cols.length }))),
        ([cols, a, b, shared]) => {
          // Share a prefix so later columns decide the order often.
          const b2 = [...a.slice(0, shared), ...b.slice(shared)];
          const dirs = cols.map((c) => c.dir);
          const types = cols.map((c) => c.type);
          const ka = encodeTuple(a, dirs);
          const kb = encodeTuple(b2, dirs);
          expect(sign(compareKeys(ka, kb))).toBe(compareTuples(a, b2, dirs));
          expect(decodeTuple(ka, types, dirs).map(canonical)).toEqual(a.map(canonical));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a tuple prefix sorts before every tuple that extends it (prefix scans)', () => {
    fc.assert(
      fc.property(
        schema.filter((c) => c.length > 1).chain((cols) => fc.tuple(fc.constant(cols), tuplesOf(cols))),
        ([cols, t]) => {
          const dirs = cols.map((c) => c.dir);
          const spec = { tableId: 7, indexId: 1, types: cols.map((c) => c.type), directions: dirs };
          const { start, end } = indexSpan(spec, t.slice(0, 1));
          const full = encodeIndexKey(spec, t);
          expect(compareKeys(start, full)).toBeLessThan(0);
          expect(compareKeys(full, end)).toBeLessThan(0);
          expect(decodeIndexKey(full, spec).map(canonical)).toEqual(t.map(canonical));
        },
      ),
      RUNS,
    );
  });

  it('orders the documented edge cases', () => {
    const enc = (v: KeyValue, d: Direction = 'asc') => encodeTuple([v], [d]);
    const f = (value: number): KeyValue => ({ type: 'float8', value });
    const chain = [f(-Infinity), f(-1), f(-0), f(0), f(1), f(Infinity), f(NaN), { type: 'null' } as KeyValue].map((v) => enc(v));
    for (let i = 1; i < chain.length; i++) expect(compareKeys(chain[i - 1], chain[i])).toBeLessThanOrEqual(0);
    expect(enc(f(-0))).toEqual(enc(f(0)));
    expect(enc(f(NaN))).toEqual(enc(f(-NaN)));
    // 1.0 and 1.00 are the same numeric value: same key, decoded as '1'.
    const n = (value: string): KeyValue => ({ type: 'numeric', value });
    expect(enc(n('1.0'))).toEqual(enc(n('1.00')));
    expect(decodeTuple(enc(n('-12.3400')), ['numeric'], ['asc'])).toEqual([n('-12.34')]);
    // Text: 'a' < 'a\0' < 'a\0\0' < 'ab'; DESC reverses and NULL comes first.
    const t = (value: string): KeyValue => ({ type: 'text', value });
    const asc = ['a', 'a\0', 'a\0\0', 'ab'].map((s) => enc(t(s)));
    for (let i = 1; i < asc.length; i++) expect(compareKeys(asc[i - 1], asc[i])).toBeLessThan(0);
    const desc = [{ type: 'null' } as KeyValue, t('ab'), t('a\0'), t('a')].map((v) => enc(v, 'desc'));
    for (let i = 1; i < desc.length; i++) expect(compareKeys(desc[i - 1], desc[i])).toBeLessThan(0);
  });

  it('rejects bad input with a clear error', () => {
    expect(() => encodeTuple([{ type: 'int2', value: 40000 }], ['asc'])).toThrow(/int2 out of range/);
    expect(() => encodeTuple([{ type: 'int4', value: 1.5 }], ['asc'])).toThrow(/int4 out of range/);
    expect(() => encodeTuple([{ type: 'numeric', value: '1.2.3' }], ['asc'])).toThrow(/invalid input syntax for type numeric/);
    expect(() => encodeTuple([{ type: 'uuid', value: 'nope' }], ['asc'])).toThrow(/invalid input syntax for type uuid/);
    expect(() => encodeTuple([{ type: 'text', value: 'a\ud800' }], ['asc'])).toThrow(/surrogate/);
    expect(() => decodeTuple(Buffer.from([1, 0]), ['int4'], ['asc'])).toThrow(/truncated/);
  });
});
