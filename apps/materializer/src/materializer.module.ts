import { Controller, Get, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { KvServer } from '@weft/kvrpc';
import { createKafka, kafkaSettings, type KafkaEnv } from '@weft/mirror';
import { createLogger } from '@weft/telemetry';
import { LogMaterializer, type ShardFeedStatus } from './log-materializer';
import { MaterializedShard } from './materialized-shard';
import { compileScanFilter } from '@weft/sql';
import type { ServiceRuntime } from '@weft/service';
import { registerMaterializerMetrics } from './materializer-metrics';

export const MATERIALIZER_RUNTIME = Symbol('MATERIALIZER_RUNTIME');
export const MATERIALIZER_CONFIG = Symbol('MATERIALIZER_CONFIG');

export interface MaterializerConfig extends KafkaEnv {
  readonly WEFT_DATA_DIR: string;
  readonly WEFT_SHARD_COUNT: number;
  readonly WEFT_MATERIALIZER_ID: string;
  readonly WEFT_LOG_LEVEL: Parameters<typeof createLogger>[1];
  readonly WEFT_BIND_HOST: string;
  /** KV RPC port serving reads at or below each shard's closed timestamp (0: none). */
  readonly WEFT_KV_PORT: number;
  readonly WEFT_MATERIALIZER_BOOTSTRAP: 'log' | 'snapshot';
  readonly WEFT_MATERIALIZER_SNAPSHOT_FROM: readonly string[];
  readonly WEFT_MATERIALIZER_START_MARGIN_MS: number;
}

/** How empty shards start and gaps are handled, as GET /materializer shows it. */
export interface BootstrapView {
  readonly mode: 'log' | 'snapshot';
  /** Nodes' HTTP addresses snapshots are fetched from (mode snapshot). */
  readonly sources: readonly string[];
}

/** The bootstrap settings, or a precise error for a combination that cannot work. */
export function bootstrapView(c: Pick<MaterializerConfig, 'WEFT_MATERIALIZER_BOOTSTRAP' | 'WEFT_MATERIALIZER_SNAPSHOT_FROM'>): BootstrapView {
  const sources = c.WEFT_MATERIALIZER_SNAPSHOT_FROM;
  if (c.WEFT_MATERIALIZER_BOOTSTRAP === 'snapshot' && sources.length === 0) {
    throw new Error('WEFT_MATERIALIZER_BOOTSTRAP=snapshot needs WEFT_MATERIALIZER_SNAPSHOT_FROM: the HTTP host:port of one or more nodes (they serve GET /shards/<id>/snapshot)');
  }
  if (c.WEFT_MATERIALIZER_BOOTSTRAP === 'log' && sources.length > 0) {
    throw new Error('WEFT_MATERIALIZER_SNAPSHOT_FROM is set but WEFT_MATERIALIZER_BOOTSTRAP=log never fetches a snapshot; set WEFT_MATERIALIZER_BOOTSTRAP=snapshot or unset it');
  }
  return { mode: c.WEFT_MATERIALIZER_BOOTSTRAP, sources };
}

/** Consumes shards 1..WEFT_SHARD_COUNT's log topics into RocksDB stores under WEFT_DATA_DIR. */
@Injectable()
export class MaterializerService implements OnModuleInit, OnApplicationShutdown {
  private m?: LogMaterializer;
  private kv?: KvServer;
  private readonly served = new Map<number, MaterializedShard>();
  bootstrap: BootstrapView = { mode: 'log', sources: [] };

  constructor(
    @Inject(MATERIALIZER_CONFIG) private readonly c: MaterializerConfig,
    @Inject(MATERIALIZER_RUNTIME) runtime: ServiceRuntime,
  ) {
    registerMaterializerMetrics(runtime.meter, () => this.m?.status() ?? []);
  }

  async onModuleInit(): Promise<void> {
    const settings = kafkaSettings(this.c);
    if (settings === undefined) throw new Error('WEFT_KAFKA_BROKERS is required: the materializer reads the shard logs from Kafka');
    this.bootstrap = bootstrapView(this.c);
    const logger = createLogger('weft-materializer', this.c.WEFT_LOG_LEVEL);
    this.m = new LogMaterializer({
      kafka: createKafka(settings, `weft-materializer-${this.c.WEFT_MATERIALIZER_ID}`),
      topicPrefix: settings.topicPrefix,
      shardIds: Array.from({ length: this.c.WEFT_SHARD_COUNT }, (_, i) => i + 1),
      dataDir: this.c.WEFT_DATA_DIR,
      groupId: `${settings.topicPrefix}.materializer.${this.c.WEFT_MATERIALIZER_ID}`,
      logger,
      scanFilters: compileScanFilter,
      ...(this.bootstrap.mode === 'snapshot' ? { bootstrap: { sources: this.bootstrap.sources, startMarginMs: this.c.WEFT_MATERIALIZER_START_MARGIN_MS } } : {}),
    });
    await this.m.open();
    if (this.c.WEFT_KV_PORT > 0) {
      const m = this.m;
      const shards = this.served;
      for (let id = 1; id <= this.c.WEFT_SHARD_COUNT; id++) {
        const feed = m.feed(id);
        if (feed !== undefined) shards.set(id, new MaterializedShard(id, feed));
      }
      this.kv = new KvServer({ nodeId: 0, host: this.c.WEFT_BIND_HOST, port: this.c.WEFT_KV_PORT, shard: (id) => shards.get(id), logger });
      const addr = await this.kv.listen();
      logger.info({ kv: `${addr.host}:${addr.port}` }, 'materializer: serving reads at or below each shard\'s closed timestamp');
    }
  }

  /** Each feed's status, with the reads its KV port served and refused (0 without WEFT_KV_PORT). */
  status(): (ShardFeedStatus & { readsServed: number; readsRefused: number })[] {
    return (this.m?.status() ?? []).map((s) => ({ ...s, readsServed: this.served.get(s.shardId)?.stats.reads ?? 0, readsRefused: this.served.get(s.shardId)?.stats.refused ?? 0 }));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.kv?.close();
    await this.m?.close();
  }
}

/** `GET /materializer`: per shard applied index, state hash, lag (entries, repl.lag_ms). */
@Controller()
export class MaterializerController {
  constructor(private readonly svc: MaterializerService) {}

  @Get('materializer')
  status(): { bootstrap: BootstrapView; shards: ReturnType<MaterializerService['status']> } {
    return { bootstrap: this.svc.bootstrap, shards: this.svc.status() };
  }
}

@Module({})
export class MaterializerModule {
  static forRoot(config: MaterializerConfig, runtime: ServiceRuntime): DynamicModule {
    return {
      module: MaterializerModule,
      controllers: [MaterializerController],
      providers: [{ provide: MATERIALIZER_CONFIG, useValue: config }, { provide: MATERIALIZER_RUNTIME, useValue: runtime }, MaterializerService],
    };
  }
}
