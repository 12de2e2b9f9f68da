import { restartDelayMs, RESTART_POLICY } from './demo';
import { DEFAULT_SHARD_COUNT, devCluster, devPorts, PORT_SPAN } from './dev-cluster';

describe('dev cluster layout', () => {
  const ports = (pgPort: number): number[] =>
    devCluster({ dataDir: '/d', pgPort, kafkaBrokers: 'k:9092', host: '127.0.0.1' }).flatMap((s) => Object.values(s.ports));

  it('derives every port from --port, distinct and within P .. P+PORT_SPAN-1', () => {
    for (const p of [5433, 20000, 65536 - PORT_SPAN]) {
      const all = ports(p);
      expect(new Set(all).size).toBe(all.length);
      expect(Math.min(...all)).toBe(p);
      expect(Math.max(...all)).toBe(p + PORT_SPAN - 1);
    }
  });

  it('two demos PORT_SPAN apart share no port', () => {
    const a = new Set(ports(5433));
    expect(ports(5433 + PORT_SPAN).filter((p) => a.has(p))).toEqual([]);
  });

  it('wires nodes and the gateway to the 3 meta replicas, and gives meta WEFT_SHARD_COUNT', () => {
    const services = devCluster({ dataDir: '/d', pgPort: 6000, kafkaBrokers: 'k:9092', host: '127.0.0.1', shardCount: 7 });
    const p = devPorts(6000);
    const metas = `1@127.0.0.1:${p.metaRpc(1)},2@127.0.0.1:${p.metaRpc(2)},3@127.0.0.1:${p.metaRpc(3)}`;
    expect(services.map((s) => [s.name, s.env.WEFT_META_ADDRS ?? s.env.WEFT_META_PEERS])).toEqual([
      ['meta-1', `1@127.0.0.1:${p.metaRaft(1)},2@127.0.0.1:${p.metaRaft(2)},3@127.0.0.1:${p.metaRaft(3)}`],
      ['meta-2', `1@127.0.0.1:${p.metaRaft(1)},2@127.0.0.1:${p.metaRaft(2)},3@127.0.0.1:${p.metaRaft(3)}`],
      ['meta-3', `1@127.0.0.1:${p.metaRaft(1)},2@127.0.0.1:${p.metaRaft(2)},3@127.0.0.1:${p.metaRaft(3)}`],
      ['node-1', metas],
      ['node-2', metas],
      ['node-3', metas],
      ['gateway', metas],
    ]);
    expect(services.filter((s) => s.role === 'meta').map((s) => s.env.WEFT_SHARD_COUNT)).toEqual(['7', '7', '7']);
    expect(devCluster({ dataDir: '/d', pgPort: 6000, kafkaBrokers: 'k', host: 'h' })[0].env.WEFT_SHARD_COUNT).toBe(String(DEFAULT_SHARD_COUNT));
  });
});

describe('demo restart policy', () => {
  it('waits 0.5 s after a first crash, doubling per recent crash, at most 5 s', () => {
    expect([1, 2, 3, 4, 5, 9].map(restartDelayMs)).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect(RESTART_POLICY).toEqual({ firstDelayMs: 500, maxDelayMs: 5000, windowMs: 60_000, maxCrashes: 5 });
  });
});
