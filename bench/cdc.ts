// CDC and materializer benchmark (issue 11) on `weft demo --kafka`:
//
//  1. Commit-to-consumer CDC latency: a paced insert load (BENCH_CDC_RATE rows/s over
//     BENCH_CLIENTS connections, single-row autocommit INSERTs) while a plain kafkajs consumer
//     (read_committed, its own group) reads the table's change topic. Latency of a row = the
//     moment its event reached the consumer's eachMessage minus the moment the client got the
//     INSERT's CommandComplete (COMMIT acknowledged), one clock (this process). p50/p95/p99.
//     During the same load: the demo's materializer and CDC service CPU (from /proc, by role)
//     per entry they applied / per change event they published.
//     The peer, in the same run with the same paced load: PostgreSQL 15 logical decoding
//     (`pg_recvlogical` with the `test_decoding` plugin, fsync on, wal_level=logical) — latency
//     from the INSERT's acknowledgement to its change line reaching this process.
//     A second peer, `debezium` (opt-in, not in the default parts): Debezium 3.6.1.Final's
//     PostgreSQL connector (pgoutput) in the embedded engine (bench/debezium, a Maven project the
//     bench builds with `mvn -q -B package`; needs a JDK 17+ and Maven, the first build downloads
//     its dependencies from Maven Central), offsets in memory and no broker, on its own PostgreSQL
//     15 like the first peer. Latency from the INSERT's acknowledgement to the event in Debezium's
//     change handler (JVM wall clock against this process's) and to its line reaching this process.
//  2. Materializer rebuild speed: BENCH_REBUILD_ROWS more rows in multi-row INSERTs of
//     BENCH_REBUILD_BATCH, then, once every shard is mirrored, a fresh materializer process with
//     an empty data directory (bootstrap `log`: from offset 0 of each topic) applies every log
//     topic. Reported: entries and rows in the topics, the time from its first applied entry to
//     the last (and from process start), entries/s, rows/s, and its CPU per entry (/proc).
//
// Not part of CI; needs a broker (npm run kafka:start). Run:
//   npm run bench -- cdc          (or: npm run build && node dist/bench/cdc.js)
// Env: BENCH_KAFKA (default 127.0.0.1:9092), BENCH_SECONDS (latency load, default 20),
//      BENCH_CDC_RATE (rows/s, default 200), BENCH_CLIENTS (default 8), BENCH_SHARDS (default 4),
//      BENCH_CDC_PARTS (default "peer,rebuild": what runs besides Weft's latency; "debezium" adds
//      the Debezium peer, e.g. BENCH_CDC_PARTS=peer,debezium,rebuild), BENCH_DEBEZIUM_POLL_MS
//      (the connector's poll.interval.ms, default 10; Debezium's own default is 500),
//      BENCH_REBUILD_ROWS (default 100000), BENCH_REBUILD_BATCH (rows per INSERT, default 100),
//      BENCH_PORT (first port of the demo's block; default: a free block found at random),
//      BENCH_MATERIALIZER_PORT (http port of the rebuilt materializer, +1 metrics; default: free).

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { devPorts, PORT_SPAN } from '../apps/cli/src/dev-cluster';
import { HEADER } from '../libs/mirror/src/log-record';
import { cpuMsByRole } from './proc-cpu';
import { fmt, percentiles } from './stats';

const ROOT = path.resolve(__dirname, '..', '..');
const KAFKA = process.env.BENCH_KAFKA ?? '127.0.0.1:9092';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const RATE = Number(process.env.BENCH_CDC_RATE ?? 200);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 4);
/** Which measurements run (BENCH_CDC_PARTS, comma-separated; default peer,rebuild): peer, debezium, rebuild (the latency always). */
const PARTS = new Set((process.env.BENCH_CDC_PARTS ?? 'peer,rebuild').split(',').map((x) => x.trim()));
const REBUILD_ROWS = Number(process.env.BENCH_REBUILD_ROWS ?? 100_000);
const REBUILD_BATCH = Number(process.env.BENCH_REBUILD_BATCH ?? 100);
const FIXED_PORT = process.env.BENCH_PORT === undefined ? undefined : Number(process.env.BENCH_PORT);
const DEBEZIUM_POLL_MS = Number(process.env.BENCH_DEBEZIUM_POLL_MS ?? 10);
const MATERIALIZER_PORT = process.env.BENCH_MATERIALIZER_PORT === undefined ? undefined : Number(process.env.BENCH_MATERIALIZER_PORT);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds on one monotonic clock, sub-millisecond resolution. */
const now = (): number => performance.now();

