import { decodeProgress, progressMessage } from './progress-log';

describe('progress records (decision 0049)', () => {
  it('round-trips the published index and a snapshot in flight', () => {
    for (const p of [{ index: 0, snapshot: null }, { index: 4711, snapshot: null }, { index: 12, snapshot: { index: 4711, done: 20_000 } }]) {
      const m = progressMessage(3, p);
      expect(m.key).toBe('shard-3');
      expect(decodeProgress(m.value as string)).toEqual(p);
    }
  });

  it('refuses values it did not write instead of guessing a position', () => {
    for (const v of ['null', '7', '{}', '{"index":-1}', '{"index":1.5}', '{"index":3,"snapshot":{"index":0,"done":1}}', '{"index":3,"snapshot":{"index":5}}']) {
      expect(() => decodeProgress(v)).toThrow(/progress record/);
    }
    expect(() => decodeProgress('not json')).toThrow();
  });
});
