// Anonymous DO blocks: the PL/pgSQL that migration scripts and tools write. The body is parsed
// by libpg-query's PL/pgSQL parser (PostgreSQL's own grammar) and turned into a small program:
// variables (DECLARE, := , SELECT ... INTO [STRICT]), blocks with EXCEPTION handlers (SQLSTATE
// and SQLERRM inside them), IF/ELSIF/ELSE, LOOP/WHILE/FOR over a range or a query and FOREACH
// over an array, with labels and EXIT/CONTINUE [label], CASE, dynamic EXECUTE ... [INTO] ...
// USING, GET [STACKED] DIAGNOSTICS, PERFORM, RAISE (% parameters, a condition name, USING
// MESSAGE/DETAIL/HINT/ERRCODE/..., and a bare RAISE re-throwing in a handler), NULL and RETURN.
// Variables reach SQL as typed parameters (bind-variables.ts). Anything else (cursors, nested
// DECLARE, ...) is refused with 0A000 naming the construct before any statement runs.
import { parsePlPgSQLSync, scanSync } from 'libpg-query';
import { PgError, type PgErrorFields, type PgValue } from '@weft/pgwire';
import { S, sqlError } from '../errors';
import { t, typeDisplayName, type SqlType } from '../types/types';
import { bindVariables, type DoParam } from './bind-variables';
import { CONDITIONS, conditionMatches } from './conditions';

export type { DoParam } from './bind-variables';

export type DoStatement =
  | { readonly kind: 'sql'; readonly sql: string; readonly line: number; readonly into?: DoInto }
  | { readonly kind: 'perform'; readonly sql: string; readonly line: number }
  | { readonly kind: 'if'; readonly branches: readonly { readonly cond: string; readonly body: readonly DoStatement[] }[]; readonly otherwise: readonly DoStatement[] }
  | { readonly kind: 'block'; readonly body: readonly DoStatement[]; readonly handlers: readonly DoHandler[]; readonly label?: string }
  | {
      readonly kind: 'raise';
      readonly level: 'error' | 'warning' | 'notice' | 'info' | 'debug';
      /** The format string; undefined when the message comes from USING MESSAGE or the condition. */
      readonly message: string | undefined;
      readonly params: readonly string[];
      readonly code: string;
      /** USING options whose value is computed when the RAISE runs (a literal ERRCODE is in `code`). */
      readonly options?: readonly { readonly option: RaiseOption; readonly expr: string }[];
    }
  | { readonly kind: 'reraise' }
  | { readonly kind: 'assign'; readonly target: string; readonly expr: string }
  | { readonly kind: 'loop'; readonly body: readonly DoStatement[]; readonly label?: string }
  | { readonly kind: 'while'; readonly cond: string; readonly body: readonly DoStatement[]; readonly label?: string }
  | { readonly kind: 'for-range'; readonly variable: string; readonly lower: string; readonly upper: string; readonly step: string | undefined; readonly reverse: boolean; readonly body: readonly DoStatement[]; readonly label?: string }
  | { readonly kind: 'for-query'; readonly variable: string; readonly query: string; readonly body: readonly DoStatement[]; readonly label?: string }
  | { readonly kind: 'foreach'; readonly variable: string; readonly array: string; readonly body: readonly DoStatement[]; readonly label?: string }
  | { readonly kind: 'exit'; readonly exit: boolean; readonly cond: string | undefined; readonly label?: string }
  | { readonly kind: 'execute'; readonly query: string; readonly params: readonly string[]; readonly into?: DoInto }
  | { readonly kind: 'case'; readonly subject: { readonly expr: string; readonly variable: string } | undefined; readonly whens: readonly { readonly cond: string; readonly body: readonly DoStatement[] }[]; readonly otherwise: readonly DoStatement[] | undefined }
  | { readonly kind: 'diagnostics'; readonly stacked: boolean; readonly items: readonly { readonly item: DiagnosticsItem; readonly target: string }[] }
  | { readonly kind: 'return' };

/** RAISE ... USING options, in the parser's numbering (opt_type). */
export type RaiseOption = (typeof RAISE_OPTIONS)[number];
const RAISE_OPTIONS = ['errcode', 'message', 'detail', 'hint', 'column', 'constraint', 'datatype', 'table', 'schema'] as const;

/** What GET [STACKED] DIAGNOSTICS can read. */
export type DiagnosticsItem = (typeof CURRENT_ITEMS)[number] | (typeof STACKED_ITEMS)[number];
const CURRENT_ITEMS = ['ROW_COUNT'] as const;
const STACKED_ITEMS = ['RETURNED_SQLSTATE', 'MESSAGE_TEXT', 'PG_EXCEPTION_DETAIL', 'PG_EXCEPTION_HINT', 'COLUMN_NAME', 'CONSTRAINT_NAME', 'PG_DATATYPE_NAME', 'TABLE_NAME', 'SCHEMA_NAME'] as const;

/** Where SELECT ... INTO puts the first row: variables in column order; STRICT wants exactly one row. */
export interface DoInto {
  readonly targets: readonly string[];
  readonly strict: boolean;
}

/**
 * A variable of the DECLARE section: a scalar of a declared type (`typeName` may be
 * `table.column%TYPE` or `variable%TYPE`, resolved when the block starts), or a record (for
 * `table%ROWTYPE`, `rowtype` names the table: its fields start out NULL).
 */
export type DoVariable =
  | { readonly kind: 'scalar'; readonly name: string; readonly typeName: string; readonly init: string | undefined; readonly constant: boolean; readonly notNull: boolean }
  | { readonly kind: 'record'; readonly name: string; readonly rowtype?: string };

/** A parsed DO block: its variables and its statements. */
export interface DoProgram {
  readonly variables: readonly DoVariable[];
  readonly body: readonly DoStatement[];
}

