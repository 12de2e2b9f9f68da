// System views (pg_catalog, information_schema) are generator functions over the catalog
// snapshot: the extension point for catalog breadth. A module calls `defineView()` with the
// columns and a row generator; the planner exposes it as a read-only relation.
import type { Row, SessionInfo } from '../../runtime';
import type { SqlType } from '../../types/types';
import type { Catalog } from '../catalog';
import type { SequenceState } from '../sequence-state';

export interface ViewContext {
  readonly catalog: Catalog;
  readonly session: SessionInfo;
  /** Sequence states by descriptor id; present for views with `readsSequenceStates`. */
  readonly sequenceStates?: ReadonlyMap<number, SequenceState>;
}

export interface SystemView {
  readonly schema: 'pg_catalog' | 'information_schema';
  readonly name: string;
  /** pg_class OID of the view (stable, below FirstNormalObjectId). */
  readonly oid: number;
  readonly columns: readonly { readonly name: string; readonly type: SqlType }[];
  rows(ctx: ViewContext): Iterable<Row>;
  /** The view reports sequence values (pg_sequences): they are read before its rows. */
  readonly readsSequenceStates?: boolean;
}

const views = new Map<string, SystemView>();

export function defineView(v: Omit<SystemView, 'oid'> & { oid?: number }): void {
  const oid = v.oid ?? 12000 + views.size;
  views.set(`${v.schema}.${v.name}`, { ...v, oid });
}

export function systemView(schema: string, name: string): SystemView | undefined {
  return views.get(`${schema}.${name}`);
}

export function allSystemViews(): SystemView[] {
  return [...views.values()];
}
