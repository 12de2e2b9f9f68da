import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { caughtUp, mirrorStats } from './support/kafka-log';
import { Writer, connect, materializerMatchesReplicas, materializerStatus, startMirroredDemo, uniquePrefix, until, type FeedView, type MirroredDemo } from './support/mirrored-demo';
import { freePort } from './support/ports';
import { ROOT, spawnNode, waitForHttp, type Spawned } from './support/process';

// Materializer bootstrap from snapshot + offset (issue 11, decision 0036) on the real cluster
// (`weft demo --kafka`) and a real broker of its own (stopped and restarted to make a gap): a
// materializer started from a node's shard snapshot reaches the replicas' state hash, as one
// rebuilt from offset 0 does; and a shard stopped at a gap record gets past it by a snapshot.
jest.setTimeout(300_000);

const exec = promisify(execFile);

interface RunningMaterializer {
  readonly http: number;
  readonly proc: Spawned;
  stop(): Promise<void>;
}

describe('materializer bootstrap from snapshot + offset (dedicated broker)', () => {
  const prefix = uniquePrefix('s');
  const MAX_BACKLOG = 150;
  let brokerPort = 0;
  let controllerPort = 0;
  let d: MirroredDemo | undefined;
  const dirs: string[] = [];
  const running = new Set<RunningMaterializer>();
  let fromSnapshot: RunningMaterializer | undefined;
  let fromLog: RunningMaterializer | undefined;
  let logDir = '';

  const broker = async (cmd: 'start' | 'stop'): Promise<void> => {
    await exec('bash', [path.join(ROOT, 'tools/kafka/kafka.sh'), cmd], {
      env: { ...process.env, KAFKA_PORT: String(brokerPort), KAFKA_CONTROLLER_PORT: String(controllerPort), KAFKA_HEAP: '384m' },
      timeout: 180_000,
    });
  };

  const demo = (): MirroredDemo => d as MirroredDemo;

  /** A materializer process of its own (id names its consumer group), on `dir`. */
  const startMaterializer = async (id: string, dir: string, env: Record<string, string>): Promise<RunningMaterializer> => {
    const http = await freePort();
    const proc = spawnNode('dist/apps/materializer/src/main.js', {
      WEFT_HTTP_PORT: String(http),
      WEFT_METRICS_PORT: String(await freePort()),
      WEFT_KAFKA_BROKERS: `127.0.0.1:${brokerPort}`,
      WEFT_KAFKA_TOPIC_PREFIX: prefix,
      WEFT_DATA_DIR: dir,
      WEFT_SHARD_COUNT: String(demo().shards.length),
      WEFT_MATERIALIZER_ID: id,
      WEFT_LOG_LEVEL: 'warn',
      ...env,
    });
    const m: RunningMaterializer = {
      http,
      proc,
      async stop() {
        running.delete(m);
        proc.child.kill('SIGTERM');
        await proc.exited;
      },
    };
    running.add(m);
    const exited = proc.exited.then((code) => Promise.reject(new Error(`materializer ${id} exited (${code})`)));
    try {
      await Promise.race([waitForHttp(`http://127.0.0.1:${http}/health`, 60_000), exited]);
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${proc.stderr().slice(-2000)}\n${proc.stdout().slice(-3000)}`, { cause: e });
    }
    exited.catch(() => undefined);
    return m;
  };
  const snapshotEnv = (): Record<string, string> => ({
    WEFT_MATERIALIZER_BOOTSTRAP: 'snapshot',
    // Every node: the first one that answers serves (any replica's state is a committed prefix).
    WEFT_MATERIALIZER_SNAPSHOT_FROM: demo().http.map((p) => `127.0.0.1:${p}`).join(','),
  });
  const tmp = (tag: string): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `weft-matsnap-${tag}-`));
    dirs.push(dir);
    return dir;
  };
  const feeds = async (m: RunningMaterializer): Promise<FeedView[]> => materializerStatus(m.http);
  /** Once no writes run: both at the same index of every shard (both caught up), and their feeds there. */
  const atSameIndex = async (a: RunningMaterializer, b: RunningMaterializer): Promise<{ a: FeedView[]; b: FeedView[] }> =>
    until('both materializers at the same index of every shard', async () => {
      const [fa, fb] = await Promise.all([feeds(a), feeds(b)]);
      const same = fa.length === fb.length && fa.every((x, i) => x.appliedIndex === fb[i].appliedIndex && x.state === 'caught-up' && fb[i].state === 'caught-up');
      return same ? { a: fa, b: fb } : undefined;
    }, 90_000);

  /**
   * Once every shard of `m` has finished a snapshot start whose reason matches `reason` (the
   * state is installed before the start offset is looked up, so wait for both).
   */
  const snapshotStarted = async (m: RunningMaterializer, reason: RegExp): Promise<FeedView[]> => {
    const errors = new Set<string>();
    const got = await until(`every shard started from a snapshot (${reason.source})`, async () => {
      const f = await feeds(m);
      for (const x of f) if (x.bootstrapError !== undefined) errors.add(x.bootstrapError);
      return f.length === demo().shards.length && f.every((x) => x.snapshotStart !== undefined && reason.test(x.snapshotStart.reason) && x.state !== 'bootstrapping') ? f : undefined;
    }, 120_000);
    // Transient failures while fetching or looking up the offset are retried; show them.
    if (errors.size > 0) console.log(`bootstrap retries: ${[...errors].join(' | ')}`);
    console.log(`snapshot starts: ${JSON.stringify(got.map((x) => x.snapshotStart))}`);
    return got;
  };

  beforeAll(async () => {
    brokerPort = await freePort();
    controllerPort = await freePort();
    await broker('start');
    // Two shards; a small mirror backlog and frequent Raft snapshots, so a Kafka outage of a few
    // hundred writes compacts the log past what was mirrored (a gap record).
    d = await startMirroredDemo(`127.0.0.1:${brokerPort}`, prefix, {
      shards: 2,
      env: { WEFT_MIRROR_MAX_BACKLOG: String(MAX_BACKLOG), WEFT_SNAPSHOT_ENTRIES: '50', WEFT_SNAPSHOT_MARGIN: '5' },
    });
  });
  afterAll(async () => {
    for (const m of [...running]) await m.stop().catch(() => undefined);
    await d?.stop();
    if (brokerPort) {
      await broker('stop').catch(() => undefined);
      rmSync(path.join(ROOT, '.cache', 'kafka', String(brokerPort)), { recursive: true, force: true });
    }
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('a materializer started from a snapshot + offset while a writer runs reaches the replicas\' state hash, as one rebuilt from offset 0', async () => {
    const c = await connect(demo().pgPort);
    await c.query('CREATE TABLE snap (id int PRIMARY KEY, v text)');
    await c.end();
    const writer = new Writer(demo().pgPort, 'snap', 1);
    try {
      // Long enough that the snapshot's timestamps are past the start-offset margin (5 s): the
      // snapshot-started materializer then really starts in the middle of the topic.
      const began = Date.now();
      await until('writes for 8 s', () => (writer.acked.length >= 100 && Date.now() - began > 8000 ? true : undefined), 90_000);
      fromSnapshot = await startMaterializer('snap', tmp('snap'), snapshotEnv());
      logDir = tmp('log');
      fromLog = await startMaterializer('log', logDir, {});
      await snapshotStarted(fromSnapshot, /^empty store$/);
      const acked = writer.acked.length;
      await until('more writes after the snapshot start', () => (writer.acked.length >= acked + 60 ? true : undefined), 90_000);
    } finally {
      await writer.stop();
    }
    expect(writer.acked.length).toBeGreaterThan(160);

    const snap = fromSnapshot;
    const log = fromLog;
    await materializerMatchesReplicas(snap.http, demo());
    await materializerMatchesReplicas(log.http, demo());
    // The writer stopped: both end at the same index of every shard, with the same hash.
    const atEnd = await atSameIndex(snap, log);
    for (const [i, s] of atEnd.a.entries()) {
      const r = atEnd.b[i];
      expect([s.shardId, s.stateHash]).toEqual([r.shardId, r.stateHash]);
      expect(s).toMatchObject({ snapshotsInstalled: 1, outcomeMismatches: 0 });
      expect(r).toMatchObject({ snapshotsInstalled: 0, outcomeMismatches: 0 });
      const start = s.snapshotStart as NonNullable<FeedView['snapshotStart']>;
      expect(start.reason).toBe('empty store');
      expect(start.index).toBeGreaterThan(0);
      expect(start.index).toBeLessThan(s.appliedIndex);
      // It read the topic from the middle, and applied only what followed its snapshot.
      expect(Number(start.startOffset)).toBeGreaterThan(0);
      expect(s.recordsApplied).toBe(s.appliedIndex - start.index);
      expect(r.recordsApplied).toBe(r.appliedIndex);
    }
    const shown = (await (await fetch(`http://127.0.0.1:${snap.http}/materializer`)).json()) as { bootstrap: { mode: string; sources: string[] } };
    expect(shown.bootstrap).toEqual({ mode: 'snapshot', sources: demo().http.map((p) => `127.0.0.1:${p}`) });
  });

  it('a gap record stops a shard fed from offset 0; a snapshot start gets past it, live and after a restart', async () => {
    const dm = demo();
    const snap = fromSnapshot as RunningMaterializer;
    await broker('stop');
    const c = await connect(dm.pgPort);
    try {
      // Writes keep committing with Kafka away; past MAX_BACKLOG the log is compacted anyway.
      for (let id = 100_000; id < 100_000 + 3 * MAX_BACKLOG + 100; id++) await c.query('INSERT INTO snap VALUES ($1, $2)', [id, `gap ${id}`]);
    } finally {
      await c.end();
    }
    await until('the backlog overflowing for every shard on every node', async () => {
      const views = await Promise.all(dm.http.map((p) => mirrorStats(p)));
      return views.every((v) => v.shards?.length === dm.shards.length && v.shards.every((s) => s.overflowed)) ? true : undefined;
    }, 90_000);
    await broker('start');
    await until('every shard mirrored up to its applied index', () => caughtUp(dm.http, dm.shards), 120_000);

    // Fed from offset 0 without a snapshot source: every shard stops at its gap and says so.
    const log = fromLog as RunningMaterializer;
    const stopped = await until('the offset-0 materializer to stop at the gaps', async () => {
      const f = await feeds(log);
      return f.every((x) => x.state === 'stopped') ? f : undefined;
    }, 90_000);
    for (const f of stopped) expect(f.error).toMatch(/gap.*rebuild this shard from a snapshot \(WEFT_MATERIALIZER_BOOTSTRAP=snapshot\)/);

    // The snapshot-started one installed a snapshot past each gap while running.
    const past = await snapshotStarted(snap, /gap/);
    for (const f of past) {
      expect(f.snapshotsInstalled).toBe(2);
      expect(f.snapshotStart?.reason).toMatch(/^the log has a gap \(indexes \d+\.\.\d+ were never published\)$/);
      expect(f.outcomeMismatches).toBe(0);
    }
    await materializerMatchesReplicas(snap.http, dm);

    // The stopped one, restarted on the same data directory with a snapshot source, recovers.
    await log.stop();
    fromLog = await startMaterializer('log', logDir, snapshotEnv());
    const restarted = await snapshotStarted(fromLog, /gap/);
    await materializerMatchesReplicas(fromLog.http, dm);
    for (const f of restarted) {
      expect(f.snapshotsInstalled).toBe(1);
      expect(f.snapshotStart?.reason).toMatch(/gap/);
      expect(f.error).toBeUndefined();
    }
    // Both agree with each other at one index of every shard.
    const { a, b } = await atSameIndex(snap, fromLog);
    expect(a.map((x) => [x.shardId, x.stateHash])).toEqual(b.map((x) => [x.shardId, x.stateHash]));
  });
});
