/**
 * Fuzz of the SQL gateway as clients reach it: the real SQL engine behind the wire server over
 * a LocalShard. Statements of the differential corpus are mutated at the token level (drop,
 * duplicate, swap, insert keywords/literals/punctuation, flip bytes) and sent through the simple
 * and the extended protocol (with random parameters), interleaved with raw mutated protocol
 * streams. Bounded by case count and wall time.
 *
 * What must hold afterwards, as a user would notice it:
 * - every rejected statement was answered with a SQLSTATE that is not XX000 (internal error),
 *   and the engine recorded no internal (non-PgError) failure;
 * - the process is alive and a fresh client is served;
 * - a guard table the fuzzer never names still holds exactly its rows.
 * Replay a failure with SQL_FUZZ_SEED=<seed printed on failure>; SQL_FUZZ_SEED=random explores.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import { serialize } from 'pg-protocol';
import { startSqlServer, type SqlTestServer } from '../../../libs/sql/src/test-support/server';

const CASES = 1500;
const BUDGET_MS = 20_000;
// A fixed default keeps CI reproducible; explore with SQL_FUZZ_SEED=random or any number.
const SEED_ENV = process.env.SQL_FUZZ_SEED ?? '20261124';
const SEED = SEED_ENV === 'random' ? Date.now() % 2 ** 31 : Number(SEED_ENV);
jest.setTimeout(90_000);

/** xorshift32: one seed replays the whole run. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const CORPUS_DIR = path.join(__dirname, '..', '..', '..', 'test', 'sql-corpus');
/** Statements that could loop for long or touch what the fuzzer must not (the guard, the db). */
const EXCLUDED = /guard|weft|postgres|generate_series|recursive|repeat|pg_sleep|lpad|rpad/i;

function corpusStatements(): string[] {
  const out: string[] = [];
  for (const f of readdirSync(CORPUS_DIR).filter((n) => n.endsWith('.sql'))) {
    const text = readFileSync(path.join(CORPUS_DIR, f), 'utf8')
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('--'))
      .join('\n');
    for (const s of text.split(/;\s*\n/)) {
      const t = s.trim();
      if (t && !EXCLUDED.test(t) && !t.startsWith('\\')) out.push(t);
    }
  }
  return out;
}

const INSERTS = [
  'SELECT', 'FROM', 'WHERE', '(', ')', ',', "'x'", "''", 'NULL', '0', '-1', '2147483648', '1e308', '1.5',
  '::int', '::text', '::numeric(3,1)', '::jsonb', '::date', '::uuid', 'AND', 'OR', 'NOT', '=', '<>', '+', '/',
  '||', '->', "'{\"a\":1}'", 'ORDER BY', 'GROUP BY', 'HAVING', 'LIMIT', 'OFFSET', 'JOIN', 'ON', 'UNION', 'CASE',
  'WHEN', 'END', 'IN', 'EXISTS', 'BETWEEN', 'LIKE', 'ARRAY[1,2]', '[1]', '$1', '$2', '*', 'DISTINCT', 'count(*)',
  'BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT s', 'DEFAULT', 'RETURNING', 'ON CONFLICT', 'DO NOTHING', "E'\\\\x00'",
  "'2024-02-30'", "'infinity'", "'NaN'", 'true', '9223372036854775808', 'lower(', 'substr(', 'coalesce(',
];

function tokens(s: string): string[] {
  return s.match(/'(?:[^']|'')*'|"[^"]*"|\w+|::|<>|<=|>=|\|\||->>?|\S/g) ?? [];
}

function mutate(r: () => number, stmt: string): string {
  let t = tokens(stmt);
  const edits = 1 + Math.floor(r() * 3);
  for (let e = 0; e < edits && t.length > 0; e++) {
    const i = Math.floor(r() * t.length);
    switch (Math.floor(r() * 6)) {
      case 0:
        t.splice(i, 1);
        break;
      case 1:
        t.splice(i, 0, t[i]);
        break;
      case 2: {
        const j = Math.floor(r() * t.length);
        [t[i], t[j]] = [t[j], t[i]];
        break;
      }
      case 3:
      case 4:
        t.splice(i, 0, INSERTS[Math.floor(r() * INSERTS.length)]);
        break;
      default: {
        const chars = [...t[i]];
        chars[Math.floor(r() * chars.length)] = String.fromCharCode(32 + Math.floor(r() * 95));
        t[i] = chars.join('');
      }
    }
  }
  t = t.filter((x) => !EXCLUDED.test(x));
  return t.join(' ');
}

