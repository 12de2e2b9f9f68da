import { userInfo } from 'node:os';
import { Client, type DatabaseError } from 'pg';
import { PgServer, type AuthRequest, type Authenticator } from '@weft/pgwire';
import { echoSessionFactory, newStats, type EchoStatement } from '../../../libs/pgwire/src/test-support/echo-handler';
import { authenticatorFromEnv, GatewayAuthenticator, isLoopback, LoopbackTrustAuthenticator } from './auth';

const req = (user: string, remoteAddress: string) => ({ user, remoteAddress });
const REMOTE = '203.0.113.7';

describe('gateway authentication', () => {
  it('recognises IPv4, IPv6 and IPv4-mapped loopback addresses only', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect([a, isLoopback(a)]).toEqual([a, true]);
    for (const a of ['10.0.0.1', '192.0.2.2', '::ffff:10.0.0.1', 'fd00::2', '::2', '1127.0.0.1']) expect([a, isLoopback(a)]).toEqual([a, false]);
  });

  it('trusts weft, postgres and the OS user on loopback, nobody from elsewhere without a password', () => {
    const auth = new GatewayAuthenticator();
    expect(auth.acceptsRemote).toBe(false);
    for (const user of ['weft', 'postgres', userInfo().username]) expect(auth.lookup(req(user, '127.0.0.1'))).toEqual({ method: 'trust', superuser: true });
    expect(auth.lookup(req('mallory', '127.0.0.1'))).toBeNull();
    for (const user of ['weft', 'postgres', 'mallory']) expect(auth.lookup(req(user, REMOTE))).toBeNull();
    // The moved class keeps its behaviour for whoever still constructs it directly.
    expect(new LoopbackTrustAuthenticator(['extra']).lookup(req('extra', '::1'))).toEqual({ method: 'trust', superuser: true });
  });

  it('with WEFT_PASSWORD: SCRAM-SHA-256 for weft and postgres from elsewhere, loopback still trusted', () => {
    const auth = authenticatorFromEnv({ WEFT_PASSWORD: 's3cret' });
    expect(auth.acceptsRemote).toBe(true);
    expect(auth.lookup(req('weft', '127.0.0.1'))).toEqual({ method: 'trust', superuser: true });
    for (const user of ['weft', 'postgres']) expect(auth.lookup(req(user, REMOTE))).toMatchObject({ method: 'scram-sha-256', superuser: true });
    // Only the two admin names: the OS user is a loopback convenience, not a remote login.
    expect(auth.lookup(req(userInfo().username === 'weft' ? 'nobody' : userInfo().username, REMOTE))).toBeNull();
    expect(auth.lookup(req('mallory', REMOTE))).toBeNull();
  });

  it('treats an empty WEFT_PASSWORD as not set', () => {
    expect(authenticatorFromEnv({ WEFT_PASSWORD: '' }).acceptsRemote).toBe(false);
    expect(authenticatorFromEnv({}).acceptsRemote).toBe(false);
  });

  describe('over the wire (node-postgres against a PgServer, every client seen as remote)', () => {
    let server: PgServer<EchoStatement>;
    let port = 0;
    beforeAll(async () => {
      const auth = authenticatorFromEnv({ WEFT_PASSWORD: 's3cret' });
      // The listener is on loopback; rewriting the peer address exercises the remote path
      // exactly as a connection through Docker's published port would.
      const asRemote: Authenticator = { lookup: (r: AuthRequest) => auth.lookup({ ...r, remoteAddress: REMOTE }) };
      server = new PgServer<EchoStatement>({ authenticator: asRemote, sessionFactory: echoSessionFactory(newStats()) });
      port = (await server.listen(0, '127.0.0.1')).port;
    });
    afterAll(() => server.close());

    const login = async (user: string, password?: string): Promise<unknown> => {
      const c = new Client({ host: '127.0.0.1', port, user, database: 'weft', password });
      try {
        await c.connect();
        return 'ok';
      } catch (e) {
        return e;
      } finally {
        await c.end().catch(() => undefined);
      }
    };

    it('lets weft and postgres in with the password', async () => {
      expect(await login('weft', 's3cret')).toBe('ok');
      expect(await login('postgres', 's3cret')).toBe('ok');
    });

    it('refuses a wrong password and other users with 28P01', async () => {
      expect(((await login('weft', 'wrong')) as DatabaseError).code).toBe('28P01');
      expect(((await login('mallory', 's3cret')) as DatabaseError).code).toBe('28P01');
    });

    it('asks a client without a password for one (SCRAM), instead of letting it in', async () => {
      const err = await login('weft');
      expect(err).toBeInstanceOf(Error);
      expect(String(err)).toMatch(/password/i);
    });
  });
});
