// Session and system information functions drivers and tools call.
import { randomUUID } from 'node:crypto';
import { PgError } from '@weft/pgwire';
import { S, sqlError } from '../errors';
import { type SqlType, type Value, arrayOf, isIntKind, plain, t, typeByOid, typeDisplayName, typeOid } from '../types/types';
import { castValue, toText } from '../types/values';
import { advisoryKey } from '../advisory-locks';
import type { Runtime } from '../runtime';
import { fn, num, str } from './helpers';
import { register, type FunctionDef } from './registry';

export const SERVER_VERSION = '15.0';
export const VERSION_STRING = `PostgreSQL ${SERVER_VERSION} (Weft 0.1.0) on x86_64-pc-linux-gnu, compiled by TypeScript, 64-bit`;

function formatType(oid: Value, typmod: Value): Value {
  if (oid === null) return null;
  const type = typeByOid(num(oid));
  if (!type) return '???';
  const mod = typmod === null ? -1 : num(typmod);
  if (mod < 0) return typeDisplayName(type);
  // An array column's typmod is its element's (varchar(10)[] has atttypmod 14, as in PostgreSQL).
  if (type.kind === 'array' && type.elem) return typeDisplayName({ ...type, elem: { ...type.elem, typmod: mod } });
  return typeDisplayName({ ...type, typmod: mod });
}

const isIntArg = (x: SqlType): boolean => isIntKind(x.kind) || x.kind === 'unknown';

const asyncFn = (name: string, args: number, ret: SqlType, run: NonNullable<FunctionDef['async']>): FunctionDef => ({
  name,
  returns: (a) => (a.length === args ? ret : undefined),
  call: () => {
    throw sqlError(S.INTERNAL, `${name} must be evaluated asynchronously`);
  },
  async: run,
});

/**
 * pg_advisory_* over the gateway's lock table (advisory-locks.ts): bigint or (int4, int4) keys,
 * exclusive or shared, session or transaction scope, waiting or try.
 */
function advisoryLockFunctions(): FunctionDef[] {
  const keyOf = (a: readonly Value[]): string => advisoryKey(a.map((x) => (typeof x === 'bigint' ? x : BigInt(num(x)))));
  const both = (name: string, ret: SqlType, run: (a: readonly Value[], rt: Runtime) => Promise<Value> | Value): FunctionDef[] => [
    { ...asyncFn(name, 1, ret, async (a, _t, rt) => run(a, rt)), args: ['int'], returns: (x: readonly SqlType[]) => (x.length === 1 && isIntArg(x[0]) ? ret : undefined) },
    { ...asyncFn(name, 2, ret, async (a, _t, rt) => run(a, rt)), args: ['int', 'int'], returns: (x: readonly SqlType[]) => (x.length === 2 && isIntArg(x[0]) && isIntArg(x[1]) ? ret : undefined) },
  ];
  const out: FunctionDef[] = [];
  for (const [suffix, mode] of [['', 'exclusive'], ['_shared', 'shared']] as const) {
    for (const [scope, infix] of [['session', ''], ['xact', '_xact']] as const) {
      out.push(...both(`pg_advisory${infix}_lock${suffix}`, t('void'), async (a, rt) => {
        await rt.services.advisoryLock(keyOf(a), mode, scope, true);
        return '';
      }));
      out.push(...both(`pg_try_advisory${infix}_lock${suffix}`, t('bool'), (a, rt) => rt.services.advisoryLock(keyOf(a), mode, scope, false)));
    }
    out.push(...both(`pg_advisory_unlock${suffix}`, t('bool'), (a, rt) => rt.services.advisoryUnlock(keyOf(a), mode)));
  }
  out.push(asyncFn('pg_advisory_unlock_all', 0, t('void'), async (_a, _t, rt) => {
    rt.services.advisoryUnlockAll();
    return '';
  }));
  return out;
}

