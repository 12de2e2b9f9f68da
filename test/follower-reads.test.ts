import { RemoteShardKv } from '@weft/kvrpc';
import type { Timestamp } from '@weft/logentry';
import { NodeCluster } from './support/node-cluster';

// Follower reads on a 3-replica shard of real node processes: a read at a past timestamp goes
// to a follower first, which answers once its closed timestamp covers it (else the leader
// does). Whoever answers, the value is the one committed last at or before that timestamp:
// never a newer one, never an older one.

const key = Buffer.from('acct/1');
const txnId = (n: number): Buffer => Buffer.alloc(16, n);

describe('follower reads on node processes', () => {
  let cluster: NodeCluster;
  beforeAll(async () => {
    cluster = await NodeCluster.start({ name: 'weft-follower-reads' });
  }, 60000);
  afterAll(async () => cluster?.stop());

  it('see exactly the version committed at or before their timestamp, served by followers once closed', async () => {
    const kv = cluster.kv;
    const history: { value: string; commitTs: Timestamp }[] = [];
    for (let i = 1; i <= 8; i++) {
      const readTs = await kv.now();
      const out = await kv.propose({ type: 'commit', txnId: txnId(i), readTs, minCommitTs: 0n, reads: [], writes: [{ kind: 'put', key, value: Buffer.from(`v${i}`) }] });
      if (out.status !== 'committed') throw new Error(`commit ${i}: ${JSON.stringify(out)}`);
      history.push({ value: `v${i}`, commitTs: out.commitTs });
      await new Promise((r) => setTimeout(r, 60));
    }
    // Probe timestamps: just before, at, and just after every commit.
    const probes: Timestamp[] = [history[0].commitTs - 1n];
    for (const h of history) probes.push(h.commitTs, h.commitTs + 1n);
    const expected = (ts: Timestamp): string | undefined => [...history].reverse().find((h) => h.commitTs <= ts)?.value;

    // A fresh client, so its follower choice is not biased by a known leader.
    const reader = new RemoteShardKv({ shardId: 1, replicas: [...cluster.ports].map(([nodeId, p]) => ({ nodeId, host: '127.0.0.1', port: p.kv })) });
    try {
      // Right away most probes are above the followers' closed timestamps: leader answers.
      for (const ts of probes) expect((await reader.get(key, ts, { follower: true }))?.value.toString()).toBe(expected(ts));
      // Once the closed timestamp has passed them (closed every 200 ms, or 2 s when idle),
      // followers answer, with the same values.
      await new Promise((r) => setTimeout(r, 3000));
      const before = reader.stats.followerReads;
      for (const ts of probes) expect((await reader.get(key, ts, { follower: true }))?.value.toString()).toBe(expected(ts));
      expect(reader.stats.followerReads - before).toBeGreaterThanOrEqual(probes.length - 2);
    } finally {
      reader.close();
    }
  }, 60000);
});
