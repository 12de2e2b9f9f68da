import type { Envelope, NodeId } from './codec';
import { DEFAULT_MAX_FRAME_BYTES } from './framing';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** Structurally compatible with pino's Logger, without making this lib depend on pino. */
export interface TransportLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface TransportLimits {
  /** Largest frame accepted from or sent to a peer; larger inbound frames close the connection. */
  readonly maxFrameBytes: number;
  /** Target size of one coalesced batch frame (one message may exceed it, up to maxFrameBytes). */
  readonly maxBatchBytes: number;
  /** Per-peer queue bound in encoded bytes; overflow drops the oldest non-snapshot messages. */
  readonly maxQueueBytes: number;
  /** Per-peer queue bound in messages. */
  readonly maxQueueMessages: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Time allowed for TCP connect plus handshake, either direction. */
  readonly handshakeTimeoutMs: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxBatchBytes: 1024 * 1024,
  maxQueueBytes: 64 * 1024 * 1024,
  maxQueueMessages: 64 * 1024,
  backoffBaseMs: 50,
  backoffMaxMs: 5000,
  handshakeTimeoutMs: 5000,
};

/**
 * Version of the conversation (handshake, frame kinds), distinct from the codec version byte.
 * v2: one connection per node pair carries both directions; the lower node id dials.
 */
/** v3 added clock pings (ClockPing/ClockPong frames); v2 nodes refuse them, so the handshake keeps them apart. */
export const PROTOCOL_VERSION = 3;

export interface RaftTransportOptions {
  /** This process's node id, announced in the handshake. */
  readonly nodeId: NodeId;
  /** Listen address; defaults to 127.0.0.1 and an ephemeral port. */
  readonly host?: string;
  readonly port?: number;
  /** Initial address book; update it later with setPeer/removePeer. */
  readonly peers?: ReadonlyMap<NodeId, PeerAddress>;
  /** Every inbound batch, in arrival order; envelopes of one group keep their send order. */
  readonly onMessages: (from: NodeId, batch: readonly Envelope[]) => void;
  /**
   * A peer is down or messages to it were dropped. Called asynchronously (never inside send),
   * at most once per outage or per overflow episode, so Raft can move the peer to probing.
   */
  readonly onUnreachable?: (node: NodeId) => void;
  readonly logger?: TransportLogger;
  readonly limits?: Partial<TransportLimits>;
  /** Only for tests and rolling upgrades: the protocol version this node speaks. */
  readonly protocolVersion?: number;
  /** This node's clock in µs since the epoch, read for clock pings (default: the system clock). */
  readonly clockUs?: () => number;
  /** A peer answered a clock ping (RaftTransport.pingClocks): what its clock read against ours. */
  readonly onClockReading?: (node: NodeId, reading: ClockReading) => void;
}

/**
 * One clock ping's result. The peer read its clock somewhere inside the round trip, so its
 * offset from this node is `offsetUs` give or take `rttUs / 2`.
 */
export interface ClockReading {
  /** The peer's clock minus this node's, estimated at the round trip's midpoint. */
  readonly offsetUs: number;
  readonly rttUs: number;
  /** This node's clock when the answer arrived. */
  readonly atUs: number;
}

export interface TransportStats {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  /** Messages discarded: queue overflow, unknown peer, oversized, or queued at close/removal. */
  drops: number;
  /** Successful re-handshakes after a link had been up before. */
  reconnects: number;
  connectAttempts: number;
  /** Inbound connections closed for a bad handshake or a malformed/oversized frame. */
  connectionsRejected: number;
  /** Times a flush stopped because socket.write reported a full buffer. */
  backpressureWaits: number;
  /** Inbound connections whose handshake succeeded (each then carries both directions). */
  connectionsAccepted: number;
}

export function emptyStats(): TransportStats {
  return {
    framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, messagesSent: 0,
    messagesReceived: 0, drops: 0, reconnects: 0, connectAttempts: 0, connectionsRejected: 0,
    backpressureWaits: 0, connectionsAccepted: 0,
  };
}

/** Default: warnings and errors as JSON lines on stderr, so a closed connection is never silent. */
export const stderrLogger: TransportLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...obj })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'error', msg, ...obj })}\n`),
};
