import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { DemoState } from '../apps/cli/src/state';
import { ROOT } from './support/process';
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver';
import { samples, scrape, total, type Sample } from './support/prom';
import { freeDemoPort, spawnDemo, type Demo } from './support/weft-server';

// Issue 13: what an operator sees of a real cluster (`weft demo`: meta, three node processes,
// the gateway): each service's /metrics after a SQL workload, readiness that tells the truth,
// and `weft status`.
jest.setTimeout(180_000);

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SHARDS = ['1', '2', '3', '4'];
const SERVICES = ['meta-1', 'meta-2', 'meta-3', 'node-1', 'node-2', 'node-3', 'gateway'];

async function startDemo(env: Record<string, string> = {}): Promise<{ demo: Demo; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weft-obs-'));
  for (let attempt = 1; ; attempt++) {
    try {
      return { demo: await spawnDemo({ dataDir: dir, pgPort: await freeDemoPort(), env }), dir };
    } catch (e) {
      if (attempt < 3 && /is already in use/.test(String(e))) continue;
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }
}

function service(state: DemoState | null, name: string): DemoState['services'][number] {
  const s = state?.services.find((x) => x.name === name);
  if (!s) throw new Error(`the demo's state names no service ${name}`);
  return s;
}

async function connect(port: number): Promise<Client> {
  const c = new Client({ host: '127.0.0.1', port, user: 'weft', database: 'weft' });
  await c.connect();
  return c;
}

async function sqlState(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

async function ready(port: number): Promise<{ code: number; body: { status?: string; reasons?: string[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
  return { code: res.status, body: (await res.json()) as { status?: string; reasons?: string[] } };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 40_000): Promise<T> {
  const end = Date.now() + ms;
  let last = '';
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

async function weftStatus(dataDir: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await exec(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), 'status', '--data', dataDir], { cwd: ROOT, timeout: 30_000 });
    return { code: 0, stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? String(e) };
  }
}

describe('metrics of a running cluster', () => {
  let demo: Demo;
  let dir: string;
  beforeAll(async () => ({ demo, dir } = await startDemo()));
  afterAll(async () => {
    await demo?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const nodeScrapes = async (): Promise<Sample[][]> => Promise.all(['node-1', 'node-2', 'node-3'].map((n) => scrape(service(demo.state(), n).ports.metrics)));

  it('after a SQL workload every service exports its metrics with sane values; a forced conflict and a duplicate key count as aborts', async () => {
    const a = await connect(demo.pgPort);
    const b = await connect(demo.pgPort);
    try {
      await a.query('CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)');
      const commitsBefore = (await nodeScrapes()).map((s) => total(s, 'weft_raft_commit_latency_seconds_count')).reduce((x, y) => x + y, 0);
      const gwBefore = await scrape(service(demo.state(), 'gateway').ports.metrics);

      const inserts = 20;
      for (let i = 1; i <= inserts; i++) await a.query(`INSERT INTO acct VALUES (${i}, ${i})`);
      await b.query("SET weft.tenant = 'acme'");
      for (let i = 0; i < 5; i++) expect((await b.query('SELECT v FROM acct WHERE id = 3')).rows).toEqual([{ v: 3 }]);

      // A serialization conflict: a reads row 1, b changes it and commits; a's next write (or
      // its COMMIT) fails with 40001, and its COMMIT then only ends the failed transaction.
      await a.query('BEGIN');
      await a.query('SELECT v FROM acct WHERE id = 1');
      await b.query('UPDATE acct SET v = v + 1 WHERE id = 1');
      const atWrite = await sqlState(a.query('UPDATE acct SET v = 0 WHERE id = 2'));
      const atCommit = await sqlState(a.query('COMMIT'));
      expect([atWrite, atCommit].filter((c) => c !== undefined)).toEqual(['40001']);
      expect(await sqlState(a.query('INSERT INTO acct VALUES (1, 0)'))).toBe('23505');
      await a.query('BEGIN');
      await a.query('UPDATE acct SET v = 7 WHERE id = 7');
      await a.query('ROLLBACK');

      const gw = await scrape(service(demo.state(), 'gateway').ports.metrics);
      const grew = (name: string, match: Record<string, string> = {}) => total(gw, name, match) - total(gwBefore, name, match);
      expect(grew('weft_txn_aborts_total', { reason: 'conflict' })).toBe(1);
      expect(grew('weft_txn_aborts_total', { reason: 'unique_violation' })).toBe(1);
      expect(grew('weft_txn_aborts_total', { reason: 'rollback' })).toBe(1);
      // 20 inserts, the SET, 5 selects and b's update, each its own transaction.
      expect(grew('weft_txn_commits_total')).toBe(inserts + 1 + 5 + 1);
      // Failed statements count too (the duplicate key).
      expect(grew('weft_sql_statement_duration_seconds_count', { type: 'insert' })).toBe(inserts + 1);
      expect(grew('weft_sql_statement_duration_seconds_count', { type: 'select' })).toBe(6);
      // The SLO and paging thresholds are bucket boundaries; cumulative buckets end at the count.
      const buckets = samples(gw, 'weft_sql_statement_duration_seconds_bucket', { type: 'insert' });
      expect(buckets.map((s) => s.labels.le)).toEqual(expect.arrayContaining(['0.15', '0.18', '+Inf']));
      expect(buckets.find((s) => s.labels.le === '+Inf')?.value).toBe(total(gw, 'weft_sql_statement_duration_seconds_count', { type: 'insert' }));
      expect(total(gw, 'weft_sql_statement_duration_seconds_sum', { type: 'insert' })).toBeGreaterThan(0);
      expect(grew('weft_sql_queries_total', { tenant: 'acme' })).toBe(1 + 5 + 1);
      expect(grew('weft_sql_queries_total', { tenant: 'weft' })).toBeGreaterThanOrEqual(inserts);
      expect(grew('weft_sql_statement_errors_total', { code: '40001' })).toBe(1);
      expect(grew('weft_sql_plan_cache_hits_total')).toBeGreaterThanOrEqual(4);
      expect(total(gw, 'weft_sql_plan_cache_misses_total')).toBeGreaterThan(0);
      expect(total(gw, 'weft_pgwire_connections')).toBeGreaterThanOrEqual(2);
      expect(total(gw, 'weft_sql_sessions_active')).toBeGreaterThanOrEqual(2);
      for (const shard of SHARDS) {
        expect(total(gw, 'weft_gateway_shard_quorum', { shard })).toBe(1);
        expect(total(gw, 'weft_gateway_shard_reachable_replicas', { shard })).toBe(3);
      }
      expect(total(gw, 'weft_kvrpc_client_requests_total')).toBeGreaterThan(inserts);

      const nodes = await nodeScrapes();
      // Every insert (and the update) is a proposal committed through the shard's leader.
      const commitsAfter = nodes.map((s) => total(s, 'weft_raft_commit_latency_seconds_count')).reduce((x, y) => x + y, 0);
      expect(commitsAfter - commitsBefore).toBeGreaterThanOrEqual(inserts + 1);
      const latencySum = nodes.map((s) => total(s, 'weft_raft_commit_latency_seconds_sum')).reduce((x, y) => x + y, 0);
      expect(latencySum / commitsAfter).toBeGreaterThan(0);
      expect(latencySum / commitsAfter).toBeLessThan(5);
      for (const [i, s] of nodes.entries()) {
        const node = String(i + 1);
        expect(total(s, 'weft_wal_fsync_duration_seconds_count', { node })).toBeGreaterThan(0);
        expect(samples(s, 'weft_raft_append_queue_length', { node })).toHaveLength(1);
        for (const shard of SHARDS) {
          expect(total(s, 'weft_replica_stopped', { shard })).toBe(0);
          const lag = samples(s, 'weft_replication_lag_seconds', { shard, node });
          expect(lag).toHaveLength(1);
          expect(lag[0].value).toBeGreaterThanOrEqual(0);
          expect(lag[0].value).toBeLessThan(10);
          expect(total(s, 'weft_replica_applied_index', { shard })).toBeGreaterThan(0);
        }
      }
      for (const shard of SHARDS) {
        // Exactly one leader per shard; the three nodes agree on who.
        expect(nodes.map((s) => total(s, 'weft_raft_is_leader', { shard })).reduce((x, y) => x + y, 0)).toBe(1);
        expect(new Set(nodes.map((s) => total(s, 'weft_raft_leader_node', { shard }))).size).toBe(1);
        expect(nodes.map((s) => total(s, 'weft_raft_leader_elections_total', { shard })).reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(1);
      }
      // The leader of the table's shards reports its followers caught up or nearly.
      const followerLag = nodes.flatMap((s) => samples(s, 'weft_raft_follower_lag_entries'));
      expect(followerLag.length).toBe(SHARDS.length * 2);
      for (const f of followerLag) expect(f.value).toBeLessThan(100);

      const metas = await Promise.all(['meta-1', 'meta-2', 'meta-3'].map((n) => scrape(service(demo.state(), n).ports.metrics)));
      expect(metas.map((m) => total(m, 'weft_meta_is_leader')).reduce((x, y) => x + y, 0)).toBe(1);
      for (const m of metas) expect(total(m, 'weft_meta_shards')).toBe(SHARDS.length);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('every service is ready, and `weft status` shows each shard with its leader and every replica applied', async () => {
    for (const name of SERVICES) {
      const port = service(demo.state(), name).httpPort;
      await until(`${name} ready`, async () => ((await ready(port)).code === 200 ? true : undefined));
    }
    const s = await weftStatus(dir);
    expect(s.code).toBe(0);
    for (const name of SERVICES) expect(s.stdout).toMatch(new RegExp(`^${name}\\s+up\\s+ready\\s+pid \\d+`, 'm'));
    for (const shard of SHARDS) expect(s.stdout).toMatch(new RegExp(`^${shard}\\s+node-[123]\\s+applied \\d+ lag [\\d.]+s\\s+applied \\d+ lag [\\d.]+s\\s+applied \\d+ lag [\\d.]+s$`, 'm'));
  });
});

describe('health that tells the truth', () => {
  let demo: Demo;
  let dir: string;
  // Node 2's replica of shard 4 is handed a corrupt entry (a testing knob) on its next apply as
  // a follower, and stops applying.
  beforeAll(async () => ({ demo, dir } = await startDemo({ WEFT_TESTING_CORRUPT_APPLY: '2:4' })));
  afterAll(async () => {
    await demo?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a node whose replica stopped applying is live but not ready, and `weft status` shows it', async () => {
    const node2 = service(demo.state(), 'node-2');
    // The knob waits while node 2 leads shard 4: the lease goes to node 1 (as an operator would
    // move it; done every run, so the test takes the same path whoever led).
    const c = await connect(demo.pgPort);
    try {
      await c.query('ALTER RANGE 4 RELOCATE LEASE TO 1');
    } finally {
      await c.end();
    }
    const notReady = await until('node-2 not ready for shard 4', async () => {
      const r = await ready(node2.httpPort);
      return r.code === 503 && r.body.reasons?.some((x) => x.startsWith('shard 4: replica stopped applying')) ? r.body : undefined;
    });
    expect(notReady.status).toBe('not-ready');
    expect((await fetch(`http://127.0.0.1:${node2.httpPort}/health/live`)).status).toBe(200);
    expect(total(await scrape(node2.ports.metrics), 'weft_replica_stopped', { shard: '4' })).toBe(1);
    // The other nodes' replicas of shard 4 are fine.
    await until('node-1 ready', async () => ((await ready(service(demo.state(), 'node-1').httpPort)).code === 200 ? true : undefined));

    const s = await weftStatus(dir);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^node-2\s+up\s+not-ready\s+pid \d+/m);
    expect(s.stdout).toMatch(/^\s+shard 4: replica stopped applying: /m);
    expect(s.stdout).toMatch(/^node-1\s+up\s+ready/m);
    expect(s.stdout).toMatch(/^4\s+node-[123]\s+applied \d+ lag [\d.]+s\s+STOPPED\s+applied \d+/m);
    expect(s.stdout).toMatch(/node-2\s+error shard 4: shard replica stopped applying/);
  });

  it('a gateway that cannot reach a quorum of the shards turns not-ready, and ready again when it can', async () => {
    const gw = service(demo.state(), 'gateway').httpPort;
    await until('gateway ready', async () => ((await ready(gw)).code === 200 ? true : undefined));
    // Two of three nodes freeze (SIGSTOP: alive to the supervisor, silent to everyone else).
    const frozen = ['node-1', 'node-3'].map((n) => service(demo.state(), n).pid as number);
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    try {
      const body = await until('gateway not ready', async () => {
        const r = await ready(gw);
        return r.code === 503 ? r.body : undefined;
      });
      expect(body.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^shard 1: only 1 of 3 replicas reachable \(no quorum\)/)]));
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    await until('gateway ready again', async () => ((await ready(gw)).code === 200 ? true : undefined), 60_000);
  });
});

describe('traces', () => {
  let demo: Demo;
  let dir: string;
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    ({ demo, dir } = await startDemo({ WEFT_OTLP_TRACES_URL: receiver.url, WEFT_TRACE_SAMPLE_RATIO: '1' }));
  });
  afterAll(async () => {
    await demo?.stop();
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("one INSERT's trace goes from the gateway's statement span through the KV RPC to the replica's commit and apply", async () => {
    const c = await connect(demo.pgPort);
    try {
      await c.query('CREATE TABLE traced (id int PRIMARY KEY, note text)');
      await c.query("INSERT INTO traced VALUES (42, 'the traced one')");
    } finally {
      await c.end();
    }
    const byParent = (parent: ReceivedSpan, name: string) => receiver.spans.find((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId && s.name === name);
    // Exported in batches (every few seconds): wait until the whole chain has arrived.
    const chain = await until('the INSERT trace', () => {
      for (const sql of receiver.spans.filter((s) => s.name === 'sql insert' && s.service === 'weft-gateway')) {
        const kv = byParent(sql, 'kv.propose');
        const apply = kv && byParent(kv, 'replica.apply');
        const commit = kv && byParent(kv, 'raft.commit');
        if (kv && apply && commit) return Promise.resolve({ sql, kv, apply, commit });
      }
      return Promise.resolve(undefined);
    });
    expect(chain.sql.attributes['weft.tenant']).toBe('weft');
    expect(chain.kv.service).toBe('weft-node');
    // The node that served the proposal is the shard's leader, and it applied the entry itself.
    expect(chain.apply.service).toBe('weft-node');
    expect(chain.apply.attributes['weft.shard']).toBe(chain.kv.attributes['weft.shard']);
    expect(chain.apply.attributes['weft.index']).toBe(chain.commit.attributes['weft.index']);
  });

  it("a point SELECT's and an UPDATE's traces reach the node's read spans (kv.get_now, kv.lock_read)", async () => {
    const c = await connect(demo.pgPort);
    try {
      await c.query('CREATE TABLE traced_reads (id int PRIMARY KEY, n int)');
      await c.query('INSERT INTO traced_reads VALUES (7, 0)');
      await c.query('SELECT n FROM traced_reads WHERE id = 7');
      await c.query('UPDATE traced_reads SET n = n + 1 WHERE id = 7');
    } finally {
      await c.end();
    }
    const childOf = (parent: ReceivedSpan, name: string) => receiver.spans.find((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId && s.name === name);
    const found = await until('the read spans', () => {
      const select = receiver.spans.filter((s) => s.name === 'sql select' && s.service === 'weft-gateway').map((s) => childOf(s, 'kv.get_now')).find((s) => s !== undefined);
      const update = receiver.spans.filter((s) => s.name === 'sql update' && s.service === 'weft-gateway').map((s) => childOf(s, 'kv.lock_read')).find((s) => s !== undefined);
      return Promise.resolve(select && update ? { select, update } : undefined);
    });
    expect(found.select.service).toBe('weft-node');
    expect(found.update.service).toBe('weft-node');
    expect(found.select.attributes['weft.shard']).toBeGreaterThan(0);
  });
});
