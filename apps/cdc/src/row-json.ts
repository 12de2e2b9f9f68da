// Stored rows → the JSON objects of a change event. Rows are stored keyed by column id with a
// type tag per cell (@weft/storage rows.ts); the descriptor supplies the names. Values follow
// the conventions Debezium's PostgreSQL connector uses with schemas off and its defaults, so a
// consumer written for it reads these events unchanged:
//   integers → numbers (int8 beyond ±2^53 → decimal string, JSON numbers would round it),
//   numeric → decimal string (decimal.handling.mode=string), bytea → base64,
//   date → days since 1970-01-01, timestamp → µs since 1970-01-01 (MicroTimestamp),
//   timestamptz → ISO-8601 UTC string (ZonedTimestamp), time → µs since midnight (MicroTime),
//   json/jsonb/uuid/interval/arrays → their text.
import { decodeRow, type RowValue } from '@weft/storage';
import type { ColumnDescView, TableDescView } from './catalog-view';

export type JsonValue = null | boolean | number | string;
export type RowJson = Record<string, JsonValue>;

/** Days between 1970-01-01 and 2000-01-01 (Weft stores dates and timestamps from 2000, as Postgres). */
const EPOCH_2000_DAYS = 10_957;
const EPOCH_2000_MICROS = 946_684_800_000_000n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function bigintJson(v: bigint): JsonValue {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** NaN and ±Infinity have no JSON number; Debezium writes them as strings too. */
function floatJson(v: number): JsonValue {
  return Number.isFinite(v) ? v : String(v);
}

function timestampIso(micros2000: bigint): string {
  if (micros2000 === INT64_MIN) return '-infinity';
  if (micros2000 === INT64_MAX) return 'infinity';
  const us = micros2000 + EPOCH_2000_MICROS;
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const frac = ((us % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const base = new Date(Number(ms)).toISOString().slice(0, 19);
  return `${base}.${frac.toString().padStart(6, '0')}Z`;
}

/** One stored cell as JSON, given the column's SQL type kind (time is stored as int8 µs). */
export function cellJson(cell: RowValue): JsonValue {
  switch (cell.type) {
    case 'null':
      return null;
    case 'bool':
    case 'int2':
    case 'int4':
      return cell.value;
    case 'float4':
    case 'float8':
      return floatJson(cell.value);
    case 'int8':
      return bigintJson(cell.value);
    case 'numeric':
    case 'text':
    case 'uuid':
    case 'json':
    case 'jsonb':
      return cell.value;
    case 'bytea':
      return Buffer.from(cell.value).toString('base64');
    case 'date':
      return Number.isFinite(cell.value) ? cell.value + EPOCH_2000_DAYS : String(cell.value).toLowerCase();
    case 'timestamp':
      if (cell.value === INT64_MIN || cell.value === INT64_MAX) return cell.value === INT64_MIN ? '-infinity' : 'infinity';
      return bigintJson(cell.value + EPOCH_2000_MICROS);
    case 'timestamptz':
      return timestampIso(cell.value);
  }
}

/** The value a row written before ADD COLUMN ... DEFAULT reads for that column (kept as text in the descriptor). */
function missingJson(c: ColumnDescView): JsonValue {
  const text = c.missingValue;
  if (text === undefined) return null;
  switch (c.type.kind) {
    case 'int2':
    case 'int4':
    case 'float4':
    case 'float8':
      return Number(text);
    case 'int8':
      return bigintJson(BigInt(text));
    case 'bool':
      return text === 't' || text === 'true';
    default:
      return text;
  }
}

/** A stored row as { column name: value }, hidden columns (the implicit row id) left out. */
export function rowJson(table: TableDescView, stored: Uint8Array): RowJson {
  const cells = decodeRow(stored);
  const out: RowJson = {};
  for (const c of table.columns) {
    if (c.hidden === true) continue;
    const cell = cells.get(c.id);
    out[c.name] = cell === undefined ? missingJson(c) : cellJson(cell);
  }
  return out;
}

/**
 * The message key: the primary key columns as JSON, in key order. Hidden row-id columns count
 * here (a table without a primary key is keyed by its row id), so they are read from the cells.
 */
export function keyJson(table: TableDescView, stored: Uint8Array): RowJson {
  const cells = decodeRow(stored);
  const out: RowJson = {};
  for (const id of table.primary.columns) {
    const c = table.columns.find((x) => x.id === id);
    if (c === undefined) continue;
    const cell = cells.get(id);
    out[c.name] = cell === undefined ? missingJson(c) : cellJson(cell);
  }
  return out;
}
