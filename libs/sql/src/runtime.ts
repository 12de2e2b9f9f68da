// What compiled expressions see at run time: parameters, session facts and the results of
// async "slots" (subqueries, nextval) computed just before an expression is evaluated.
import type { Txn } from '@weft/txn';
import type { SequenceState } from './catalog/sequence-state';
import type { Value } from './types/types';

export type Row = Value[];

/**
 * What a plan reads through: the transaction itself, or a statement snapshot of it (a statement
 * with data-modifying CTEs reads the data as it was when the statement started).
 */
export type TxnReader = Pick<Txn, 'get' | 'scan'> & Partial<Pick<Txn, 'getForUpdate' | 'count' | 'partials'>>;

export interface SessionInfo {
  readonly user: string;
  readonly database: string;
  readonly databaseId: number;
  readonly pid: number;
  readonly searchPath: readonly string[];
  setting(name: string): string | undefined;
  /** The session's open SQL cursors (pg_cursors). */
  cursors?(): readonly import('./cursors').CursorInfo[];
}

export interface Runtime {
  readonly params: readonly Value[];
  /** What the statement's plan reads through (writes go through ExecContext.txn). */
  readonly txn: TxnReader;
  readonly session: SessionInfo;
  /** Statement timestamp (transaction start for now()), microseconds since 2000-01-01. */
  readonly txnStartUs: bigint;
  readonly statementStartUs: bigint;
  readonly slotValues: Map<number, Value>;
  /** Cancellation: checked by long loops. */
  readonly signal: AbortSignal | undefined;
  /** Async services expressions need (sequences). */
  readonly services: RuntimeServices;
}

export interface RuntimeServices {
  /** A sequence by name (search_path) or by pg_class OID (a regclass argument). */
  nextval(sequence: string | number): Promise<bigint>;
  currval(sequence: string | number): bigint;
  setval(sequence: string | number, value: bigint, isCalled: boolean): Promise<bigint>;
  /** last_value and is_called of a sequence as Postgres reports them (any session's nextval counts). */
  sequenceState(sequence: string | number): Promise<SequenceState>;
  /** pg_class OID of a relation name (regclass casts), or throws 42P01. */
  regclass(name: string): number;
  /** Relation name for an OID (regclass output). */
  relname(oid: number): string;
  /** Output of an OID cast to a reg* type (relation, type, schema, role name). */
  regName(kind: 'regclass' | 'regtype' | 'regproc' | 'regnamespace' | 'regrole', oid: number): string;
  /** Input of a name cast to a reg* type: the OID it names (42P01/42704 when unknown). */
  regOid(kind: 'regclass' | 'regtype' | 'regproc' | 'regnamespace' | 'regrole', name: string): number;
  /**
   * set_config(name, value, is_local): SET (or SET LOCAL when isLocal; a NULL value resets);
   * returns the setting's new value.
   */
  setConfig(name: string, value: string | null, isLocal: boolean): string;
  /** Catalog text functions: pg_get_indexdef, pg_get_constraintdef, pg_get_viewdef, pg_get_serial_sequence. */
  /** pg_[try_]advisory[_xact]_lock[_shared]: true when granted (waits when `wait`). See advisory-locks.ts. */
  advisoryLock(key: string, mode: 'exclusive' | 'shared', scope: 'session' | 'xact', wait: boolean): Promise<boolean>;
  /** pg_advisory_unlock[_shared]: false (with a WARNING) when the session holds no such lock. */
  advisoryUnlock(key: string, mode: 'exclusive' | 'shared'): boolean;
  /** pg_advisory_unlock_all. */
  advisoryUnlockAll(): void;
  describe(what: 'indexdef' | 'indexcolumn' | 'constraintdef' | 'constraintdef_pretty' | 'viewdef' | 'serial_sequence', oid: number, column?: string): string | null;
}

export interface Env {
  readonly row: Row;
  readonly outer: Env | undefined;
  readonly rt: Runtime;
}
