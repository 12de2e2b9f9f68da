import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import postgres from 'postgres';
import { finished } from 'node:stream/promises';
import type { ShardKv } from '@weft/kv';
import { RemoteShardKv } from '@weft/kvrpc';
import type { ApplyOutcome, LogEntry } from '@weft/logentry';
import { Txn } from '@weft/txn';
import { NodeCluster } from './support/node-cluster';
import type { SqlServer } from './support/postgres';
import { startWeft } from './support/weft-server';

// Large transactions: writes are staged to the shard as intents every WEFT_TXN_STAGE_BYTES and
// committed by one small entry. Run here with tiny chunks so a few thousand rows make dozens.
const STAGE_BYTES = 16 * 1024;
const PSQL = path.join(process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin', 'psql');

/** Runs a psql script (stdin) without stopping at errors; returns stdout and stderr together. */
async function psqlScript(server: SqlServer, script: string): Promise<string> {
  const run = promisify(execFile);
  const p = run(PSQL, ['-X', '-h', server.host, '-p', String(server.port), '-U', server.user, '-d', server.database, '-f', '-'], { timeout: 120_000 });
  p.child.stdin?.end(script);
  const { stdout, stderr } = await p.catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? 'psql failed' }));
  return `${stdout}${stderr}`;
}
const key = (i: number): Buffer => Buffer.from(`big/${String(i).padStart(6, '0')}`);
const value = (i: number): Buffer => Buffer.from(`value-${i}`.padEnd(100, '.'));

