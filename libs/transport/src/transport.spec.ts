import { connect, createServer, type Server, type Socket } from 'node:net';
import pino from 'pino';
import { MessageType, type Message } from '../../raft/src/types';
import { decode, FrameKind, type Envelope, type Frame, type NodeId } from './codec';
import { encodeFramed, FrameReader } from './framing';
import { PROTOCOL_VERSION, type ClockReading, type PeerAddress, type TransportLimits, type TransportLogger } from './options';
import { RaftTransport } from './transport';

// Compile-time check that a pino logger (what the apps use) satisfies TransportLogger.
const _pinoFits: TransportLogger = pino({ level: 'silent' });
void _pinoFits;

// Real TCP on 127.0.0.1 with ephemeral ports. Every wait is bounded in time; every loop in count.

interface LogLine {
  level: string;
  msg: string;
  fields: object;
}

function captureLogger(): TransportLogger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: object, msg: string) => void lines.push({ level, msg, fields });
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => lines.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.fields)}`).join('\n'),
  };
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

function appMsg(from: number, to: number, seq: number, dataBytes = 16): Message {
  return {
    type: MessageType.App, from, to, term: 5, logTerm: 5, index: seq, commit: seq, reject: false, rejectHint: 0,
    entries: [{ term: 5, index: seq + 1, type: 0, data: new Uint8Array(dataBytes).fill(seq & 0xff) }],
  };
}

const FAST: Partial<TransportLimits> = { backoffBaseMs: 10, backoffMaxMs: 100, handshakeTimeoutMs: 2000 };

/** A transport plus everything it received, checked for per-(peer, group) order on arrival. */
class Node {
  readonly t: RaftTransport;
  readonly log = captureLogger();
  /** Last index seen per "from/group", and order violations. */
  readonly last = new Map<string, number>();
  readonly outOfOrder: string[] = [];
  readonly unreachable: NodeId[] = [];
  readonly clockReadings: { from: NodeId; reading: ClockReading }[] = [];
  received = 0;

  constructor(readonly id: NodeId, opts: { port?: number; limits?: Partial<TransportLimits>; protocolVersion?: number; clockSkewUs?: number } = {}) {
    this.t = new RaftTransport({
      nodeId: id,
      port: opts.port,
      limits: { ...FAST, ...opts.limits },
      protocolVersion: opts.protocolVersion,
      clockUs: () => Date.now() * 1000 + (opts.clockSkewUs ?? 0),
      onClockReading: (from, reading) => this.clockReadings.push({ from, reading }),
      logger: this.log,
      onUnreachable: (n) => this.unreachable.push(n),
      onMessages: (from, batch) => this.onMessages(from, batch),
    });
  }

  private onMessages(from: NodeId, batch: readonly Envelope[]): void {
    for (const { groupId, msg } of batch) {
      const key = `${from}/${groupId}`;
      const prev = this.last.get(key) ?? -1;
      if (msg.index <= prev) this.outOfOrder.push(`${key}: ${msg.index} after ${prev}`);
      if (msg.to !== this.id) this.outOfOrder.push(`${key}: addressed to ${msg.to}`);
      this.last.set(key, msg.index);
      this.received++;
    }
  }
}

async function cluster(n: number, clockSkewUs: readonly number[] = []): Promise<Node[]> {
  const nodes = Array.from({ length: n }, (_, i) => new Node(i + 1, { clockSkewUs: clockSkewUs[i] ?? 0 }));
  const addrs = await Promise.all(nodes.map((x) => x.t.listen()));
  for (const x of nodes) nodes.forEach((y, i) => x.t.setPeer(y.id, addrs[i]));
  return nodes;
}

/** Sends `perPair` messages from every node to every other, over `groups` groups, across turns. */
async function exchange(nodes: Node[], perPair: number, groups: number, perTurn: number, startSeq = 0): Promise<void> {
  for (let sent = 0; sent < perPair; sent += perTurn) {
    for (let k = sent; k < Math.min(perPair, sent + perTurn); k++) {
      const seq = startSeq + k;
      // Index per (peer, group) grows with seq, so order can be checked on arrival.
      for (const a of nodes) for (const b of nodes) if (a !== b) a.t.send(b.id, seq % groups, appMsg(a.id, b.id, seq));
    }
    await nextTurn();
  }
}

describe('RaftTransport over TCP', () => {
  const open: RaftTransport[] = [];
  const sockets: Socket[] = [];
  const servers: Server[] = [];
  const track = (nodes: Node[]): Node[] => {
    open.push(...nodes.map((n) => n.t));
    return nodes;
  };
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const s of servers.splice(0)) s.close();
    await Promise.all(open.splice(0).map((t) => t.close()));
  });

  it('two transports exchange thousands of messages over many groups, in order, coalesced', async () => {
    const nodes = track(await cluster(2));
    const [a, b] = nodes;
    const perPair = 20_000;
    await exchange(nodes, perPair, 200, 1000);
    await waitFor(() => a.received === perPair && b.received === perPair, 'all messages delivered');
    expect(a.outOfOrder).toEqual([]);
    expect(b.outOfOrder).toEqual([]);
    expect(b.last.size).toBe(200);
    const s = a.t.stats();
    expect(s.messagesSent).toBe(perPair);
    expect(s.drops).toBe(0);
    // 1000 sends per turn → about one frame per turn, far fewer than one per message.
    expect(s.framesSent).toBeLessThanOrEqual(perPair / 100);
    expect(b.t.stats().framesReceived).toBe(s.framesSent);
    expect(a.log.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('everything sent in one event-loop turn leaves as exactly one frame', async () => {
    const [a, b] = track(await cluster(2));
    a.t.send(2, 1, appMsg(1, 2, 0)); // establish the connection first
    await waitFor(() => b.received === 1, 'first message');
    const before = a.t.stats().framesSent;
    for (let i = 1; i <= 1000; i++) a.t.send(2, i % 37, appMsg(1, 2, i));
    await waitFor(() => b.received === 1001, 'batch delivered');
    expect(a.t.stats().framesSent - before).toBe(1);
  });

  it('three transports exchange messages pairwise in order', async () => {
    const nodes = track(await cluster(3));
    await exchange(nodes, 4000, 64, 500);
    await waitFor(() => nodes.every((n) => n.received === 8000), 'all messages delivered');
    for (const n of nodes) {
      expect(n.outOfOrder).toEqual([]);
      expect(n.last.size).toBe(128); // 64 groups from each of 2 peers
    }
  });

  it('reconnects after a peer restarts on the same port and resumes delivery', async () => {
    const [a, b] = track(await cluster(2));
    const port = b.t.address!.port;
    await exchange([a, b], 500, 10, 100);
    await waitFor(() => b.received === 500, 'phase 1');
    await b.t.close();
    await waitFor(() => a.t.peerStats(2)?.state !== 'ready', 'sender notices the loss');
    await waitFor(() => a.unreachable.includes(2), 'onUnreachable(2)');
    for (let i = 500; i < 600; i++) a.t.send(2, i % 10, appMsg(1, 2, i)); // queued during the outage

    const b2 = track([new Node(2, { port })])[0];
    await b2.t.listen();
    await nextTurn();
    for (let i = 600; i < 1600; i++) a.t.send(2, i % 10, appMsg(1, 2, i));
    await waitFor(() => b2.received >= 1000 && [...b2.last.values()].every((v) => v >= 1590), 'phase 2 delivered to the restarted peer');
    expect(b2.outOfOrder).toEqual([]);
    expect(a.t.stats().reconnects).toBeGreaterThanOrEqual(1);
    expect(a.log.text()).toMatch(/connection lost/);
  });

  it('follows an address-book update and refuses to talk to the wrong node', async () => {
    const [a, b] = track(await cluster(2));
    const c = track([new Node(3)])[0];
    // A believes node 3 lives at B's address: B's handshake says otherwise, nothing is sent.
    a.t.setPeer(3, b.t.address!);
    a.t.send(3, 1, appMsg(1, 3, 0));
    await waitFor(() => /is node 2, expected 3/.test(a.log.text()), 'identity mismatch logged');
    expect(b.received).toBe(0);
    a.t.setPeer(3, await c.t.listen());
    await waitFor(() => c.received === 1, 'delivery after the address is fixed');
  });

  it('closes a connection that sends garbage or oversized frames and keeps serving others', async () => {
    const [a, b] = track(await cluster(2));
    a.t.send(2, 1, appMsg(1, 2, 0));
    await waitFor(() => b.received === 1, 'healthy link up');

    const closedBy = async (bytes: Buffer, handshakeFirst: boolean): Promise<void> => {
      const s = await rawConnect(b.t.address!);
      sockets.push(s);
      const closed = new Promise<void>((r) => s.on('close', () => r()));
      s.resume(); // read (and discard) the server's reply, or its FIN would never be seen
      if (handshakeFirst) s.write(encodeFramed({ kind: FrameKind.Handshake, protocolVersion: PROTOCOL_VERSION, nodeId: 99 }));
      s.write(bytes);
      await withTimeout(closed, 3000, `server closing the bad connection; log: ${b.log.text()}`);
    };
    const oversized = Buffer.alloc(4);
    oversized.writeUInt32LE(0xffffffff, 0);
    await closedBy(oversized, false);
    await closedBy(oversized, true);
    // A well-framed payload whose content is garbage (bad codec version).
    await closedBy(Buffer.from([6, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2]), true);
    // A batch before any handshake.
    await closedBy(encodeFramed({ kind: FrameKind.Batch, envelopes: [] }), false);

    const text = b.log.text();
    expect(text).toMatch(/too_large/);
    expect(text).toMatch(/version/);
    expect(text).toMatch(/expected a handshake/);
    expect(b.t.stats().connectionsRejected).toBe(4);

    for (let i = 1; i <= 200; i++) a.t.send(2, i % 5, appMsg(1, 2, i));
    await waitFor(() => b.received === 201, 'healthy peer still served');
    expect(a.t.stats().reconnects).toBe(0);
  });

  it('rejects a handshake with the wrong protocol version, with a reason', async () => {
    const [a, b] = track(await cluster(2));
    const s = await rawConnect(b.t.address!);
    sockets.push(s);
    const frames: Frame[] = [];
    const reader = new FrameReader();
    s.on('data', (c: Buffer) => reader.push(c).forEach((p) => frames.push(decode(p))));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.write(encodeFramed({ kind: FrameKind.Handshake, protocolVersion: 99, nodeId: 5 }));
    await withTimeout(closed, 3000, 'rejected connection to close');
    expect(frames).toHaveLength(1);
    const reply = frames[0];
    expect(reply.kind).toBe(FrameKind.Reject);
    expect(reply.kind === FrameKind.Reject && reply.reason).toMatch(/protocol version 99 not supported/);

    // A transport speaking another version never delivers and reports the peer unreachable.
    // (Node 1 has the lower id, so it is the one that dials node 2.)
    const c = track([new Node(1, { protocolVersion: 1 })])[0];
    await c.t.listen();
    c.t.setPeer(2, b.t.address!);
    c.t.send(2, 1, appMsg(1, 2, 0));
    await waitFor(() => /peer rejected our handshake/.test(c.log.text()), 'dialer logs the rejection');
    await waitFor(() => c.unreachable.includes(2), 'onUnreachable');
    expect(b.received).toBe(0);
    expect(a.t.stats().connectionsRejected).toBe(0);
  });

  it('applies back-pressure when the peer stops reading, drops oldest on overflow, then recovers', async () => {
    // A fake peer that completes the handshake and then stops reading its socket.
    let peerSocket: Socket | undefined;
    let delivered = 0;
    const server = createServer((s) => {
      peerSocket = s;
      const reader = new FrameReader();
      s.on('data', (chunk: Buffer) => {
        for (const p of reader.push(chunk)) {
          const f = decode(p);
          if (f.kind === FrameKind.Handshake) {
            s.write(encodeFramed({ kind: FrameKind.Handshake, protocolVersion: PROTOCOL_VERSION, nodeId: 2 }));
            s.pause();
          } else if (f.kind === FrameKind.Batch) delivered += f.envelopes.length;
        }
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;

    const a = track([new Node(1, { limits: { maxQueueMessages: 100, maxQueueBytes: 4 * 1024 * 1024, maxBatchBytes: 256 * 1024 } })])[0];
    a.t.setPeer(2, { host: '127.0.0.1', port });
    const total = 1500;
    for (let i = 0; i < total; i++) {
      a.t.send(2, i % 8, appMsg(1, 2, i, 32 * 1024)); // ~48 MB in all: far beyond socket buffers
      if (i % 50 === 49) await nextTurn();
    }
    await waitFor(() => a.t.peerStats(2)?.blocked === true, 'flush blocked on a full socket');
    const s = a.t.stats();
    expect(s.backpressureWaits).toBeGreaterThan(0);
    expect(s.drops).toBeGreaterThan(0);
    expect(s.queuedMessages).toBeLessThanOrEqual(100);
    await waitFor(() => a.unreachable.includes(2), 'overflow reported');

    peerSocket!.resume();
    await waitFor(() => a.t.stats().queuedMessages === 0 && !a.t.peerStats(2)!.blocked, 'queue drained');
    // Nothing vanishes unaccounted for: every message was delivered or counted as dropped.
    await waitFor(() => delivered + a.t.stats().drops === total, 'delivered + dropped = sent', 10_000);
  });

  it('times out silent peers in both directions', async () => {
    const limits = { handshakeTimeoutMs: 200 };
    const b = track([new Node(2, { limits })])[0];
    const addr = await b.t.listen();
    // Inbound: a connection that never sends a handshake is closed.
    const s = await rawConnect(addr);
    sockets.push(s);
    s.resume();
    await withTimeout(new Promise<void>((r) => s.on('close', () => r())), 3000, 'silent inbound closed');
    expect(b.log.text()).toMatch(/no handshake within 200 ms/);

    // Outbound: a listener that accepts but never answers the handshake is abandoned and retried.
    const mute = createServer((sock) => sock.resume());
    servers.push(mute);
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const a = track([new Node(1, { limits })])[0];
    a.t.setPeer(3, { host: '127.0.0.1', port: (mute.address() as { port: number }).port });
    a.t.send(3, 1, appMsg(1, 3, 0));
    await waitFor(() => a.t.stats().connectAttempts >= 2, 'dialer retries after the handshake timeout');
    expect(a.log.text()).toMatch(/no handshake within 200 ms/);
    expect(a.unreachable).toContain(3);
  });

  it('uses one connection per node pair for both directions; the lower id dials, even when only the higher one talks', async () => {
    const [a, b, c] = track(await cluster(3));
    // Only the higher ids send: 3 → 1, 3 → 2, 2 → 1. They never dial; the lower ids did.
    for (let i = 0; i < 300; i++) {
      c.t.send(1, i % 4, appMsg(3, 1, i));
      c.t.send(2, i % 4, appMsg(3, 2, i));
      b.t.send(1, i % 4, appMsg(2, 1, i));
    }
    await waitFor(() => a.received === 600 && b.received === 300, 'higher-to-lower delivery');
    for (let i = 300; i < 400; i++) a.t.send(3, 0, appMsg(1, 3, i));
    await waitFor(() => c.received === 100, 'lower-to-higher delivery');
    expect([a, b, c].map((n) => n.t.stats().connectAttempts)).toEqual([2, 1, 0]);
    expect([a, b, c].map((n) => n.t.stats().connectionsAccepted)).toEqual([0, 1, 2]);
    for (const n of [a, b, c]) expect(n.outOfOrder).toEqual([]);
  });

  it('clock pings measure each peer clock against this node, on both ends of the shared connection', async () => {
    // Node 2's clock runs 700 ms ahead of node 1's, node 3's 300 ms behind.
    const [a, b, c] = track(await cluster(3, [0, 700_000, -300_000]));
    expect(a.t.pingClocks()).toEqual([]); // no connection yet: nothing to measure over
    for (const [x, y] of [[a, b], [a, c], [b, c]]) x.t.send(y.id, 1, appMsg(x.id, y.id, 0));
    await waitFor(() => b.received === 1 && c.received === 2, 'connections up');
    // The dialer (lower id) and the acceptor both ping over the one connection between them.
    for (const n of [a, b, c]) expect(n.t.pingClocks().sort()).toEqual([1, 2, 3].filter((id) => id !== n.id));
    await waitFor(() => [a, b, c].every((n) => n.clockReadings.length === 2), 'every ping answered');
    const offsets = (n: Node): Record<number, number> => Object.fromEntries(n.clockReadings.map((r) => [r.from, Math.round(r.reading.offsetUs / 100_000) * 100]));
    expect(offsets(a)).toEqual({ 2: 700, 3: -300 });
    expect(offsets(b)).toEqual({ 1: -700, 3: -1000 });
    expect(offsets(c)).toEqual({ 1: 300, 2: 1000 });
    for (const n of [a, b, c]) {
      for (const { reading } of n.clockReadings) {
        expect(reading.rttUs).toBeGreaterThanOrEqual(0);
        expect(reading.rttUs).toBeLessThan(1_000_000);
      }
    }
    // Raft traffic is untouched by the pings.
    for (const n of [a, b, c]) expect(n.outOfOrder).toEqual([]);
    expect(a.t.stats().connectionsRejected + b.t.stats().connectionsRejected + c.t.stats().connectionsRejected).toBe(0);
  });

  it('the higher id waits for the lower one to come back after a restart, then delivers what it queued', async () => {
    const [a, b] = track(await cluster(2));
    const port = a.t.address!.port;
    b.t.send(1, 1, appMsg(2, 1, 0));
    await waitFor(() => a.received === 1, 'first delivery');
    await a.t.close();
    await waitFor(() => b.t.peerStats(1)?.state === 'waiting', 'link waits for node 1');
    await waitFor(() => b.unreachable.includes(1), 'onUnreachable(1)');
    for (let i = 1; i <= 50; i++) b.t.send(1, 1, appMsg(2, 1, i)); // queued: node 2 never dials node 1
    expect(b.t.stats().connectAttempts).toBe(0);
    const a2 = track([new Node(1, { port })])[0];
    a2.t.setPeer(2, b.t.address!);
    await a2.t.listen();
    await waitFor(() => a2.received === 50, 'queued messages delivered once node 1 redials');
    expect(a2.outOfOrder).toEqual([]);
    expect(b.t.stats().reconnects).toBe(1);
  });

  it('drops and reports messages for unknown peers; close() is clean and idempotent', async () => {
    const a = track([new Node(1)])[0];
    await a.t.listen();
    expect(a.t.send(42, 1, appMsg(1, 42, 0))).toBe(false);
    await nextTurn();
    expect(a.unreachable).toEqual([42]);
    a.t.setPeer(7, { host: '127.0.0.1', port: 1 }); // nothing listens there
    expect(a.t.send(7, 1, appMsg(1, 7, 0))).toBe(true);
    await a.t.close();
    await a.t.close();
    expect(a.t.send(7, 1, appMsg(1, 7, 1))).toBe(false);
    expect(a.t.stats().drops).toBe(2);
  });
});

function rawConnect(addr: PeerAddress): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(addr.port, addr.host, () => resolve(s));
    s.once('error', reject);
  });
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
