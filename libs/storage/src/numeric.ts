// Arbitrary-precision decimals (Postgres `numeric`) given as strings. Keys need the value only
// (1.0 = 1.00, as Postgres equality and unique indexes treat them), rows need the exact text
// including scale. Both start from the same parse.

import { ByteReader, ByteWriter, CorruptEncodingError } from './bytes';

/** A parsed numeric. For 'finite': value = (neg ? -1 : 1) * 0.<digits> * 10^exp, digits has no
 *  leading or trailing zeros; zero is digits === ''. `scale` is the number of digits after the
 *  decimal point as written (kept for row values, ignored by keys). */
export type ParsedNumeric =
  | { kind: 'nan' }
  | { kind: 'inf'; neg: boolean }
  | { kind: 'finite'; neg: boolean; digits: string; exp: number; scale: number };

// Postgres numeric limits: up to 131072 digits before the decimal point, 16383 after.
const MAX_INT_DIGITS = 131072;
const MAX_SCALE = 16383;

const NUMERIC_RE = /^([+-])?(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;

export class InvalidNumericError extends Error {
  override readonly name = 'InvalidNumericError';
}

export function parseNumeric(text: string): ParsedNumeric {
  const lower = text.toLowerCase();
  if (lower === 'nan') return { kind: 'nan' };
  if (lower === 'infinity' || lower === '+infinity' || lower === 'inf' || lower === '+inf') return { kind: 'inf', neg: false };
  if (lower === '-infinity' || lower === '-inf') return { kind: 'inf', neg: true };
  const m = NUMERIC_RE.exec(text);
  if (!m) throw new InvalidNumericError(`invalid input syntax for type numeric: "${text}"`);
  const intPart = m[2] ?? '';
  const fracPart = m[3] ?? m[4] ?? '';
  const e = m[5] === undefined ? 0 : Number(m[5]);
  if (!Number.isSafeInteger(e) || Math.abs(e) > 1_000_000) throw new InvalidNumericError(`numeric exponent out of range: "${text}"`);
  const all = intPart + fracPart;
  const scale = Math.max(0, fracPart.length - e);
  let lead = 0;
  while (lead < all.length && all.charCodeAt(lead) === 48) lead++;
  let tail = all.length;
  while (tail > lead && all.charCodeAt(tail - 1) === 48) tail--;
  const digits = all.slice(lead, tail);
  const exp = digits === '' ? 0 : intPart.length + e - lead;
  if (exp > MAX_INT_DIGITS || scale > MAX_SCALE) throw new InvalidNumericError(`numeric value out of range: "${text}"`);
  return { kind: 'finite', neg: digits !== '' && m[1] === '-', digits, exp, scale };
}

/** Plain notation. With `keepScale` the written number of fraction digits is preserved. */
export function formatNumeric(p: ParsedNumeric, keepScale: boolean): string {
  if (p.kind === 'nan') return 'NaN';
  if (p.kind === 'inf') return p.neg ? '-Infinity' : 'Infinity';
  const { digits, exp } = p;
  let intStr: string;
  let fracStr: string;
  if (digits === '') {
    intStr = '0';
    fracStr = '';
  } else if (exp <= 0) {
    intStr = '0';
    fracStr = '0'.repeat(-exp) + digits;
  } else if (exp >= digits.length) {
    intStr = digits + '0'.repeat(exp - digits.length);
    fracStr = '';
  } else {
    intStr = digits.slice(0, exp);
    fracStr = digits.slice(exp);
  }
  if (keepScale && fracStr.length < p.scale) fracStr += '0'.repeat(p.scale - fracStr.length);
  const body = fracStr === '' ? intStr : `${intStr}.${fracStr}`;
  return p.neg ? `-${body}` : body;
}

/** The canonical text of a numeric's value: no trailing fraction zeros, no exponent. */
export function canonicalNumeric(text: string): string {
  return formatNumeric(parseNumeric(text), false);
}

// Key classes, in value order. NaN is greatest, as in Postgres.
const C_NEG_INF = 0x01;
const C_NEG = 0x02;
const C_ZERO = 0x03;
const C_POS = 0x04;
const C_POS_INF = 0x05;
const C_NAN = 0x06;
const EXP_BIAS = 0x80000000;

/**
 * Order-preserving body: class byte; for non-zero finite values a 4-byte biased exponent, then
 * the digits packed two per byte as (10*d1 + d2 + 1) in 1..100 (an odd tail pads with 0, which is
 * unambiguous because canonical digits never end in 0), then a 0x00 terminator that sorts below
 * every digit byte so 0.12 < 0.123. Negatives invert everything after the class byte, so larger
 * magnitudes sort lower.
 */
export function writeNumericKey(w: ByteWriter, text: string): void {
  const p = parseNumeric(text);
  if (p.kind === 'nan') return w.u8(C_NAN);
  if (p.kind === 'inf') return w.u8(p.neg ? C_NEG_INF : C_POS_INF);
  if (p.digits === '') return w.u8(C_ZERO);
  w.u8(p.neg ? C_NEG : C_POS);
  const start = w.length;
  w.u32be(p.exp + EXP_BIAS);
  const d = p.digits;
  for (let i = 0; i < d.length; i += 2) {
    const hi = d.charCodeAt(i) - 48;
    const lo = i + 1 < d.length ? d.charCodeAt(i + 1) - 48 : 0;
    w.u8(hi * 10 + lo + 1);
  }
  w.u8(0);
  if (p.neg) w.invertFrom(start);
}

export function readNumericKey(r: ByteReader): string {
  const cls = r.u8();
  switch (cls) {
    case C_NAN:
      return 'NaN';
    case C_NEG_INF:
      return '-Infinity';
    case C_POS_INF:
      return 'Infinity';
    case C_ZERO:
      return '0';
    case C_NEG:
    case C_POS:
      break;
    default:
      throw new CorruptEncodingError(`bad numeric class byte ${cls}`);
  }
  const neg = cls === C_NEG;
  const outerMask = r.mask;
  if (neg) r.mask ^= 0xff;
  try {
    const exp = r.u32be() - EXP_BIAS;
    let digits = '';
    for (;;) {
      const b = r.u8();
      if (b === 0) break;
      if (b > 100) throw new CorruptEncodingError(`bad numeric digit byte ${b}`);
      const v = b - 1;
      digits += String.fromCharCode(48 + Math.floor(v / 10), 48 + (v % 10));
    }
    if (digits.endsWith('0')) digits = digits.slice(0, -1);
    return formatNumeric({ kind: 'finite', neg, digits, exp, scale: 0 }, false);
  } finally {
    r.mask = outerMask;
  }
}
