import { livenessChanges } from './liveness';
import { PlacementError, placeReplicas, planRebalance, planRepairs } from './placement';
import { TsoAllocator } from './tso';
import type { NodeRecord, ShardRecord } from './types';

const n = (nodeId: number, zone = '', state: NodeRecord['state'] = 'live', lastHeartbeatMs = 0): NodeRecord => ({
  nodeId,
  address: `h${nodeId}`,
  kvPort: 1,
  raftPort: 2,
  region: zone === '' ? '' : 'eu',
  zone,
  lastHeartbeatMs,
  state,
});

describe('placement', () => {
  const zoned = [n(1, 'a'), n(2, 'a'), n(3, 'b'), n(4, 'b'), n(5, 'c'), n(6, 'c')];

  it('puts the 3 replicas in 3 distinct zones, deterministically, spread over shards', () => {
    const zoneOf = new Map(zoned.map((x) => [x.nodeId, x.zone]));
    const used = new Map<number, number>();
    for (let shard = 1; shard <= 12; shard++) {
      const r = placeReplicas(shard, zoned);
      expect(r).toHaveLength(3);
      expect(new Set(r.map((id) => zoneOf.get(id))).size).toBe(3);
      expect(placeReplicas(shard, [...zoned].reverse())).toEqual(r); // input order does not matter
      for (const id of r) used.set(id, (used.get(id) ?? 0) + 1);
    }
    expect([...used.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6]); // every node gets some
  });

  it('uses load to balance and distinct nodes when there are fewer zones than replicas', () => {
    const twoZones = [n(1, 'a'), n(2, 'a'), n(3, 'b')];
    expect(placeReplicas(1, twoZones)).toEqual([1, 2, 3]);
    const load = new Map([[1, 5], [2, 0], [3, 0], [4, 0]]);
    expect(placeReplicas(1, [n(1), n(2), n(3), n(4)], { load })).toEqual([2, 3, 4]);
  });

  it('refuses with fewer than 3 live nodes, and ignores dead and suspect nodes', () => {
    expect(() => placeReplicas(1, [n(1, 'a'), n(2, 'b')])).toThrow(PlacementError);
    expect(() => placeReplicas(1, [n(1, 'a'), n(2, 'b'), n(3, 'c', 'dead'), n(4, 'd', 'suspect')])).toThrow(/need 3 more live node/);
  });

  it('plans a live replacement in a new zone for each replica on a dead node', () => {
    const nodes = [n(1, 'a'), n(2, 'b', 'dead'), n(3, 'c'), n(4, 'b'), n(5, 'a')];
    const shards: ShardRecord[] = [
      { shardId: 1, hashLo: 0, hashHi: 100, replicas: [1, 2, 3], leaseholder: 1, version: 3, bootstrapVoters: [] },
      { shardId: 2, hashLo: 100, hashHi: 200, replicas: [1, 3, 5], leaseholder: 0, version: 1, bootstrapVoters: [] },
    ];
    expect(planRepairs(shards, nodes)).toEqual([{ shardId: 1, version: 3, remove: 2, add: 4 }]);
    const noSpare = planRepairs(shards, nodes.slice(0, 3));
    expect(noSpare).toEqual([expect.objectContaining({ shardId: 1, remove: 2, add: undefined })]);
  });
});

describe('liveness rules', () => {
  it('suspects after half the dead time and marks dead after it; only downgrades', () => {
    const nodes = [n(1, '', 'live', 1000), n(2, '', 'live', 6000), n(3, '', 'dead', 0), n(4, '', 'suspect', 9000)];
    const at = (now: number) => livenessChanges(nodes, (x) => x.lastHeartbeatMs, now, { deadAfterMs: 10_000 });
    expect(at(6000)).toEqual([{ nodeId: 1, state: 'suspect' }]);
    expect(at(11_000)).toEqual([
      { nodeId: 1, state: 'dead' },
      { nodeId: 2, state: 'suspect' },
    ]);
    expect(at(19_000)).toEqual([
      { nodeId: 1, state: 'dead' },
      { nodeId: 2, state: 'dead' },
      { nodeId: 4, state: 'dead' },
    ]);
  });
});

describe('TSO allocation rule', () => {
  it('follows the clock, counts up when it stalls or steps back, and never passes the limit', () => {
    const t = new TsoAllocator();
    t.reset(1000n);
    expect(t.take(1, 500n)).toBeUndefined(); // nothing above the floor is durable yet
    t.setLimit(t.nextHigh(500n, 100n, 1));
    expect(t.take(1, 500n)).toBe(1001n); // floor + 1: the clock is behind the old leader's mark
    expect(t.take(1, 1050n)).toBe(1050n);
    expect(t.take(3, 1050n)).toBe(1051n); // stalled clock: logical increments
    expect(t.take(1, 900n)).toBe(1054n); // clock stepped back
    expect(t.take(100, 1060n)).toBeUndefined(); // would pass the mark (1101)
    expect(t.lastIssued).toBe(1054n);
  });
});

describe('planRebalance', () => {
  const shard = (shardId: number, replicas: number[], version = 2): ShardRecord => ({ shardId, hashLo: shardId, hashHi: shardId + 1, replicas, leaseholder: 0, version, bootstrapVoters: [] });

  it('moves one replica at a time from the most loaded node to a node that joined later, until balanced', () => {
    const nodes = [n(1), n(2), n(3), n(4)];
    let shards = [1, 2, 3, 4].map((id) => shard(id, [1, 2, 3]));
    const moves: string[] = [];
    for (let i = 0; i < 10; i++) {
      const step = planRebalance(shards, nodes);
      if (!step) break;
      moves.push(`${step.shardId}:${step.from}->${step.to}`);
      shards = shards.map((s) => (s.shardId === step.shardId ? shard(s.shardId, s.replicas.map((r) => (r === step.from ? step.to : r)).sort(), s.version + 1) : s));
    }
    expect(moves).toHaveLength(3);
    expect(moves.every((m) => m.endsWith('->4'))).toBe(true);
    const load = [1, 2, 3, 4].map((id) => shards.filter((s) => s.replicas.includes(id)).length);
    expect(load).toEqual([3, 3, 3, 3]);
  });

  it('does nothing while a node is not live, when spread by at most one, or when zones forbid it', () => {
    expect(planRebalance([shard(1, [1, 2, 3]), shard(2, [1, 2, 3])], [n(1), n(2), n(3), n(4, '', 'suspect')])).toBeUndefined();
    expect(planRebalance([shard(1, [1, 2, 3]), shard(2, [1, 2, 4])], [n(1), n(2), n(3), n(4)])).toBeUndefined();
    // Node 4 is in zone a with node 1 and the shards already span a, b, c: moving a replica of
    // node 2 (zone b) or 3 (zone c) to it would put two replicas in zone a.
    const zoned = [n(1, 'a'), n(2, 'b'), n(3, 'c'), n(4, 'a')];
    const moves = planRebalance([1, 2, 3].map((id) => shard(id, [1, 2, 3])), zoned);
    expect(moves).toMatchObject({ from: 1, to: 4 });
    // Once node 1's load is down, the most loaded is node 2 (zone b): its only candidate, node 4,
    // is in zone a with node 1 on every shard, so nothing moves.
    expect(planRebalance([shard(1, [2, 3, 4]), shard(2, [1, 2, 3]), shard(3, [1, 2, 3]), shard(4, [2, 3, 4]), shard(5, [1, 2, 3])], zoned)).toBeUndefined();
  });
});
