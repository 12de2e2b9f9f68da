// JSON functions and the value <-> JSON conversions behind the json/jsonb operators.
import { S, sqlError } from '../errors';
import { canonicalJsonb } from '../types/values';
import { type SqlType, type Value, isIntKind, isStringKind, plain, t } from '../types/types';
import { toText } from '../types/values';
import { fn, num, str, variadic } from './helpers';
import { register, type FunctionDef } from './registry';

/** A SQL value as a JS value for JSON building. */
export function toJsonValue(v: Value, type: SqlType): unknown {
  if (v === null) return null;
  switch (type.kind) {
    case 'json':
    case 'jsonb':
      return JSON.parse(v as string) as unknown;
    case 'bool':
      return v;
    case 'int2':
    case 'int4':
    case 'float4':
    case 'float8':
      return Number.isFinite(v) ? v : toText(v, type);
    case 'int8':
    case 'numeric':
      return new RawNumber(plain(v));
    case 'array':
      return (v as Value[]).map((e) => toJsonValue(e, type.elem ?? t('text')));
    default:
      return toText(v, type);
  }
}

/** Keeps big integers and exact decimals exact when stringifying. */
class RawNumber {
  constructor(readonly text: string) {}
}

export function stringifyJson(v: unknown, jsonb: boolean): string {
  const norm = (x: unknown): unknown => {
    if (x instanceof RawNumber) return JSON.parse(x.text) as unknown;
    if (Array.isArray(x)) return x.map(norm);
    if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, norm(y)]));
    return x;
  };
  if (jsonb) return canonicalJsonb(norm(v));
  const write = (x: unknown): string => {
    if (x instanceof RawNumber) return x.text;
    if (Array.isArray(x)) return `[${x.map(write).join(',')}]`;
    if (x && typeof x === 'object') return `{${Object.entries(x).map(([k, y]) => `${JSON.stringify(k)} : ${write(y)}`).join(', ')}}`;
    return JSON.stringify(x);
  };
  return write(v);
}

const parse = (s: Value): unknown => JSON.parse(s as string) as unknown;

/** -> / ->> : field by key (object) or index (array). */
export function jsonGet(doc: Value, key: Value, keyType: SqlType, asText: boolean, jsonb: boolean): Value {
  if (doc === null || key === null) return null;
  const d = parse(doc);
  let r: unknown;
  if (isIntKind(keyType.kind)) {
    if (!Array.isArray(d)) return null;
    const i = num(key);
    r = d[i < 0 ? d.length + i : i];
  } else {
    if (!d || typeof d !== 'object' || Array.isArray(d)) return null;
    r = (d as Record<string, unknown>)[key as string];
  }
  if (r === undefined) return null;
  if (asText) return r === null ? null : typeof r === 'string' ? r : jsonb ? canonicalJsonb(r) : JSON.stringify(r);
  return jsonb ? canonicalJsonb(r) : JSON.stringify(r);
}

export function jsonPath(doc: Value, path: readonly Value[], asText: boolean, jsonb: boolean): Value {
  let cur: unknown = parse(doc);
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = Array.isArray(cur) ? cur[Number(p)] : (cur as Record<string, unknown>)[p as string];
    if (cur === undefined) return null;
  }
  if (asText) return cur === null ? null : typeof cur === 'string' ? cur : JSON.stringify(cur);
  return jsonb ? canonicalJsonb(cur) : JSON.stringify(cur);
}

export function jsonContains(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) return a.some((x) => jsonContains(x, b));
    return b.every((y) => a.some((x) => jsonContains(x, y)));
  }
  if (a && typeof a === 'object') {
    if (!b || typeof b !== 'object' || Array.isArray(b)) return false;
    return Object.entries(b).every(([k, v]) => k in a && jsonContains((a as Record<string, unknown>)[k], v));
  }
  return a === b;
}

