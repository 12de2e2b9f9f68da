import { connect, type Socket } from 'node:net';
import type { Message } from '../../raft/src/types';
import { backoffDelay } from './backoff';
import { decode, FrameKind, type ClockPongFrame, type Envelope, type Frame, type NodeId } from './codec';
import { encodeBatchFramed, encodeFramed, FrameReader } from './framing';
import type { PeerAddress, TransportLimits, TransportLogger, TransportStats } from './options';
import { PeerQueue } from './peer-queue';

/** What a link needs from its transport; kept narrow so links can be tested in isolation. */
export interface LinkContext {
  readonly selfId: NodeId;
  readonly protocolVersion: number;
  readonly limits: TransportLimits;
  readonly stats: TransportStats;
  readonly log: TransportLogger;
  reportUnreachable(node: NodeId): void;
  /** Batches the peer sent back on a connection we dialed. */
  deliver(from: NodeId, batch: readonly Envelope[]): void;
  /** Clock pings: this node's clock (µs), and a peer's answer to our ping. */
  clockUs(): number;
  clockPong(from: NodeId, frame: ClockPongFrame): void;
}

/** 'waiting': the peer dials us (it has the lower id) and we have no connection from it now. */
type LinkState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'waiting' | 'closed';

export interface PeerLinkStats {
  readonly state: LinkState;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  readonly blocked: boolean;
}

/**
 * Everything this node sends to one peer node: one TCP connection per node pair carries every
 * group's messages in both directions. The node with the lower id dials (proactively, so the
 * other side can always reach it) and redials with backoff; the higher one waits for that
 * connection and adopts it (`attach`; the newest wins). Messages queue until the next
 * event-loop turn and then leave as one batch frame (coalescing); the queue survives
 * reconnects, so per-group order is kept across them.
 */
export class PeerLink {
  private readonly queue: PeerQueue;
  private socket: Socket | undefined;
  private state: LinkState;
  /** Whether this side dials (lower id) or waits to be dialed. */
  readonly dials: boolean;
  private attempt = 0;
  private everReady = false;
  private flushScheduled = false;
  private blocked = false;
  private timer: NodeJS.Timeout | undefined;
  /** Set once Raft has been told about this outage/overflow; cleared when the link recovers. */
  private unreachableReported = false;
  private closeReason = '';
  private readonly flushBound = (): void => this.flush();

  constructor(
    readonly nodeId: NodeId,
    private address: PeerAddress | undefined,
    private readonly ctx: LinkContext,
  ) {
    this.queue = new PeerQueue(ctx.limits.maxQueueBytes, ctx.limits.maxQueueMessages);
    this.dials = ctx.selfId < nodeId;
    this.state = this.dials ? 'idle' : 'waiting';
  }

  /** Dials now if this side dials (without waiting for something to send). */
  start(): void {
    if (this.state === 'idle' && this.address) this.connect();
  }

  enqueue(groupId: number, msg: Message, bytes: number): void {
    if (this.state === 'closed') return;
    const dropped = this.queue.push({ groupId, msg, bytes });
    if (dropped > 0) {
      this.ctx.stats.drops += dropped;
      this.reportUnreachable();
    }
    if (this.state === 'idle') this.start();
    else this.scheduleFlush();
  }

  /**
   * The peer dialed us and completed the handshake: send through this connection. A newer
   * connection replaces an older one (the peer redialed; the old one is dead or dying).
   */
  attach(socket: Socket): void {
    if (this.state === 'closed') {
      socket.destroy();
      return;
    }
    const old = this.socket;
    this.socket = socket;
    if (old && old !== socket) old.destroy();
    clearTimeout(this.timer);
    this.blocked = false;
    this.state = 'ready';
    this.unreachableReported = false;
    if (this.everReady) this.ctx.stats.reconnects++;
    this.everReady = true;
    socket.on('close', () => this.onClose(socket));
    this.scheduleFlush();
  }

