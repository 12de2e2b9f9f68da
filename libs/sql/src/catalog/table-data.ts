// How a table's rows and index entries map to KV keys and values.
//   row:              /<table id>/<primary index id>/<hash>/<pk tuple>        -> encodeRow(cells by column id)
//   secondary index:  /<table id>/<index id>/<hash>/<index tuple><pk tuple>   -> empty
//   unique index:     /<table id>/<index id>/<hash>/<index tuple>             -> pk tuple (ifAbsent on insert)
// <hash> is the shard hash of the index's hash columns (hashColumnsOf); it places rows on shards.
// A unique index entry whose key contains a NULL never conflicts (NULLs are distinct), so such
// entries are written in the non-unique layout.
import {
  HASHED_TABLE_MIN, decodeRow, encodeIndexKey, encodeRow, indexSpan, type IndexKeySpec, type KeyType, type KeyValue, type RowValue,
} from '@weft/storage';
import { S, sqlError } from '../errors';
import type { Row } from '../runtime';
import { formatInterval, parseInterval } from '../types/datetime';
import { type Interval, type SqlType, type Value, plain } from '../types/types';
import { fromText, toText } from '../types/values';
import { enumLabelOf, enumSortOrder } from '../types/enum';
import type { ColumnDesc, IndexDesc, TableDesc } from './descriptors';

function keyType(type: SqlType): KeyType {
  switch (type.kind) {
    case 'bool': case 'int2': case 'int4': case 'int8': case 'numeric': case 'float4': case 'float8':
    case 'bytea': case 'uuid': case 'date': case 'timestamp': case 'timestamptz':
      return type.kind;
    case 'time':
      return 'int8';
    case 'oid': case 'regclass': case 'regtype': case 'regproc':
      return 'int8';
    case 'text': case 'varchar': case 'bpchar': case 'name': case 'char':
      return 'text';
    case 'enum':
      return 'float8'; // the label's sort order: keys sort in declaration order
    default:
      throw sqlError(S.FEATURE_NOT_SUPPORTED, `type ${type.kind} cannot be part of a key`);
  }
}

export function keyValue(v: Value, type: SqlType): KeyValue {
  if (v === null) return { type: 'null' };
  const kt = keyType(type);
  if (type.kind === 'enum') return { type: 'float8', value: enumSortOrder(type, v as string) };
  switch (kt) {
    case 'int8':
      return { type: 'int8', value: typeof v === 'bigint' ? v : BigInt(v as number) };
    case 'text':
      return { type: 'text', value: type.kind === 'bpchar' ? (v as string).replace(/ +$/, '') : (v as string) };
    case 'bytea':
      return { type: 'bytea', value: v as Buffer };
    default:
      return { type: kt, value: v } as KeyValue;
  }
}

const columnById = (t: TableDesc, id: number): ColumnDesc => {
  const c = t.columns.find((x) => x.id === id);
  if (!c) throw sqlError(S.INTERNAL, `column id ${id} missing in table ${t.name}`);
  return c;
};
const ordinal = (t: TableDesc, id: number): number => t.columns.findIndex((c) => c.id === id);

export function indexSpec(t: TableDesc, idx: IndexDesc, withPk: boolean): IndexKeySpec {
  const cols = [...idx.columns];
  const dirs: ('asc' | 'desc')[] = [...idx.directions];
  if (withPk) {
    for (const [i, c] of t.primary.columns.entries()) {
      cols.push(c);
      dirs.push(t.primary.directions[i]);
    }
  }
  const spec: IndexKeySpec = { tableId: t.id, indexId: idx.id, types: cols.map((c) => keyType(columnById(t, c).type)), directions: dirs, hashColumns: hashColumnsOf(t, idx) };
  return t.shards === undefined ? spec : { ...spec, hashBuckets: t.shards };
}

/**
 * How many leading columns of an index decide its shard: the primary key's declared hash part
 * (`PRIMARY KEY ((a, b) HASH, c)`), else its first column; a secondary index's first column.
 * System tables (ids below HASHED_TABLE_MIN) are not hashed.
 */
export function hashColumnsOf(t: TableDesc, idx: IndexDesc): number | undefined {
  if (t.id < HASHED_TABLE_MIN) return undefined;
  return idx.primary ? Math.min(Math.max(t.hashColumns ?? 1, 1), idx.columns.length) : 1;
}