function buildObject(a: readonly Value[], types: readonly SqlType[], jsonb: boolean): string {
  if (a.length % 2 !== 0) throw sqlError(S.INVALID_PARAMETER_VALUE, 'argument list must have even number of elements');
  const o: Record<string, unknown> = {};
  for (let i = 0; i < a.length; i += 2) {
    if (a[i] === null) throw sqlError(S.INVALID_PARAMETER_VALUE, 'argument 1: key must not be null');
    o[toText(a[i], types[i])] = toJsonValue(a[i + 1], types[i + 1]);
  }
  return stringifyJson(o, jsonb);
}

const typeofJson = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v);

/**
 * json(b)_extract_path[_text](from_json, VARIADIC path text[]): the document must be json/jsonb
 * (an untyped literal is parsed as one, so bad JSON is 22P02) and the path elements text.
 */
function extractPath(name: string, doc: 'json' | 'jsonb', ret: 'json' | 'jsonb' | 'text', call: FunctionDef['call']): FunctionDef {
  const docOk = (x: SqlType): boolean => x.kind === 'json' || x.kind === 'jsonb' || x.kind === 'unknown';
  return {
    ...variadic(name, 1, '*', ret, call),
    args: [doc],
    returns: (types) => (types.length >= 1 && docOk(types[0]) && types.slice(1).every((x) => isStringKind(x.kind)) ? t(ret) : undefined),
  };
}

register(
  fn('to_json', ['*'], 'json', (a, ty) => stringifyJson(toJsonValue(a[0], ty[0]), false)),
  fn('to_jsonb', ['*'], 'jsonb', (a, ty) => stringifyJson(toJsonValue(a[0], ty[0]), true)),
  variadic('json_build_object', 0, '*', 'json', (a, ty) => buildObject(a, ty, false), { strict: false }),
  variadic('jsonb_build_object', 0, '*', 'jsonb', (a, ty) => buildObject(a, ty, true), { strict: false }),
  variadic('json_build_array', 0, '*', 'json', (a, ty) => stringifyJson(a.map((v, i) => toJsonValue(v, ty[i])), false), { strict: false }),
  variadic('jsonb_build_array', 0, '*', 'jsonb', (a, ty) => stringifyJson(a.map((v, i) => toJsonValue(v, ty[i])), true), { strict: false }),
  fn('jsonb_typeof', ['jsonb'], 'text', (a) => typeofJson(parse(a[0]))),
  fn('json_typeof', ['json'], 'text', (a) => typeofJson(parse(a[0]))),
  fn('jsonb_array_length', ['jsonb'], 'int4', (a) => {
    const v = parse(a[0]);
    if (!Array.isArray(v)) throw sqlError(S.INVALID_PARAMETER_VALUE, 'cannot get array length of a non-array');
    return v.length;
  }),
  fn('json_array_length', ['json'], 'int4', (a) => {
    const v = parse(a[0]);
    if (!Array.isArray(v)) throw sqlError(S.INVALID_PARAMETER_VALUE, 'cannot get array length of a non-array');
    return v.length;
  }),
  extractPath('jsonb_extract_path_text', 'jsonb', 'text', (a) => jsonPath(a[0], a.slice(1), true, true)),
  extractPath('json_extract_path_text', 'json', 'text', (a) => jsonPath(a[0], a.slice(1), true, false)),
  extractPath('jsonb_extract_path', 'jsonb', 'jsonb', (a) => jsonPath(a[0], a.slice(1), false, true)),
  fn('jsonb_pretty', ['jsonb'], 'text', (a) => JSON.stringify(parse(a[0]), null, 4)),
  fn('jsonb_strip_nulls', ['jsonb'], 'jsonb', (a) => canonicalJsonb(JSON.parse(str(a[0]), (_k, v: unknown) => (v === null ? undefined : v)))),
  fn('jsonb_set', ['jsonb', 'array', 'jsonb'], 'jsonb', (a) => {
    const doc = parse(a[0]);
    const path = a[1] as Value[];
    let cur: unknown = doc;
    for (let i = 0; i < path.length - 1; i++) {
      if (!cur || typeof cur !== 'object') return a[0];
      cur = (cur as Record<string, unknown>)[path[i] as string];
    }
    if (cur && typeof cur === 'object') (cur as Record<string, unknown>)[path[path.length - 1] as string] = parse(a[2]);
    return canonicalJsonb(doc);
  }),
);
