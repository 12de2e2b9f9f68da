import type { Admin } from 'kafkajs';
import { bootstrapView } from './materializer.module';
import { snapshotUrl, startOffsetAfter } from '@weft/mirror';

describe('materializer bootstrap settings', () => {
  it('needs snapshot sources with bootstrap=snapshot and refuses them with bootstrap=log', () => {
    expect(bootstrapView({ WEFT_MATERIALIZER_BOOTSTRAP: 'log', WEFT_MATERIALIZER_SNAPSHOT_FROM: [] })).toEqual({ mode: 'log', sources: [] });
    expect(bootstrapView({ WEFT_MATERIALIZER_BOOTSTRAP: 'snapshot', WEFT_MATERIALIZER_SNAPSHOT_FROM: ['n1:8080'] })).toEqual({ mode: 'snapshot', sources: ['n1:8080'] });
    expect(() => bootstrapView({ WEFT_MATERIALIZER_BOOTSTRAP: 'snapshot', WEFT_MATERIALIZER_SNAPSHOT_FROM: [] })).toThrow(/WEFT_MATERIALIZER_BOOTSTRAP=snapshot needs WEFT_MATERIALIZER_SNAPSHOT_FROM/);
    expect(() => bootstrapView({ WEFT_MATERIALIZER_BOOTSTRAP: 'log', WEFT_MATERIALIZER_SNAPSHOT_FROM: ['n1:8080'] })).toThrow(/WEFT_MATERIALIZER_SNAPSHOT_FROM is set but WEFT_MATERIALIZER_BOOTSTRAP=log/);
  });

  it('builds the node snapshot URL from host:port or a base URL', () => {
    expect(snapshotUrl('127.0.0.1:8080', 3)).toBe('http://127.0.0.1:8080/shards/3/snapshot');
    expect(snapshotUrl('https://node-1.weft:8443/', 12)).toBe('https://node-1.weft:8443/shards/12/snapshot');
  });
});

describe('startOffsetAfter', () => {
  const admin = (byTime: string, high = '77'): { admin: Admin; asked: number[] } => {
    const asked: number[] = [];
    const fake = {
      fetchTopicOffsetsByTimestamp: (_topic: string, ts?: number) => {
        asked.push(ts ?? -1);
        return Promise.resolve([{ partition: 0, offset: byTime }]);
      },
      fetchTopicOffsets: () => Promise.resolve([{ partition: 0, offset: high, high, low: '0' }]),
    };
    return { admin: fake as unknown as Admin, asked };
  };

  it('looks up the newest of the closed and commit timestamps (µs) less the margin', async () => {
    const a = admin('42');
    const off = await startOffsetAfter(a.admin, 't', { closedTs: 9_000_000_000n, lastCommitTs: 10_000_000_000n }, 5000);
    expect(off).toBe('42');
    expect(a.asked).toEqual([10_000_000 - 5000]);
  });

  it('starts at offset 0 for a state with no timestamps, and at the end when nothing was produced since', async () => {
    expect(await startOffsetAfter(admin('42').admin, 't', { closedTs: 0n, lastCommitTs: 0n })).toBe('0');
    expect(await startOffsetAfter(admin('-1', '77').admin, 't', { closedTs: 10_000_000_000n, lastCommitTs: 0n })).toBe('77');
  });
});
