import { Controller, Get, Header, Inject, Injectable, Module, NotFoundException, Param, ParseIntPipe, StreamableFile, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Readable } from 'node:stream';
import { hostname } from 'node:os';
import type { NodeAddress } from '@weft/config';
import { MetaClient } from '@weft/meta';
import { NodeMirror, kafkaSettings, nodeHostSource, type KafkaEnv, type NodeMirrorStats } from '@weft/mirror';
import { MetaAgent, NodeHost, type PeerSpec, type ShardSpec } from '@weft/nodehost';
import { systemClock, type WallClock } from '@weft/replica';
import { READINESS_PROBE, type ServiceRuntime } from '@weft/service';
import { compileScanFilter } from '@weft/sql';
import { createLogger } from '@weft/telemetry';
import { NodeReadiness } from './node-health';
import { NodeMetrics } from './node-metrics';
import { NodeTracing } from './node-tracing';

export const NODE_CONFIG = Symbol('NODE_CONFIG');
export const NODE_RUNTIME = Symbol('NODE_RUNTIME');

export interface NodeConfig extends KafkaEnv {
  readonly WEFT_NODE_ID: number;
  readonly WEFT_DATA_DIR: string;
  readonly WEFT_RAFT_PORT: number;
  readonly WEFT_KV_PORT: number;
  readonly WEFT_RAFT_PEERS: readonly NodeAddress[];
  readonly WEFT_SHARD_COUNT: number;
  readonly WEFT_SNAPSHOT_ENTRIES: number;
  readonly WEFT_SNAPSHOT_MARGIN: number;
  readonly WEFT_STAGED_IDLE_MS: number;
  readonly WEFT_GC_TTL_S: number;
  readonly WEFT_GC_INTERVAL_MS: number;
  readonly WEFT_META_ADDRS: readonly NodeAddress[];
  readonly WEFT_ADVERTISE_HOST: string;
  readonly WEFT_REGION: string;
  readonly WEFT_ZONE: string;
  readonly WEFT_READY_MAX_LAG_MS: number;
  readonly WEFT_TESTING_CORRUPT_APPLY: string;
  readonly WEFT_CLOCK_CHECK: 'on' | 'off';
  readonly WEFT_TESTING_CLOCK_SKEW_MS: number;
  readonly WEFT_MIRROR_MAX_BACKLOG: number;
  readonly WEFT_MIRROR_LINGER_MS: number;
  readonly WEFT_BIND_HOST: string;
  readonly WEFT_LOG_LEVEL: Parameters<typeof createLogger>[1];
}

/**
 * The shards this node hosts: 1..WEFT_SHARD_COUNT, each replicated on every node of
 * WEFT_RAFT_PEERS. A fixed placement until the meta service places shards.
 */
export function shardSpecs(c: Pick<NodeConfig, 'WEFT_SHARD_COUNT' | 'WEFT_RAFT_PEERS'>): ShardSpec[] {
  const voters = c.WEFT_RAFT_PEERS.map((p) => p.nodeId);
  return Array.from({ length: c.WEFT_SHARD_COUNT }, (_, i) => ({ shardId: i + 1, voters }));
}

/** The WEFT_TESTING_CORRUPT_APPLY knob (`node:shard`) as a NodeHost option, if it names this node. */
export function corruptApplyKnob(c: Pick<NodeConfig, 'WEFT_TESTING_CORRUPT_APPLY' | 'WEFT_NODE_ID'>): { corruptNextApplyOfShard?: number } {
  const v = c.WEFT_TESTING_CORRUPT_APPLY.trim();
  if (v === '') return {};
  const m = /^(\d+):(\d+)$/.exec(v);
  if (!m) throw new Error(`WEFT_TESTING_CORRUPT_APPLY: expected node:shard, got "${v}"`);
  return Number(m[1]) === c.WEFT_NODE_ID ? { corruptNextApplyOfShard: Number(m[2]) } : {};
}

/** The WEFT_TESTING_CLOCK_SKEW_MS knob as NodeHost's clock: the system clock moved by the skew. */
export function skewedClockKnob(c: Pick<NodeConfig, 'WEFT_TESTING_CLOCK_SKEW_MS'>): { clock?: WallClock } {
  const skewUs = BigInt(c.WEFT_TESTING_CLOCK_SKEW_MS) * 1000n;
  return skewUs === 0n ? {} : { clock: { now: () => systemClock.now() + skewUs } };
}

/** Exit code of a node that stopped itself because its clock is off from its peers' (decision 0057). */
export const CLOCK_FENCE_EXIT_CODE = 3;