const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });

async function freeBlock(span: number): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const base = 20_000 + span * Math.floor(Math.random() * Math.floor(12_000 / span));
    let ok = true;
    for (let p = base; ok && p < base + span; p++) ok = await bindable(p);
    if (ok) return base;
  }
  throw new Error('no free port block found');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`);
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

interface Demo {
  readonly port: number;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

async function startDemo(prefix: string): Promise<Demo> {
  const port = FIXED_PORT ?? (await freeBlock(PORT_SPAN));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'weft-bench-cdc-'));
  const args = ['demo', '--port', String(port), '--data', dataDir, '--shards', String(SHARDS), '--kafka', KAFKA];
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG_LEVEL: 'warn', WEFT_KAFKA_TOPIC_PREFIX: prefix };
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await until('weft demo answering SQL', async () => {
      if (child.exitCode !== null) throw new Error(`weft demo exited (${child.exitCode})`);
      const c = new Client({ host: '127.0.0.1', port, user: 'weft', database: 'weft', connectionTimeoutMillis: 2000 });
      try {
        await c.connect();
        await c.query('SELECT 1');
        return true;
      } finally {
        await c.end().catch(() => undefined);
      }
    }, 120_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, child, stop };
}

interface MirrorShard { shardId: number; state: string; mirroredIndex: number; appliedIndex: number }
interface MaterializerShard { shardId: number; state: string; appliedIndex: number; error?: string }
interface CdcShard { shardId: number; publishedIndex: number; changeEvents: number; error?: string }

/** Per shard, the highest mirrored index any node reports, once the leader mirrored all it applied. */
async function mirroredTargets(pgPort: number): Promise<Map<number, number>> {
  const p = devPorts(pgPort);
  return until('every shard mirrored up to its applied index', async () => {
    const views = (await Promise.all([1, 2, 3].map((id) => getJson<{ shards?: MirrorShard[] }>(`http://127.0.0.1:${p.http(id)}/mirror`)))).flatMap((v) => v.shards ?? []);
    const leaders = views.filter((s) => s.state === 'mirroring');
    if (new Set(leaders.map((s) => s.shardId)).size < SHARDS) return undefined;
    if (!leaders.every((s) => s.mirroredIndex >= s.appliedIndex)) return undefined;
    return new Map(leaders.map((s) => [s.shardId, s.mirroredIndex]));
  }, 180_000);
}

const materializerShards = (httpPort: number): Promise<MaterializerShard[]> =>
  getJson<{ shards: MaterializerShard[] }>(`http://127.0.0.1:${httpPort}/materializer`).then((r) => r.shards);
const cdcShards = (httpPort: number): Promise<CdcShard[]> => getJson<{ shards: CdcShard[] }>(`http://127.0.0.1:${httpPort}/cdc`).then((r) => r.shards);
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

