/**
 * PgError is the one error type that crosses the pgwire <-> SQL engine boundary. Anything the
 * handler throws that is not a PgError is reported to the client as XX000 (internal_error) so
 * that an engine bug becomes an answer on the socket, never a crashed gateway.
 */

export type ErrorSeverity = 'ERROR' | 'FATAL' | 'PANIC';
export type NoticeSeverity = 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

/** The SQLSTATE codes pgwire itself emits (the SQL layer uses its own, any 5-char code works). */
export const SqlState = {
  SUCCESSFUL_COMPLETION: '00000',
  FEATURE_NOT_SUPPORTED: '0A000',
  PROTOCOL_VIOLATION: '08P01',
  INVALID_AUTHORIZATION_SPECIFICATION: '28000',
  INVALID_PASSWORD: '28P01',
  INVALID_TEXT_REPRESENTATION: '22P02',
  INVALID_BINARY_REPRESENTATION: '22P03',
  NUMERIC_VALUE_OUT_OF_RANGE: '22003',
  INVALID_PARAMETER_VALUE: '22023',
  DATETIME_FIELD_OVERFLOW: '22008',
  INVALID_DATETIME_FORMAT: '22007',
  QUERY_CANCELED: '57014',
  ADMIN_SHUTDOWN: '57P01',
  DUPLICATE_PREPARED_STATEMENT: '42P05',
  DUPLICATE_CURSOR: '42P03',
  INVALID_SQL_STATEMENT_NAME: '26000',
  INVALID_CURSOR_NAME: '34000',
  INVALID_CURSOR_STATE: '24000',
  CHARACTER_NOT_IN_REPERTOIRE: '22021',
  DATATYPE_MISMATCH: '42804',
  PROGRAM_LIMIT_EXCEEDED: '54000',
  INTERNAL_ERROR: 'XX000',
  TOO_MANY_CONNECTIONS: '53300',
} as const;

/** Optional ErrorResponse/NoticeResponse fields, named after the protocol's field letters. */
export interface PgErrorFields {
  detail?: string;
  hint?: string;
  /** 1-based character offset into the statement text (field 'P'). */
  position?: number;
  internalPosition?: number;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
}

export class PgError extends Error {
  readonly code: string;
  readonly severity: ErrorSeverity;
  readonly fields: PgErrorFields;

  constructor(code: string, message: string, fields: PgErrorFields = {}, severity: ErrorSeverity = 'ERROR') {
    super(message);
    this.name = 'PgError';
    this.code = code;
    this.severity = severity;
    this.fields = fields;
  }

  get detail(): string | undefined {
    return this.fields.detail;
  }
  get hint(): string | undefined {
    return this.fields.hint;
  }
  get position(): number | undefined {
    return this.fields.position;
  }

  /** Same error with FATAL severity: the connection is closed after it is sent. */
  fatal(): PgError {
    return new PgError(this.code, this.message, this.fields, 'FATAL');
  }
}

/** A framing or message-content violation: answered with 08P01 and the connection is closed. */
export class ProtocolViolation extends PgError {
  constructor(message: string) {
    super(SqlState.PROTOCOL_VIOLATION, message, {}, 'FATAL');
    this.name = 'ProtocolViolation';
  }
}

export interface PgNotice extends PgErrorFields {
  severity?: NoticeSeverity;
  code?: string;
  message: string;
}

export function queryCanceled(): PgError {
  return new PgError(SqlState.QUERY_CANCELED, 'canceling statement due to user request');
}

/** Map anything thrown by a handler to a PgError without losing a real PgError's fields. */
export function toPgError(err: unknown, aborted = false): PgError {
  if (err instanceof PgError) return err;
  if (aborted) return queryCanceled();
  const message = err instanceof Error ? err.message : String(err);
  return new PgError(SqlState.INTERNAL_ERROR, message || 'internal error');
}
