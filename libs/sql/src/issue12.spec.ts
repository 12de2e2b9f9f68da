// Issue 12 (silent wrong answers and connection failures) where the single-session differential
// corpus cannot show them: startup parameters, several sessions, several gateways.
import { once } from 'node:events';
import { connect } from 'node:net';
import { Client } from 'pg';
import { PgServer, StaticAuthenticator } from '@weft/pgwire';
import { MemoryShard } from '@weft/txn';
import { createSqlSessionFactory } from './index';
import type { SqlPrepared } from './session';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

/** Sends a raw startup packet (node-postgres never sends client_encoding) and reads the answer up to ReadyForQuery or an error. */
async function startup(port: number, params: Record<string, string>): Promise<{ error?: string; status: Record<string, string> }> {
  const sock = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  try {
    await once(sock, 'connect');
    // Built by hand: pg-protocol's serialize.startup always appends client_encoding=UTF8.
    const pairs = Object.entries({ user: 'weft', database: 'weft', ...params }).flatMap(([k, v]) => [k, v]);
    const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), ...pairs.map((x) => Buffer.from(`${x}\0`)), Buffer.from([0])]);
    const len = Buffer.alloc(4);
    len.writeInt32BE(body.length + 4);
    sock.write(Buffer.concat([len, body]));
    for (;;) {
      const buf = Buffer.concat(chunks);
      const status: Record<string, string> = {};
      for (let at = 0; at + 5 <= buf.length; ) {
        const type = String.fromCharCode(buf[at]);
        const len = buf.readInt32BE(at + 1);
        if (at + 1 + len > buf.length) break;
        const body = buf.subarray(at + 5, at + 1 + len);
        if (type === 'S') {
          const [k, v] = body.toString('utf8').split('\0');
          status[k] = v;
        }
        if (type === 'E') {
          const code = /\0C([0-9A-Z]{5})\0/.exec(`\0${body.toString('utf8')}`);
          return { error: code?.[1] ?? 'unknown', status };
        }
        if (type === 'Z') return { status };
        at += 1 + len;
      }
      const [chunk] = (await once(sock, 'data')) as [Buffer];
      chunks.push(chunk);
    }
  } finally {
    sock.destroy();
  }
}

describe('startup client_encoding is read as PostgreSQL reads encoding names', () => {
  let srv: SqlTestServer;
  beforeAll(async () => {
    srv = await startSqlServer({ memory: true });
  });
  afterAll(() => srv.close());

  it.each(["'utf-8'", 'utf-8', 'UTF8', 'unicode', 'UTF_8', 'sql_ascii'])('accepts %s (asyncpg sends the quoted form) and reports the canonical name', async (enc) => {
    const r = await startup(srv.port, { client_encoding: enc });
    expect(r.error).toBeUndefined();
    expect(r.status.client_encoding).toBe(enc === 'sql_ascii' ? 'SQL_ASCII' : 'UTF8');
  });

  it('refuses an unknown encoding with 22023 (as PostgreSQL) and one Weft cannot convert with 0A000', async () => {
    expect((await startup(srv.port, { client_encoding: 'klingon' })).error).toBe('22023');
    expect((await startup(srv.port, { client_encoding: 'latin1' })).error).toBe('0A000');
  });
});

describe('sequence state seen from other sessions', () => {
  let srv: SqlTestServer;
  beforeAll(async () => {
    srv = await startSqlServer({ memory: true });
  });
  afterAll(() => srv.close());

  it('reports the last value handed out, not the reading session\'s currval', async () => {
    const a = await srv.client();
    const b = await srv.client();
    await a.query('CREATE TABLE i12_s (id serial PRIMARY KEY, v text)');
    expect((await b.query('SELECT last_value::text, is_called FROM i12_s_id_seq')).rows).toEqual([{ last_value: '1', is_called: false }]);
    for (const v of ['a', 'b', 'c']) await a.query('INSERT INTO i12_s (v) VALUES ($1)', [v]);
    expect((await b.query('SELECT last_value::text, is_called FROM i12_s_id_seq')).rows).toEqual([{ last_value: '3', is_called: true }]);
    expect((await b.query("SELECT last_value::text FROM pg_sequences WHERE sequencename = 'i12_s_id_seq'")).rows).toEqual([{ last_value: '3' }]);
    expect(await sqlstate(b.query("SELECT currval('i12_s_id_seq')"))).toBe('55000');
  });
});

describe('sequence state with several gateways (blocks of values)', () => {
  it('reports the newest handed-out value on the gateway holding the newest block, the block end elsewhere', async () => {
    const shard = new MemoryShard();
    const servers: PgServer<SqlPrepared>[] = [];
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const factory = await createSqlSessionFactory({ shard, sequenceCache: 10 });
        const server = new PgServer<SqlPrepared>({ authenticator: new StaticAuthenticator({ weft: { method: 'trust', superuser: true } }), sessionFactory: factory });
        servers.push(server);
        const addr = await server.listen(0, '127.0.0.1');
        const c = new Client({ host: '127.0.0.1', port: addr.port, user: 'weft', database: 'weft' });
        await c.connect();
        clients.push(c);
      }
      const [g1, g2] = clients;
      const state = async (c: Client): Promise<unknown> => (await c.query('SELECT last_value::text AS v, is_called FROM i12_g')).rows[0];
      await g1.query('CREATE SEQUENCE i12_g');
      await g1.query("SELECT nextval('i12_g'), nextval('i12_g'), nextval('i12_g')"); // gateway 1 holds 1..10
      expect(await state(g1)).toEqual({ v: '3', is_called: true });
      expect(await state(g2)).toEqual({ v: '10', is_called: true }); // end of gateway 1's block
      expect((await g2.query("SELECT nextval('i12_g')::text AS n")).rows).toEqual([{ n: '11' }]); // gateway 2 holds 11..20
      expect(await state(g2)).toEqual({ v: '11', is_called: true });
      expect(await state(g1)).toEqual({ v: '20', is_called: true });
      await g1.query("SELECT setval('i12_g', 50, false)");
      expect(await state(g2)).toEqual({ v: '50', is_called: false });
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      for (const s of servers) await s.close();
    }
  });
});
