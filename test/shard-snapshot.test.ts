import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { RemoteShardKv } from '@weft/kvrpc';
import type { CommitEntry, Timestamp } from '@weft/logentry';
import { AmbiguousResultError } from '@weft/replica';
import { NodeCluster, type NodePorts } from './support/node-cluster';

// Raft snapshots between real `weft-node` processes. With a tiny snapshot threshold the
// leader compacts its log long before a stopped replica returns, so that replica can only
// catch up by receiving a snapshot of the leader's RocksDB state over the Raft transport:
// first a killed-and-restarted replica (its data directory intact but far behind), then a
// replica whose data directory was wiped (a brand-new replica). Each must reach the same state
// hash as the others at the same applied index, and serve the data it never saw as log entries.
const EVERY = 50;
const MARGIN = 10;

let seq = 0;
function commit(k: string, v: string, readTs: Timestamp): CommitEntry {
  const txnId = Buffer.alloc(16);
  txnId.writeUInt32BE(++seq, 12);
  return { type: 'commit', txnId, readTs, minCommitTs: 0n, reads: [], writes: [{ kind: 'put', key: Buffer.from(k), value: Buffer.from(v) }] };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await Promise.resolve().then(cond).catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('shard snapshots between node processes', () => {
  let cluster: NodeCluster;
  let kv: RemoteShardKv;
  const dataDir = (id: number): string => cluster.dataDir(id);
  const start = (id: number): Promise<void> => cluster.startNode(id);
  const kill = (id: number): Promise<void> => cluster.kill(id);

  /** Commits key = value; a proposal whose fate a leader change hid is written again (same value). */
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

  const write = async (prefix: string, n: number): Promise<Map<string, Timestamp>> => {
    const out = new Map<string, Timestamp>();
    for (let i = 0; i < n; i += 20) {
      const keys = Array.from({ length: Math.min(20, n - i) }, (_, j) => i + j);
      const ts = await Promise.all(keys.map((j) => put(`${prefix}${j}`, `v${j}`)));
      keys.forEach((j, x) => out.set(`${prefix}${j}`, ts[x]));
    }
    return out;
  };

  const converged = (): Promise<void> => cluster.converged([1, 2, 3], 15000);

  /** A follower's id (the leader as the KV RPC sees it is excluded). */
  const follower = async (): Promise<number> => {
    const leader = (await kv.replicaStatus(1)).leader;
    return [1, 2, 3].find((id) => id !== leader) as number;
  };

  /** Reads every acknowledged key on replica `id` alone, at a timestamp its closed ts covers. */
  const readsOn = async (id: number, acked: Map<string, Timestamp>): Promise<void> => {
    const readTs = [...acked.values()].reduce((a, b) => (a > b ? a : b));
    await until(`node ${id} closed timestamp reaches the last write`, async () => (await kv.replicaStatus(id)).closedTs >= readTs);
    const p = cluster.ports.get(id) as NodePorts;
    const only = new RemoteShardKv({ shardId: 1, replicas: [{ nodeId: id, host: '127.0.0.1', port: p.kv }], requestTimeoutMs: 3000, deadlineMs: 5000 });
    try {
      for (const [k, ts] of acked) {
        const row = await only.get(Buffer.from(k), readTs);
        expect([k, row?.value.toString(), row?.ts]).toEqual([k, `v${k.slice(1)}`, ts]);
      }
    } finally {
      only.close();
    }
  };

  const pointer = (id: number): string => {
    const f = path.join(dataDir(id), 'shard-1.current');
    return existsSync(f) ? readFileSync(f, 'utf8').trim() : '(none)';
  };

  beforeAll(async () => {
    cluster = await NodeCluster.start({
      name: 'weft-shard-snapshot',
      // info: the test reads the "installed a snapshot" log line.
      env: { WEFT_SNAPSHOT_ENTRIES: String(EVERY), WEFT_SNAPSHOT_MARGIN: String(MARGIN), WEFT_LOG_LEVEL: 'info' },
    });
    kv = cluster.kv;
  }, 40000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('a killed replica restarted after the log was compacted past it catches up from a snapshot', async () => {
    await write('a', 60);
    await converged();
    const victim = await follower();
    const behind = (await kv.replicaStatus(victim)).appliedIndex;
    await kill(victim);

    // Several snapshot intervals of writes: the survivors compact far beyond `behind`.
    const acked = await write('b', 6 * EVERY);
    const survivor = [1, 2, 3].find((id) => id !== victim) as number;
    expect((await kv.replicaStatus(survivor)).appliedIndex).toBeGreaterThan(behind + 5 * EVERY);

    await start(victim);
    await put('after-restart', 'x');
    await converged();
    // Only an installed snapshot switches a node to a shard-1.snap-* state directory.
    expect(pointer(victim)).toMatch(/^shard-1\.snap-/);
    expect(cluster.procs.get(victim)?.stdout()).toMatch(/installed a snapshot from the leader/);
    await readsOn(victim, acked);
  }, 40000);

  it('a replica whose data directory was wiped is seeded by a snapshot', async () => {
    const victim = await follower();
    await kill(victim);
    rmSync(dataDir(victim), { recursive: true, force: true });
    // Enough writes that the leader compacts past the index it last saw this replica match:
    // Raft never probes a follower below its acknowledged match (a wiped replica breaks that
    // assumption), so until then the leader would keep probing at the old index.
    const acked = await write('c', 2 * EVERY);

    await start(victim);
    await put('after-wipe', 'y');
    await converged();
    expect(pointer(victim)).toMatch(/^shard-1\.snap-/);
    await readsOn(victim, new Map([...acked].slice(-40)));
  }, 40000);
});
