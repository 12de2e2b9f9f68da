/**
 * Authentication policy is pluggable: an Authenticator says, per user, which method applies
 * and holds the stored secret. pgwire runs the exchange. Unknown users (lookup -> null) get a
 * SCRAM exchange that always fails, so probing can't tell missing users from wrong passwords.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createScramVerifier, type ScramVerifier, verifyPasswordAgainstScram } from './scram';

export type Credential =
  | { method: 'trust'; superuser?: boolean }
  /** Cleartext password exchange, checked against a plain password or a SCRAM verifier. */
  | { method: 'password'; password?: string; verifier?: ScramVerifier; superuser?: boolean }
  /** `md5` + hex(md5(password + user)), as stored by Postgres. */
  | { method: 'md5'; md5: string; superuser?: boolean }
  | { method: 'scram-sha-256'; verifier: ScramVerifier; superuser?: boolean };

export interface AuthRequest {
  user: string;
  database: string;
  remoteAddress: string;
}

export interface Authenticator {
  lookup(req: AuthRequest): Credential | null | Promise<Credential | null>;
}

export function md5Hex(s: string | Buffer): string {
  return createHash('md5').update(s).digest('hex');
}

/** The secret Postgres stores for md5 auth. */
export function md5Secret(user: string, password: string): string {
  return 'md5' + md5Hex(password + user);
}

/** Check an md5 PasswordMessage: 'md5' + md5(md5(password + user) + salt). */
export function verifyMd5Response(stored: string, salt: Buffer, response: string): boolean {
  const inner = stored.startsWith('md5') ? stored.slice(3) : stored;
  const expected = Buffer.from('md5' + md5Hex(Buffer.concat([Buffer.from(inner), salt])));
  const got = Buffer.from(response);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export function verifyCleartext(cred: Extract<Credential, { method: 'password' }>, password: string): boolean {
  if (cred.verifier) return verifyPasswordAgainstScram(password, cred.verifier);
  if (cred.password === undefined) return false;
  const a = Buffer.from(cred.password);
  const b = Buffer.from(password);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface StaticUser {
  method: Credential['method'];
  password?: string;
  superuser?: boolean;
}

/** A fixed user table (tests, the demo). Secrets are derived once, at construction. */
export class StaticAuthenticator implements Authenticator {
  private readonly creds = new Map<string, Credential>();

  constructor(users: Record<string, StaticUser>) {
    for (const [user, u] of Object.entries(users)) {
      const pw = u.password ?? '';
      const superuser = u.superuser;
      switch (u.method) {
        case 'trust':
          this.creds.set(user, { method: 'trust', superuser });
          break;
        case 'password':
          this.creds.set(user, { method: 'password', password: pw, superuser });
          break;
        case 'md5':
          this.creds.set(user, { method: 'md5', md5: md5Secret(user, pw), superuser });
          break;
        case 'scram-sha-256':
          this.creds.set(user, { method: 'scram-sha-256', verifier: createScramVerifier(pw), superuser });
          break;
      }
    }
  }

  lookup(req: AuthRequest): Credential | null {
    return this.creds.get(req.user) ?? null;
  }
}
