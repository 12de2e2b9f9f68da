import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeEntry } from '@weft/logentry';
import { Materializer } from '@weft/materialize';
import type { SnapshotMetadata } from '@weft/raft';
import { MvccStore, NS_DATA } from '@weft/storage';
import { entryStream, keyOf } from '../../materialize/src/testing/entries';
import { ShardReplica } from './replica';
import { ShardStateDir, ShardStateDirError } from './snapshot-dirs';
import { SnapshotDecoder, SnapshotFormatError, decodeSnapshotRef, encodeHeader, encodeRecords, encodeTrailer, type SnapshotFrame } from './snapshot-format';
import { ShardSnapshotSink, SnapshotRejectedError, type StagedShardState } from './snapshot-sink';
import { ShardSnapshotSource, streamShardState } from './snapshot-source';

const SHARD = 3;
const meta = (index: number): SnapshotMetadata => ({
  index,
  term: 1,
  confState: { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
});

async function collect(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of src) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** Cuts a stream into pieces of irregular sizes, as a transport would. */
function cut(b: Buffer, sizes = [1, 3, 700, 5, 4096, 11, 65536]): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < b.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(b.subarray(off, off + n));
    off += n;
  }
  return out;
}

describe('shard snapshots: stream, stage, verify, install', () => {
  let root: string;
  const stores: MvccStore[] = [];

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'weft-snapshot-'));
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  /** A materializer in its own directory with `count` entries of a seeded random log applied. */
  async function source(name: string, count: number, seed = 42): Promise<Materializer> {
    const store = await MvccStore.open(path.join(root, name));
    stores.push(store);
    const m = await Materializer.open(store, SHARD);
    let i = 0;
    for (const e of entryStream(seed, count)) m.apply(++i, encodeEntry(e));
    return m;
  }

  /** The receiving replica's side: its state dir and current materializer, and a sink over them. */
  async function receiver(count = 0): Promise<{ dirs: ShardStateDir; current: () => Materializer; installed: StagedShardState[]; sink: ShardSnapshotSink; failures: Error[] }> {
    const nodeDir = path.join(root, `node-${Math.random().toString(36).slice(2)}`);
    const dirs = new ShardStateDir(nodeDir, SHARD);
    const store = await MvccStore.open(dirs.current());
    stores.push(store);
    let cur = await Materializer.open(store, SHARD);
    let i = 0;
    for (const e of entryStream(42, count)) cur.apply(++i, encodeEntry(e));
    const installed: StagedShardState[] = [];
    const failures: Error[] = [];
    const sink = new ShardSnapshotSink({
      shardId: SHARD,
      dirs,
      appliedIndex: () => cur.appliedIndex,
      install: (st) => {
        stores.push(st.store);
        installed.push(st);
        cur = st.materializer;
      },
      onFailed: (e) => failures.push(e),
    });
    return { dirs, current: () => cur, installed, sink, failures };
  }

  const stagingDirs = (dirs: ShardStateDir): string[] => readdirSync(dirs.root).filter((n) => n.includes('.snap-') && path.join(dirs.root, n) !== dirs.current());

  it('round-trips a shard state: same applied index, state hash, reads, prepared transactions; and the copy keeps applying', async () => {
    const src = await source('src', 600);
    expect(src.preparedTxns.length).toBeGreaterThan(0); // the log leaves 2PC intents open
    const bytes = await collect(streamShardState(src, { frameBytes: 4096 }));
    const r = await receiver();
    const w = r.sink.begin(SHARD, meta(500));
    for (const c of cut(bytes)) await w.write(c);
    const ref = await w.finish();

    expect(r.installed).toHaveLength(1);
    const dst = r.current();
    expect(decodeSnapshotRef(ref)).toBe(600);
    expect(dst.appliedIndex).toBe(600);
    expect(dst.stateHash().equals(src.stateHash())).toBe(true);
    expect(dst.verifyStateHash().ok).toBe(true);
    expect([dst.lastCommitTs, dst.closedTs]).toEqual([src.lastCommitTs, src.closedTs]);
    expect([...dst.preparedTxns].sort()).toEqual([...src.preparedTxns].sort());
    // Every key reads the same (value, or the same intent conflict) on both.
    const readAll = (m: Materializer): string[] =>
      Array.from({ length: 200 }, (_, i) => {
        try {
          const row = m.read(keyOf(i), src.lastCommitTs);
          return row ? `${row.value.toString('hex')}@${row.ts}` : '-';
        } catch (e) {
          return String(e);
        }
      });
    const reads = readAll(src);
    expect(reads.filter((x) => x !== '-' && !x.includes('intent')).length).toBeGreaterThan(50);
    expect(readAll(dst)).toEqual(reads);
    // The pointer names the new directory: a restart opens the snapshot's state.
    expect(r.dirs.current()).toBe(r.installed[0].dir);

    // Both continue from the same log and stay identical (in-memory txn state was rebuilt too).
    let i = 0;
    for (const e of entryStream(42, 700)) {
      if (++i <= 600) continue;
      expect(dst.apply(i, encodeEntry(e))).toEqual(src.apply(i, encodeEntry(e)));
    }
    expect(dst.stateHash().equals(src.stateHash())).toBe(true);
  });

  it('streams a consistent view: entries applied while the stream runs are not in it', async () => {
    const src = await source('src', 300);
    const hashAt300 = src.stateHash();
    const it = streamShardState(src, { frameBytes: 512 })[Symbol.asyncIterator]();
    const first = await it.next(); // the view is fixed here
    let i = 0;
    for (const e of entryStream(42, 400)) if (++i > 300) src.apply(i, encodeEntry(e));
    const parts = [first.value as Buffer];
    for (let n = await it.next(); !n.done; n = await it.next()) parts.push(n.value);
    const r = await receiver();
    const w = r.sink.begin(SHARD, meta(300));
    await w.write(Buffer.concat(parts));
    await w.finish();
    expect(r.current().appliedIndex).toBe(300);
    expect(r.current().stateHash().equals(hashAt300)).toBe(true);
    expect(src.appliedIndex).toBe(400);
  });

  it('rejects a corrupted chunk at the frame it hits; the replica keeps its state and the staging directory goes', async () => {
    const src = await source('src', 200);
    const bytes = Buffer.from(await collect(streamShardState(src, { frameBytes: 1024 })));
    bytes[Math.floor(bytes.length / 2)] ^= 0x40;
    const r = await receiver(50);
    const before = r.current().stateHash();
    const w = r.sink.begin(SHARD, meta(150));
    let err: unknown;
    try {
      for (const c of cut(bytes)) await w.write(c);
      await w.finish();
    } catch (e) {
      err = e;
      w.abort(e as Error);
    }
    expect(err).toBeInstanceOf(SnapshotFormatError);
    expect(String(err)).toMatch(/frame \d+ at offset \d+: checksum mismatch/);
    expect(r.installed).toHaveLength(0);
    expect(r.current().appliedIndex).toBe(50);
    expect(r.current().stateHash().equals(before)).toBe(true);
    await r.sink.settled();
    expect(stagingDirs(r.dirs)).toEqual([]);
    expect(r.sink.stats).toMatchObject({ rejected: 1, aborted: 1, installed: 0 });
  });

  /** Decodes a stream into frames so a test can tamper with content and re-frame it validly. */
  function frames(bytes: Buffer): SnapshotFrame[] {
    const d = new SnapshotDecoder();
    const out = d.push(bytes);
    d.end();
    return out;
  }
  function reframe(fs: SnapshotFrame[]): Buffer {
    return Buffer.concat(
      fs.map((f) => (f.kind === 'header' ? encodeHeader(f.header.shardId) : f.kind === 'records' ? encodeRecords(f.rows) : encodeTrailer(f.trailer))),
    );
  }

  async function attempt(bytes: Buffer, index: number, applied = 0): Promise<{ err: unknown; r: Awaited<ReturnType<typeof receiver>> }> {
    const r = await receiver(applied);
    const w = r.sink.begin(SHARD, meta(index));
    try {
      for (const c of cut(bytes)) await w.write(c);
      await w.finish();
      return { err: undefined, r };
    } catch (e) {
      w.abort(e as Error);
      return { err: e, r };
    }
  }

  it('rejects validly framed content whose data does not hash to the stated state', async () => {
    const src = await source('src', 200);
    const fs = frames(await collect(streamShardState(src, { frameBytes: 1024 })));
    // A version's value (a data key's: local keys such as prepared records are decoded on open
    // and would be refused for that reason instead).
    const isData = (f: SnapshotFrame): boolean => f.kind === 'records' && f.rows.some((b, i) => i % 2 === 0 && b[0] === NS_DATA);
    const rec = fs.find(isData) as Extract<SnapshotFrame, { kind: 'records' }>;
    const rows = rec.rows.map((b) => Buffer.from(b));
    const at = rows.findIndex((b, i) => i % 2 === 0 && b[0] === NS_DATA) + 1;
    rows[at] = Buffer.concat([rows[at], Buffer.from('!')]);
    const tampered = fs.map((f) => (f === rec ? { kind: 'records' as const, rows } : f));
    const { err, r } = await attempt(reframe(tampered), 150);
    expect(err).toBeInstanceOf(SnapshotRejectedError);
    expect(String(err)).toMatch(/state hash recomputed from the staged data/);
    expect(r.installed).toHaveLength(0);
    await r.sink.settled();
    expect(stagingDirs(r.dirs)).toEqual([]);
  });

  it('rejects a stream without its trailer, with a miscounted trailer, of another shard, or older than the Raft snapshot', async () => {
    const src = await source('src', 120);
    const fs = frames(await collect(streamShardState(src, { frameBytes: 2048 })));
    const trailer = fs[fs.length - 1] as Extract<SnapshotFrame, { kind: 'trailer' }>;

    const noTrailer = await attempt(reframe(fs.slice(0, -1)), 100);
    expect(String(noTrailer.err)).toMatch(/without a trailer/);

    const dropped = fs.filter((f, i) => !(f.kind === 'records' && i === 2));
    const miscount = await attempt(reframe(dropped), 100);
    expect(String(miscount.err)).toMatch(/trailer counts \d+ records, \d+ arrived/);

    const other = await attempt(reframe([{ kind: 'header', header: { format: 1, shardId: 9 } }, ...fs.slice(1)]), 100);
    expect(String(other.err)).toMatch(/snapshot is of shard 9, expected shard 3/);

    const old = await attempt(reframe(fs), 121);
    expect(String(old.err)).toMatch(/staged state at applied index 120 is older than the Raft snapshot's index 121/);

    const wrongIndex = await attempt(reframe([...fs.slice(0, -1), { kind: 'trailer', trailer: { ...trailer.trailer, appliedIndex: 119 } }]), 100);
    expect(String(wrongIndex.err)).toMatch(/staged state is at applied index 120, the trailer says 119/);

    for (const a of [noTrailer, miscount, other, old, wrongIndex]) {
      expect(a.err).toBeInstanceOf(Error);
      expect(a.r.installed).toHaveLength(0);
    }
  });

  it('abort mid-stream leaves the old state in place and removes what was staged', async () => {
    const src = await source('src', 200);
    const bytes = await collect(streamShardState(src, { frameBytes: 1024 }));
    const r = await receiver(30);
    const w = r.sink.begin(SHARD, meta(150));
    await w.write(bytes.subarray(0, bytes.length >> 1));
    expect(stagingDirs(r.dirs)).toHaveLength(1);
    w.abort(new Error('snapshot stream timed out'));
    await r.sink.settled();
    expect(stagingDirs(r.dirs)).toEqual([]);
    expect(r.installed).toHaveLength(0);
    expect(r.current().appliedIndex).toBe(30);
    expect(r.failures.map((e) => e.message)).toEqual(['snapshot stream timed out']);
    await expect(w.write(bytes.subarray(bytes.length >> 1))).rejects.toThrow(/no longer writing/);
  });

  it('an abort that lands while finish() verifies wins: nothing is installed', async () => {
    const src = await source('src', 100);
    const bytes = await collect(streamShardState(src));
    const r = await receiver(10);
    const w = r.sink.begin(SHARD, meta(90));
    await w.write(bytes);
    const finishing = w.finish();
    w.abort(new Error('snapshot stream timed out'));
    await expect(finishing).rejects.toThrow(/snapshot stream was aborted/);
    await r.sink.settled();
    expect(r.installed).toHaveLength(0);
    expect(r.current().appliedIndex).toBe(10);
    expect(stagingDirs(r.dirs)).toEqual([]);
    expect(r.dirs.current()).toBe(path.join(r.dirs.root, 'shard-3'));
  });

  it('drops a verified state that is not newer than the replica (a late or duplicate stream)', async () => {
    const src = await source('src', 100);
    const bytes = await collect(streamShardState(src));
    const r = await receiver(150);
    const w = r.sink.begin(SHARD, meta(90));
    await w.write(bytes);
    expect(decodeSnapshotRef(await w.finish())).toBe(150);
    expect(r.installed).toHaveLength(0);
    expect(r.sink.stats.superseded).toBe(1);
    await r.sink.settled();
    expect(stagingDirs(r.dirs)).toEqual([]);
  });

  it('the source refuses groups it does not host and a state behind the snapshot; release() fails open streams', async () => {
    const src = await source('src', 50);
    const s = new ShardSnapshotSource((g) => (g === SHARD ? src : undefined), { frameBytes: 256 });
    await expect(collect(s.open(4, { metadata: meta(10), data: new Uint8Array() }))).rejects.toThrow(/group 4 .* does not host it/);
    await expect(collect(s.open(SHARD, { metadata: meta(51), data: new Uint8Array() }))).rejects.toThrow(/applied index 50 is behind the snapshot's index 51/);
    const it = s.open(SHARD, { metadata: meta(50), data: new Uint8Array() })[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    s.release(src.store);
    await expect(it.next()).rejects.toThrow(/state being streamed was replaced/);
  });
});

describe('ShardStateDir', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'weft-statedir-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('switches the live directory durably and cleans up the rest', async () => {
    const d = new ShardStateDir(root, 1);
    expect(d.current()).toBe(path.join(root, 'shard-1'));
    const a = d.createStaging();
    const b = d.createStaging();
    d.switchTo(a);
    expect(new ShardStateDir(root, 1).current()).toBe(a);
    expect(d.cleanup().sort()).toEqual([path.basename(b)]);
    expect(existsSync(a)).toBe(true);
    await expect(d.remove(a)).rejects.toThrow(/refusing to remove the live state directory/);
    expect(() => d.switchTo(path.join(tmpdir(), 'elsewhere'))).toThrow(ShardStateDirError);
  });

  it('names what is wrong with a damaged pointer file', () => {
    const d = new ShardStateDir(root, 1);
    writeFileSync(path.join(root, 'shard-1.current'), '../../etc\n');
    expect(() => d.current()).toThrow(/names "..\/..\/etc", which is not a state directory of shard 1/);
    writeFileSync(path.join(root, 'shard-1.current'), 'shard-1.snap-gone\n');
    expect(() => d.current()).toThrow(/names shard-1.snap-gone, but .* does not exist/);
  });
});

