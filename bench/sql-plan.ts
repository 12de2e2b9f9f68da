// SQL front-end benchmark: what parsing and planning cost per statement, and what the plan
// cache saves end to end. In process: the SQL engine over a LocalShard in a temp directory,
// behind a real PgServer, driven by node-postgres over loopback. Not part of CI.
//
//   1. parse (libpg-query) and parse+plan (SqlSession.prepare: parse, bind, plan; no execution)
//      per statement kind, µs per call.
//   2. end to end, one client: a point SELECT by primary key
//        - simple protocol, same text every time     (plan cache hit)
//        - same, plan cache disabled                 (parse + plan every time)
//        - simple protocol, a different literal each time (text differs: always a miss)
//        - extended protocol, named prepared statement    (plan kept by the statement)
//
// Run: node tools/build.js && node dist/bench/sql-plan.js    Env: BENCH_ITERATIONS (default 3000)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { LocalShard } from '@weft/materialize';
import { PgServer, StaticAuthenticator, type QueryContext } from '@weft/pgwire';
import { createSqlSessionFactory, parseSql, type SqlPrepared } from '@weft/sql';
import { fmt, percentiles } from './stats';

const N = Number(process.env.BENCH_ITERATIONS ?? 3000);

const STATEMENTS: Record<string, string> = {
  'point select': 'SELECT abalance FROM accounts WHERE aid = $1',
  'TPC-B update': 'UPDATE accounts SET abalance = abalance + $1 WHERE aid = $2',
  'insert': 'INSERT INTO history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)',
  'join + group by': 'SELECT a.bid, count(*), sum(h.delta) FROM accounts a JOIN history h ON h.aid = a.aid WHERE a.bid = $1 GROUP BY a.bid ORDER BY 2 DESC LIMIT 10',
  'psql \\d columns': `SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
    (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
    a.attnotnull FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'accounts'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
};

async function timeIt(label: string, n: number, fn: (i: number) => unknown): Promise<{ label: string; us: number; p50: number; p99: number }> {
  for (let i = 0; i < Math.min(500, n); i++) await fn(i); // warm up JIT and caches
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  const total = Number(process.hrtime.bigint() - start) / 1000;
  const p = percentiles(samples);
  return { label, us: total / n, p50: p.p50, p99: p.p99 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-sql-'));
  const shard = await LocalShard.open(dir, { shardId: 1 });
  const servers: PgServer<SqlPrepared>[] = [];
  const clients: Client[] = [];
  try {
    const start = async (planCacheSize: number): Promise<Client> => {
      const factory = await createSqlSessionFactory({ shard, planCacheSize });
      const server = new PgServer<SqlPrepared>({ authenticator: new StaticAuthenticator({ weft: { method: 'trust' } }), sessionFactory: factory });
      servers.push(server);
      const { port } = await server.listen(0, '127.0.0.1');
      const c = new Client({ host: '127.0.0.1', port, user: 'weft', database: 'weft' });
      await c.connect();
      clients.push(c);
      return c;
    };
    const cached = await start(500);
    const uncached = await start(0);
    await cached.query('CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84))');
    await cached.query('CREATE TABLE history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22))');
    await cached.query('INSERT INTO accounts SELECT g, 1 + g / 100, 0, NULL FROM generate_series(1, 1000) g');

    // 1. parse and parse+plan
    const factory = await createSqlSessionFactory({ shard });
    const { handler } = await factory({ user: 'weft', database: 'weft', applicationName: '', params: new Map(), remoteAddress: '127.0.0.1', pid: 1 });
    const ctx: QueryContext = { signal: new AbortController().signal, notice: () => undefined, setParameter: () => undefined };
    const rows1: string[] = [];
    for (const [name, sql] of Object.entries(STATEMENTS)) {
      const parse = await timeIt(name, N, () => parseSql(sql));
      const plan = await timeIt(name, N, () => handler.prepare(sql, [], ctx));
      rows1.push(`| ${name} | ${fmt(parse.p50)} | ${fmt(plan.p50)} | ${fmt(plan.p50 - parse.p50)} |`);
    }
    process.stdout.write(`### Parse and plan cost per statement (${N} iterations, median µs per call)\n\n`);
    process.stdout.write('| statement | parse | parse + plan | plan alone |\n| --- | ---: | ---: | ---: |\n');
    process.stdout.write(`${rows1.join('\n')}\n\n`);

    // 2. end to end: the modes take turns in rounds so machine noise hits them alike.
    const pointSql = 'SELECT abalance FROM accounts WHERE aid = 42';
    const modes: [string, (i: number) => Promise<unknown>][] = [
      ['simple, same text (plan cache hit)', () => cached.query(pointSql)],
      ['simple, plan cache disabled', () => uncached.query(pointSql)],
      ['simple, literal varies (always a miss)', (i) => cached.query(`SELECT abalance FROM accounts WHERE aid = ${1 + (i % 1000)}`)],
      ['extended, named prepared statement', (i) => cached.query({ name: 'point', text: 'SELECT abalance FROM accounts WHERE aid = $1', values: [1 + (i % 1000)] })],
    ];
    const ROUNDS = 5;
    const samples = new Map<string, number[]>(modes.map(([m]) => [m, []]));
    for (const [, fn] of modes) for (let i = 0; i < 300; i++) await fn(i);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [m, fn] of modes) {
        const list = samples.get(m) as number[];
        for (let i = 0; i < N / ROUNDS; i++) {
          const t0 = process.hrtime.bigint();
          await fn(i);
          list.push(Number(process.hrtime.bigint() - t0) / 1000);
        }
      }
    }
    process.stdout.write(`### Point SELECT end to end, one client over loopback (${N} queries per mode, ${ROUNDS} interleaved rounds)\n\n`);
    process.stdout.write('| mode | p50 µs | p95 µs | p99 µs | mean µs |\n| --- | ---: | ---: | ---: | ---: |\n');
    for (const [m] of modes) {
      const list = samples.get(m) as number[];
      const p = percentiles(list);
      const mean = list.reduce((a, b) => a + b, 0) / list.length;
      process.stdout.write(`| ${m} | ${fmt(p.p50)} | ${fmt(p.p95)} | ${fmt(p.p99)} | ${fmt(mean)} |\n`);
    }
  } finally {
    for (const c of clients) await c.end().catch(() => undefined);
    for (const s of servers) await s.close();
    await shard.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench sql-plan failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