/** Starts the node's data plane (NodeHost: Raft, WAL, shard replicas, KV RPC) with the app, stops it with it. */
@Injectable()
export class NodeHostService implements OnModuleInit, OnApplicationShutdown {
  private node?: NodeHost;
  private agent?: MetaAgent;
  private meta?: MetaClient;
  private readonly metrics: NodeMetrics;
  private readonly tracing: NodeTracing;
  readonly readiness: NodeReadiness;
  /** The Kafka mirror, when WEFT_KAFKA_BROKERS is set. */
  mirror?: NodeMirror;

  constructor(
    @Inject(NODE_CONFIG) private readonly config: NodeConfig,
    @Inject(NODE_RUNTIME) runtime: ServiceRuntime,
  ) {
    this.metrics = new NodeMetrics(runtime.meter, config.WEFT_NODE_ID, () => this.node, config.WEFT_DATA_DIR, () => this.mirror);
    this.tracing = new NodeTracing(config.WEFT_NODE_ID);
    this.readiness = new NodeReadiness(config.WEFT_NODE_ID, () => this.node, config.WEFT_READY_MAX_LAG_MS);
  }

  async onModuleInit(): Promise<void> {
    const c = this.config;
    const placedByMeta = c.WEFT_META_ADDRS.length > 0;
    const advertise = c.WEFT_ADVERTISE_HOST.trim() || (c.WEFT_BIND_HOST === '0.0.0.0' || c.WEFT_BIND_HOST === '::' ? hostname() : c.WEFT_BIND_HOST);
    // With meta, the node starts knowing only itself; meta tells it the others and its shards.
    const peers: readonly PeerSpec[] = placedByMeta ? [{ nodeId: c.WEFT_NODE_ID, host: advertise, port: c.WEFT_RAFT_PORT }] : c.WEFT_RAFT_PEERS;
    if (!placedByMeta && !c.WEFT_RAFT_PEERS.some((p) => p.nodeId === c.WEFT_NODE_ID)) {
      throw new Error(`WEFT_RAFT_PEERS does not list this node (WEFT_NODE_ID=${c.WEFT_NODE_ID}); list every node, this one included`);
    }
    const logger = createLogger('weft-node', c.WEFT_LOG_LEVEL);
    const started = Date.now();
    const kafka = kafkaSettings(c);
    const mirror = kafka === undefined ? undefined : new NodeMirror({ kafka, nodeId: c.WEFT_NODE_ID, logger, maxBacklogEntries: c.WEFT_MIRROR_MAX_BACKLOG, lingerMs: c.WEFT_MIRROR_LINGER_MS });
    this.mirror = mirror;
    this.node = new NodeHost({
      nodeId: c.WEFT_NODE_ID,
      dataDir: c.WEFT_DATA_DIR,
      bindHost: c.WEFT_BIND_HOST,
      raftPort: c.WEFT_RAFT_PORT,
      kvPort: c.WEFT_KV_PORT,
      peers,
      shards: placedByMeta ? [] : shardSpecs(c),
      snapshotEveryEntries: c.WEFT_SNAPSHOT_ENTRIES,
      scanFilters: compileScanFilter,
      compactionMarginEntries: c.WEFT_SNAPSHOT_MARGIN,
      stagedIdleMs: c.WEFT_STAGED_IDLE_MS,
      gc: { ttlUs: BigInt(c.WEFT_GC_TTL_S) * 1_000_000n, ...(c.WEFT_GC_INTERVAL_MS > 0 ? { intervalMs: c.WEFT_GC_INTERVAL_MS } : {}) },
      logger,
      observer: { ...this.metrics.observer, ...this.tracing.observer },
      ...corruptApplyKnob(c),
      ...skewedClockKnob(c),
      // A node whose clock is wrong must stop at once: every commit it stamps or read it serves
      // from here on may fall outside the bound the uncertainty intervals rely on.
      clockCheck: c.WEFT_CLOCK_CHECK === 'on' ? { onFence: (reason) => fenceForClock(reason) } : null,
      ...(mirror === undefined ? {} : { compactionFloor: mirror.compactionFloor, onApplied: mirror.onApplied }),
    });
    await this.node.start();
    if (mirror !== undefined) {
      // Shards meta places here later join the mirror when they first apply (NodeMirror.onApplied).
      mirror.start(nodeHostSource(this.node), this.node.shardIds());
      logger.info({ brokers: c.WEFT_KAFKA_BROKERS, topicPrefix: c.WEFT_KAFKA_TOPIC_PREFIX }, 'mirroring shard logs to Kafka');
    }
    if (placedByMeta) {
      this.meta = new MetaClient({ endpoints: c.WEFT_META_ADDRS.map((m) => ({ metaId: m.nodeId, host: m.host, port: m.port })) });
      this.agent = new MetaAgent({
        host: this.node,
        meta: this.meta,
        self: { nodeId: c.WEFT_NODE_ID, address: advertise, kvPort: this.node.kvAddress?.port ?? c.WEFT_KV_PORT, raftPort: this.node.raftAddress?.port ?? c.WEFT_RAFT_PORT, region: c.WEFT_REGION.trim(), zone: c.WEFT_ZONE.trim() },
        logger,
      });
      this.agent.start();
      logger.info({ kv: this.node.kvAddress, raftPort: c.WEFT_RAFT_PORT, meta: c.WEFT_META_ADDRS, startMs: Date.now() - started }, 'node started; shards are placed by meta');
      return;
    }
    logger.info({ kv: this.node.kvAddress, raftPort: c.WEFT_RAFT_PORT, shards: c.WEFT_SHARD_COUNT, startMs: Date.now() - started }, 'shard replicas started');
  }

