import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { NodeAddress } from '@weft/config';
import { KvError, type ShardKv } from '@weft/kv';
import { KvClient, ShardMap } from '@weft/kvclient';
import { RemoteShardKv, type ReplicaAddress } from '@weft/kvrpc';
import { LocalShard } from '@weft/materialize';
import { MetaClient } from '@weft/meta';
import { PgServer } from '@weft/pgwire';
import { compileScanFilter, createSqlSessionFactory, SQL_REPLICATED_KEYS, SQL_REPLICATED_PREFIXES, type SqlPrepared } from '@weft/sql';
import { READINESS_PROBE, type ServiceRuntime } from '@weft/service';
import { createLogger, traceparentOf } from '@weft/telemetry';
import { authenticatorFromEnv } from './auth';
import { MetaRouting } from './meta-routing';
import { ConsoleController, ConsoleSource } from './console/console.controller';
import { ConsoleFeed } from './console/console-feed';
import { GatewayReadiness } from './gateway-health';
import { SqlMetrics } from './sql-metrics';

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
export const GATEWAY_RUNTIME = Symbol('GATEWAY_RUNTIME');

export interface GatewayConfig {
  readonly WEFT_PG_PORT: number;
  readonly WEFT_BIND_HOST: string;
  /** LocalShard directory when no KV replicas are configured. */
  readonly WEFT_DATA_DIR: string;
  /** The nodes' KV RPC addresses as id@host:kv-port,... ; `local` = in-process LocalShards. */
  readonly WEFT_KV_REPLICAS: string;
  /** Shards 1..N, each an equal slice of the hash space, replicated on every listed node. */
  readonly WEFT_SHARD_COUNT: number;
  readonly WEFT_TXN_STAGE_BYTES: number;
  /** The meta service (id@host:rpc-port,...): shard map and replica addresses come from it. Empty: WEFT_KV_REPLICAS and WEFT_SHARD_COUNT. */
  readonly WEFT_META_ADDRS: readonly NodeAddress[];
  /** host:port of read replicas (materializers) for follower reads; empty: none. */
  readonly WEFT_READ_REPLICAS: readonly string[];
  readonly WEFT_LOG_LEVEL: Parameters<typeof createLogger>[1];
}

// Who may connect (loopback trust, WEFT_PASSWORD from elsewhere) lives in ./auth.
export { LoopbackTrustAuthenticator } from './auth';

/** `host:port` (validated by the config schema) as an address; IPv6 hosts in brackets. */
function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

export function parseReplicas(spec: string): ReplicaAddress[] {
  const item = /^(\d{1,5})@([A-Za-z0-9.\-_]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
  if (spec.trim() === 'local') return [];
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const m = item.exec(s);
      if (!m) throw new Error(`WEFT_KV_REPLICAS: expected id@host:port, got "${s}"`);
      return { nodeId: Number(m[1]), host: m[2].replace(/^\[|\]$/g, ''), port: Number(m[3]) };
    });
}

/**
 * Schema changes need the control plane: a DDL statement commits only after meta answered with
 * a quorum (one TSO timestamp: the leader proves its lease or a ReadIndex round). Without one the
 * statement fails with 57P03 and changes nothing; data statements never ask meta.
 */
