/**
 * A write-ahead log shared by many Raft groups: one append path and one fdatasync serve every
 * group hosted by the process (multi-Raft group commit).
 *
 * Life of an append: records are validated against the group's in-memory log, encoded, applied
 * to that log (so the RaftStorage view sees them at once, in append order), and queued. A
 * single flush loop takes the whole queue, writes it with one write per segment touched and
 * issues one fdatasync; the appends' promises resolve only after that fdatasync. Appends that
 * arrive while a sync is in flight wait in the queue and share the next one.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { HardState, Snapshot } from '../../raft/src/types';
import { encodeBatch, encodeRecord } from './codec';
import { WalClosedError, WalCorruptionError, WalFailedError } from './errors';
import type { WalFile, WalFs } from './fs';
import { nodeFs } from './fs';
import { GroupLog, GroupStorage, Undo } from './group-log';
import { GroupRecord, LogRecord, RecordKind, WalRecord } from './records';
import { TMP_SUFFIX, parseSegmentName, scanSegment, segmentName } from './segment';

export interface WalOptions {
  /** File-system access; defaults to node:fs. The simulator passes a crashable disk. */
  readonly fs?: WalFs;
  /** Roll to a new segment once this many bytes are in the current one. Default 64 MiB. */
  readonly segmentBytes?: number;
  /**
   * Zero-fill the next segment in the background so rollover finds its blocks allocated
   * (fdatasync then has no block-allocation metadata to flush). Default false.
   */
  readonly preallocate?: boolean;
  /** Told about things recovery repaired on its own (torn tail cut, stale files removed). */
  readonly onNotice?: (message: string) => void;
  /** Observes each fdatasync, e.g. to feed a latency histogram. */
  readonly onSync?: (info: { readonly ms: number; readonly records: number; readonly bytes: number }) => void;
  /** How a flush is deferred so same-tick appends batch up. Default setImmediate. */
  readonly schedule?: (fn: () => void) => void;
}

export interface WalStats {
  /** append() calls accepted. */
  appends: number;
  /** Records written (excluding segment headers and checkpoints). */
  records: number;
  /** Bytes written, framing included. */
  bytes: number;
  /** fdatasync calls on segments (directory syncs not counted). */
  syncs: number;
  syncMsTotal: number;
  syncMsMax: number;
  syncMsLast: number;
  segmentsCreated: number;
  segmentsDeleted: number;
}

export interface SegmentInfo {
  readonly seq: number;
  readonly file: string;
  /** Bytes of records in the segment. */
  readonly bytes: number;
}

export interface RecoveryInfo {
  readonly segments: number;
  readonly records: number;
  readonly groups: number;
  readonly tornTail?: { readonly file: string; readonly offset: number; readonly reason: string };
  readonly ms: number;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  end: number;
  /** Highest entry index each group wrote here: the segment is obsolete once all are compacted. */
  readonly maxEntry: Map<number, number>;
  /** Its checkpoint is whole, so every segment before it may go. */
  checkpointComplete: boolean;
  /** Where records start, after header and checkpoint. */
  headerEnd: number;
}

/** Non-entry state of a group as of the last record written (not merely appended). */
interface WrittenMeta {
  hardState?: HardState;
  snapshot?: Snapshot;
  compact?: { index: number; term: number };
}

interface Pending {
  /** One frame for the whole append (a Batch when it holds several records); none if empty. */
  readonly frame: Buffer | undefined;
  readonly recs: GroupRecord[];
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const PREALLOC_CHUNK = 1024 * 1024;

export class Wal {
  private readonly fs: WalFs;
  private readonly segmentBytes: number;
  private readonly schedule: (fn: () => void) => void;
  private readonly groupLogs = new Map<number, GroupLog>();
  private readonly written = new Map<number, WrittenMeta>();
  /** Compaction points known to be durable; only these may release segments. */
  private readonly syncedCompact = new Map<number, number>();
  private segs: Segment[] = [];
  private cur: { seg: Segment; file: WalFile } | undefined;
  private queue: Pending[] = [];
  private flushing = false;
  private flushDone: Promise<void> = Promise.resolve();
  private failure: WalFailedError | undefined;
  private closed = false;
  private prepared: { seq: number; path: string; ready: boolean; done: Promise<void> } | undefined;
  private readonly counters: WalStats = {
    appends: 0,
    records: 0,
    bytes: 0,
    syncs: 0,
    syncMsTotal: 0,
    syncMsMax: 0,
    syncMsLast: 0,
    segmentsCreated: 0,
    segmentsDeleted: 0,
  };
  recovery: RecoveryInfo = { segments: 0, records: 0, groups: 0, ms: 0 };

