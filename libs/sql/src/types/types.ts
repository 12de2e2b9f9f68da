// SQL types as the engine sees them: a kind (one internal JS representation each), an optional
// type modifier (varchar(n), numeric(p,s)) and, for arrays, the element type.
//
// Internal representations:
//   bool -> boolean; int2/int4/oid -> number; int8 -> bigint; numeric -> canonical decimal string;
//   float4/float8 -> number; text/varchar/bpchar/name/json/jsonb/uuid -> string; bytea -> Buffer;
//   date -> days since 2000-01-01 (number); time -> microseconds of day (bigint);
//   timestamp/timestamptz -> microseconds since 2000-01-01 UTC (bigint);
//   interval -> Interval; arrays -> Value[]; enum -> its label (string).
import { AsyncLocalStorage } from 'node:async_hooks';
import { S, sqlError } from '../errors';

export type TypeKind =
  | 'bool' | 'int2' | 'int4' | 'int8' | 'numeric' | 'float4' | 'float8'
  | 'text' | 'varchar' | 'bpchar' | 'name' | 'char' | 'bytea' | 'uuid'
  | 'date' | 'time' | 'timestamp' | 'timestamptz' | 'interval'
  | 'json' | 'jsonb' | 'oid' | 'regclass' | 'regtype' | 'regproc' | 'regnamespace' | 'regrole' | 'unknown' | 'array' | 'void' | 'record' | 'enum';

/**
 * A user-defined enum type as a value's type carries it: the labels in sort order with their
 * pg_enum.enumsortorder (stored rows and index keys hold the sort order, so RENAME VALUE and
 * ADD VALUE never rewrite rows). Table descriptors embed it; ALTER TYPE rewrites them.
 */
export interface EnumInfo {
  /** The type's descriptor id; its OID is this + OID_BASE. */
  readonly typeId: number;
  readonly oid: number;
  readonly arrayOid: number;
  readonly name: string;
  readonly labels: readonly string[];
  readonly sortOrders: readonly number[];
}

export interface SqlType {
  readonly kind: TypeKind;
  /** atttypmod: varchar(n) -> n + 4, numeric(p,s) -> ((p << 16) | s) + 4, else -1. */
  readonly typmod: number;
  readonly elem?: SqlType;
  /**
   * int2vector / oidvector (pg_index.indkey, indclass, pg_proc.proargtypes): a one-dimensional
   * array of int2 / oid that PostgreSQL prints space-separated ("1 3") under its own type OID.
   */
  readonly vector?: 'int2vector' | 'oidvector';
  /** A record's fields (a multi-column set-returning function's row); the value is Value[]. */
  readonly fields?: readonly { readonly name: string; readonly type: SqlType }[];
  /** kind 'enum': which enum type. */
  readonly enum?: EnumInfo;
}

export interface Interval {
  readonly months: number;
  readonly days: number;
  readonly micros: bigint;
}

export type Value = null | boolean | number | bigint | string | Buffer | Interval | readonly Value[];

interface TypeInfo {
  readonly oid: number;
  readonly arrayOid: number;
  readonly name: string;
  readonly len: number;
  readonly category: string;
}

export const TYPE_INFO: Readonly<Record<Exclude<TypeKind, 'array'>, TypeInfo>> = {
  bool: { oid: 16, arrayOid: 1000, name: 'boolean', len: 1, category: 'B' },
  bytea: { oid: 17, arrayOid: 1001, name: 'bytea', len: -1, category: 'U' },
  char: { oid: 18, arrayOid: 1002, name: '"char"', len: 1, category: 'S' },
  name: { oid: 19, arrayOid: 1003, name: 'name', len: 64, category: 'S' },
  int8: { oid: 20, arrayOid: 1016, name: 'bigint', len: 8, category: 'N' },
  int2: { oid: 21, arrayOid: 1005, name: 'smallint', len: 2, category: 'N' },
  int4: { oid: 23, arrayOid: 1007, name: 'integer', len: 4, category: 'N' },
  regproc: { oid: 24, arrayOid: 1008, name: 'regproc', len: 4, category: 'N' },
  text: { oid: 25, arrayOid: 1009, name: 'text', len: -1, category: 'S' },
  oid: { oid: 26, arrayOid: 1028, name: 'oid', len: 4, category: 'N' },
  json: { oid: 114, arrayOid: 199, name: 'json', len: -1, category: 'U' },
  float4: { oid: 700, arrayOid: 1021, name: 'real', len: 4, category: 'N' },
  float8: { oid: 701, arrayOid: 1022, name: 'double precision', len: 8, category: 'N' },
  unknown: { oid: 705, arrayOid: 0, name: 'unknown', len: -2, category: 'X' },
  bpchar: { oid: 1042, arrayOid: 1014, name: 'character', len: -1, category: 'S' },
  varchar: { oid: 1043, arrayOid: 1015, name: 'character varying', len: -1, category: 'S' },
  date: { oid: 1082, arrayOid: 1182, name: 'date', len: 4, category: 'D' },
  time: { oid: 1083, arrayOid: 1183, name: 'time without time zone', len: 8, category: 'D' },
  timestamp: { oid: 1114, arrayOid: 1115, name: 'timestamp without time zone', len: 8, category: 'D' },
  timestamptz: { oid: 1184, arrayOid: 1185, name: 'timestamp with time zone', len: 8, category: 'D' },
  interval: { oid: 1186, arrayOid: 1187, name: 'interval', len: 16, category: 'T' },
  numeric: { oid: 1700, arrayOid: 1231, name: 'numeric', len: -1, category: 'N' },
  regtype: { oid: 2206, arrayOid: 2211, name: 'regtype', len: 4, category: 'N' },
  regclass: { oid: 2205, arrayOid: 2210, name: 'regclass', len: 4, category: 'N' },
  regnamespace: { oid: 4089, arrayOid: 4090, name: 'regnamespace', len: 4, category: 'N' },
  regrole: { oid: 4096, arrayOid: 4097, name: 'regrole', len: 4, category: 'N' },
  uuid: { oid: 2950, arrayOid: 2951, name: 'uuid', len: 16, category: 'U' },
  jsonb: { oid: 3802, arrayOid: 3807, name: 'jsonb', len: -1, category: 'U' },
  void: { oid: 2278, arrayOid: 0, name: 'void', len: 4, category: 'P' },
  record: { oid: 2249, arrayOid: 2287, name: 'record', len: -1, category: 'P' },
  // The pseudo-type every enum belongs to; a concrete enum type reports its own OID (typeOid).
  enum: { oid: 3500, arrayOid: 0, name: 'anyenum', len: 4, category: 'P' },
};

