/**
 * Server side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) as Postgres uses it: the user name in
 * client-first is ignored (the startup user counts), no channel binding (gs2 flag 'n', or 'y'
 * because we never offer SCRAM-SHA-256-PLUS). The server only keeps StoredKey/ServerKey, never
 * the password. Passwords are used as given (no SASLprep), matching node-postgres and ASCII
 * libpq behaviour.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { PgError, SqlState } from './errors';

export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** Derive a verifier from a password (done once, when the password is set). */
export function createScramVerifier(password: string, opts: { salt?: Buffer; iterations?: number } = {}): ScramVerifier {
  const salt = opts.salt ?? randomBytes(16);
  const iterations = opts.iterations ?? 4096;
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return {
    iterations,
    salt,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** Postgres's pg_authid format: SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey> (base64). */
export function formatScramVerifier(v: ScramVerifier): string {
  return `SCRAM-SHA-256$${v.iterations}:${v.salt.toString('base64')}$${v.storedKey.toString('base64')}:${v.serverKey.toString('base64')}`;
}

export function parseScramVerifier(s: string): ScramVerifier | null {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(s);
  if (!m) return null;
  const v = {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2], 'base64'),
    storedKey: Buffer.from(m[3], 'base64'),
    serverKey: Buffer.from(m[4], 'base64'),
  };
  return v.storedKey.length === 32 && v.serverKey.length === 32 && v.iterations > 0 ? v : null;
}

/** Check a cleartext password against a verifier (for the 'password' method). */
export function verifyPasswordAgainstScram(password: string, v: ScramVerifier): boolean {
  const salted = pbkdf2Sync(password, v.salt, v.iterations, 32, 'sha256');
  return timingSafeEqual(sha256(hmac(salted, 'Client Key')), v.storedKey);
}

const malformed = (why: string): PgError =>
  new PgError(SqlState.PROTOCOL_VIOLATION, 'malformed SCRAM message', { detail: why }, 'FATAL');

/** Split "a=1,b=2" into ordered [key, value] pairs; values may contain '='. */
function attributes(s: string): [string, string][] {
  return s.split(',').map((part) => {
    if (part.length < 2 || part[1] !== '=') throw malformed(`invalid attribute "${part.slice(0, 20)}"`);
    return [part[0], part.slice(2)];
  });
}

const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/; // RFC 5802 "printable" (no comma)

export class ScramServer {
  private clientFirstBare = '';
  private serverFirst = '';
  private gs2Header = '';
  private nonce = '';
  private step: 'first' | 'final' | 'done' = 'first';

  /** A null verifier runs a mock exchange that always fails (hides whether a user exists). */
  constructor(
    private readonly verifier: ScramVerifier | null,
    /** Tests pin the server nonce to check against the RFC 7677 vector. */
    private readonly serverNonce: string = randomBytes(18).toString('base64'),
  ) {}

  /** client-first-message -> server-first-message. */
  clientFirst(msg: string): string {
    if (this.step !== 'first') throw malformed('unexpected client-first-message');
    // gs2-header: cbind-flag "," [authzid] ","
    const c1 = msg.indexOf(',');
    const c2 = c1 < 0 ? -1 : msg.indexOf(',', c1 + 1);
    if (c2 < 0) throw malformed('missing gs2 header');
    const flag = msg.slice(0, c1);
    if (flag.startsWith('p=')) {
      throw new PgError(SqlState.PROTOCOL_VIOLATION, 'channel binding is not supported by this server', {}, 'FATAL');
    }
    if (flag !== 'n' && flag !== 'y') throw malformed(`unexpected channel-binding flag "${flag.slice(0, 10)}"`);
    if (msg.slice(c1 + 1, c2) !== '') {
      throw new PgError(SqlState.FEATURE_NOT_SUPPORTED, 'client uses authorization identity, but it is not supported', {}, 'FATAL');
    }
    this.gs2Header = msg.slice(0, c2 + 1);
    this.clientFirstBare = msg.slice(c2 + 1);
    const attrs = attributes(this.clientFirstBare);
    if (attrs.length < 2 || attrs[0][0] !== 'n' || attrs[1][0] !== 'r') throw malformed('expected n= and r= attributes');
    const clientNonce = attrs[1][1];
    if (!PRINTABLE.test(clientNonce)) throw malformed('invalid client nonce');
    this.nonce = clientNonce + this.serverNonce;
    const v = this.verifier ?? createMockVerifier();
    this.serverFirst = `r=${this.nonce},s=${v.salt.toString('base64')},i=${v.iterations}`;
    this.step = 'final';
    return this.serverFirst;
  }

  /** client-final-message -> server-final-message, or null when the proof is wrong. */
  clientFinal(msg: string): string | null {
    if (this.step !== 'final') throw malformed('unexpected client-final-message');
    this.step = 'done';
    const pIdx = msg.lastIndexOf(',p=');
    if (pIdx < 0) throw malformed('missing proof');
    const withoutProof = msg.slice(0, pIdx);
    const attrs = attributes(withoutProof);
    if (attrs.length < 2 || attrs[0][0] !== 'c' || attrs[1][0] !== 'r') throw malformed('expected c= and r= attributes');
    if (attrs[0][1] !== Buffer.from(this.gs2Header).toString('base64')) throw malformed('channel binding data mismatch');
    if (attrs[1][1] !== this.nonce) throw malformed('nonce mismatch');
    const proof = Buffer.from(msg.slice(pIdx + 3), 'base64');
    if (proof.length !== 32) throw malformed('invalid proof length');
    if (!this.verifier) return null;
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.verifier.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i] ^ clientSignature[i];
    if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey)) return null;
    return `v=${hmac(this.verifier.serverKey, authMessage).toString('base64')}`;
  }
}

function createMockVerifier(): ScramVerifier {
  return { iterations: 4096, salt: randomBytes(16), storedKey: randomBytes(32), serverKey: randomBytes(32) };
}
