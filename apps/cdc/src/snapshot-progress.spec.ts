import { decodeSnapshotProgress, encodeSnapshotProgress } from './snapshot-progress';

describe('snapshot progress in the offset metadata (decision 0043)', () => {
  it('round-trips a snapshot in flight', () => {
    expect(decodeSnapshotProgress(encodeSnapshotProgress({ index: 4711, done: 20_000 }))).toEqual({ index: 4711, done: 20_000 });
  });

  it('reads anything else as no snapshot in flight', () => {
    for (const m of [null, undefined, '', 'weft.cdc.snapshot', 'weft.cdc.snapshot 5', 'weft.cdc.snapshot 0 3', 'weft.cdc.snapshot 5 0', 'weft.cdc.snapshot -1 3', 'x weft.cdc.snapshot 5 3', 'weft.cdc.snapshot 5 3 ']) {
      expect([m, decodeSnapshotProgress(m)]).toEqual([m, undefined]);
    }
  });
});
