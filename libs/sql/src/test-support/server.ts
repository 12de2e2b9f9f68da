// Test harness: a PgServer over the SQL engine and a LocalShard in a temp directory (or an
// in-memory shard), plus node-postgres clients connected to it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, DatabaseError } from 'pg';
import type { ShardKv } from '@weft/kv';
import { LocalShard } from '@weft/materialize';
import { PgServer, StaticAuthenticator } from '@weft/pgwire';
import { MemoryShard } from '@weft/txn';
import { createSqlSessionFactory, type SqlSessionFactory } from '../index';
import type { SqlPrepared } from '../session';

export interface SqlTestServer {
  readonly port: number;
  readonly factory: SqlSessionFactory;
  readonly internalErrors: unknown[];
  client(database?: string): Promise<Client>;
  close(): Promise<void>;
}

export async function startSqlServer(opts: { memory?: boolean } = {}): Promise<SqlTestServer> {
  let shard: ShardKv;
  let dir: string | undefined;
  if (opts.memory) shard = new MemoryShard();
  else {
    dir = mkdtempSync(join(tmpdir(), 'weft-sql-'));
    shard = await LocalShard.open(dir, { shardId: 1 });
  }
  const factory = await createSqlSessionFactory({ shard });
  const internalErrors: unknown[] = [];
  const server = new PgServer<SqlPrepared>({
    authenticator: new StaticAuthenticator({ weft: { method: 'trust', superuser: true } }),
    sessionFactory: factory,
    onInternalError: (e) => internalErrors.push(e),
  });
  const addr = await server.listen(0, '127.0.0.1');
  const clients: Client[] = [];
  return {
    port: addr.port,
    factory,
    internalErrors,
    async client(database = 'weft') {
      const c = new Client({ host: '127.0.0.1', port: addr.port, user: 'weft', database });
      await c.connect();
      clients.push(c);
      return c;
    },
    async close() {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await server.close();
      if (shard instanceof LocalShard) await shard.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
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
