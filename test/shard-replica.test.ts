import type { RemoteShardKv } from '@weft/kvrpc';
import type { CommitEntry, Timestamp } from '@weft/logentry';
import { AmbiguousResultError } from '@weft/replica';
import { NodeCluster } from './support/node-cluster';

// A 3-replica shard as users run it: three `weft-node` processes (real WAL with fdatasync,
// RocksDB, Raft transport, KV RPC), driven through RemoteShardKv. The leader is SIGKILLed in
// the middle of a write load; every acknowledged commit must then be readable with its value,
// and the killed node, restarted from its data directory, must catch up to the same state hash.

function commit(k: string, v: string, readTs: Timestamp, seq: number): CommitEntry {
  const txnId = Buffer.alloc(16);
  txnId.writeUInt32BE(seq, 12);
  return { type: 'commit', txnId, readTs, minCommitTs: 0n, reads: [], writes: [{ kind: 'put', key: Buffer.from(k), value: Buffer.from(v) }] };
}

describe('shard replica processes: kill -9 the leader under load', () => {
  let cluster: NodeCluster;
  let kv: RemoteShardKv;

  beforeAll(async () => {
    cluster = await NodeCluster.start({ name: 'weft-shard-replica' });
    kv = cluster.kv;
  }, 40000);

  afterAll(async () => {
    await cluster?.stop();
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
    await cluster.kill(leader);

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
    await cluster.startNode(leader);
    await kv.propose(commit('after-restart', 'x', await kv.now(), 1e9));
    await cluster.converged([1, 2, 3]);
  }, 60000);
});
