import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { readTopicToEnd } from './support/kafka';
import { caughtUp, mirrorStats } from './support/kafka-log';
import { connect, startMirroredDemo, uniquePrefix, until, type MirroredDemo } from './support/mirrored-demo';
import { freePort } from './support/ports';
import { ROOT, spawnNode, waitForHttp, type Spawned } from './support/process';

// The CDC re-snapshot past a gap record (issue 11, decision 0037 §6) on the real cluster and a
// broker of its own, stopped long enough that the nodes compact their Raft logs past what was
// mirrored (a small WEFT_MIRROR_MAX_BACKLOG, as kafka-materializer-snapshot.test.ts does). While
// Kafka is away rows are deleted, updated and inserted; those entries exist nowhere any more.
// A CDC service with WEFT_CDC_SNAPSHOT_MODE=when_needed re-snapshots each shard past its gap
// and continues: a consumer (read_committed) gets `d` for every row deleted inside the gap,
// `r` for every live row, then the later changes, and its replay equals the table. A CDC
// service with `initial` stops each shard at the gap with an error naming `when_needed`.
jest.setTimeout(420_000);

const exec = promisify(execFile);

type Row = { id: number; v: string };
interface Change {
  before: Row | null;
  after: Row | null;
  op: 'r' | 'c' | 'u' | 'd';
  source: { shard: number; index: number; snapshot: string };
}
interface FeedStatus {
  shardId: number;
  state: string;
  publishedIndex: number;
  error?: string;
  undecodable: number;
  snapshots: number;
  snapshot?: { index: number; reason: string; reads: number; deletes: number };
}

