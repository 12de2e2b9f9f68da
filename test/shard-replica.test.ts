import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AmbiguousResultError } from '@weft/replica';
import { RemoteShardKv } from '@weft/kvrpc';
import type { CommitEntry, Timestamp } from '@weft/logentry';
import { freePort } from './support/ports';
import { spawnNode, waitForHttp, type Spawned } from './support/process';

// A 3-replica shard as users run it: three `weft-node` processes (real WAL with fdatasync,
// RocksDB, Raft transport, KV RPC), driven through RemoteShardKv. The leader is SIGKILLed in
// the middle of a write load; every acknowledged commit must then be readable with its value,
// and the killed node, restarted from its data directory, must catch up to the same state hash.
const NODE = 'dist/apps/node/src/main.js';

interface NodePorts {
  http: number;
  metrics: number;
  raft: number;
  kv: number;
}

function commit(k: string, v: string, readTs: Timestamp, seq: number): CommitEntry {
  const txnId = Buffer.alloc(16);
  txnId.writeUInt32BE(seq, 12);
  return { type: 'commit', txnId, readTs, minCommitTs: 0n, reads: [], writes: [{ kind: 'put', key: Buffer.from(k), value: Buffer.from(v) }] };
}

describe('shard replica processes: kill -9 the leader under load', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-shard-replica-'));
  const procs = new Map<number, Spawned>();
  const ports = new Map<number, NodePorts>();
  let kv: RemoteShardKv;

  const start = async (id: number): Promise<void> => {
    const p = ports.get(id) as NodePorts;
    const peers = [...ports].map(([n, q]) => `${n}@127.0.0.1:${q.raft}`).join(',');
    const proc = spawnNode(NODE, {
      WEFT_NODE_ID: String(id),
      WEFT_DATA_DIR: path.join(dir, `node-${id}`),
      WEFT_HTTP_PORT: String(p.http),
      WEFT_METRICS_PORT: String(p.metrics),
      WEFT_RAFT_PORT: String(p.raft),
      WEFT_KV_PORT: String(p.kv),
      WEFT_RAFT_PEERS: peers,
      WEFT_LOG_LEVEL: 'warn',
    });
    procs.set(id, proc);
    await waitForHttp(`http://127.0.0.1:${p.http}/health`);
  };

  const converged = async (ids: number[], ms = 20000): Promise<void> => {
    const end = Date.now() + ms;
    let last = '';
    while (Date.now() < end) {
      try {
        const st = await Promise.all(ids.map((id) => kv.replicaStatus(id)));
        last = st.map((s) => `${s.nodeId}@${s.appliedIndex}:${s.stateHash.toString('hex').slice(0, 8)}`).join(' ');
        if (st.every((s) => s.appliedIndex === st[0].appliedIndex && s.stateHash.equals(st[0].stateHash))) return;
      } catch (e) {
        last = String(e);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`replicas did not converge: ${last}`);
  };

  beforeAll(async () => {
    for (const id of [1, 2, 3]) ports.set(id, { http: await freePort(), metrics: await freePort(), raft: await freePort(), kv: await freePort() });
    await Promise.all([1, 2, 3].map((id) => start(id)));
    kv = new RemoteShardKv({
      shardId: 1,
      replicas: [...ports].map(([nodeId, p]) => ({ nodeId, host: '127.0.0.1', port: p.kv })),
      requestTimeoutMs: 3000,
      deadlineMs: 15000,
    });
  }, 40000);

  afterAll(async () => {
    kv?.close();
    for (const p of procs.values()) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all([...procs.values()].map((p) => p.exited));
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged commit across a leader crash, and the restarted node catches up', async () => {
    const acked = new Map<string, { value: string; commitTs: Timestamp }>();
    let ambiguous = 0;
    let seq = 0;
    let stop = false;
    const worker = async (w: number): Promise<void> => {
      while (!stop) {
        const n = ++seq;
        const k = `w${w}-${n}`;
        const v = `value-${n}`;
        try {
          const out = await kv.propose(commit(k, v, await kv.now(), n));
          if (out.status === 'committed') acked.set(k, { value: v, commitTs: out.commitTs });
        } catch (e) {
          if (!(e instanceof AmbiguousResultError)) throw e;
          ambiguous++;
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    await new Promise((r) => setTimeout(r, 1500));
    const before = acked.size;
    expect(before).toBeGreaterThan(20);

    const leader = (await kv.replicaStatus(1)).leader;
    expect([1, 2, 3]).toContain(leader);
    const victim = procs.get(leader) as Spawned;
    victim.child.kill('SIGKILL');
    await victim.exited;

    // The load keeps going against the two survivors: a new leader takes over.
    await new Promise((r) => setTimeout(r, 2500));
    stop = true;
    await load;
    expect(acked.size).toBeGreaterThan(before + 20);

    const readTs = await kv.now();
    for (const [k, { value, commitTs }] of acked) {
      expect(readTs).toBeGreaterThanOrEqual(commitTs);
      const row = await kv.get(Buffer.from(k), readTs);
      expect([k, row?.value.toString(), row?.ts]).toEqual([k, value, commitTs]);
    }
    // A scan sees exactly the acknowledged keys plus possibly some ambiguous ones.
    const page = await kv.scan(Buffer.from('w'), Buffer.from('x'), readTs);
    const seen = new Set(page.rows.map((r) => r.key.toString()));
    for (const k of acked.keys()) expect(seen.has(k)).toBe(true);
    expect(page.rows.length).toBeLessThanOrEqual(acked.size + ambiguous);

    // The killed node restarts from its WAL and RocksDB and reaches the same state.
    await start(leader);
    await kv.propose(commit('after-restart', 'x', await kv.now(), 1e9));
    await converged([1, 2, 3]);
  }, 60000);
});
