// SQL benchmark: the real pgbench (PostgreSQL 15) against Weft and against PostgreSQL 15 on the
// same machine in the same run: built-in select-only and TPC-B-like scripts (simple and prepared
// protocol), a single-row write (one autocommit UPDATE of a random account) and a cross-shard
// transfer (BEGIN; two UPDATEs of random accounts, which on Weft usually live on different
// shards: a two-phase commit; END), at each client count, fixed duration each. TPS comes from
// pgbench's summary; p50/p95/p99 from its per-transaction log (--log: one line per transaction
// with its latency in µs, including retries of serialization failures). Not part of CI.
//
// Run: npm run build && node dist/bench/pgbench.js
// Env: BENCH_SECONDS (default 20 per run), BENCH_SCALE (default 10), BENCH_CLIENTS (default
//      "8,32"), BENCH_SHARDS (default 8: shards of the Weft demo), BENCH_WORKLOADS (default all
//      OLTP workloads; the scans — count-all, filtered-scan, group-by and their "(pushdown off)" twins — run
//      only when named),
//      BENCH_TARGETS (default "postgres,weft"), PG_BIN (default /usr/lib/postgresql/15/bin).
// BENCH_WEFT selects what "weft" is: "demo" (default) runs `weft demo --shards BENCH_SHARDS`
// (meta, three node processes each holding a replica of every shard, fsync'd quorum commits, and
// the gateway), "gateway" runs the gateway app alone over local shards (no replication).
// A target that cannot start or initialize is reported with its error; the others still run.
// BENCH_OBS (default "1" with BENCH_WEFT=demo; "0" skips): the cost of observability. After the
// main runs the demo is restarted on the same data three times — defaults, WEFT_METRICS=off,
// and every statement traced (WEFT_TRACE_SAMPLE_RATIO=1, exported over OTLP/HTTP to a sink in
// this process) — and select-only and TPC-B-like (prepared, first client count) run on each.
// BENCH_OBS_ROUNDS (default 1): repeat the variants that many times, each round starting one
// variant later, so no variant always runs first (right after the load, or the main runs).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { cpuDelta, cpuMsByRole, postmasterPid } from './proc-cpu';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const SCALE = Number(process.env.BENCH_SCALE ?? 10);
const CLIENT_COUNTS = (process.env.BENCH_CLIENTS ?? '8,32').split(',').map((s) => Number(s.trim()));
const SHARDS = Number(process.env.BENCH_SHARDS ?? 8);
const TARGETS = (process.env.BENCH_TARGETS ?? 'postgres,weft').split(',').map((s) => s.trim());
const WEFT_MODE = process.env.BENCH_WEFT ?? 'demo';
const WEFT_LABEL = WEFT_MODE === 'demo' ? `Weft (3 replicas, ${SHARDS} shards)` : `Weft (gateway + ${SHARDS} local shards)`;