  get clockCheck(): 'on' | 'off' {
    return this.config.WEFT_CLOCK_CHECK;
  }

  /** The data plane, once started (undefined before onModuleInit). */
  get nodeHost(): NodeHost | undefined {
    return this.node;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent?.stop();
    this.meta?.close();
    await this.mirror?.stop();
    await this.node?.stop();
  }
}

/** `GET /mirror`: the Kafka mirror's per-shard progress, backlog size and age (`enabled: false` without Kafka). */
@Controller()
export class MirrorController {
  constructor(private readonly host: NodeHostService) {}

  @Get('mirror')
  mirror(): { enabled: boolean } & Partial<NodeMirrorStats> {
    const m = this.host.mirror;
    return m === undefined ? { enabled: false } : { enabled: true, ...m.stats() };
  }
}

/** `GET /clock`: this node's clock and the offset last measured to each peer (decision 0057). */
@Controller()
export class ClockController {
  constructor(private readonly host: NodeHostService) {}

  @Get('clock')
  clock(): { nowUs: string; check: 'on' | 'off'; peers: { peer: number; offsetMs: number; rttMs: number }[] } {
    const node = this.host.nodeHost;
    return {
      nowUs: String(node?.now() ?? 0n),
      check: this.host.clockCheck,
      peers: (node?.clockOffsets() ?? []).map((o) => ({ peer: o.peer, offsetMs: o.offsetUs / 1000, rttMs: o.rttUs / 1000 })),
    };
  }
}

/**
 * `GET /shards/:id/snapshot`: the node's replica state of a shard as a snapshot stream (the
 * format Raft replicas send each other, libs/replica snapshot-format), for a materializer
 * bootstrapping from snapshot + offset (decision 0036). Any replica serves: its state is a
 * committed prefix of the log at the index the stream's trailer names.
 */
@Controller()
export class ShardSnapshotController {
  constructor(private readonly host: NodeHostService) {}

  @Get('shards/:id/snapshot')
  @Header('Content-Type', 'application/octet-stream')
  snapshot(@Param('id', ParseIntPipe) id: number): StreamableFile {
    const node = this.host.nodeHost;
    if (node === undefined || node.materializer(id) === undefined) throw new NotFoundException(`shard ${id} is not hosted on this node`);
    return new StreamableFile(Readable.from(node.snapshotStream(id)));
  }
}

/** A storage node: hosts a replica of shards 1..WEFT_SHARD_COUNT and serves them over the KV RPC. */
@Module({})
export class NodeModule {
  static forRoot(config: NodeConfig, runtime: ServiceRuntime): DynamicModule {
    return {
      module: NodeModule,
      controllers: [MirrorController, ShardSnapshotController, ClockController],
      providers: [
        { provide: NODE_CONFIG, useValue: config },
        { provide: NODE_RUNTIME, useValue: runtime },
        NodeHostService,
        { provide: READINESS_PROBE, useFactory: (s: NodeHostService) => s.readiness, inject: [NodeHostService] },
      ],
      exports: [READINESS_PROBE],
    };
  }
}

function fenceForClock(reason: string): never {
  process.stderr.write(`weft-node: stopping: ${reason}\n`);
  process.exit(CLOCK_FENCE_EXIT_CODE);
}
