import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KvRpcError, RemoteShardKv } from '@weft/kvrpc';
import type { CommitEntry, Timestamp } from '@weft/logentry';
import { AmbiguousResultError } from '@weft/replica';
import { freePort } from '../../../test/support/ports';
import { ELECTION_TICKS, NodeHost } from './node-host';

// Three NodeHosts in one process (real WALs, RocksDB, Raft transport and KV RPC on loopback),
// each hosting a replica of shards 1-4 (a fifth is added while they run), driven through
// RemoteShardKv with each shard's id: multi-Raft with one WAL and one transport per node.
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const SHARDS = [1, 2, 3, 4];
const NODES = [1, 2, 3];
const TICK_MS = 20;
const EVERY = 60;
const MARGIN = 5;

let seq = 0;
function commit(k: string, v: string, readTs: Timestamp): CommitEntry {
  const txnId = Buffer.alloc(16);
  txnId.writeUInt32BE(++seq, 12);
  return { type: 'commit', txnId, readTs, minCommitTs: 0n, reads: [], writes: [{ kind: 'put', key: Buffer.from(k), value: Buffer.from(v) }] };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await Promise.resolve().then(cond).catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('NodeHost: many shards per node process', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-nodehost-'));
  const nodes = new Map<number, NodeHost>();
  const raftPorts = new Map<number, number>();
  const kvPorts = new Map<number, number>();
  const clients = new Map<number, RemoteShardKv>();

  const start = async (id: number, shards = SHARDS): Promise<NodeHost> => {
    const n = new NodeHost({
      nodeId: id,
      dataDir: path.join(dir, `n${id}`),
      bindHost: '127.0.0.1',
      raftPort: raftPorts.get(id) as number,
      kvPort: kvPorts.get(id) as number,
      peers: NODES.map((nodeId) => ({ nodeId, host: '127.0.0.1', port: raftPorts.get(nodeId) as number })),
      shards: shards.map((shardId) => ({ shardId, voters: NODES })),
      logger: quiet,
      tickMs: TICK_MS,
      snapshotEveryEntries: EVERY,
      compactionMarginEntries: MARGIN,
    });
    await n.start();
    nodes.set(id, n);
    return n;
  };
  const stop = async (id: number): Promise<void> => {
    await nodes.get(id)?.stop();
    nodes.delete(id);
  };

  const kv = (shardId: number): RemoteShardKv => {
    let c = clients.get(shardId);
    if (!c) {
      c = new RemoteShardKv({ shardId, replicas: NODES.map((nodeId) => ({ nodeId, host: '127.0.0.1', port: kvPorts.get(nodeId) as number })) });
      clients.set(shardId, c);
    }
    return c;
  };

  /** key = value on a shard; an ambiguous outcome (leader change) is retried, rewriting the same value is harmless. */
  const put = async (shardId: number, k: string, v: string): Promise<Timestamp> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await kv(shardId).propose(commit(k, v, await kv(shardId).now()));
        if (r.status !== 'committed') throw new Error(`shard ${shardId} write ${k}: ${JSON.stringify(r)}`);
        return r.commitTs;
      } catch (e) {
        if (!(e instanceof AmbiguousResultError) || attempt === 5) throw e;
      }
    }
  };
  const write = async (shardId: number, prefix: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => put(shardId, `${prefix}${i + j}`, `s${shardId}v${i + j}`)));
    }
  };

  /** Every replica of the shard on `ids` at the same applied index and state hash; returns the hash. */
  const converged = async (shardId: number, ids = [...nodes.keys()]): Promise<string> => {
    let hash = '';
    await until(`shard ${shardId} converged on ${ids.join(',')}`, async () => {
      const st = await Promise.all(ids.map((id) => kv(shardId).replicaStatus(id)));
      hash = st[0].stateHash.toString('hex');
      return st.every((s) => s.appliedIndex === st[0].appliedIndex && s.stateHash.equals(st[0].stateHash));
    });
    return hash;
  };

  beforeAll(async () => {
    for (const id of NODES) {
      raftPorts.set(id, await freePort());
      kvPorts.set(id, await freePort());
    }
    await Promise.all(NODES.map((id) => start(id)));
  }, 30000);

  afterAll(async () => {
    for (const c of clients.values()) c.close();
    for (const id of [...nodes.keys()]) await stop(id);
    rmSync(dir, { recursive: true, force: true });
  });

  it('every shard elects a leader, and entries land only in their own shard', async () => {
    for (const n of nodes.values()) expect(n.shardIds()).toEqual(SHARDS);
    for (const s of SHARDS) {
      await until(`shard ${s} has a leader`, () => [...nodes.values()].some((n) => n.replica(s)?.isLeader() === true));
      // Exactly one replica of each shard leads.
      expect([...nodes.values()].filter((n) => n.replica(s)?.isLeader()).length).toBe(1);
    }
    // Same keys, different values per shard (and shard s gets s*5 extra keys): each shard's
    // state is only what was proposed to it.
    await Promise.all(SHARDS.map((s) => write(s, 'k', 10 + s * 5)));
    const hashes = await Promise.all(SHARDS.map((s) => converged(s)));
    expect(new Set(hashes).size).toBe(SHARDS.length);
    for (const s of SHARDS) {
      const c = kv(s);
      const now = await c.now();
      expect((await c.get(Buffer.from('k0'), now))?.value.toString()).toBe(`s${s}v0`);
      const page = await c.scan(Buffer.from('k'), Buffer.from('l'), now);
      expect(page.rows.length).toBe(10 + s * 5);
      expect(page.rows.every((r) => r.value.toString().startsWith(`s${s}v`))).toBe(true);
    }
    // A shard no node hosts is refused, not confused with another.
    const stray = kv(99);
    await expect(stray.now()).rejects.toThrow(KvRpcError);
    await expect(stray.now()).rejects.toMatchObject({ code: 'unknown-shard' });
  }, 60000);

  it('compaction is per shard: only the busy shard snapshots, and compact(shard) works on demand', async () => {
    const before = new Map(SHARDS.map((s) => [s, [...nodes.values()].map((n) => n.snapshotStats(s).taken)]));
    await write(2, 'busy', EVERY + 20);
    await converged(2);
    for (const n of nodes.values()) {
      expect(n.snapshotStats(2).taken).toBeGreaterThan(0);
      const st = n.logStatus(2);
      expect(st.firstIndex).toBeGreaterThan(EVERY - MARGIN);
      expect(st.snapshotIndex).toBeGreaterThanOrEqual(EVERY);
    }
    // The idle shards only apply the leader's periodic closed-timestamp entries: far below EVERY.
    for (const s of [1, 3, 4]) expect([...nodes.values()].map((n) => n.snapshotStats(s).taken)).toEqual(before.get(s));

    // On demand, one shard on one node: its snapshot moves to its applied index, the others stay.
    const n1 = nodes.get(1) as NodeHost;
    const other = n1.logStatus(3).snapshotIndex;
    await n1.compact(4);
    const st4 = n1.logStatus(4);
    expect(st4.snapshotIndex).toBeGreaterThan(0);
    expect(st4.snapshotIndex).toBeLessThanOrEqual(st4.appliedIndex);
    expect(n1.logStatus(3).snapshotIndex).toBe(other);
    await expect(n1.compact(42)).rejects.toThrow(/not hosted/);
  }, 60000);

  it('a restarted node recovers every shard from its WAL (joining once, after one hold-off) and catches up', async () => {
    const victim = 3;
    const beforeStop = new Map(SHARDS.map((s) => [s, (nodes.get(victim) as NodeHost).logStatus(s).appliedIndex]));
    await stop(victim);
    // Writes to every shard while it is down (small: caught up from the log, not a snapshot).
    await Promise.all(SHARDS.map((s) => write(s, 'down', 5)));
    const t0 = Date.now();
    const back = await start(victim);
    const took = Date.now() - t0;
    // One hold-off for the process, not one per shard (four in a row would take 4x as long).
    const hold = 2 * ELECTION_TICKS * TICK_MS;
    expect(took).toBeGreaterThanOrEqual(hold - 50);
    expect(took).toBeLessThan(SHARDS.length * hold);
    for (const s of SHARDS) {
      // What it had applied came back from its own state and log, before anyone sent it anything new.
      expect(back.logStatus(s).appliedIndex).toBeGreaterThanOrEqual(beforeStop.get(s) as number);
      await put(s, 'after-restart', `s${s}`);
    }
    const hashes = await Promise.all(SHARDS.map((s) => converged(s, NODES)));
    expect(new Set(hashes).size).toBe(SHARDS.length);
    for (const s of SHARDS) expect(back.snapshotStats(s).installed).toBe(0);
  }, 60000);

  it('a shard compacted past a stopped node is caught up by a snapshot of that shard only', async () => {
    const victim = [...nodes.keys()].find((id) => !nodes.get(id)?.replica(3)?.isLeader()) as number;
    const behind = (nodes.get(victim) as NodeHost).logStatus(3).appliedIndex;
    await stop(victim);
    await write(3, 'snap', EVERY + MARGIN + 20);
    await until('shard 3 compacted past the victim on the others', () =>
      [...nodes.values()].every((n) => n.logStatus(3).firstIndex > behind + 1),
    );
    const back = await start(victim);
    await until('shard 3 snapshot installed', () => back.snapshotStats(3).installed > 0);
    await put(3, 'after-snap', 'x');
    await converged(3, NODES);
    for (const s of [1, 2, 4]) {
      expect(back.snapshotStats(s).installed).toBe(0);
      await converged(s, NODES);
    }
  }, 60000);

  it('a shard added while the nodes run elects a leader and serves its own data', async () => {
    await Promise.all([...nodes.values()].map((n) => n.addShard(5, NODES)));
    await expect((nodes.get(1) as NodeHost).addShard(5, NODES)).rejects.toThrow(/already hosted/);
    await write(5, 'five', 12);
    const h5 = await converged(5, NODES);
    const h1 = await converged(1, NODES);
    expect(h5).not.toBe(h1);
    for (const n of nodes.values()) expect(n.shardIds()).toEqual([...SHARDS, 5]);
  }, 60000);

  it('removing a replica keeps its state unless asked to delete it (a replica its group no longer lists)', async () => {
    const n3 = nodes.get(3) as NodeHost;
    const stateOf = (): string[] => readdirSync(path.join(dir, 'n3')).filter((f) => /^shard-5(\.|$)/.test(f));
    await n3.removeShard(5);
    expect(n3.shardIds()).not.toContain(5);
    expect(stateOf()).not.toEqual([]);
    await write(5, 'five-without-3', 5); // two of three replicas still commit
    await n3.addShard(5, NODES); // the kept state rejoins like a restarted replica
    await converged(5, NODES);
    await n3.removeShard(5, { destroyState: true });
    expect(stateOf()).toEqual([]);
    await write(5, 'five-after', 5);
    await converged(5, [1, 2]);
  }, 60000);
});
