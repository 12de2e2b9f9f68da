// Which column types a foreign key may pair, and how a key value crosses from one to the other.
//
// PostgreSQL accepts a foreign key when the referencing type is in the referenced column's
// btree operator family (int2/int4/int8 compare with each other directly) or coerces to it
// implicitly (int4 -> numeric); anything else is 42804. Weft used to accept any pair and then
// cast the value with an assignment cast, so a numeric 1.5 "referenced" the integer 2 and a
// cascade from a float8 parent 1.5 deleted the child of the parent 2.
import { PgError } from '@weft/pgwire';
import { S } from '../errors';
import type { SqlType, TypeKind, Value } from '../types/types';
import { castValue, compareValues } from '../types/values';

/** Btree operator families with cross-type equality (PostgreSQL's integer_ops, float_ops, ...). */
const FAMILY: Partial<Record<TypeKind, string>> = {
  int2: 'integer', int4: 'integer', int8: 'integer',
  float4: 'float', float8: 'float',
  text: 'text', varchar: 'text', name: 'text',
  date: 'datetime', timestamp: 'datetime', timestamptz: 'datetime',
};

/** Implicit casts (pg_cast context 'i') between key types, from -> to. */
const IMPLICIT: Partial<Record<TypeKind, readonly TypeKind[]>> = {
  int2: ['int4', 'int8', 'float4', 'float8', 'numeric'],
  int4: ['int8', 'float4', 'float8', 'numeric'],
  int8: ['float4', 'float8', 'numeric'],
  float4: ['float8'],
  numeric: ['float4', 'float8'],
  varchar: ['text', 'bpchar'],
  bpchar: ['text', 'varchar'],
  text: ['bpchar', 'varchar'],
  name: ['text'],
  char: ['text', 'varchar', 'bpchar'],
  date: ['timestamp', 'timestamptz'],
  timestamp: ['timestamptz'],
};

/** Whether a foreign key column of type `fk` may reference a key column of type `pk`. */
export function fkTypesCompatible(fk: SqlType, pk: SqlType): boolean {
  if (fk.kind === 'enum' || pk.kind === 'enum') return fk.kind === pk.kind && fk.enum?.typeId === pk.enum?.typeId;
  if (fk.kind === 'array' || pk.kind === 'array') {
    return fk.kind === pk.kind && fk.elem !== undefined && pk.elem !== undefined && fk.elem.kind === pk.elem.kind && fkTypesCompatible(fk.elem, pk.elem);
  }
  if (fk.kind === pk.kind) return true;
  const family = FAMILY[fk.kind];
  if (family !== undefined && family === FAMILY[pk.kind]) return true;
  return IMPLICIT[fk.kind]?.includes(pk.kind) ?? false;
}

/**
 * `v` as a value of type `to` that compares equal to it, or undefined when `to` has no such
 * value (int8 10^10 as int4, float8 1.5 as int4): then no key of type `to` can match it.
 */
export function equalIn(v: Value, from: SqlType, to: SqlType): Value | undefined {
  if (v === null || (from.kind === to.kind && from.typmod === to.typmod)) return v;
  const out = castOrNothing(v, from, to);
  if (out === undefined) return undefined;
  // Casting back must give the value we started from (1.5 -> 2 -> 2.0 does not).
  const back = castOrNothing(out, to, from);
  return back !== undefined && compareValues(back, v, from) === 0 ? out : undefined;
}

/** Errors of a cast that mean "the target type has no such value". */
const NO_SUCH_VALUE = new Set<string>([S.NUMERIC_OUT_OF_RANGE, S.STRING_TOO_LONG, S.DATETIME_OVERFLOW]);

function castOrNothing(v: Value, from: SqlType, to: SqlType): Value | undefined {
  try {
    return castValue(v, from, to, false);
  } catch (e) {
    if (e instanceof PgError && NO_SUCH_VALUE.has(e.code)) return undefined;
    throw e;
  }
}
