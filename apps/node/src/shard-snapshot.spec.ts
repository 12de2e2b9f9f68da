import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RemoteShardKv } from '@weft/kvrpc';
import { AmbiguousResultError } from '@weft/replica';
import type { CommitEntry, Timestamp } from '@weft/logentry';
import { NodeHost } from '@weft/nodehost';
import { freePort } from '../../../test/support/ports';

// Three NodeHosts in one process with a tiny snapshot threshold: the leader's log is compacted
// past what a stopped (or wiped) replica has, so that replica can only catch up by receiving a
// snapshot of the leader's RocksDB state over the Raft transport.
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const EVERY = 40;
const MARGIN = 5;


let seq = 0;
function commit(k: string, v: string, readTs: Timestamp): CommitEntry {
  const txnId = Buffer.alloc(16);
  txnId.writeUInt32BE(++seq, 12);
  return { type: 'commit', txnId, readTs, minCommitTs: 0n, reads: [], writes: [{ kind: 'put', key: Buffer.from(k), value: Buffer.from(v) }] };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await Promise.resolve().then(cond).catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('NodeHost snapshots: compaction, and catch-up of a replica the log no longer covers', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-shard-snap-'));
  const nodes = new Map<number, NodeHost>();
  const raftPorts = new Map<number, number>();
  const kvPorts = new Map<number, number>();
  let kv: RemoteShardKv;

  const start = async (id: number): Promise<NodeHost> => {
    const n = new NodeHost({
      nodeId: id,
      dataDir: path.join(dir, `n${id}`),
      bindHost: '127.0.0.1',
      raftPort: raftPorts.get(id) as number,
      kvPort: kvPorts.get(id) as number,
      peers: [...raftPorts].map(([nodeId, port]) => ({ nodeId, host: '127.0.0.1', port })),
      shards: [{ shardId: 1, voters: [...raftPorts.keys()] }],
      logger: quiet,
      tickMs: 20,
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

  /**
   * Commits key = value through the KV RPC. A leader change can leave a proposal's fate unknown
   * (AmbiguousResultError); writing the same value again is harmless, and the retry's version is
   * then the newest one, so its commit ts is what a read returns.
   */
  const put = async (k: string, v: string): Promise<Timestamp> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await kv.propose(commit(k, v, await kv.now()));
        if (r.status !== 'committed') throw new Error(`write ${k}: ${JSON.stringify(r)}`);
        return r.commitTs;
      } catch (e) {
        if (!(e instanceof AmbiguousResultError) || attempt === 5) throw e;
      }
    }
  };
  /** Commits `n` keys `${prefix}${i}` = `v${i}`, ten at a time; returns their commit ts. */
  const write = async (prefix: string, n: number): Promise<Map<string, Timestamp>> => {
    const out = new Map<string, Timestamp>();
    for (let i = 0; i < n; i += 10) {
      const keys = Array.from({ length: Math.min(10, n - i) }, (_, j) => i + j);
      const res = await Promise.all(keys.map((j) => put(`${prefix}${j}`, `v${j}`)));
      keys.forEach((j, x) => out.set(`${prefix}${j}`, res[x]));
    }
    return out;
  };

  const converged = (ids: number[]): Promise<void> =>
    until(`replicas ${ids.join(',')} at equal applied index and state hash`, async () => {
      const st = await Promise.all(ids.map((id) => kv.replicaStatus(id)));
      return st.every((s) => s.appliedIndex === st[0].appliedIndex && s.stateHash.equals(st[0].stateHash));
    });

  const leaderNode = (): NodeHost => {
    const n = [...nodes.values()].find((x) => x.replica(1)?.isLeader());
    if (!n) throw new Error('no leader');
    return n;
  };

  beforeAll(async () => {
    for (const id of [1, 2, 3]) {
      raftPorts.set(id, await freePort());
      kvPorts.set(id, await freePort());
    }
    await Promise.all([1, 2, 3].map((id) => start(id)));
    kv = new RemoteShardKv({ shardId: 1, replicas: [...kvPorts].map(([nodeId, port]) => ({ nodeId, host: '127.0.0.1', port })) });
  }, 30000);

  afterAll(async () => {
    kv?.close();
    for (const id of [...nodes.keys()]) await stop(id);
    rmSync(dir, { recursive: true, force: true });
  });

  it('compacts the log on every replica once enough entries applied', async () => {
    await write('a', 120);
    await converged([1, 2, 3]);
    for (const n of nodes.values()) {
      const s = n.logStatus(1);
      expect(n.snapshotStats(1).taken).toBeGreaterThan(0);
      expect(s.firstIndex).toBeGreaterThan(EVERY - MARGIN);
      expect(s.appliedIndex - s.snapshotIndex).toBeLessThan(EVERY + 20);
    }
  }, 30000);

  it('a restarted replica whose log was compacted away catches up from a snapshot', async () => {
    await until('a leader', () => [...nodes.values()].some((n) => n.replica(1)?.isLeader() === true));
    const victim = [...nodes.keys()].find((id) => !nodes.get(id)?.replica(1)?.isLeader()) as number;
    const behind = (nodes.get(victim) as NodeHost).logStatus(1).appliedIndex;
    await stop(victim);
    const acked = await write('b', 150);
    const leader = leaderNode();
    // The leader's log no longer holds what the victim misses.
    await until('leader compacted past the victim', () => leader.logStatus(1).firstIndex > behind + 1);

    const back = await start(victim);
    await until('snapshot installed', () => back.snapshotStats(1).installed > 0);
    await put('after-restart', 'x');
    await converged([1, 2, 3]);
    // The node now runs on the snapshot's state directory, named by its pointer file.
    const pointer = path.join(dir, `n${victim}`, 'shard-1.current');
    expect(readFileSync(pointer, 'utf8')).toMatch(/^shard-1\.snap-/);
    // The replaced state is closed and deleted in the background.
    await until('old state directory removed', () => !existsSync(path.join(dir, `n${victim}`, 'shard-1')));
    // Reads on the caught-up replica (at its closed timestamp, follower-style) return the data.
    const readTs = [...acked.values()].reduce((a, b) => (a > b ? a : b));
    await until('closed ts on the caught-up replica', () => (back.replica(1)?.closedTs ?? 0n) >= readTs);
    for (const [k, ts] of acked) {
      const row = await back.replica(1)?.get(Buffer.from(k), readTs);
      expect([k, row?.value.toString(), row?.ts]).toEqual([k, `v${k.slice(1)}`, ts]);
    }
  }, 40000);

  it('a wiped replica (a new replica with an empty data directory) is seeded by a snapshot', async () => {
    const victim = [...nodes.keys()].find((id) => !nodes.get(id)?.replica(1)?.isLeader()) as number;
    const before = (await kv.replicaStatus(victim)).appliedIndex;
    await stop(victim);
    rmSync(path.join(dir, `n${victim}`), { recursive: true, force: true });
    await write('c', 60);
    const fresh = await start(victim);
    await until('snapshot installed', () => fresh.snapshotStats(1).installed > 0);
    await put('after-wipe', 'y');
    await converged([1, 2, 3]);
    const st = await kv.replicaStatus(victim);
    expect(st.appliedIndex).toBeGreaterThan(before + 60);
    // It keeps taking its own snapshots from here on like any replica.
    await write('d', EVERY + 10);
    await until('the new replica compacts its own log', () => fresh.snapshotStats(1).taken > 0);
    await converged([1, 2, 3]);
  }, 40000);

  it('refuses to start on a state directory behind its compacted log, saying how to recover', async () => {
    const victim = [...nodes.keys()].find((id) => !nodes.get(id)?.replica(1)?.isLeader()) as number;
    const nodeDir = path.join(dir, `n${victim}`);
    await stop(victim);
    // The WAL survives but the RocksDB state is lost (e.g. restored from an old disk image).
    for (const name of readdirSync(nodeDir)) if (name.startsWith('shard-1')) rmSync(path.join(nodeDir, name), { recursive: true, force: true });
    await expect(start(victim)).rejects.toThrow(
      /shard 1: state in .* is at applied index 0, but the Raft log was compacted to a snapshot at index \d+; remove .* so the node rejoins as a new replica/,
    );
    // Following the advice works.
    rmSync(nodeDir, { recursive: true, force: true });
    const fresh = await start(victim);
    // Raft never probes a follower below the match index it already acknowledged (a wiped
    // replica breaks that assumption), so the leader streams a snapshot once its log no longer
    // holds that index: after the next compaction.
    await write('e', EVERY + MARGIN + 10);
    await until('snapshot installed', () => fresh.snapshotStats(1).installed > 0);
    await put('after-recovery', 'z');
    await converged([1, 2, 3]);
  }, 40000);
});
