// Name resolution: the columns visible at one query level, chained to the enclosing level for
// correlated subqueries. A lookup that crosses into an outer level marks the inner levels as
// correlated (so their subplans are re-run per outer row instead of once).
import { S, sqlError } from '../errors';
import type { SqlType } from '../types/types';

export interface ScopeColumn {
  readonly qualifier: string | undefined;
  readonly name: string;
  readonly type: SqlType;
  readonly hidden?: boolean;
  /** pg_class OID and attnum when the column is a plain table column (RowDescription). */
  readonly tableOid?: number;
  readonly attnum?: number;
  /** Schema of the source relation, for schema-qualified references. */
  readonly schema?: string;
  /** Text only because it came from an untyped literal (UNION arms resolve it to the other side's type). */
  readonly untyped?: boolean;
  /**
   * A column of a JOIN ... USING/NATURAL that the merged column replaces: `SELECT *` and
   * unqualified names see the merged column only; `rel.col` and `rel.*` still reach this one.
   */
  readonly mergedAway?: boolean;
  /**
   * A system column (`tableoid` of a catalog relation): not part of `SELECT *` (so it is also
   * `hidden`), but resolvable by its bare name as in PostgreSQL, where pg_dump reads it so.
   */
  readonly system?: boolean;
  /**
   * Set on the columns of a base table with a declared primary key, as read in this FROM (not
   * through a subquery or view): the primary key's attnums. Grouping by all of them makes the
   * table's other columns functionally dependent, so they may appear ungrouped (PostgreSQL 9.1+).
   */
  readonly primaryKeyAttnums?: readonly number[];
}

export interface Resolved {
  readonly depth: number;
  readonly index: number;
  readonly column: ScopeColumn;
}

export class Scope {
  usesOuter = false;

  constructor(
    readonly columns: readonly ScopeColumn[],
    readonly outer?: Scope,
    /** A marker level with no row of its own (subquery boundary): crossing it costs no env hop. */
    readonly transparent = false,
  ) {}

  /** Resolves `name`, `rel.name` or `schema.rel.name`; undefined if nowhere in the chain. */
  resolve(parts: readonly string[], location?: number): Resolved | undefined {
    const own = this.find(parts, location);
    if (own !== undefined) return { depth: 0, index: own, column: this.columns[own] };
    let scope = this.outer;
    let depth = this.transparent ? 0 : 1;
    const crossed: Scope[] = [this];
    while (scope) {
      const hit = scope.find(parts, location);
      if (hit !== undefined) {
        for (const s of crossed) s.usesOuter = true;
        return { depth, index: hit, column: scope.columns[hit] };
      }
      crossed.push(scope);
      if (!scope.transparent) depth++;
      scope = scope.outer;
    }
    return undefined;
  }

  /** The index of `parts` among this level's own columns, without errors or outer lookups. */
  ownIndex(parts: readonly string[]): number | undefined {
    try {
      return this.find(parts);
    } catch {
      return undefined; // ambiguous: compiling the reference reports it
    }
  }

  private find(parts: readonly string[], location?: number): number | undefined {
    const name = parts[parts.length - 1];
    const qual = parts.length >= 2 ? parts[parts.length - 2] : undefined;
    const schema = parts.length >= 3 ? parts[parts.length - 3] : undefined;
    let found: number | undefined;
    for (let i = 0; i < this.columns.length; i++) {
      const c = this.columns[i];
      if (c.name !== name) continue;
      if (qual !== undefined && c.qualifier !== qual) continue;
      if (schema !== undefined && c.schema !== undefined && c.schema !== schema) continue;
      if ((c.hidden && !c.system) || c.mergedAway) {
        if (qual === undefined) continue;
      }
      if (found !== undefined) {
        throw sqlError(S.AMBIGUOUS_COLUMN, `column reference "${name}" is ambiguous`, location !== undefined ? { position: location + 1 } : {});
      }
      found = i;
    }
    return found;
  }

  hasQualifier(q: string): boolean {
    return this.columns.some((c) => c.qualifier === q);
  }
}
