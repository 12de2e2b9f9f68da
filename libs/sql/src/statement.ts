// A compiled statement: planned once (per catalog version), executed many times with
// different parameters. SELECT and DML compile to plans; utility statements compile to a
// closure that does their work at execution time.
import { labelCodec, type ColumnInfo, type QueryContext, type StatementResult } from '@weft/pgwire';
import type { Txn } from '@weft/txn';
import type { Catalog } from './catalog/catalog';
import type { Engine } from './engine';
import type { PlannerEnv } from './plan/context';
import type { ScopeColumn } from './plan/scope';
import type { Runtime } from './runtime';
import type { SqlType } from './types/types';
import { typeDisplayName, typeLen, typeOid } from './types/types';

export interface ExecContext {
  readonly txn: Txn;
  readonly catalog: Catalog;
  readonly rt: Runtime;
  readonly engine: Engine;
  readonly query: QueryContext;
  readonly env: PlannerEnv;
  /** DDL calls this after writing descriptors: the session reloads its catalog view. */
  catalogChanged(): void;
  /**
   * Set while the statement reads through a statement snapshot (exec/statement-snapshot.ts):
   * whether an earlier part of the statement (a data-modifying CTE) already wrote this row key.
   * UPDATE and DELETE skip such rows, as Postgres skips rows the same command already changed.
   */
  readonly modifiedEarlier?: (key: Buffer) => boolean;
}

export interface CompiledStatement {
  /** Command kind for EXPLAIN and plan-cache decisions. */
  readonly kind: string;
  readonly paramTypes: readonly SqlType[];
  /** Result columns, or null when the statement returns none. */
  readonly columns: readonly ScopeColumn[] | null;
  /** Whether the statement only reads (no retry hazard, no commit needed). */
  readonly readOnly: boolean;
  /** Plans can be cached and reused while the catalog version is unchanged. */
  readonly cacheable: boolean;
  execute(ctx: ExecContext): Promise<StatementResult>;
  explain?(): string[];
}

/** An enum column (or an array of one) is sent as its labels, in binary format too (enum_send). */
function enumCodec(type: SqlType): Pick<ColumnInfo, 'codec'> {
  const e = type.enum ?? type.elem?.enum;
  if (!e) return {};
  const codecs = labelCodec(e.oid, typeDisplayName(type.elem ?? type), e.arrayOid);
  return { codec: type.kind === 'array' ? codecs.array : codecs.scalar };
}

export function columnInfos(cols: readonly ScopeColumn[]): ColumnInfo[] {
  return cols.filter((c) => !c.hidden).map((c) => ({
    name: c.name,
    typeOid: typeOid(c.type),
    typeSize: typeLen(c.type),
    typeModifier: c.type.typmod,
    ...enumCodec(c.type),
    tableOid: c.tableOid ?? 0,
    columnAttr: c.attnum ?? 0,
  }));
}
