// Enum values: a value is its label (so output, text casts and hashing need nothing special);
// order and storage go by the label's sort order (pg_enum.enumsortorder), which ADD VALUE
// and RENAME VALUE never change for existing labels.
import { S, sqlError } from '../errors';
import type { EnumInfo, SqlType } from './types';

function info(type: SqlType): EnumInfo {
  if (!type.enum) throw sqlError(S.INTERNAL, `type ${type.kind} is not an enum`);
  return type.enum;
}

/** The label's position among the type's labels in sort order; 22P02 for a label it does not have. */
export function enumPosition(type: SqlType, label: string): number {
  const e = info(type);
  const i = e.labels.indexOf(label);
  if (i < 0) throw sqlError(S.INVALID_TEXT_REPRESENTATION, `invalid input value for enum ${e.name}: "${label}"`);
  return i;
}

/** Input function: validates the label. */
export function enumFromText(label: string, type: SqlType): string {
  enumPosition(type, label);
  return label;
}

/** The sort order rows and index keys store for a label. */
export function enumSortOrder(type: SqlType, label: string): number {
  return info(type).sortOrders[enumPosition(type, label)];
}

/** The label a stored sort order stands for. */
export function enumLabelOf(type: SqlType, sortOrder: number): string {
  const e = info(type);
  const i = e.sortOrders.indexOf(sortOrder);
  if (i < 0) throw sqlError(S.INTERNAL, `enum ${e.name} has no label with sort order ${sortOrder}`);
  return e.labels[i];
}

export function compareEnum(a: string, b: string, type: SqlType): number {
  return enumPosition(type, a) - enumPosition(type, b);
}
