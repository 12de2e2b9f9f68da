import * as fs from 'node:fs';
import * as path from 'node:path';
import { CompactedError, UnavailableError } from '../../raft/src/errors';
import { EntryType } from '../../raft/src/types';
import { crc32, crc32Portable } from './crc32';
import { MemFs } from './fs';
import { WalCorruptionError, WalFailedError, WalInvalidRecordError } from './errors';
import { entries, entry, payload, tmpDir } from './test-util';
import { Wal } from './wal';

const conf = { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false };

describe('crc32', () => {
  it('native and portable implementations agree', () => {
    for (const n of [0, 1, 7, 100, 4097]) {
      const b = payload(1, n, 1, n);
      expect(crc32Portable(b)).toBe(crc32(b));
    }
    expect(crc32Portable(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('Wal', () => {
  let dir: string;
  beforeEach(() => {
    dir = tmpDir();
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips entries, hard state and snapshots of many groups', async () => {
    const wal = await Wal.open(dir);
    const appends: Promise<void>[] = [];
    for (let g = 1; g <= 50; g++) {
      appends.push(
        wal.append([
          { type: 'snapshot', group: g, snapshot: { metadata: { index: 0, term: 0, confState: conf }, data: new Uint8Array() } },
        ]),
      );
      for (let i = 1; i <= 20; i += 5) {
        appends.push(
          wal.append([
            { type: 'entries', group: g, entries: entries(g, i, i + 4, 2) },
            { type: 'hardState', group: g, hardState: { term: 2, vote: g % 3, commit: i } },
          ]),
        );
      }
    }
    await Promise.all(appends);
    await wal.close();

    const again = await Wal.open(dir);
    expect(again.groups()).toHaveLength(50);
    for (let g = 1; g <= 50; g++) {
      const s = again.storage(g);
      expect(s.firstIndex()).toBe(1);
      expect(s.lastIndex()).toBe(20);
      expect(s.initialState().hardState).toEqual({ term: 2, vote: g % 3, commit: 16 });
      const got = s.entries(1, 21, Infinity);
      expect(got).toHaveLength(20);
      got.forEach((e, k) => {
        expect(e.index).toBe(k + 1);
        expect(e.term).toBe(2);
        expect(e.type).toBe(EntryType.Normal);
        expect(Buffer.from(e.data).equals(Buffer.from(payload(g, k + 1, 2)))).toBe(true);
      });
      expect(s.term(0)).toBe(0);
    }
    await again.close();
  });

  it('truncates a group suffix when an index is appended again', async () => {
    const wal = await Wal.open(dir);
    await wal.append([{ type: 'entries', group: 7, entries: entries(7, 1, 10, 1) }]);
    await wal.append([{ type: 'entries', group: 8, entries: entries(8, 1, 10, 1) }]);
    await wal.append([{ type: 'entries', group: 7, entries: entries(7, 6, 7, 2) }]);
    const check = (w: Wal): void => {
      const s = w.storage(7);
      expect(s.lastIndex()).toBe(7);
      expect(s.term(5)).toBe(1);
      expect(s.term(6)).toBe(2);
      expect(() => s.term(8)).toThrow(UnavailableError);
      expect(w.storage(8).lastIndex()).toBe(10); // other groups untouched
    };
    check(wal);
    await wal.close();
    const again = await Wal.open(dir);
    check(again);
    await again.close();
  });

  it('rejects gaps and leaves no trace of a partly invalid append', async () => {
    const wal = await Wal.open(dir);
    await wal.append([{ type: 'entries', group: 1, entries: entries(1, 1, 3, 1) }]);
    await expect(
      wal.append([
        { type: 'entries', group: 1, entries: entries(1, 4, 5, 1) },
        { type: 'entries', group: 1, entries: entries(1, 9, 9, 1) },
      ]),
    ).rejects.toThrow(WalInvalidRecordError);
    expect(wal.storage(1).lastIndex()).toBe(3);
    await wal.close();
  });

  it('commits concurrent appends with far fewer fdatasyncs than appends', async () => {
    const wal = await Wal.open(dir);
    const N = 2000;
    const ps: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      const g = i % 100;
      const idx = Math.floor(i / 100) + 1;
      ps.push(wal.append([{ type: 'entries', group: g, entries: [entry(g, idx, 1, 128)] }]));
    }
    const syncsBefore = wal.stats().syncs;
    await Promise.all(ps);
    const st = wal.stats();
    expect(st.records).toBe(N);
    expect(st.syncs - syncsBefore).toBeLessThan(N / 20);
    expect(st.syncs - syncsBefore).toBeGreaterThanOrEqual(1);
    await wal.close();
  });

  it('acknowledges an append only after the fdatasync covering it', async () => {
    const mem = new MemFs();
    const wal = await Wal.open('/w', { fs: mem });
    let acked = false;
    const p = wal.append([{ type: 'entries', group: 1, entries: entries(1, 1, 1, 1) }]).then(() => (acked = true));
    const syncsBefore = mem.syncs;
    await new Promise((r) => setImmediate(r));
    await p;
    expect(acked).toBe(true);
    expect(mem.syncs).toBeGreaterThan(syncsBefore);
    // What was acknowledged survives a crash that loses everything unsynced.
    await wal.close();
    mem.crash();
    const again = await Wal.open('/w', { fs: mem });
    expect(again.storage(1).lastIndex()).toBe(1);
    await again.close();
  });

  it('rolls segments and deletes them only once every group has compacted past them', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 16 * 1024 });
    // Group 1 is busy; group 2 writes once early and then sits on its entries.
    await wal.append([{ type: 'entries', group: 2, entries: entries(2, 1, 5, 1, 100) }]);
    await wal.append([{ type: 'hardState', group: 2, hardState: { term: 1, vote: 2, commit: 5 } }]);
    for (let i = 1; i <= 1000; i += 10) {
      await wal.append([{ type: 'entries', group: 1, entries: entries(1, i, i + 9, 1, 100) }]);
    }
    const segsBefore = wal.segments().length;
    expect(segsBefore).toBeGreaterThan(5);
    await wal.append([{ type: 'compact', group: 1, index: 900 }]);
    // Group 2 still holds entries 1..5 in the first segment: nothing may go.
    expect(wal.segments().length).toBe(segsBefore);
    expect(wal.pinningGroups()).toEqual([2]);
    await wal.append([{ type: 'compact', group: 2, index: 5 }]);
    const segsAfter = wal.segments().length;
    expect(segsAfter).toBeLessThan(segsBefore);
    expect(wal.stats().segmentsDeleted).toBe(segsBefore - segsAfter);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.wal'))).toHaveLength(segsAfter);
    await wal.close();

    const again = await Wal.open(dir, { segmentBytes: 16 * 1024 });
    const s1 = again.storage(1);
    expect(s1.firstIndex()).toBe(901);
    expect(s1.lastIndex()).toBe(1000);
    expect(s1.term(900)).toBe(1);
    expect(() => s1.entries(900, 910, Infinity)).toThrow(CompactedError);
    expect(s1.entries(901, 1001, Infinity).map((e) => e.index)).toEqual(Array.from({ length: 100 }, (_, k) => 901 + k));
    // Group 2's hard state lived only in a deleted segment: the checkpoints carried it over.
    expect(again.storage(2).initialState().hardState).toEqual({ term: 1, vote: 2, commit: 5 });
    expect(again.storage(2).firstIndex()).toBe(6);
    await again.close();
  });

  it('keeps the log when a matching snapshot is recorded and replaces it otherwise', async () => {
    const wal = await Wal.open(dir);
    await wal.append([{ type: 'entries', group: 1, entries: entries(1, 1, 10, 3) }]);
    await wal.append([{ type: 'snapshot', group: 1, snapshot: { metadata: { index: 5, term: 3, confState: conf }, data: Buffer.from('ckpt-5') } }]);
    expect(wal.storage(1).firstIndex()).toBe(1);
    await wal.append([{ type: 'entries', group: 2, entries: entries(2, 1, 10, 1) }]);
    await wal.append([{ type: 'snapshot', group: 2, snapshot: { metadata: { index: 50, term: 4, confState: conf }, data: Buffer.from('ckpt-50') } }]);
    await wal.append([{ type: 'entries', group: 2, entries: entries(2, 51, 52, 4) }]);
    await wal.close();
    const again = await Wal.open(dir);
    expect(again.storage(1).lastIndex()).toBe(10);
    expect(Buffer.from(again.storage(1).snapshot().data).toString()).toBe('ckpt-5');
    const s2 = again.storage(2);
    expect([s2.firstIndex(), s2.lastIndex(), s2.term(50)]).toEqual([51, 52, 4]);
    expect(s2.snapshot().metadata).toEqual({ index: 50, term: 4, confState: conf });
    expect(s2.initialState().confState).toEqual(conf);
    await again.close();
  });

  it('cuts a torn tail off the last segment and tells the caller', async () => {
    const wal = await Wal.open(dir);
    await wal.append([{ type: 'entries', group: 1, entries: entries(1, 1, 5, 1) }]);
    await wal.append([{ type: 'entries', group: 1, entries: entries(1, 6, 6, 1, 1000) }]);
    await wal.close();
    const last = wal.segments().at(-1)!;
    const size = fs.statSync(last.file).size;
    fs.truncateSync(last.file, size - 500); // half of the last record made it to disk
    const notices: string[] = [];
    const again = await Wal.open(dir, { onNotice: (m) => notices.push(m) });
    expect(again.storage(1).lastIndex()).toBe(5);
    expect(notices.join('\n')).toMatch(/truncated torn tail of .*\.wal at byte offset \d+/);
    expect(again.recovery.tornTail?.file).toBe(last.file);
    // It keeps working, and the repaired log reopens cleanly.
    await again.append([{ type: 'entries', group: 1, entries: entries(1, 6, 7, 2) }]);
    await again.close();
    const third = await Wal.open(dir);
    expect(third.storage(1).lastIndex()).toBe(7);
    expect(third.recovery.tornTail).toBeUndefined();
    await third.close();
  });

  it('treats a final record with a bad checksum as torn', async () => {
    const wal = await Wal.open(dir);
    await wal.append([{ type: 'entries', group: 1, entries: entries(1, 1, 5, 1) }]);
    await wal.append([{ type: 'entries', group: 1, entries: entries(1, 6, 6, 1, 100) }]);
    await wal.close();
    const last = wal.segments().at(-1)!;
    const fd = fs.openSync(last.file, 'r+');
    fs.writeSync(fd, Buffer.from([0xff, 0xff]), 0, 2, last.bytes - 10);
    fs.closeSync(fd);
    const again = await Wal.open(dir);
    expect(again.storage(1).lastIndex()).toBe(5);
    await again.close();
  });

  it('refuses corruption in the middle of a segment, naming file and offset', async () => {
    const wal = await Wal.open(dir);
    for (let i = 1; i <= 30; i++) await wal.append([{ type: 'entries', group: 1, entries: [entry(1, i, 1, 64)] }]);
    await wal.close();
    const seg = wal.segments().at(-1)!;
    const buf = fs.readFileSync(seg.file);
    // Find the frame of entry 10 by scanning for its payload, then flip a byte in it.
    const needle = Buffer.from(payload(1, 10, 1, 64));
    const at = buf.indexOf(needle);
    expect(at).toBeGreaterThan(0);
    buf[at + 3] ^= 0x40;
    fs.writeFileSync(seg.file, buf);
    const err = await Wal.open(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WalCorruptionError);
    const ce = err as WalCorruptionError;
    expect(ce.file).toBe(seg.file);
    expect(ce.message).toContain(path.basename(seg.file));
    expect(ce.message).toMatch(/byte offset \d+: checksum mismatch/);
    expect(ce.offset).toBeLessThan(at);
    expect(ce.offset).toBeGreaterThan(at - 100);
  });

  it('refuses a segment cut short that is not the last one', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 4096 });
    for (let i = 1; i <= 100; i++) await wal.append([{ type: 'entries', group: 1, entries: [entry(1, i, 1, 100)] }]);
    await wal.close();
    const first = wal.segments()[0];
    fs.truncateSync(first.file, first.bytes - 200);
    await expect(Wal.open(dir, { segmentBytes: 4096 })).rejects.toThrow(
      new RegExp(`corruption in ${first.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at byte offset \\d+`),
    );
  });

  it('refuses a missing segment in the middle of the sequence', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 4096 });
    for (let i = 1; i <= 100; i++) await wal.append([{ type: 'entries', group: 1, entries: [entry(1, i, 1, 100)] }]);
    await wal.close();
    fs.unlinkSync(wal.segments()[2].file);
    await expect(Wal.open(dir)).rejects.toThrow(/is missing/);
  });

  it('stops for good after a failed fdatasync', async () => {
    const mem = new MemFs();
    const wal = await Wal.open('/w', { fs: mem });
    mem.failNextSync = new Error('EIO');
    const a = wal.append([{ type: 'entries', group: 1, entries: entries(1, 1, 1, 1) }]);
    await expect(a).rejects.toThrow(WalFailedError);
    await expect(wal.append([{ type: 'hardState', group: 1, hardState: { term: 1, vote: 0, commit: 0 } }])).rejects.toThrow(/EIO/);
    await wal.close();
  });

  it('works with preallocated segments', async () => {
    const wal = await Wal.open(dir, { segmentBytes: 64 * 1024, preallocate: true });
    for (let i = 1; i <= 1200; i += 4) {
      await wal.append([{ type: 'entries', group: 3, entries: entries(3, i, i + 3, 1, 200) }]);
    }
    expect(wal.segments().length).toBeGreaterThan(3);
    await wal.close();
    const sizes = wal.segments().map((s) => fs.statSync(s.file).size);
    expect(sizes.filter((s) => s === 64 * 1024).length).toBeGreaterThan(0);
    const again = await Wal.open(dir, { segmentBytes: 64 * 1024, preallocate: true });
    expect(again.storage(3).lastIndex()).toBe(1200);
    expect(again.storage(3).entries(1, 1201, Infinity)).toHaveLength(1200);
    await again.close();
  });
});
