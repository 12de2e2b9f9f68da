// The typed values Weft stores in keys. Integers wider than 2^53 are bigints; dates are whole
// days and timestamps whole microseconds since 2000-01-01, as Postgres stores them.

export type KeyValue =
  | { readonly type: 'null' }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'int2'; readonly value: number }
  | { readonly type: 'int4'; readonly value: number }
  | { readonly type: 'int8'; readonly value: bigint }
  /** Decimal text, e.g. '-12.3400', 'NaN', 'Infinity'. Keys keep the value, not the scale. */
  | { readonly type: 'numeric'; readonly value: string }
  | { readonly type: 'float4'; readonly value: number }
  | { readonly type: 'float8'; readonly value: number }
  | { readonly type: 'text'; readonly value: string }
  | { readonly type: 'bytea'; readonly value: Uint8Array }
  /** 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx', any case in, lower case out. */
  | { readonly type: 'uuid'; readonly value: string }
  /** Days since 2000-01-01; -Infinity / Infinity are Postgres' '-infinity' / 'infinity'. */
  | { readonly type: 'date'; readonly value: number }
  /** Microseconds since 2000-01-01 00:00:00 (UTC for timestamptz); int64 min/max are -infinity/infinity. */
  | { readonly type: 'timestamp'; readonly value: bigint }
  | { readonly type: 'timestamptz'; readonly value: bigint };

export type KeyType = Exclude<KeyValue['type'], 'null'>;

export const KEY_TYPES: readonly KeyType[] = [
  'bool', 'int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'text', 'bytea', 'uuid', 'date', 'timestamp', 'timestamptz',
];

/**
 * Column order in an index. As in Postgres, ASC defaults to NULLS LAST and DESC to NULLS FIRST;
 * the two explicit variants flip that.
 */
export type Direction = 'asc' | 'desc' | 'asc nulls first' | 'desc nulls last';

export function isDescending(d: Direction): boolean {
  return d === 'desc' || d === 'desc nulls last';
}

export function nullsFirst(d: Direction): boolean {
  return d === 'desc' || d === 'asc nulls first';
}

export const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;
export const INT32_MIN = -0x80000000;
export const INT32_MAX = 0x7fffffff;

export class InvalidKeyValueError extends Error {
  override readonly name = 'InvalidKeyValueError';
}
