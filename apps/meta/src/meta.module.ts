import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { NodeAddress } from '@weft/config';
import { MetaReplica, MetaServer } from '@weft/meta';
import { READINESS_PROBE, type ServiceRuntime } from '@weft/service';
import { createLogger } from '@weft/telemetry';
import { MetaReadiness, registerMetaMetrics } from './meta-metrics';

export const META_CONFIG = Symbol('META_CONFIG');
export const META_RUNTIME = Symbol('META_RUNTIME');

export interface MetaConfig {
  readonly WEFT_KAFKA_BROKERS: string[];
  readonly WEFT_META_ID: number;
  readonly WEFT_META_PEERS: readonly NodeAddress[];
  readonly WEFT_META_RPC_PORT: number;
  readonly WEFT_DATA_DIR: string;
  readonly WEFT_META_DEAD_AFTER_MS: number;
  readonly WEFT_META_REBALANCE_INTERVAL_MS: number;
  readonly WEFT_META_TSO_WINDOW_MS: number;
  readonly WEFT_SHARD_COUNT: number;
  readonly WEFT_BIND_HOST: string;
  readonly WEFT_LOG_LEVEL: Parameters<typeof createLogger>[1];
}

/** Starts this process's meta replica (Raft group, catalog, TSO, liveness) and its RPC with the app. */
@Injectable()
export class MetaReplicaService implements OnModuleInit, OnApplicationShutdown {
  private replica?: MetaReplica;
  private server?: MetaServer;
  readonly readiness = new MetaReadiness(() => this.replica);

  constructor(
    @Inject(META_CONFIG) private readonly config: MetaConfig,
    @Inject(META_RUNTIME) runtime: ServiceRuntime,
  ) {
    registerMetaMetrics(runtime.meter, () => this.replica);
  }

  async onModuleInit(): Promise<void> {
    const c = this.config;
    if (!c.WEFT_META_PEERS.some((p) => p.nodeId === c.WEFT_META_ID)) {
      throw new Error(`WEFT_META_PEERS does not list this replica (WEFT_META_ID=${c.WEFT_META_ID}); list every meta replica, this one included`);
    }
    const logger = createLogger('weft-meta', c.WEFT_LOG_LEVEL);
    this.replica = new MetaReplica({
      metaId: c.WEFT_META_ID,
      dataDir: c.WEFT_DATA_DIR,
      bindHost: c.WEFT_BIND_HOST,
      raftPort: c.WEFT_META_PEERS.find((p) => p.nodeId === c.WEFT_META_ID)?.port ?? 0,
      peers: c.WEFT_META_PEERS,
      logger,
      deadAfterMs: c.WEFT_META_DEAD_AFTER_MS,
      rebalanceIntervalMs: c.WEFT_META_REBALANCE_INTERVAL_MS,
      tsoWindowMs: c.WEFT_META_TSO_WINDOW_MS,
      shardCount: c.WEFT_SHARD_COUNT,
    });
    // The RPC opens first, so a starting replica already redirects or says "unavailable"
    // (it answers not-leader / unavailable until the group has a leader).
    this.server = new MetaServer({ host: c.WEFT_BIND_HOST, port: c.WEFT_META_RPC_PORT, replica: this.replica, logger });
    const rpc = await this.server.listen();
    await this.replica.start();
    logger.info({ metaId: c.WEFT_META_ID, rpc, raft: this.replica.raftAddress, peers: c.WEFT_META_PEERS.length }, 'meta replica started');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
    await this.replica?.stop();
  }
}

/** The control plane: one replica of the meta group (catalog, shard map, TSO, node liveness). */
@Module({})
export class MetaModule {
  static forRoot(config: MetaConfig, runtime: ServiceRuntime): DynamicModule {
    return {
      module: MetaModule,
      providers: [
        { provide: META_CONFIG, useValue: config },
        { provide: META_RUNTIME, useValue: runtime },
        MetaReplicaService,
        { provide: READINESS_PROBE, useFactory: (s: MetaReplicaService) => s.readiness, inject: [MetaReplicaService] },
      ],
      exports: [READINESS_PROBE],
    };
  }
}
