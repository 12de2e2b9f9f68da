// Anonymous DO blocks: the PL/pgSQL subset migration tools generate. The body is parsed by
// libpg-query's PL/pgSQL parser (PostgreSQL's own grammar) and turned into a small program:
// blocks of SQL statements with EXCEPTION handlers, IF/ELSIF/ELSE, PERFORM, RAISE with a plain
// message, NULL and RETURN. Anything else (variables, loops, dynamic EXECUTE, ...) is refused
// with 0A000 naming the construct, before any statement runs.
import { parsePlPgSQLSync } from 'libpg-query';
import { PgError } from '@weft/pgwire';
import { S, sqlError } from '../errors';
import { CONDITIONS, conditionMatches } from './conditions';

export type DoStatement =
  | { readonly kind: 'sql'; readonly sql: string; readonly line: number }
  | { readonly kind: 'perform'; readonly sql: string; readonly line: number }
  | { readonly kind: 'if'; readonly branches: readonly { readonly cond: string; readonly body: readonly DoStatement[] }[]; readonly otherwise: readonly DoStatement[] }
  | { readonly kind: 'block'; readonly body: readonly DoStatement[]; readonly handlers: readonly DoHandler[] }
  | { readonly kind: 'raise'; readonly level: 'error' | 'warning' | 'notice' | 'info' | 'debug'; readonly message: string; readonly code: string }
  | { readonly kind: 'return' };

export interface DoHandler {
  /** SQLSTATEs, class codes ('23000') or 'others'. */
  readonly conditions: readonly string[];
  readonly body: readonly DoStatement[];
}

