export { CODEC_VERSION, FrameKind, decode, encode, envelopeSize, messageSize } from './codec';
export type { BatchFrame, ClockPingFrame, ClockPongFrame, Envelope, Frame, HandshakeFrame, NodeId, RejectFrame } from './codec';
export { FrameDecodeError, type FrameDecodeErrorCode } from './errors';
export { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, FrameReader, encodeFramed } from './framing';
export { DEFAULT_LIMITS, PROTOCOL_VERSION } from './options';
export type { ClockReading, PeerAddress, RaftTransportOptions, TransportLimits, TransportLogger, TransportStats } from './options';
export type { PeerLinkStats } from './peer-link';
export { RaftTransport } from './transport';
