// COPY FROM STDIN / TO STDOUT in text, CSV and binary formats. pgwire moves the bytes; this
// module frames rows: it splits lines (CSV quotes may span lines) or binary tuples
// (copy-binary.ts), decodes fields and inserts rows through the same path as INSERT (defaults,
// constraints, indexes).
import type { CopyStmt, Node, SelectStmt } from 'libpg-query';
import type { CopyInResult, CopyOutResult } from '@weft/pgwire';
import { S, sqlError } from './errors';
import { allSlots, prepareSlots } from './exec/nodes';
import { compileDefaults, insertRow, resolveTable, RowValidator } from './plan/dml';
import { stringOf, type ParamTypes } from './plan/expr';
import { checkParents } from './plan/foreign-keys';
import type { Planner } from './plan/select';
import type { Env, Row } from './runtime';
import type { CompiledStatement, ExecContext } from './statement';
import type { TableDesc } from './catalog/descriptors';
import { decodeTableRow, primarySpan } from './catalog/table-data';
import { type SqlType, type Value } from './types/types';
import { castValue, fromText, toText } from './types/values';
import { BinaryCopyReader, binaryCopyHeader, binaryCopyRow, binaryCopyTrailer, checkBinaryTypes } from './copy-binary';

interface CopyOptions {
  readonly csv: boolean;
  readonly binary: boolean;
  readonly delimiter: string;
  readonly nullString: string;
  readonly header: boolean;
  readonly quote: string;
  readonly escape: string;
}

function options(list: readonly Node[]): CopyOptions {
  let csv = false;
  let binary = false;
  const textOnly: string[] = [];
  let delimiter: string | undefined;
  let nullString: string | undefined;
  let header = false;
  let quote = '"';
  let escape: string | undefined;
  for (const n of list) {
    if (!('DefElem' in n)) continue;
    const d = n.DefElem;
    const arg = d.arg;
    const sval = arg ? stringOf(arg) || ('Boolean' in arg ? String(arg.Boolean.boolval ?? false) : 'Integer' in arg ? String(arg.Integer.ival ?? 0) : '') : '';
    switch (d.defname) {
      case 'format':
        if (sval !== 'csv' && sval !== 'text' && sval !== 'binary') throw sqlError(S.INVALID_PARAMETER_VALUE, `COPY format "${sval}" not recognized`);
        csv = sval === 'csv';
        binary = sval === 'binary';
        break;
      case 'delimiter': delimiter = sval; textOnly.push('DELIMITER'); break;
      case 'null': nullString = sval; textOnly.push('NULL'); break;
      case 'header': header = !arg || sval === 'true' || sval === '1' || sval === 'on' || sval === 'match'; if (header) textOnly.push('HEADER'); break;
      case 'quote': quote = sval; break;
      case 'escape': escape = sval; break;
      case 'freeze':
      case 'encoding':
      case 'force_not_null':
      case 'force_null':
      case 'force_quote':
        break;
      default: throw sqlError(S.SYNTAX_ERROR, `option "${d.defname}" not recognized`);
    }
  }
  if (binary && textOnly.length > 0) throw sqlError(S.SYNTAX_ERROR, `cannot specify ${textOnly[0]} in BINARY mode`);
  const delim = delimiter ?? (csv ? ',' : '\t');
  if (delim.length !== 1) throw sqlError(S.FEATURE_NOT_SUPPORTED, 'COPY delimiter must be a single one-byte character');
  return { csv, binary, delimiter: delim, nullString: nullString ?? (csv ? '' : '\\N'), header, quote, escape: escape ?? quote };
}

const TEXT_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

function splitText(line: string, o: CopyOptions): (string | null)[] {
  const out: (string | null)[] = [];
  for (const raw of line.split(o.delimiter)) {
    if (raw === o.nullString) {
      out.push(null);
      continue;
    }
    out.push(raw.includes('\\') ? raw.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
      if (e[0] === 'x' && e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
      if (/^[0-7]+$/.test(e)) return String.fromCharCode(parseInt(e, 8));
      return TEXT_ESCAPES[e] ?? e;
    }) : raw);
  }
  return out;
}