export interface DoHandler {
  /** SQLSTATEs, class codes ('23000') or 'others'. */
  readonly conditions: readonly string[];
  readonly body: readonly DoStatement[];
}

/** A statement's result as the block sees it: rows with their column types, or a row count. */
export type DoResult =
  | { readonly kind: 'rows'; readonly columns: readonly { readonly name: string; readonly type: SqlType }[]; readonly rows: readonly (readonly PgValue[])[] }
  | { readonly kind: 'count'; readonly rowCount: number };

/** What running a DO block needs from the session: statements run in its transaction. */
export interface DoHost {
  /** Runs one SQL statement with `$n` bound to `params[n - 1]`. */
  run(sql: string, params: readonly DoParam[]): Promise<DoResult>;
  /** Column names of the table or view `name` (variable/column ambiguity, 42702); undefined if none. */
  columnsOf(schema: string | undefined, name: string): readonly string[] | undefined;
  /** Columns with their types of the table or view `name` (%TYPE, %ROWTYPE); undefined if none. */
  columnTypesOf(schema: string | undefined, name: string): readonly { readonly name: string; readonly type: SqlType }[] | undefined;
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
  hint: 'Weft runs a PL/pgSQL subset in DO blocks: variables, SQL statements, SELECT ... INTO, BEGIN ... EXCEPTION WHEN ... END, IF, CASE, LOOP, WHILE, FOR, FOREACH, labels, EXIT, CONTINUE, EXECUTE [INTO], GET [STACKED] DIAGNOSTICS, PERFORM, RAISE, NULL and RETURN.',
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
export function parseDoBlock(body: string): DoProgram {
  const tag = quoteTag(body);
  let parsed: unknown;
  try {
    parsed = parsePlPgSQLSync(`CREATE FUNCTION weft_do() RETURNS void LANGUAGE plpgsql AS ${tag}${body}${tag}`);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw sqlError(/^unrecognized exception condition/.test(message) ? S.UNDEFINED_OBJECT : S.SYNTAX_ERROR, message);
  }
  // Variables live as long as the block here; a nested block's DECLARE would need its own
  // scope (re-initialised on every entry), which the parser's output does not show.
  const tokens = scanSync(body).tokens;
  const declares = tokens.filter((tok) => tok.text.toLowerCase() === 'declare');
  if (declares.length > 1 || (declares.length === 1 && tokens[0] !== declares[0])) throw unsupported('DECLARE in a nested block');
  const fn = obj(obj(list(obj(parsed).plpgsql_funcs)[0]).PLpgSQL_function);
  const datums = list(fn.datums).map(obj);
  const program = convertBlock(obj(obj(fn.action).PLpgSQL_stmt_block), datums, NO_ENCLOSING).body;
  const loopVariables = new Set<string>();
  collectLoopVariables(program, loopVariables);
  const variables: DoVariable[] = [];
  const seen = new Set<string>();
  for (const d of datums) {
    const rec = obj(d.PLpgSQL_rec);
    const v = obj(d.PLpgSQL_var);
    const name = str(rec.refname || v.refname);
    // found is implicit; sqlstate/sqlerrm belong to handlers; loop variables to their loops.
    if (name === '' || ['found', 'sqlstate', 'sqlerrm'].includes(name) || loopVariables.has(name)) continue;
    if (seen.has(name)) throw unsupported(`a variable declared twice (${name})`);
    seen.add(name);
    if (d.PLpgSQL_rec !== undefined) {
      variables.push({ kind: 'record', name });
      continue;
    }
    const typeName = str(obj(obj(v.datatype).PLpgSQL_type).typname);
    if (typeName === '') throw unsupported(`the type of variable ${name} (unknown)`);
    const rowtype = /^(.+)%rowtype$/i.exec(typeName);
    if (rowtype !== null) {
      if (v.default_val !== undefined) throw unsupported(`a default for the row variable ${name}`);
      variables.push({ kind: 'record', name, rowtype: rowtype[1] });
      continue;
    }
    variables.push({ kind: 'scalar', name, typeName, init: v.default_val === undefined ? undefined : exprText(v.default_val), constant: v.isconst === true, notNull: v.notnull === true });
  }
  return { variables, body: program };
}

function collectLoopVariables(stmts: readonly DoStatement[], out: Set<string>): void {
  for (const s of stmts) {
    if (s.kind === 'for-range') out.add(s.variable);
    if (s.kind === 'for-range' || s.kind === 'for-query' || s.kind === 'foreach' || s.kind === 'loop' || s.kind === 'while' || s.kind === 'block') collectLoopVariables(s.body, out);
    if (s.kind === 'block') for (const h of s.handlers) collectLoopVariables(h.body, out);
    if (s.kind === 'if') {
      for (const b of s.branches) collectLoopVariables(b.body, out);
      collectLoopVariables(s.otherwise, out);
    }
    if (s.kind === 'case') {
      for (const w of s.whens) collectLoopVariables(w.body, out);
      collectLoopVariables(s.otherwise ?? [], out);
    }
  }
}

/** The name of datum `varno` (a variable the statement assigns or reads into). */
function datumName(datums: readonly Json[], varno: unknown): string {
  const d = datums[Number(varno ?? -1)];
  if (d === undefined) throw unsupported('an assignment target it cannot name');
  if (d.PLpgSQL_recfield !== undefined) throw unsupported('assigning to a record field');
  const name = str(obj(d.PLpgSQL_var ?? d.PLpgSQL_rec).refname);
  if (name === '') throw unsupported('an assignment target it cannot name');
  return name;
}

/** The loops and blocks around a statement, innermost last: where EXIT and CONTINUE may go. */
interface Enclosing {
  readonly inLoop: boolean;
  readonly labels: readonly { readonly name: string; readonly loop: boolean }[];
}
const NO_ENCLOSING: Enclosing = { inLoop: false, labels: [] };

/** A statement's label, if any, as an optional field. */
const labelOf = (node: Json): { label?: string } => (typeof node.label === 'string' ? { label: node.label } : {});

function convertList(stmts: unknown, datums: readonly Json[], enclosing: Enclosing): DoStatement[] {
  const out: DoStatement[] = [];
  const body = (v: unknown): DoStatement[] => convertList(v, datums, enclosing);
  for (const s of list(stmts)) {
    const [kind, raw] = Object.entries(obj(s))[0] ?? ['', {}];
    const node = obj(raw);
    const line = Number(node.lineno ?? 0);
    // A loop's body sees the loop (and its label) as the innermost enclosing one.
    const loopBody = (v: unknown): DoStatement[] => convertList(v, datums, { inLoop: true, labels: typeof node.label === 'string' ? [...enclosing.labels, { name: node.label, loop: true }] : enclosing.labels });
    switch (kind) {
      case 'PLpgSQL_stmt_block':
        out.push(convertBlock(node, datums, enclosing));
        break;
      case 'PLpgSQL_stmt_execsql': {
        if (!node.into) {
          out.push({ kind: 'sql', sql: exprText(node.sqlstmt), line });
          break;
        }
        out.push({ kind: 'sql', sql: exprText(node.sqlstmt), line, into: intoOf(node, datums) });
        break;
      }
      case 'PLpgSQL_stmt_perform':
        out.push({ kind: 'perform', sql: exprText(node.expr), line });
        break;
      case 'PLpgSQL_stmt_if':
        out.push({
          kind: 'if',
          branches: [
            { cond: exprText(node.cond), body: body(node.then_body) },
            ...list(node.elsif_list).map((e) => ({ cond: exprText(obj(obj(e).PLpgSQL_if_elsif).cond), body: body(obj(obj(e).PLpgSQL_if_elsif).stmts) })),
          ],
          otherwise: body(node.else_body),
        });
        break;
      case 'PLpgSQL_stmt_raise':
        out.push(convertRaise(node));
        break;
      case 'PLpgSQL_stmt_assign': {
        // The expression's text is the whole assignment ("n := n + 1"): keep its right side.
        const text = exprText(node.expr);
        const at = /:=|=/.exec(text);
        if (at === null) throw unsupported('an assignment without := ');
        out.push({ kind: 'assign', target: datumName(datums, node.varno), expr: text.slice(at.index + at[0].length) });
        break;
      }
      case 'PLpgSQL_stmt_loop':
        out.push({ kind: 'loop', body: loopBody(node.body), ...labelOf(node) });
        break;
      case 'PLpgSQL_stmt_while':
        out.push({ kind: 'while', cond: exprText(node.cond), body: loopBody(node.body), ...labelOf(node) });
        break;
      case 'PLpgSQL_stmt_foreach_a':
        if (Number(node.slice ?? 0) !== 0) throw unsupported('FOREACH ... SLICE');
        out.push({ kind: 'foreach', variable: datumName(datums, node.varno), array: exprText(node.expr), body: loopBody(node.body), ...labelOf(node) });
        break;
      case 'PLpgSQL_stmt_fori':
        out.push({
          kind: 'for-range',
          variable: str(obj(obj(node.var).PLpgSQL_var).refname),
          lower: exprText(node.lower),
          upper: exprText(node.upper),
          step: node.step === undefined ? undefined : exprText(node.step),
          reverse: node.reverse === true,
          body: loopBody(node.body),
          ...labelOf(node),
        });
        break;
      case 'PLpgSQL_stmt_fors': {
        const v = obj(node.var);
        if (v.PLpgSQL_rec === undefined) throw unsupported('FOR over a query into a list of variables');
        out.push({ kind: 'for-query', variable: str(obj(v.PLpgSQL_rec).refname), query: exprText(node.query), body: loopBody(node.body), ...labelOf(node) });
        break;
      }
      case 'PLpgSQL_stmt_exit':
        out.push({ kind: 'exit', exit: node.is_exit === true, cond: node.cond === undefined ? undefined : exprText(node.cond), ...checkExit(node, enclosing) });
        break;
      case 'PLpgSQL_stmt_dynexecute':
        out.push({ kind: 'execute', query: exprText(node.query), params: list(node.params).map(exprText), ...(node.into ? { into: intoOf(node, datums) } : {}) });
        break;
      case 'PLpgSQL_stmt_case': {
        // A simple CASE evaluates its subject into a hidden variable the WHEN tests name.
        const subject = node.t_expr === undefined ? undefined : { expr: exprText(node.t_expr), variable: datumName(datums, node.t_varno) };
        const whens = list(node.case_when_list).map((w) => {
          const cw = obj(obj(w).PLpgSQL_case_when);
          return { cond: exprText(cw.expr), body: body(cw.stmts) };
        });
        out.push({ kind: 'case', subject, whens, otherwise: node.have_else === true ? body(node.else_stmts) : undefined });
        break;
      }
      case 'PLpgSQL_stmt_getdiag': {
        const stacked = node.is_stacked === true;
        const allowed: readonly string[] = stacked ? STACKED_ITEMS : CURRENT_ITEMS;
        const items = list(node.diag_items).map((d) => {
          const di = obj(obj(d).PLpgSQL_diag_item);
          const item = str(di.kind);
          if (!allowed.includes(item)) throw unsupported(`GET ${stacked ? 'STACKED ' : ''}DIAGNOSTICS item ${item}`);
          return { item: item as DiagnosticsItem, target: datumName(datums, di.target) };
        });
        out.push({ kind: 'diagnostics', stacked, items });
        break;
      }
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

/** The INTO clause of SELECT/INSERT ... INTO or EXECUTE ... INTO: its variables, or one record. */
function intoOf(node: Json, datums: readonly Json[]): DoInto {
  const target = obj(node.target);
  const row = obj(target.PLpgSQL_row);
  const targets = target.PLpgSQL_row !== undefined ? list(row.fields).map((f) => datumName(datums, obj(f).varno)) : [str(obj(target.PLpgSQL_var ?? target.PLpgSQL_rec).refname)];
  return { targets, strict: node.strict === true };
}

/** EXIT/CONTINUE [label] where PostgreSQL's compiler accepts it (42601 otherwise); its label. */
function checkExit(node: Json, enclosing: Enclosing): { label?: string } {
  const isExit = node.is_exit === true;
  if (typeof node.label !== 'string') {
    if (!enclosing.inLoop) throw sqlError(S.SYNTAX_ERROR, isExit ? 'EXIT cannot be used outside a loop, unless it has a label' : 'CONTINUE cannot be used outside a loop');
    return {};
  }
  const target = [...enclosing.labels].reverse().find((l) => l.name === node.label);
  if (target === undefined) throw sqlError(S.SYNTAX_ERROR, `there is no label "${node.label}" attached to any block or loop enclosing this statement`);
  if (!isExit && !target.loop) throw sqlError(S.SYNTAX_ERROR, `block label "${node.label}" cannot be used in CONTINUE`);
  return { label: node.label };
}

function convertBlock(node: Json, datums: readonly Json[], outer: Enclosing): Extract<DoStatement, { kind: 'block' }> {
  const enclosing: Enclosing = typeof node.label === 'string' ? { inLoop: outer.inLoop, labels: [...outer.labels, { name: node.label, loop: false }] } : outer;
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
    return { conditions, body: convertList(h.action, datums, enclosing) };
  });
  return { kind: 'block', body: convertList(node.body, datums, enclosing), handlers, ...labelOf(node) };
}

const LEVELS: Readonly<Record<number, Extract<DoStatement, { kind: 'raise' }>['level']>> = { 21: 'error', 19: 'warning', 18: 'notice', 17: 'info' };

function convertRaise(node: Json): DoStatement {
  const options = list(node.options).map((o) => {
    const opt = obj(obj(o).PLpgSQL_raise_option);
    return { option: RAISE_OPTIONS[Number(opt.opt_type ?? 0)] ?? 'errcode', expr: exprText(opt.expr) };
  });
  const condition = typeof node.condname === 'string' ? node.condname : undefined;
  const message = typeof node.message === 'string' ? node.message : undefined;
  // A bare RAISE re-throws the error being handled.
  if (condition === undefined && message === undefined && options.length === 0) return { kind: 'reraise' };
  // PostgreSQL checks these when it compiles the block.
  const seen = new Set<string>();
  for (const { option } of options) {
    if (seen.has(option) || (option === 'message' && message !== undefined) || (option === 'errcode' && condition !== undefined)) {
      throw sqlError(S.SYNTAX_ERROR, `RAISE option already specified: ${option.toUpperCase()}`);
    }
    seen.add(option);
  }
  const params = list(node.params).map(exprText);
  const placeholders = (message?.replace(/%%/g, '').match(/%/g) ?? []).length;
  if (placeholders !== params.length) throw sqlError(S.SYNTAX_ERROR, placeholders > params.length ? 'too few parameters specified for RAISE' : 'too many parameters specified for RAISE');
  // A condition name is checked now (PostgreSQL's compiler does); a literal ERRCODE it knows is
  // taken now too. Any other option (an unknown ERRCODE included) is computed when the RAISE runs.
  let code = condition === undefined ? 'P0001' : sqlstateOf(condition);
  let named = condition;
  const computed = options.filter(({ option, expr }) => {
    const literal = /^'([^']*)'$/.exec(expr.trim())?.[1];
    if (option !== 'errcode' || literal === undefined || !knownSqlstate(literal)) return true;
    code = sqlstateOf(literal);
    named = literal;
    return false;
  });
  const level = LEVELS[Number(node.elog_level ?? 21)] ?? 'debug';
  // Without a message, the condition's name (or the code as written) is the message, as in PostgreSQL.
  return { kind: 'raise', level, message: message ?? named, params, code, ...(computed.length > 0 ? { options: computed } : {}) };
}