interface Latencies {
  rows: number;
  received: number;
  missing: number;
  duplicates: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** p50/p99 ms of each hop of a change's way (wall clocks of the processes, one machine). */
interface Hops {
  /** Rows whose log record and change event were both seen. */
  readonly rows: number;
  /** Commit timestamp → the shard leader's mirror sends the entry to its log topic (apply, linger, batching). */
  readonly commitToMirror: readonly [number, number];
  /** Mirror send → the CDC service builds the event (mirror transaction commit, CDC fetch, catalog wait, decoding). */
  readonly mirrorToCdc: readonly [number, number];
  /** The CDC service builds the event → sends it to the change topic. */
  readonly cdcBuildToSend: readonly [number, number];
  /** CDC send → the consumer has it (the CDC's Kafka transaction commit, the consumer's fetch). */
  readonly cdcToConsumer: readonly [number, number];
}

/** One change event's place in its shard's log and its wall-clock times (ms) along the way. */
interface ChangeTimes {
  readonly shard: number;
  readonly index: number;
  readonly commitMs: number;
  readonly builtMs: number;
  readonly sentMs: number;
  readonly arrivedMs: number;
}

interface LatencyResult extends Latencies {
  hops: Hops;
  materializerCpuMsPerEntry: number;
  materializerEntries: number;
  cdcCpuMsPerEvent: number;
  cdcEvents: number;
}

/**
 * The paced load both systems get: open loop, row k due at t0 + k / RATE, each of CLIENTS
 * connections taking the next due row; `acked` gets each row's acknowledgement time.
 */
async function pacedInserts(client: () => Client, acked: Map<number, number>): Promise<void> {
  const total = Math.max(1, Math.round(RATE * SECONDS));
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const c = client();
      await c.connect();
      try {
        for (;;) {
          const k = next++;
          if (k >= total) return;
          const due = t0 + (k * 1000) / RATE;
          const wait = due - now();
          if (wait > 0) await sleep(wait);
          await c.query({ name: 'ins', text: 'INSERT INTO bench_cdc VALUES ($1, $2)', values: [k, 'x'.repeat(100)] });
          acked.set(k, now());
        }
      } finally {
        await c.end();
      }
    }),
  );
}

function hopsOf(events: readonly ChangeTimes[], mirrorSent: ReadonlyMap<string, number>): Hops {
  const h = { a: [] as number[], b: [] as number[], c: [] as number[], d: [] as number[] };
  for (const e of events) {
    const sent = mirrorSent.get(`${e.shard}:${e.index}`);
    if (sent === undefined) continue;
    h.a.push(sent - e.commitMs);
    h.b.push(e.builtMs - sent);
    h.c.push(e.sentMs - e.builtMs);
    h.d.push(e.arrivedMs - e.sentMs);
  }
  const pp = (xs: number[]): readonly [number, number] => {
    const p = percentiles(xs);
    return [p.p50, p.p99];
  };
  return { rows: h.a.length, commitToMirror: pp(h.a), mirrorToCdc: pp(h.b), cdcBuildToSend: pp(h.c), cdcToConsumer: pp(h.d) };
}

function latencies(acked: ReadonlyMap<number, number>, arrived: ReadonlyMap<number, number>, duplicates: number): Latencies {
  const lat: number[] = [];
  for (const [id, t] of acked) {
    const got = arrived.get(id);
    if (got !== undefined) lat.push(got - t);
  }
  return { rows: acked.size, received: lat.length, missing: acked.size - lat.length, duplicates, ...percentiles(lat), max: lat.length === 0 ? NaN : Math.max(...lat) };
}

/** A fresh PostgreSQL 15 (tools/postgres/pg.sh) on a free loopback port, wal_level=logical, with an empty bench_cdc table. */
interface LogicalPostgres {
  readonly port: number;
  readonly client: () => Client;
  /** Stops the server and deletes its data directory. */
  readonly destroy: () => void;
}

