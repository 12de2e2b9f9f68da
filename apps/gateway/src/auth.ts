import { userInfo } from 'node:os';
import { createScramVerifier, type AuthRequest, type Authenticator, type Credential, type ScramVerifier } from '@weft/pgwire';

/**
 * Who may connect to the gateway. On loopback the machine's own users are trusted (the demo and
 * tests need no password). From any other address — a host client through Docker's published
 * port, another machine — a client must log in as `weft` or `postgres` with WEFT_PASSWORD over
 * SCRAM-SHA-256 (the password never crosses the wire); without WEFT_PASSWORD nobody gets in
 * from outside. Everyone else is refused with the same failing SCRAM exchange pgwire runs for
 * unknown users, so a prober cannot tell users apart.
 */

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

export const isLoopback = (remoteAddress: string): boolean => LOOPBACK.test(remoteAddress);

/** The users that can log in with WEFT_PASSWORD from a non-loopback address. */
export const PASSWORD_USERS: readonly string[] = ['weft', 'postgres'];

/** Trust on loopback for the OS user, `weft` and `postgres`; nobody else (28000). */
export class LoopbackTrustAuthenticator implements Authenticator {
  private readonly users: Set<string>;
  constructor(extraUsers: readonly string[] = []) {
    let osUser = 'weft';
    try {
      osUser = userInfo().username;
    } catch {
      // No passwd entry (containers): the OS user is simply not trusted by name.
    }
    this.users = new Set(['weft', 'postgres', osUser, ...extraUsers]);
  }
  lookup(req: Pick<AuthRequest, 'user' | 'remoteAddress'>): Credential | null {
    return isLoopback(req.remoteAddress) && this.users.has(req.user) ? { method: 'trust', superuser: true } : null;
  }
}

export interface GatewayAuthOptions {
  /** WEFT_PASSWORD: enables `weft`/`postgres` from non-loopback addresses. Empty = not set. */
  readonly password?: string;
  /** Users trusted on loopback besides weft, postgres and the OS user. */
  readonly loopbackUsers?: readonly string[];
}

/** Loopback trust plus, when a password is configured, SCRAM-SHA-256 from anywhere else. */
export class GatewayAuthenticator implements Authenticator {
  private readonly loopback: LoopbackTrustAuthenticator;
  /** Derived once: PBKDF2 per connection would make every login cost 4096 HMAC rounds twice. */
  private readonly verifier: ScramVerifier | null;

  constructor(opts: GatewayAuthOptions = {}) {
    this.loopback = new LoopbackTrustAuthenticator(opts.loopbackUsers);
    this.verifier = opts.password ? createScramVerifier(opts.password) : null;
  }

  /** True when clients from non-loopback addresses can log in at all. */
  get acceptsRemote(): boolean {
    return this.verifier !== null;
  }

  lookup(req: Pick<AuthRequest, 'user' | 'remoteAddress'>): Credential | null {
    if (isLoopback(req.remoteAddress)) return this.loopback.lookup(req);
    if (this.verifier && PASSWORD_USERS.includes(req.user)) return { method: 'scram-sha-256', verifier: this.verifier, superuser: true };
    return null;
  }
}

/**
 * The gateway's authenticator from its environment (WEFT_PASSWORD). Read here rather than in
 * the gateway's validated config because any non-empty string is a valid password: there is
 * nothing to reject, and an unset or empty one just keeps the gateway loopback-only.
 */
export function authenticatorFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayAuthenticator {
  return new GatewayAuthenticator({ password: env.WEFT_PASSWORD || undefined });
}
