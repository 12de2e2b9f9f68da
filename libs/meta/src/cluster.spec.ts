import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KvError } from '@weft/kv';
import { freePort } from '../../../test/support/ports';
import { MetaClient } from './client';
import { MetaReplica } from './replica';
import { MetaServer } from './server';
import { systemMetaClock, type MetaClock, type NodeInfo, type ShardRecord } from './types';

// Three meta replicas in one process (real WALs, Raft transport, TypeORM catalogs on disk and
// the meta RPC on loopback), driven through MetaClient like gateways and nodes will be.
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const IDS = [1, 2, 3];
const TICK_MS = 50;
const ELECTION_TICKS = 10;
const DEAD_AFTER_MS = 10_000;

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await Promise.resolve().then(cond).catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Real time plus an offset the test moves forward (liveness without waiting 10 s). */
class SkewClock implements MetaClock {
  offsetMs = 0;
  nowMs(): number {
    return systemMetaClock.nowMs() + this.offsetMs;
  }
  nowUs(): bigint {
    return systemMetaClock.nowUs() + BigInt(this.offsetMs) * 1000n;
  }
}

const nodeInfo = (nodeId: number, zone: string, leading: number[] = []): NodeInfo => ({ nodeId, address: '127.0.0.1', kvPort: 7200 + nodeId, raftPort: 7100 + nodeId, region: 'r1', zone, leading });