describe('large transactions on a 3-replica shard (node processes, kill -9)', () => {
  let cluster: NodeCluster;
  let kv: RemoteShardKv;
  const leader = (): Promise<number> => cluster.leader();

  const visible = async (from: number, to: number): Promise<number> => {
    const t = new Txn(kv);
    let n = 0;
    for await (const row of t.scan(key(from), key(to))) if (row.value.toString().startsWith('value-')) n++;
    return n;
  };

  beforeAll(async () => {
    // An open staged transaction that makes no progress for 3 s is presumed abandoned.
    cluster = await NodeCluster.start({ name: 'weft-large-txn', env: { WEFT_STAGED_IDLE_MS: '3000' } });
    kv = cluster.kv;
  }, 60000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('keeps an acknowledged large commit whole when the leader is killed while its intents are being resolved', async () => {
    // After the commit entry is acknowledged, kill the leader: the resolution the gateway would
    // have driven is cut short, and the new leader's sweep must finish it.
    let killed: number | undefined;
    const killAfterCommit: ShardKv = {
      shardId: 1,
      now: () => kv.now(),
      get: (k, ts, o) => kv.get(k, ts, o),
      scan: (s, e, ts, o) => kv.scan(s, e, ts, o),
      txnStatus: (id) => kv.txnStatus(id),
      propose: async (entry: LogEntry): Promise<ApplyOutcome> => {
        const out = await kv.propose(entry);
        if (entry.type === 'commit' && killed === undefined) {
          killed = await leader();
          await cluster.kill(killed);
        }
        return out;
      },
    };
    const t = new Txn(killAfterCommit, { stageBytes: STAGE_BYTES });
    for (let i = 0; i < 3000; i++) t.put(key(i), value(i));
    await t.settle();
    expect(t.staged).toBe(true);
    expect(await visible(0, 3000)).toBe(0);
    const commitTs = await t.commit();
    expect(commitTs).toBeDefined();
    expect(killed).toBeDefined();
    // Every row of the acknowledged transaction is readable, all at once.
    expect(await visible(0, 3000)).toBe(3000);
    // The killed node comes back and catches up; a writer of those keys is not blocked by
    // leftover intents (they were settled, or are settled under its write).
    await cluster.startNode(killed as number);
    const w = new Txn(kv);
    w.put(key(7), Buffer.from('value-after'));
    await w.commit();
    expect((await new Txn(kv).get(key(7)))?.toString()).toBe('value-after');
    expect(await visible(0, 3000)).toBe(3000);
    // All three replicas end with the same state (the restarted one caught up, intents settled).
    await cluster.converged([1, 2, 3], 60000);
  }, 120000);

  it('aborts an abandoned large transaction (its gateway died) once it is idle, freeing its keys', async () => {
    const t = new Txn(kv, { stageBytes: STAGE_BYTES });
    for (let i = 10000; i < 12000; i++) t.put(key(i), value(i));
    await t.settle();
    expect(t.staged).toBe(true);
    // The transaction is never committed or rolled back: its gateway is gone.
    const blocked = new Txn(kv);
    blocked.put(key(10001), Buffer.from('value-x'));
    await expect(blocked.commit()).rejects.toMatchObject({ code: '40001' });
    let ok = false;
    for (let i = 0; i < 60 && !ok; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const w = new Txn(kv);
      w.put(key(10001), Buffer.from('value-free'));
      ok = await w.commit().then(() => true, () => false);
    }
    expect(ok).toBe(true);
    expect(await visible(10000, 12000)).toBe(1);
  }, 120000);
});

describe('large transactions through SQL (gateway, staged every 16 KiB)', () => {
  let weft: SqlServer;
  let sql: postgres.Sql;
  const client = async (): Promise<Client> => {
    const c = new Client({ host: weft.host, port: weft.port, user: weft.user, database: weft.database });
    await c.connect();
    return c;
  };
  /** COPY rows (id, filler) over a postgres.js connection (node-postgres has no COPY FROM STDIN). */
  const copyRows = async (q: postgres.ReservedSql, table: string, from: number, to: number): Promise<void> => {
    const w = await q.unsafe(`COPY ${table} FROM STDIN`).writable();
    for (let i = from; i < to; i++) w.write(`${i}\t${'x'.repeat(80)}\n`);
    w.end();
    await finished(w);
  };
  const count = async (c: Client, table: string): Promise<number> => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;

  beforeAll(async () => {
    weft = await startWeft({ env: { WEFT_TXN_STAGE_BYTES: String(STAGE_BYTES) } });
    sql = postgres({ host: weft.host, port: weft.port, user: weft.user, database: weft.database, max: 2, onnotice: () => undefined });
  }, 60000);
  afterAll(async () => {
    await sql?.end();
    await weft?.stop();
  });

  it('loads a large COPY in a transaction that others do not see until COMMIT, then rewrites it with ADD PRIMARY KEY', async () => {
    const a = await sql.reserve();
    const b = await client();
    try {
      await a.unsafe('CREATE TABLE big (id int, filler text)');
      await a.unsafe('BEGIN');
      await copyRows(a, 'big', 0, 20000);
      expect((await a.unsafe('SELECT count(*)::int AS n FROM big'))[0].n).toBe(20000);
      expect(await count(b, 'big')).toBe(0);
      await a.unsafe('COMMIT');
      expect(await count(b, 'big')).toBe(20000);
      // Rewriting every row under a new key is one large transaction too.
      await a.unsafe('ALTER TABLE big ADD PRIMARY KEY (id)');
      expect((await b.query('SELECT filler FROM big WHERE id = 12345')).rows).toHaveLength(1);
      await expect(b.query("INSERT INTO big VALUES (5, 'dup')")).rejects.toMatchObject({ code: '23505' });
    } finally {
      a.release();
      await b.end();
    }
  }, 180000);

  it('reports a duplicate key in a staged chunk on the COPY, fails the block, and ROLLBACK leaves the table as it was', async () => {
    const b = await client();
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'weft-large-copy-')), 'rows.tsv');
    const rows = Array.from({ length: 20000 }, (_, i) => `${i}\t${'x'.repeat(80)}\n`).join('');
    // Row 5 again at the end: by then the first one sits on the shard as a staged intent.
    writeFileSync(file, `${rows}5\tagain\n`);
    const clean = path.join(path.dirname(file), 'clean.tsv');
    writeFileSync(clean, rows);
    try {
      await b.query('CREATE TABLE uniq (id int PRIMARY KEY, filler text)');
      await b.query("INSERT INTO uniq VALUES (-1, 'committed')");
      const script = [
        'BEGIN;',
        `\\copy uniq from '${file}'`,
        'SELECT 1;',
        'ROLLBACK;',
        '',
      ].join('\n');
      const r = await psqlScript(weft, script);
      expect(r).toMatch(/ERROR: {2}duplicate key value violates unique constraint "uniq_pkey"/);
      expect(r).toMatch(/ERROR: {2}current transaction is aborted/);
      expect(await count(b, 'uniq')).toBe(1);
      // The rolled-back intents are gone: the same rows load now.
      expect(await psqlScript(weft, `\\copy uniq from '${clean}'\n`)).toMatch(/COPY 20000/);
      expect(await count(b, 'uniq')).toBe(20001);
    } finally {
      await b.end();
      rmSync(path.dirname(file), { recursive: true, force: true });
    }
  }, 180000);
});
