import { createServer, type Server } from 'node:net';
import type { Message } from '../../raft/src/types';
import { envelopeSize, type ClockPongFrame, type Envelope, type NodeId } from './codec';
import { InboundConnection, type InboundContext } from './inbound';
import {
  DEFAULT_LIMITS,
  emptyStats,
  PROTOCOL_VERSION,
  stderrLogger,
  type PeerAddress,
  type RaftTransportOptions,
  type TransportLimits,
  type TransportLogger,
  type TransportStats,
} from './options';
import { PeerLink, type LinkContext, type PeerLinkStats } from './peer-link';

/** Batch header (version, kind, count varint) plus a margin: a message must fit a frame with it. */
const FRAME_OVERHEAD_BYTES = 16;

/**
 * Carries Raft messages of many groups between nodes: one TCP connection per node pair (the
 * lower id dials, both directions share it), binary batch frames, per-turn coalescing,
 * bounded queues, reconnect with backoff. Raft tolerates loss, so the transport drops rather
 * than blocks when a peer falls behind.
 */
export class RaftTransport {
  readonly nodeId: NodeId;
  private readonly limits: TransportLimits;
  private readonly log: TransportLogger;
  private readonly counters: TransportStats = emptyStats();
  private readonly peers = new Map<NodeId, PeerAddress>();
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<InboundConnection>();
  private readonly linkCtx: LinkContext;
  private readonly inboundCtx: InboundContext;
  private server: Server | undefined;
  private listening: PeerAddress | undefined;
  private closed = false;

  constructor(private readonly opts: RaftTransportOptions) {
    this.nodeId = opts.nodeId;
    const limits = { ...DEFAULT_LIMITS, ...opts.limits };
    // A batch target above the frame limit would produce frames the peer must refuse.
    this.limits = { ...limits, maxBatchBytes: Math.min(limits.maxBatchBytes, limits.maxFrameBytes - FRAME_OVERHEAD_BYTES) };
    this.log = opts.logger ?? stderrLogger;
    for (const [id, addr] of opts.peers ?? []) this.peers.set(id, addr);
    const protocolVersion = opts.protocolVersion ?? PROTOCOL_VERSION;
    const common = { selfId: opts.nodeId, protocolVersion, limits: this.limits, stats: this.counters, log: this.log };
    const deliver = (from: NodeId, batch: readonly Envelope[]): void => opts.onMessages(from, batch);
    const clockUs = opts.clockUs ?? ((): number => Math.floor((performance.timeOrigin + performance.now()) * 1000));
    const clock = { clockUs, clockPong: (from: NodeId, frame: ClockPongFrame): void => this.clockPong(from, frame, clockUs()) };
    this.linkCtx = { ...common, ...clock, reportUnreachable: (node) => this.reportUnreachable(node), deliver };
    this.inboundCtx = { ...common, ...clock, deliver, adopt: (from, socket) => this.link(from).attach(socket) };
  }