function knownSqlstate(name: string): boolean {
  return /^[0-9A-Z]{5}$/.test(name) || CONDITIONS[name.toLowerCase()] !== undefined;
}

/** A condition name or a five-character SQLSTATE as the SQLSTATE it names (42704 otherwise). */
function sqlstateOf(name: string): string {
  if (/^[0-9A-Z]{5}$/.test(name)) return name;
  const code = CONDITIONS[name.toLowerCase()];
  if (code === undefined) throw sqlError(S.UNDEFINED_OBJECT, `unrecognized exception condition "${name}"`);
  return code;
}

/** Control leaving statements early: RETURN, or EXIT/CONTINUE of the innermost loop. */
type Flow = undefined | { readonly kind: 'return' } | { readonly kind: 'exit' | 'continue'; readonly label: string | undefined };
const RETURN: Flow = { kind: 'return' };

/**
 * What a loop labelled `label` does with the flow its body ended with: go on with the next
 * iteration, stop the loop (done), or pass the flow up (a RETURN, or an EXIT/CONTINUE naming an
 * outer label).
 */
function loopStep(f: Flow, label: string | undefined): 'next' | 'done' | Flow {
  if (f === undefined) return 'next';
  if (f.kind === 'return' || (f.label !== undefined && f.label !== label)) return f;
  return f.kind === 'exit' ? 'done' : 'next';
}

