import { Controller, Get, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { createKafka, kafkaSettings, type KafkaEnv } from '@weft/mirror';
import type { ServiceRuntime } from '@weft/service';
import { createLogger } from '@weft/telemetry';
import { registerCdcMetrics } from './cdc-metrics';
import type { CdcFeedStatus } from './cdc-feed';
import { ChangeCapture } from './change-capture';
import { snapshotSettings, type CdcFailpoint, type SnapshotEnv } from './settings';

export const CDC_CONFIG = Symbol('CDC_CONFIG');
export const CDC_RUNTIME = Symbol('CDC_RUNTIME');

export interface CdcConfig extends KafkaEnv, SnapshotEnv {
  readonly WEFT_CDC_TOPIC_PREFIX: string;
  readonly WEFT_DATA_DIR: string;
  readonly WEFT_SHARD_COUNT: number;
  readonly WEFT_CDC_ID: string;
  readonly WEFT_CDC_PARTITIONS: number;
  readonly WEFT_CDC_RETENTION_MS: number;
  readonly WEFT_CDC_FAILPOINT: CdcFailpoint | '';
  readonly WEFT_CDC_SNAPSHOT_CHUNK_EVENTS: number;
  readonly WEFT_LOG_LEVEL: Parameters<typeof createLogger>[1];
}

/** Turns shards 1..WEFT_SHARD_COUNT's log topics into per-table change topics. */
@Injectable()
export class CdcService implements OnModuleInit, OnApplicationShutdown {
  private capture?: ChangeCapture;
  snapshotMode = 'never';

  constructor(
    @Inject(CDC_CONFIG) private readonly c: CdcConfig,
    @Inject(CDC_RUNTIME) runtime: ServiceRuntime,
  ) {
    registerCdcMetrics(runtime.meter, () => this.status());
  }

  async onModuleInit(): Promise<void> {
    const settings = kafkaSettings(this.c);
    if (settings === undefined) throw new Error('WEFT_KAFKA_BROKERS is required: the CDC service reads the shard logs from Kafka');
    const snapshot = snapshotSettings(this.c);
    this.snapshotMode = this.c.WEFT_CDC_SNAPSHOT_MODE;
    this.capture = new ChangeCapture({
      kafka: createKafka(settings, `weft-cdc-${this.c.WEFT_CDC_ID}`),
      topicPrefix: settings.topicPrefix,
      changeTopicPrefix: this.c.WEFT_CDC_TOPIC_PREFIX === '' ? settings.topicPrefix : this.c.WEFT_CDC_TOPIC_PREFIX,
      snapshot,
      snapshotChunkEvents: this.c.WEFT_CDC_SNAPSHOT_CHUNK_EVENTS,
      ...(this.c.WEFT_CDC_FAILPOINT === '' ? {} : { failpoint: this.c.WEFT_CDC_FAILPOINT }),
      shardIds: Array.from({ length: this.c.WEFT_SHARD_COUNT }, (_, i) => i + 1),
      dataDir: this.c.WEFT_DATA_DIR,
      instanceId: this.c.WEFT_CDC_ID,
      topics: { partitions: this.c.WEFT_CDC_PARTITIONS, replicationFactor: settings.replicationFactor, retentionMs: this.c.WEFT_CDC_RETENTION_MS },
      logger: createLogger('weft-cdc', this.c.WEFT_LOG_LEVEL),
    });
    await this.capture.open();
  }

  status(): CdcFeedStatus[] {
    return this.capture?.status() ?? [];
  }

  async onApplicationShutdown(): Promise<void> {
    await this.capture?.close();
  }
}

/** `GET /cdc`: per shard the applied and published index and the lag behind the log topic. */
@Controller()
export class CdcController {
  constructor(private readonly svc: CdcService) {}

  @Get('cdc')
  status(): { snapshotMode: string; shards: CdcFeedStatus[] } {
    return { snapshotMode: this.svc.snapshotMode, shards: this.svc.status() };
  }
}

@Module({})
export class CdcModule {
  static forRoot(config: CdcConfig, runtime: ServiceRuntime): DynamicModule {
    return { module: CdcModule, controllers: [CdcController], providers: [{ provide: CDC_CONFIG, useValue: config }, { provide: CDC_RUNTIME, useValue: runtime }, CdcService] };
  }
}
