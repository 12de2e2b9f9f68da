// String functions.
import { createHash } from 'node:crypto';
import { S, sqlError } from '../errors';
import { toText } from '../types/values';
import { arrayOf, isStringKind, t, type SqlType, type Value } from '../types/types';
import { fn, num, str, variadic } from './helpers';
import { register } from './registry';

const chars = (s: string): string[] => [...s];

function substr(s: string, from: number, len?: number): string {
  const c = chars(s);
  let start = from - 1;
  let end = len === undefined ? c.length : start + len;
  if (len !== undefined && len < 0) throw sqlError('22011', 'negative substring length not allowed');
  start = Math.max(0, start);
  end = Math.max(start, Math.min(c.length, end));
  return c.slice(start, end).join('');
}

function pad(s: string, len: number, fill: string, left: boolean): string {
  const c = chars(s);
  if (len <= c.length) return c.slice(0, Math.max(0, len)).join('');
  if (fill === '') return s;
  const f = chars(fill);
  const need = len - c.length;
  const p: string[] = [];
  for (let i = 0; i < need; i++) p.push(f[i % f.length]);
  return left ? p.join('') + s : s + p.join('');
}

function trimChars(s: string, set: string, l: boolean, r: boolean): string {
  const cs = new Set(chars(set));
  const c = chars(s);
  let a = 0;
  let b = c.length;
  if (l) while (a < b && cs.has(c[a])) a++;
  if (r) while (b > a && cs.has(c[b - 1])) b--;
  return c.slice(a, b).join('');
}

export function quoteIdent(s: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
}
export const quoteLiteral = (s: string): string => (s.includes('\\') ? `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'` : `'${s.replace(/'/g, "''")}'`);

function format(fmt: string, args: readonly Value[], types: readonly import('../types/types').SqlType[]): string {
  let i = 0;
  return fmt.replace(/%(\d+\$)?([sIL%])/g, (_m, pos: string | undefined, k: string) => {
    if (k === '%') return '%';
    const idx = pos ? Number(pos.slice(0, -1)) - 1 : i++;
    if (idx >= args.length) throw sqlError(S.INVALID_PARAMETER_VALUE, 'too few arguments for format()');
    const v = args[idx];
    const text = v === null ? null : toText(v, types[idx]);
    if (k === 's') return text ?? '';
    if (k === 'I') {
      if (text === null) throw sqlError('22004', 'null values cannot be formatted as an SQL identifier');
      return quoteIdent(text);
    }
    return text === null ? 'NULL' : quoteLiteral(text);
  });
}

