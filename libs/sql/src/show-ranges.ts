// SHOW RANGES FROM TABLE t: one row per shard the table's rows are spread over, with the key
// range it holds, its replicas and its current leaseholder. The statement is not in Postgres'
// grammar; parse.ts rewrites it to `SHOW weft_ranges.<name>` (a setting name the grammar
// accepts) and the session answers that here.
import type { KvClient } from '@weft/kvclient';
import type { StatementResult } from '@weft/pgwire';
import type { TableDesc } from './catalog/descriptors';

/** Prefix of the setting name SHOW RANGES is rewritten to. */
export const SHOW_RANGES_PREFIX = 'weft_ranges.';

const SHOW_RANGES = /^\s*SHOW\s+RANGES\s+FROM\s+TABLE\s+((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"[^"]+"|[A-Za-z_][\w$]*))?)\s*;?\s*$/i;

/** `SHOW RANGES FROM TABLE x` → `SHOW weft_ranges.x`; anything else unchanged. */
export function rewriteShowRanges(sql: string): string {
  const m = SHOW_RANGES.exec(sql);
  return m ? `SHOW ${SHOW_RANGES_PREFIX.slice(0, -1)}.${m[1]}` : sql;
}

export const SHOW_RANGES_COLUMNS = [
  { name: 'shard_id', typeOid: 20 },
  { name: 'start_key', typeOid: 25 },
  { name: 'end_key', typeOid: 25 },
  { name: 'replicas', typeOid: 1016 },
  { name: 'lease_holder', typeOid: 20 },
] as const;

/** What a shard client can say about its replicas (RemoteShardKv; in-process shards have none). */
interface Describable {
  describe?(): Promise<{ readonly replicas: readonly number[]; readonly leaseholder: number | undefined }>;
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

export async function showRanges(kv: KvClient, table: TableDesc): Promise<StatementResult> {
  const rows: (string | null)[][] = [];
  for (const r of kv.map.ranges) {
    const shard = kv.shard(r.shardId) as Describable;
    const d = shard.describe ? await shard.describe() : undefined;
    rows.push([
      String(r.shardId),
      `/Table/${table.id}/${hex4(r.hashLo)}`,
      r.hashHi >= 0x10000 ? `/Table/${table.id}/ffff+` : `/Table/${table.id}/${hex4(r.hashHi)}`,
      `{${(d?.replicas ?? []).join(',')}}`,
      d?.leaseholder === undefined ? null : String(d.leaseholder),
    ]);
  }
  return { kind: 'rows', columns: [...SHOW_RANGES_COLUMNS], rows };
}