type Kind = 'postgres' | 'weft';
interface Server {
  readonly kind: Kind;
  readonly port: number;
  /** Root of the server's process tree (CPU accounting), when known. */
  readonly pid: () => number | undefined;
  stop(): Promise<void>;
}
interface RunResult {
  readonly tps: number;
  readonly p50ms: number;
  readonly p95ms: number;
  readonly p99ms: number;
  readonly transactions: number;
  readonly failed: number;
  readonly retried: number;
  /** CPU time per transaction by process role (µs), from /proc, when the tree is known. */
  readonly cpuUsPerTxn?: ReadonlyMap<string, number>;
}
interface Workload {
  readonly name: string;
  /** pgbench arguments selecting the script. */
  readonly args: readonly string[];
  /** Protocols to run it in (the custom scripts only prepared, to bound the run time). */
  readonly modes: readonly ('simple' | 'prepared')[];
  /** Runs only when named in BENCH_WORKLOADS (the scans: long statements, not OLTP). */
  readonly optIn?: boolean;
}
const SCRIPT_DIR = mkdtempSync(path.join(tmpdir(), 'weft-bench-scripts-'));
function script(name: string, text: string): string {
  const file = path.join(SCRIPT_DIR, `${name}.sql`);
  writeFileSync(file, text);
  return file;
}
const ALL_WORKLOADS: readonly Workload[] = [
  { name: 'select-only', args: ['-S'], modes: ['simple', 'prepared'] },
  { name: 'tpcb-like', args: ['-b', 'tpcb-like'], modes: ['simple', 'prepared'] },
  {
    name: 'single-row-write',
    args: ['-f', script('single-row-write', `\\set aid random(1, 100000 * ${SCALE})\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n`)],
    modes: ['prepared'],
  },
  {
    name: 'cross-shard-transfer',
    args: [
      '-f',
      script(
        'cross-shard-transfer',
        `\\set a random(1, 100000 * ${SCALE})\n\\set b random(1, 100000 * ${SCALE})\n\\set delta random(1, 100)\nBEGIN;\nUPDATE pgbench_accounts SET abalance = abalance - :delta WHERE aid = :a;\nUPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :b;\nEND;\n`,
      ),
    ],
    modes: ['prepared'],
  },
  // Scans of the whole accounts table (decision 0038): a count, a selective filter and a GROUP BY the shards
  // evaluate, each also with pushdown off (SET weft.filter_pushdown is a custom setting
  // PostgreSQL accepts and ignores), so one run shows what pushdown buys.
  ...(['on', 'off'] as const).flatMap((pushdown): Workload[] => {
    const set = `SET weft.filter_pushdown = ${pushdown};\n`;
    const suffix = pushdown === 'on' ? '' : ' (pushdown off)';
    return [
      { name: `count-all${suffix}`, args: ['-f', script(`count-all-${pushdown}`, `${set}SELECT count(*) FROM pgbench_accounts;\n`)], modes: ['prepared'], optIn: true },
      {
        name: `filtered-scan${suffix}`,
        args: ['-f', script(`filtered-scan-${pushdown}`, `${set}SELECT aid, abalance FROM pgbench_accounts WHERE aid % 10000 = 0;\n`)],
        modes: ['prepared'],
        optIn: true,
      },
      {
        name: `group-by${suffix}`,
        args: ['-f', script(`group-by-${pushdown}`, `${set}SELECT bid, count(*), sum(abalance), min(aid), max(aid) FROM pgbench_accounts GROUP BY bid;\n`)],
        modes: ['prepared'],
        optIn: true,
      },
    ];
  }),
];
const WORKLOADS = process.env.BENCH_WORKLOADS
  ? ALL_WORKLOADS.filter((w) => (process.env.BENCH_WORKLOADS ?? '').split(',').includes(w.name))
  : ALL_WORKLOADS.filter((w) => w.optIn !== true);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

function envFor(port: number): NodeJS.ProcessEnv {
  return { ...process.env, PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGDATABASE: 'postgres', PGSSLMODE: 'disable' };
}

async function startPostgres(): Promise<Server> {
  const port = await freePort();
  const script = path.join(ROOT, 'tools/postgres/pg.sh');
  const env = { ...process.env, PG_PORT: String(port), PG_BIN, PG_FRESH: '1' };
  await run('bash', [script, 'start'], { env });
  const dataDir = path.join(ROOT, '.cache/postgres', String(port), 'data');
  return { kind: 'postgres', port, pid: () => postmasterPid(dataDir), stop: async () => void (await run('bash', [script, 'destroy'], { env })) };
}

async function waitForSql(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < until && child.exitCode === null) {
    const c = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return;
    } catch (e) {
      last = e;
    } finally {
      await c.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(child.exitCode !== null ? `gateway exited (${child.exitCode})` : `no answer to SELECT 1: ${String(last)}`);
}

/**
 * Starts Weft on a new data directory, or on `reuse.dataDir` (kept when it stops) with extra
 * environment for every service.
 */
