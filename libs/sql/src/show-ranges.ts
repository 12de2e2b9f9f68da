// Cluster statements that are not in Postgres' grammar; parse.ts rewrites each into a SHOW of a
// reserved setting name (which the grammar accepts) and the session answers it here.
//   SHOW RANGES FROM TABLE t            -> SHOW weft_ranges.t: one row per shard the table's rows
//                                          are spread over (key range, replicas, leaseholder)
//   ALTER RANGE 3 RELOCATE LEASE TO 2   -> SHOW weft_relocate_lease.r3.n2: moves shard 3's lease
//                                          (Raft leadership) to node 2
import type { KvClient } from '@weft/kvclient';
import { PgError } from '@weft/pgwire';
import type { StatementResult } from '@weft/pgwire';
import { bucketMiddle } from '@weft/storage';
import type { TableDesc } from './catalog/descriptors';

/** Prefix of the setting name SHOW RANGES is rewritten to. */
export const SHOW_RANGES_PREFIX = 'weft_ranges.';

const SHOW_RANGES = /^\s*SHOW\s+RANGES\s+FROM\s+TABLE\s+((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"[^"]+"|[A-Za-z_][\w$]*))?)\s*;?\s*$/i;

/** Prefix of the setting name ALTER RANGE ... RELOCATE LEASE is rewritten to. */
export const RELOCATE_LEASE_PREFIX = 'weft_relocate_lease.';

const RELOCATE_LEASE = /^\s*ALTER\s+RANGE\s+(\d+)\s+RELOCATE\s+LEASE\s+TO\s+(\d+)\s*;?\s*$/i;

/** `SHOW RANGES FROM TABLE x` → `SHOW weft_ranges.x`, `ALTER RANGE ...`; anything else unchanged. */
export function rewriteShowRanges(sql: string): string {
  const m = SHOW_RANGES.exec(sql);
  if (m) return `SHOW ${SHOW_RANGES_PREFIX.slice(0, -1)}.${m[1]}`;
  const r = RELOCATE_LEASE.exec(sql);
  return r ? `SHOW ${RELOCATE_LEASE_PREFIX}r${r[1]}.n${r[2]}` : sql;
}

/** Moves a shard's lease to a node (ALTER RANGE <shard> RELOCATE LEASE TO <node>). */
export async function relocateLease(kv: KvClient, name: string): Promise<StatementResult> {
  const m = /^r(\d+)\.n(\d+)$/.exec(name.slice(RELOCATE_LEASE_PREFIX.length));
  if (!m) throw new PgError('42601', 'syntax error in ALTER RANGE ... RELOCATE LEASE TO');
  const shardId = Number(m[1]);
  const node = Number(m[2]);
  if (!kv.map.shardIds().includes(shardId)) throw new PgError('22023', `range ${shardId} does not exist`, { hint: 'SHOW RANGES FROM TABLE lists the shard ids.' });
  const shard = kv.shard(shardId);
  if (!shard.transferLease) throw new PgError('0A000', 'this gateway runs over in-process shards: there is no lease to move');
  await shard.transferLease(node);
  return { kind: 'command', commandTag: 'ALTER RANGE' };
}

export const SHOW_RANGES_COLUMNS = [
  { name: 'shard_id', typeOid: 20 },
  { name: 'start_key', typeOid: 25 },
  { name: 'end_key', typeOid: 25 },
  { name: 'replicas', typeOid: 1007 },
  { name: 'lease_holder', typeOid: 20 },
] as const;

/** What a shard client can say about its replicas (RemoteShardKv; in-process shards have none). */
interface Describable {
  describe?(): Promise<{ readonly replicas: readonly number[]; readonly leaseholder: number | undefined }>;
}

const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

export async function showRanges(kv: KvClient, table: TableDesc): Promise<StatementResult> {
  const rows: (string | null)[][] = [];
  // A table WITH (shards = N) has keys at N hash values only: list the shards holding them.
  const hashes = table.shards === undefined ? undefined : Array.from({ length: table.shards }, (_, b) => bucketMiddle(b, table.shards ?? 1));
  for (const r of kv.map.ranges) {
    if (hashes !== undefined && !hashes.some((h) => h >= r.hashLo && h < r.hashHi)) continue;
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
