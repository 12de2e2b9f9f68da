// Meta places the shards (real processes: one meta replica, storage nodes, a gateway routed by
// meta).
// - A node killed for good has its replicas re-created on the spare node: meta re-places them
//   after WEFT_META_DEAD_AFTER_MS, each shard's leader adds the new node as a learner, streams it
//   a snapshot, promotes it and removes the dead one. No acknowledged row is lost, the new
//   replicas converge to the same state hash, and the shards survive losing a second original
//   node (which they could not if the dead node still held a vote).
// - A node that joins a running cluster gets its share of replicas (rebalancing), moved the same
//   way while a writer runs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { RemoteShardKv } from '@weft/kvrpc';
import { MetaClient, type ShardRecord } from '@weft/meta';
import { freePort } from './support/ports';
import { spawnNode, waitForHttp, type Spawned } from './support/process';
import { waitForSql } from './support/weft-server';

const SHARDS = 4;
const DEAD_AFTER_MS = 4000;

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}


/** One meta replica, nodes started on demand, a gateway routed by meta. */
class PlacementCluster {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'weft-placement-'));
  readonly procs = new Map<string, Spawned>();
  readonly kvPorts = new Map<number, number>();
  meta!: MetaClient;
  pg!: Client;
  private metaRpc = 0;
  private readonly shardKv = new Map<number, RemoteShardKv>();

  constructor(private readonly metaEnv: Readonly<Record<string, string>>) {}

  async start(nodes: readonly number[]): Promise<void> {
    let metaRaft = 0;
    await this.startHealthy('meta', async (port) => {
      metaRaft = await port();
      this.metaRpc = await port();
      return spawnNode('dist/apps/meta/src/main.js', {
        WEFT_META_ID: '1',
        WEFT_META_PEERS: `1@127.0.0.1:${metaRaft}`,
        WEFT_META_RPC_PORT: String(this.metaRpc),
        WEFT_HTTP_PORT: String(await port('http')),
        WEFT_METRICS_PORT: String(await port()),
        WEFT_DATA_DIR: path.join(this.dir, 'meta'),
        WEFT_SHARD_COUNT: String(SHARDS),
        WEFT_META_DEAD_AFTER_MS: String(DEAD_AFTER_MS),
        WEFT_LOG_LEVEL: 'warn',
        ...this.metaEnv,
      });
    });
    this.meta = new MetaClient({ endpoints: [{ metaId: 1, host: '127.0.0.1', port: this.metaRpc }] });
    for (const id of nodes) await this.startNode(id);
    const pgPort = await freePort();
    const gw = spawnNode('dist/apps/gateway/src/main.js', {
      WEFT_BIND_HOST: '127.0.0.1',
      WEFT_PG_PORT: String(pgPort),
      WEFT_HTTP_PORT: String(await freePort()),
      WEFT_METRICS_PORT: String(await freePort()),
      WEFT_DATA_DIR: path.join(this.dir, 'gateway'),
      // Routes by meta's map: it must find nodes through meta once replicas move to them.
      WEFT_META_ADDRS: `1@127.0.0.1:${this.metaRpc}`,
      WEFT_LOG_LEVEL: 'warn',
    });
    this.procs.set('gateway', gw);
    await waitForSql('127.0.0.1', pgPort, 60_000, gw);
    this.pg = new Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', database: 'postgres' });
    await this.pg.connect();
  }

  async startNode(id: number): Promise<void> {
    await this.startHealthy(`node-${id}`, async (port) => {
      const kv = await port();
      this.kvPorts.set(id, kv);
      return spawnNode('dist/apps/node/src/main.js', {
        WEFT_NODE_ID: String(id),
        WEFT_DATA_DIR: path.join(this.dir, `node-${id}`),
        WEFT_HTTP_PORT: String(await port('http')),
        WEFT_METRICS_PORT: String(await port()),
        WEFT_RAFT_PORT: String(await port()),
        WEFT_KV_PORT: String(kv),
        WEFT_META_ADDRS: `1@127.0.0.1:${this.metaRpc}`,
        WEFT_LOG_LEVEL: process.env.WEFT_TEST_DUMP ? 'info' : 'warn',
      });
    });
    for (const kvc of this.shardKv.values()) kvc.close();
    this.shardKv.clear();
  }

  /**
   * Starts a process on fresh free ports and waits for its /health. A process that exits first
   * (another suite took one of its ports between freePort and its bind) is started again on
   * other ports; one that neither answers nor exits fails with its output.
   */
  private async startHealthy(name: string, spawn: (port: (purpose?: 'http') => Promise<number>) => Promise<Spawned>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let http = 0;
      const proc = await spawn(async (purpose) => {
        const p = await freePort();
        if (purpose === 'http') http = p;
        return p;
      });
      this.procs.set(name, proc);
      const exited = proc.exited.then((code) => ({ exited: code }));
      const healthy = waitForHttp(`http://127.0.0.1:${http}/health`, 60_000).then(() => ({ exited: undefined }));
      const r = await Promise.race([healthy, exited]).catch((e: unknown) => ({ exited: undefined, error: e }));
      if (r.exited === undefined && !('error' in r)) return;
      if (r.exited !== undefined && attempt < 3) continue;
      throw new Error(`${name} did not become healthy (${r.exited !== undefined ? `exited ${String(r.exited)}` : 'no answer'}):\n${proc.stderr().slice(-3000)}\n${proc.stdout().slice(-3000)}`);
    }
  }

  async kill(name: string): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }

  private kvOf(shardId: number): RemoteShardKv {
    let kv = this.shardKv.get(shardId);
    if (!kv) {
      const replicas = [...this.kvPorts].map(([nodeId, port]) => ({ nodeId, host: '127.0.0.1', port }));
      kv = new RemoteShardKv({ shardId, replicas, requestTimeoutMs: 2000, deadlineMs: 5000 });
      this.shardKv.set(shardId, kv);
    }
    return kv;
  }

  /** Every placed replica of every shard reports the same applied index and state hash, and the group's voters are the placement. */
  async converged(map: readonly ShardRecord[]): Promise<boolean> {
    for (const s of map) {
      const kv = this.kvOf(s.shardId);
      const st = await Promise.all(s.replicas.map((n) => kv.replicaStatus(n)));
      if (!st.every((x) => x.appliedIndex > 0 && x.appliedIndex === st[0].appliedIndex && x.stateHash.equals(st[0].stateHash))) {
        throw new Error(`shard ${s.shardId} not converged: ${st.map((x) => `n${x.nodeId}@${x.appliedIndex}:${x.stateHash.toString('hex').slice(0, 8)}`).join(' ')}`);
      }
      if (!st.every((x) => [...x.voters].sort((a, b) => a - b).join() === s.replicas.join())) {
        throw new Error(`shard ${s.shardId} voters: ${st.map((x) => `n${x.nodeId}:[${x.voters.join()}]`).join(' ')}, placement [${s.replicas.join()}]`);
      }
    }
    return true;
  }

  async stop(): Promise<void> {
    if (process.env.WEFT_TEST_DUMP) {
      for (const [n, p] of this.procs) writeFileSync(path.join(process.env.WEFT_TEST_DUMP, `${n}.log`), `${p.stdout()}\n${p.stderr()}`);
    }
    await this.pg?.end().catch(() => undefined);
    this.meta?.close();
    for (const kv of this.shardKv.values()) kv.close();
    for (const name of this.procs.keys()) await this.kill(name);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Inserts rows in batches through SQL. A failed batch (a leader lost mid-commit can leave the
 * outcome unknown) is looked up: all of its rows or none, never a part.
 */
class Writer {
  next = 0;
  constructor(private readonly pg: Client) {}

  async insert(count: number): Promise<void> {
    const lo = this.next;
    const hi = this.next + count - 1;
    try {
      await this.pg.query(`INSERT INTO accounts SELECT g, 'owner-' || g, 100 FROM generate_series(${lo}, ${hi}) g`);
    } catch (e) {
      const r = await this.pg.query<{ n: string }>(`SELECT count(*)::text AS n FROM accounts WHERE id BETWEEN ${lo} AND ${hi}`);
      if (r.rows[0].n === '0') throw e;
      expect(r.rows[0].n).toBe(String(count));
    }
    this.next += count;
  }

  /** Every acknowledged row is there, once. */
  async check(): Promise<void> {
    const r = await this.pg.query<{ n: string; s: string; d: string }>('SELECT count(*)::text AS n, sum(balance)::text AS s, count(DISTINCT id)::text AS d FROM accounts');
    expect(r.rows[0]).toEqual({ n: String(this.next), s: String(this.next * 100), d: String(this.next) });
  }
}

describe('meta places shards and replaces the replicas of a dead node', () => {
  // Rebalancing off: node 4 stays the spare until a node dies.
  const c = new PlacementCluster({ WEFT_META_REBALANCE_INTERVAL_MS: '0' });
  beforeAll(() => c.start([1, 2, 3, 4]), 120_000);
  afterAll(() => c.stop());

  it('hosts each shard on the 3 nodes meta placed it on, and moves a dead node\'s replicas to the spare', async () => {
    const placed = await until('every shard placed on 3 of the 4 nodes', 30_000, async () => {
      const m = await c.meta.shardMap();
      return m.length === SHARDS && m.every((s) => s.replicas.length === 3) ? m : undefined;
    });
    // Meta places the shards as soon as 3 nodes are live: the nodes started in order, so node 4
    // is the spare.
    for (const s of placed) expect(s.replicas).toEqual([1, 2, 3]);
    for (const s of placed) expect(s.bootstrapVoters).toEqual([1, 2, 3]);

    await c.pg.query('CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)');
    const w = new Writer(c.pg);
    for (let i = 0; i < 4; i++) await w.insert(50);
    await until('replicas converged after the load', 30_000, () => c.converged(placed));

    // Kill a node for good; the writer keeps going while meta and the shard leaders repair.
    const victim = 3;
    const moved = placed.filter((s) => s.replicas.includes(victim));
    expect(moved.length).toBeGreaterThan(0);
    await c.kill(`node-${victim}`);
    const repaired = await until('meta re-placed the dead node\'s replicas', 60_000, async () => {
      await w.insert(10);
      const m = await c.meta.shardMap();
      return m.every((s) => !s.replicas.includes(victim)) ? m : undefined;
    });
    for (const s of repaired) {
      const was = placed.find((p) => p.shardId === s.shardId) as ShardRecord;
      // Survivors stay; the dead node's place goes to the spare.
      expect(s.replicas).toEqual(was.replicas.map((r) => (r === victim ? 4 : r)).sort((a, b) => a - b));
      expect(s.bootstrapVoters).toEqual([]);
    }
    // The new replicas received a snapshot, caught up (same state as the old ones) and vote.
    await w.insert(10);
    await until('every placed replica converged', 90_000, () => c.converged(repaired));

    // The new replicas vote: with a second original node gone every shard still commits, which
    // needs the new node's vote wherever both lost nodes were placed.
    const second = 1;
    await c.kill(`node-${second}`);
    const acked = w.next;
    await until('writes commit on every shard after losing a second node', 60_000, async () => {
      await w.insert(20);
      return true;
    });
    expect(w.next).toBeGreaterThan(acked);
    await w.check();
  }, 300_000);
});

describe('meta moves replicas onto a node that joins a running cluster', () => {
  const c = new PlacementCluster({ WEFT_META_REBALANCE_INTERVAL_MS: '1500' });
  beforeAll(() => c.start([1, 2, 3]), 120_000);
  afterAll(() => c.stop());

  it('gives the new node its share while a writer runs; every moved replica converges and votes, no row is lost', async () => {
    await until('every shard placed', 30_000, async () => ((await c.meta.shardMap()).every((s) => s.replicas.length === 3) ? true : undefined));
    await c.pg.query('CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)');
    const w = new Writer(c.pg);
    for (let i = 0; i < 4; i++) await w.insert(50);
    await c.startNode(4);
    // 12 replicas over 4 nodes: 3 each once balanced (one move per interval).
    const balanced = await until('node 4 holds 3 replicas', 90_000, async () => {
      await w.insert(5);
      const m = await c.meta.shardMap();
      const load = [1, 2, 3, 4].map((n) => m.filter((s) => s.replicas.includes(n)).length);
      return load.every((l) => l === 3) ? m : undefined;
    });
    await w.insert(5);
    await until('moved replicas converged and voting', 90_000, () => c.converged(balanced));
    // The old replicas of moved shards stop serving them (their group no longer lists them).
    await until('moved-away replicas stopped', 60_000, async () => {
      for (const s of balanced) {
        for (const n of [1, 2, 3].filter((x) => !s.replicas.includes(x))) {
          const kv = new RemoteShardKv({ shardId: s.shardId, replicas: [{ nodeId: n, host: '127.0.0.1', port: c.kvPorts.get(n) as number }], requestTimeoutMs: 1000, deadlineMs: 1000 });
          const st = await kv.replicaStatus(n).then(
            () => 'hosted',
            (e: unknown) => ((e as { code?: string }).code === 'unknown-shard' ? 'gone' : 'error'),
          );
          kv.close();
          if (st !== 'gone') return undefined;
        }
      }
      return true;
    });
    await w.check();
  }, 300_000);
});
