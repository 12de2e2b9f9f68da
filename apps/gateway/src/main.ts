import { port } from '@weft/config';
import { main } from '@weft/service';
import { GatewayModule } from './gateway.module';

main({
  name: 'gateway',
  defaults: { httpPort: 8080, metricsPort: 9464 },
  env: { WEFT_PG_PORT: port(5433) },
  module: (config) => GatewayModule.forRoot(config),
});