/** The flow a loop leaves with: undefined once it stopped itself, else what passes up. */
const afterLoop = (step: 'next' | 'done' | Flow): Flow => (step === 'done' || step === 'next' ? undefined : step);

type Variable =
  | { kind: 'scalar'; readonly typeName: string; type: SqlType; value: PgValue; readonly constant: boolean; readonly notNull: boolean }
  | { kind: 'record'; row: { readonly columns: readonly { readonly name: string; readonly type: SqlType }[]; readonly values: readonly PgValue[] } | undefined };

/** The variables of a running block and the session it runs against. */
class Interpreter {
  private readonly vars = new Map<string, Variable>();
  /** Rows the latest SQL command processed (GET DIAGNOSTICS ... ROW_COUNT). */
  private rowCount = 0;
  /** The errors being handled, innermost last (GET STACKED DIAGNOSTICS). */
  private readonly caught: PgError[] = [];

  constructor(private readonly host: DoHost) {}

  async declare(variables: readonly DoVariable[]): Promise<void> {
    this.setFound(false);
    for (const v of variables) {
      if (v.kind === 'record') {
        // A %ROWTYPE variable has the table's fields from the start, all NULL.
        const columns = v.rowtype === undefined ? undefined : this.relationColumns(v.rowtype, `${v.rowtype}%ROWTYPE`);
        this.vars.set(v.name, { kind: 'record', row: columns === undefined ? undefined : { columns, values: columns.map(() => null) } });
        continue;
      }
      const typeName = this.resolveTypeName(v.typeName);
      const { type, value } = await this.assignmentValue(v.init ?? 'NULL', typeName);
      if (value === null && v.notNull) throw sqlError(S.NULL_VALUE_NOT_ALLOWED, `variable "${v.name}" declared NOT NULL cannot default to NULL`);
      this.vars.set(v.name, { kind: 'scalar', typeName, type, value, constant: v.constant, notNull: v.notNull });
    }
  }

