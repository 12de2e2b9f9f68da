/** End-to-end with node-postgres: the driver real applications use. */
import { Client, type ClientConfig } from 'pg';
import { startServer, type TestServer } from './test-support/harness';

let srv: TestServer;
const clients: Client[] = [];

beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  await srv.close();
});

const reported = new WeakMap<Client, Record<string, string>>();

async function client(cfg: Partial<ClientConfig> = {}): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port: srv.port, user: 'alice', database: 'weft', ...cfg });
  c.on('error', () => undefined);
  const params: Record<string, string> = {};
  reported.set(c, params);
  const conn = (c as unknown as { connection: NodeJS.EventEmitter }).connection;
  conn.on('parameterStatus', (m: { parameterName: string; parameterValue: string }) => {
    params[m.parameterName] = m.parameterValue;
  });
  clients.push(c);
  await c.connect();
  return c;
}

describe('authentication', () => {
  it.each([
    ['alice', undefined],
    ['carol', 'cleartext-pw'],
    ['bob', 'md5-pw'],
    ['sam', 'scram-pw'],
  ])('user %s connects', async (user, password) => {
    const c = await client({ user, password });
    const r = await c.query('select 1');
    expect(r.rows).toEqual([{ '?column?': 1 }]);
    await c.end();
  });

  it.each([
    ['carol', 'wrong'],
    ['bob', 'wrong'],
    ['sam', 'wrong'],
    ['nobody', 'whatever'],
  ])('user %s with a wrong password gets 28P01', async (user, password) => {
    const c = new Client({ host: '127.0.0.1', port: srv.port, user, password, database: 'weft' });
    c.on('error', () => undefined);
    await expect(c.connect()).rejects.toMatchObject({ code: '28P01', severity: 'FATAL' });
    await c.end().catch(() => undefined);
  });

  it('an unknown database from the session factory is a FATAL 3D000', async () => {
    const c = new Client({ host: '127.0.0.1', port: srv.port, user: 'alice', database: 'nodb' });
    c.on('error', () => undefined);
    await expect(c.connect()).rejects.toMatchObject({ code: '3D000' });
    await c.end().catch(() => undefined);
  });

  it('reports the ParameterStatus set and BackendKeyData', async () => {
    const c = await client({ application_name: 'spec' });
    const params = reported.get(c) ?? {};
    expect(params).toMatchObject({
      server_version: '15.0 (Weft)',
      client_encoding: 'UTF8',
      DateStyle: 'ISO, MDY',
      integer_datetimes: 'on',
      standard_conforming_strings: 'on',
      TimeZone: 'UTC',
      application_name: 'spec',
      is_superuser: 'on',
      session_authorization: 'alice',
    });
    const internals = c as unknown as { processID: number; secretKey: number };
    expect(internals.processID).toBeGreaterThan(0);
    expect(typeof internals.secretKey).toBe('number');
  });
});

describe('queries', () => {
  it('simple query, multi-statement, errors with fields, session survives', async () => {
    const c = await client();
    const r = (await c.query('select 1; generate 3')) as unknown as { rows: unknown[] }[];
    expect(r[0].rows).toEqual([{ '?column?': 1 }]);
    expect(r[1].rows).toEqual([{ g: 0 }, { g: 1 }, { g: 2 }]);
    await expect(c.query('error')).rejects.toMatchObject({
      code: '42601',
      severity: 'ERROR',
      detail: 'some detail',
      hint: 'some hint',
      position: '1',
    });
    await expect(c.query('crash')).rejects.toMatchObject({ code: 'XX000' });
    expect(srv.internalErrors.length).toBeGreaterThan(0);
    expect((await c.query('select 1')).rows).toHaveLength(1);
  });

  it('a large streamed result (sync and async batches)', async () => {
    const c = await client();
    expect((await c.query('generate 20000')).rowCount).toBe(20000);
    const r = await c.query('generate 5000 async');
    expect(r.rowCount).toBe(5000);
    expect(r.rows[4999]).toEqual({ g: 4999 });
  });

  it('extended query with parameters, text and binary results', async () => {
    const c = await client();
    const r = await c.query({ text: 'echo $1 $2', values: ['a', 'b'] });
    expect(r.rows).toEqual([{ p1: 'a', p2: 'b' }]);
    const types = await c.query({ text: 'select types', values: [] });
    expect(types.rows[0]).toMatchObject({
      b: true,
      i2: -12,
      i4: 123456,
      i8: '9007199254740993',
      f4: 1.5,
      f8: 3.141592653589793,
      n: '-12345.678900',
      t: 'héllo',
      by: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      j: { a: 1, b: [true, null] },
      jb: { k: 'v' },
      o: 4000000000,
      nul: null,
    });
    const bin = await c.query<Record<string, unknown>>({ text: 'select types', values: [], binary: true } as unknown as string);
    const row = bin.rows[0];
    // pg hands binary values of unknown-to-it types back as Buffers; check a few decoded ones.
    expect(row.b).toBe(true);
    expect(row.i4).toBe(123456);
    expect(row.f8).toBe(3.141592653589793);
  });

  it('transaction status drives ReadyForQuery, error state recovers by ROLLBACK', async () => {
    const c = await client();
    await c.query('begin');
    await expect(c.query('fail')).rejects.toMatchObject({ code: '22012' });
    await expect(c.query('select 1')).rejects.toMatchObject({ code: '25P02' });
    await c.query('rollback');
    expect((await c.query('select 1')).rows).toHaveLength(1);
  });

  it('notices and ParameterStatus updates reach the client', async () => {
    const c = await client();
    const notices: { code?: string; message?: string }[] = [];
    c.on('notice', (n) => notices.push(n));
    await c.query('notice');
    expect(notices[0]).toMatchObject({ code: '25P01', message: 'there is no transaction in progress' });
    await c.query('set application_name newname');
    const params = reported.get(c) ?? {};
    expect(params.application_name).toBe('newname');
  });

  it('pg cancel: the handler sees the abort, the client gets 57014', async () => {
    const c = await client();
    const before = srv.stats.aborted;
    const q = c.query('sleep');
    await new Promise((r) => setTimeout(r, 100));
    const canceller = new Client({ host: '127.0.0.1', port: srv.port, user: 'alice', database: 'weft' });
    // node-postgres sends a CancelRequest on a new connection via the (internal) cancel API.
    const active = (c as unknown as { activeQuery: unknown }).activeQuery;
    (canceller as unknown as { cancel(c: Client, q: unknown): void }).cancel(c, active);
    await expect(q).rejects.toMatchObject({ code: '57014' });
    expect(srv.stats.aborted).toBe(before + 1);
    expect((await c.query('select 1')).rows).toHaveLength(1);
  });
});