  setAddress(address: PeerAddress): void {
    if (this.address && address.host === this.address.host && address.port === this.address.port) return;
    this.address = address;
    if (!this.dials) return;
    this.attempt = 0;
    if (this.socket) this.fail(this.socket, 'peer address changed');
    else if (this.state === 'backoff') {
      clearTimeout(this.timer);
      this.connect();
    }
  }

  /**
   * Sends a clock ping on the connection, outside the message queue (a reading must not wait
   * behind queued batches); false when there is no ready connection or it is backed up.
   */
  pingClock(): boolean {
    const socket = this.socket;
    if (this.state !== 'ready' || socket === undefined || this.blocked) return false;
    socket.write(encodeFramed({ kind: FrameKind.ClockPing, sentUs: this.ctx.clockUs() }));
    return true;
  }

  stats(): PeerLinkStats {
    return { state: this.state, queuedMessages: this.queue.length, queuedBytes: this.queue.bytes, blocked: this.blocked };
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    this.ctx.stats.drops += this.queue.clear();
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): void {
    if (!this.address) return;
    this.state = 'connecting';
    this.closeReason = '';
    this.ctx.stats.connectAttempts++;
    const { host, port } = this.address;
    const socket = connect({ host, port });
    this.socket = socket;
    socket.setNoDelay(true); // we coalesce ourselves; Nagle would only add latency
    const reader = new FrameReader(this.ctx.limits.maxFrameBytes);
    this.timer = setTimeout(
      () => this.fail(socket, `no handshake within ${this.ctx.limits.handshakeTimeoutMs} ms`),
      this.ctx.limits.handshakeTimeoutMs,
    );
    socket.on('connect', () => {
      socket.setKeepAlive(true, 10_000);
      socket.write(
        encodeFramed({ kind: FrameKind.Handshake, protocolVersion: this.ctx.protocolVersion, nodeId: this.ctx.selfId }),
      );
    });
    socket.on('data', (chunk: Buffer) => this.onData(socket, reader, chunk));
    socket.on('error', (err) => {
      if (!this.closeReason) this.closeReason = err.message;
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onData(socket: Socket, reader: FrameReader, chunk: Buffer): void {
    this.ctx.stats.bytesReceived += chunk.length;
    try {
      for (const payload of reader.push(chunk)) {
        this.onFrame(socket, decode(payload, this.ctx.limits.maxFrameBytes));
        if (socket.destroyed) return;
      }
    } catch (err) {
      // Whatever went wrong, it is confined to this connection: never let it reach the process.
      this.fail(socket, `bad frame from peer: ${(err as Error).message}`);
    }
  }

  private onFrame(socket: Socket, frame: Frame): void {
    if (this.state === 'ready' && (frame.kind === FrameKind.ClockPing || frame.kind === FrameKind.ClockPong)) {
      answerClockFrame(socket, frame, this.nodeId, this.ctx);
      return;
    }
    if (this.state === 'ready' && frame.kind === FrameKind.Batch) {
      // The peer's traffic to us rides on the connection we dialed.
      this.ctx.stats.framesReceived++;
      this.ctx.stats.messagesReceived += frame.envelopes.length;
      try {
        this.ctx.deliver(this.nodeId, frame.envelopes);
      } catch (err) {
        this.ctx.log.error({ peer: this.nodeId, err: (err as Error).stack }, 'raft transport onMessages threw');
      }
      return;
    }
    if (this.state !== 'connecting') {
      this.fail(socket, `unexpected frame kind ${frame.kind} on an established outbound connection`);
      return;
    }
    if (frame.kind === FrameKind.Reject) {
      this.fail(socket, `peer rejected our handshake: ${frame.reason}`);
      return;
    }
    if (frame.kind !== FrameKind.Handshake) {
      this.fail(socket, 'peer sent a batch before its handshake');
      return;
    }
    if (frame.protocolVersion !== this.ctx.protocolVersion) {
      this.fail(socket, `peer speaks protocol v${frame.protocolVersion}, this node v${this.ctx.protocolVersion}`);
      return;
    }
    if (frame.nodeId !== this.nodeId) {
      // The address book is stale: do not deliver this peer's messages to someone else.
      this.fail(socket, `${this.address?.host}:${this.address?.port} is node ${frame.nodeId}, expected ${this.nodeId}`);
      return;
    }
    clearTimeout(this.timer);
    this.state = 'ready';
    this.attempt = 0;
    this.unreachableReported = false;
    if (this.everReady) {
      this.ctx.stats.reconnects++;
      this.ctx.log.info({ peer: this.nodeId }, 'raft transport reconnected');
    }
    this.everReady = true;
    this.scheduleFlush();
  }

  private fail(socket: Socket, reason: string): void {
    if (!this.closeReason) this.closeReason = reason;
    socket.destroy();
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return; // a connection we already replaced
    this.socket = undefined;
    this.blocked = false;
    clearTimeout(this.timer);
    if (this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    const fields = {
      peer: this.nodeId,
      addr: this.address ? `${this.address.host}:${this.address.port}` : 'inbound',
      reason: this.closeReason || 'closed by peer',
      attempt: this.attempt,
    };
    if (!this.dials) {
      // The peer dials; wait for it to come back.
      this.state = 'waiting';
      if (wasReady) this.ctx.log.warn(fields, 'raft transport connection lost');
      this.reportUnreachable();
      return;
    }
    // Log the transition (up → down, or the first failed attempt) loudly and retries quietly.
    if (wasReady || this.attempt === 0) this.ctx.log.warn(fields, 'raft transport connection lost');
    else this.ctx.log.debug(fields, 'raft transport connect failed');
    this.reportUnreachable();
    this.state = 'backoff';
    const delay = backoffDelay(this.attempt++, { baseMs: this.ctx.limits.backoffBaseMs, maxMs: this.ctx.limits.backoffMaxMs });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private reportUnreachable(): void {
    if (this.unreachableReported) return;
    this.unreachableReported = true;
    this.ctx.reportUnreachable(this.nodeId);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.state !== 'ready' || this.blocked || this.queue.length === 0) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: everything Raft sends during this turn (all groups'
    // Ready batches) lands in the queue first and leaves as one frame.
    setImmediate(this.flushBound);
  }

  private flush(): void {
    this.flushScheduled = false;
    const socket = this.socket;
    if (this.state !== 'ready' || !socket || this.blocked) return;
    const stats = this.ctx.stats;
    while (this.queue.length > 0) {
      const { batch, bytes } = this.queue.take(this.ctx.limits.maxBatchBytes);
      const frame = encodeBatchFramed(batch, bytes);
      stats.framesSent++;
      stats.bytesSent += frame.length;
      stats.messagesSent += batch.length;
      if (!socket.write(frame)) {
        // Back-pressure: leave the rest queued (where the bounds apply) until the kernel
        // buffer drains, rather than piling unbounded data into the socket's own buffer.
        this.blocked = true;
        stats.backpressureWaits++;
        socket.once('drain', () => {
          if (socket !== this.socket) return;
          this.blocked = false;
          this.scheduleFlush();
        });
        return;
      }
    }
    this.unreachableReported = false;
  }
}

/**
 * Both ends of a connection take clock frames the same way: a ping is answered on the socket it
 * came on with this node's clock; an answer to our own ping goes to the transport.
 */
export function answerClockFrame(socket: Socket, frame: Frame, from: NodeId, ctx: Pick<LinkContext, 'clockUs' | 'clockPong'>): void {
  if (frame.kind === FrameKind.ClockPing) socket.write(encodeFramed({ kind: FrameKind.ClockPong, sentUs: frame.sentUs, peerUs: ctx.clockUs() }));
  else if (frame.kind === FrameKind.ClockPong) ctx.clockPong(from, frame);
}