register(
  fn('version', [], 'text', () => VERSION_STRING),
  fn('current_database', [], 'name', (_a, _t, rt) => rt.session.database),
  fn('current_catalog', [], 'name', (_a, _t, rt) => rt.session.database),
  fn('current_schema', [], 'name', (_a, _t, rt) => rt.session.searchPath[0] ?? null),
  fn('current_schemas', ['bool'], arrayOf(t('name')), (a, _t, rt) => (a[0] ? ['pg_catalog', ...rt.session.searchPath] : [...rt.session.searchPath])),
  fn('current_user', [], 'name', (_a, _t, rt) => rt.session.user),
  fn('session_user', [], 'name', (_a, _t, rt) => rt.session.user),
  fn('user', [], 'name', (_a, _t, rt) => rt.session.user),
  fn('current_role', [], 'name', (_a, _t, rt) => rt.session.user),
  fn('pg_backend_pid', [], 'int4', (_a, _t, rt) => rt.session.pid),
  fn('inet_server_port', [], 'int4', () => null, { strict: false }),
  fn('inet_server_addr', [], 'text', () => '127.0.0.1'),
  fn('inet_client_addr', [], 'text', () => '127.0.0.1'),
  fn('pg_is_in_recovery', [], 'bool', () => false),
  fn('pg_postmaster_start_time', [], 'timestamptz', (_a, _t, rt) => rt.txnStartUs),
  fn('txid_current', [], 'int8', (_a, _t, rt) => rt.txnStartUs),
  fn('pg_current_xact_id', [], 'int8', (_a, _t, rt) => rt.txnStartUs),
  fn('format_type', ['oid', 'int4'], 'text', (a) => formatType(a[0], a[1]), { strict: false }),
  fn('format_type', ['int', 'int'], 'text', (a) => formatType(a[0], a[1]), { strict: false }),
  fn('pg_get_userbyid', ['int'], 'name', (_a, _t, rt) => rt.session.user),
  fn('obj_description', ['int', 'str'], 'text', () => null, { strict: false }),
  fn('obj_description', ['int'], 'text', () => null, { strict: false }),
  fn('col_description', ['int', 'int'], 'text', () => null, { strict: false }),
  fn('shobj_description', ['int', 'str'], 'text', () => null, { strict: false }),
  fn('pg_table_is_visible', ['int'], 'bool', () => true),
  fn('pg_type_is_visible', ['int'], 'bool', () => true),
  fn('pg_function_is_visible', ['int'], 'bool', () => true),
  // Weft's collations, operators, operator classes and conversions all live in pg_catalog,
  // which is always on the search path: every one is visible.
  fn('pg_collation_is_visible', ['int'], 'bool', () => true),
  fn('pg_operator_is_visible', ['int'], 'bool', () => true),
  fn('pg_opclass_is_visible', ['int'], 'bool', () => true),
  fn('pg_conversion_is_visible', ['int'], 'bool', () => true),
  fn('has_table_privilege', ['*', '*'], 'bool', () => true),
  fn('has_table_privilege', ['*', '*', '*'], 'bool', () => true),
  fn('has_schema_privilege', ['*', '*'], 'bool', () => true),
  fn('has_schema_privilege', ['*', '*', '*'], 'bool', () => true),
  fn('has_database_privilege', ['*', '*'], 'bool', () => true),
  fn('has_database_privilege', ['*', '*', '*'], 'bool', () => true),
  fn('has_column_privilege', ['*', '*', '*'], 'bool', () => true),
  fn('has_sequence_privilege', ['*', '*'], 'bool', () => true),
  fn('pg_has_role', ['*', '*'], 'bool', () => true),
  fn('pg_has_role', ['*', '*', '*'], 'bool', () => true),
  fn('pg_encoding_to_char', ['int'], 'name', () => 'UTF8'),
  fn('pg_char_to_encoding', ['str'], 'int4', () => 6),
  fn('getdatabaseencoding', [], 'name', () => 'UTF8'),
  fn('pg_client_encoding', [], 'name', () => 'UTF8'),
  // acldefault(objtype, owner): the privileges an object has while its ACL is NULL, as PostgreSQL
  // spells them (pg_dump compares an object's ACL against it to decide what to GRANT/REVOKE).
  // aclitem[] is represented as text[]; the one role is the session user (owner OID 10).
  fn('acldefault', ['*', 'int'], arrayOf(t('text')), (a, _t, rt) => {
    const owner = num(a[1]) === 6171 ? 'pg_database_owner' : rt.session.user;
    const own = (privs: string): string => `${owner}=${privs}/${owner}`;
    const pub = (privs: string): string => `=${privs}/${owner}`;
    switch (str(a[0])) {
      case 'c': return [];
      case 'r': return [own('arwdDxt')];
      case 's': return [own('rwU')];
      case 'd': return [pub('Tc'), own('CTc')];
      case 'f': return [pub('X'), own('X')];
      case 'l': return [pub('U'), own('U')];
      case 'L': return [own('rw')];
      case 'n': return [own('UC')];
      case 't': return [own('C')];
      case 'F': case 'S': return [own('U')];
      case 'T': return [pub('U'), own('U')];
      default: throw sqlError(S.INVALID_PARAMETER_VALUE, `unrecognized object type abbreviation: ${str(a[0])}`);
    }
  }),
  fn('pg_get_expr', ['str', 'int'], 'text', (a) => a[0]),
  fn('pg_get_expr', ['str', 'int', 'bool'], 'text', (a) => a[0]),
  fn('pg_relation_size', ['int'], 'int8', () => 0n),
  fn('pg_total_relation_size', ['int'], 'int8', () => 0n),
  fn('pg_table_size', ['int'], 'int8', () => 0n),
  fn('pg_indexes_size', ['int'], 'int8', () => 0n),
  fn('pg_database_size', ['*'], 'int8', () => 0n),
  fn('pg_size_pretty', ['int'], 'text', (a) => `${plain(a[0])} bytes`),
  // set_config(name, value, is_local): a NULL value resets; a NULL is_local means false.
  fn('set_config', ['str', 'str', 'bool'], 'text', (a, _t, rt) => {
    if (a[0] === null) throw sqlError(S.NULL_VALUE_NOT_ALLOWED, 'SET requires parameter name');
    return rt.services.setConfig(str(a[0]), a[1] === null ? null : str(a[1]), a[2] === true);
  }, { strict: false }),
  ...advisoryLockFunctions(),
  fn('current_setting', ['str'], 'text', (a, _t, rt) => {
    const v = rt.session.setting(str(a[0]));
    if (v === undefined) throw sqlError(S.UNDEFINED_OBJECT, `unrecognized configuration parameter "${str(a[0])}"`);
    return v;
  }),
  fn('current_setting', ['str', 'bool'], 'text', (a, _t, rt) => {
    const v = rt.session.setting(str(a[0]));
    if (v === undefined && !a[1]) throw sqlError(S.UNDEFINED_OBJECT, `unrecognized configuration parameter "${str(a[0])}"`);
    return v ?? null;
  }),
  fn('pg_get_indexdef', ['int'], 'text', (a, _t, rt) => rt.services.describe('indexdef', num(a[0]))),
  fn('pg_get_indexdef', ['int', 'int', 'bool'], 'text', (a, _t, rt) => (num(a[1]) > 0 ? rt.services.describe('indexcolumn', num(a[0]), String(num(a[1]))) : rt.services.describe('indexdef', num(a[0])))),
  fn('pg_relation_is_publishable', ['*'], 'bool', () => false),
  fn('pg_is_other_temp_schema', ['*'], 'bool', () => false),
  fn('pg_my_temp_schema', [], 'oid', () => 0),
  fn('pg_get_function_identity_arguments', ['*'], 'text', () => ''),
  fn('pg_get_ruledef', ['*'], 'text', () => null, { strict: false }),
  fn('pg_tablespace_location', ['*'], 'text', () => ''),
  fn('pg_stat_get_numscans', ['*'], 'int8', () => 0n),
  fn('pg_column_size', ['*'], 'int4', () => 0),
  fn('pg_get_constraintdef', ['int'], 'text', (a, _t, rt) => rt.services.describe('constraintdef', num(a[0]))),
  fn('pg_get_constraintdef', ['int', 'bool'], 'text', (a, _t, rt) => rt.services.describe(a[1] === true ? 'constraintdef_pretty' : 'constraintdef', num(a[0]))),
  fn('pg_get_viewdef', ['int'], 'text', (a, _t, rt) => rt.services.describe('viewdef', num(a[0]))),
  fn('pg_get_viewdef', ['int', 'bool'], 'text', (a, _t, rt) => rt.services.describe('viewdef', num(a[0]))),
  fn('pg_get_serial_sequence', ['str', 'str'], 'text', (a, _t, rt) => {
    let oid: number;
    try {
      oid = rt.services.regclass(str(a[0]));
    } catch {
      return null;
    }
    return rt.services.describe('serial_sequence', oid, str(a[1]));
  }),
  fn('pg_get_statisticsobjdef_columns', ['int'], 'text', () => null, { strict: false }),
  fn('pg_get_partkeydef', ['int'], 'text', () => null, { strict: false }),
  fn('pg_get_triggerdef', ['int'], 'text', () => null, { strict: false }),
  fn('pg_get_triggerdef', ['int', 'bool'], 'text', () => null, { strict: false }),
  fn('pg_get_function_result', ['int'], 'text', () => null, { strict: false }),
  fn('pg_get_function_arguments', ['int'], 'text', () => null, { strict: false }),
  fn('array_to_string', ['array', 'str'], 'text', (a, ty) => (a[0] as Value[]).filter((v) => v !== null).map((v) => toText(v, ty[0].elem ?? t('text'))).join(str(a[1]))),
  fn('array_length', ['array', 'int'], 'int4', (a) => (num(a[1]) === 1 && (a[0] as Value[]).length ? (a[0] as Value[]).length : null)),
  fn('cardinality', ['array'], 'int4', (a) => (a[0] as Value[]).length),
  fn('array_upper', ['array', 'int'], 'int4', (a) => (num(a[1]) === 1 && (a[0] as Value[]).length ? (a[0] as Value[]).length : null)),
  fn('array_lower', ['array', 'int'], 'int4', (a) => (num(a[1]) === 1 && (a[0] as Value[]).length ? 1 : null)),
  {
    name: 'array_position',
    returns: (a) => (a.length === 2 && a[0].kind === 'array' ? t('int4') : undefined),
    call: (a, ty) => {
      const i = (a[0] as Value[]).findIndex((v) => v !== null && plain(v) === plain(castValue(a[1], ty[1], ty[0].elem ?? t('text'))));
      return i < 0 ? null : i + 1;
    },
  },
  {
    name: 'array_append',
    strict: false,
    returns: (a) => (a.length === 2 && a[0].kind === 'array' ? a[0] : undefined),
    call: (a, ty) => [...((a[0] as Value[] | null) ?? []), castValue(a[1], ty[1], ty[0].elem ?? t('text'))],
  },
  {
    // array_remove(arr, x): arr without the elements equal to x (x NULL removes the NULLs).
    name: 'array_remove',
    strict: false,
    returns: (a) => (a.length === 2 && a[0].kind === 'array' ? a[0] : undefined),
    call: (a, ty) => {
      if (a[0] === null) return null;
      const x = a[1] === null ? null : plain(castValue(a[1], ty[1], ty[0].elem ?? t('text')));
      return (a[0] as Value[]).filter((v) => (x === null ? v !== null : v === null || plain(v) !== x));
    },
  },
  fn('gen_random_uuid', [], 'uuid', () => randomUUID()),
  fn('uuid_generate_v4', [], 'uuid', () => randomUUID()),
  {
    name: 'pg_typeof',
    strict: false,
    returns: (a) => (a.length === 1 ? t('regtype') : undefined),
    // A regtype is an OID (printed as the type's name); a name here made pg_typeof(x)::text 'NaN'.
    call: (_a, types) => typeOid(types[0]),
  },
  fn('to_regclass', ['str'], 'regclass', (a, _t, rt) => {
    try {
      return rt.services.regclass(str(a[0]));
    } catch {
      return null;
    }
  }),
  // to_regtype('name') etc.: the OID a name denotes, or NULL when nothing has that name.
  ...(['regtype', 'regproc', 'regnamespace', 'regrole'] as const).map((kind) =>
    fn(`to_${kind}`, ['str'], kind, (a, _t, rt) => {
      try {
        return rt.services.regOid(kind, str(a[0]));
      } catch (e) {
        if (e instanceof PgError && ['42704', '42883', '3F000', '42P01'].includes(e.code)) return null;
        throw e;
      }
    }),
  ),
  fn('currval', ['*'], 'int8', (a, types, rt) => rt.services.currval(typeof a[0] === 'number' ? a[0] : toText(a[0], types[0]))),
  asyncFn('nextval', 1, t('int8'), (a, types, rt) => rt.services.nextval(regclassName(a[0], types[0], rt))),
  // setval(regclass, bigint [, boolean]): a literal value is read as bigint ('x' is 22P02).
  { ...asyncFn('setval', 2, t('int8'), (a, types, rt) => rt.services.setval(regclassName(a[0], types[0], rt), BigInt(a[1] as number | bigint), true)), args: ['*', 'int8'], returns: (a: readonly SqlType[]) => (a.length === 2 && isIntArg(a[1]) ? t('int8') : undefined) },
  { ...asyncFn('setval', 3, t('int8'), (a, types, rt) => rt.services.setval(regclassName(a[0], types[0], rt), BigInt(a[1] as number | bigint), a[2] as boolean)), args: ['*', 'int8', 'bool'], returns: (a: readonly SqlType[]) => (a.length === 3 && isIntArg(a[1]) && (a[2].kind === 'bool' || a[2].kind === 'unknown') ? t('int8') : undefined) },
);

/** A sequence argument: an OID (regclass) or a name (text). */
function regclassName(v: Value, _type: SqlType, _rt: unknown): string | number {
  return typeof v === 'number' ? v : plain(v);
}