describe('CDC re-snapshot past a gap (WEFT_CDC_SNAPSHOT_MODE=when_needed, dedicated broker)', () => {
  const prefix = uniquePrefix('cg');
  const MAX_BACKLOG = 150;
  let brokerPort = 0;
  let controllerPort = 0;
  let d: MirroredDemo | undefined;
  const dirs: string[] = [];
  const services = new Map<string, { proc: Spawned; http: number }>();
  let consumer: Consumer | undefined;

  const demo = (): MirroredDemo => d as MirroredDemo;
  const brokers = (): string => `127.0.0.1:${brokerPort}`;
  const broker = async (cmd: 'start' | 'stop'): Promise<void> => {
    await exec('bash', [path.join(ROOT, 'tools/kafka/kafka.sh'), cmd], {
      env: { ...process.env, KAFKA_PORT: String(brokerPort), KAFKA_CONTROLLER_PORT: String(controllerPort), KAFKA_HEAP: '384m' },
      timeout: 180_000,
    });
  };
  const changeTopic = (id: string): string => `${prefix}${id}.cdc.weft.public.gap`;

  /** A CDC service of its own (id names its groups and its change-topic prefix). */
  const startCdc = async (id: string, mode: 'initial' | 'when_needed'): Promise<void> => {
    const http = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), `weft-cdcgap-${id}-`));
    dirs.push(dir);
    const proc = spawnNode('dist/apps/cdc/src/main.js', {
      WEFT_HTTP_PORT: String(http),
      WEFT_METRICS_PORT: String(await freePort()),
      WEFT_KAFKA_BROKERS: brokers(),
      WEFT_KAFKA_TOPIC_PREFIX: prefix,
      WEFT_CDC_TOPIC_PREFIX: `${prefix}${id}`,
      WEFT_DATA_DIR: dir,
      WEFT_SHARD_COUNT: String(demo().shards.length),
      WEFT_CDC_ID: id,
      WEFT_CDC_SNAPSHOT_MODE: mode,
      WEFT_CDC_SNAPSHOT_FROM: demo().http.map((p) => `127.0.0.1:${p}`).join(','),
      WEFT_LOG_LEVEL: 'warn',
    });
    services.set(id, { proc, http });
    try {
      await waitForHttp(`http://127.0.0.1:${http}/health`, 60_000);
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${proc.stderr().slice(-2000)}`, { cause: e });
    }
  };
  const status = async (id: string): Promise<FeedStatus[]> => {
    const res = await fetch(`http://127.0.0.1:${services.get(id)?.http ?? 0}/cdc`);
    return ((await res.json()) as { shards: FeedStatus[] }).shards;
  };
  /** Once every shard of `id` published up to the mirrored index (no errors on the way). */
  const caughtUpCdc = async (id: string): Promise<FeedStatus[]> => {
    const targets = await until('every shard mirrored up to its applied index', () => caughtUp(demo().http, demo().shards), 120_000);
    return until(`CDC ${id} caught up with the log`, async () => {
      const s = await status(id);
      for (const f of s) if (f.error !== undefined) throw new Error(`shard ${f.shardId}: ${f.error}`);
      return s.length === demo().shards.length && s.every((f) => f.publishedIndex >= (targets.get(f.shardId) ?? 0)) ? s : undefined;
    }, 180_000);
  };

  beforeAll(async () => {
    brokerPort = await freePort();
    controllerPort = await freePort();
    await broker('start');
    // A small mirror backlog and frequent Raft snapshots: an outage of a few hundred writes
    // compacts the log past what was mirrored.
    d = await startMirroredDemo(brokers(), prefix, {
      shards: 2,
      env: { WEFT_MIRROR_MAX_BACKLOG: String(MAX_BACKLOG), WEFT_SNAPSHOT_ENTRIES: '50', WEFT_SNAPSHOT_MARGIN: '5' },
    });
  });
  afterAll(async () => {
    await consumer?.disconnect().catch(() => undefined);
    for (const s of services.values()) {
      s.proc.child.kill('SIGTERM');
      await s.proc.exited;
    }
    await d?.stop();
    if (brokerPort) {
      await broker('stop').catch(() => undefined);
      rmSync(path.join(ROOT, '.cache', 'kafka', String(brokerPort)), { recursive: true, force: true });
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('when_needed re-snapshots each shard past its gap (d for rows deleted in it, r for live rows) and streams on; initial stops naming when_needed', async () => {
    const c = await connect(demo().pgPort);
    await c.query('CREATE TABLE gap (id int PRIMARY KEY, v text)');
    for (let i = 1; i <= 200; i += 50) {
      await c.query(`INSERT INTO gap VALUES ${Array.from({ length: 50 }, (_, j) => `(${i + j}, 'v${i + j}')`).join(', ')}`);
    }
    await startCdc('need', 'when_needed');
    await startCdc('init', 'initial');
    // Streaming changes before the outage (after each service's initial snapshot).
    await caughtUpCdc('need');
    await caughtUpCdc('init');
    await c.query("UPDATE gap SET v = 'before-gap' WHERE id <= 10");

    // Kafka away: first the changes the gap will swallow (deletes of 1..40, updates of 41..60,
    // one at a time so they are spread over both shards' logs), then enough inserts that every
    // shard's backlog overflows and its log is compacted past them.
    await caughtUpCdc('need');
    await broker('stop');
    for (let id = 1; id <= 40; id++) await c.query('DELETE FROM gap WHERE id = $1', [id]);
    for (let id = 41; id <= 60; id++) await c.query("UPDATE gap SET v = 'in-gap' WHERE id = $1", [id]);
    for (let id = 100_000; id < 100_000 + 3 * MAX_BACKLOG + 100; id++) await c.query('INSERT INTO gap VALUES ($1, $2)', [id, `gap ${id}`]);
    await until('the backlog overflowing for every shard on every node', async () => {
      const views = await Promise.all(demo().http.map((p) => mirrorStats(p)));
      return views.every((v) => v.shards?.length === demo().shards.length && v.shards.every((s) => s.overflowed)) ? true : undefined;
    }, 90_000);
    await broker('start');

    // initial: every shard stops at its gap and names the mode that gets past it.
    const stopped = await until('CDC init stopped at the gaps', async () => {
      const s = await status('init');
      return s.length === demo().shards.length && s.every((f) => f.state === 'stopped') ? s : undefined;
    }, 180_000);
    for (const f of stopped) expect(f.error).toMatch(/the log has a gap \(indexes \d+\.\.\d+ were never published\).*WEFT_CDC_SNAPSHOT_MODE=when_needed/);

    // when_needed: every shard re-snapshotted past its gap; then changes after it stream on.
    const resnapped = await until('CDC need re-snapshotted every shard past its gap', async () => {
      const s = await status('need');
      for (const f of s) if (f.error !== undefined) throw new Error(`shard ${f.shardId}: ${f.error}`);
      return s.length === demo().shards.length && s.every((f) => f.snapshots >= 1 && /gap/.test(f.snapshot?.reason ?? '') && f.state !== 'snapshotting') ? s : undefined;
    }, 180_000);
    console.log(`re-snapshots: ${JSON.stringify(resnapped.map((f) => [f.shardId, f.snapshot]))}`);
    for (let id = 61; id <= 70; id++) await c.query("UPDATE gap SET v = 'after-gap' WHERE id = $1", [id]);
    await c.query('DELETE FROM gap WHERE id > 100100 AND id <= 100110');
    await c.query('INSERT INTO gap VALUES (300, $1)', ['after-gap']);
    const final = await caughtUpCdc('need');
    for (const f of final) expect(f.undecodable).toBe(0);
    const table = new Map((await c.query<Row>('SELECT id, v FROM gap')).rows.map((r) => [r.id, r.v]));
    await c.end();

    // The change topic from the beginning, read_committed.
    consumer = new Kafka({ clientId: 'weft-cdcgap-reader', brokers: [brokers()], logLevel: logLevel.WARN }).consumer({ groupId: `cdcgap-test-${Math.random().toString(36).slice(2)}` });
    const got = await readTopicToEnd<{ id: number }, Change>(consumer, changeTopic('need'));

    // Replay per key: r is an upsert (initial snapshot, and live rows after a gap), c/u/d must
    // find what the consumer holds (before-image = held value).
    const state = new Map<number, string>();
    const problems: string[] = [];
    for (const { key, value: e } of got) {
      const held = state.get(key.id);
      const has = state.has(key.id);
      if (e.op === 'r') state.set(key.id, (e.after as Row).v);
      else if (e.op === 'c') {
        if (has) problems.push(`c for ${key.id} while it holds ${held}`);
        state.set(key.id, (e.after as Row).v);
      } else if (e.op === 'u') {
        if (!has || e.before?.v !== held) problems.push(`u for ${key.id}: before ${JSON.stringify(e.before)} but holds ${held}`);
        state.set(key.id, (e.after as Row).v);
      } else {
        if (!has || e.before?.v !== held) problems.push(`d for ${key.id}: before ${JSON.stringify(e.before)} but holds ${held}`);
        state.delete(key.id);
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(new Map([...state].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...table].sort((a, b) => a[0] - b[0])));

    // The rows deleted inside the gap: one `d` each, from the re-snapshot (marked as snapshot
    // events), with the image the consumer held; never a `c`/`u` for what the gap hid.
    const gapIndex = new Map(resnapped.map((f) => [f.shardId, f.snapshot?.index ?? 0]));
    const fromResnapshot = (e: Change): boolean => e.source.index === gapIndex.get(e.source.shard) && e.source.snapshot !== 'false';
    for (let id = 1; id <= 40; id++) {
      const ds = got.filter((m) => m.key.id === id && m.value.op === 'd').map((m) => m.value);
      expect([id, ds.length, ds.every(fromResnapshot), ds[0]?.before?.v]).toEqual([id, 1, true, id <= 10 ? 'before-gap' : `v${id}`]);
    }
    // Rows updated or inserted inside the gap arrive as `r` from the re-snapshot.
    for (const id of [41, 60, 100_000, 100_000 + 3 * MAX_BACKLOG + 99]) {
      const rs = got.filter((m) => m.key.id === id && fromResnapshot(m.value));
      expect([id, rs.map((m) => m.value.op), rs[0]?.value.after?.v]).toEqual([id, ['r'], table.get(id)]);
    }
    const deletes = resnapped.reduce((n, f) => n + (f.snapshot?.deletes ?? 0), 0);
    expect(deletes).toBe(40);
    // After the gap: ordinary change events again.
    expect(got.filter((m) => m.key.id === 300).map((m) => m.value.op)).toEqual(['c']);
    expect(got.filter((m) => m.key.id === 61).map((m) => m.value.op).slice(-1)).toEqual(['u']);
    const ops = got.reduce<Record<string, number>>((m, x) => ({ ...m, [x.value.op]: (m[x.value.op] ?? 0) + 1 }), {});
    console.log(`events: ${JSON.stringify(ops)}; rows at the end: ${table.size}`);
  });
});
