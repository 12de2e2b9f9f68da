import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MessageType, type Message, type Snapshot, type SnapshotMetadata } from '@weft/raft';
import { Wal } from '@weft/wal';
import { MultiRaftHost, type RaftSender } from './host';
import type { SnapshotSink, SnapshotSource, SnapshotWriter } from './snapshot-stream';

/**
 * Three hosts with real WALs on an in-process network (delivery on the next turn, with a
 * drop filter), so a test can isolate a follower, compact the leader's log, and watch the
 * snapshot travel as a chunked stream.
 */
class Net {
  readonly hosts = new Map<number, MultiRaftHost>();
  drop: (from: number, to: number, m: Message) => boolean = () => false;
  readonly seen: Message[] = [];
  sender(from: number): RaftSender {
    return {
      send: (to, groupId, m) => {
        if (this.drop(from, to, m)) return true;
        this.seen.push(m);
        setImmediate(() => this.hosts.get(to)?.receive(groupId, m));
        return true;
      },
    };
  }
}

const STATE_BYTES = 5 * 1024 * 1024 + 123;
/** The "application state" behind every snapshot: deterministic bytes, streamed in odd pieces. */
function stateBytes(): Buffer {
  const b = Buffer.alloc(STATE_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + (i >> 13)) & 0xff;
  return b;
}

class PiecesSource implements SnapshotSource {
  opened = 0;
  constructor(private readonly state: Buffer) {}
  async *open(_g: number, snap: Snapshot): AsyncIterable<Uint8Array> {
    this.opened++;
    expect(Buffer.from(snap.data).toString()).toMatch(/^checkpoint@\d+$/);
    // Pieces of uneven sizes, so re-chunking is exercised.
    for (let off = 0; off < this.state.length; ) {
      const n = Math.min(this.state.length - off, 300_000 + (off % 7) * 100_000);
      await new Promise((r) => setImmediate(r));
      yield this.state.subarray(off, off + n);
      off += n;
    }
  }
}

class RecordingSink implements SnapshotSink {
  installed: Buffer[] = [];
  aborted = 0;
  failNextWrites = 0;
  begin(_g: number, meta: SnapshotMetadata): SnapshotWriter {
    const parts: Buffer[] = [];
    return {
      write: (chunk) => {
        if (this.failNextWrites > 0) {
          this.failNextWrites--;
          throw new Error('disk full (test)');
        }
        parts.push(Buffer.from(chunk));
      },
      finish: () => {
        this.installed.push(Buffer.concat(parts));
        return Buffer.from(`received@${meta.index}`);
      },
      abort: () => void this.aborted++,
    };
  }
}

