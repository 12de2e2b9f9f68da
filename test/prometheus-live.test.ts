// The shipped Prometheus setup against a live cluster (issue 13): the real Prometheus server
// (Debian package `prometheus`, installed by .ci/run) runs deploy/prometheus/prometheus.yml —
// docker-compose's targets mapped to this demo's loopback ports — with the shipped alert rules,
// scrapes `weft demo --kafka` (the materializer and CDC service included) under a SQL workload, and then:
//  - every target is up;
//  - every rule group evaluates without error, and no alert fires on the healthy cluster;
//  - every query of the Grafana dashboards runs, and every metric they and the rules name is
//    present in what Prometheus scraped (a renamed metric would leave a panel or alert blank).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { DEFAULT_PG_PORT } from '../apps/cli/src/dev-cluster';
import { until } from './support/mirrored-demo';
import { freePort } from './support/ports';
import { freeDemoPort, spawnDemo, type Demo } from './support/weft-server';
import { TEST_KAFKA_BROKER } from './support/kafka';

const ROOT = path.resolve(__dirname, '..');
const PROM_DIR = path.join(ROOT, 'deploy/prometheus');
const DASH_DIR = path.join(ROOT, 'deploy/grafana/dashboards');

/**
 * Series that exist only once their event happened (a labelled counter gets its first series
 * on its first increment): a healthy, briefly loaded demo may not have them yet.
 */
const EVENT_ONLY = new Set([
  'weft_txn_aborts_total',
  'weft_kvrpc_client_redirects_total',
  'weft_sql_statement_errors_total',
  'weft_raft_leaderless_seconds',
]);

interface PromResponse<T> {
  status: string;
  data: T;
  error?: string;
}

async function api<T>(port: number, pathAndQuery: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${pathAndQuery}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as PromResponse<T>;
  if (body.status !== 'success') throw new Error(`${pathAndQuery}: ${body.error ?? res.status}`);
  return body.data;
}

/** The dashboards' PromQL, with Grafana's variables given values Prometheus accepts. */
function dashboardQueries(): string[] {
  const out: string[] = [];
  for (const f of readdirSync(DASH_DIR).filter((n) => n.endsWith('.json'))) {
    for (const m of readFileSync(path.join(DASH_DIR, f), 'utf8').matchAll(/"expr":\s*"((?:[^"\\]|\\.)*)"/g)) {
      out.push((JSON.parse(`"${m[1]}"`) as string).replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '15s'));
    }
  }
  return out;
}

const seriesNames = (text: string): string[] => [...new Set([...text.matchAll(/\b(weft_[a-z0-9_]+)/g)].map((m) => m[1]))];
/** The metric family of a series name (histogram suffixes dropped). */
const family = (s: string): string => s.replace(/_(bucket|count|sum)$/, '');