const cache = new Map<TypeKind, SqlType>();
export function t(kind: TypeKind): SqlType {
  let v = cache.get(kind);
  if (!v) cache.set(kind, (v = { kind, typmod: -1 }));
  return v;
}
export const arrayOf = (elem: SqlType): SqlType => ({ kind: 'array', typmod: -1, elem });
export const INT2VECTOR: SqlType = { kind: 'array', typmod: -1, elem: t('int2'), vector: 'int2vector' };
export const OIDVECTOR: SqlType = { kind: 'array', typmod: -1, elem: t('oid'), vector: 'oidvector' };
const VECTOR_OIDS = { int2vector: 22, oidvector: 30 } as const;

export function typeOid(type: SqlType): number {
  if (type.vector) return VECTOR_OIDS[type.vector];
  if (type.kind === 'array') return type.elem?.enum ? type.elem.enum.arrayOid : type.elem ? TYPE_INFO[type.elem.kind as Exclude<TypeKind, 'array'>]?.arrayOid ?? 0 : 0;
  if (type.enum) return type.enum.oid;
  return TYPE_INFO[type.kind].oid;
}

export function typeLen(type: SqlType): number {
  return type.kind === 'array' ? -1 : TYPE_INFO[type.kind].len;
}

export function typeByOid(oid: number): SqlType | undefined {
  if (oid === VECTOR_OIDS.int2vector) return INT2VECTOR;
  if (oid === VECTOR_OIDS.oidvector) return OIDVECTOR;
  for (const [kind, info] of Object.entries(TYPE_INFO) as [Exclude<TypeKind, 'array'>, TypeInfo][]) {
    if (info.oid === oid) return t(kind);
    if (info.arrayOid === oid && oid !== 0) return arrayOf(t(kind));
  }
  return oid >= 16384 ? currentTypeResolver()?.byOid(oid) : undefined;
}

/** format_type() style name, e.g. "character varying(20)", "integer[]". */
export function typeDisplayName(type: SqlType): string {
  if (type.vector) return type.vector;
  if (type.kind === 'array') return `${typeDisplayName(type.elem ?? t('text'))}[]`;
  if (type.enum) return currentTypeResolver()?.displayName(type.enum.typeId) ?? quoteTypeName(type.enum.name);
  const base = TYPE_INFO[type.kind].name;
  if (type.typmod >= 0) {
    if (type.kind === 'varchar' || type.kind === 'bpchar') return `${base}(${type.typmod - 4})`;
    if (type.kind === 'numeric') {
      const m = type.typmod - 4;
      return `numeric(${(m >> 16) & 0xffff},${m & 0xffff})`;
    }
  }
  if (type.typmod >= 0 && isPrecisionTimeKind(type.kind)) return base.replace(/^(timestamp|time)/, `$1(${type.typmod})`);
  return base;
}

