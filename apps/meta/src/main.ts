import { hostPorts } from '@weft/config';
import { main } from '@weft/service';
import { MetaModule } from './meta.module';

main({
  name: 'meta',
  defaults: { httpPort: 8280, metricsPort: 9466 },
  env: { WEFT_KAFKA_BROKERS: hostPorts('127.0.0.1:9092') },
  module: (config) => MetaModule.forRoot(config),
});