/** What running a DO block needs from the session: statements run in its transaction. */
export interface DoHost {
  /** Runs one SQL statement (no results expected). */
  exec(sql: string): Promise<void>;
  /** Runs a query and returns its first row's first value (IF conditions). */
  scalar(sql: string): Promise<unknown>;
  /** Marks the transaction's state; `rollbackTo` undoes everything since (EXCEPTION blocks). */
  savepoint(): Promise<unknown>;
  rollbackTo(mark: unknown): Promise<void>;
  notice(severity: 'WARNING' | 'NOTICE' | 'INFO', message: string): void;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' ? (v as Json) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const exprText = (v: unknown): string => str(obj(obj(v).PLpgSQL_expr).query);

const unsupported = (what: string): PgError => sqlError(S.FEATURE_NOT_SUPPORTED, `PL/pgSQL construct not supported in DO blocks: ${what}`, {
  hint: 'Weft runs a PL/pgSQL subset in DO blocks: SQL statements, BEGIN ... EXCEPTION WHEN ... END, IF/ELSIF/ELSE, PERFORM, RAISE with a plain message, NULL and RETURN.',
});

/** The names PL/pgSQL gives statement kinds, for the 0A000 message. */
const STATEMENT_NAMES: Readonly<Record<string, string>> = {
  PLpgSQL_stmt_assign: 'assignment', PLpgSQL_stmt_case: 'CASE', PLpgSQL_stmt_loop: 'LOOP', PLpgSQL_stmt_while: 'WHILE',
  PLpgSQL_stmt_fori: 'FOR loops', PLpgSQL_stmt_fors: 'FOR loops', PLpgSQL_stmt_forc: 'FOR loops', PLpgSQL_stmt_foreach_a: 'FOREACH',
  PLpgSQL_stmt_exit: 'EXIT/CONTINUE', PLpgSQL_stmt_return_next: 'RETURN NEXT', PLpgSQL_stmt_return_query: 'RETURN QUERY',
  PLpgSQL_stmt_assert: 'ASSERT', PLpgSQL_stmt_dynexecute: 'EXECUTE (dynamic SQL)', PLpgSQL_stmt_dynfors: 'FOR ... EXECUTE',
  PLpgSQL_stmt_getdiag: 'GET DIAGNOSTICS', PLpgSQL_stmt_open: 'cursors (OPEN)', PLpgSQL_stmt_fetch: 'cursors (FETCH)',
  PLpgSQL_stmt_close: 'cursors (CLOSE)', PLpgSQL_stmt_call: 'CALL', PLpgSQL_stmt_commit: 'COMMIT', PLpgSQL_stmt_rollback: 'ROLLBACK',
};

/** A dollar-quote tag the body does not contain, to wrap it as a function for the parser. */
function quoteTag(body: string): string {
  let tag = '$weft_do$';
  for (let i = 0; body.includes(tag); i++) tag = `$weft_do${i}$`;
  return tag;
}

/** Parses and checks a DO block's body; the errors PostgreSQL raises for a bad body (42601, 42704). */
export function parseDoBlock(body: string): readonly DoStatement[] {
  const tag = quoteTag(body);
  let parsed: unknown;
  try {
    parsed = parsePlPgSQLSync(`CREATE FUNCTION weft_do() RETURNS void LANGUAGE plpgsql AS ${tag}${body}${tag}`);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw sqlError(/^unrecognized exception condition/.test(message) ? S.UNDEFINED_OBJECT : S.SYNTAX_ERROR, message);
  }
  const fn = obj(obj(list(obj(parsed).plpgsql_funcs)[0]).PLpgSQL_function);
  const program = convertBlock(obj(obj(fn.action).PLpgSQL_stmt_block)).body;
  // found, sqlstate and sqlerrm are implicit; anything else was DECLAREd (checked after the
  // statements, so a FOR loop is named as such rather than by its loop variable).
  for (const d of list(fn.datums)) {
    const v = obj(obj(d).PLpgSQL_var ?? obj(d).PLpgSQL_rec ?? obj(d).PLpgSQL_row);
    const name = str(v.refname);
    if (!['found', 'sqlstate', 'sqlerrm'].includes(name)) throw unsupported(`variables (DECLARE ${name || '...'})`);
  }
  return program;
}

function convertList(stmts: unknown): DoStatement[] {
  const out: DoStatement[] = [];
  for (const s of list(stmts)) {
    const [kind, raw] = Object.entries(obj(s))[0] ?? ['', {}];
    const node = obj(raw);
    const line = Number(node.lineno ?? 0);
    switch (kind) {
      case 'PLpgSQL_stmt_block':
        out.push(convertBlock(node));
        break;
      case 'PLpgSQL_stmt_execsql':
        if (node.into) throw unsupported('SELECT ... INTO (variables)');
        out.push({ kind: 'sql', sql: exprText(node.sqlstmt), line });
        break;
      case 'PLpgSQL_stmt_perform':
        out.push({ kind: 'perform', sql: exprText(node.expr), line });
        break;
      case 'PLpgSQL_stmt_if':
        out.push({
          kind: 'if',
          branches: [
            { cond: exprText(node.cond), body: convertList(node.then_body) },
            ...list(node.elsif_list).map((e) => ({ cond: exprText(obj(obj(e).PLpgSQL_if_elsif).cond), body: convertList(obj(obj(e).PLpgSQL_if_elsif).stmts) })),
          ],
          otherwise: convertList(node.else_body),
        });
        break;
      case 'PLpgSQL_stmt_raise':
        out.push(convertRaise(node));
        break;
      case 'PLpgSQL_stmt_return':
        // The parser appends an implicit RETURN (no line number) to every body.
        if (node.expr) throw unsupported('RETURN with a value');
        if (node.lineno !== undefined) out.push({ kind: 'return' });
        break;
      default:
        throw unsupported(STATEMENT_NAMES[kind] ?? kind.replace(/^PLpgSQL_stmt_/, '').toUpperCase());
    }
  }
  return out;
}

function convertBlock(node: Json): Extract<DoStatement, { kind: 'block' }> {
  if (node.label) throw unsupported('block labels');
  const handlers = list(obj(obj(node.exceptions).PLpgSQL_exception_block).exc_list).map((x): DoHandler => {
    const h = obj(obj(x).PLpgSQL_exception);
    const conditions = list(h.conditions).map((c) => {
      const name = str(obj(obj(c).PLpgSQL_condition).condname);
      if (name === 'others') return name;
      if (/^[0-9A-Z]{5}$/.test(name)) return name; // SQLSTATE 'xxxxx'
      const code = CONDITIONS[name];
      if (!code) throw unsupported(`exception condition ${name}`);
      return code;
    });
    return { conditions, body: convertList(h.action) };
  });
  return { kind: 'block', body: convertList(node.body), handlers };
}

const LEVELS: Readonly<Record<number, Extract<DoStatement, { kind: 'raise' }>['level']>> = { 21: 'error', 19: 'warning', 18: 'notice', 17: 'info' };

function convertRaise(node: Json): DoStatement {
  if (node.condname) throw unsupported('RAISE with a condition name');
  if (list(node.params).length) throw unsupported('RAISE with parameters');
  let code = 'P0001';
  for (const o of list(node.options)) {
    const opt = obj(obj(o).PLpgSQL_raise_option);
    const value = /^'([0-9A-Z]{5})'$/.exec(exprText(opt.expr).trim());
    if (Number(opt.opt_type ?? 0) !== 0 || !value) throw unsupported('RAISE ... USING other than ERRCODE = \'xxxxx\'');
    code = value[1];
  }
  if (typeof node.message !== 'string') throw unsupported('RAISE without a message');
  const level = LEVELS[Number(node.elog_level ?? 21)] ?? 'debug';
  return { kind: 'raise', level, message: node.message.replace(/%%/g, '%'), code };
}

const RETURN = Symbol('return');

/** Runs a parsed DO block. Errors leave the statement (the caller fails it as PostgreSQL does). */
export async function runDoBlock(program: readonly DoStatement[], host: DoHost): Promise<void> {
  await runList(program, host);
}

async function runList(stmts: readonly DoStatement[], host: DoHost): Promise<typeof RETURN | undefined> {
  for (const s of stmts) {
    const r = await runOne(s, host);
    if (r === RETURN) return r;
  }
  return undefined;
}

async function runOne(s: DoStatement, host: DoHost): Promise<typeof RETURN | undefined> {
  switch (s.kind) {
    case 'sql':
      await host.exec(s.sql);
      return undefined;
    case 'perform':
      await host.scalar(s.sql);
      return undefined;
    case 'if':
      for (const b of s.branches) if ((await host.scalar(`SELECT (${b.cond})::boolean`)) === true) return runList(b.body, host);
      return runList(s.otherwise, host);
    case 'raise':
      if (s.level === 'error') throw sqlError(s.code, s.message);
      if (s.level !== 'debug') host.notice(s.level === 'warning' ? 'WARNING' : s.level === 'notice' ? 'NOTICE' : 'INFO', s.message);
      return undefined;
    case 'return':
      return RETURN;
    case 'block': {
      if (s.handlers.length === 0) return runList(s.body, host);
      // The body runs under a savepoint: a caught error leaves none of its effects behind.
      const mark = await host.savepoint();
      try {
        return await runList(s.body, host);
      } catch (e) {
        const code = e instanceof PgError ? e.code : undefined;
        const handler = code === undefined ? undefined : s.handlers.find((h) => h.conditions.some((c) => conditionMatches(c, code)));
        if (!handler) throw e;
        await host.rollbackTo(mark);
        return runList(handler.body, host);
      }
    }
  }
}
