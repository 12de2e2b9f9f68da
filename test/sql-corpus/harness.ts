/**
 * The differential harness: runs a SQL corpus file statement by statement over one session
 * (simple query protocol, or the extended protocol's Parse/Bind/Describe/Execute with no
 * parameters; values as the server's text output) and compares two servers'
 * outcomes: command tag, column names and type OIDs, rows, and the SQLSTATE of errors. Rows are
 * compared in order only when the statement has a top-level ORDER BY; otherwise as multisets.
 *
 * Corpus file format (plain SQL, statements end with `;`):
 *   -- @error 23505        the next statement must fail with this SQLSTATE on PostgreSQL
 *                          (an unannotated error on PostgreSQL fails the corpus check, so a typo
 *                          cannot pass silently as "both servers said 42601")
 *   -- @columns-only       compare the next statement's tag and columns but not its values
 *                          (for now(), random(), pg_backend_pid() ...)
 */
import { Client, type FieldDef } from 'pg';
import type { ConnectionConfig } from '../support/postgres';

export interface Statement {
  readonly sql: string;
  /** 1-based line of the statement's first character in its file. */
  readonly line: number;
  readonly expectError?: string;
  readonly columnsOnly: boolean;
}

export interface Column {
  readonly name: string;
  readonly typeOid: number;
}

export type Outcome =
  | { readonly ok: true; readonly tag: string; readonly columns: readonly Column[]; readonly rows: readonly (string | null)[][] }
  | { readonly ok: false; readonly sqlstate: string; readonly message: string };

/**
 * Splits SQL text into statements at top-level semicolons, honouring '...' (and E'...'
 * backslash escapes), "...", $tag$...$tag$, -- and nested /* *\/ comments. Directive comments
 * (`-- @...`) apply to the statement that follows them.
 */
export function splitStatements(text: string): Statement[] {
  const out: Statement[] = [];
  let start = -1; // index of the current statement's first non-blank, non-comment char
  let expectError: string | undefined;
  let columnsOnly = false;
  let i = 0;
  const lineAt = (pos: number): number => text.slice(0, pos).split('\n').length;
  const flush = (end: number): void => {
    if (start >= 0) {
      out.push({ sql: text.slice(start, end).trim(), line: lineAt(start), expectError, columnsOnly });
    }
    start = -1;
    expectError = undefined;
    columnsOnly = false;
  };
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      const eol = text.indexOf('\n', i);
      const end = eol < 0 ? text.length : eol;
      if (start < 0) {
        const directive = /^--\s*@(\S+)\s*(\S*)/.exec(text.slice(i, end));
        if (directive) {
          if (directive[1] === 'error') {
            if (!/^[0-9A-Z]{5}$/.test(directive[2])) throw new Error(`line ${lineAt(i)}: @error needs a 5-character SQLSTATE`);
            expectError = directive[2];
          } else if (directive[1] === 'columns-only') {
            columnsOnly = true;
          } else {
            throw new Error(`line ${lineAt(i)}: unknown directive @${directive[1]}`);
          }
        }
      }
      i = end;
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < text.length && depth > 0) {
        if (text[i] === '/' && text[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (text[i] === '*' && text[i + 1] === '/') {
          depth--;
          i += 2;
        } else {
          i++;
        }
      }
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (start < 0) start = i;
    if (c === ';') {
      flush(i);
      i++;
      continue;
    }
    if (c === "'") {
      const backslashes = i > 0 && /[eE]/.test(text[i - 1]) && (i < 2 || !/\w/.test(text[i - 2]));
      i++;
      while (i < text.length) {
        if (backslashes && text[i] === '\\') i += 2;
        else if (text[i] === "'" && text[i + 1] === "'") i += 2;
        else if (text[i] === "'") break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === '"') {
      i = text.indexOf('"', i + 1) + 1 || text.length;
      continue;
    }
    if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(i));
      if (tag && !(i > 0 && /\w/.test(text[i - 1]))) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        i = close < 0 ? text.length : close + tag[0].length;
        continue;
      }
    }
    i++;
  }
  if (start >= 0) flush(text.length);
  return out;
}

/** True when the statement has an ORDER BY outside parentheses (so row order is defined). */
export function hasTopLevelOrderBy(sql: string): boolean {
  const stripped = sql
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"[^"]*"/g, '""')
    .replace(/--[^\n]*/g, ' ');
  let depth = 0;
  let flat = '';
  for (const ch of stripped) {
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0) flat += ch;
  }
  return /\border\s+by\b/i.test(flat);
}

interface CommandCompleteSource {
  on(event: 'commandComplete', listener: (msg: { text: string }) => void): unknown;
  removeListener(event: 'commandComplete', listener: (msg: { text: string }) => void): unknown;
}

/** Text of every value exactly as the server sent it (no driver parsing). */
const rawText = { getTypeParser: () => (value: string) => value };

/** 'simple': one Query message per statement; 'extended': Parse/Bind/Describe/Execute/Sync. */
export type Protocol = 'simple' | 'extended';

/** A session on one server that runs statements and reports their outcomes. */
export class CorpusSession {
  private constructor(
    private readonly client: Client,
    private readonly protocol: Protocol,
  ) {}

  static async open(server: ConnectionConfig, protocol: Protocol = 'simple'): Promise<CorpusSession> {
    const client = new Client({ ...server, connectionTimeoutMillis: 10_000 });
    // A server that drops the connection must fail the statement, not crash the test process.
    client.on('error', () => undefined);
    await client.connect();
    return new CorpusSession(client, protocol);
  }

