// PL/pgSQL variable substitution: a DO block's SQL statements and expressions name its variables
// as if they were columns; PostgreSQL's PL/pgSQL turns those references into parameters. Here
// the statement is parsed, every column reference that names a variable (`n`, or `r.field` of a
// record variable) is replaced by a `$k` parameter in the text, and the values go along as
// typed parameters. Like PostgreSQL, only SELECT, INSERT, UPDATE and DELETE are substituted, and
// a name that is both a variable and a column of a table the statement reads is an error
// (42702), never silently one or the other.
import { parseSync, scanSync } from 'libpg-query';
import type { PgValue } from '@weft/pgwire';
import { S, sqlError } from '../errors';
import type { SqlType } from '../types/types';

/** A value a statement receives for a variable: bound as a parameter of its type. */
export interface DoParam {
  readonly type: SqlType;
  readonly value: PgValue;
}

/** What substitution needs to know about the block's variables and the database. */
export interface BindContext {
  /** The value of variable `name` (one field) or of field `field` of record variable `name`; undefined if `name` is no variable. */
  lookup(name: string, field?: string): DoParam | undefined;
  /** Whether `name` is a record variable (then `name.field` is one of its fields). */
  isRecord(name: string): boolean;
  /** Column names of the table or view `name`; undefined if there is none. */
  columnsOf(schema: string | undefined, name: string): readonly string[] | undefined;
}

const SUBSTITUTED = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt']);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

interface Ref {
  readonly names: readonly string[];
  /** Byte offset of the reference in the statement's UTF-8 text. */
  readonly location: number;
}

/** Column references and table names anywhere in a parse tree. */
function collect(node: unknown, refs: Ref[], tables: { schema: string | undefined; name: string }[]): void {
  if (Array.isArray(node)) {
    for (const n of node) collect(n, refs, tables);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node as Json)) {
    if (key === 'ColumnRef') {
      const c = obj(value);
      const fields = Array.isArray(c.fields) ? c.fields : [];
      const names = fields.map((f) => obj(obj(f).String).sval);
      if (names.every((n): n is string => typeof n === 'string') && typeof c.location === 'number') refs.push({ names, location: c.location });
    } else if (key === 'RangeVar' || key === 'relation') {
      // FROM items are wrapped ({RangeVar: ...}); an INSERT/UPDATE/DELETE target is not.
      const r = obj(value);
      if (typeof r.relname === 'string') tables.push({ schema: typeof r.schemaname === 'string' ? r.schemaname : undefined, name: r.relname });
    }
    collect(value, refs, tables);
  }
}

/**
 * `sql` with the variables it names replaced by `$1`, `$2`, ... and their values in order. A
 * statement that is not substituted, or names no variable, comes back unchanged.
 */
export function bindVariables(sql: string, ctx: BindContext): { sql: string; params: DoParam[] } {
  let tree: unknown;
  try {
    tree = parseSync(sql);
  } catch {
    // Not parseable here: running it reports the syntax error with PostgreSQL's message.
    return { sql, params: [] };
  }
  const stmts = Array.isArray(obj(tree).stmts) ? (obj(tree).stmts as unknown[]) : [];
  const top = Object.keys(obj(obj(stmts[0]).stmt))[0] ?? '';
  if (stmts.length !== 1 || !SUBSTITUTED.has(top)) return { sql, params: [] };
  const refs: Ref[] = [];
  const tables: { schema: string | undefined; name: string }[] = [];
  const stmt = obj(obj(obj(stmts[0]).stmt)[top]);
  if (top === 'InsertStmt' && stmt.returningClause === undefined && stmt.returningList === undefined && stmt.onConflictClause === undefined) {
    // An INSERT's own columns are not in scope in its VALUES or SELECT: only other tables count.
    collect({ ...stmt, relation: undefined }, refs, tables);
  } else {
    collect(tree, refs, tables);
  }
  const columns = new Set<string>();
  for (const t of tables) for (const c of ctx.columnsOf(t.schema, t.name) ?? []) columns.add(c);

  const bytes = Buffer.from(sql, 'utf8');
  const tokens = scanSync(sql).tokens;
  const params: DoParam[] = [];
  const numbers = new Map<string, number>();
  const edits: { start: number; end: number; text: string }[] = [];
  for (const ref of refs) {
    const [name, field] = ref.names;
    let key: string;
    let param: DoParam | undefined;
    if (ref.names.length === 1 && !ctx.isRecord(name)) {
      param = ctx.lookup(name);
      if (param === undefined) continue;
      if (columns.has(name)) {
        throw sqlError(S.AMBIGUOUS_COLUMN, `column reference "${name}" is ambiguous`, { detail: 'It could refer to either a PL/pgSQL variable or a table column.' });
      }
      key = name;
    } else if (ref.names.length === 2 && ctx.isRecord(name)) {
      param = ctx.lookup(name, field);
      if (param === undefined) throw sqlError(S.UNDEFINED_COLUMN, `record "${name}" has no field "${field}"`);
      key = `${name}.${field}`;
    } else if (ref.names.length === 1 && ctx.isRecord(name)) {
      throw sqlError(S.FEATURE_NOT_SUPPORTED, `PL/pgSQL construct not supported in DO blocks: a whole record variable ("${name}") in a statement`, { hint: 'Name its fields instead.' });
    } else {
      continue;
    }
    // The reference's tokens: name, or name . field.
    const first = tokens.findIndex((t) => t.start === ref.location);
    const last = first + (ref.names.length - 1) * 2;
    if (first < 0 || last >= tokens.length) throw new Error(`DO block: no token at the reference to ${key} in: ${sql}`);
    let n = numbers.get(key);
    if (n === undefined) {
      params.push(param);
      n = params.length;
      numbers.set(key, n);
    }
    edits.push({ start: tokens[first].start, end: tokens[last].end, text: `$${n}` });
  }
  if (edits.length === 0) return { sql, params: [] };
  edits.sort((a, b) => b.start - a.start);
  let out = bytes;
  for (const e of edits) out = Buffer.concat([out.subarray(0, e.start), Buffer.from(e.text, 'utf8'), out.subarray(e.end)]);
  return { sql: out.toString('utf8'), params };
}