export function primaryKey(t: TableDesc, row: Row): Buffer {
  return encodeIndexKey(indexSpec(t, t.primary, false), t.primary.columns.map((c) => keyValue(row[ordinal(t, c)], columnById(t, c).type)));
}

export function primarySpan(t: TableDesc, prefix: readonly Value[] = []): { start: Buffer; end: Buffer } {
  const spec = indexSpec(t, t.primary, false);
  return indexSpan(spec, prefix.map((v, i) => keyValue(v, columnById(t, t.primary.columns[i]).type)));
}

export function indexKeyValues(t: TableDesc, idx: IndexDesc, values: readonly Value[]): KeyValue[] {
  return values.map((v, i) => keyValue(v, columnById(t, idx.columns[i]).type));
}

export function encodeIndexPrefix(t: TableDesc, idx: IndexDesc, values: readonly Value[]): Buffer {
  return encodeIndexKey(indexSpec(t, idx, !idx.unique), indexKeyValues(t, idx, values));
}

export function secondarySpan(t: TableDesc, idx: IndexDesc, prefix: readonly Value[]): { start: Buffer; end: Buffer } {
  const hasNull = prefix.some((v) => v === null);
  return indexSpan(indexSpec(t, idx, !idx.unique || hasNull), indexKeyValues(t, idx, prefix));
}

/** The index entry for a row: key and value (unique: the PK tuple; else empty). */
export function indexEntry(t: TableDesc, idx: IndexDesc, row: Row): { key: Buffer; value: Buffer; unique: boolean } {
  const vals = idx.columns.map((c) => row[ordinal(t, c)]);
  const unique = idx.unique && vals.every((v) => v !== null);
  const pkVals = t.primary.columns.map((c) => keyValue(row[ordinal(t, c)], columnById(t, c).type));
  const idxVals = indexKeyValues(t, idx, vals);
  if (unique) return { key: encodeIndexKey(indexSpec(t, idx, false), idxVals), value: primaryKey(t, row), unique };
  return { key: encodeIndexKey(indexSpec(t, idx, true), [...idxVals, ...pkVals]), value: primaryKey(t, row), unique };
}

/** A value of column `c`'s type as a stored cell. */
export function cellOf(v: Value, c: ColumnDesc): RowValue {
  return toCell(v, c);
}

/** The value a stored cell of column `c` holds. */
export function valueOfCell(cell: RowValue, c: ColumnDesc): Value {
  return fromCell(cell, c);
}

function toCell(v: Value, c: ColumnDesc): RowValue {
  if (v === null) return { type: 'null' };
  switch (c.type.kind) {
    case 'varchar': case 'bpchar': case 'name': case 'char': case 'text': case 'unknown': case 'regclass': case 'regtype':
      return { type: 'text', value: plain(v) };
    case 'time':
      return { type: 'int8', value: v as bigint };
    case 'oid': case 'regproc':
      return { type: 'int8', value: BigInt(v as number) };
    case 'interval':
      return { type: 'text', value: formatInterval(v as Interval) };
    case 'array':
      return { type: 'text', value: toText(v, c.type) };
    case 'json':
    case 'jsonb':
      return { type: c.type.kind, value: v as string };
    case 'enum':
      return { type: 'float8', value: enumSortOrder(c.type, v as string) };
    default:
      return { type: c.type.kind, value: v } as RowValue;
  }
}

function fromCell(cell: RowValue, c: ColumnDesc): Value {
  if (cell.type === 'null') return null;
  switch (c.type.kind) {
    case 'interval':
      return parseInterval(cell.value as string);
    case 'array':
      return fromText(cell.value as string, c.type);
    case 'oid': case 'regproc':
      return Number(cell.value);
    case 'bytea':
      return Buffer.from(cell.value as Uint8Array);
    case 'enum':
      return enumLabelOf(c.type, cell.value as number);
    default:
      return cell.value as Value;
  }
}

export function encodeTableRow(t: TableDesc, row: Row): Buffer {
  return encodeRow(t.columns.map((c, i) => [c.id, toCell(row[i], c)] as const));
}

/** Decodes a stored row into column order; absent cells (ADD COLUMN) take `missing(column)`. */
export function decodeTableRow(t: Pick<TableDesc, 'columns'>, buf: Buffer, missing: (c: ColumnDesc) => Value): Row {
  const cells = decodeRow(buf);
  return t.columns.map((c) => {
    const cell = cells.get(c.id);
    return cell === undefined ? missing(c) : fromCell(cell, c);
  });
}
