import { int, port, text } from '@weft/config';
import { main } from '@weft/service';
import { NodeModule } from './node.module';

main({
  name: 'node',
  defaults: { httpPort: 8180, metricsPort: 9465 },
  env: {
    WEFT_NODE_ID: int(1, 65535, 1),
    WEFT_DATA_DIR: text('.weft/node-1'),
    WEFT_RAFT_PORT: port(7100),
  },
  module: (config) => NodeModule.forRoot(config),
});
