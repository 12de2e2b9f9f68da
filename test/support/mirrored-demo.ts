// Shared by the Kafka tests that run `weft demo --kafka`: start it, write through it, and compare
// a materializer (GET /materializer) with the Raft replicas at one index.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { RemoteShardKv } from '@weft/kvrpc';
import { devPorts } from '../../apps/cli/src/dev-cluster';
import { caughtUp } from './kafka-log';
import { freeDemoPort, spawnDemo } from './weft-server';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const NODES = [1, 2, 3] as const;

export async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

export const uniquePrefix = (tag: string): string => `wt${tag}${process.pid}${Date.now().toString(36)}`;

/** A started demo with the mirror on and the ports tests need. */
export async function startMirroredDemo(brokers: string, prefix: string, opts: { shards?: number; env?: Record<string, string> } = {}) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-mirror-'));
  const pgPort = await freeDemoPort();
  const args = ['--kafka', brokers, ...(opts.shards ? ['--shards', String(opts.shards)] : [])];
  const demo = await spawnDemo({ dataDir, pgPort, args, env: { WEFT_KAFKA_TOPIC_PREFIX: prefix, ...opts.env }, readyTimeoutMs: 90_000 });
  const p = devPorts(pgPort);
  return {
    demo,
    dataDir,
    pgPort,
    http: NODES.map((id) => p.http(id)),
    materializerHttp: p.materializerHttp,
    materializerKv: p.materializerKv,
    kv: NODES.map((id) => ({ nodeId: id, port: p.kv(id) })),
    shards: Array.from({ length: opts.shards ?? 4 }, (_, i) => i + 1),
    async stop(): Promise<void> {
      await demo.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
export type MirroredDemo = Awaited<ReturnType<typeof startMirroredDemo>>;

export async function connect(port: number): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: 'weft', database: 'weft', connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export interface FeedView {
  shardId: number;
  state: string;
  appliedIndex: number;
  stateHash: string;
  lagEntries: number;
  lagMs: number;
  outcomeMismatches: number;
  recordsApplied: number;
  error?: string;
  snapshotsInstalled?: number;
  snapshotStart?: { index: number; source: string; startOffset: string; reason: string };
  bootstrapError?: string;
  /** Reads its KV port served (WEFT_KV_PORT). */
  readsServed?: number;
}
export const materializerStatus = async (port: number): Promise<FeedView[]> => {
  const res = await fetch(`http://127.0.0.1:${port}/materializer`);
  return ((await res.json()) as { shards: FeedView[] }).shards;
};

/**
 * Waits until a materializer (GET /materializer on `port`) and a replica of every shard are at
 * the same applied index, and expects the same state hash there.
 */
export async function materializerMatchesReplicas(port: number, d: MirroredDemo): Promise<void> {
  const targets = await until('every shard mirrored up to its applied index', () => caughtUp(d.http, d.shards), 90_000);
  const kv = d.kv;
  for (const shard of d.shards) {
    const client = new RemoteShardKv({ shardId: shard, replicas: kv.map((k) => ({ nodeId: k.nodeId, host: '127.0.0.1', port: k.port })), requestTimeoutMs: 3000 });
    try {
      await until(`materializer and a replica of shard ${shard} at one index (topic at ${targets.get(shard)})`, async () => {
        const feed = (await materializerStatus(port)).find((f) => f.shardId === shard);
        if (feed === undefined || feed.error !== undefined) throw new Error(`materializer shard ${shard}: ${feed?.error ?? 'missing'}`);
        expect(feed.outcomeMismatches).toBe(0);
        for (const k of kv) {
          const st = await client.replicaStatus(k.nodeId).catch(() => undefined);
          if (st !== undefined && st.appliedIndex === feed.appliedIndex) {
            expect([shard, feed.appliedIndex, feed.stateHash]).toEqual([shard, st.appliedIndex, st.stateHash.toString('hex')]);
            return true;
          }
        }
        return undefined;
      }, 90_000);
    } finally {
      client.close();
    }
  }
}

/** Inserts rows one autocommit statement at a time until stopped; reconnects after errors. */
export class Writer {
  readonly acked: number[] = [];
  readonly errors: string[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly port: number,
    private readonly table: string,
    private nextId: number,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    let c: Client | undefined;
    while (this.running) {
      try {
        c ??= await connect(this.port);
        const id = this.nextId++;
        await c.query(`INSERT INTO ${this.table} (id, v) VALUES ($1, $2)`, [id, `row ${id}`]);
        this.acked.push(id);
      } catch (e) {
        this.errors.push(String(e));
        await c?.end().catch(() => undefined);
        c = undefined;
        await sleep(100);
      }
    }
    await c?.end().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