async function startLogicalPostgres(): Promise<LogicalPostgres> {
  const port = await freeBlock(1);
  const script = path.join(ROOT, 'tools/postgres/pg.sh');
  const env = { ...process.env, PG_PORT: String(port), PG_FRESH: '1', PG_OPTS: '-c wal_level=logical -c max_replication_slots=4 -c max_wal_senders=4' };
  execFileSync('bash', [script, 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const pg: LogicalPostgres = {
    port,
    client: () => new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' }),
    destroy: () => execFileSync('bash', [script, 'destroy'], { env, stdio: ['ignore', 'ignore', 'inherit'] }),
  };
  try {
    const setup = pg.client();
    await setup.connect();
    try {
      await setup.query('CREATE TABLE bench_cdc (id bigint PRIMARY KEY, v text)');
    } finally {
      await setup.end();
    }
  } catch (e) {
    pg.destroy();
    throw e;
  }
  return pg;
}

/** SIGTERM, SIGKILL after graceMs, and wait until the child has exited. */
async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Calls onLine with each complete line of the child's stdout and the moment its chunk arrived. */
function readLines(child: ChildProcess, onLine: (line: string, t: number) => void): void {
  const out = child.stdout;
  if (out === null) throw new Error('child has no stdout pipe');
  let buf = '';
  out.setEncoding('utf8');
  out.on('data', (chunk: string) => {
    const t = now();
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) onLine(line, t);
  });
}

/**
 * The peer: the same paced load on PostgreSQL 15 (tools/postgres/pg.sh, wal_level=logical),
 * each row's latency from its acknowledgement to its `test_decoding` line from pg_recvlogical
 * reaching this process (decoded at commit, as Weft's CDC publishes committed changes only).
 */
async function measurePostgresLatency(): Promise<Latencies> {
  const pg = await startLogicalPostgres();
  let recv: ChildProcess | undefined;
  try {
    const setup = pg.client();
    await setup.connect();
    await setup.query("SELECT pg_create_logical_replication_slot('bench_cdc', 'test_decoding')");
    const arrived = new Map<number, number>();
    let duplicates = 0;
    let warm = false;
    const bin = path.join(process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin', 'pg_recvlogical');
    // -F 0: no fsync of the output (a pipe); -s 1: status to the server every second.
    recv = spawn(bin, ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', 'postgres', '--slot', 'bench_cdc', '--start', '-f', '-', '-F', '0', '-s', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    readLines(recv, (line, t) => {
      const m = /^table public\.bench_cdc: INSERT: id\[bigint\]:(-?\d+)/.exec(line);
      if (m === null) return;
      const id = Number(m[1]);
      if (id === -1) warm = true;
      else if (arrived.has(id)) duplicates++;
      else arrived.set(id, t);
    });
    await setup.query("INSERT INTO bench_cdc VALUES (-1, 'warm-up')");
    await setup.end();
    await until('pg_recvlogical to print the warm-up row', async () => (warm ? true : undefined), 30_000);
    const acked = new Map<number, number>();
    await pacedInserts(pg.client, acked);
    await until('every acknowledged row from pg_recvlogical', async () => (arrived.size >= acked.size ? true : undefined), 60_000).catch(() => undefined);
    return latencies(acked, arrived, duplicates);
  } finally {
    if (recv !== undefined) await stopChild(recv);
    pg.destroy();
  }
}

const DEBEZIUM_DIR = path.join(ROOT, 'bench/debezium');

interface DebeziumResult {
  /** Acknowledgement → the event in Debezium's change handler (the JVM's wall clock against this process's). */
  readonly handler: Latencies;
  /** Acknowledgement → the handler's line for it read by this process (one clock). */
  readonly here: Latencies;
  /** `mvn -q -B package` of bench/debezium. */
  readonly buildMs: number;
  /** JVM start → the connector streams (its `ready` line). */
  readonly startMs: number;
}

/**
 * The second peer: the same paced load on PostgreSQL 15 read by Debezium's PostgreSQL connector
 * (pgoutput) in the embedded engine (bench/debezium: offsets in memory, no broker,
 * snapshot.mode=no_data, poll.interval.ms=BENCH_DEBEZIUM_POLL_MS). Its handler prints each
 * event's row id with the JVM's wall-clock time in microseconds; performance.timeOrigin puts that
 * on this process's clock.
 */
async function measureDebeziumLatency(): Promise<DebeziumResult> {
  const building = now();
  try {
    execFileSync('mvn', ['-q', '-B', 'package'], { cwd: DEBEZIUM_DIR, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    // Maven prints its errors to stdout; show them only when the build fails.
    const out = e as { stdout?: string; stderr?: string };
    process.stderr.write(`${out.stdout ?? ''}${out.stderr ?? ''}`);
    throw new Error(`mvn package in ${DEBEZIUM_DIR} failed (needs a JDK 17+ and Maven)`, { cause: e });
  }
  const buildMs = now() - building;
  const pg = await startLogicalPostgres();
  let java: ChildProcess | undefined;
  try {
    const handler = new Map<number, number>();
    const here = new Map<number, number>();
    let duplicates = 0;
    let ready = false;
    let warm = false;
    const bin = process.env.JAVA_HOME === undefined ? 'java' : path.join(process.env.JAVA_HOME, 'bin', 'java');
    const cp = [path.join(DEBEZIUM_DIR, 'target/classes'), path.join(DEBEZIUM_DIR, 'target/lib/*')].join(path.delimiter);
    const started = now();
    const child = spawn(bin, ['-cp', cp, 'dev.weft.bench.DebeziumPeer', `database.port=${pg.port}`, `poll.interval.ms=${DEBEZIUM_POLL_MS}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    java = child;
    const died = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`the Debezium peer exited (${code ?? signal})`))));
    died.catch(() => undefined);
    readLines(child, (line, t) => {
      if (line === 'ready') ready = true;
      const m = /^row (-?\d+) (\d+)$/.exec(line);
      if (m === null) return;
      const id = Number(m[1]);
      if (id < 0) warm = true;
      else if (here.has(id)) duplicates++;
      else {
        here.set(id, t);
        handler.set(id, Number(m[2]) / 1000 - performance.timeOrigin);
      }
    });
    await Promise.race([until('the Debezium peer to stream (its ready line)', async () => (ready ? true : undefined), 120_000), died]);
    const startMs = now() - started;
    // A warm-up row each second until one arrives (the first may precede the slot's start point).
    const setup = pg.client();
    await setup.connect();
    try {
      let w = 0;
      const warmUp = async (): Promise<true | undefined> => {
        if (!warm) await setup.query('INSERT INTO bench_cdc VALUES ($1, $2)', [-++w, 'warm-up']);
        await sleep(1000);
        return warm ? true : undefined;
      };
      await Promise.race([until('Debezium to deliver a warm-up row', warmUp, 60_000), died]);
    } finally {
      await setup.end();
    }
    const acked = new Map<number, number>();
    await pacedInserts(pg.client, acked);
    await Promise.race([until('every acknowledged row from Debezium', async () => (here.size >= acked.size ? true : undefined), 60_000), died]).catch(() => undefined);
    return { handler: latencies(acked, handler, duplicates), here: latencies(acked, here, duplicates), buildMs, startMs };
  } finally {
    if (java !== undefined) await stopChild(java);
    pg.destroy();
  }
}

async function measureLatency(demo: Demo, prefix: string): Promise<LatencyResult> {
  const p = devPorts(demo.port);
  const setup = new Client({ host: '127.0.0.1', port: demo.port, user: 'weft', database: 'weft' });
  await setup.connect();
  await setup.query('CREATE TABLE bench_cdc (id bigint PRIMARY KEY, v text)');
  // The CDC service creates a table's change topic with its first event.
  await setup.query("INSERT INTO bench_cdc VALUES (-1, 'warm-up')");
  await setup.end();
  const topic = `${prefix}.cdc.weft.public.bench_cdc`;
  const kafka = new Kafka({ clientId: 'weft-bench-cdc', brokers: [KAFKA], logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  await until(`topic ${topic}`, async () => ((await admin.listTopics()).includes(topic) ? true : undefined), 60_000);
  await admin.disconnect();

  const acked = new Map<number, number>();
  const arrived = new Map<number, number>();
  const events = new Map<number, ChangeTimes>();
  let duplicates = 0;
  let warm = false;
  const consumer = kafka.consumer({ groupId: `${prefix}.bench-reader`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const t = now();
      const wall = Date.now();
      const id = Number((JSON.parse(String(message.key)) as { id: number | string }).id);
      if (id === -1) warm = true;
      else if (arrived.has(id)) duplicates++;
      else {
        arrived.set(id, t);
        const e = JSON.parse(String(message.value)) as { ts_ms: number; source: { shard: number; index: number; ts_ms: number } };
        events.set(id, { shard: e.source.shard, index: e.source.index, commitMs: e.source.ts_ms, builtMs: e.ts_ms, sentMs: Number(message.timestamp), arrivedMs: wall });
      }
    },
  });
  // The log topics' records (committed ones), for when the mirror sent each entry.
  const mirrorSent = new Map<string, number>();
  const logReader = kafka.consumer({ groupId: `${prefix}.bench-log-reader`, maxWaitTimeInMs: 100 });
  await logReader.connect();
  await logReader.subscribe({ topics: [new RegExp(`^${prefix}\\.log\\.\\d+$`)], fromBeginning: true });
  await logReader.run({
    eachMessage: async ({ message }) => {
      const h = message.headers ?? {};
      const shard = h[HEADER.shard];
      const index = h[HEADER.index];
      if (shard !== undefined && index !== undefined) mirrorSent.set(`${String(shard)}:${String(index)}`, Number(message.timestamp));
    },
  });
  await until('the consumer to receive the warm-up event', async () => (warm ? true : undefined), 60_000);

  const cpuBefore = cpuMsByRole(demo.child.pid as number);
  const matBefore = sum((await materializerShards(p.materializerHttp)).map((s) => s.appliedIndex));
  const cdcBefore = sum((await cdcShards(p.cdcHttp)).map((s) => s.changeEvents));
  await pacedInserts(() => new Client({ host: '127.0.0.1', port: demo.port, user: 'weft', database: 'weft' }), acked);
  await until('every acknowledged row at the consumer', async () => (arrived.size >= acked.size ? true : undefined), 120_000).catch(() => undefined);
  await sleep(1000);
  const cpuAfter = cpuMsByRole(demo.child.pid as number);
  const matAfter = sum((await materializerShards(p.materializerHttp)).map((s) => s.appliedIndex));
  const cdcAfter = sum((await cdcShards(p.cdcHttp)).map((s) => s.changeEvents));
  await consumer.disconnect();
  await logReader.disconnect();

  const cpu = (role: string): number => (cpuAfter.get(role) ?? 0) - (cpuBefore.get(role) ?? 0);
  return {
    ...latencies(acked, arrived, duplicates),
    hops: hopsOf([...events.values()], mirrorSent),
    materializerEntries: matAfter - matBefore,
    materializerCpuMsPerEntry: cpu('materializer') / Math.max(1, matAfter - matBefore),
    cdcEvents: cdcAfter - cdcBefore,
    cdcCpuMsPerEvent: cpu('cdc') / Math.max(1, cdcAfter - cdcBefore),
  };
}

interface RebuildResult {
  entries: number;
  rows: number;
  applyMs: number;
  totalMs: number;
  cpuMs: number;
  /** The same entries on the replicas while they were written: entries, and one replica's CPU per entry. */
  loadEntries: number;
  replicaCpuMsPerEntry: number;
}

async function measureRebuild(demo: Demo, prefix: string): Promise<RebuildResult> {
  const c = new Client({ host: '127.0.0.1', port: demo.port, user: 'weft', database: 'weft' });
  await c.connect();
  await c.query('CREATE TABLE bench_rebuild (id bigint PRIMARY KEY, v text)');
  // The replicas apply these entries as they are written: their CPU per entry (apply plus Raft,
  // WAL and serving the writes, so an upper bound of apply alone) is the comparison for the rebuild.
  const before = sum([...(await mirroredTargets(demo.port)).values()]);
  const nodeCpuBefore = cpuMsByRole(demo.child.pid as number).get('node') ?? 0;
  for (let i = 0; i < REBUILD_ROWS; i += REBUILD_BATCH) {
    const n = Math.min(REBUILD_BATCH, REBUILD_ROWS - i);
    await c.query(`INSERT INTO bench_rebuild SELECT g, repeat('x', 100) FROM generate_series(${i}, ${i + n - 1}) g`);
  }
  const rows = Number((await c.query<{ n: string }>('SELECT (SELECT count(*) FROM bench_rebuild) + (SELECT count(*) FROM bench_cdc) AS n')).rows[0].n);
  await c.end();
  const targets = await mirroredTargets(demo.port);
  const entries = sum([...targets.values()]);
  const nodeCpu = (cpuMsByRole(demo.child.pid as number).get('node') ?? 0) - nodeCpuBefore;
  const loadEntries = entries - before;
  const replicaCpuMsPerEntry = nodeCpu / 3 / Math.max(1, loadEntries);

  const http = MATERIALIZER_PORT ?? (await freeBlock(2));
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-rebuild-'));
  const started = now();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/materializer/src/main.js')], {
    env: {
      ...process.env,
      WEFT_HTTP_PORT: String(http),
      WEFT_METRICS_PORT: String(http + 1),
      WEFT_KAFKA_BROKERS: KAFKA,
      WEFT_KAFKA_TOPIC_PREFIX: prefix,
      WEFT_DATA_DIR: dir,
      WEFT_SHARD_COUNT: String(SHARDS),
      WEFT_MATERIALIZER_ID: 'bench-rebuild',
      WEFT_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    let first: number | undefined;
    // CPU from the first applied entry on: the process's start-up is not apply work.
    let cpuStart = 0;
    const done = await until('the rebuilt materializer at every shard\'s mirrored index', async () => {
      if (child.exitCode !== null) throw new Error(`materializer exited (${child.exitCode})`);
      const s = await materializerShards(http).catch(() => undefined);
      if (s === undefined) return undefined;
      for (const f of s) if (f.error !== undefined) throw new Error(`shard ${f.shardId}: ${f.error}`);
      if (first === undefined && s.some((f) => f.appliedIndex > 0)) {
        first = now();
        cpuStart = cpuMsByRole(child.pid as number).get('materializer') ?? 0;
      }
      return s.length === SHARDS && s.every((f) => f.appliedIndex >= (targets.get(f.shardId) ?? 0)) ? now() : undefined;
    }, 600_000);
    const cpuMs = (cpuMsByRole(child.pid as number).get('materializer') ?? 0) - cpuStart;
    return { entries, rows, applyMs: done - (first ?? started), totalMs: done - started, cpuMs, loadEntries, replicaCpuMsPerEntry };
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'tools/kafka/wait-ready.js'), KAFKA, '3000'], { stdio: 'ignore' });
  } catch {
    throw new Error(`no Kafka broker answers on ${KAFKA}: npm run kafka:start (or set BENCH_KAFKA)`);
  }
  const prefix = `benchcdc${Date.now().toString(36)}`;
  // The peers first, each alone on the machine (its server is stopped before the next starts).
  if (PARTS.has('peer')) process.stderr.write(`cdc bench: PostgreSQL 15 logical decoding peer, ${RATE} rows/s for ${SECONDS} s...\n`);
  const pg = PARTS.has('peer') ? await measurePostgresLatency() : undefined;
  if (PARTS.has('debezium')) process.stderr.write(`cdc bench: Debezium peer (build, then ${RATE} rows/s for ${SECONDS} s)...\n`);
  const dbz = PARTS.has('debezium') ? await measureDebeziumLatency() : undefined;
  process.stderr.write(`cdc bench: starting weft demo --kafka ${KAFKA} (${SHARDS} shards)...\n`);
  const demo = await startDemo(prefix);
  try {
    process.stderr.write(`cdc bench: latency, ${RATE} rows/s for ${SECONDS} s...\n`);
    const l = await measureLatency(demo, prefix);
    if (PARTS.has('rebuild')) process.stderr.write(`cdc bench: rebuild, ${REBUILD_ROWS} more rows...\n`);
    const r = PARTS.has('rebuild') ? await measureRebuild(demo, prefix) : undefined;
    process.stdout.write(`Commit-to-consumer CDC latency: ${CLIENTS} clients, ${RATE} single-row autocommit INSERTs/s (100-byte value) for ${SECONDS} s, weft demo --kafka with ${SHARDS} shards; a kafkajs consumer (read_committed) of the change topic\n\n`);
    process.stdout.write('| rows acked | received | missing | duplicates | p50 ms | p95 ms | p99 ms | max ms | materializer CPU ms/entry | CDC CPU ms/event |\n|---|---|---|---|---|---|---|---|---|---|\n');
    process.stdout.write(`| ${l.rows} | ${l.received} | ${l.missing} | ${l.duplicates} | ${fmt(l.p50)} | ${fmt(l.p95)} | ${fmt(l.p99)} | ${fmt(l.max)} | ${fmt(l.materializerCpuMsPerEntry, 3)} (${l.materializerEntries} entries) | ${fmt(l.cdcCpuMsPerEvent, 3)} (${l.cdcEvents} events) |\n\n`);
    const hop = (x: readonly [number, number]): string => `${fmt(x[0])} / ${fmt(x[1])}`;
    process.stdout.write(`Per hop, p50 / p99 ms (${l.hops.rows} rows; wall clocks of the processes on this machine, Kafka record timestamps)\n\n`);
    process.stdout.write('| commit → mirror sends to the log topic | mirror send → CDC builds the event | CDC build → send | CDC send → consumer |\n|---|---|---|---|\n');
    process.stdout.write(`| ${hop(l.hops.commitToMirror)} | ${hop(l.hops.mirrorToCdc)} | ${hop(l.hops.cdcBuildToSend)} | ${hop(l.hops.cdcToConsumer)} |\n\n`);
    if (pg !== undefined) {
      process.stdout.write(`Peer, same load and run: PostgreSQL 15 (fsync on), pg_recvlogical with test_decoding\n\n`);
      process.stdout.write('| rows acked | received | missing | duplicates | p50 ms | p95 ms | p99 ms | max ms | Weft/PostgreSQL p50 | p99 |\n|---|---|---|---|---|---|---|---|---|---|\n');
      process.stdout.write(`| ${pg.rows} | ${pg.received} | ${pg.missing} | ${pg.duplicates} | ${fmt(pg.p50)} | ${fmt(pg.p95)} | ${fmt(pg.p99)} | ${fmt(pg.max)} | ${fmt(l.p50 / pg.p50, 1)}× | ${fmt(l.p99 / pg.p99, 1)}× |\n\n`);
    }
    if (dbz !== undefined) {
      process.stdout.write(`Peer, same load and run: Debezium 3.6.1.Final PostgreSQL connector (pgoutput), embedded engine, offsets in memory, no broker, poll.interval.ms=${DEBEZIUM_POLL_MS}; PostgreSQL 15 (fsync on). Build ${fmt(dbz.buildMs / 1000, 1)} s, JVM start to streaming ${fmt(dbz.startMs / 1000, 1)} s\n\n`);
      process.stdout.write('| arrival | rows acked | received | missing | duplicates | p50 ms | p95 ms | p99 ms | max ms | Weft/Debezium p50 | p99 |\n|---|---|---|---|---|---|---|---|---|---|---|\n');
      const row = (what: string, d: Latencies): string =>
        `| ${what} | ${d.rows} | ${d.received} | ${d.missing} | ${d.duplicates} | ${fmt(d.p50)} | ${fmt(d.p95)} | ${fmt(d.p99)} | ${fmt(d.max)} | ${fmt(l.p50 / d.p50, 1)}× | ${fmt(l.p99 / d.p99, 1)}× |\n`;
      process.stdout.write(`${row("Debezium's change handler (JVM wall clock)", dbz.handler)}${row('its line read by this process', dbz.here)}\n`);
    }
    if (r === undefined) return;
    process.stdout.write(`Materializer rebuild from offset 0 of every log topic (${SHARDS} topics), a fresh process, empty data directory\n\n`);
    process.stdout.write('| entries | rows | first to last entry s | from process start s | entries/s | rows/s | CPU ms/entry |\n|---|---|---|---|---|---|---|\n');
    process.stdout.write(`| ${r.entries} | ${r.rows} | ${fmt(r.applyMs / 1000, 2)} | ${fmt(r.totalMs / 1000, 2)} | ${fmt(r.entries / (r.applyMs / 1000), 0)} | ${fmt(r.rows / (r.applyMs / 1000), 0)} | ${fmt(r.cpuMs / Math.max(1, r.entries), 3)} |\n\n`);
    process.stdout.write(`The replicas, applying the ${r.loadEntries} entries of the ${REBUILD_ROWS}-row load as it was written: ${fmt(r.replicaCpuMsPerEntry, 3)} ms CPU per entry per replica (node process: apply, Raft, WAL, serving; /proc)\n`);
  } finally {
    await demo.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`cdc bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