  /**
   * `table.column%TYPE` (schema-qualified or not) or `variable%TYPE` as the type it stands for;
   * other names as written. One that names nothing is a syntax error at the %, as PostgreSQL's
   * compiler reports it.
   */
  private resolveTypeName(typeName: string): string {
    const m = /^(.+)%type$/i.exec(typeName);
    if (m === null) return typeName;
    const parts = identifierParts(m[1]);
    if (parts.length === 1) {
      const v = this.vars.get(parts[0]);
      if (v?.kind === 'scalar') return v.typeName;
    } else if (parts.length <= 3) {
      const columns = this.host.columnTypesOf(parts.length === 3 ? parts[0] : undefined, parts[parts.length - 2]);
      const c = columns?.find((x) => x.name === parts[parts.length - 1]);
      if (c !== undefined) return typeDisplayName(c.type);
    }
    throw sqlError(S.SYNTAX_ERROR, 'syntax error at or near "%"');
  }

  /** The columns of relation `name` ([schema.]table), for %TYPE and %ROWTYPE. */
  private relationColumns(name: string, what: string): readonly { readonly name: string; readonly type: SqlType }[] {
    const parts = identifierParts(name);
    const columns = parts.length <= 2 ? this.host.columnTypesOf(parts.length === 2 ? parts[0] : undefined, parts[parts.length - 1]) : undefined;
    if (columns === undefined) throw sqlError(S.UNDEFINED_TABLE, `relation "${name}" does not exist`, { hint: `in the type ${what}` });
    return columns;
  }

