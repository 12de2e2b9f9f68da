// The real PostgreSQL grammar (libpg-query, WASM). A multi-statement string is split by the
// statement locations libpg-query reports; syntax errors become 42601 with the 1-based position.
import { loadModule, parseSync, type Node } from 'libpg-query';
import { PgError } from '@weft/pgwire';
import { S, sqlError } from './errors';
import { liftAsOf } from './as-of';
import { rewriteShowRanges } from './show-ranges';

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
  /** The expression of an AS OF SYSTEM TIME clause lifted out of the statement (see as-of.ts). */
  readonly asOf?: string;
}

const ONLY_SPACE_OR_COMMENTS = /^(\s|;|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*$/;

export function parseSql(sql0: string): ParsedStatement[] {
  if (ONLY_SPACE_OR_COMMENTS.test(sql0)) return [];
  let sql = HASH_PK.test(sql0) ? rewriteHashPrimaryKeys(sql0) : rewriteShowRanges(sql0);
  const clauses: { at: number; expr: string }[] = [];
  for (let lifted = liftAsOf(sql); lifted.asOf !== undefined; lifted = liftAsOf(sql)) {
    clauses.push({ at: firstDifference(sql, lifted.sql), expr: lifted.asOf });
    sql = lifted.sql;
  }
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
    const end = s.stmt_len ? offset + s.stmt_len : sql.length;
    const asOf = clauses.find((c) => c.at >= offset && c.at <= end)?.expr;
    return [asOf === undefined ? { node: s.stmt, text, offset } : { node: s.stmt, text, offset, asOf }];
  });
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

const HASH_PK = /PRIMARY\s+KEY\s*\(\s*\(/i;

/**
 * Weft's hash-sharded primary key, `PRIMARY KEY ((a, b) HASH, c DESC)`, is not in Postgres'
 * grammar. This narrow pre-pass rewrites it into storage parameters the grammar accepts:
 * `PRIMARY KEY (a, b, c) WITH (hash_columns = 2, desc_columns = 'c')`, which CREATE TABLE reads.
 */
export function rewriteHashPrimaryKeys(sql: string): string {
  const re = /PRIMARY\s+KEY\s*\(\s*\(/gi;
  let out = '';
  let last = 0;
  for (let m = re.exec(sql); m; m = re.exec(sql)) {
    const innerStart = m.index + m[0].length;
    const innerEnd = sql.indexOf(')', innerStart);
    if (innerEnd < 0) break;
    const hashCols = sql.slice(innerStart, innerEnd).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    const after = /^\s*HASH\b/i.exec(sql.slice(innerEnd + 1));
    if (!after) continue;
    let i = innerEnd + 1 + after[0].length;
    let depth = 0;
    let end = -1;
    for (let j = i; j < sql.length; j++) {
      if (sql[j] === '(') depth++;
      else if (sql[j] === ')') {
        if (depth === 0) {
          end = j;
          break;
        }
        depth--;
      }
    }
    if (end < 0) break;
    const rest = sql.slice(i, end).replace(/^\s*,/, '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    const rangeCols: string[] = [];
    const desc: string[] = [];
    for (const r of rest) {
      const mm = /^(.+?)\s+(ASC|DESC)$/i.exec(r);
      const name = mm ? mm[1] : r;
      rangeCols.push(name);
      if (mm && mm[2].toUpperCase() === 'DESC') desc.push(name.replace(/^"(.*)"$/, '$1'));
    }
    const opts = [`hash_columns = ${hashCols.length}`, ...(desc.length ? [`desc_columns = '${desc.join(',')}'`] : [])];
    out += `${sql.slice(last, m.index)}PRIMARY KEY (${[...hashCols, ...rangeCols].join(', ')}) WITH (${opts.join(', ')})`;
    last = end + 1;
    i = end + 1;
    re.lastIndex = i;
  }
  return out + sql.slice(last);
}

function toSyntaxError(e: unknown): PgError {
  const msg = e instanceof Error ? e.message : String(e);
  const details = (e as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
  const pos = details?.cursorPosition;
  // The grammar refuses a few constructs as not implemented (0A000 in Postgres), not as syntax.
  const code = /not (yet )?implemented|not supported/.test(msg) ? S.FEATURE_NOT_SUPPORTED : S.SYNTAX_ERROR;
  return sqlError(code, msg, pos !== undefined ? { position: pos + 1 } : {});
}
