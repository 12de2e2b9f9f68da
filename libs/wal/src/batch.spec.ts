/**
 * One append() is one frame: a crash that tears it anywhere leaves all of its records or none.
 * This is what a Raft host relies on when a single Ready carries a snapshot, entries and a hard
 * state — recovering only the snapshot (or only the entries of a new term without the hard
 * state that names that term) would leave a replica in a state it never acknowledged.
 */
import { decodeFrame, encodeBatch } from './codec';
import { MemFs, WalFile, WalFs } from './fs';
import { RecordKind } from './records';
import { entries } from './test-util';
import { Wal } from './wal';

const conf = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

describe('WAL append atomicity', () => {
  it('round-trips a batch frame and refuses a batch that nests non-group records', () => {
    const frame = encodeBatch([
      { kind: RecordKind.HardState, group: 7, hardState: { term: 3, vote: 2, commit: 9 } },
      { kind: RecordKind.Compact, group: 8, index: 4, term: 2 },
    ]);
    const recs = decodeFrame(frame.subarray(8));
    expect(recs).toEqual([
      { kind: RecordKind.HardState, group: 7, hardState: { term: 3, vote: 2, commit: 9 } },
      { kind: RecordKind.Compact, group: 8, index: 4, term: 2 },
    ]);
    // A lone record keeps the plain single-record frame.
    expect(encodeBatch([{ kind: RecordKind.Compact, group: 1, index: 1, term: 1 }])[9]).toBe(RecordKind.Compact);
  });

  it('recovers a torn Ready (snapshot + entries + hard state) whole or not at all, at every tear point', async () => {
    // Durable base: group 1 has entries 1..5 of term 1 and a hard state.
    const baseDisk = async (): Promise<MemFs> => {
      const disk = new MemFs();
      const w = await Wal.open('/wal', { fs: disk });
      await w.append([
        { type: 'entries', group: 1, entries: entries(1, 1, 5, 1) },
        { type: 'hardState', group: 1, hardState: { term: 1, vote: 1, commit: 3 } },
      ]);
      await w.close();
      return disk;
    };
    // The Ready under test: install a leader's snapshot at 20 (term 3), entries 21..23 of
    // term 3 and the hard state of term 3.
    const ready = [
      { type: 'snapshot' as const, group: 1, snapshot: { metadata: { index: 20, term: 3, confState: conf }, data: Buffer.from('snap@20') } },
      { type: 'entries' as const, group: 1, entries: entries(1, 21, 23, 3) },
      { type: 'hardState' as const, group: 1, hardState: { term: 3, vote: 2, commit: 21 } },
    ];
    // Its size on disk, then a crash that keeps each possible prefix of it.
    const probe = await Wal.open('/wal', { fs: await baseDisk() });
    const before = probe.segments().at(-1)!.bytes;
    await probe.append(ready);
    const frameBytes = probe.segments().at(-1)!.bytes - before;
    await probe.close();
    expect(frameBytes).toBeGreaterThan(100);

    let sawNone = 0;
    let sawAll = 0;
    for (let keep = 0; keep <= frameBytes; keep++) {
      const disk = await baseDisk();
      // The Ready's write reaches the page cache, and the crash comes before its fdatasync.
      let hang = false;
      const fs: WalFs = Object.assign(Object.create(disk) as MemFs, {
        open: (file: string, create: boolean): WalFile => {
          const f = disk.open(file, create);
          return Object.assign(Object.create(f) as WalFile, {
            datasync: () => (hang ? new Promise<void>(() => undefined) : f.datasync()),
          });
        },
      });
      const w = await Wal.open('/wal', { fs });
      hang = true;
      void w.append(ready);
      await new Promise((r) => setImmediate(r));
      expect(w.stats().bytes).toBe(0); // written, not yet synced
      disk.crash((_name, unsynced) => Math.min(keep, unsynced));
      const again = await Wal.open('/wal', { fs: disk });
      const s = again.storage(1);
      const hs = s.hardState();
      const snap = s.snapshot().metadata.index;
      if (snap === 20) {
        sawAll++;
        expect([s.firstIndex(), s.lastIndex(), hs.term, hs.commit]).toEqual([21, 23, 3, 21]);
      } else {
        sawNone++;
        expect([snap, s.firstIndex(), s.lastIndex(), hs.term, hs.commit]).toEqual([0, 1, 5, 1, 3]);
      }
      await again.close();
    }
    // Only the complete frame recovers it; every shorter prefix is a torn tail, cut whole.
    expect(sawAll).toBe(1);
    expect(sawNone).toBe(frameBytes);
  });
});
