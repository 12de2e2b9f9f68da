/**
 * Streamed InstallSnapshot. The Raft core emits one `Snap` message whose `data` is small (for
 * Weft: a reference to a checkpoint). The host does not ship that message as is: it asks the
 * application's SnapshotSource for the real state as a byte stream, cuts it into bounded
 * chunks and sends them with a window of unacknowledged chunks (flow control). The receiving
 * host feeds the chunks, in order, to the application's SnapshotSink, and only once the last
 * one is written does it hand the core a `Snap` message to install. Then the last chunk is
 * acknowledged and the sender reports the outcome to its core (`reportSnapshot`).
 *
 * Any gap, a sink or source failure, or silence longer than the timeout aborts the stream;
 * the leader's core falls back to probing and sends a fresh snapshot later.
 */
import { makeMessage, MessageType, type Message, type Snapshot, type SnapshotMetadata } from '@weft/raft';

/** Where a leader's host gets the state behind a snapshot (e.g. checkpoint or SST files). */
export interface SnapshotSource {
  /** The application state as of `snapshot.metadata.index`, as byte chunks of any size. */
  open(groupId: number, snapshot: Snapshot): AsyncIterable<Uint8Array>;
}

/** Where a follower's host puts an incoming snapshot until it is complete. */
export interface SnapshotSink {
  begin(groupId: number, metadata: SnapshotMetadata): SnapshotWriter;
}

export interface SnapshotWriter {
  /** Chunks arrive in order; the next write waits until this one settles. */
  write(chunk: Uint8Array): void | Promise<void>;
  /**
   * Every chunk arrived: make the state installable. Resolves with the snapshot `data` the
   * Raft log records (keep it small: a reference to what was written).
   */
  finish(): Uint8Array | Promise<Uint8Array>;
  /** The stream broke off: discard what was written. */
  abort(reason: Error): void;
}

/**
 * The default source and sink: the snapshot's `data` is the whole state; the receiver
 * assembles the chunks in memory. Fine for small state and tests; real shards plug in
 * checkpoint files.
 */
export const inMemorySnapshots: SnapshotSource & SnapshotSink = {
  async *open(_groupId: number, snapshot: Snapshot): AsyncIterable<Uint8Array> {
    yield snapshot.data;
  },
  begin(): SnapshotWriter {
    const parts: Uint8Array[] = [];
    return {
      write: (chunk) => void parts.push(chunk),
      finish: () => Buffer.concat(parts),
      abort: () => void (parts.length = 0),
    };
  },
};

export interface SnapshotStreamOptions {
  /** Largest chunk sent (default 1 MiB). */
  readonly chunkBytes?: number;
  /** Chunks sent but not yet acknowledged, at most (default 4). */
  readonly window?: number;
  /** Abort a stream when no chunk or ack arrives for this long (default 10 s). */
  readonly timeoutMs?: number;
}

export interface StreamStats {
  streamsStarted: number;
  streamsCompleted: number;
  streamsFailed: number;
  chunksSent: number;
  chunksReceived: number;
  bytesSent: number;
  /** Highest number of unacknowledged chunks seen on any stream. */
  maxInFlight: number;
}

const DEFAULTS = { chunkBytes: 1 << 20, window: 4, timeoutMs: 10_000 };

/** Re-cuts a stream of arbitrary pieces into chunks of exactly `size` bytes (the last shorter). */
async function* rechunk(src: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  let buf: Uint8Array[] = [];
  let have = 0;
  for await (const piece of src) {
    let p = piece;
    while (have + p.length >= size) {
      const take = size - have;
      buf.push(p.subarray(0, take));
      yield buf.length === 1 ? buf[0] : Buffer.concat(buf, size);
      p = p.subarray(take);
      buf = [];
      have = 0;
    }
    if (p.length > 0) {
      buf.push(p);
      have += p.length;
    }
  }
  // Always a final chunk (possibly empty): it is what tells the receiver the stream is whole.
  yield buf.length === 1 ? buf[0] : Buffer.concat(buf, have);
}

