import type { Socket } from 'node:net';
import { decode, FrameKind, type ClockPongFrame, type Envelope, type Frame, type NodeId } from './codec';
import { FrameDecodeError } from './errors';
import { encodeFramed, FrameReader } from './framing';
import type { TransportLimits, TransportLogger, TransportStats } from './options';
import { answerClockFrame } from './peer-link';

export interface InboundContext {
  readonly selfId: NodeId;
  readonly protocolVersion: number;
  readonly limits: TransportLimits;
  readonly stats: TransportStats;
  readonly log: TransportLogger;
  deliver(from: NodeId, batch: readonly Envelope[]): void;
  /** The handshake succeeded: our sends to `from` now use this socket too. */
  adopt(from: NodeId, socket: Socket): void;
  clockUs(): number;
  clockPong(from: NodeId, frame: ClockPongFrame): void;
}

/** How long a refused peer gets to read our Reject frame before we drop the socket. */
const REJECT_LINGER_MS = 1000;

/**
 * The accepting end of a peer pair's connection: expects a handshake, answers with our own (so
 * the dialer can verify it reached the node it meant to), hands the socket to the peer's link
 * for our own sends (one connection per pair, both directions), then decodes batch frames and
 * delivers them. Any malformed input closes this connection only, with the reason logged.
 */
export class InboundConnection {
  private fromNode: NodeId | undefined;
  private done = false;
  private readonly reader: FrameReader;
  private readonly timer: NodeJS.Timeout;
  private readonly remote: string;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: InboundContext,
    private readonly onClosed: (conn: InboundConnection) => void,
  ) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.reader = new FrameReader(ctx.limits.maxFrameBytes);
    socket.setNoDelay(true);
    // Both ends probe an idle connection: a peer that vanished without a FIN/RST (power loss,
    // partition) is noticed and reported unreachable, which wakes quiesced Raft groups.
    socket.setKeepAlive(true, 10_000);
    this.timer = setTimeout(
      () => this.drop(`no handshake within ${ctx.limits.handshakeTimeoutMs} ms`),
      ctx.limits.handshakeTimeoutMs,
    );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => ctx.log.debug({ remote: this.remote, peer: this.fromNode, err: err.message }, 'raft transport inbound socket error'));
    socket.on('close', () => {
      clearTimeout(this.timer);
      this.onClosed(this);
    });
  }

  destroy(): void {
    this.done = true;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    this.ctx.stats.bytesReceived += chunk.length;
    try {
      for (const payload of this.reader.push(chunk)) {
        this.onFrame(decode(payload, this.ctx.limits.maxFrameBytes));
        if (this.done) return;
      }
    } catch (err) {
      const what = err instanceof FrameDecodeError ? 'malformed frame' : 'internal error handling frame';
      this.drop(`${what}: ${(err as Error).message}`);
    }
  }

  private onFrame(frame: Frame): void {
    if (this.fromNode === undefined) {
      this.onHandshake(frame);
      return;
    }
    if (frame.kind === FrameKind.ClockPing || frame.kind === FrameKind.ClockPong) {
      answerClockFrame(this.socket, frame, this.fromNode, this.ctx);
      return;
    }
    if (frame.kind !== FrameKind.Batch) {
      this.drop(`unexpected frame kind ${frame.kind} after handshake`);
      return;
    }
    this.ctx.stats.framesReceived++;
    this.ctx.stats.messagesReceived += frame.envelopes.length;
    try {
      this.ctx.deliver(this.fromNode, frame.envelopes);
    } catch (err) {
      // The receiver's bug, not the peer's: keep the connection, but make it visible.
      this.ctx.log.error({ peer: this.fromNode, err: (err as Error).stack }, 'raft transport onMessages threw');
    }
  }

  private onHandshake(frame: Frame): void {
    if (frame.kind !== FrameKind.Handshake) {
      this.drop(`expected a handshake, got frame kind ${frame.kind}`);
      return;
    }
    if (frame.protocolVersion !== this.ctx.protocolVersion) {
      this.reject(`protocol version ${frame.protocolVersion} not supported; node ${this.ctx.selfId} speaks ${this.ctx.protocolVersion}`);
      return;
    }
    if (frame.nodeId === this.ctx.selfId) {
      this.reject(`peer claims this node's own id ${frame.nodeId}`);
      return;
    }
    clearTimeout(this.timer);
    this.fromNode = frame.nodeId;
    this.socket.write(encodeFramed({ kind: FrameKind.Handshake, protocolVersion: this.ctx.protocolVersion, nodeId: this.ctx.selfId }));
    this.ctx.stats.connectionsAccepted++;
    this.ctx.adopt(frame.nodeId, this.socket);
  }

  /** Refuses the peer with a reason it can log, then closes. */
  private reject(reason: string): void {
    this.ctx.stats.connectionsRejected++;
    this.ctx.log.warn({ remote: this.remote, reason }, 'raft transport rejected handshake');
    this.done = true;
    clearTimeout(this.timer);
    this.socket.end(encodeFramed({ kind: FrameKind.Reject, reason }));
    setTimeout(() => this.socket.destroy(), REJECT_LINGER_MS).unref();
  }

  private drop(reason: string): void {
    if (this.done) return;
    this.ctx.stats.connectionsRejected++;
    this.ctx.log.warn({ remote: this.remote, peer: this.fromNode, reason }, 'raft transport closed inbound connection');
    this.destroy();
  }
}