async function metaQuorumGate(meta: MetaClient): Promise<void> {
  try {
    await meta.tso(1);
  } catch (e) {
    throw new KvError('unavailable', `schema changes are refused while the meta service has no quorum: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The SQL gateway's data plane: Postgres wire server + SQL engine over the cluster's shards. */
@Injectable()
export class PgGatewayService implements OnModuleInit, OnApplicationShutdown, ConsoleSource {
  private server?: PgServer<SqlPrepared>;
  private kv?: KvClient;
  private readonly local: LocalShard[] = [];
  private meta?: MetaClient;
  private routing?: MetaRouting;
  private health?: GatewayReadiness;
  private readonly consoleFeed = new ConsoleFeed();
  /** /health/ready and /status: quorum reachability of every shard (ready at once without remote shards). */
  readonly readiness = {
    readiness: () => this.health?.readiness() ?? { ready: false, reasons: ['gateway is starting'] },
    details: () => this.health?.details() ?? {},
  };

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_RUNTIME) private readonly runtime: ServiceRuntime,
  ) {}

  async onModuleInit(): Promise<void> {
    const c = this.config;
    const logger = createLogger('weft-gateway', c.WEFT_LOG_LEVEL);
    const replicas = parseReplicas(c.WEFT_KV_REPLICAS);
    const readReplicas = c.WEFT_READ_REPLICAS.map(parseHostPort);
    let map = ShardMap.uniform(c.WEFT_SHARD_COUNT);
    const shards = new Map<number, ShardKv>();
    const remote = new Map<number, RemoteShardKv>();
    if (c.WEFT_META_ADDRS.length > 0) {
      // 5 s: a DDL waiting on a meta without quorum fails in bounded time (57P03).
      this.meta = new MetaClient({ endpoints: c.WEFT_META_ADDRS.map((m) => ({ metaId: m.nodeId, host: m.host, port: m.port })), deadlineMs: 5000 });
      this.routing = await MetaRouting.load(this.meta, logger, { traceparent: () => traceparentOf(), readReplicas });
      map = this.routing.map;
      for (const [id, kv] of this.routing.shards) {
        shards.set(id, kv);
        remote.set(id, kv);
      }
    }
    for (const id of shards.size > 0 ? [] : map.shardIds()) {
      if (replicas.length) {
        const kv = new RemoteShardKv({ shardId: id, replicas, traceparent: () => traceparentOf(), readReplicas });
        remote.set(id, kv);
        shards.set(id, kv);
      } else {
        const dir = path.join(c.WEFT_DATA_DIR, `shard-${id}`);
        mkdirSync(dir, { recursive: true });
        const shard = await LocalShard.open(dir, { shardId: id, scanFilters: compileScanFilter });
        this.local.push(shard);
        shards.set(id, shard);
      }
    }
    this.kv = new KvClient({ map, shards, replicatedKeys: SQL_REPLICATED_KEYS, replicatedPrefixes: SQL_REPLICATED_PREFIXES });
    const meta = this.meta;
    const sessionFactory = await createSqlSessionFactory({
      shard: this.kv,
      txnStageBytes: c.WEFT_TXN_STAGE_BYTES,
      schemaChangeGate: meta ? () => metaQuorumGate(meta) : undefined,
    });
    const meter = this.runtime.meter;
    const sqlMetrics = new SqlMetrics(meter, this.consoleFeed);
    meter
      .createObservableGauge('weft_pgwire_connections', { description: 'Client connections open now (authenticated or not)' })
      .addCallback((o) => o.observe(this.server?.connectionCount ?? 0));
    meter.createObservableCounter('weft_sql_plan_cache_hits', { description: 'Simple-query plans reused from the plan cache' }).addCallback((o) => o.observe(sessionFactory.planCache.hits));
    meter.createObservableCounter('weft_sql_plan_cache_misses', { description: 'Simple-query plans compiled (not in the plan cache, or stale)' }).addCallback((o) => o.observe(sessionFactory.planCache.misses));
    this.health = new GatewayReadiness(remote, meter);
    this.health.start();
    this.server = new PgServer<SqlPrepared>({
      authenticator: authenticatorFromEnv(),
      sessionFactory: sqlMetrics.instrument(sessionFactory),
      onInternalError: (e) => logger.error({ err: e }, 'internal error in a SQL session'),
    });
    const addr = await this.server.listen(c.WEFT_PG_PORT, c.WEFT_BIND_HOST);
    const nodes = this.routing ? 'placed by meta' : replicas.length ? replicas : c.WEFT_DATA_DIR;
    logger.info({ pg: `${addr.address}:${addr.port}`, shards: map.shardIds().length, nodes }, 'postgres wire server listening');
  }

  /** The web console's data (GET /console/api/snapshot). */
  consoleSnapshot(): Record<string, unknown> {
    return { time: new Date().toISOString(), cluster: this.health?.details() ?? {}, sql: this.consoleFeed.snapshot() };
  }

  /** Cancels a session's running statement (the console's Cancel button). */
  cancelBackend(pid: number): boolean {
    return this.server?.cancelBackend(pid) ?? false;
  }

  async onApplicationShutdown(): Promise<void> {
    this.health?.stop();
    await this.server?.close();
    for (const s of this.local) await s.close();
    if (this.local.length === 0) this.kv?.close();
    this.routing?.close();
    this.meta?.close();
  }
}

/** The SQL gateway: Postgres wire protocol in front of the SQL engine. */
@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig, runtime: ServiceRuntime): DynamicModule {
    return {
      module: GatewayModule,
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: GATEWAY_RUNTIME, useValue: runtime },
        PgGatewayService,
        { provide: ConsoleSource, useExisting: PgGatewayService },
        { provide: READINESS_PROBE, useFactory: (s: PgGatewayService) => s.readiness, inject: [PgGatewayService] },
      ],
      controllers: [ConsoleController],
      exports: [READINESS_PROBE],
    };
  }
}