  /** Starts accepting peers; resolves with the bound address (useful with port 0). */
  async listen(): Promise<PeerAddress> {
    if (this.closed) throw new Error('transport is closed');
    if (this.listening) return this.listening;
    const server = createServer((socket) => {
      if (this.closed) {
        socket.destroy();
        return;
      }
      const conn = new InboundConnection(socket, this.inboundCtx, (c) => this.inbound.delete(c));
      this.inbound.add(conn);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    // After listening, a server error must not become an uncaught exception.
    server.on('error', (err) => this.log.error({ err: err.message }, 'raft transport server error'));
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('raft transport: unexpected server address');
    this.listening = { host: addr.address, port: addr.port };
    // Dial every higher-id peer now: they wait for us, and may have something to say first.
    for (const id of this.peers.keys()) if (id > this.nodeId) this.link(id).start();
    return this.listening;
  }

  get address(): PeerAddress | undefined {
    return this.listening;
  }

  /** Adds or updates a peer's address; an open connection to an old address is re-dialled. */
  setPeer(node: NodeId, address: PeerAddress): void {
    this.peers.set(node, address);
    this.links.get(node)?.setAddress(address);
    if (this.listening && node > this.nodeId && !this.closed) this.link(node).start();
  }

  /** Forgets a peer: its connection is closed and its queued messages dropped. */
  removePeer(node: NodeId): void {
    this.peers.delete(node);
    const link = this.links.get(node);
    if (link) {
      link.close();
      this.links.delete(node);
    }
  }

  /**
   * Queues `msg` for `groupId` on `toNode`; it leaves with everything else queued for that
   * node in this event-loop turn. Returns false if it was dropped at once (unknown peer,
   * closed transport, oversized). Throws RangeError for a message the wire cannot represent.
   */
  send(toNode: NodeId, groupId: number, msg: Message): boolean {
    if (this.closed) return false;
    const bytes = envelopeSize({ groupId, msg });
    const address = this.peers.get(toNode);
    // A lower-id peer that dialed us is reachable without an address-book entry.
    if ((address === undefined && !this.links.has(toNode)) || toNode === this.nodeId) {
      this.counters.drops++;
      this.reportUnreachable(toNode);
      return false;
    }
    if (bytes + FRAME_OVERHEAD_BYTES > this.limits.maxFrameBytes || bytes > this.limits.maxQueueBytes) {
      this.counters.drops++;
      this.log.warn({ peer: toNode, groupId, type: msg.type, bytes }, 'raft message too large for one frame; dropped');
      this.reportUnreachable(toNode);
      return false;
    }
    this.link(toNode).enqueue(groupId, msg, bytes);
    return true;
  }

  private link(node: NodeId): PeerLink {
    let link = this.links.get(node);
    if (link === undefined) {
      link = new PeerLink(node, this.peers.get(node), this.linkCtx);
      this.links.set(node, link);
    }
    return link;
  }

  /**
   * Sends a clock ping to every peer with a ready connection; each answer arrives as
   * `onClockReading`. Returns the peers pinged.
   */
  pingClocks(): NodeId[] {
    const pinged: NodeId[] = [];
    if (this.closed) return pinged;
    for (const [node, link] of this.links) if (link.pingClock()) pinged.push(node);
    return pinged;
  }

  private clockPong(from: NodeId, frame: ClockPongFrame, nowUs: number): void {
    const rttUs = nowUs - frame.sentUs;
    // An answer to a ping we never sent, or our clock stepped back meanwhile: no reading.
    if (rttUs < 0 || this.opts.onClockReading === undefined) return;
    const reading = { offsetUs: frame.peerUs - (frame.sentUs + nowUs) / 2, rttUs, atUs: nowUs };
    try {
      this.opts.onClockReading(from, reading);
    } catch (err) {
      this.log.error({ peer: from, err: (err as Error).stack }, 'raft transport onClockReading threw');
    }
  }

  /** A snapshot of the counters (for metrics export) plus current queue depths. */
  stats(): TransportStats & { queuedMessages: number; queuedBytes: number } {
    let queuedMessages = 0;
    let queuedBytes = 0;
    for (const link of this.links.values()) {
      const s = link.stats();
      queuedMessages += s.queuedMessages;
      queuedBytes += s.queuedBytes;
    }
    return { ...this.counters, queuedMessages, queuedBytes };
  }

  peerStats(node: NodeId): PeerLinkStats | undefined {
    return this.links.get(node)?.stats();
  }

  /** Stops listening, closes every connection and timer; queued messages are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const conn of this.inbound) conn.destroy();
    this.inbound.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private reportUnreachable(node: NodeId): void {
    const cb = this.opts.onUnreachable;
    if (!cb) return;
    // Deferred so Raft never re-enters itself from inside its own send() call.
    queueMicrotask(() => {
      if (this.closed) return;
      try {
        cb(node);
      } catch (err) {
        this.log.error({ peer: node, err: (err as Error).stack }, 'raft transport onUnreachable threw');
      }
    });
  }
}