describe('meta service: 3 replicas', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-meta-'));
  const raftPorts = new Map<number, number>();
  const rpcPorts = new Map<number, number>();
  const replicas = new Map<number, MetaReplica>();
  const servers = new Map<number, MetaServer>();
  const clock = new SkewClock();
  let client: MetaClient;

  const start = async (id: number): Promise<MetaReplica> => {
    const r = new MetaReplica({
      metaId: id,
      dataDir: path.join(dir, `m${id}`),
      bindHost: '127.0.0.1',
      raftPort: raftPorts.get(id) as number,
      peers: IDS.map((nodeId) => ({ nodeId, host: '127.0.0.1', port: raftPorts.get(nodeId) as number })),
      logger: quiet,
      tickMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
      clock,
      deadAfterMs: DEAD_AFTER_MS,
      // Rebalancing is covered by placement.spec and test/meta-placement; here placement stays put.
      rebalanceIntervalMs: 0,
      maintenanceMs: 50,
      beatFlushMs: 200,
      shardCount: 4,
      snapshotEveryEntries: 50,
      requestTimeoutMs: 1500,
    });
    await r.start();
    const s = new MetaServer({ host: '127.0.0.1', port: rpcPorts.get(id) as number, replica: r });
    await s.listen();
    replicas.set(id, r);
    servers.set(id, s);
    return r;
  };
  const stop = async (id: number): Promise<void> => {
    await servers.get(id)?.close();
    await replicas.get(id)?.stop();
    servers.delete(id);
    replicas.delete(id);
  };
  const leader = (): MetaReplica | undefined => [...replicas.values()].find((r) => r.isReadyLeader());

  beforeAll(async () => {
    for (const id of IDS) {
      raftPorts.set(id, await freePort());
      rpcPorts.set(id, await freePort());
    }
    await Promise.all(IDS.map((id) => start(id)));
    client = new MetaClient({ endpoints: IDS.map((metaId) => ({ metaId, host: '127.0.0.1', port: rpcPorts.get(metaId) as number })), deadlineMs: 5000, attemptTimeoutMs: 2000 });
    await until('a meta leader', () => leader() !== undefined);
  });

  afterAll(async () => {
    client.close();
    for (const id of [...replicas.keys()]) await stop(id);
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers nodes, places the bootstrapped shards over 3 zones, followers redirect', async () => {
    const follower = IDS.find((id) => !replicas.get(id)?.isReadyLeader()) as number;
    const direct = new MetaClient({ endpoints: [{ metaId: follower, host: '127.0.0.1', port: rpcPorts.get(follower) as number }], deadlineMs: 1000 });
    await expect(direct.tso()).rejects.toMatchObject({ code: 'unavailable' }); // only the follower: it redirects, nobody else to ask
    direct.close();
    await expect(client.tso(0)).rejects.toMatchObject({ code: 'bad-request' }); // refused at once, not retried
    const statuses = await Promise.all(IDS.map((id) => client.status(id)));
    expect(statuses.filter((st) => st.role === 'leader')).toHaveLength(1);
    expect(new Set(statuses.map((st) => st.leader)).size).toBe(1);

    for (const [id, zone] of [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'a']] as const) await client.heartbeat(nodeInfo(id, zone, id === 2 ? [1, 2] : []));
    await until('4 shards placed', async () => (await client.shardMap()).every((s) => s.replicas.length === 3));
    const shards = await client.shardMap();
    expect(shards.map((s) => [s.shardId, s.hashLo, s.hashHi])).toEqual([
      [1, 0, 16384],
      [2, 16384, 32768],
      [3, 32768, 49152],
      [4, 49152, 65536],
    ]);
    const zoneOf = new Map([[1, 'a'], [2, 'b'], [3, 'c'], [4, 'a']]);
    for (const s of shards) expect(new Set(s.replicas.map((r) => zoneOf.get(r))).size).toBe(3);
    await until('leaseholder hints', async () => (await client.shardMap()).filter((s) => s.leaseholder === 2).length === 2);
    expect((await client.nodes()).map((n) => [n.nodeId, n.state, n.zone])).toEqual([
      [1, 'live', 'a'],
      [2, 'live', 'b'],
      [3, 'live', 'c'],
      [4, 'live', 'a'],
    ]);
  });

  it('marks a silent node suspect, then dead after WEFT_META_DEAD_AFTER_MS, and re-places its replicas on live nodes', async () => {
    const shardsBefore = await client.shardMap();
    expect(shardsBefore.every((s) => s.bootstrapVoters.join() === s.replicas.join())).toBe(true);
    // Shards are placed once 3 nodes are live, so node 4 may hold none. The victim is a zone-a
    // node holding replicas; the other zone-a node is the only replacement that keeps zones apart.
    const victim = shardsBefore.some((s) => s.replicas.includes(4)) ? 4 : 1;
    const spare = victim === 4 ? 1 : 4;
    const zones = [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'a']] as const;
    const beatOthers = async (): Promise<void> => {
      for (const [id, zone] of zones) if (id !== victim) await client.heartbeat(nodeInfo(id, zone));
    };
    clock.offsetMs += DEAD_AFTER_MS / 2 + 100;
    await beatOthers();
    const notLive = async (): Promise<string> => JSON.stringify((await client.nodes()).filter((n) => n.state !== 'live').map((n) => [n.nodeId, n.state]));
    // The others may be suspected for a moment (the clock jumped before they could beat): their
    // heartbeats bring them back.
    await until(`only node ${victim} suspect`, async () => (await notLive()) === `[[${victim},"suspect"]]`);
    clock.offsetMs += DEAD_AFTER_MS / 2;
    await beatOthers();
    await until(`only node ${victim} dead`, async () => (await notLive()) === `[[${victim},"dead"]]`);
    // Every replica applied the same: the dead mark is in the log, not only in the leader's memory.
    await until('dead everywhere', async () => {
      for (const r of replicas.values()) {
        await r.flushed();
        if ((await r.catalogContents()).nodes.find((n) => n.nodeId === victim)?.state !== 'dead') return false;
      }
      return true;
    });
    // The leader re-places what lived on the victim by itself: the spare takes over each of its
    // replicas; the survivors stay, and the moved shards no longer bootstrap.
    const before = new Map(shardsBefore.map((s) => [s.shardId, s]));
    await until(`node ${victim} replaced`, async () => (await client.shardMap()).every((s) => !s.replicas.includes(victim)));
    const after = await client.shardMap();
    for (const s of after) {
      const was = before.get(s.shardId) as ShardRecord;
      if (!was.replicas.includes(victim)) {
        expect(s.replicas).toEqual(was.replicas);
        continue;
      }
      expect(s.replicas).toEqual(was.replicas.map((r) => (r === victim ? spare : r)).sort((a, b) => a - b));
      expect(s.version).toBe(was.version + 1);
      expect(s.bootstrapVoters).toEqual([]);
    }
    expect(shardsBefore.some((s) => s.replicas.includes(victim))).toBe(true);
    expect(await client.repairPlan()).toEqual([]);
    // A heartbeat brings it back.
    await client.heartbeat(nodeInfo(victim, 'a'));
    expect((await client.nodes()).find((n) => n.nodeId === victim)?.state).toBe('live');
  });

  it('batches concurrent TSO requests into few log writes', async () => {
    const l = leader() as MetaReplica;
    await l.tsoRange(1);
    const before = { ...l.stats };
    const got = await Promise.all(Array.from({ length: 300 }, () => l.tsoRange(1)));
    const extends_ = l.stats.tsoExtends - before.tsoExtends;
    expect(extends_).toBeLessThanOrEqual(2);
    expect(l.stats.proposals - before.proposals).toBeLessThanOrEqual(4);
    const firsts = got.map((r) => r.first);
    expect(new Set(firsts).size).toBe(300);
    // Over the RPC too: 200 concurrent calls through one client.
    const rpc = await Promise.all(Array.from({ length: 200 }, () => client.tso(2)));
    const all = [...firsts, ...rpc.flatMap((r) => [r.first, r.first + 1n])];
    expect(new Set(all.map(String)).size).toBe(all.length);
  });

  it('keeps TSO strictly monotonic across a leader change, and a restarted replica resumes from its persisted applied index', async () => {
    const seen: bigint[] = [];
    for (let i = 0; i < 20; i++) seen.push((await client.tso(1)).first);
    const old = leader() as MetaReplica;
    const oldId = old.metaId;
    const highBefore = old.status().tsoHighUs;
    await stop(oldId);
    const appliedAtStop = old.status().appliedIndex;
    const maxBefore = seen.reduce((a, b) => (b > a ? b : a));
    const after: bigint[] = [];
    for (let i = 0; i < 20; i++) after.push((await client.tso(1)).first);
    const newLeader = leader() as MetaReplica;
    expect(newLeader.metaId).not.toBe(oldId);
    for (const t of after) expect(t).toBeGreaterThan(maxBefore);
    for (const t of after) expect(t).toBeGreaterThan(highBefore); // above the old leader's whole window
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]);
    for (let i = 1; i < after.length; i++) expect(after[i]).toBeGreaterThan(after[i - 1]);

    const back = await start(oldId);
    // Resumed exactly: the catalog's applied index is where the replica stopped (nothing replayed yet).
    expect(back.status().persistedIndex).toBe(appliedAtStop);
    expect(back.status().appliedIndex).toBe(appliedAtStop);
    await client.tso(1);
    await until('restarted replica caught up', () => back.status().appliedIndex >= newLeader.status().appliedIndex);
    await back.flushed();
    await newLeader.flushed();
    const a = await back.catalogContents();
    const b = await newLeader.catalogContents();
    expect({ ...a, appliedIndex: 0 }).toEqual({ ...b, appliedIndex: 0 });
  });

  it('catches up a replica whose entries were compacted away with a snapshot of the state', async () => {
    const l = leader() as MetaReplica;
    const lagging = IDS.find((id) => id !== l.metaId) as number;
    const appliedAtStop = (replicas.get(lagging) as MetaReplica).status().appliedIndex;
    await stop(lagging);
    // Each address change is one log entry; enough to pass the compaction margin (100).
    for (let i = 0; i < 220; i++) await client.heartbeat({ ...nodeInfo(1, 'a'), address: `10.9.0.${i % 2}` });
    await l.flushed();
    await until('leader compacted', async () => {
      await l.flushed();
      return l.stats.snapshots > 0;
    });
    // The entries the stopped replica lacks are gone from the leader's log: only a snapshot helps.
    expect(l.logStatus().firstIndex).toBeGreaterThan(appliedAtStop + 1);
    const back = await start(lagging);
    expect(back.status().appliedIndex).toBe(appliedAtStop);
    await until('snapshot installed and caught up', () => back.status().appliedIndex >= l.status().appliedIndex);
    await back.flushed();
    await l.flushed();
    const a = await back.catalogContents();
    const b = await l.catalogContents();
    expect(a.nodes).toEqual(b.nodes);
    expect(a.shards).toEqual(b.shards);
    expect(a.tsoHighUs).toBe(b.tsoHighUs);
    expect(a.nodes.find((n) => n.nodeId === 1)?.address).toBe('10.9.0.1');
    expect(back.logStatus().snapshotIndex).toBeGreaterThan(appliedAtStop);
  });

  it('fails TSO with a clear unavailable error, within a bounded time, once quorum is lost', async () => {
    const l = leader() as MetaReplica;
    const others = IDS.filter((id) => id !== l.metaId);
    for (const id of others) await stop(id);
    // Within the leader's lease a timestamp is still correct (no other leader can exist until it
    // runs out); after that every call must fail. Every success must still be the newest.
    const t0 = Date.now();
    let err: unknown;
    let last = 0n;
    while (Date.now() - t0 < 15_000) {
      try {
        const r = await client.tso(1);
        expect(r.first).toBeGreaterThan(last);
        last = r.first;
      } catch (e) {
        err = e;
        break;
      }
    }
    expect(err).toBeInstanceOf(KvError);
    expect((err as KvError).code).toBe('unavailable');
    expect((err as KvError).sqlstate).toBe('57P03');
    expect(Date.now() - t0).toBeLessThan(8000);
    // The isolated replica itself refuses too (no stale timestamp from a lone leader).
    const direct = await l.tsoRange(1).then(
      () => 'answered',
      (e: unknown) => (e instanceof KvError ? e.code : String(e)),
    );
    expect(['unavailable', 'not-leader']).toContain(direct);
  });
});
