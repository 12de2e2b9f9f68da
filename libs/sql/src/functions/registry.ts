// The function registry: the extension point for scalar SQL functions. A module registers
// overloads with `register()`; the expression compiler resolves a call by name and argument
// types (first matching overload wins) and calls `call()` per row with the evaluated arguments.
import type { Runtime } from '../runtime';
import type { SqlType, Value } from '../types/types';

export interface FunctionDef {
  readonly name: string;
  /** Return type for these argument types, or undefined when this overload does not apply. */
  returns(args: readonly SqlType[]): SqlType | undefined;
  call(args: readonly Value[], types: readonly SqlType[], rt: Runtime): Value;
  /** Default true: a NULL argument yields NULL without calling. */
  readonly strict?: boolean;
  /** Declared argument patterns: an untyped literal argument is converted to a concrete one. */
  readonly args?: readonly string[];
  /** Async functions (nextval/setval) are evaluated in a slot before the expression runs. */
  readonly async?: (args: readonly Value[], types: readonly SqlType[], rt: Runtime) => Promise<Value>;
}

const registry = new Map<string, FunctionDef[]>();

export function register(...defs: FunctionDef[]): void {
  for (const d of defs) {
    const list = registry.get(d.name) ?? [];
    list.push(d);
    registry.set(d.name, list);
  }
}

export function lookupFunction(name: string, args: readonly SqlType[]): { def: FunctionDef; ret: SqlType } | undefined {
  for (const def of registry.get(name) ?? []) {
    const ret = def.returns(args);
    if (ret) return { def, ret };
  }
  return undefined;
}

export function hasFunction(name: string): boolean {
  return registry.has(name);
}

export function functionNames(): string[] {
  return [...registry.keys()];
}