  private constructor(
    readonly dir: string,
    private readonly opts: WalOptions,
  ) {
    this.fs = opts.fs ?? nodeFs;
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.schedule = opts.schedule ?? ((fn) => void setImmediate(fn));
  }

  /**
   * Opens (creating if needed) the WAL in `dir`: replays every segment in order, cuts a torn
   * tail off the last one, refuses corruption anywhere else (WalCorruptionError), then starts
   * a fresh segment whose checkpoint restates every group's durable state.
   */
  static async open(dir: string, options: WalOptions = {}): Promise<Wal> {
    const wal = new Wal(dir, options);
    await wal.recover();
    return wal;
  }

  // ---------------------------------------------------------------- reading

  /** The RaftStorage view of one group (created empty if the WAL has never seen it). */
  storage(group: number): GroupStorage {
    return this.groupLog(group);
  }

  /** Groups with any state in the log. */
  groups(): number[] {
    return [...this.groupLogs.keys()].sort((a, b) => a - b);
  }

  stats(): WalStats & { readonly queuedAppends: number; readonly segments: number } {
    return { ...this.counters, queuedAppends: this.queue.length, segments: this.segs.length };
  }

  segments(): SegmentInfo[] {
    return this.segs.map((s) => ({ seq: s.seq, file: s.path, bytes: s.end }));
  }

  /** Groups whose uncompacted entries keep the oldest segment alive (for diagnostics). */
  pinningGroups(): number[] {
    const oldest = this.segs[0];
    if (!oldest || this.segs.length < 2) return [];
    return [...oldest.maxEntry].filter(([g, max]) => max > (this.syncedCompact.get(g) ?? 0)).map(([g]) => g);
  }

  // ---------------------------------------------------------------- writing

