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
//
// A third when_needed service, publishing snapshots in chunks of 100 events (decision 0043), is
// killed (SIGKILL) three times inside its re-snapshots (decision 0041), held there by
// WEFT_CDC_FAILPOINT: with every shard's snapshot staged and nothing committed — then the log
// topics lose everything before their gap records —; with the system shard's first chunk
// committed; with the system shard's last chunk committed and its replica not switched yet (the
// other shards staged each time, waiting for the catalog that the system shard's switch brings).
// Each restart settles the staged snapshots from the published progress (discarded, resumed
// after the committed chunks, or made live): the consumer gets each `d` and each re-snapshot `r`
// exactly once and replays to the table.
jest.setTimeout(600_000);

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
  stagedIndex?: number;
  stagedDone?: number;
  stagedSettled?: { index: number; how: 'completed' | 'resumed' | 'discarded'; published: number };
  failpoint?: string;
  outcomesPruned: number;
}

describe('CDC re-snapshot past a gap (WEFT_CDC_SNAPSHOT_MODE=when_needed, dedicated broker)', () => {
  const prefix = uniquePrefix('cg');
  const MAX_BACKLOG = 150;
  let brokerPort = 0;
  let controllerPort = 0;
  let d: MirroredDemo | undefined;
  const dirs: string[] = [];
  const services = new Map<string, { proc: Spawned; http: number }>();
  const dataDirs = new Map<string, string>();
  const consumers: Consumer[] = [];

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
  const startCdc = async (id: string, mode: 'initial' | 'when_needed', env: Record<string, string> = {}): Promise<void> => {
    const http = await freePort();
    // A restarted service keeps its data directory.
    const dir = dataDirs.get(id) ?? mkdtempSync(path.join(os.tmpdir(), `weft-cdcgap-${id}-`));
    dataDirs.set(id, dir);
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
      ...env,
    });
    services.set(id, { proc, http });
    try {
      await waitForHttp(`http://127.0.0.1:${http}/health`, 60_000);
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${proc.stderr().slice(-2000)}`, { cause: e });
    }
  };
  const stopCdc = async (id: string, signal: NodeJS.Signals): Promise<void> => {
    const s = services.get(id);
    s?.proc.child.kill(signal);
    await s?.proc.exited;
    services.delete(id);
  };
  /** Every shard's feed of `id` that `held` selects waiting at `failpoint`, the others with a snapshot staged. */
  const atFailpoint = async (id: string, failpoint: string, held: (shard: number) => boolean = () => true): Promise<FeedStatus[]> => {
    let last: FeedStatus[] = [];
    try {
      return await until(`CDC ${id} at failpoint ${failpoint}`, async () => {
        const s = (last = await status(id));
        for (const f of s) if (f.error !== undefined) throw new Error(`shard ${f.shardId}: ${f.error}`);
        const ready = (f: FeedStatus): boolean => (held(f.shardId) ? f.failpoint === failpoint : f.stagedIndex !== undefined);
        return s.length === demo().shards.length && s.every(ready) ? s : undefined;
      }, 180_000);
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\nstatus: ${JSON.stringify(last)}\nstderr: ${services.get(id)?.proc.stderr().slice(-3000)}`, { cause: e });
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
    for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
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
    const CHUNKS = { WEFT_CDC_SNAPSHOT_CHUNK_EVENTS: '100' };
    await startCdc('crash', 'when_needed', CHUNKS);
    // Streaming changes before the outage (after each service's initial snapshot).
    await caughtUpCdc('need');
    await caughtUpCdc('init');
    await caughtUpCdc('crash');
    await c.query("UPDATE gap SET v = 'before-gap' WHERE id <= 10");

    // Kafka away: first the changes the gap will swallow (deletes of 1..40, updates of 41..60,
    // one at a time so they are spread over both shards' logs), then enough inserts that every
    // shard's backlog overflows and its log is compacted past them.
    await caughtUpCdc('need');
    await caughtUpCdc('crash');
    // The crash service comes back after the outage, held at the failpoints (a clean stop
    // publishes everything it applied).
    await stopCdc('crash', 'SIGTERM');
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

    // The crash service: SIGKILL with the re-snapshot staged and uncommitted on every shard.
    await startCdc('crash', 'when_needed', { ...CHUNKS, WEFT_CDC_FAILPOINT: 'snapshot-staged' });
    await atFailpoint('crash', 'snapshot-staged');
    await stopCdc('crash', 'SIGKILL');
    // The log topics lose everything before their gap records: the old fallback (rebuild the
    // replica from the topic's start) cannot work any more.
    await truncateBeforeGaps();
    // Restarted: the staged snapshots are discarded (nothing of them committed), the replaced
    // states stream on, meet the gaps and re-snapshot; SIGKILL once the system shard's first
    // chunk has committed (the other shards' snapshots are staged and wait for the catalog of
    // their timestamp, which the system shard's switch brings).
    await startCdc('crash', 'when_needed', { ...CHUNKS, WEFT_CDC_FAILPOINT: 'snapshot-chunk' });
    const chunked = await atFailpoint('crash', 'snapshot-chunk', (shard) => shard === 1);
    for (const f of chunked) expect([f.shardId, f.stagedSettled?.how]).toEqual([f.shardId, 'discarded']);
    expect(chunked.find((f) => f.shardId === 1)?.stagedDone).toBe(100);
    await stopCdc('crash', 'SIGKILL');
    // Restarted: the system shard resumes its snapshot after the 100 committed events; SIGKILL
    // once its last chunk has committed and before its replica is switched.
    await startCdc('crash', 'when_needed', { ...CHUNKS, WEFT_CDC_FAILPOINT: 'snapshot-committed' });
    const committed = await atFailpoint('crash', 'snapshot-committed', (shard) => shard === 1);
    for (const f of committed) expect([f.shardId, f.stagedSettled?.how]).toEqual([f.shardId, f.shardId === 1 ? 'resumed' : 'discarded']);
    await stopCdc('crash', 'SIGKILL');
    // Restarted without a failpoint: the system shard's committed snapshot is made live, the
    // others' uncommitted ones are discarded and taken again; the streams go on.
    await startCdc('crash', 'when_needed', CHUNKS);
    const settled = await until('CDC crash settled its staged snapshots', async () => {
      const s = await status('crash');
      for (const f of s) if (f.error !== undefined) throw new Error(`shard ${f.shardId}: ${f.error}`);
      const done = (f: FeedStatus): boolean => (f.shardId === 1 ? f.stagedSettled?.how === 'completed' && f.state !== 'starting' : f.stagedSettled?.how === 'discarded' && f.snapshots === 1 && f.state !== 'snapshotting');
      return s.length === demo().shards.length && s.every(done) ? s : undefined;
    }, 180_000);
    for (const f of settled) expect([f.shardId, f.snapshots]).toEqual([f.shardId, f.shardId === 1 ? 0 : 1]);
    console.log(`crash service settled: ${JSON.stringify(settled.map((f) => [f.shardId, f.stagedSettled, f.snapshot?.index]))}`);
    for (let id = 61; id <= 70; id++) await c.query("UPDATE gap SET v = 'after-gap' WHERE id = $1", [id]);
    await c.query('DELETE FROM gap WHERE id > 100100 AND id <= 100110');
    await c.query('INSERT INTO gap VALUES (300, $1)', ['after-gap']);
    const final = await caughtUpCdc('need');
    for (const f of final) expect(f.undecodable).toBe(0);
    const finalCrash = await caughtUpCdc('crash');
    for (const f of finalCrash) expect(f.undecodable).toBe(0);
    // Published entries' outcomes are pruned from the CDC replicas (decision 0041).
    expect(final.reduce((n, f) => n + f.outcomesPruned, 0)).toBeGreaterThan(0);
    const table = new Map((await c.query<Row>('SELECT id, v FROM gap')).rows.map((r) => [r.id, r.v]));
    await c.end();

    await checkConsumer('need', new Map(resnapped.map((f) => [f.shardId, f.snapshot?.index ?? 0])), table);
    await checkConsumer('crash', new Map(settled.map((f) => [f.shardId, (f.shardId === 1 ? f.stagedSettled?.index : f.snapshot?.index) ?? 0])), table);
    const deletes = resnapped.reduce((n, f) => n + (f.snapshot?.deletes ?? 0), 0);
    expect(deletes).toBe(40);
  });

  /** Deletes every log topic's records before its (first) gap record. */
  const truncateBeforeGaps = async (): Promise<void> => {
    const kafka = new Kafka({ clientId: 'weft-cdcgap-trunc', brokers: [brokers()], logLevel: logLevel.WARN });
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const shard of demo().shards) {
        const topic = `${prefix}.log.${shard}`;
        const reader = kafka.consumer({ groupId: `cdcgap-trunc-${Math.random().toString(36).slice(2)}` });
        consumers.push(reader);
        let gapAt: string | undefined;
        await reader.connect();
        await reader.subscribe({ topics: [topic], fromBeginning: true });
        await reader.run({ eachMessage: async ({ message }) => void (gapAt ??= String(message.headers?.['weft.outcome']) === 'gap' ? message.offset : undefined) });
        const offset = await until(`the gap record of ${topic}`, () => gapAt, 60_000);
        await reader.disconnect();
        // (deleteTopicRecords needs the topic's metadata in the admin client.)
        await admin.fetchTopicMetadata({ topics: [topic] });
        await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset }] });
        const low = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)?.low;
        expect([topic, low]).toEqual([topic, offset]);
      }
    } finally {
      await admin.disconnect();
    }
  };

  /** Reads `id`'s change topic and checks the replay against `table` (gapIndex: each shard's re-snapshot index). */
  const checkConsumer = async (id: string, gapIndex: ReadonlyMap<number, number>, table: ReadonlyMap<number, string>): Promise<void> => {

    // The change topic from the beginning, read_committed.
    const consumer = new Kafka({ clientId: 'weft-cdcgap-reader', brokers: [brokers()], logLevel: logLevel.WARN }).consumer({ groupId: `cdcgap-test-${Math.random().toString(36).slice(2)}` });
    consumers.push(consumer);
    const got = await readTopicToEnd<{ id: number }, Change>(consumer, changeTopic(id));

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
    expect([id, problems.slice(0, 10)]).toEqual([id, []]);
    expect(new Map([...state].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...table].sort((a, b) => a[0] - b[0])));

    // The rows deleted inside the gap: one `d` each, from the re-snapshot (marked as snapshot
    // events), with the image the consumer held; never a `c`/`u` for what the gap hid.
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
    // Every live row at the re-snapshot once, as `r` from it (a re-snapshot published twice would repeat them).
    const resnapReads = new Map<number, number>();
    for (const m of got) if (fromResnapshot(m.value) && m.value.op === 'r') resnapReads.set(m.key.id, (resnapReads.get(m.key.id) ?? 0) + 1);
    expect([id, [...resnapReads].filter(([, n]) => n !== 1)]).toEqual([id, []]);
    // After the gap: ordinary change events again.
    expect(got.filter((m) => m.key.id === 300).map((m) => m.value.op)).toEqual(['c']);
    expect(got.filter((m) => m.key.id === 61).map((m) => m.value.op).slice(-1)).toEqual(['u']);
    const ops = got.reduce<Record<string, number>>((m, x) => ({ ...m, [x.value.op]: (m[x.value.op] ?? 0) + 1 }), {});
    console.log(`${id} events: ${JSON.stringify(ops)}; rows at the end: ${table.size}`);
  };
});
