// SQL comparison of key values, written from the value semantics (not from the encoding) so it
// can serve as the oracle for the encoding's property tests and sort decoded values in memory.

import { Direction, KeyValue, isDescending, nullsFirst } from './key-types';
import { parseNumeric } from './numeric';

/** -1, 0 or 1. Values must be of the same type (or NULL). NULL placement follows `dir`. */
export function compareValues(a: KeyValue, b: KeyValue, dir: Direction = 'asc'): number {
  if (a.type === 'null' || b.type === 'null') {
    if (a.type === b.type) return 0;
    const nullLow = nullsFirst(dir);
    return a.type === 'null' ? (nullLow ? -1 : 1) : nullLow ? 1 : -1;
  }
  const c = compareNonNull(a, b);
  return isDescending(dir) && c !== 0 ? -c : c;
}

export function compareTuples(a: readonly KeyValue[], b: readonly KeyValue[], dirs: readonly Direction[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i], dirs[i]);
    if (c !== 0) return c;
  }
  return Math.sign(a.length - b.length);
}

type NonNull = Exclude<KeyValue, { type: 'null' }>;

function compareNonNull(a: NonNull, b: NonNull): number {
  switch (a.type) {
    case 'bool':
    case 'int2':
    case 'int4':
    case 'date':
    case 'int8':
    case 'timestamp':
    case 'timestamptz':
      return cmp(a.value, sameType(a, b).value);
    case 'float4':
    case 'float8':
      return compareFloat(a.value, sameType(a, b).value);
    case 'text':
      return Math.sign(Buffer.compare(Buffer.from(a.value, 'utf8'), Buffer.from(sameType(a, b).value, 'utf8')));
    case 'bytea':
      return Math.sign(Buffer.compare(a.value, sameType(a, b).value));
    case 'uuid':
      return cmp(a.value.toLowerCase(), sameType(a, b).value.toLowerCase());
    case 'numeric':
      return compareNumeric(a.value, sameType(a, b).value);
  }
}

function sameType<T extends NonNull>(a: T, b: NonNull): T {
  if (a.type !== b.type) throw new TypeError(`cannot compare ${a.type} with ${b.type}`);
  return b as T;
}

function cmp<T extends number | bigint | boolean | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Postgres float order: NaN equals NaN and is greater than everything; -0 equals 0. */
export function compareFloat(a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an && bn ? 0 : an ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Numeric order by value: -Infinity < finite < Infinity < NaN; exact, via scaled bigints. */
export function compareNumeric(a: string, b: string): number {
  const pa = parseNumeric(a);
  const pb = parseNumeric(b);
  const rank = (p: typeof pa): number => (p.kind === 'nan' ? 3 : p.kind === 'inf' ? (p.neg ? 0 : 2) : 1);
  const ra = rank(pa);
  const rb = rank(pb);
  if (ra !== rb || pa.kind !== 'finite' || pb.kind !== 'finite') return cmp(ra, rb);
  // value = m * 10^(exp - digits.length); align both to the smaller power of ten.
  const ma = BigInt(pa.digits === '' ? '0' : pa.digits) * (pa.neg ? -1n : 1n);
  const mb = BigInt(pb.digits === '' ? '0' : pb.digits) * (pb.neg ? -1n : 1n);
  const ea = pa.exp - pa.digits.length;
  const eb = pb.exp - pb.digits.length;
  const e = Math.min(ea, eb);
  return cmp(ma * 10n ** BigInt(ea - e), mb * 10n ** BigInt(eb - e));
}
