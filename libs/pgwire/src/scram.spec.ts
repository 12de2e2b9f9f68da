import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { PgError } from './errors';
import { createScramVerifier, formatScramVerifier, parseScramVerifier, ScramServer, verifyPasswordAgainstScram } from './scram';

// RFC 7677 section 3 example exchange.
const SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
const CLIENT_FIRST = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO';
const SERVER_NONCE = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL =
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

describe('SCRAM-SHA-256 server', () => {
  const verifier = createScramVerifier('pencil', { salt: SALT, iterations: 4096 });

  it('reproduces the RFC 7677 exchange', () => {
    const s = new ScramServer(verifier, SERVER_NONCE);
    expect(s.clientFirst(CLIENT_FIRST)).toBe(SERVER_FIRST);
    expect(s.clientFinal(CLIENT_FINAL)).toBe(SERVER_FINAL);
  });

  it('rejects a wrong proof', () => {
    const s = new ScramServer(verifier, SERVER_NONCE);
    s.clientFirst(CLIENT_FIRST);
    const bad = CLIENT_FINAL.replace(/p=.*/, `p=${Buffer.alloc(32, 7).toString('base64')}`);
    expect(s.clientFinal(bad)).toBeNull();
  });

  it('the mock exchange for unknown users always fails', () => {
    const s = new ScramServer(null, SERVER_NONCE);
    expect(s.clientFirst(CLIENT_FIRST)).toMatch(/^r=rOprNGfwEbeRWgbNEkqO.*,s=.*,i=4096$/);
    expect(s.clientFinal(CLIENT_FINAL)).toBeNull();
  });

  it.each([
    ['p=tls-server-end-point,,n=,r=abc', '08P01'],
    ['x,,n=,r=abc', '08P01'],
    ['n,a=admin,n=,r=abc', '0A000'],
    ['n,,r=abc', '08P01'],
    ['n,,n=,r=', '08P01'],
    ['garbage', '08P01'],
  ])('client-first %j is rejected with %s', (msg, code) => {
    const s = new ScramServer(verifier);
    expect(() => s.clientFirst(msg)).toThrow(PgError);
    try {
      new ScramServer(verifier).clientFirst(msg);
    } catch (e) {
      expect((e as PgError).code).toBe(code);
    }
  });

  it.each([
    'c=biws,r=wrongnonce,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    'c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=short',
  ])('malformed client-final %j is a protocol violation', (msg) => {
    const s = new ScramServer(verifier, SERVER_NONCE);
    s.clientFirst(CLIENT_FIRST);
    expect(() => s.clientFinal(msg)).toThrow(PgError);
  });

  it('verifier text round-trips in the pg_authid format and checks cleartext passwords', () => {
    const text = formatScramVerifier(verifier);
    expect(text).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(parseScramVerifier(text)).toEqual(verifier);
    expect(parseScramVerifier('md5abc')).toBeNull();
    expect(verifyPasswordAgainstScram('pencil', verifier)).toBe(true);
    expect(verifyPasswordAgainstScram('pencil2', verifier)).toBe(false);
    // Independent derivation of StoredKey as a cross-check.
    const salted = pbkdf2Sync('pencil', SALT, 4096, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    expect(createHash('sha256').update(clientKey).digest()).toEqual(verifier.storedKey);
  });
});
