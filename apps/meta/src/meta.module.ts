import { Module, type DynamicModule } from '@nestjs/common';

export const META_CONFIG = Symbol('META_CONFIG');

export interface MetaConfig {
  readonly WEFT_KAFKA_BROKERS: string[];
}

/** Catalog, shard map, TSO and liveness. Its Raft group and catalog land with later issues. */
@Module({})
export class MetaModule {
  static forRoot(config: MetaConfig): DynamicModule {
    return { module: MetaModule, providers: [{ provide: META_CONFIG, useValue: config }] };
  }
}
