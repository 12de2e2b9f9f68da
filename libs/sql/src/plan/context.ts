// What planning needs from the session: the catalog snapshot, name resolution and defaults.
import type { Catalog, Relation } from '../catalog/catalog';
import type { ColumnDesc } from '../catalog/descriptors';
import type { SystemView } from '../catalog/system-views/registry';
import type { SessionInfo } from '../runtime';
import type { Value } from '../types/types';

export interface PlannerEnv {
  readonly catalog: Catalog;
  readonly session: SessionInfo;
  /** A relation by (optional schema, name), following search_path; system views included. */
  resolveRelation(schema: string | undefined, name: string): Relation | SystemView | undefined;
  /** Value of a column a stored row has no cell for (added later). */
  missingValue(c: ColumnDesc): Value;
}
