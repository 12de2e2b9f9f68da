/**
 * Everything a peer can send us that we refuse to interpret. A single error type lets the
 * connection handler tell "the bytes were bad, close this connection" apart from a bug in our
 * own code (any other exception), which must not be mistaken for a misbehaving peer.
 */
export type FrameDecodeErrorCode =
  | 'truncated' // the buffer ended inside a field
  | 'trailing' // bytes left over after a complete frame
  | 'version' // codec version we do not speak
  | 'kind' // unknown frame kind
  | 'enum' // a message or entry type out of range
  | 'flags' // unknown flag bits
  | 'varint' // varint longer than 8 bytes or above 2^53 - 1
  | 'length' // a length or count that cannot fit in the remaining bytes
  | 'too_large' // frame length above the configured maximum
  | 'magic'; // handshake not from a Weft transport

export class FrameDecodeError extends Error {
  constructor(
    readonly code: FrameDecodeErrorCode,
    message: string,
    /** Byte offset inside the frame payload where decoding stopped (-1 if not applicable). */
    readonly offset: number,
  ) {
    super(`${message} (${code} at offset ${offset})`);
    this.name = 'FrameDecodeError';
  }
}
