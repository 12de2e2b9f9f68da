import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { NodeAddress } from '@weft/config';
import { createLogger } from '@weft/telemetry';
import { ShardNode } from './shard-node';

export const NODE_CONFIG = Symbol('NODE_CONFIG');

export interface NodeConfig {
  readonly WEFT_NODE_ID: number;
  readonly WEFT_DATA_DIR: string;
  readonly WEFT_RAFT_PORT: number;
  readonly WEFT_KV_PORT: number;
  readonly WEFT_RAFT_PEERS: readonly NodeAddress[];
  readonly WEFT_SNAPSHOT_ENTRIES: number;
  readonly WEFT_SNAPSHOT_MARGIN: number;
  readonly WEFT_STAGED_IDLE_MS: number;
  readonly WEFT_BIND_HOST: string;
  readonly WEFT_LOG_LEVEL: Parameters<typeof createLogger>[1];
}

/** Starts the node's data plane (Raft, WAL, shard replica, KV RPC) with the app, stops it with it. */
@Injectable()
export class ShardNodeService implements OnModuleInit, OnApplicationShutdown {
  private node?: ShardNode;

  constructor(@Inject(NODE_CONFIG) private readonly config: NodeConfig) {}

  async onModuleInit(): Promise<void> {
    const c = this.config;
    const logger = createLogger('weft-node', c.WEFT_LOG_LEVEL);
    this.node = new ShardNode({
      nodeId: c.WEFT_NODE_ID,
      dataDir: c.WEFT_DATA_DIR,
      bindHost: c.WEFT_BIND_HOST,
      raftPort: c.WEFT_RAFT_PORT,
      kvPort: c.WEFT_KV_PORT,
      raftPeers: c.WEFT_RAFT_PEERS,
      snapshotEveryEntries: c.WEFT_SNAPSHOT_ENTRIES,
      compactionMarginEntries: c.WEFT_SNAPSHOT_MARGIN,
      stagedIdleMs: c.WEFT_STAGED_IDLE_MS,
      logger,
    });
    await this.node.start();
    logger.info({ kv: this.node.kvAddress, raftPort: c.WEFT_RAFT_PORT, shard: this.node.shardId }, 'shard replica started');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.node?.stop();
  }
}

/** A storage node: hosts shard 1's replica and serves it over the KV RPC. */
@Module({})
export class NodeModule {
  static forRoot(config: NodeConfig): DynamicModule {
    return { module: NodeModule, providers: [{ provide: NODE_CONFIG, useValue: config }, ShardNodeService] };
  }
}
