import type { NodeHost, ShardHealth } from '@weft/nodehost';
import { NodeReadiness } from './node-health';
import { replicationLagSeconds } from './node-metrics';

const nowUs = (): bigint => BigInt(Date.now()) * 1000n;

function shard(over: Partial<ShardHealth> & { shardId: number }): ShardHealth {
  return {
    raft: 'joined',
    leader: 1,
    term: 2,
    isLeader: false,
    commitIndex: 10,
    appliedIndex: 10,
    closedTs: nowUs() - 500_000n,
    pendingProposals: 0,
    stopped: undefined,
    followerMatch: undefined,
    ...over,
  };
}

const hostWith = (shards: ShardHealth[]): (() => NodeHost) => () => ({ shardHealth: () => shards }) as unknown as NodeHost;

describe('node readiness', () => {
  it('is ready when every replica is in Raft, knows its leader and is at most the limit behind', () => {
    const r = new NodeReadiness(2, hostWith([shard({ shardId: 1 }), shard({ shardId: 2, closedTs: nowUs() - 9_000_000n })]), 10_000);
    expect(r.readiness()).toEqual({ ready: true, reasons: [] });
  });

  it('names each shard that keeps it from being ready: stopped, not joined, leaderless, lagging, never caught up', () => {
    const r = new NodeReadiness(
      2,
      hostWith([
        shard({ shardId: 1, stopped: 'entry 7: bad bytes' }),
        shard({ shardId: 2, raft: 'joining' }),
        shard({ shardId: 3, leader: 0 }),
        shard({ shardId: 4, closedTs: nowUs() - 12_000_000n }),
        shard({ shardId: 5, closedTs: 0n }),
        shard({ shardId: 6 }),
      ]),
      10_000,
    );
    const { ready, reasons } = r.readiness();
    expect(ready).toBe(false);
    expect(reasons).toEqual([
      'shard 1: replica stopped applying: entry 7: bad bytes',
      'shard 2: not in its Raft group yet',
      'shard 3: no leader known (election in progress, or no quorum)',
      expect.stringMatching(/^shard 4: replica is 12\.\d s behind \(limit 10 s\)$/),
      'shard 5: replica has no closed timestamp yet (catching up)',
    ]);
  });

  it('is not ready before the node host exists', () => {
    expect(new NodeReadiness(1, () => undefined, 10_000).readiness()).toEqual({ ready: false, reasons: ['node is starting: shards not opened yet'] });
  });

  it('measures lag from the closed timestamp', () => {
    expect(replicationLagSeconds({ closedTs: 2_000_000n }, 5_000_000)).toBe(3);
    expect(replicationLagSeconds({ closedTs: 6_000_000n }, 5_000_000)).toBe(0);
    expect(replicationLagSeconds({ closedTs: 0n }, 5_000_000)).toBe(Infinity);
  });
});