const NAMES: Readonly<Record<string, TypeKind>> = {
  bool: 'bool', boolean: 'bool',
  int2: 'int2', smallint: 'int2', smallserial: 'int2', serial2: 'int2',
  int4: 'int4', int: 'int4', integer: 'int4', serial: 'int4', serial4: 'int4',
  int8: 'int8', bigint: 'int8', bigserial: 'int8', serial8: 'int8',
  numeric: 'numeric', decimal: 'numeric',
  float4: 'float4', real: 'float4', float8: 'float8', 'double precision': 'float8', float: 'float8',
  text: 'text', varchar: 'varchar', 'character varying': 'varchar', bpchar: 'bpchar', character: 'bpchar', char: 'bpchar',
  name: 'name', bytea: 'bytea', uuid: 'uuid', date: 'date',
  time: 'time', 'time without time zone': 'time',
  timestamp: 'timestamp', 'timestamp without time zone': 'timestamp',
  timestamptz: 'timestamptz', 'timestamp with time zone': 'timestamptz',
  interval: 'interval', json: 'json', jsonb: 'jsonb', oid: 'oid', regclass: 'regclass', regtype: 'regtype', regproc: 'regproc', regnamespace: 'regnamespace', regrole: 'regrole', regprocedure: 'regproc', regoper: 'regproc',
  '"char"': 'char', unknown: 'unknown', void: 'void', record: 'record',
  citext: 'text', xid: 'int8', cstring: 'text', anyelement: 'text', inet: 'text',
};

export const SERIAL_NAMES: Readonly<Record<string, TypeKind>> = {
  smallserial: 'int2', serial2: 'int2', serial: 'int4', serial4: 'int4', bigserial: 'int8', serial8: 'int8',
};

/** A name as format_type prints it: quoted unless a plain lower-case identifier. */
export const quoteTypeName = (n: string): string => (/^[a-z_][a-z0-9_$]*$/.test(n) ? n : `"${n.replace(/"/g, '""')}"`);

/** Whether `name` is a built-in type name (a shard can resolve it without the catalog). */
export const isBuiltinTypeName = (name: string): boolean => NAMES[name] !== undefined || name === 'timetz' || name === 'interval';

/**
 * User-defined types (enums) live in the catalog, which this module does not see: statements
 * are compiled and run inside `withTypeResolver` with a lookup over their catalog snapshot and
 * search_path (AsyncLocalStorage, like the session TimeZone). Outside one, only built-ins resolve.
 */
export interface TypeResolver {
  byName(schema: string | undefined, name: string): SqlType | undefined;
  byOid(oid: number): SqlType | undefined;
  /** format_type's name of a user type: schema-qualified unless its schema is on search_path. */
  displayName(typeId: number): string | undefined;
}
const resolvers = new AsyncLocalStorage<TypeResolver>();
export function withTypeResolver<T>(resolver: TypeResolver, fn: () => T): T {
  return resolvers.run(resolver, fn);
}
export const currentTypeResolver = (): TypeResolver | undefined => resolvers.getStore();

/** Resolves a type name (as written, lowercased; `schema.name` when qualified) with its modifiers. */
export function typeFromName(name: string, mods: readonly number[] = [], arrayDims = 0): SqlType {
  const kind = NAMES[name];
  if (!kind) {
    const dot = name.indexOf('.');
    const user = currentTypeResolver()?.byName(dot > 0 ? name.slice(0, dot) : undefined, dot > 0 ? name.slice(dot + 1) : name);
    if (!user) throw sqlError(S.UNDEFINED_OBJECT, `type "${name}" does not exist`);
    let type = user;
    for (let i = 0; i < arrayDims; i++) type = arrayOf(type);
    return type;
  }
  let typmod = -1;
  if (mods.length > 0) {
    if (kind === 'varchar' || kind === 'bpchar') typmod = mods[0] + 4;
    else if (kind === 'numeric') typmod = ((mods[0] << 16) | (mods[1] ?? 0)) + 4;
    // Fractional-second precision; PostgreSQL caps it at 6 (with a warning).
    else if (isPrecisionTimeKind(kind)) typmod = Math.max(0, Math.min(6, mods[0]));
  } else if (kind === 'bpchar' && name !== 'bpchar') {
    typmod = 5; // char without length is char(1)
  }
  let type: SqlType = typmod === -1 ? t(kind) : { kind, typmod };
  for (let i = 0; i < arrayDims; i++) type = arrayOf(type);
  return type;
}

/** The kinds whose typmod is a fractional-second precision (0-6): time(p), timestamp(p) [with time zone]. */
export const isPrecisionTimeKind = (k: TypeKind): boolean => k === 'time' || k === 'timestamp' || k === 'timestamptz';
export const isStringKind = (k: TypeKind): boolean => k === 'text' || k === 'varchar' || k === 'bpchar' || k === 'name' || k === 'char' || k === 'unknown';
export const isRegKind = (k: TypeKind): boolean => k === 'regclass' || k === 'regtype' || k === 'regproc' || k === 'regnamespace' || k === 'regrole';
export const isIntKind = (k: TypeKind): boolean => k === 'int2' || k === 'int4' || k === 'int8' || k === 'oid' || isRegKind(k);
export const isNumericKind = (k: TypeKind): boolean => isIntKind(k) || k === 'numeric' || k === 'float4' || k === 'float8';
export const isDateTimeKind = (k: TypeKind): boolean => k === 'date' || k === 'timestamp' || k === 'timestamptz' || k === 'time';

/** String form of a scalar value (numbers, bigints, strings, booleans); '' for anything else. */
export function plain(v: Value): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' ? String(v) : '';
}