describe('Prometheus with the shipped configuration, rules and dashboards on a live cluster', () => {
  let demo: Demo | undefined;
  let prom: ChildProcess | undefined;
  let promPort = 0;
  const dirs: string[] = [];

  beforeAll(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-prom-live-'));
    dirs.push(dataDir);
    const pgPort = await freeDemoPort();
    // With Kafka, so the materializer and the CDC service run too (their metrics and alerts).
    demo = await spawnDemo({ dataDir, pgPort, args: ['--kafka', TEST_KAFKA_BROKER], env: { WEFT_KAFKA_TOPIC_PREFIX: `wtprom${process.pid}${Date.now().toString(36)}` }, readyTimeoutMs: 120_000 });

    // docker-compose's targets (service:port, ports of a cluster at DEFAULT_PG_PORT) → this demo.
    const promDir = mkdtempSync(path.join(os.tmpdir(), 'weft-prom-'));
    dirs.push(promDir);
    const cfg = readFileSync(path.join(PROM_DIR, 'prometheus.yml'), 'utf8')
      .replace('/etc/prometheus/weft/weft-rules.yml', path.join(PROM_DIR, 'weft-rules.yml'))
      .replace(/scrape_interval: \S+/, 'scrape_interval: 1s')
      .replace(/evaluation_interval: \S+/, 'evaluation_interval: 1s')
      .replace(/"([a-z0-9-]+):(\d+)"/g, (_all, _host: string, port: string) => `"127.0.0.1:${Number(port) - DEFAULT_PG_PORT + pgPort}"`);
    writeFileSync(path.join(promDir, 'prometheus.yml'), cfg);
    promPort = await freePort();
    prom = spawn('prometheus', [
      `--config.file=${path.join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let promLog = '';
    prom.stderr?.on('data', (b: Buffer) => (promLog = (promLog + b.toString()).slice(-4000)));
    prom.on('error', (e) => (promLog += `\nspawn: ${e.message} (install Debian package prometheus)`));
    await until('Prometheus ready', async () => {
      if (prom?.exitCode !== null) throw new Error(`prometheus exited: ${promLog}`);
      const r = await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => undefined);
      return r?.ok === true ? true : undefined;
    }, 30_000);

    // A workload: writes, reads, a multi-shard transaction and one failing statement.
    const c = new Client({ host: '127.0.0.1', port: pgPort, user: 'weft', database: 'weft' });
    await c.connect();
    try {
      await c.query('CREATE TABLE prom_t (id int PRIMARY KEY, v text)');
      for (let i = 0; i < 20; i++) await c.query('INSERT INTO prom_t VALUES ($1, $2)', [i, `v${i}`]);
      await c.query('BEGIN');
      await c.query("UPDATE prom_t SET v = 'x' WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8)");
      await c.query('COMMIT');
      await c.query('SELECT count(*) FROM prom_t');
      await c.query('SELECT * FROM prom_missing').catch(() => undefined);
    } finally {
      await c.end();
    }
  }, 180_000);

  afterAll(async () => {
    if (prom !== undefined && prom.exitCode === null) {
      const exited = new Promise((r) => prom?.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
    await demo?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('scrapes every service of the cluster', async () => {
    const targets = await until('every target up', async () => {
      const t = await api<{ activeTargets: { labels: { job: string; instance: string }; health: string; lastError: string }[] }>(promPort, '/api/v1/targets');
      return t.activeTargets.length > 0 && t.activeTargets.every((x) => x.health === 'up') ? t.activeTargets : undefined;
    }, 60_000);
    expect(new Set(targets.map((t) => t.labels.job))).toEqual(new Set(['weft-meta', 'weft-node', 'weft-gateway', 'weft-materializer', 'weft-cdc']));
    expect(targets.length).toBe(9);
  });

  it('evaluates every alert rule without error, and none fires on the healthy cluster', async () => {
    const groups = await until('rules evaluated', async () => {
      const r = await api<{ groups: { name: string; rules: { name: string; health: string; lastError?: string; state?: string; lastEvaluation: string }[] }[] }>(promPort, '/api/v1/rules');
      const rules = r.groups.flatMap((g) => g.rules);
      return rules.length > 0 && rules.every((x) => !x.lastEvaluation.startsWith('0001')) ? r.groups : undefined;
    }, 30_000);
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError ?? r.health}`)).toEqual([]);
    const alerts = await api<{ alerts: { labels: { alertname: string }; state: string }[] }>(promPort, '/api/v1/alerts');
    expect(alerts.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname)).toEqual([]);
  });

  it('runs every dashboard query, and has every metric the dashboards and rules name', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(10);
    for (const q of queries) {
      const r = await api<{ resultType: string }>(promPort, `/api/v1/query?query=${encodeURIComponent(q)}`).catch((e: unknown) => ({ resultType: `error: ${String(e)}` }));
      expect([q, r.resultType]).toEqual([q, 'vector']);
    }
    const wanted = new Set([...queries.flatMap(seriesNames), ...seriesNames(readFileSync(path.join(PROM_DIR, 'weft-rules.yml'), 'utf8'))].map(family));
    expect(wanted.size).toBeGreaterThan(20);
    const missing = await until('every named metric scraped', async () => {
      const names = new Set((await api<string[]>(promPort, '/api/v1/label/__name__/values')).map(family));
      const gone = [...wanted].filter((n) => !names.has(n) && !names.has(`${n}_total`) && !EVENT_ONLY.has(n));
      return gone.length === 0 ? gone : undefined;
    }, 30_000).catch(async () => {
      const names = new Set((await api<string[]>(promPort, '/api/v1/label/__name__/values')).map(family));
      return [...wanted].filter((n) => !names.has(n) && !names.has(`${n}_total`) && !EVENT_ONLY.has(n));
    });
    expect(missing).toEqual([]);
  });
});
