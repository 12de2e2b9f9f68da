// Meta places the shards (real processes: one meta replica, four storage nodes, a gateway). A
// node killed for good has its replicas re-created on the spare node: meta re-places them after
// WEFT_META_DEAD_AFTER_MS, each shard's leader adds the new node as a learner, streams it a
// snapshot, promotes it and removes the dead one. No acknowledged row is lost, the new replicas
// converge to the same state hash, and the shards survive losing a second original node (which
// they could not if the dead node still held a vote).
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
const NODES = [1, 2, 3, 4];
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

describe('meta places shards and replaces the replicas of a dead node', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-placement-'));
  const procs = new Map<string, Spawned>();
  const kvPorts = new Map<number, number>();
  let meta: MetaClient;
  let shardKv: Map<number, RemoteShardKv>;
  let pg: Client;
  let pgPort = 0;

  const kill = async (name: string): Promise<void> => {
    const p = procs.get(name);
    if (!p) return;
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  };

  beforeAll(async () => {
    const metaRaft = await freePort();
    const metaRpc = await freePort();
    const metaHttp = await freePort();
    procs.set(
      'meta',
      spawnNode('dist/apps/meta/src/main.js', {
        WEFT_META_ID: '1',
        WEFT_META_PEERS: `1@127.0.0.1:${metaRaft}`,
        WEFT_META_RPC_PORT: String(metaRpc),
        WEFT_HTTP_PORT: String(metaHttp),
        WEFT_METRICS_PORT: String(await freePort()),
        WEFT_DATA_DIR: path.join(dir, 'meta'),
        WEFT_SHARD_COUNT: String(SHARDS),
        WEFT_META_DEAD_AFTER_MS: String(DEAD_AFTER_MS),
        WEFT_LOG_LEVEL: 'warn',
      }),
    );
    await waitForHttp(`http://127.0.0.1:${metaHttp}/health`);
    for (const id of NODES) {
      const http = await freePort();
      const kv = await freePort();
      kvPorts.set(id, kv);
      procs.set(
        `node-${id}`,
        spawnNode('dist/apps/node/src/main.js', {
          WEFT_NODE_ID: String(id),
          WEFT_DATA_DIR: path.join(dir, `node-${id}`),
          WEFT_HTTP_PORT: String(http),
          WEFT_METRICS_PORT: String(await freePort()),
          WEFT_RAFT_PORT: String(await freePort()),
          WEFT_KV_PORT: String(kv),
          WEFT_META_ADDRS: `1@127.0.0.1:${metaRpc}`,
          WEFT_LOG_LEVEL: process.env.WEFT_TEST_DUMP ? 'info' : 'warn',
        }),
      );
      await waitForHttp(`http://127.0.0.1:${http}/health`);
    }
    const replicas = NODES.map((nodeId) => ({ nodeId, host: '127.0.0.1', port: kvPorts.get(nodeId) as number }));
    meta = new MetaClient({ endpoints: [{ metaId: 1, host: '127.0.0.1', port: metaRpc }] });
    shardKv = new Map(Array.from({ length: SHARDS }, (_, i) => [i + 1, new RemoteShardKv({ shardId: i + 1, replicas, requestTimeoutMs: 2000, deadlineMs: 5000 })]));
    pgPort = await freePort();
    const gw = spawnNode('dist/apps/gateway/src/main.js', {
      WEFT_BIND_HOST: '127.0.0.1',
      WEFT_PG_PORT: String(pgPort),
      WEFT_HTTP_PORT: String(await freePort()),
      WEFT_METRICS_PORT: String(await freePort()),
      WEFT_DATA_DIR: path.join(dir, 'gateway'),
      // Routes by meta's map: it must find the spare node through meta once replicas move there.
      WEFT_META_ADDRS: `1@127.0.0.1:${metaRpc}`,
      WEFT_LOG_LEVEL: 'warn',
    });
    procs.set('gateway', gw);
    await waitForSql('127.0.0.1', pgPort, 60_000, gw);
    pg = new Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', database: 'postgres' });
    await pg.connect();
  }, 120_000);

  afterAll(async () => {
    if (process.env.WEFT_TEST_DUMP) {
      for (const [n, p] of procs) writeFileSync(path.join(process.env.WEFT_TEST_DUMP, `${n}.log`), `${p.stdout()}\n${p.stderr()}`);
    }
    await pg?.end().catch(() => undefined);
    meta?.close();
    for (const kv of shardKv?.values() ?? []) kv.close();
    for (const name of procs.keys()) await kill(name);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every placed replica of every shard reports the same applied index and state hash. */
  const converged = async (map: readonly ShardRecord[]): Promise<boolean> => {
    for (const s of map) {
      const kv = shardKv.get(s.shardId) as RemoteShardKv;
      const st = await Promise.all(s.replicas.map((n) => kv.replicaStatus(n)));
      if (!st.every((x) => x.appliedIndex > 0 && x.appliedIndex === st[0].appliedIndex && x.stateHash.equals(st[0].stateHash))) {
        throw new Error(`shard ${s.shardId} not converged: ${st.map((x) => `n${x.nodeId}@${x.appliedIndex}:${x.stateHash.toString('hex').slice(0, 8)}`).join(' ')}`);
      }
      // The group's voters are the placement (the new replica was promoted, the dead one removed).
      if (!st.every((x) => [...x.voters].sort((a, b) => a - b).join() === s.replicas.join())) {
        throw new Error(`shard ${s.shardId} voters: ${st.map((x) => `n${x.nodeId}:[${x.voters.join()}]`).join(' ')}, placement [${s.replicas.join()}]`);
      }
    }
    return true;
  };

  it('hosts each shard on the 3 nodes meta placed it on, and moves a dead node\'s replicas to the spare', async () => {
    const placed = await until('every shard placed on 3 of the 4 nodes', 30_000, async () => {
      const m = await meta.shardMap();
      return m.length === SHARDS && m.every((s) => s.replicas.length === 3) ? m : undefined;
    });
    // Meta places the shards as soon as 3 nodes are live: the nodes started in order, so node 4
    // is the spare (meta does not rebalance onto a node that joins later).
    for (const s of placed) expect(s.replicas).toEqual([1, 2, 3]);
    for (const s of placed) expect(s.bootstrapVoters).toEqual([1, 2, 3]);

    await pg.query('CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)');
    let next = 0;
    // One statement per batch of ids. A failed one (a leader lost mid-commit can leave the
    // outcome unknown) is looked up: all of its rows or none, never a part.
    const insert = async (count: number): Promise<void> => {
      const lo = next;
      const hi = next + count - 1;
      try {
        await pg.query(`INSERT INTO accounts SELECT g, 'owner-' || g, 100 FROM generate_series(${lo}, ${hi}) g`);
      } catch (e) {
        const r = await pg.query<{ n: string }>(`SELECT count(*)::text AS n FROM accounts WHERE id BETWEEN ${lo} AND ${hi}`);
        if (r.rows[0].n === '0') throw e;
        expect(r.rows[0].n).toBe(String(count));
      }
      next += count;
    };
    for (let i = 0; i < 4; i++) await insert(50);
    await until('replicas converged after the load', 30_000, () => converged(placed));

    // Kill a node for good; the writer keeps going while meta and the shard leaders repair.
    const victim = 3;
    const moved = placed.filter((s) => s.replicas.includes(victim));
    expect(moved.length).toBeGreaterThan(0);
    await kill(`node-${victim}`);
    const repaired = await until('meta re-placed the dead node\'s replicas', 60_000, async () => {
      await insert(10);
      const m = await meta.shardMap();
      return m.every((s) => !s.replicas.includes(victim)) ? m : undefined;
    });
    for (const s of repaired) {
      const was = placed.find((p) => p.shardId === s.shardId) as ShardRecord;
      // Survivors stay; the dead node's place goes to the spare.
      expect(s.replicas).toEqual(was.replicas.map((r) => (r === victim ? 4 : r)).sort((a, b) => a - b));
      expect(s.bootstrapVoters).toEqual([]);
    }
    // The new replicas received a snapshot, caught up (same state as the old ones) and vote.
    await insert(10);
    await until('every placed replica converged', 90_000, () => converged(repaired));

    // The new replicas vote: with a second original node gone every shard still commits, which
    // needs the new node's vote wherever both lost nodes were placed.
    const second = 1;
    await kill(`node-${second}`);
    const acked = next;
    await until('writes commit on every shard after losing a second node', 60_000, async () => {
      await insert(20);
      return true;
    });
    const total = next;
    expect(total).toBeGreaterThan(acked);
    const r = await pg.query<{ n: string; s: string }>('SELECT count(*)::text AS n, sum(balance)::text AS s FROM accounts');
    expect(r.rows[0]).toEqual({ n: String(total), s: String(total * 100) });
    const perShard = await pg.query<{ n: string }>('SELECT count(DISTINCT id)::text AS n FROM accounts');
    expect(perShard.rows[0].n).toBe(String(total));
  }, 300_000);
});