async function startWeft(reuse?: { dataDir: string; env: Record<string, string> }): Promise<Server & { dataDir: string }> {
  if (WEFT_MODE !== 'demo' && WEFT_MODE !== 'gateway') throw new Error(`BENCH_WEFT=${WEFT_MODE}: expected demo or gateway`);
  const port = await freePort();
  const dataDir = reuse?.dataDir ?? mkdtempSync(path.join(tmpdir(), 'weft-bench-pgbench-'));
  const child =
    WEFT_MODE === 'demo'
      ? spawn(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), 'demo', '--port', String(port), '--data', dataDir, '--shards', String(SHARDS)], {
          env: { ...process.env, WEFT_LOG_LEVEL: 'warn', ...reuse?.env },
          stdio: ['ignore', 'ignore', 'pipe'],
        })
      : spawn(process.execPath, [path.join(ROOT, 'dist/apps/gateway/src/main.js')], {
          env: {
            ...process.env,
            WEFT_BIND_HOST: '127.0.0.1',
            WEFT_PG_PORT: String(port),
            WEFT_HTTP_PORT: String(await freePort()),
            WEFT_METRICS_PORT: String(await freePort()),
            WEFT_DATA_DIR: dataDir,
            WEFT_SHARD_COUNT: String(SHARDS),
            WEFT_LOG_LEVEL: 'warn',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    if (reuse === undefined) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForSql(port, child, 60_000);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}${stderr ? `; stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`, { cause: e });
  }
  return { kind: 'weft', port, pid: () => child.pid, stop, dataDir };
}

