// Math functions. Integer and numeric arguments keep exact types where Postgres does.
import { S, sqlError } from '../errors';
import { decMul, formatDec, parseDec, rescale, decFromBigint } from '../types/decimal';
import { checkInt } from '../types/values';
import { type SqlType, type Value, plain, t } from '../types/types';
import { fn, num } from './helpers';
import { register } from './registry';

const same = (a: readonly SqlType[]): SqlType => (a[0].kind === 'unknown' ? t('numeric') : a[0]);
const float = (f: (x: number) => number) => (a: readonly Value[]): Value => f(num(a[0]));

function roundNumeric(v: string, places: number, mode: 'round' | 'trunc'): string {
  if (v === 'NaN') return v;
  const d = parseDec(v);
  if (mode === 'round') {
    if (places >= d.s) return formatDec(rescale(d, Math.max(places, 0)));
    if (places >= 0) return formatDec(rescale(d, places));
    const r = rescale({ u: d.u, s: d.s - places }, 0);
    return formatDec(decMul(r, decFromBigint(10n ** BigInt(-places))));
  }
  const p = Math.max(places, 0);
  if (p >= d.s) return formatDec(rescale(d, p));
  const div = 10n ** BigInt(d.s - p);
  return formatDec({ u: d.u / div, s: p });
}

const absV = (a: readonly Value[], types: readonly SqlType[]): Value => {
  const v = a[0];
  if (typeof v === 'bigint') return checkInt(v < 0n ? -v : v, 'int8');
  if (types[0].kind === 'numeric') return (v as string).replace(/^-/, '');
  return checkInt(Math.abs(v as number), types[0].kind === 'int2' ? 'int2' : 'int4');
};

function intOrNum(a: readonly Value[], types: readonly SqlType[], f: (x: number) => number): Value {
  if (types[0].kind === 'numeric') return roundNumeric(String(f(Number(a[0]))), 0, 'round');
  return f(num(a[0]));
}