/** Parses CSV records from `buf`; returns records and the unconsumed tail (an incomplete record). */
function parseCsv(buf: string, o: CopyOptions, final: boolean): { records: (string | null)[][]; rest: string } {
  const records: (string | null)[][] = [];
  let i = 0;
  let recStart = 0;
  let fields: (string | null)[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  while (i < buf.length) {
    const ch = buf[i];
    if (quoted) {
      if (ch === o.escape && buf[i + 1] === o.quote && o.escape !== o.quote) {
        field += o.quote;
        i += 2;
        continue;
      }
      if (ch === o.quote) {
        if (buf[i + 1] === o.quote && o.escape === o.quote) {
          field += o.quote;
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === o.quote) {
      quoted = true;
      wasQuoted = true;
      i++;
      continue;
    }
    if (ch === o.delimiter || ch === '\n' || ch === '\r') {
      fields.push(!wasQuoted && field === o.nullString ? null : field);
      field = '';
      wasQuoted = false;
      if (ch === '\r' && buf[i + 1] === '\n') i++;
      i++;
      if (ch !== o.delimiter) {
        records.push(fields);
        fields = [];
        recStart = i;
      }
      continue;
    }
    field += ch;
    i++;
  }
  if (final && (fields.length || field.length || wasQuoted)) {
    if (quoted) throw sqlError(S.BAD_COPY_FORMAT, 'unterminated CSV quoted field');
    fields.push(!wasQuoted && field === o.nullString ? null : field);
    records.push(fields);
    return { records, rest: '' };
  }
  return { records, rest: buf.slice(recStart) };
}

function formatField(v: Value, type: SqlType, o: CopyOptions): string {
  if (v === null) return o.nullString;
  const s = toText(v, type);
  if (o.csv) {
    const needs = s === '' || s.includes(o.delimiter) || s.includes(o.quote) || s.includes('\n') || s.includes('\r') || s === o.nullString;
    return needs ? `${o.quote}${s.split(o.quote).join(o.quote + o.quote)}${o.quote}` : s;
  }
  return s.replace(/[\\\n\r\t]/g, (c) => (c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t')).replace(new RegExp(`\\${o.delimiter}`, 'g'), `\\${o.delimiter}`);
}

export function compileCopy(s: CopyStmt, planner: Planner, params: ParamTypes): Omit<CompiledStatement, 'paramTypes'> {
  const o = options(s.options ?? []);
  if (s.filename) throw sqlError('42501', 'COPY to or from a file is not supported; use STDIN/STDOUT', { hint: 'Anyone can COPY to stdout or from stdin. psql\'s \\copy command also works for anyone.' });
  if (s.is_program) throw sqlError('42501', 'COPY to or from an external program is not supported');
  if (s.is_from) {
    const t0 = resolveTable(planner, s.relation);
    const visible = t0.columns.map((c, i) => [c, i] as const).filter(([c]) => !c.hidden);
    const targets = s.attlist?.length
      ? s.attlist.map((n) => {
          const name = stringOf(n);
          const i = t0.columns.findIndex((c) => c.name === name && !c.hidden);
          if (i < 0) throw sqlError(S.UNDEFINED_COLUMN, `column "${name}" of relation "${t0.name}" does not exist`);
          return i;
        })
      : visible.map(([, i]) => i);
    const defaults = compileDefaults(t0, planner, params);
    const validator = new RowValidator(t0, planner, params);
    const defaultSlots = allSlots(defaults);
    return {
      kind: 'COPY',
      columns: null,
      readOnly: false,
      cacheable: false,
      async execute(ctx) {
        return copyIn(ctx, t0, targets, o, defaults, defaultSlots, validator);
      },
    };
  }
  // COPY ... TO STDOUT
  let source: { columns: { name: string; type: SqlType }[]; rows: (ctx: ExecContext) => AsyncIterable<Row> };
  if (s.query) {
    const q = planner.planSelect((s.query as { SelectStmt: SelectStmt }).SelectStmt, undefined, params);
    source = { columns: q.columns.map((c) => ({ name: c.name, type: c.type })), rows: (ctx) => q.node.rows(undefined, ctx.rt) };
  } else {
    const t0 = resolveTable(planner, s.relation);
    const cols = (s.attlist?.length ? s.attlist.map(stringOf) : t0.columns.filter((c) => !c.hidden).map((c) => c.name)).map((n) => {
      const i = t0.columns.findIndex((c) => c.name === n && !c.hidden);
      if (i < 0) throw sqlError(S.UNDEFINED_COLUMN, `column "${n}" of relation "${t0.name}" does not exist`);
      return i;
    });
    source = {
      columns: cols.map((i) => ({ name: t0.columns[i].name, type: t0.columns[i].type })),
      rows: (ctx) => tableRows(ctx, t0, cols),
    };
  }
  return {
    kind: 'COPY',
    columns: null,
    readOnly: true,
    cacheable: false,
    async execute(ctx) {
      if (o.binary) return copyOutBinary(ctx, source);
      // Materialized inside the transaction so the data is read at its snapshot.
      const lines: string[] = [];
      if (o.header) lines.push(`${source.columns.map((c) => formatField(c.name, { kind: 'text', typmod: -1 }, o)).join(o.delimiter)}\n`);
      let n = 0;
      for await (const r of source.rows(ctx)) {
        lines.push(`${r.slice(0, source.columns.length).map((v, i) => formatField(v, source.columns[i].type, o)).join(o.delimiter)}\n`);
        n++;
      }
      const out: CopyOutResult = { kind: 'copyOut', format: 0, columnCount: source.columns.length, data: lines, commandTag: `COPY ${n}` };
      return out;
    },
  };
}

async function copyOutBinary(ctx: ExecContext, source: { columns: { name: string; type: SqlType }[]; rows: (ctx: ExecContext) => AsyncIterable<Row> }): Promise<CopyOutResult> {
  const types = source.columns.map((c) => c.type);
  checkBinaryTypes(types);
  const chunks: Buffer[] = [binaryCopyHeader()];
  let n = 0;
  for await (const r of source.rows(ctx)) {
    chunks.push(binaryCopyRow(r.slice(0, types.length), types));
    n++;
  }
  chunks.push(binaryCopyTrailer());
  return { kind: 'copyOut', format: 1, columnCount: types.length, data: chunks, commandTag: `COPY ${n}` };
}

async function* tableRows(ctx: ExecContext, t0: TableDesc, cols: number[]): AsyncGenerator<Row> {
  const { start, end } = primarySpan(t0);
  for await (const kv of ctx.txn.scan(start, end)) {
    const row = decodeTableRow(t0, kv.value, (c) => ctx.env.missingValue(c));
    yield cols.map((i) => row[i]);
  }
}

function copyIn(
  ctx: ExecContext,
  t0: TableDesc,
  targets: number[],
  o: CopyOptions,
  defaults: ReturnType<typeof compileDefaults>,
  defaultSlots: ReturnType<typeof allSlots>,
  validator: RowValidator,
): CopyInResult {
  let pending = '';
  let lineNo = 0;
  let count = 0;
  let headerSkipped = !o.header;
  let ended = false;
  const emptyEnv: Env = { row: [], outer: undefined, rt: ctx.rt };
  const textTypes = targets.map((i) => t0.columns[i].type);
  const insertFields = async (fields: (string | null)[]): Promise<void> => {
    lineNo++;
    if (!headerSkipped) {
      headerSkipped = true;
      return;
    }
    if (fields.length !== targets.length) {
      throw sqlError(S.BAD_COPY_FORMAT, fields.length < targets.length ? `missing data for column "${t0.columns[targets[fields.length]].name}"` : 'extra data after last expected column', {
        where: `COPY ${t0.name}, line ${lineNo}`,
      });
    }
    const values: Value[] = [];
    for (let j = 0; j < targets.length; j++) {
      const f = fields[j];
      try {
        values.push(f === null ? null : fromText(f, textTypes[j]));
      } catch (e) {
        if (e instanceof Error && 'fields' in e) (e as { fields: { where?: string } }).fields.where = `COPY ${t0.name}, line ${lineNo}, column ${t0.columns[targets[j]].name}: "${f}"`;
        throw e;
      }
    }
    await insertValues(values);
  };
  /** One row's target-column values, in `targets` order: defaults, checks, insert. */
  const insertValues = async (values: readonly Value[]): Promise<void> => {
    const row: Value[] = new Array<Value>(t0.columns.length).fill(null);
    const given = new Set(targets);
    for (let j = 0; j < targets.length; j++) row[targets[j]] = values[j];
    if (given.size < t0.columns.length) {
      if (defaultSlots.length) await prepareSlots(defaultSlots, emptyEnv);
      for (let i = 0; i < t0.columns.length; i++) if (!given.has(i)) row[i] = castValue(defaults[i].fn(emptyEnv), defaults[i].type, t0.columns[i].type, false);
    }
    validator.validate(row, ctx.rt);
    if (t0.foreignKeys?.length) await checkParents(ctx, t0, row);
    await insertRow(ctx, t0, row);
    // A bulk load stages its writes as it goes; do not outrun the shard.
    const staging = ctx.txn.yieldToStaging();
    if (staging) await staging;
    count++;
  };
  const consume = async (final: boolean): Promise<void> => {
    if (o.csv) {
      const { records, rest } = parseCsv(pending, o, final);
      pending = rest;
      for (const r of records) {
        if (r.length === 1 && r[0] === '\\.') {
          ended = true;
          return;
        }
        await insertFields(r);
      }
      return;
    }
    let nl = pending.indexOf('\n');
    while (nl >= 0 || (final && pending.length > 0)) {
      const line = (nl >= 0 ? pending.slice(0, nl) : pending).replace(/\r$/, '');
      pending = nl >= 0 ? pending.slice(nl + 1) : '';
      if (line === '\\.') {
        ended = true;
        return;
      }
      await insertFields(splitText(line, o));
      nl = pending.indexOf('\n');
    }
  };
  if (o.binary) {
    checkBinaryTypes(textTypes);
    const reader = new BinaryCopyReader(textTypes);
    const drain = async (): Promise<void> => {
      for (const values of reader.rows()) {
        lineNo++;
        try {
          await insertValues(values);
        } catch (e) {
          if (e instanceof Error && 'fields' in e) (e as { fields: { where?: string } }).fields.where = `COPY ${t0.name}, line ${lineNo}`;
          throw e;
        }
      }
    };
    return {
      kind: 'copyIn',
      format: 1,
      columnCount: targets.length,
      async write(chunk) {
        if (reader.finished) return;
        reader.push(chunk);
        await drain();
      },
      async end() {
        await drain();
        reader.finish();
        return `COPY ${count}`;
      },
      abort() {},
    };
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return {
    kind: 'copyIn',
    format: 0,
    columnCount: targets.length,
    async write(chunk) {
      if (ended) return;
      try {
        pending += decoder.decode(chunk, { stream: true });
      } catch {
        throw sqlError('22021', 'invalid byte sequence for encoding "UTF8"');
      }
      await consume(false);
    },
    async end() {
      if (!ended) {
        pending += decoder.decode();
        await consume(true);
      }
      return `COPY ${count}`;
    },
    abort() {
      pending = '';
    },
  };
}
