// @weft/sql: the SQL engine behind the Postgres wire server.
import type { ShardKv } from '@weft/kv';
import type { KvClient } from '@weft/kvclient';
import { PgError, type SessionFactory } from '@weft/pgwire';
import './functions';
import './catalog/system-views';
import { Engine, type EngineOptions } from './engine';
import { S } from './errors';
import { kvErrorToPg } from './kv-errors';
import { initParser } from './parse';
import { PlanCache } from './plan-cache';
import { SqlSession, type SqlPrepared } from './session';

export interface SqlEngineOptions extends EngineOptions {
  /**
   * Where the data lives: a KV client over the cluster's shards (built with
   * `replicatedKeys: SQL_REPLICATED_KEYS`), or one shard holding everything.
   */
  readonly shard: KvClient | ShardKv;
}

export interface SqlSessionFactory extends SessionFactory<SqlPrepared> {
  readonly engine: Engine;
  readonly planCache: PlanCache;
}

/**
 * The SessionFactory pgwire calls per connection. Loads the parser, bootstraps the catalog
 * (databases `weft` and `postgres`) and refuses unknown databases with 3D000.
 */
export async function createSqlSessionFactory(options: SqlEngineOptions): Promise<SqlSessionFactory> {
  await initParser();
  const engine = new Engine(options.shard, options);
  await engine.bootstrap();
  const planCache = new PlanCache(engine.planCacheSize);
  const factory = async (info: Parameters<SessionFactory<SqlPrepared>>[0]) => {
    const catalog = await engine.catalogFor(engine.newTxn()).catch((e: unknown) => {
      throw kvErrorToPg(e);
    });
    const db = catalog.databases.get(info.database);
    if (!db) throw new PgError(S.UNDEFINED_DATABASE, `database "${info.database}" does not exist`, {}, 'FATAL');
    const startup: Record<string, string> = {};
    for (const [k, v] of info.params) if (!['user', 'database', 'options', 'replication'].includes(k)) startup[k] = v;
    const handler = new SqlSession(engine, { user: info.user, database: info.database, databaseId: db.id, pid: info.pid }, startup, planCache);
    return { handler, parameters: { is_superuser: 'on', session_authorization: info.user, server_version: '15.0' } };
  };
  return Object.assign(factory, { engine, planCache });
}

export { Engine, SQL_REPLICATED_KEYS, SQL_REPLICATED_PREFIXES } from './engine';
export { compileScanFilter } from './pushdown/compile-scan-filter';
export { SqlSession } from './session';
export type { SqlPrepared } from './session';
export { parseSql, initParser } from './parse';
export { register as registerFunction, type FunctionDef } from './functions/registry';
export { registerAggregate, type AggregateDef } from './functions/aggregates';
export { defineView, type SystemView, type ViewContext } from './catalog/system-views/registry';
