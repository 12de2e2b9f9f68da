import { Module, type DynamicModule } from '@nestjs/common';

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

export interface GatewayConfig {
  readonly WEFT_PG_PORT: number;
}

/** The SQL gateway. The Postgres wire listener lands here with the SQL gateway issue. */
@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig): DynamicModule {
    return { module: GatewayModule, providers: [{ provide: GATEWAY_CONFIG, useValue: config }] };
  }
}
