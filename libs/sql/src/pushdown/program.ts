// The encoding of a pushed-down row filter (decision 0038): the program (what the shard
// compiles once and caches) and its args (the statement's parameter values, per execution).
// The program is JSON: the table's columns as the scan decodes them, the scope the conjuncts
// resolve names in, the conjuncts' parse trees, the parameters' types and the time zone.
import type { Node } from 'libpg-query';
import { decodeRow, encodeRow } from '@weft/storage';
import type { ColumnDesc } from '../catalog/descriptors';
import { cellOf, valueOfCell } from '../catalog/table-data';
import type { ScopeColumn } from '../plan/scope';
import type { SqlType, Value } from '../types/types';

export const FILTER_PROGRAM_VERSION = 1;

export interface FilterProgram {
  readonly v: number;
  /** The table's columns (what a stored row decodes into, in order). */
  readonly columns: readonly ColumnDesc[];
  /** Names the conjuncts may use for those columns (alias, schema), in the same order. */
  readonly scope: readonly ScopeColumn[];
  /** Conjuncts of the WHERE clause, all of which must hold. */
  readonly conds: readonly Node[];
  /** Final types of the statement's parameters ($1 is [0]); null: not used by the conjuncts. */
  readonly paramTypes: readonly (SqlType | null)[];
  /** The session's TimeZone (casts and date arithmetic depend on it). */
  readonly timeZone: string;
  /** Aggregate the kept rows instead of returning them: one partial row per group. */
  readonly agg?: AggProgram;
}

/** Aggregates a shard can take partially and the gateway can finish (count, sum, min, max). */
export type PartialAggregate = 'count' | 'sum' | 'min' | 'max';

export interface AggProgram {
  /** GROUP BY expressions (parse trees, in the scan's scope) and their types at the gateway. */
  readonly groups: readonly Node[];
  readonly groupTypes: readonly SqlType[];
  /** Each call: the aggregate, its argument (null: count(*)) and the argument's type at the gateway. */
  readonly calls: readonly { readonly fn: PartialAggregate; readonly arg: Node | null; readonly argType: SqlType | null }[];
}

export function encodeProgram(p: FilterProgram): Buffer {
  return Buffer.from(JSON.stringify(p));
}

export function decodeProgram(b: Buffer): FilterProgram {
  const p = JSON.parse(b.toString()) as FilterProgram;
  if (p.v !== FILTER_PROGRAM_VERSION) throw new Error(`filter program version ${p.v}, this node reads ${FILTER_PROGRAM_VERSION}`);
  return p;
}

const paramColumn = (i: number, type: SqlType): ColumnDesc => ({ id: i + 1, name: `$${i + 1}`, type, notNull: false });

/** Partial rows (group keys, then each aggregate's partial value) as length-prefixed encoded rows. */
export function encodePartials(types: readonly SqlType[], rows: readonly (readonly Value[])[]): Buffer {
  const parts: Buffer[] = [];
  for (const row of rows) {
    const body = encodeRow(types.map((type, i) => [i + 1, cellOf(row[i] ?? null, paramColumn(i, type))] as const));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    parts.push(len, body);
  }
  return Buffer.concat(parts);
}

export function decodePartials(types: readonly SqlType[], b: Buffer): Value[][] {
  const rows: Value[][] = [];
  for (let at = 0; at < b.length; ) {
    const len = b.readUInt32BE(at);
    const cells = decodeRow(b.subarray(at + 4, at + 4 + len));
    rows.push(types.map((type, i) => {
      const cell = cells.get(i + 1);
      return cell === undefined ? null : valueOfCell(cell, paramColumn(i, type));
    }));
    at += 4 + len;
  }
  return rows;
}

/** Parameter values in the row encoding (lossless for every column type); unused ones are skipped. */
export function encodeArgs(types: readonly (SqlType | null)[], values: readonly Value[]): Buffer {
  const cells = [];
  for (let i = 0; i < types.length; i++) {
    const type = types[i];
    if (type !== null) cells.push([i + 1, cellOf(values[i] ?? null, paramColumn(i, type))] as const);
  }
  return encodeRow(cells);
}

export function decodeArgs(types: readonly (SqlType | null)[], b: Buffer): Value[] {
  const cells = decodeRow(b);
  return types.map((type, i) => {
    const cell = cells.get(i + 1);
    return type === null || cell === undefined ? null : valueOfCell(cell, paramColumn(i, type));
  });
}
