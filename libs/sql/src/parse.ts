// The real PostgreSQL grammar (libpg-query, WASM). A multi-statement string is split by the
// statement locations libpg-query reports; syntax errors become 42601 with the 1-based position.
import { loadModule, parseSync, type Node } from 'libpg-query';
import { PgError } from '@weft/pgwire';
import { S, sqlError } from './errors';

let loaded: Promise<void> | undefined;

/** Loads the WASM parser once per process. */
export function initParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

export interface ParsedStatement {
  readonly node: Node;
  /** The statement's own text (for plan caching, EXPLAIN and error positions). */
  readonly text: string;
  /** 0-based offset of the statement in the original string. */
  readonly offset: number;
}

const ONLY_SPACE_OR_COMMENTS = /^(\s|;|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*$/;

export function parseSql(sql: string): ParsedStatement[] {
  if (ONLY_SPACE_OR_COMMENTS.test(sql)) return [];
  let result;
  try {
    result = parseSync(sql);
  } catch (e) {
    throw toSyntaxError(e);
  }
  return (result.stmts ?? []).flatMap((s) => {
    if (!s.stmt) return [];
    const offset = s.stmt_location ?? 0;
    const text = s.stmt_len ? sql.slice(offset, offset + s.stmt_len) : sql.slice(offset);
    return [{ node: s.stmt, text, offset }];
  });
}

function toSyntaxError(e: unknown): PgError {
  const msg = e instanceof Error ? e.message : String(e);
  const details = (e as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
  const pos = details?.cursorPosition;
  return sqlError(S.SYNTAX_ERROR, msg, pos !== undefined ? { position: pos + 1 } : {});
}
