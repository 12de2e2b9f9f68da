import type { Entry } from '@weft/raft';
import { ShardMirror, type MirrorKafka } from './shard-mirror';
import type { ShardLogSource } from './source';

// The bookkeeping that decides how far Raft may compact (no Kafka involved: the mirror loop is
// not started here; Kafka behaviour is tested against a real broker in test/kafka-mirror.test.ts).
describe('ShardMirror backlog bookkeeping', () => {
  let applied = 0;
  let first = 1;
  let now = 0;
  const source: ShardLogSource = {
    leaderTerm: () => undefined,
    appliedIndex: () => applied,
    firstIndex: () => first,
    entries: (): readonly Entry[] => [],
    outcomeAt: () => undefined,
  };
  const kafka: MirrorKafka = {
    topic: (id) => `t.log.${id}`,
    progressGroup: 'g',
    fencedProducer: () => Promise.reject(new Error('not used')),
    ensureTopic: () => Promise.reject(new Error('not used')),
    readProgress: () => Promise.reject(new Error('not used')),
  };
  const mirror = (): ShardMirror =>
    new ShardMirror({ shardId: 1, source, kafka, maxBacklogEntries: 100, maxBatchEntries: 10, maxBatchBytes: 1 << 20, now: () => now, log: () => undefined });

  beforeEach(() => {
    applied = 0;
    first = 1;
    now = 1_000;
  });

  it('holds the log at the last mirrored index, and lets go once the backlog passes its bound', () => {
    const m = mirror();
    applied = 50;
    m.onApplied(50);
    expect(m.compactionFloor()).toBe(0);
    m.observeProgress(30);
    expect(m.compactionFloor()).toBe(30);
    m.observeProgress(20); // progress never goes back
    expect(m.stats()).toMatchObject({ mirroredIndex: 30, backlogEntries: 20, overflowed: false });
    applied = 131;
    expect(m.compactionFloor()).toBeUndefined();
    expect(m.stats()).toMatchObject({ backlogEntries: 101, overflowed: true });
    m.observeProgress(131);
    expect(m.compactionFloor()).toBe(131);
  });

  it('counts what a restarted node no longer has in its log as already mirrored', () => {
    first = 41;
    applied = 60;
    const m = mirror();
    expect(m.compactionFloor()).toBe(40);
    expect(m.stats().backlogEntries).toBe(20);
  });

  it('ages the backlog from when its oldest entry was applied', () => {
    const m = mirror();
    applied = 5;
    m.onApplied(5);
    now += 500;
    applied = 9;
    m.onApplied(9);
    now += 1_000;
    expect(m.stats().backlogAgeMs).toBe(1_500);
    m.observeProgress(5);
    expect(m.stats().backlogAgeMs).toBe(1_000);
    m.observeProgress(9);
    expect(m.stats()).toMatchObject({ backlogEntries: 0, backlogAgeMs: 0 });
  });
});