function randomParam(r: () => number): string | null {
  const pool = [null, '', '0', '-1', '1.5', 'abc', '2147483648', 'NaN', 'true', '{1,2}', '{"a":1}', '2024-01-01', '\u0000', 'x'.repeat(300)];
  return pool[Math.floor(r() * pool.length)];
}

/** Sends a raw, possibly malformed, protocol stream after a valid startup; ignores the answer. */
function rawStream(port: number, body: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const done = (): void => {
      sock.destroy();
      resolve();
    };
    sock.setTimeout(2000, done);
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', () => {
      sock.write(serialize.startup({ user: 'weft', database: 'weft' }));
      sock.write(body);
      setTimeout(done, 150);
    });
  });
}

describe(`SQL gateway fuzz (SQL_FUZZ_SEED=${SEED})`, () => {
  let server: SqlTestServer;
  let client: Client;
  const codes = new Map<string, number>();
  const internal: string[] = [];

  beforeAll(async () => {
    server = await startSqlServer();
    const c = await server.client();
    await c.query('CREATE TABLE guard (id int PRIMARY KEY, label text NOT NULL)');
    await c.query("INSERT INTO guard SELECT i, 'row ' || i FROM generate_series(1, 20) AS g(i)");
    await c.end();
  });
  afterAll(async () => {
    await client?.end().catch(() => undefined);
    await server?.close();
  });

  const fresh = async (): Promise<Client> => {
    await client?.end().catch(() => undefined);
    client = new Client({ host: '127.0.0.1', port: server.port, user: 'weft', database: 'weft', query_timeout: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  it('answers every mutated statement and message stream with a precise error or a result', async () => {
    const r = rng(SEED);
    const corpus = corpusStatements();
    expect(corpus.length).toBeGreaterThan(100);
    const until = Date.now() + BUDGET_MS;
    let c = await fresh();
    let cases = 0;
    for (; cases < CASES && Date.now() < until; cases++) {
      const base = corpus[Math.floor(r() * corpus.length)];
      const sql = r() < 0.9 ? mutate(r, base) : base;
      const kind = r();
      try {
        if (kind < 0.08) {
          const body = Buffer.concat([serialize.parse({ text: sql }), serialize.bind({ values: [randomParam(r)] }), serialize.execute(), serialize.sync()]);
          const cut = Math.floor(r() * body.length);
          if (r() < 0.5) body[cut] = Math.floor(r() * 256);
          await rawStream(server.port, r() < 0.5 ? body : body.subarray(0, cut));
          continue;
        }
        if (kind < 0.5 && sql.includes('$1')) await c.query(sql, [randomParam(r), randomParam(r)]);
        else await c.query(sql);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === undefined) {
          // Client-side timeout or a dropped connection: the server must still serve a new one.
          c = await fresh();
          continue;
        }
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code === 'XX000') internal.push(`${code} ${(e as Error).message} <- ${sql}`);
      }
      // Leave failed transaction blocks so later statements are judged on their own.
      if (cases % 25 === 0) await c.query('ROLLBACK').catch(() => undefined);
    }
    expect(cases).toBeGreaterThan(200);
    expect({ seed: SEED, internal: internal.slice(0, 10) }).toEqual({ seed: SEED, internal: [] });
    expect(server.internalErrors.map(String).slice(0, 5)).toEqual([]);
  });

  it('stays up and keeps data it was never asked to change', async () => {
    const c = await fresh();
    const { rows } = await c.query<{ n: string; s: string }>('SELECT count(*) AS n, string_agg(label, \',\' ORDER BY id) AS s FROM guard');
    expect(rows[0].n).toBe('20');
    expect(rows[0].s).toBe(Array.from({ length: 20 }, (_, i) => `row ${i + 1}`).join(','));
    expect((await c.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});