interface Outgoing {
  readonly id: number;
  readonly groupId: number;
  readonly to: number;
  readonly snap: Message;
  inFlight: number;
  /** Set once the last chunk is sent: the stream is done when it is acknowledged. */
  lastSeq: number | undefined;
  done: boolean;
  wake: (() => void) | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** The leader side: one stream per (group, follower) at a time. */
export class SnapshotSender {
  private readonly streams = new Map<string, Outgoing>();
  private nextId = 1;
  private readonly o: Required<SnapshotStreamOptions>;

  constructor(
    private readonly source: SnapshotSource,
    private readonly send: (toNode: number, groupId: number, msg: Message) => void,
    /** Told once per stream: did the follower install the snapshot? */
    private readonly report: (groupId: number, to: number, ok: boolean) => void,
    opts: SnapshotStreamOptions,
    readonly stats: StreamStats,
  ) {
    this.o = { ...DEFAULTS, ...opts };
  }

  /** Starts streaming the core's Snap message `m` (ignored if one is already under way). */
  start(groupId: number, m: Message): void {
    const key = `${groupId}/${m.to}`;
    if (this.streams.has(key) || !m.snapshot) return;
    const st: Outgoing = { id: this.nextId++, groupId, to: m.to, snap: m, inFlight: 0, lastSeq: undefined, done: false, wake: undefined, timer: undefined };
    this.streams.set(key, st);
    this.stats.streamsStarted++;
    this.arm(st);
    this.run(st).catch((e: unknown) => this.finish(st, false, e));
  }

  /** An ack (or abort) from the follower. */
  onAck(groupId: number, m: Message): void {
    const st = this.streams.get(`${groupId}/${m.from}`);
    if (!st || st.id !== m.rejectHint || st.done) return;
    if (m.reject) {
      this.finish(st, false);
      return;
    }
    st.inFlight--;
    this.arm(st);
    if (st.lastSeq !== undefined && m.index === st.lastSeq) {
      this.finish(st, true);
      return;
    }
    const w = st.wake;
    st.wake = undefined;
    w?.();
  }

  /** Aborts every stream (host closing). */
  close(): void {
    for (const st of [...this.streams.values()]) this.finish(st, false);
  }

  private async run(st: Outgoing): Promise<void> {
    const meta = st.snap.snapshot as Snapshot;
    const it = rechunk(this.source.open(st.groupId, meta), this.o.chunkBytes)[Symbol.asyncIterator]();
    let seq = 0;
    let cur = await it.next();
    while (!cur.done && !st.done) {
      // Look one ahead so the last chunk can say it is the last.
      const next = await it.next();
      while (st.inFlight >= this.o.window && !st.done) await new Promise<void>((r) => (st.wake = r));
      if (st.done) break;
      const last = next.done === true;
      this.send(
        st.to,
        st.groupId,
        makeMessage({
          type: MessageType.SnapChunk,
          to: st.to,
          from: st.snap.from,
          term: st.snap.term,
          index: seq,
          commit: last ? 1 : 0,
          rejectHint: st.id,
          snapshot: { metadata: meta.metadata, data: cur.value },
        }),
      );
      st.inFlight++;
      if (st.inFlight > this.stats.maxInFlight) this.stats.maxInFlight = st.inFlight;
      this.stats.chunksSent++;
      this.stats.bytesSent += cur.value.length;
      if (last) st.lastSeq = seq;
      seq++;
      cur = next;
    }
    if (st.done) await it.return?.();
  }

  private arm(st: Outgoing): void {
    clearTimeout(st.timer);
    st.timer = setTimeout(() => this.finish(st, false), this.o.timeoutMs);
    st.timer.unref();
  }

