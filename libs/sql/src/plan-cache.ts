// Bounded LRU of compiled simple-query statements keyed by SQL text (and session context),
// valid for one catalog version. Prepared statements keep their own plan instead.
import type { CompiledStatement } from './statement';

export class PlanCache {
  private readonly map = new Map<string, { version: bigint; compiled: CompiledStatement }>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity: number) {}

  get(key: string, version: bigint): CompiledStatement | undefined {
    const e = this.map.get(key);
    if (!e || e.version !== version) {
      this.misses++;
      return undefined;
    }
    this.map.delete(key);
    this.map.set(key, e);
    this.hits++;
    return e.compiled;
  }

  set(key: string, version: bigint, compiled: CompiledStatement): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    this.map.set(key, { version, compiled });
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }

  get size(): number {
    return this.map.size;
  }
}
