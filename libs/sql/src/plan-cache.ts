// Bounded LRU of compiled simple-query statements keyed by SQL text (and session context),
// valid for one catalog version. Prepared statements keep their own plan instead.
import type { CompiledStatement } from './statement';
import { parseSql, type ParsedStatement } from './parse';

export class PlanCache {
  private readonly map = new Map<string, { version: bigint; compiled: CompiledStatement }>();
  hits = 0;
  misses = 0;

  /** Parse trees of simple-query strings, same capacity. */
  readonly parseCache: ParseCache;

  constructor(private readonly capacity: number) {
    this.parseCache = new ParseCache(capacity);
  }

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

/**
 * Parse trees by exact query text (bounded LRU): a repeated simple query skips libpg-query.
 * Trees are never mutated by planning, so sharing them between sessions is safe.
 */
export class ParseCache {
  private readonly map = new Map<string, ParsedStatement[]>();

  constructor(private readonly capacity: number) {}

  parse(sql: string): ParsedStatement[] {
    const hit = this.map.get(sql);
    if (hit) {
      this.map.delete(sql);
      this.map.set(sql, hit);
      return hit;
    }
    const parsed = parseSql(sql);
    if (this.capacity > 0 && sql.length <= 4096) {
      this.map.set(sql, parsed);
      if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
    }
    return parsed;
  }
}
