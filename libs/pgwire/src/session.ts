/**
 * The contract between the wire protocol (this library) and the SQL engine.
 *
 * pgwire owns bytes, framing, authentication, statement/portal bookkeeping, row limits and
 * suspension, value encoding, cancellation plumbing and flow control. The engine owns SQL:
 * splitting multi-statement strings, planning, executing, transactions, COPY text/CSV framing.
 *
 * One SessionHandler instance exists per authenticated connection and is only ever called
 * sequentially (the next call starts after the previous promise/iterator settled), so it may
 * keep session state (transaction, settings) without locking.
 *
 * Errors: throw (or reject with) a PgError. Anything else is reported as XX000. Throwing after
 * ctx.signal fired is reported as 57014 (query_canceled).
 */
import type { FormatCode, TransactionStatus } from './backend';
import type { PgNotice } from './errors';
import type { PgValue, TypeCodec } from './types';

export type { FormatCode, TransactionStatus } from './backend';
export type { PgValue } from './types';

/** A result column as the engine describes it; pgwire adds the format code. */
export interface ColumnInfo {
  name: string;
  typeOid: number;
  /** pg_type.typlen; defaults from the type registry. */
  typeSize?: number;
  /** atttypmod, e.g. varchar(n) -> n + 4; default -1. */
  typeModifier?: number;
  /**
   * How to send this column's values when the type registry does not know typeOid (a
   * user-defined enum: `labelCodec`); default the registry's codec for typeOid.
   */
  codec?: TypeCodec;
  /** Source table OID and column number when the column is a plain table column; default 0. */
  tableOid?: number;
  columnAttr?: number;
}

export type Row = readonly PgValue[];

/**
 * Rows are produced in batches so the hot path does no async hop per row. A plain array is
 * one batch; a (async) iterable of batches lets large results stream and lets row-limited
 * Execute stop pulling (the iterator is kept open across PortalSuspended).
 */
export type RowBatches = Iterable<readonly Row[]> | AsyncIterable<readonly Row[]>;

export type StatementResult =
  | {
      kind: 'rows';
      columns: readonly ColumnInfo[];
      rows?: readonly Row[];
      batches?: RowBatches;
      /** Default `SELECT <n>`; a function receives the number of rows sent. */
      commandTag?: string | ((rowCount: number) => string);
    }
  /** A statement without a result set (INSERT 0 1, BEGIN, SET ...). */
  | { kind: 'command'; commandTag: string }
  /** An empty statement (only whitespace/comments). */
  | { kind: 'empty' }
  | CopyInResult
  | CopyOutResult;

export interface CopyInResult {
  kind: 'copyIn';
  /** 0 = text/CSV (framed by the engine), 1 = binary COPY. */
  format: FormatCode;
  columnCount: number;
  /** Receives every CopyData payload in order; resolve to apply backpressure. */
  write(chunk: Buffer): void | Promise<void>;
  /** CopyDone: finish and return the command tag, e.g. `COPY 42`. */
  end(): string | Promise<string>;
  /** CopyFail from the client or a protocol error: discard what was written. */
  abort(reason: string): void | Promise<void>;
}

export interface CopyOutResult {
  kind: 'copyOut';
  format: FormatCode;
  columnCount: number;
  /** CopyData payloads, typically one row (line) each; batched into socket writes by pgwire. */
  data: Iterable<Buffer | string> | AsyncIterable<Buffer | string>;
  /** Evaluated after `data` is exhausted, e.g. `COPY 42`. */
  commandTag: string | (() => string);
}

export interface QueryContext {
  /** Fires when a CancelRequest for this session arrives (or the client disconnects). */
  readonly signal: AbortSignal;
  /** Send a NoticeResponse (e.g. WARNING: there is no transaction in progress). */
  notice(n: PgNotice): void;
  /** Report a changed GUC to the client (ParameterStatus), e.g. after SET application_name. */
  setParameter(name: string, value: string): void;
  /**
   * A named protocol-level portal (made by Bind) of this connection, or undefined. PostgreSQL
   * keeps these in one namespace with SQL cursors, so FETCH/MOVE may name one: asyncpg's
   * Cursor.forward() sends `MOVE FORWARD n <portal>` over the simple protocol.
   */
  portal?(name: string): PortalRows | undefined;
}

