import { Module, type DynamicModule } from '@nestjs/common';

export const NODE_CONFIG = Symbol('NODE_CONFIG');

export interface NodeConfig {
  readonly WEFT_NODE_ID: number;
  readonly WEFT_DATA_DIR: string;
  readonly WEFT_RAFT_PORT: number;
}

/** A storage node: hosts shard replicas (Raft + MVCC). Replicas land with the shard issues. */
@Module({})
export class NodeModule {
  static forRoot(config: NodeConfig): DynamicModule {
    return { module: NodeModule, providers: [{ provide: NODE_CONFIG, useValue: config }] };
  }
}
