// Test harness: a PgServer over the SQL engine and LocalShards in a temp directory (one, or
// `shards` of them behind a KV client, as a multi-shard cluster without Raft; or an in-memory
// shard), plus node-postgres clients connected to it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, DatabaseError } from 'pg';
import type { ScanPage, ShardKv } from '@weft/kv';
import { KvClient, ShardMap } from '@weft/kvclient';
import { LocalShard } from '@weft/materialize';
import { HASHED_TABLE_MIN, keyRoute } from '@weft/storage';
import { PgServer, StaticAuthenticator } from '@weft/pgwire';
import { MemoryShard } from '@weft/txn';
import { compileScanFilter, createSqlSessionFactory, SQL_REPLICATED_KEYS, SQL_REPLICATED_PREFIXES, type SqlSessionFactory } from '../index';
import type { SqlPrepared } from '../session';

export interface SqlTestServer {
  readonly port: number;
  readonly factory: SqlSessionFactory;
  readonly internalErrors: unknown[];
  /** Shard calls made so far, as `<method> s<shard>` (multi-shard servers only; tests clear it). */
  readonly shardCalls: string[];
  /** Rows the shards' scans of user tables returned (and rows they counted for count-only scans). */
  readonly shardRows: { returned: number; counted: number };
  /** A client of gateway `gateway` (0-based; see `gateways`). */
  client(database?: string, gateway?: number): Promise<Client>;
  close(): Promise<void>;
}

/**
 * `gateways` > 1 starts that many PgServers, each with its own engine (catalog cache, plan
 * cache) over the same shards, as separate gateway processes would be.
 */
export async function startSqlServer(opts: { memory?: boolean; shards?: number; gateways?: number } = {}): Promise<SqlTestServer> {
  let shard: () => ShardKv | KvClient;
  let dir: string | undefined;
  const local: LocalShard[] = [];
  const shardCalls: string[] = [];
  const shardRows = { returned: 0, counted: 0 };
  if (opts.memory) {
    const memory = new MemoryShard();
    shard = () => memory;
  } else {
    dir = mkdtempSync(join(tmpdir(), 'weft-sql-'));
    const map = ShardMap.uniform(opts.shards ?? 1);
    const shards = new Map<number, ShardKv>();
    for (const id of map.shardIds()) {
      const s = await LocalShard.open(join(dir, `shard-${id}`), { shardId: id, scanFilters: compileScanFilter });
      local.push(s);
      shards.set(id, countingShard(s, id, shardCalls, shardRows));
    }
    shard = () => new KvClient({ map, shards, replicatedKeys: SQL_REPLICATED_KEYS, replicatedPrefixes: SQL_REPLICATED_PREFIXES });
  }
  const internalErrors: unknown[] = [];
  const gateways: { factory: SqlSessionFactory; server: PgServer<SqlPrepared>; port: number }[] = [];
  for (let g = 0; g < (opts.gateways ?? 1); g++) {
    const factory = await createSqlSessionFactory({ shard: shard() });
    const server = new PgServer<SqlPrepared>({
      authenticator: new StaticAuthenticator({ weft: { method: 'trust', superuser: true } }),
      sessionFactory: factory,
      onInternalError: (e) => internalErrors.push(e),
    });
    gateways.push({ factory, server, port: (await server.listen(0, '127.0.0.1')).port });
  }
  const clients: Client[] = [];
  return {
    port: gateways[0].port,
    factory: gateways[0].factory,
    internalErrors,
    shardCalls,
    shardRows,
    async client(database = 'weft', gateway = 0) {
      const c = new Client({ host: '127.0.0.1', port: gateways[gateway].port, user: 'weft', database });
      await c.connect();
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      for (const g of gateways) await g.server.close();
      for (const s of local) await s.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The shard with its KV calls recorded (round trips a gateway would make to it). */
function countingShard(s: LocalShard, id: number, calls: string[], rows: { returned: number; counted: number }): ShardKv {
  const counted = new Set<string | symbol>(['now', 'get', 'getNow', 'scan', 'propose', 'lockRead', 'refresh', 'txnStatus']);
  return new Proxy(s, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const bound = (v as (...a: unknown[]) => unknown).bind(target);
      if (!counted.has(prop)) return bound;
      return (...a: unknown[]) => {
        calls.push(`${String(prop)} s${id}`);
        const r = bound(...a);
        const route = prop === 'scan' ? keyRoute(a[0] as Buffer) : undefined;
        if (route !== undefined && route.tableId >= HASHED_TABLE_MIN) {
          void (r as Promise<ScanPage>).then((p) => {
            rows.returned += p.rows.length;
            rows.counted += p.count ?? 0;
          }, () => undefined);
        }
        return r;
      };
    },
  });
}

/** The SQLSTATE a statement fails with, or undefined if it succeeds (other errors are rethrown). */
export async function sqlstate(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (e instanceof DatabaseError) return e.code;
    throw e;
  }
}