/** A protocol-level portal as SQL FETCH/MOVE read it: forward only, as Bind makes it NO SCROLL. */
export interface PortalRows {
  /** Result columns of the portal's statement; null if it returns none. */
  readonly columns: readonly ColumnInfo[] | null;
  /** Rows read from it so far (its position), by Execute or by earlier reads. */
  readonly position: number;
  /**
   * Reads up to `n` more rows (Infinity: all that are left), running the portal's statement
   * first if Bind only created it; later Executes of the portal continue after them.
   */
  read(n: number): Promise<readonly Row[]>;
}

/** The engine's view of a prepared statement. Handlers may return a subtype with their plan. */
export interface PreparedStatement {
  /** Resolved parameter type OIDs (same length as the placeholders; 0s from Parse resolved). */
  readonly paramTypes: readonly number[];
  /** Result columns, or null if the statement returns no rows. */
  readonly columns: readonly ColumnInfo[] | null;
}

export interface ExecuteRequest<S extends PreparedStatement> {
  statement: S;
  /** Decoded parameter values (see types.ts for the JS representation of each type). */
  params: readonly PgValue[];
  /** The portal name ('' = unnamed), for engines that track cursors. */
  portal: string;
}

export interface SessionHandler<S extends PreparedStatement = PreparedStatement> {
  /**
   * Simple query protocol: the complete query string, possibly several statements. Yield one
   * result per statement; throwing stops the string (later statements are not run), as in
   * Postgres. Results are consumed (rows streamed) before the next one is requested.
   */
  simpleQuery(sql: string, ctx: QueryContext): Iterable<StatementResult> | AsyncIterable<StatementResult>;

  /** Parse: analyse one statement. `paramTypes` may be shorter than needed or hold 0s. */
  prepare(sql: string, paramTypes: readonly number[], ctx: QueryContext): S | Promise<S>;

  /** First Execute of a portal. Later Executes of a suspended portal continue its row stream. */
  execute(req: ExecuteRequest<S>, ctx: QueryContext): StatementResult | Promise<StatementResult>;

  /**
   * Describe of a portal pgwire does not know: an SQL-level cursor (DECLARE), which PostgreSQL
   * keeps in the same namespace as protocol portals (psycopg describes its named cursors so).
   * Its result columns, null if it returns none, undefined if no such cursor exists.
   */
  describeCursor?(name: string): readonly ColumnInfo[] | null | undefined;

  /** A statement was closed (Close, Parse over the unnamed one, or session end). */
  closeStatement?(statement: S): void;

  /** Status byte for ReadyForQuery: idle, in transaction, or in a failed transaction. */
  transactionStatus(): TransactionStatus;

  /** The connection is gone (Terminate, error, or socket close). */
  close?(): void | Promise<void>;
}

/** Who connected and what they asked for in the StartupMessage. */
export interface StartupInfo {
  user: string;
  database: string;
  applicationName: string;
  /** All startup parameters as sent (including `options`, client_encoding, ...). */
  params: ReadonlyMap<string, string>;
  remoteAddress: string;
  /** Backend process id reported in BackendKeyData (unique per server). */
  pid: number;
}

/**
 * Create the session after authentication. May throw a PgError (e.g. 3D000 database does not
 * exist), which is sent as FATAL and closes the connection. The returned parameters override
 * or extend the ParameterStatus set (e.g. is_superuser, TimeZone).
 */
export type SessionFactory<S extends PreparedStatement = PreparedStatement> = (
  info: StartupInfo,
) =>
  | { handler: SessionHandler<S>; parameters?: Record<string, string> }
  | Promise<{ handler: SessionHandler<S>; parameters?: Record<string, string> }>;