register(
  fn('abs', ['int2'], 'int2', absV),
  fn('abs', ['int4'], 'int4', absV),
  fn('abs', ['int8'], 'int8', absV),
  fn('abs', ['numeric'], 'numeric', absV),
  fn('abs', ['num'], 'float8', (a) => Math.abs(num(a[0]))),
  fn('ceil', ['numeric'], 'numeric', (a, ty) => intOrNum(a, ty, Math.ceil)),
  fn('ceil', ['num'], 'float8', float(Math.ceil)),
  fn('ceiling', ['numeric'], 'numeric', (a, ty) => intOrNum(a, ty, Math.ceil)),
  fn('ceiling', ['num'], 'float8', float(Math.ceil)),
  fn('floor', ['numeric'], 'numeric', (a, ty) => intOrNum(a, ty, Math.floor)),
  fn('floor', ['num'], 'float8', float(Math.floor)),
  fn('round', ['numeric'], 'numeric', (a) => roundNumeric(a[0] as string, 0, 'round')),
  fn('round', ['int'], 'numeric', (a) => plain(a[0])),
  fn('round', ['num'], 'float8', (a) => {
    const x = num(a[0]);
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; // float rounds half to even
  }),
  fn('round', ['numeric', 'int'], 'numeric', (a) => roundNumeric(a[0] as string, num(a[1]), 'round')),
  fn('round', ['int', 'int'], 'numeric', (a) => roundNumeric(plain(a[0]), num(a[1]), 'round')),
  fn('trunc', ['numeric'], 'numeric', (a) => roundNumeric(a[0] as string, 0, 'trunc')),
  fn('trunc', ['numeric', 'int'], 'numeric', (a) => roundNumeric(a[0] as string, num(a[1]), 'trunc')),
  fn('trunc', ['num'], 'float8', float(Math.trunc)),
  fn('sign', ['numeric'], 'numeric', (a) => String(Math.sign(Number(a[0])))),
  fn('sign', ['num'], 'float8', float(Math.sign)),
  fn('mod', ['int2', 'int2'], 'int2', (a) => modInt(a)),
  fn('mod', ['int4', 'int4'], 'int4', (a) => modInt(a)),
  fn('mod', ['int', 'int'], 'int8', (a) => modInt(a.map((x) => BigInt(x as number | bigint)))),
  fn('sqrt', ['num'], 'float8', (a) => {
    if (num(a[0]) < 0) throw sqlError('2201F', 'cannot take square root of a negative number');
    return Math.sqrt(num(a[0]));
  }),
  fn('cbrt', ['num'], 'float8', float(Math.cbrt)),
  fn('exp', ['num'], 'float8', float(Math.exp)),
  fn('ln', ['num'], 'float8', (a) => {
    if (num(a[0]) <= 0) throw sqlError('2201E', num(a[0]) === 0 ? 'cannot take logarithm of zero' : 'cannot take logarithm of a negative number');
    return Math.log(num(a[0]));
  }),
  fn('log', ['num'], 'float8', float(Math.log10)),
  fn('log10', ['num'], 'float8', float(Math.log10)),
  fn('power', ['num', 'num'], 'float8', (a) => Math.pow(num(a[0]), num(a[1]))),
  fn('pow', ['num', 'num'], 'float8', (a) => Math.pow(num(a[0]), num(a[1]))),
  fn('pi', [], 'float8', () => Math.PI),
  fn('random', [], 'float8', () => Math.random()),
  fn('degrees', ['num'], 'float8', (a) => (num(a[0]) * 180) / Math.PI),
  fn('radians', ['num'], 'float8', (a) => (num(a[0]) * Math.PI) / 180),
  fn('sin', ['num'], 'float8', float(Math.sin)),
  fn('cos', ['num'], 'float8', float(Math.cos)),
  fn('tan', ['num'], 'float8', float(Math.tan)),
  fn('atan', ['num'], 'float8', float(Math.atan)),
  fn('atan2', ['num', 'num'], 'float8', (a) => Math.atan2(num(a[0]), num(a[1]))),
  fn('div', ['num', 'num'], 'numeric', (a) => {
    if (num(a[1]) === 0) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
    return String(Math.trunc(num(a[0]) / num(a[1])));
  }),
  fn('gcd', ['int', 'int'], same, (a) => {
    let x = BigInt(a[0] as number | bigint);
    let y = BigInt(a[1] as number | bigint);
    if (x < 0n) x = -x;
    if (y < 0n) y = -y;
    while (y) [x, y] = [y, x % y];
    return typeof a[0] === 'bigint' ? x : Number(x);
  }),
  fn('lcm', ['int', 'int'], same, (a) => {
    const x = BigInt(a[0] as number | bigint);
    const y = BigInt(a[1] as number | bigint);
    let g = x < 0n ? -x : x;
    let h = y < 0n ? -y : y;
    while (h) [g, h] = [h, g % h];
    const r = g === 0n ? 0n : ((x * y) / g < 0n ? -((x * y) / g) : (x * y) / g);
    return typeof a[0] === 'bigint' ? r : checkInt(r, 'int4');
  }),
  fn('factorial', ['int'], 'numeric', (a) => {
    const n = BigInt(a[0] as number | bigint);
    if (n < 0n) throw sqlError('2201E', 'factorial of a negative number is undefined');
    let r = 1n;
    for (let i = 2n; i <= n; i++) r *= i;
    return r.toString();
  }),
  fn('width_bucket', ['num', 'num', 'num', 'int'], 'int4', (a) => {
    const [v, lo, hi, n] = a.map(num);
    if (v < lo) return 0;
    if (v >= hi) return n + 1;
    return Math.floor(((v - lo) / (hi - lo)) * n) + 1;
  }),
  fn('setseed', ['num'], 'void', () => null),
);

function modInt(a: readonly Value[]): Value {
  const [x, y] = a;
  if (typeof x === 'bigint') {
    if (y === 0n) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
    return x % (y as bigint);
  }
  if (y === 0) throw sqlError(S.DIVISION_BY_ZERO, 'division by zero');
  return (x as number) % (y as number);
}