describe('ShardReplica with snapshots', () => {
  const sm = (shardId: number, appliedIndex: number) => ({
    shardId, appliedIndex, lastCommitTs: 5_000_000_000_000_000n, closedTs: 0n,
    stateHash: () => Buffer.alloc(32), apply: () => 'already-applied' as const, applyEmpty: () => undefined,
    read: () => undefined, scan: () => ({ rows: [] }), txnStatus: () => ({ kind: 'unknown' as const }), checkReads: () => undefined, newestVersionTs: () => 0n,
  });
  const replica = (state: ReturnType<typeof sm>): ShardReplica =>
    new ShardReplica({
      raft: { propose: () => Promise.reject(new Error('no raft')), status: () => ({ id: 1, leader: 2, term: 1 }), leaseValid: () => false, readIndex: () => Promise.reject(new Error('no raft')) },
      stateMachine: state,
      clock: { now: () => 1_000n },
      timers: { every: () => ({ stop: () => undefined }) },
    });

  it('swaps in a newer state, refuses an older one or another shard, and moves its clock past the new state', async () => {
    const r = replica(sm(1, 10));
    expect(() => r.replaceStateMachine(sm(1, 9))).toThrow(/behind the current 10/);
    expect(() => r.replaceStateMachine(sm(2, 20))).toThrow(/shard 2 offered to the replica of shard 1/);
    r.replaceStateMachine(sm(1, 20));
    expect(r.appliedIndex).toBe(20);
    expect(await r.now()).toBeGreaterThanOrEqual(5_000_000_000_000_000n);
    r.close();
  });

  it('stops (instead of skipping entries) when a Raft snapshot is recorded past its state', () => {
    const r = replica(sm(1, 10));
    r.snapshotInstalled(10);
    expect(r.stoppedError()).toBeUndefined();
    r.snapshotInstalled(11);
    expect(r.stoppedError()?.message).toMatch(/raft snapshot at index 11 installed, but the state machine is only at applied index 10/);
    r.close();
  });
});