  async runList(stmts: readonly DoStatement[]): Promise<Flow> {
    for (const s of stmts) {
      const r = await this.runOne(s);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  private async runOne(s: DoStatement): Promise<Flow> {
    switch (s.kind) {
      case 'sql': {
        const r = await this.run(s.sql);
        if (s.into !== undefined) {
          await this.into(s.into, r);
          this.setFound(r.kind === 'rows' && r.rows.length > 0);
          // PL/pgSQL fetches one row for a plain INTO, two to check STRICT.
          this.rowCount = Math.min(r.kind === 'rows' ? r.rows.length : 0, s.into.strict ? 2 : 1);
        } else if (r.kind === 'rows') {
          throw sqlError(S.SYNTAX_ERROR, 'query has no destination for result data', { hint: 'If you want to discard the results of a SELECT, use PERFORM instead.' });
        } else {
          this.setFound(r.rowCount > 0);
          this.rowCount = r.rowCount;
        }
        return undefined;
      }
      case 'perform': {
        const r = await this.run(s.sql);
        this.setFound(foundAny(r));
        this.rowCount = rowsOf(r);
        return undefined;
      }
      case 'case': {
        if (s.subject !== undefined) {
          const { type, value } = await this.evaluate(s.subject.expr);
          this.vars.set(s.subject.variable, { kind: 'scalar', typeName: typeDisplayName(type), type, value, constant: true, notNull: false });
        }
        for (const w of s.whens) if (await this.condition(w.cond)) return this.runList(w.body);
        if (s.otherwise === undefined) throw sqlError('20000', 'case not found', { hint: 'CASE statement is missing ELSE part.' });
        return this.runList(s.otherwise);
      }
      case 'diagnostics':
        await this.diagnostics(s);
        return undefined;
      case 'if':
        for (const b of s.branches) if (await this.condition(b.cond)) return this.runList(b.body);
        return this.runList(s.otherwise);
      case 'raise':
        await this.raise(s);
        return undefined;
      case 'reraise': {
        const e = this.caught.at(-1);
        if (e === undefined) throw sqlError('0Z002', 'RAISE without parameters cannot be used outside an exception handler');
        throw e;
      }
      case 'assign':
        await this.assign(s.target, s.expr);
        return undefined;
      case 'loop':
        for (;;) {
          const step = loopStep(await this.runList(s.body), s.label);
          if (step !== 'next') return afterLoop(step);
        }
      case 'while':
        while (await this.condition(s.cond)) {
          const step = loopStep(await this.runList(s.body), s.label);
          if (step !== 'next') return afterLoop(step);
        }
        return undefined;
      case 'foreach':
        return this.forEach(s);
      case 'for-range':
        return this.forRange(s);
      case 'for-query': {
        const r = await this.run(s.query);
        if (r.kind !== 'rows') throw sqlError(S.SYNTAX_ERROR, 'cannot open a query that does not return rows as a FOR loop');
        const v = this.vars.get(s.variable);
        if (v?.kind !== 'record') throw unsupported(`FOR over a query into ${s.variable}`);
        let flow: Flow;
        for (const values of r.rows) {
          v.row = { columns: r.columns, values };
          const step = loopStep(await this.runList(s.body), s.label);
          if (step === 'next') continue;
          flow = afterLoop(step);
          break;
        }
        this.setFound(r.rows.length > 0);
        this.rowCount = r.rows.length;
        return flow;
      }
      case 'exit':
        if (s.cond !== undefined && !(await this.condition(s.cond))) return undefined;
        return { kind: s.exit ? 'exit' : 'continue', label: s.label };
      case 'execute': {
        const sql = await this.text(s.query, true);
        const params: DoParam[] = [];
        for (const p of s.params) params.push(await this.evaluate(p));
        const r = await this.host.run(sql, params);
        this.rowCount = rowsOf(r);
        // EXECUTE, with or without INTO, leaves FOUND alone (PL/pgSQL documents this).
        if (s.into !== undefined) await this.into(s.into, r);
        return undefined;
      }
      case 'return':
        return RETURN;
      case 'block': {
        const flow = await this.runBlock(s);
        // EXIT naming this block leaves it.
        return flow?.kind === 'exit' && flow.label !== undefined && flow.label === s.label ? undefined : flow;
      }
    }
  }

  /** A block's statements; with handlers, under a savepoint the handler rolls back to. */
  private async runBlock(s: Extract<DoStatement, { kind: 'block' }>): Promise<Flow> {
    if (s.handlers.length === 0) return this.runList(s.body);
    // The body runs under a savepoint: a caught error leaves none of its effects behind.
    const mark = await this.host.savepoint();
    try {
      return await this.runList(s.body);
    } catch (e) {
      const code = e instanceof PgError ? e.code : undefined;
      const handler = code === undefined ? undefined : s.handlers.find((h) => h.conditions.some((c) => conditionMatches(c, code)));
      if (!handler || !(e instanceof PgError)) throw e;
      await this.host.rollbackTo(mark);
      const saved = [this.vars.get('sqlstate'), this.vars.get('sqlerrm')] as const;
      this.vars.set('sqlstate', { kind: 'scalar', typeName: 'text', type: TEXT, value: e.code, constant: true, notNull: false });
      this.vars.set('sqlerrm', { kind: 'scalar', typeName: 'text', type: TEXT, value: e.message, constant: true, notNull: false });
      this.caught.push(e);
      try {
        return await this.runList(handler.body);
      } finally {
        this.caught.pop();
        restore(this.vars, 'sqlstate', saved[0]);
        restore(this.vars, 'sqlerrm', saved[1]);
      }
    }
  }

  /** RAISE: the message with its % parameters filled in, the USING options, then the notice or the error. */
  private async raise(s: Extract<DoStatement, { kind: 'raise' }>): Promise<void> {
    let message = s.message === undefined ? undefined : await this.format(s.message, s.params);
    let code = s.code;
    let errcodeText: string | undefined;
    const fields: PgErrorFields = {};
    for (const { option, expr } of s.options ?? []) {
      const { value } = await this.cast(expr, 'text');
      if (value === null) throw sqlError(S.NULL_VALUE_NOT_ALLOWED, 'RAISE statement option cannot be null');
      const text = await this.text(expr);
      switch (option) {
        case 'errcode':
          code = sqlstateOf(text);
          errcodeText = text;
          break;
        case 'message':
          message = text;
          break;
        case 'datatype':
          fields.dataType = text;
          break;
        default:
          fields[option] = text;
      }
    }
    const final = message ?? errcodeText ?? code;
    if (s.level === 'error') throw sqlError(code, final, fields);
    if (s.level !== 'debug') this.host.notice(s.level === 'warning' ? 'WARNING' : s.level === 'notice' ? 'NOTICE' : 'INFO', final);
  }

  /** A RAISE format string with each % replaced by its parameter's text (%% is a literal %). */
  private async format(template: string, params: readonly string[]): Promise<string> {
    let message = '';
    let next = 0;
    for (let i = 0; i < template.length; i++) {
      const c = template[i];
      if (c === '%' && template[i + 1] === '%') {
        message += '%';
        i++;
      } else if (c === '%') {
        message += await this.text(params[next++]);
      } else {
        message += c;
      }
    }
    return message;
  }

  private async forRange(s: Extract<DoStatement, { kind: 'for-range' }>): Promise<Flow> {
    const bound = async (expr: string, what: string): Promise<bigint> => {
      const { value } = await this.cast(expr, 'int8');
      if (value === null) throw sqlError(S.NULL_VALUE_NOT_ALLOWED, `${what} of FOR loop cannot be null`);
      return BigInt(value as number | bigint | string);
    };
    const lower = await bound(s.lower, 'lower bound');
    const upper = await bound(s.upper, 'upper bound');
    const step = s.step === undefined ? 1n : await bound(s.step, 'BY value');
    if (step <= 0n) throw sqlError(S.INVALID_PARAMETER_VALUE, 'BY value of FOR loop must be greater than zero');
    const saved = this.vars.get(s.variable);
    let ran = false;
    let flow: Flow;
    try {
      // FOR i IN REVERSE a..b counts down from a to b (the parser still calls a "lower").
      for (let i = lower; s.reverse ? i >= upper : i <= upper; i += s.reverse ? -step : step) {
        ran = true;
        this.vars.set(s.variable, { kind: 'scalar', typeName: 'int4', type: INT4, value: Number(i), constant: false, notNull: false });
        const next = loopStep(await this.runList(s.body), s.label);
        if (next === 'next') continue;
        flow = afterLoop(next);
        break;
      }
    } finally {
      restore(this.vars, s.variable, saved);
    }
    this.setFound(ran);
    return flow;
  }

  /** FOREACH v IN ARRAY expr: each element, in order, assigned to the declared variable `v`. */
  private async forEach(s: Extract<DoStatement, { kind: 'foreach' }>): Promise<Flow> {
    const { type, value } = await this.evaluate(s.array);
    if (type.kind !== 'array') throw sqlError(S.DATATYPE_MISMATCH, `FOREACH expression must yield an array, not type ${typeDisplayName(type)}`);
    if (value === null) throw sqlError(S.NULL_VALUE_NOT_ALLOWED, 'FOREACH expression must not be null');
    // The array is evaluated once; its elements come back as the session returns values.
    const r = await this.host.run('SELECT unnest($1)', [{ type, value }]);
    if (r.kind !== 'rows') return undefined;
    const elemType = r.columns[0]?.type ?? type.elem ?? TEXT;
    for (const [element] of r.rows) {
      await this.assignRow([s.variable], [{ name: s.variable, type: elemType }], [element ?? null]);
      const step = loopStep(await this.runList(s.body), s.label);
      if (step !== 'next') return afterLoop(step);
    }
    return undefined;
  }

  /** Runs `sql` with the variables it names bound as parameters. */
  private run(sql: string): Promise<DoResult> {
    const bound = bindVariables(sql, {
      lookup: (name, field) => {
        const v = this.vars.get(name);
        if (v === undefined) return undefined;
        if (v.kind === 'scalar') return field === undefined ? { type: v.type, value: v.value } : undefined;
        if (v.row === undefined) throw sqlError('55000', `record "${name}" is not assigned yet`, { detail: 'The tuple structure of a not-yet-assigned record is indeterminate.' });
        const i = v.row.columns.findIndex((c) => c.name === field);
        return i < 0 ? undefined : { type: v.row.columns[i].type, value: v.row.values[i] };
      },
      isRecord: (name) => this.vars.get(name)?.kind === 'record',
      columnsOf: (schema, name) => this.host.columnsOf(schema, name),
    });
    return this.host.run(bound.sql, bound.params);
  }

  /** An expression's value and type. */
  private async evaluate(expr: string): Promise<DoParam> {
    const r = await this.run(`SELECT (${expr})`);
    if (r.kind !== 'rows' || r.columns.length !== 1) throw sqlError(S.SYNTAX_ERROR, `query "SELECT ${expr}" returned ${r.kind === 'rows' ? r.columns.length : 0} columns`);
    if (r.rows.length > 1) throw sqlError(S.CARDINALITY_VIOLATION, `query "SELECT ${expr}" returned more than one row`);
    return { type: r.columns[0].type, value: r.rows[0]?.[0] ?? null };
  }

  /** An expression's value as type `typeName` (assignment, declarations, loop bounds). */
  private cast(expr: string, typeName: string): Promise<DoParam> {
    return this.evaluate(`(${expr})::${typeName}`);
  }

  /**
   * An expression's value as PL/pgSQL assigns it to a variable of `typeName` (declarations, :=).
   * Like a cast, except that a string too long for a varchar(n) or char(n) is 22001 where a cast
   * would cut it; the expression is evaluated once either way.
   */
  private async assignmentValue(expr: string, typeName: string): Promise<DoParam> {
    if (!LENGTH_LIMITED.test(typeName.trim())) return this.cast(expr, typeName);
    const r = await this.run(`SELECT x, (x)::${typeName} FROM (SELECT (${expr}) AS x) AS weft_assign`);
    if (r.kind !== 'rows' || r.columns.length !== 2) throw sqlError(S.SYNTAX_ERROR, `query "SELECT ${expr}" returned ${r.kind === 'rows' ? r.columns.length - 1 : 0} columns`);
    if (r.rows.length > 1) throw sqlError(S.CARDINALITY_VIOLATION, `query "SELECT ${expr}" returned more than one row`);
    const [source, value] = r.rows[0] ?? [null, null];
    checkNotCut(source ?? null, value ?? null, typeName);
    return { type: r.columns[1].type, value: value ?? null };
  }

  private async condition(expr: string): Promise<boolean> {
    return (await this.cast(expr, 'boolean')).value === true;
  }

  /** An expression's text, as RAISE prints it ('<NULL>' for null) or EXECUTE needs it. */
  private async text(expr: string, forExecute = false): Promise<string> {
    const { value } = await this.cast(expr, 'text');
    if (value === null && forExecute) throw sqlError(S.NULL_VALUE_NOT_ALLOWED, 'query string argument of EXECUTE is null');
    if (value === null) return '<NULL>';
    // A text value comes back as a string (a Buffer only if a codec sent bytes).
    if (typeof value === 'string') return value;
    if (Buffer.isBuffer(value)) return value.toString('utf8');
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
    return JSON.stringify(value);
  }

  private async assign(target: string, expr: string): Promise<void> {
    const v = this.scalar(target, `assigning to ${target}`);
    if (v.constant) throw sqlError(S.SYNTAX_ERROR, `variable "${target}" is declared CONSTANT`);
    store(target, v, (await this.assignmentValue(expr, v.typeName)).value);
  }

  private scalar(name: string, what: string): Extract<Variable, { kind: 'scalar' }> {
    const v = this.vars.get(name);
    if (v === undefined || v.kind !== 'scalar') throw unsupported(what);
    return v;
  }

  /** SELECT ... INTO: a record takes the row; variables take its columns in order (NULL without a row). */
  private async assignRow(targets: readonly string[], columns: readonly { readonly name: string; readonly type: SqlType }[], row: readonly PgValue[] | undefined): Promise<void> {
    const first = this.vars.get(targets[0]);
    if (targets.length === 1 && first?.kind === 'record') {
      first.row = row === undefined ? undefined : { columns, values: row };
      return;
    }
    for (const [i, name] of targets.entries()) {
      const v = this.scalar(name, `SELECT ... INTO ${name}`);
      const value = row?.[i] ?? null;
      const col = columns[i];
      if (col === undefined || value === null) {
        store(name, v, null);
        continue;
      }
      // The column's value converted as an assignment converts it.
      const r = await this.host.run(`SELECT ($1)::${v.typeName}`, [{ type: col.type, value }]);
      const converted = r.kind === 'rows' ? (r.rows[0]?.[0] ?? null) : null;
      checkNotCut(value, converted, v.typeName);
      store(name, v, converted);
    }
  }

  /** SELECT/INSERT ... INTO and EXECUTE ... INTO: the first row into the targets. */
  private async into(into: DoInto, r: DoResult): Promise<void> {
    if (r.kind !== 'rows') throw sqlError(S.SYNTAX_ERROR, 'INTO used with a command that cannot return data');
    if (into.strict && r.rows.length === 0) throw sqlError('P0002', 'query returned no rows');
    if (into.strict && r.rows.length > 1) throw sqlError('P0003', 'query returned more than one row', { hint: 'Make sure the query returns a single row, or use LIMIT 1.' });
    await this.assignRow(into.targets, r.columns, r.rows[0]);
  }

  /** GET [STACKED] DIAGNOSTICS: each item converted to its target's type, as an assignment. */
  private async diagnostics(s: Extract<DoStatement, { kind: 'diagnostics' }>): Promise<void> {
    const e = this.caught.at(-1);
    if (s.stacked && e === undefined) throw sqlError('0Z002', 'GET STACKED DIAGNOSTICS cannot be used outside an exception handler');
    for (const { item, target } of s.items) {
      const value: DoParam = item === 'ROW_COUNT' ? { type: INT8, value: BigInt(this.rowCount) } : { type: TEXT, value: stackedItem(item, e as PgError) };
      await this.assignRow([target], [{ name: item.toLowerCase(), type: value.type }], [value.value]);
    }
  }

  private setFound(found: boolean): void {
    this.vars.set('found', { kind: 'scalar', typeName: 'boolean', type: BOOL, value: found, constant: false, notNull: false });
  }
}

/** varchar(n) and char(n) type names, as written or as typeDisplayName prints them (%TYPE). */
const LENGTH_LIMITED = /^(character varying|varchar|character|char|bpchar)\s*\(\s*\d+\s*\)$/i;

/** 22001 when converting `source` to `type` cut off more than trailing spaces (an assignment, unlike a cast, must not). */
function checkNotCut(source: PgValue, converted: PgValue, typeName: string): void {
  if (typeof source !== 'string' || typeof converted !== 'string' || !LENGTH_LIMITED.test(typeName.trim())) return;
  // The converted value is a prefix of the source (plus padding for char(n)): what it lacks must be spaces.
  const kept = converted.replace(/ +$/, '').length;
  if (/[^ ]/.test(source.slice(kept))) throw sqlError(S.STRING_TOO_LONG, `value too long for type ${typeName.trim().toLowerCase().replace(/^varchar/, 'character varying').replace(/^(char|bpchar)\b/, 'character')}`);
}

const TEXT: SqlType = t('text');
const INT8: SqlType = t('int8');
const INT4: SqlType = t('int4');
const BOOL: SqlType = t('bool');

/** Sets scalar variable `name`; NULL into a NOT NULL variable is 22004, as in PL/pgSQL. */
function store(name: string, v: Extract<Variable, { kind: 'scalar' }>, value: PgValue): void {
  if (value === null && v.notNull) throw sqlError(S.NULL_VALUE_NOT_ALLOWED, `null value cannot be assigned to variable "${name}" declared NOT NULL`);
  v.value = value;
}

/** What GET STACKED DIAGNOSTICS reads from the error being handled ('' where it has none). */
function stackedItem(item: DiagnosticsItem, e: PgError): string {
  switch (item) {
    case 'RETURNED_SQLSTATE':
      return e.code;
    case 'MESSAGE_TEXT':
      return e.message;
    case 'PG_EXCEPTION_DETAIL':
      return e.fields.detail ?? '';
    case 'PG_EXCEPTION_HINT':
      return e.fields.hint ?? '';
    case 'COLUMN_NAME':
      return e.fields.column ?? '';
    case 'CONSTRAINT_NAME':
      return e.fields.constraint ?? '';
    case 'PG_DATATYPE_NAME':
      return e.fields.dataType ?? '';
    case 'TABLE_NAME':
      return e.fields.table ?? '';
    case 'SCHEMA_NAME':
      return e.fields.schema ?? '';
    case 'ROW_COUNT':
      return '';
  }
}

/** Rows a statement returned or touched (ROW_COUNT). */
function rowsOf(r: DoResult): number {
  return r.kind === 'rows' ? r.rows.length : r.rowCount;
}

/** Whether a statement returned or touched any row (PL/pgSQL's FOUND). */
function foundAny(r: DoResult): boolean {
  return r.kind === 'rows' ? r.rows.length > 0 : r.rowCount > 0;
}

function restore(vars: Map<string, Variable>, name: string, saved: Variable | undefined): void {
  if (saved === undefined) vars.delete(name);
  else vars.set(name, saved);
}

/** Runs a parsed DO block. Errors leave the statement (the caller fails it as PostgreSQL does). */
export async function runDoBlock(program: DoProgram, host: DoHost): Promise<void> {
  const interpreter = new Interpreter(host);
  await interpreter.declare(program.variables);
  await interpreter.runList(program.body);
}

/** `a.B."C d"` as its identifiers, unquoted ones folded to lower case as PostgreSQL folds them. */
function identifierParts(text: string): string[] {
  const parts: string[] = [];
  for (const m of text.trim().matchAll(/"((?:[^"]|"")*)"|([^."\s]+)/g)) parts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2].toLowerCase());
  return parts;
}
