import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RemoteShardKv } from '@weft/kvrpc';
import type { CommitEntry, Timestamp } from '@weft/logentry';
import { NodeHost } from '@weft/nodehost';
import { freePort } from '../../../test/support/ports';

// Three NodeHosts in one process (real WALs, RocksDB, Raft transport and KV RPC on loopback),
// driven through RemoteShardKv: the node's data plane without process boundaries.
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };


const key = (s: string): Buffer => Buffer.from(s);
function commit(k: string, v: string, readTs: Timestamp, ifAbsent = false): CommitEntry {
  return {
    type: 'commit',
    txnId: Buffer.from(`${k}:${v}`.padEnd(16, '.').slice(0, 16)),
    readTs,
    minCommitTs: 0n,
    reads: [],
    writes: [{ kind: 'put', key: key(k), value: key(v), ...(ifAbsent ? { ifAbsent: { constraint: 'pk' } } : {}) }],
  };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('NodeHost: a 3-replica shard behind the KV RPC', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-shard-node-'));
  const nodes = new Map<number, NodeHost>();
  let raftPorts: Map<number, number>;
  let kvPorts: Map<number, number>;
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
      tickMs: 10,
    });
    await n.start();
    nodes.set(id, n);
    return n;
  };

  beforeAll(async () => {
    raftPorts = new Map();
    kvPorts = new Map();
    for (const id of [1, 2, 3]) {
      raftPorts.set(id, await freePort());
      kvPorts.set(id, await freePort());
    }
    await Promise.all([1, 2, 3].map((id) => start(id)));
    kv = new RemoteShardKv({ shardId: 1, replicas: [...kvPorts].map(([nodeId, port]) => ({ nodeId, host: '127.0.0.1', port })) });
  }, 30000);

  afterAll(async () => {
    kv?.close();
    for (const n of nodes.values()) await n.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits entries through the leader and reads them back at their commit timestamps', async () => {
    const ts0 = await kv.now();
    const out = await kv.propose(commit('a', '1', ts0));
    expect(out.status).toBe('committed');
    const commitTs = (out as { commitTs: Timestamp }).commitTs;
    expect(commitTs).toBeGreaterThan(ts0);
    expect(await kv.get(key('a'), commitTs - 1n)).toBeUndefined();
    const row = await kv.get(key('a'), commitTs);
    expect(row?.value.toString()).toBe('1');
    expect(row?.ts).toBe(commitTs);
    // now() is at least as new as every acknowledged commit.
    expect(await kv.now()).toBeGreaterThanOrEqual(commitTs);

    // A duplicate insert aborts with the SQLSTATE the client will see.
    const dup = await kv.propose(commit('a', '2', await kv.now(), true));
    expect(dup).toMatchObject({ status: 'aborted', sqlstate: '23505' });

    // Pipelined writes and a scan over them.
    const outs = await Promise.all(Array.from({ length: 50 }, (_, i) => kv.propose(commit(`k${String(i).padStart(3, '0')}`, `v${i}`, ts0))));
    expect(outs.every((o) => o.status === 'committed')).toBe(true);
    const page = await kv.scan(key('k'), key('l'), await kv.now(), { limit: 20 });
    expect(page.rows.map((r) => r.key.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(3, '0')}`));
    expect(page.resumeKey).toBeDefined();
  });

  it('every replica reaches the same state hash at the same applied index', async () => {
    await until(async () => {
      const st = await Promise.all([1, 2, 3].map((id) => kv.replicaStatus(id)));
      return st.every((s) => s.appliedIndex === st[0].appliedIndex && s.stateHash.equals(st[0].stateHash));
    });
  });

  it('after the leader stops, a new leader serves every acknowledged write', async () => {
    const ts = await kv.now();
    const acked = new Map<string, Timestamp>();
    for (let i = 0; i < 20; i++) {
      const o = await kv.propose(commit(`f${i}`, `x${i}`, ts));
      if (o.status === 'committed') acked.set(`f${i}`, o.commitTs);
    }
    const leaderId = kv.leaderHint as number;
    await (nodes.get(leaderId) as NodeHost).stop();
    nodes.delete(leaderId);
    const readTs = await kv.now();
    for (const [k, cts] of acked) {
      expect(readTs).toBeGreaterThanOrEqual(cts);
      expect((await kv.get(key(k), readTs))?.value.toString()).toBe(`x${k.slice(1)}`);
    }
    expect(kv.leaderHint).not.toBe(leaderId);
    // The old leader comes back from its data directory and catches up.
    await start(leaderId);
    await kv.propose(commit('after', 'restart', await kv.now()));
    await until(async () => {
      const st = await Promise.all([1, 2, 3].map((id) => kv.replicaStatus(id)));
      return st.every((s) => s.appliedIndex === st[0].appliedIndex && s.stateHash.equals(st[0].stateHash));
    });
  }, 30000);
});