/** An OTLP/HTTP endpoint that accepts and counts trace exports (what a collector would get). */
async function startTraceSink(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${addr.port}/v1/traces`, requests: () => requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

interface ObsVariant {
  readonly name: string;
  readonly env: (sinkUrl: string) => Record<string, string>;
}
const OBS_VARIANTS: readonly ObsVariant[] = [
  { name: 'defaults (metrics on, tracing unexported)', env: () => ({}) },
  { name: 'metrics off (WEFT_METRICS=off)', env: () => ({ WEFT_METRICS: 'off' }) },
  { name: 'every statement traced and exported', env: (url) => ({ WEFT_OTLP_TRACES_URL: url, WEFT_TRACE_SAMPLE_RATIO: '1' }) },
];

/** The observability variants on the data `dataDir` holds (see BENCH_OBS). */
async function measureObservability(dataDir: string, problems: string[]): Promise<string[]> {
  const sink = await startTraceSink();
  const lines: string[] = [];
  const clients = CLIENT_COUNTS[0];
  const workloads = ALL_WORKLOADS.filter((w) => w.name === 'select-only' || w.name === 'tpcb-like');
  try {
    const rounds = Number(process.env.BENCH_OBS_ROUNDS ?? 1);
    const order = Array.from({ length: rounds * OBS_VARIANTS.length }, (_, i) => OBS_VARIANTS[(i + Math.floor(i / OBS_VARIANTS.length)) % OBS_VARIANTS.length]);
    for (const v of order) {
      let server: Server | undefined;
      try {
        server = await startWeft({ dataDir, env: v.env(sink.url) });
        const before = sink.requests();
        const cells: string[] = [];
        for (const w of workloads) {
          const r = await measure(server, w, 'prepared', clients);
          process.stdout.write(`weft [${v.name}] ${w.name} prepared c=${clients}: ${f(r.tps, 0)} tps, p50 ${f(r.p50ms)} p95 ${f(r.p95ms)} p99 ${f(r.p99ms)} ms\n`);
          cells.push(`${f(r.tps, 0)} (${f(r.p50ms)} / ${f(r.p95ms)} / ${f(r.p99ms)})`);
        }
        lines.push(`| ${v.name} | ${cells.join(' | ')} | ${sink.requests() - before} |`);
      } catch (e) {
        problems.push(`observability variant "${v.name}": ${(e as Error).message}`);
      } finally {
        await server?.stop().catch(() => undefined);
      }
    }
  } finally {
    await sink.close();
  }
  return lines;
}

async function pgbench(port: number, args: string[], timeoutMs: number): Promise<string> {
  try {
    const { stdout, stderr } = await run(path.join(PG_BIN, 'pgbench'), args, { env: envFor(port), timeout: timeoutMs, maxBuffer: 64 << 20 });
    return stdout + stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    const tail = `${err.stdout ?? ''}${err.stderr ?? String(e)}`.trim().split('\n').slice(-4).join(' | ');
    throw new Error(`pgbench ${args.join(' ')}: ${tail}`, { cause: e });
  }
}

/**
 * The pgbench schema and data at SCALE, exactly as users load it: `pgbench -i` with its
 * client-side COPY of every account in one transaction, then ADD PRIMARY KEY (a rewrite of every
 * row on Weft). On Weft both are large transactions, staged to the shard as they go.
 */
async function initialize(port: number): Promise<void> {
  await pgbench(port, ['-i', '-s', String(SCALE)], 1_800_000);
}

/** Latencies (ms) of the successful transactions in pgbench's per-transaction logs. */
function logLatencies(dir: string): Float64Array {
  const values: number[] = [];
  for (const f of readdirSync(dir)) {
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      // client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]
      const fields = line.split(' ');
      if (fields.length < 6) continue;
      const us = Number(fields[2]);
      if (Number.isFinite(us)) values.push(us / 1000); // "failed"/"skipped" lines are not latencies
    }
  }
  return Float64Array.from(values).sort();
}

async function measure(server: Server, workload: Workload, mode: string, clients: number): Promise<RunResult> {
  const logDir = mkdtempSync(path.join(tmpdir(), 'weft-bench-pgbench-log-'));
  const root = server.pid();
  const cpuBefore = root === undefined ? undefined : cpuMsByRole(root);
  try {
    const out = await pgbench(
      server.port,
      ['-n', '-M', mode, '-c', String(clients), '-j', '2', '-T', String(SECONDS), '-s', String(SCALE), '--max-tries', '10', '-l', `--log-prefix=${path.join(logDir, 'tx')}`, ...workload.args],
      (SECONDS + 60) * 1000,
    );
    const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
    const lat = logLatencies(logDir);
    const at = (q: number): number => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] : NaN);
    const transactions = num(/number of transactions actually processed: (\d+)/);
    const cpu = root === undefined || cpuBefore === undefined ? undefined : cpuDelta(cpuBefore, cpuMsByRole(root));
    const cpuUsPerTxn = cpu === undefined || !(transactions > 0) ? undefined : new Map([...cpu].map(([role, ms]) => [role, (ms * 1000) / transactions]));
    return {
      ...(cpuUsPerTxn ? { cpuUsPerTxn } : {}),
      tps: num(/tps = ([\d.]+) \(without initial connection time\)/),
      p50ms: at(0.5),
      p95ms: at(0.95),
      p99ms: at(0.99),
      transactions: num(/number of transactions actually processed: (\d+)/),
      failed: num(/number of failed transactions: (\d+)/),
      retried: num(/number of transactions retried: (\d+)/) || 0,
    };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

/** ", CPU µs/txn: gateway 120, node 80, …" for the progress line. */
function cpuText(r: RunResult): string {
  if (!r.cpuUsPerTxn) return '';
  return `, CPU µs/txn: ${[...r.cpuUsPerTxn].filter(([, us]) => us >= 0.5).map(([role, us]) => `${role} ${Math.round(us)}`).join(', ')}`;
}

const f = (n: number, d = 2): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a');

async function main(): Promise<void> {
  const results = new Map<string, RunResult>();
  const problems: string[] = [];
  const key = (k: Kind, w: string, m: string, c: number): string => `${k}/${w}/${m}/${c}`;
  const runs: { w: Workload; m: 'simple' | 'prepared'; c: number }[] = [];
  for (const c of CLIENT_COUNTS) for (const w of WORKLOADS) for (const m of w.modes) if (m === 'prepared' || c === CLIENT_COUNTS[0]) runs.push({ w, m, c });
  const inits = new Map<Kind, number>();
  const obsOn = (process.env.BENCH_OBS ?? (WEFT_MODE === 'demo' ? '1' : '0')) === '1';
  let obsLines: string[] = [];
  for (const kind of TARGETS) {
    if (kind !== 'postgres' && kind !== 'weft') throw new Error(`BENCH_TARGETS: unknown target ${kind}`);
    let server: (Server & { dataDir?: string }) | undefined;
    try {
      server = kind === 'postgres' ? await startPostgres() : await startWeft(obsOn ? { dataDir: mkdtempSync(path.join(tmpdir(), 'weft-bench-pgbench-')), env: {} } : undefined);
      const t0 = Date.now();
      await initialize(server.port);
      inits.set(kind, (Date.now() - t0) / 1000);
      process.stdout.write(`${kind === 'weft' ? WEFT_LABEL : kind}: pgbench -i -s ${SCALE} took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      for (const { w, m, c } of runs) {
        try {
          const r = await measure(server, w, m, c);
          results.set(key(kind, w.name, m, c), r);
          process.stdout.write(`${kind} ${w.name} ${m} c=${c}: ${f(r.tps, 0)} tps, p50 ${f(r.p50ms)} p95 ${f(r.p95ms)} p99 ${f(r.p99ms)} ms, failed ${r.failed}, retried ${r.retried}${cpuText(r)}\n`);
        } catch (e) {
          problems.push(`${kind} ${w.name} ${m} c=${c}: ${(e as Error).message}`);
        }
      }
    } catch (e) {
      problems.push(`${kind}: ${(e as Error).message}`);
    } finally {
      await server?.stop().catch((e: Error) => problems.push(`${kind} stop: ${e.message}`));
    }
    if (kind === 'weft' && obsOn && server?.dataDir !== undefined) {
      obsLines = await measureObservability(server.dataDir, problems);
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  }

  process.stdout.write(`\npgbench scale ${SCALE}, 2 threads, ${SECONDS} s per run; Weft: ${WEFT_LABEL}\n\n`);
  const wi = inits.get('weft');
  const pi = inits.get('postgres');
  if (wi !== undefined && pi !== undefined) process.stdout.write(`pgbench -i -s ${SCALE}: Weft ${f(wi, 1)} s, PostgreSQL ${f(pi, 1)} s (${f(wi / pi, 1)}× slower)\n\n`);
  process.stdout.write('| script | protocol | clients | Weft TPS (p50 / p95 / p99 ms) | PostgreSQL TPS (p50 / p95 / p99 ms) | Weft/PG TPS | Weft/PG p99 | Weft failed / retried |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n');
  for (const { w, m, c } of runs) {
    const a = results.get(key('weft', w.name, m, c));
    const b = results.get(key('postgres', w.name, m, c));
    const cell = (r: RunResult | undefined): string => (r ? `${f(r.tps, 0)} (${f(r.p50ms)} / ${f(r.p95ms)} / ${f(r.p99ms)})` : 'n/a');
    const ratio = (x: number | undefined, y: number | undefined): string => (x !== undefined && y !== undefined ? `${f(x / y)}×` : 'n/a');
    process.stdout.write(`| ${w.name} | ${m} | ${c} | ${cell(a)} | ${cell(b)} | ${ratio(a?.tps, b?.tps)} | ${ratio(a?.p99ms, b?.p99ms)} | ${a ? `${a.failed} / ${a.retried}` : 'n/a'} |\n`);
  }
  process.stdout.write('\nCPU per transaction (µs, from /proc: each process\'s own time plus its reaped children\'s, during the run):\n\n| script | protocol | clients | Weft by process | Weft total | PostgreSQL total |\n| --- | --- | --- | --- | --- | --- |\n');
  for (const { w, m, c } of runs) {
    const a = results.get(key('weft', w.name, m, c))?.cpuUsPerTxn;
    const b = results.get(key('postgres', w.name, m, c))?.cpuUsPerTxn;
    const total = (x: ReadonlyMap<string, number> | undefined): string => (x ? f([...x.values()].reduce((s, v) => s + v, 0), 0) : 'n/a');
    const parts = a ? [...a].filter(([, us]) => us >= 0.5).map(([role, us]) => `${role} ${f(us, 0)}`).join(', ') : 'n/a';
    process.stdout.write(`| ${w.name} | ${m} | ${c} | ${parts} | ${total(a)} | ${total(b)} |\n`);
  }
  if (obsLines.length > 0) {
    process.stdout.write(`\nObservability cost (Weft, prepared, ${CLIENT_COUNTS[0]} clients, TPS (p50 / p95 / p99 ms)):\n\n| variant | select-only | tpcb-like | OTLP exports received |\n| --- | --- | --- | --- |\n${obsLines.join('\n')}\n`);
  }
  if (problems.length) process.stdout.write(`\nnot measured:\n${problems.map((p) => `- ${p}`).join('\n')}\n`);
  rmSync(SCRIPT_DIR, { recursive: true, force: true });
  process.exitCode = results.size > 0 ? 0 : 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`bench/pgbench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