  async run(sql: string): Promise<Outcome> {
    // node-postgres splits the tag into command + rowCount; the raw CommandComplete text keeps
    // e.g. "CREATE TABLE" vs "CREATE INDEX" apart.
    const conn = (this.client as unknown as { connection: CommandCompleteSource }).connection;
    const tags: string[] = [];
    const onTag = (msg: { text: string }): void => void tags.push(msg.text);
    conn.on('commandComplete', onTag);
    try {
      // queryMode is node-postgres's switch to the extended protocol without parameters.
      const config = { text: sql, rowMode: 'array' as const, types: rawText, queryMode: this.protocol === 'extended' ? 'extended' : undefined };
      const r = await this.client.query<(string | null)[]>(config);
      const fields: FieldDef[] = r.fields ?? [];
      return {
        ok: true,
        tag: tags.join('; '),
        columns: fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID })),
        rows: r.rows,
      };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return { ok: false, sqlstate: err.code ?? 'no-sqlstate', message: err.message ?? String(e) };
    } finally {
      conn.removeListener('commandComplete', onTag);
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/** Runs every statement of a corpus in one session; returns one outcome per statement. */
export async function runCorpus(server: ConnectionConfig, statements: readonly Statement[], protocol: Protocol = 'simple'): Promise<Outcome[]> {
  const session = await CorpusSession.open(server, protocol);
  try {
    const outcomes: Outcome[] = [];
    for (const s of statements) outcomes.push(await session.run(s.sql));
    return outcomes;
  } finally {
    await session.close();
  }
}

function show(o: Outcome): string {
  if (!o.ok) return `ERROR ${o.sqlstate}: ${o.message}`;
  const cols = o.columns.map((c) => `${c.name}:${c.typeOid}`).join(', ');
  const rows = o.rows.slice(0, 10).map((r) => JSON.stringify(r)).join('\n      ');
  const more = o.rows.length > 10 ? `\n      ... ${o.rows.length - 10} more` : '';
  return `${o.tag} [${cols}]${rows ? `\n      ${rows}` : ''}${more}`;
}

const rowKey = (r: readonly unknown[]): string => JSON.stringify(r);

/**
 * Type OIDs compared as is, except those of user-defined types (enums, >= 16384 = FirstNormalObjectId):
 * each server allocates those its own way, so they compare only as "a user type".
 */
const builtinOid = (oid: number): number | string => (oid >= 16384 ? 'user type' : oid);

/** Why two outcomes of the same statement differ, or undefined if they match. */
export function compareOutcome(stmt: Statement, a: Outcome, b: Outcome): string | undefined {
  if (!a.ok || !b.ok) {
    if (!a.ok && !b.ok && a.sqlstate === b.sqlstate) return undefined;
    return 'outcome differs';
  }
  if (a.tag !== b.tag) return `command tag differs`;
  if (rowKey(a.columns.map((c) => c.name)) !== rowKey(b.columns.map((c) => c.name))) return 'column names differ';
  if (rowKey(a.columns.map((c) => builtinOid(c.typeOid))) !== rowKey(b.columns.map((c) => builtinOid(c.typeOid)))) return 'column types differ';
  if (stmt.columnsOnly) return undefined;
  if (a.rows.length !== b.rows.length) return 'row count differs';
  const ka = a.rows.map(rowKey);
  const kb = b.rows.map(rowKey);
  if (!hasTopLevelOrderBy(stmt.sql)) {
    ka.sort();
    kb.sort();
  }
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return hasTopLevelOrderBy(stmt.sql) ? `row ${i + 1} differs (ordered)` : 'rows differ (as multisets)';
  }
  return undefined;
}

/**
 * Every statement whose outcomes differ between the reference (PostgreSQL) and the candidate,
 * formatted for a test failure: file:line, the SQL, why, and both outcomes.
 */
export function diffOutcomes(
  file: string,
  statements: readonly Statement[],
  reference: readonly Outcome[],
  candidate: readonly Outcome[],
  names: readonly [string, string] = ['postgres', 'weft'],
): string[] {
  const problems: string[] = [];
  statements.forEach((s, i) => {
    const why = compareOutcome(s, reference[i], candidate[i]);
    if (why) {
      problems.push(
        `${file}:${s.line}: ${why}\n  ${s.sql}\n  ${names[0]}: ${show(reference[i])}\n  ${names[1]}: ${show(candidate[i])}`,
      );
    }
  });
  return problems;
}

/**
 * Checks the corpus itself against PostgreSQL's outcomes: a statement fails on PostgreSQL if
 * and only if it is annotated `-- @error`, and then with that SQLSTATE.
 */
export function checkAnnotations(file: string, statements: readonly Statement[], reference: readonly Outcome[]): string[] {
  const problems: string[] = [];
  statements.forEach((s, i) => {
    const o = reference[i];
    if (!o.ok && o.sqlstate !== s.expectError) {
      problems.push(`${file}:${s.line}: PostgreSQL failed with ${o.sqlstate} (${o.message}) but the corpus expects ${s.expectError ?? 'success'}\n  ${s.sql}`);
    } else if (o.ok && s.expectError) {
      problems.push(`${file}:${s.line}: PostgreSQL succeeded but the corpus expects ${s.expectError}\n  ${s.sql}`);
    }
  });
  return problems;
}
