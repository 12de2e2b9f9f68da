// Small builders for function overloads, so builtin modules read like a table.
import type { Runtime } from '../runtime';
import { type SqlType, type TypeKind, type Value, isIntKind, isNumericKind, isStringKind, t } from '../types/types';
import type { FunctionDef } from './registry';

/** 'str' any string type, 'num' any numeric, 'int' any integer, '*' anything. */
export type ArgPattern = TypeKind | 'str' | 'num' | 'int' | '*';

export function matches(p: ArgPattern, type: SqlType): boolean {
  if (p === '*') return true;
  if (p === 'str') return isStringKind(type.kind);
  if (p === 'num') return isNumericKind(type.kind) || type.kind === 'unknown';
  if (p === 'int') return isIntKind(type.kind) || type.kind === 'unknown';
  return p === type.kind || type.kind === 'unknown' || (isStringKind(p) && isStringKind(type.kind));
}

type Ret = TypeKind | SqlType | ((args: readonly SqlType[]) => SqlType);

function retType(r: Ret, args: readonly SqlType[]): SqlType {
  if (typeof r === 'function') return r(args);
  return typeof r === 'string' ? t(r) : r;
}

/** A fixed-arity overload. */
export function fn(
  name: string,
  args: readonly ArgPattern[],
  ret: Ret,
  call: (a: readonly Value[], types: readonly SqlType[], rt: Runtime) => Value,
  opts: { strict?: boolean } = {},
): FunctionDef {
  return {
    name,
    strict: opts.strict,
    args,
    returns: (types) => (types.length === args.length && args.every((p, i) => matches(p, types[i])) ? retType(ret, types) : undefined),
    call,
  };
}

/** A variadic overload (min arguments, each matching `each`). */
export function variadic(
  name: string,
  min: number,
  each: ArgPattern,
  ret: Ret,
  call: (a: readonly Value[], types: readonly SqlType[], rt: Runtime) => Value,
  opts: { strict?: boolean } = {},
): FunctionDef {
  return {
    name,
    strict: opts.strict,
    returns: (types) => (types.length >= min && types.every((x) => matches(each, x)) ? retType(ret, types) : undefined),
    call,
  };
}

export const str = (v: Value): string => v as string;
export const num = (v: Value): number => (typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v) : (v as number));