async function until(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('streamed InstallSnapshot', () => {
  let dir: string;
  let net: Net;
  let sink: RecordingSink;
  let source: PiecesSource;
  const installedSnaps: Snapshot[] = [];
  const applied = new Map<number, string[]>();

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'weft-snapstream-'));
    net = new Net();
    sink = new RecordingSink();
    source = new PiecesSource(stateBytes());
    installedSnaps.length = 0;
    for (const id of [1, 2, 3]) {
      const wal = await Wal.open(path.join(dir, `n${id}`));
      applied.set(id, []);
      const host = new MultiRaftHost({
        nodeId: id,
        wal,
        sender: net.sender(id),
        rand: { int: (n) => (id * 7) % n },
        tickMs: 5,
        apply: (_g, ents) => applied.get(id)?.push(...ents.map((e) => Buffer.from(e.data).toString())),
        snapshotSource: source,
        snapshotSink: sink,
        snapshotStream: { chunkBytes: 1 << 20, window: 2, timeoutMs: 2000 },
        applySnapshot: (_g, snap) => installedSnaps.push(snap),
      });
      net.hosts.set(id, host);
      await host.addGroup(1, [1, 2, 3]);
    }
    net.hosts.get(1)?.campaign(1);
    await until(() => net.hosts.get(1)?.status(1).state === 'leader');
  });

  afterEach(async () => {
    for (const h of net.hosts.values()) await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Isolates node 3, commits entries, compacts the leader's log past them, heals. */
  async function lagBehindCompaction(): Promise<number> {
    net.drop = (from, to) => from === 3 || to === 3;
    const leader = net.hosts.get(1) as MultiRaftHost;
    let last = 0;
    for (let i = 0; i < 20; i++) last = await leader.propose(1, Buffer.from(`v${i}`));
    await leader.compact(1, Buffer.from(`checkpoint@${last}`), last);
    return last;
  }

  it('sends the state as bounded chunks within the window, installs it only when complete, then catches up', async () => {
    const last = await lagBehindCompaction();
    net.drop = () => false;
    await until(() => installedSnaps.length === 1);
    const h1 = net.hosts.get(1) as MultiRaftHost;
    // The stream that completed (an earlier one may have started into the partition and
    // timed out) is the one whose last chunk was delivered.
    const lastChunk = net.seen.find((m) => m.type === MessageType.SnapChunk && m.commit === 1) as Message;
    const chunks = net.seen.filter((m) => m.type === MessageType.SnapChunk && m.rejectHint === lastChunk.rejectHint);
    expect(chunks.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(chunks.length).toBe(Math.ceil(STATE_BYTES / (1 << 20)));
    for (const c of chunks) expect(c.snapshot?.data.length).toBeLessThanOrEqual(1 << 20);
    // No whole-snapshot message ever went on the wire.
    expect(net.seen.some((m) => m.type === MessageType.Snap)).toBe(false);
    expect(h1.snapshotStats.maxInFlight).toBeLessThanOrEqual(2);
    expect(h1.snapshotStats.streamsCompleted).toBe(1);
    // The follower got every byte, in order, and its Raft log records the sink's reference.
    expect(sink.installed).toHaveLength(1);
    expect(sink.installed[0].equals(stateBytes())).toBe(true);
    expect(installedSnaps[0].metadata.index).toBe(last);
    expect(Buffer.from(installedSnaps[0].data).toString()).toBe(`received@${last}`);
    // Replication resumes after the snapshot.
    await h1.propose(1, Buffer.from('after-snapshot'));
    await until(() => applied.get(3)?.at(-1) === 'after-snapshot');
    expect(applied.get(3)).toEqual(['after-snapshot']);
  }, 30_000);

  it('aborts a stream whose sink fails and retries with a fresh one', async () => {
    await lagBehindCompaction();
    sink.failNextWrites = 1;
    net.drop = () => false;
    await until(() => installedSnaps.length === 1);
    const h1 = net.hosts.get(1) as MultiRaftHost;
    expect(sink.aborted).toBeGreaterThanOrEqual(1);
    expect(h1.snapshotStats.streamsFailed).toBeGreaterThanOrEqual(1);
    expect(h1.snapshotStats.streamsCompleted).toBe(1);
    expect(source.opened).toBeGreaterThanOrEqual(2);
    expect(sink.installed[0].equals(stateBytes())).toBe(true);
  }, 30_000);

  it('detects a lost chunk (gap) and recovers with a new stream', async () => {
    await lagBehindCompaction();
    let dropped = false;
    net.drop = (_f, _t, m) => {
      if (!dropped && m.type === MessageType.SnapChunk && m.index === 1) {
        dropped = true;
        return true;
      }
      return false;
    };
    await until(() => installedSnaps.length === 1);
    const h1 = net.hosts.get(1) as MultiRaftHost;
    expect(dropped).toBe(true);
    expect(h1.snapshotStats.streamsFailed).toBeGreaterThanOrEqual(1);
    expect(sink.installed).toHaveLength(1);
    expect(sink.installed[0].equals(stateBytes())).toBe(true);
  }, 30_000);
});