function likeToRegex(pattern: string, escape = '\\'): string {
  let re = '';
  const c = chars(pattern);
  for (let i = 0; i < c.length; i++) {
    const ch = c[i];
    if (escape && ch === escape) {
      const next = c[++i];
      if (next === undefined) throw sqlError(S.INVALID_ESCAPE, 'LIKE pattern must not end with escape character');
      re += next.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (ch === '%') re += '[\\s\\S]*';
    else if (ch === '_') re += '[\\s\\S]';
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return `^${re}$`;
}

const likeCache = new Map<string, RegExp>();
export function like(s: string, pattern: string, insensitive: boolean): boolean {
  const key = `${insensitive ? 'i' : 'c'}${pattern}`;
  let re = likeCache.get(key);
  if (!re) {
    re = new RegExp(likeToRegex(pattern), insensitive ? 'iu' : 'u');
    if (likeCache.size > 1000) likeCache.clear();
    likeCache.set(key, re);
  }
  return re.test(s);
}

export function regexMatch(s: string, pattern: string, flags = ''): boolean {
  try {
    return new RegExp(pattern, `u${flags}`).test(s);
  } catch {
    throw sqlError('2201B', `invalid regular expression: ${pattern}`);
  }
}

register(
  fn('length', ['str'], 'int4', (a) => chars(str(a[0])).length),
  fn('length', ['bytea'], 'int4', (a) => (a[0] as Buffer).length),
  fn('char_length', ['str'], 'int4', (a) => chars(str(a[0])).length),
  fn('character_length', ['str'], 'int4', (a) => chars(str(a[0])).length),
  fn('octet_length', ['str'], 'int4', (a) => Buffer.byteLength(str(a[0]))),
  fn('octet_length', ['bytea'], 'int4', (a) => (a[0] as Buffer).length),
  fn('bit_length', ['str'], 'int4', (a) => Buffer.byteLength(str(a[0])) * 8),
  fn('lower', ['str'], 'text', (a) => str(a[0]).toLowerCase()),
  fn('upper', ['str'], 'text', (a) => str(a[0]).toUpperCase()),
  fn('initcap', ['str'], 'text', (a) => str(a[0]).toLowerCase().replace(/(^|[^a-z0-9])([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase())),
  fn('substr', ['str', 'int'], 'text', (a) => substr(str(a[0]), num(a[1]))),
  fn('substr', ['str', 'int', 'int'], 'text', (a) => substr(str(a[0]), num(a[1]), num(a[2]))),
  fn('substring', ['str', 'int'], 'text', (a) => substr(str(a[0]), num(a[1]))),
  fn('substring', ['str', 'int', 'int'], 'text', (a) => substr(str(a[0]), num(a[1]), num(a[2]))),
  fn('substring', ['str', 'str'], 'text', (a) => {
    const m = new RegExp(str(a[1]), 'u').exec(str(a[0]));
    return m ? (m[1] ?? m[0]) : null;
  }),
  fn('strpos', ['str', 'str'], 'int4', (a) => {
    const i = str(a[0]).indexOf(str(a[1]));
    return i < 0 ? 0 : chars(str(a[0]).slice(0, i)).length + 1;
  }),
  // position(needle IN haystack) arrives as position(haystack, needle), as in Postgres' grammar.
  fn('position', ['str', 'str'], 'int4', (a) => {
    const i = str(a[0]).indexOf(str(a[1]));
    return i < 0 ? 0 : chars(str(a[0]).slice(0, i)).length + 1;
  }),
  fn('btrim', ['str'], 'text', (a) => trimChars(str(a[0]), ' ', true, true)),
  fn('btrim', ['str', 'str'], 'text', (a) => trimChars(str(a[0]), str(a[1]), true, true)),
  fn('ltrim', ['str'], 'text', (a) => trimChars(str(a[0]), ' ', true, false)),
  fn('ltrim', ['str', 'str'], 'text', (a) => trimChars(str(a[0]), str(a[1]), true, false)),
  fn('rtrim', ['str'], 'text', (a) => trimChars(str(a[0]), ' ', false, true)),
  fn('rtrim', ['str', 'str'], 'text', (a) => trimChars(str(a[0]), str(a[1]), false, true)),
  fn('replace', ['str', 'str', 'str'], 'text', (a) => (str(a[1]) === '' ? str(a[0]) : str(a[0]).split(str(a[1])).join(str(a[2])))),
  fn('translate', ['str', 'str', 'str'], 'text', (a) => {
    const from = chars(str(a[1]));
    const to = chars(str(a[2]));
    return chars(str(a[0]))
      .map((c) => {
        const i = from.indexOf(c);
        return i < 0 ? c : (to[i] ?? '');
      })
      .join('');
  }),
  variadic('concat', 1, '*', 'text', (a, types) => a.map((v, i) => (v === null ? '' : toText(v, types[i]))).join(''), { strict: false }),
  variadic('concat_ws', 2, '*', 'text', (a, types) => {
    if (a[0] === null) return null;
    return a.slice(1).flatMap((v, i) => (v === null ? [] : [toText(v, types[i + 1])])).join(str(a[0]));
  }, { strict: false }),
  fn('left', ['str', 'int'], 'text', (a) => {
    const c = chars(str(a[0]));
    const n = num(a[1]);
    return (n >= 0 ? c.slice(0, n) : c.slice(0, Math.max(0, c.length + n))).join('');
  }),
  fn('right', ['str', 'int'], 'text', (a) => {
    const c = chars(str(a[0]));
    const n = num(a[1]);
    return (n >= 0 ? c.slice(Math.max(0, c.length - n)) : c.slice(-n)).join('');
  }),
  fn('lpad', ['str', 'int'], 'text', (a) => pad(str(a[0]), num(a[1]), ' ', true)),
  fn('lpad', ['str', 'int', 'str'], 'text', (a) => pad(str(a[0]), num(a[1]), str(a[2]), true)),
  fn('rpad', ['str', 'int'], 'text', (a) => pad(str(a[0]), num(a[1]), ' ', false)),
  fn('rpad', ['str', 'int', 'str'], 'text', (a) => pad(str(a[0]), num(a[1]), str(a[2]), false)),
  fn('repeat', ['str', 'int'], 'text', (a) => str(a[0]).repeat(Math.max(0, num(a[1])))),
  fn('reverse', ['str'], 'text', (a) => chars(str(a[0])).reverse().join('')),
  fn('split_part', ['str', 'str', 'int'], 'text', (a) => {
    const parts = str(a[0]).split(str(a[1]));
    const n = num(a[2]);
    if (n === 0) throw sqlError(S.INVALID_PARAMETER_VALUE, 'field position must not be zero');
    return (n > 0 ? parts[n - 1] : parts[parts.length + n]) ?? '';
  }),
  fn('md5', ['str'], 'text', (a) => createHash('md5').update(str(a[0])).digest('hex')),
  fn('md5', ['bytea'], 'text', (a) => createHash('md5').update(a[0] as Buffer).digest('hex')),
  fn('starts_with', ['str', 'str'], 'bool', (a) => str(a[0]).startsWith(str(a[1]))),
  fn('chr', ['int'], 'text', (a) => String.fromCodePoint(num(a[0]))),
  fn('ascii', ['str'], 'int4', (a) => str(a[0]).codePointAt(0) ?? 0),
  fn('quote_ident', ['str'], 'text', (a) => quoteIdent(str(a[0]))),
  fn('quote_literal', ['str'], 'text', (a) => quoteLiteral(str(a[0]))),
  fn('quote_nullable', ['str'], 'text', (a) => (a[0] === null ? 'NULL' : quoteLiteral(str(a[0]))), { strict: false }),
  // format(formatstr text, VARIADIC "any"): the format string must be text (format(interval) is 42883).
  {
    ...variadic('format', 1, '*', 'text', (a, types) => (a[0] === null ? null : format(str(a[0]), a.slice(1), types.slice(1))), { strict: false }),
    returns: (types: readonly SqlType[]) => (types.length >= 1 && isStringKind(types[0].kind) ? t('text') : undefined),
  },
  fn('regexp_replace', ['str', 'str', 'str'], 'text', (a) => str(a[0]).replace(new RegExp(str(a[1]), 'u'), str(a[2]).replace(/\\(\d)/g, '$$$1'))),
  fn('regexp_replace', ['str', 'str', 'str', 'str'], 'text', (a) =>
    str(a[0]).replace(new RegExp(str(a[1]), `u${str(a[3]).replace(/[^gi]/g, '')}`), str(a[2]).replace(/\\(\d)/g, '$$$1')),
  ),
  fn('string_to_array', ['str', 'str'], arrayOf(t('text')), (a) => (str(a[0]) === '' ? [] : str(a[0]).split(str(a[1])))),
  fn('to_hex', ['int'], 'text', (a) => {
    const v = BigInt(a[0] as number | bigint);
    return (v < 0n ? (1n << 64n) + v : v).toString(16);
  }),
  fn('encode', ['bytea', 'str'], 'text', (a) => (a[0] as Buffer).toString(str(a[1]) === 'hex' ? 'hex' : 'base64')),
  fn('decode', ['str', 'str'], 'bytea', (a) => Buffer.from(str(a[0]), str(a[1]) === 'hex' ? 'hex' : 'base64')),
);
