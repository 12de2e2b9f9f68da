// Exact decimal arithmetic for numeric: a value is an unscaled bigint and a scale (digits after
// the point). Text in/out keeps the scale, as Postgres does ('1.50' stays '1.50'). NaN is
// carried as the string 'NaN'; infinities are not supported in arithmetic.
import { S, sqlError } from '../errors';

export interface Dec {
  readonly u: bigint;
  readonly s: number;
}

const DEC_RE = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/;
const MAX_SCALE = 1000;

export function parseDec(text: string): Dec {
  const m = DEC_RE.exec(text);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) {
    throw sqlError(S.INVALID_TEXT_REPRESENTATION, `invalid input syntax for type numeric: "${text}"`);
  }
  const frac = m[3] ?? '';
  let u = BigInt((m[2] || '0') + frac);
  let s = frac.length;
  const e = m[4] ? Number(m[4]) : 0;
  if (Math.abs(e) > 10000) throw sqlError(S.NUMERIC_OUT_OF_RANGE, 'value overflows numeric format');
  s -= e;
  if (s < 0) {
    u *= 10n ** BigInt(-s);
    s = 0;
  }
  if (m[1] === '-') u = -u;
  return { u, s };
}

export function formatDec(d: Dec): string {
  const neg = d.u < 0n;
  let digits = (neg ? -d.u : d.u).toString();
  if (d.s > 0) {
    digits = digits.padStart(d.s + 1, '0');
    digits = `${digits.slice(0, digits.length - d.s)}.${digits.slice(digits.length - d.s)}`;
  }
  return neg ? `-${digits}` : digits;
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

export function rescale(d: Dec, s: number): Dec {
  if (s === d.s) return d;
  if (s > d.s) return { u: d.u * pow10(s - d.s), s };
  const div = pow10(d.s - s);
  let q = d.u / div;
  const r = d.u % div;
  // Round half away from zero.
  if ((r < 0n ? -r : r) * 2n >= div) q += d.u < 0n ? -1n : 1n;
  return { u: q, s };
}

export const decAdd = (a: Dec, b: Dec): Dec => {
  const s = Math.max(a.s, b.s);
  return { u: rescale(a, s).u + rescale(b, s).u, s };
};
export const decSub = (a: Dec, b: Dec): Dec => decAdd(a, { u: -b.u, s: b.s });
export const decMul = (a: Dec, b: Dec): Dec => ({ u: a.u * b.u, s: Math.min(a.s + b.s, MAX_SCALE) });
export const decCmp = (a: Dec, b: Dec): number => {
  const s = Math.max(a.s, b.s);
  const x = rescale(a, s).u;
  const y = rescale(b, s).u;
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Division with Postgres' result scale: at least 16 significant digits, never below the inputs' scales. */
export function decDiv(a: Dec, b: Dec): Dec {
  if (b.u === 0n) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
  // Postgres' select_div_scale: from the base-10000 weights and first digits of the operands.
  const [w1, d1] = firstGroup(a);
  const [w2, d2] = firstGroup(b);
  let qweight = w1 - w2;
  if (d1 <= d2) qweight--;
  const scale = Math.min(MAX_SCALE, Math.max(16 - qweight * 4, a.s, b.s, 0));
  return divToScale(a, b, scale);
}

/** Weight and value of the first non-zero base-10000 digit (Postgres' NumericVar layout). */
function firstGroup(d: Dec): [number, number] {
  if (d.u === 0n) return [0, 0];
  const digits = (d.u < 0n ? -d.u : d.u).toString();
  const intLen = digits.length - d.s;
  const intGroups = Math.max(0, Math.ceil(intLen / 4));
  const padLeft = intGroups * 4 - Math.max(intLen, 0);
  const frac = intLen < 0 ? '0'.repeat(-intLen) + digits : digits;
  const all = '0'.repeat(padLeft) + frac;
  const padded = all + '0'.repeat((4 - (all.length % 4)) % 4);
  for (let i = 0; i < padded.length; i += 4) {
    const g = Number(padded.slice(i, i + 4));
    if (g !== 0) return [intGroups - 1 - i / 4, g];
  }
  return [0, 0];
}

export function divToScale(a: Dec, b: Dec, scale: number): Dec {
  // a/b at `scale` digits: (a.u * 10^(scale + b.s - a.s + 1)) / b.u, then round the extra digit.
  const shift = scale + b.s - a.s + 1;
  const num = shift >= 0 ? a.u * pow10(shift) : a.u / pow10(-shift);
  const q = num / b.u;
  const neg = q < 0n;
  const abs = neg ? -q : q;
  const rounded = (abs + 5n) / 10n;
  return { u: neg ? -rounded : rounded, s: scale };
}

export function decMod(a: Dec, b: Dec): Dec {
  if (b.u === 0n) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
  const s = Math.max(a.s, b.s);
  return { u: rescale(a, s).u % rescale(b, s).u, s };
}

/** Applies numeric(p,s): rounds to s and checks the precision. */
export function decApplyTypmod(d: Dec, typmod: number): Dec {
  if (typmod < 4) return d;
  const m = typmod - 4;
  const p = (m >> 16) & 0xffff;
  const s = m & 0xffff;
  const r = rescale(d, s);
  const intDigits = (r.u < 0n ? -r.u : r.u).toString().length - s;
  if (r.u !== 0n && intDigits > p - s) {
    throw sqlError(S.NUMERIC_OUT_OF_RANGE, 'numeric field overflow', {
      detail: `A field with precision ${p}, scale ${s} must round to an absolute value less than ${p - s === 0 ? '1' : `10^${p - s}`}.`,
    });
  }
  return r;
}

/** Strips trailing fractional zeros (used by aggregates that pick their own scale). */
export function decTrim(d: Dec): Dec {
  let { u, s } = d;
  while (s > 0 && u % 10n === 0n) {
    u /= 10n;
    s--;
  }
  return { u, s };
}

export const decFromBigint = (v: bigint): Dec => ({ u: v, s: 0 });
export function decFromNumber(v: number): Dec {
  if (!Number.isFinite(v)) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'cannot convert infinity or NaN to numeric');
  return parseDec(String(v));
}