  /**
   * Appends records (any mix of groups) and resolves once they are durable. The records are
   * validated first: if any is invalid, none is applied and the promise rejects.
   */
  append(records: readonly WalRecord[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new WalClosedError());
    const recs: GroupRecord[] = [];
    const undos: Undo[] = [];
    let frame: Buffer | undefined;
    try {
      for (const r of records) {
        const log = this.groupLog(r.group);
        const decided = log.decide(r);
        if (!decided) continue;
        undos.push(log.apply(decided));
        recs.push(decided);
      }
      // All of this append's records share one frame and one CRC: a torn write can never
      // leave, say, a snapshot on disk without the hard state that came with it.
      if (recs.length > 0) frame = encodeBatch(recs);
    } catch (e) {
      for (let i = undos.length - 1; i >= 0; i--) undos[i]();
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    this.counters.appends++;
    // Even an append with nothing to write queues up: it resolves in order, after the
    // appends before it are durable.
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame, recs, resolve, reject });
      this.kick();
    });
  }

  /** Waits for queued appends, then releases the files. Further appends reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.flushDone;
    if (this.prepared) await this.prepared.done.catch(() => {});
    this.cur?.file.close();
    this.cur = undefined;
  }

  private groupLog(group: number): GroupLog {
    let log = this.groupLogs.get(group);
    if (!log) {
      if (!Number.isSafeInteger(group) || group < 0) throw new RangeError(`wal: bad group id ${group}`);
      log = new GroupLog(group);
      this.groupLogs.set(group, log);
    }
    return log;
  }

  private kick(): void {
    if (this.flushing) return; // the running loop picks the new append up after its sync
    this.flushing = true;
    this.flushDone = new Promise<void>((resolve) =>
      this.schedule(() => {
        void this.flushLoop().finally(resolve);
      }),
    );
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.failure) {
        const batch = this.queue;
        this.queue = [];
        await this.writeBatch(batch);
      }
    } finally {
      this.flushing = false;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    try {
      const compactions: Array<[number, number]> = [];
      let chunk: Buffer[] = [];
      let chunkBytes = 0;
      let records = 0;
      let bytes = 0;
      for (const p of batch) {
        const frame = p.frame;
        if (frame !== undefined) {
          const cur = this.current();
          // Roll when full, but never leave a segment with no records past its checkpoint:
          // a record bigger than a segment gets a segment to itself.
          const used = cur.seg.end + chunkBytes;
          if (used + frame.length > this.segmentBytes && used > cur.seg.headerEnd) {
            this.writeChunk(chunk, chunkBytes);
            chunk = [];
            chunkBytes = 0;
            // The old segment must be whole on disk before a newer one exists: only the
            // last segment may ever have a torn tail.
            await this.timedSync(cur.file, records, bytes);
            await this.roll(false);
          }
          chunk.push(frame);
          chunkBytes += frame.length;
          for (const rec of p.recs) this.noteWritten(rec, this.current().seg, compactions);
          records += p.recs.length;
          bytes += frame.length;
        }
      }
      if (chunkBytes > 0) {
        this.writeChunk(chunk, chunkBytes);
        await this.timedSync(this.current().file, records, bytes);
      }
      this.counters.records += records;
      this.counters.bytes += bytes;
      for (const [g, idx] of compactions) {
        if (idx > (this.syncedCompact.get(g) ?? 0)) this.syncedCompact.set(g, idx);
      }
      for (const p of batch) p.resolve();
      if (compactions.length > 0) await this.deleteObsoleteSegments();
    } catch (e) {
      this.fail(e, batch);
    }
  }

  private current(): { seg: Segment; file: WalFile } {
    if (!this.cur) throw new WalClosedError();
    return this.cur;
  }

  private writeChunk(chunk: Buffer[], bytes: number): void {
    const cur = this.current();
    const buf = chunk.length === 1 ? chunk[0] : Buffer.concat(chunk, bytes);
    cur.file.write(buf, cur.seg.end);
    cur.seg.end += bytes;
  }

  private async timedSync(file: WalFile, records: number, bytes: number): Promise<void> {
    const t0 = performance.now();
    await file.datasync();
    const ms = performance.now() - t0;
    const c = this.counters;
    c.syncs++;
    c.syncMsTotal += ms;
    c.syncMsLast = ms;
    if (ms > c.syncMsMax) c.syncMsMax = ms;
    this.opts.onSync?.({ ms, records, bytes });
  }

  /** Tracks what is on disk, in write order: checkpoints and segment release depend on it. */
  private noteWritten(rec: GroupRecord, seg: Segment, compactions: Array<[number, number]>): void {
    const meta = this.meta(rec.group);
    switch (rec.kind) {
      case RecordKind.Entries: {
        const last = rec.entries[rec.entries.length - 1].index;
        if (last > (seg.maxEntry.get(rec.group) ?? 0)) seg.maxEntry.set(rec.group, last);
        break;
      }
      case RecordKind.HardState:
        meta.hardState = rec.hardState;
        break;
      case RecordKind.Snapshot:
        meta.snapshot = rec.snapshot;
        if (rec.reset) {
          meta.compact = { index: rec.snapshot.metadata.index, term: rec.snapshot.metadata.term };
          compactions.push([rec.group, rec.snapshot.metadata.index]);
        }
        break;
      case RecordKind.Compact:
        meta.compact = { index: rec.index, term: rec.term };
        compactions.push([rec.group, rec.index]);
        break;
    }
  }

  private meta(group: number): WrittenMeta {
    let m = this.written.get(group);
    if (!m) {
      m = {};
      this.written.set(group, m);
    }
    return m;
  }

  private fail(e: unknown, batch: Pending[]): void {
    this.failure ??= e instanceof WalFailedError ? e : new WalFailedError(e);
    const pending = batch.concat(this.queue);
    this.queue = [];
    for (const p of pending) p.reject(this.failure);
  }

  // ---------------------------------------------------------------- segments

  /**
   * Starts the next segment: header (with the previous segment's length, so a shortened
   * segment is caught on replay) and a checkpoint restating every group's hard state,
   * snapshot and compaction point. Thanks to the checkpoint, deleting older segments can
   * never lose a group's latest hard state.
   */
  private async roll(syncNow: boolean): Promise<void> {
    const prev = this.segs[this.segs.length - 1];
    const seq = prev ? prev.seq + 1 : 1;
    this.cur?.file.close();
    this.cur = undefined;
    const file = this.openSegmentFile(seq);
    const seg: Segment = {
      seq,
      path: path.join(this.dir, segmentName(seq)),
      end: 0,
      maxEntry: new Map(),
      checkpointComplete: true,
      headerEnd: 0,
    };
    const frames: Buffer[] = [encodeRecord({ kind: RecordKind.SegmentHeader, seq, prevEnd: prev ? prev.end : 0 })];
    let count = 0;
    for (const [group, m] of this.written) {
      const recs: LogRecord[] = [];
      if (m.compact) recs.push({ kind: RecordKind.Compact, group, index: m.compact.index, term: m.compact.term });
      if (m.snapshot) recs.push({ kind: RecordKind.Snapshot, group, snapshot: m.snapshot, reset: false });
      if (m.hardState) recs.push({ kind: RecordKind.HardState, group, hardState: m.hardState });
      for (const r of recs) frames.push(encodeRecord(r));
      count += recs.length;
    }
    frames.push(encodeRecord({ kind: RecordKind.CheckpointEnd, records: count }));
    const buf = Buffer.concat(frames);
    file.write(buf, 0);
    seg.end = buf.length;
    seg.headerEnd = buf.length;
    this.segs.push(seg);
    this.cur = { seg, file };
    this.counters.segmentsCreated++;
    if (syncNow) await file.datasync();
    await this.fs.syncDir(this.dir);
    if (this.opts.preallocate) this.prepareNext(seq + 1);
  }

  private openSegmentFile(seq: number): WalFile {
    const target = path.join(this.dir, segmentName(seq));
    const p = this.prepared;
    if (p && p.seq === seq && p.ready) {
      this.prepared = undefined;
      this.fs.rename(p.path, target);
      return this.fs.open(target, false);
    }
    return this.fs.open(target, true);
  }

  /** Zero-fills the next segment off the hot path, a chunk per tick. */
  private prepareNext(seq: number): void {
    const old = this.prepared;
    if (old && old.seq >= seq) return;
    // A preparation overtaken by rollover is useless now; remove its file when it finishes.
    if (old) void old.done.then(() => this.discardPrepared(old.path));
    const tmp = path.join(this.dir, segmentName(seq).replace(/\.wal$/, TMP_SUFFIX));
    const entry = { seq, path: tmp, ready: false, done: Promise.resolve() };
    entry.done = (async () => {
      const file = this.fs.open(tmp, true);
      try {
        const zeros = Buffer.alloc(PREALLOC_CHUNK);
        for (let off = 0; off < this.segmentBytes && !this.closed; off += PREALLOC_CHUNK) {
          file.write(zeros.subarray(0, Math.min(PREALLOC_CHUNK, this.segmentBytes - off)), off);
          await new Promise<void>((r) => setImmediate(r));
        }
        await file.datasync();
        entry.ready = !this.closed;
      } finally {
        file.close();
      }
    })().catch((e: unknown) => this.opts.onNotice?.(`wal: preallocating ${tmp} failed: ${String(e)}`));
    this.prepared = entry;
  }

  private discardPrepared(file: string): void {
    try {
      this.fs.unlink(file);
    } catch {
      // Already gone, or the disk is failing; recovery removes stray .tmp files anyway.
    }
  }

  /**
   * Deletes the oldest segments whose entries every group has compacted (durably). Only a
   * prefix goes, oldest first with a directory sync after each, so a crash can never leave a
   * hole in the sequence; and the first survivor must carry a whole checkpoint.
   */
  private async deleteObsoleteSegments(): Promise<void> {
    let k = 0;
    while (k < this.segs.length - 1) {
      let obsolete = true;
      for (const [g, max] of this.segs[k].maxEntry) {
        if (max > (this.syncedCompact.get(g) ?? 0)) {
          obsolete = false;
          break;
        }
      }
      if (!obsolete) break;
      k++;
    }
    while (k > 0 && !this.segs[k].checkpointComplete) k--;
    for (let i = 0; i < k; i++) {
      const seg = this.segs[0];
      this.fs.unlink(seg.path);
      this.segs.shift();
      this.counters.segmentsDeleted++;
      await this.fs.syncDir(this.dir);
    }
  }

  // ---------------------------------------------------------------- recovery

  private async recover(): Promise<void> {
    const t0 = performance.now();
    const fs = this.fs;
    const notice = (m: string): void => this.opts.onNotice?.(m);
    fs.mkdirp(this.dir);
    const names = fs.list(this.dir);
    for (const n of names) {
      if (n.endsWith(TMP_SUFFIX)) {
        fs.unlink(path.join(this.dir, n));
        notice(`wal: removed unused preallocated segment ${n}`);
      }
    }
    const seqs = names
      .map(parseSegmentName)
      .filter((s): s is number => s !== undefined)
      .sort((a, b) => a - b);
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1] + 1) {
        throw new WalCorruptionError(path.join(this.dir, segmentName(seqs[i])), 0, `segment ${segmentName(seqs[i - 1] + 1)} is missing`);
      }
    }
    let records = 0;
    let tornTail: RecoveryInfo['tornTail'];
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i];
      const file = path.join(this.dir, segmentName(seq));
      const isLast = i === seqs.length - 1;
      const prev = this.segs[this.segs.length - 1];
      const seg: Segment = { seq, path: file, end: 0, maxEntry: new Map(), checkpointComplete: false, headerEnd: 0 };
      let sawHeader = false;
      let inCheckpoint = true;
      let checkpointRecords = 0;
      const res = scanSegment(fs.read(file), file, isLast, (rec, off) => {
        records++;
        if (!sawHeader) {
          if (rec.kind !== RecordKind.SegmentHeader) throw new WalCorruptionError(file, off, 'segment does not start with a header');
          if (rec.seq !== seq) throw new WalCorruptionError(file, off, `header names segment ${rec.seq}`);
          if (prev && rec.prevEnd !== prev.end) {
            throw new WalCorruptionError(
              prev.path,
              prev.end,
              `records end at byte ${prev.end} but the next segment says ${rec.prevEnd} bytes were written`,
            );
          }
          sawHeader = true;
          return;
        }
        switch (rec.kind) {
          case RecordKind.SegmentHeader:
            throw new WalCorruptionError(file, off, 'unexpected segment header');
          case RecordKind.CheckpointEnd:
            if (!inCheckpoint || rec.records !== checkpointRecords) {
              throw new WalCorruptionError(file, off, 'checkpoint end does not match the checkpoint');
            }
            inCheckpoint = false;
            seg.checkpointComplete = true;
            return;
          default:
            if (inCheckpoint) checkpointRecords++;
            this.groupLog(rec.group).apply(rec, { file, offset: off });
            if (rec.kind === RecordKind.Entries) this.noteWritten(rec, seg, []);
        }
      });
      seg.end = res.end;
      if (res.torn) {
        tornTail = { file, offset: res.torn.offset, reason: res.torn.reason };
        notice(`wal: truncated torn tail of ${file} at byte offset ${res.torn.offset} (${res.torn.reason})`);
      }
      if (!sawHeader) {
        if (!isLast) throw new WalCorruptionError(file, 0, 'segment has no header');
        // Crash while creating the segment: nothing in it was ever acknowledged.
        fs.unlink(file);
        notice(`wal: removed empty last segment ${file}`);
        continue;
      }
      if (res.torn) {
        const f = fs.open(file, false);
        f.truncate(res.end);
        await f.datasync();
        f.close();
      }
      this.segs.push(seg);
    }
    for (const log of this.groupLogs.values()) {
      if (log.hole) {
        throw new WalCorruptionError(
          log.hole.file,
          log.hole.offset,
          `group ${log.group}: entries before index ${log.hole.index} are missing and no compaction point covers them`,
        );
      }
      this.syncedCompact.set(log.group, log.compactIndex());
      // What replay rebuilt is exactly what is on disk: it seeds the next checkpoint.
      const meta = this.meta(log.group);
      const hs = log.hardState();
      if (hs.term !== 0 || hs.vote !== 0 || hs.commit !== 0) meta.hardState = hs;
      if (log.snapshot().metadata.index > 0) meta.snapshot = log.snapshot();
      if (log.compactIndex() > 0) meta.compact = { index: log.compactIndex(), term: log.compactionTerm() };
    }
    // Recovery always continues in a fresh segment, so the old last segment (perhaps cut
    // short) is sealed with its length recorded, and the new one opens with a full checkpoint.
    await this.roll(true);
    await this.deleteObsoleteSegments();
    this.recovery = {
      segments: seqs.length,
      records,
      groups: this.groupLogs.size,
      tornTail,
      ms: performance.now() - t0,
    };
  }
}
