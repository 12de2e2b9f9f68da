// Which descriptors a statement depends on (decision 0052): a data transaction validates their
// stamps at commit instead of the catalog version, so DDL on other objects does not fail it.
import type { Catalog } from './catalog';
import type { TableDesc } from './descriptors';

/**
 * The descriptors a statement that resolved `used` depends on. A statement that writes also
 * depends on the foreign-key neighbourhood of the tables it uses: the tables their foreign keys
 * reference (checked on insert and update), and every table that references them, transitively
 * (restrict checks and cascading actions read and write those with their own descriptors).
 */
export function descriptorDependencies(catalog: Catalog, used: ReadonlySet<number>, writes: boolean): number[] {
  const out = new Set(used);
  if (!writes) return [...out];
  const referencing = new Map<number, TableDesc[]>();
  for (const d of catalog.byId.values()) {
    if (d.kind !== 'table') continue;
    for (const fk of d.foreignKeys ?? []) {
      const list = referencing.get(fk.refTableId);
      if (list === undefined) referencing.set(fk.refTableId, [d]);
      else list.push(d);
    }
  }
  // Tables reached through referencing foreign keys, transitively, from the ones used.
  const reached = new Set(used);
  const pending = [...used];
  while (pending.length > 0) {
    for (const child of referencing.get(pending.pop() as number) ?? []) {
      if (reached.has(child.id)) continue;
      reached.add(child.id);
      pending.push(child.id);
    }
  }
  // Each of them, and the tables their own foreign keys reference.
  for (const id of reached) {
    out.add(id);
    const d = catalog.byId.get(id);
    if (d?.kind === 'table') for (const fk of d.foreignKeys ?? []) out.add(fk.refTableId);
  }
  return [...out];
}