  private finish(st: Outgoing, ok: boolean, _err?: unknown): void {
    if (st.done) return;
    st.done = true;
    clearTimeout(st.timer);
    this.streams.delete(`${st.groupId}/${st.to}`);
    if (ok) this.stats.streamsCompleted++;
    else this.stats.streamsFailed++;
    const w = st.wake;
    st.wake = undefined;
    w?.();
    this.report(st.groupId, st.to, ok);
  }
}

interface Incoming {
  readonly id: number;
  readonly groupId: number;
  readonly from: number;
  readonly writer: SnapshotWriter;
  expect: number;
  /** Writes run one after another, in chunk order. */
  chain: Promise<void>;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** The follower side: assembles streams and hands complete snapshots to the core. */
export class SnapshotReceiver {
  private readonly streams = new Map<string, Incoming>();
  private readonly o: Required<SnapshotStreamOptions>;

  constructor(
    private readonly sink: SnapshotSink,
    private readonly send: (toNode: number, groupId: number, msg: Message) => void,
    /** A whole snapshot, as the core's Snap message, ready to be stepped. */
    private readonly install: (groupId: number, snap: Message) => void,
    opts: SnapshotStreamOptions,
    readonly stats: StreamStats,
  ) {
    this.o = { ...DEFAULTS, ...opts };
  }

  onChunk(groupId: number, m: Message): void {
    if (!m.snapshot) return;
    const key = `${groupId}/${m.from}`;
    let st = this.streams.get(key);
    if (st && st.id !== m.rejectHint) {
      // A newer stream from the same leader supersedes an unfinished one.
      this.abort(st, new Error('superseded by a newer snapshot stream'), false);
      st = undefined;
    }
    if (!st) {
      if (m.index !== 0) {
        // The start of this stream is gone (we restarted, or aborted it): tell the sender.
        this.ack(groupId, m, true);
        return;
      }
      let writer: SnapshotWriter;
      try {
        writer = this.sink.begin(groupId, m.snapshot.metadata);
      } catch {
        this.ack(groupId, m, true);
        return;
      }
      st = { id: m.rejectHint, groupId, from: m.from, writer, expect: 0, chain: Promise.resolve(), done: false, timer: undefined };
      this.streams.set(key, st);
    }
    const s = st;
    if (m.index !== s.expect) {
      this.abort(s, new Error(`snapshot chunk ${m.index} arrived, expected ${s.expect}`), true, m);
      return;
    }
    s.expect++;
    this.stats.chunksReceived++;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => this.abort(s, new Error('snapshot stream timed out'), false), this.o.timeoutMs);
    s.timer.unref();
    const data = m.snapshot.data;
    const metadata = m.snapshot.metadata;
    const last = m.commit === 1;
    s.chain = s.chain
      .then(async () => {
        if (s.done) return;
        await s.writer.write(data);
        if (!last) {
          this.ack(groupId, m, false);
          return;
        }
        const ref = await s.writer.finish();
        if (s.done) return;
        s.done = true;
        clearTimeout(s.timer);
        this.streams.delete(key);
        this.install(
          groupId,
          makeMessage({
            type: MessageType.Snap,
            to: m.to,
            from: m.from,
            term: m.term,
            snapshot: { metadata, data: ref },
          }),
        );
        this.ack(groupId, m, false);
      })
      .catch((e: unknown) => this.abort(s, e instanceof Error ? e : new Error(String(e)), true, m));
  }

  close(): void {
    for (const st of [...this.streams.values()]) this.abort(st, new Error('host closed'), false);
  }

  private ack(groupId: number, m: Message, reject: boolean): void {
    this.send(m.from, groupId, makeMessage({ type: MessageType.SnapChunkAck, to: m.from, from: m.to, term: m.term, index: m.index, reject, rejectHint: m.rejectHint }));
  }

  private abort(st: Incoming, reason: Error, tellSender: boolean, m?: Message): void {
    if (st.done) return;
    st.done = true;
    clearTimeout(st.timer);
    this.streams.delete(`${st.groupId}/${st.from}`);
    try {
      st.writer.abort(reason);
    } catch {
      // The sink's cleanup failing must not take the host down.
    }
    if (tellSender && m) this.ack(st.groupId, m, true);
  }
}
