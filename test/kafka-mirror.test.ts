import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { RemoteShardKv } from '@weft/kvrpc';
import { TEST_KAFKA_BROKER, testKafka } from './support/kafka';
import { caughtUp, compareWithReplicas, indexProblems, mirrorStats, readLogs } from './support/kafka-log';
import { NODES, Writer, connect, materializerMatchesReplicas, materializerStatus, sleep, startMirroredDemo, uniquePrefix, until, type MirroredDemo } from './support/mirrored-demo';
import { freePort } from './support/ports';
import { ROOT, spawnNode, waitForHttp } from './support/process';

// The Kafka mirror (issue 11, libs/mirror) on the real cluster (`weft demo --kafka`) and a real
// broker: the leader of each shard publishes its committed entries to <prefix>.log.<shard>;
// a plain kafkajs consumer reads them back and replays them with the replicas' materializer.
jest.setTimeout(300_000);

const exec = promisify(execFile);

/** Waits for the mirror to catch up, reads every log topic back and checks it against the replicas. */
async function verifyTopics(kafka: Kafka, prefix: string, d: MirroredDemo): Promise<Map<number, number>> {
  const targets = await until('every shard mirrored up to its applied index', () => caughtUp(d.http, d.shards), 90_000);
  const logs = await readLogs(kafka, prefix, targets);
  for (const [shard, recs] of logs) {
    expect([shard, indexProblems(recs)]).toEqual([shard, []]);
    // Exactly once: one record per index, 1..last.
    const last = recs.at(-1)?.index ?? 0;
    expect([shard, recs.length]).toEqual([shard, last]);
    expect(recs.every((r) => r.shardId === shard)).toBe(true);
  }
  await compareWithReplicas(kafka, prefix, d.shards, d.kv);
  return targets;
}

describe('Kafka mirror of every shard log (weft demo --kafka, shared broker)', () => {
  const kafka = testKafka('weft-mirror-test');
  const prefix = uniquePrefix('m');
  let d: MirroredDemo;

  beforeAll(async () => {
    d = await startMirroredDemo(TEST_KAFKA_BROKER, prefix);
  });
  afterAll(async () => {
    await d?.stop();
  });

  it('publishes every committed entry of every shard exactly once, in index order, with the replicas\' outcomes', async () => {
    const c = await connect(d.pgPort);
    try {
      await c.query('CREATE TABLE acct (id int PRIMARY KEY, owner text, balance int)');
      for (let i = 1; i <= 40; i++) await c.query('INSERT INTO acct VALUES ($1, $2, $3)', [i, `o${i}`, 100]);
      await c.query('UPDATE acct SET balance = balance + 1 WHERE id <= 10');
      await c.query('DELETE FROM acct WHERE id > 35');
      // A multi-shard transaction (2PC), and one rolled back.
      await c.query('BEGIN');
      await c.query('INSERT INTO acct SELECT g, $1, 0 FROM generate_series(100, 140) g', ['batch']);
      await c.query('COMMIT');
      await c.query('BEGIN');
      await c.query('INSERT INTO acct VALUES (999, $1, 0)', ['rolled back']);
      await c.query('ROLLBACK');
      await expect(c.query('INSERT INTO acct VALUES (1, $1, 0)', ['dup'])).rejects.toMatchObject({ code: '23505' });
    } finally {
      await c.end();
    }
    const targets = await verifyTopics(kafka, prefix, d);
    for (const [, last] of targets) expect(last).toBeGreaterThan(1);

    // verifyTopics replayed every record and checked its outcome header against its own apply;
    // here: the kinds the SQL above must have produced are all there.
    const logs = await readLogs(kafka, prefix, targets);
    const outcomes = [...logs.values()].flat().map((r) => r.outcome);
    const count = (st: string): number => outcomes.filter((o) => o.status === st).length;
    // 40 inserts, 1 update and 1 delete (1PC each, possibly several shards), the 2PC commit's resolves.
    expect(count('committed')).toBeGreaterThanOrEqual(42);
    // The 2PC prepares (intents laid: 'applied' with their ts) and each leader's first no-op.
    expect(count('applied')).toBeGreaterThanOrEqual(2);
    expect(count('empty')).toBeGreaterThanOrEqual(d.shards.length);
    expect(count('unknown')).toBe(0);
    // The rolled-back row was never proposed: no entry of any shard writes it.
    const written = (text: string): boolean => [...logs.values()].flat().some((r) => r.data.includes(Buffer.from(text)));
    expect(written('batch')).toBe(true);
    expect(written('rolled back')).toBe(false);
    // Weft created its topics itself (the test broker has auto-create off).
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topics = await admin.listTopics();
      for (const s of d.shards) expect(topics).toContain(`${prefix}.log.${s}`);
    } finally {
      await admin.disconnect();
    }
  });

  it('the demo\'s materializer applies the topics to the replicas\' state hash; one rebuilt from offset 0 too', async () => {
    await materializerMatchesReplicas(d.materializerHttp, d);
    const feeds = await materializerStatus(d.materializerHttp);
    expect(feeds.map((f) => f.shardId)).toEqual(d.shards);
    for (const f of feeds) expect(f).toMatchObject({ state: 'caught-up', lagEntries: 0, lagMs: 0 });

    // A second materializer with an empty data directory rebuilds every shard from offset 0.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'weft-rebuild-'));
    const http = await freePort();
    const proc = spawnNode('dist/apps/materializer/src/main.js', {
      WEFT_HTTP_PORT: String(http),
      WEFT_METRICS_PORT: String(await freePort()),
      WEFT_KAFKA_BROKERS: TEST_KAFKA_BROKER,
      WEFT_KAFKA_TOPIC_PREFIX: prefix,
      WEFT_DATA_DIR: dir,
      WEFT_SHARD_COUNT: String(d.shards.length),
      WEFT_MATERIALIZER_ID: 'rebuild',
      WEFT_LOG_LEVEL: 'warn',
    });
    try {
      await waitForHttp(`http://127.0.0.1:${http}/health`);
      await materializerMatchesReplicas(http, d);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the materializer serves reads at or below its closed timestamp: the replicas\' answers at the same timestamps', async () => {
    const c = await connect(d.pgPort);
    try {
      await c.query('CREATE TABLE staleness (id int PRIMARY KEY, v int NOT NULL)');
      await c.query('INSERT INTO staleness SELECT g, 0 FROM generate_series(1, 20) g');
      for (let round = 1; round <= 6; round++) {
        await c.query('UPDATE staleness SET v = $1 WHERE id % 3 = $2', [round, round % 3]);
        await c.query('DELETE FROM staleness WHERE id = $1', [round]);
      }
    } finally {
      await c.end();
    }
    await materializerMatchesReplicas(d.materializerHttp, d);
    const everything = { start: Buffer.from([0]), end: Buffer.alloc(16, 0xff) };
    /** Every row of the shard at ts (key, value, version ts), as `kv` answers. */
    const rowsAt = async (kv: RemoteShardKv, ts: bigint, follower: boolean): Promise<string[]> => {
      const out: string[] = [];
      let start: Buffer = everything.start;
      for (;;) {
        const page = await kv.scan(start, everything.end, ts, { limit: 500, follower });
        for (const r of page.rows) {
          // Never a version newer than the read.
          expect(r.ts <= ts).toBe(true);
          out.push(`${r.key.toString('hex')}=${r.value.toString('hex')}@${r.ts}`);
        }
        if (page.resumeKey === undefined) return out;
        start = page.resumeKey;
      }
    };
    let compared = 0;
    for (const shard of d.shards) {
      const replicas = new RemoteShardKv({ shardId: shard, replicas: d.kv.map((k) => ({ nodeId: k.nodeId, host: '127.0.0.1', port: k.port })), requestTimeoutMs: 3000 });
      const served = new RemoteShardKv({ shardId: shard, replicas: [{ nodeId: 0, host: '127.0.0.1', port: d.materializerKv }], requestTimeoutMs: 3000, deadlineMs: 3000 });
      try {
        const closed = (await served.replicaStatus(0)).closedTs;
        // Every version timestamp the shard holds up to the closed timestamp, and just below each.
        const versions = [...new Set((await rowsAt(replicas, closed, false)).map((r) => BigInt(r.split('@')[1])))];
        const probes = [...new Set([closed, ...versions.flatMap((t) => [t, t - 1n])])].filter((t) => t > 0n && t <= closed).slice(0, 40);
        for (const ts of probes) {
          expect(await rowsAt(served, ts, true)).toEqual(await rowsAt(replicas, ts, false));
          compared++;
        }
        // Above the closed timestamp, and for anything but reads, it answers not-leader: a
        // client whose only replica it is gives up after its deadline; one that also lists the
        // Raft replicas goes to them.
        await expect(served.get(everything.start, closed + 10_000_000n, { follower: true })).rejects.toMatchObject({ code: 'unavailable' });
        await expect(served.now()).rejects.toMatchObject({ code: 'unavailable' });
        const both = new RemoteShardKv({ shardId: shard, replicas: [{ nodeId: 0, host: '127.0.0.1', port: d.materializerKv }, ...d.kv.map((k) => ({ nodeId: k.nodeId, host: '127.0.0.1', port: k.port }))], requestTimeoutMs: 3000 });
        try {
          const now = await both.now();
          expect(await rowsAt(both, now, false)).toEqual(await rowsAt(replicas, now, false));
        } finally {
          both.close();
        }
      } finally {
        replicas.close();
        served.close();
      }
    }
    expect(compared).toBeGreaterThan(d.shards.length);
  });

  it('the gateway sends AS OF SYSTEM TIME reads to the materializer first, and they see exactly what was committed by then', async () => {
    const c = await connect(d.pgPort);
    try {
      await c.query('CREATE TABLE stale_routed (id int PRIMARY KEY, v int NOT NULL)');
      await c.query('INSERT INTO stale_routed SELECT g, 1 FROM generate_series(1, 30) g');
      await sleep(2500);
      const between = new Date().toISOString();
      await sleep(2500);
      await c.query('UPDATE stale_routed SET v = 2');
      await c.query('INSERT INTO stale_routed VALUES (31, 100)');
      const servedBefore = (await materializerStatus(d.materializerHttp)).reduce((n, f) => n + (f.readsServed ?? 0), 0);
      // Once the materializer's closed timestamps pass `between`, the read is served there.
      const past = await until<{ n: number; total: number }>('a stale read served', async () => {
        const r = await c.query<{ n: number; total: number }>(`SELECT count(*)::int AS n, sum(v)::int AS total FROM stale_routed AS OF SYSTEM TIME '${between}'`);
        const served = (await materializerStatus(d.materializerHttp)).reduce((n, f) => n + (f.readsServed ?? 0), 0);
        return served > servedBefore ? r.rows[0] : undefined;
      }, 60_000);
      expect(past).toEqual({ n: 30, total: 30 });
      expect((await c.query('SELECT count(*)::int AS n, sum(v)::int AS total FROM stale_routed')).rows[0]).toEqual({ n: 31, total: 160 });
      // A stale read newer than what the materializer has closed still answers (from the Raft replicas).
      const recent = await c.query("SELECT count(*)::int AS n FROM stale_routed AS OF SYSTEM TIME '-1ms'");
      expect(recent.rows[0]).toEqual({ n: 31 });
    } finally {
      await c.end();
    }
  });

  it('kill -9 of a shard leader while a writer runs: no gap and no duplicate index in any log topic', async () => {
    const c = await connect(d.pgPort);
    await c.query('CREATE TABLE kills (id int PRIMARY KEY, v text)');
    await c.end();
    const writer = new Writer(d.pgPort, 'kills', 1);
    try {
      await until('some writes before the kill', () => (writer.acked.length >= 30 ? true : undefined));
      // The node leading (and mirroring) shard 1.
      const mirroringShard1 = async (): Promise<{ node: number; term: number } | undefined> => {
        for (const [i, port] of d.http.entries()) {
          const s = (await mirrorStats(port).catch(() => undefined))?.shards?.find((x) => x.shardId === 1);
          if (s?.state === 'mirroring' && s.term !== undefined) return { node: NODES[i], term: s.term };
        }
        return undefined;
      };
      const { node: leader, term } = await until('a node mirroring shard 1', mirroringShard1);
      const pid = d.demo.state()?.services.find((s) => s.name === `node-${leader}`)?.pid;
      expect(pid).toBeGreaterThan(0);
      process.kill(pid as number, 'SIGKILL');
      const before = writer.acked.length;
      // Another node takes over shard 1 and its mirror, in a later term.
      const next = await until('a new leader mirroring shard 1', async () => {
        const m = await mirroringShard1();
        return m !== undefined && m.node !== leader ? m : undefined;
      });
      expect(next.term).toBeGreaterThan(term);
      await until('writes after the kill', () => (writer.acked.length >= before + 50 ? true : undefined), 90_000);
      // The demo restarts the killed node; it must come back as a follower or leader.
      await until(`node-${leader} back`, async () => ((await mirrorStats(d.http[leader - 1]).catch(() => undefined)) ? true : undefined), 60_000);
    } finally {
      await writer.stop();
    }
    await verifyTopics(kafka, prefix, d);
    await materializerMatchesReplicas(d.materializerHttp, d);
  });
});

describe('Kafka mirror while Kafka is away (dedicated broker, stopped and restarted)', () => {
  const prefix = uniquePrefix('o');
  const MAX_BACKLOG = 400;
  let brokerPort = 0;
  let controllerPort = 0;
  let kafka: Kafka;
  let d: MirroredDemo | undefined;

  const broker = async (cmd: 'start' | 'stop'): Promise<void> => {
    await exec('bash', [path.join(ROOT, 'tools/kafka/kafka.sh'), cmd], {
      env: { ...process.env, KAFKA_PORT: String(brokerPort), KAFKA_CONTROLLER_PORT: String(controllerPort), KAFKA_HEAP: '384m' },
      timeout: 180_000,
    });
  };

  beforeAll(async () => {
    brokerPort = await freePort();
    controllerPort = await freePort();
    await broker('start');
    kafka = new Kafka({ clientId: 'weft-mirror-outage-test', brokers: [`127.0.0.1:${brokerPort}`], logLevel: logLevel.NOTHING });
    // One shard keeps the entry counting simple; small snapshots so the log really is compacted.
    d = await startMirroredDemo(`127.0.0.1:${brokerPort}`, prefix, {
      shards: 1,
      env: { WEFT_MIRROR_MAX_BACKLOG: String(MAX_BACKLOG), WEFT_SNAPSHOT_ENTRIES: '50', WEFT_SNAPSHOT_MARGIN: '5' },
    });
  });
  afterAll(async () => {
    await d?.stop();
    if (brokerPort) {
      await broker('stop').catch(() => undefined);
      rmSync(path.join(ROOT, '.cache', 'kafka', String(brokerPort)), { recursive: true, force: true });
    }
  });

  /** n single-row inserts, each must commit within 5 s; returns their latencies (ms). */
  const write = async (table: string, from: number, n: number): Promise<number[]> => {
    const c = await connect((d as MirroredDemo).pgPort);
    const ms: number[] = [];
    try {
      for (let id = from; id < from + n; id++) {
        const t = Date.now();
        await Promise.race([
          c.query(`INSERT INTO ${table} VALUES ($1, $2)`, [id, `r${id}`]),
          sleep(5000).then(() => Promise.reject(new Error(`insert ${id} did not commit within 5 s`))),
        ]);
        ms.push(Date.now() - t);
      }
    } finally {
      await c.end();
    }
    return ms;
  };
  const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const leaderView = async () =>
    until('the mirroring node of shard 1', async () => {
      for (const port of (d as MirroredDemo).http) {
        const s = (await mirrorStats(port)).shards?.find((x) => x.shardId === 1);
        if (s?.state === 'mirroring') return s;
      }
      return undefined;
    });

  it('keeps committing writes while Kafka is down, then catches up without gap or duplicate', async () => {
    const dm = d as MirroredDemo;
    const c = await connect(dm.pgPort);
    await c.query('CREATE TABLE outage (id int PRIMARY KEY, v text)');
    await c.end();
    const up = await write('outage', 1, 40);
    await verifyTopics(kafka, prefix, dm);

    await broker('stop');
    const down = await write('outage', 1000, 150);
    console.log(`insert latency p50 with Kafka up ${p50(up)} ms, with Kafka down ${p50(down)} ms`);
    const stats = await until('a backlog of at least 150 entries on every node', async () => {
      const views = await Promise.all(dm.http.map((p) => mirrorStats(p)));
      const rows = views.map((v) => v.shards?.[0]);
      return rows.every((r) => r !== undefined && r.backlogEntries >= 150 && !r.overflowed) ? rows : undefined;
    });
    await sleep(300);
    expect((await mirrorStats(dm.http[0])).shards?.[0].backlogAgeMs).toBeGreaterThan(300);
    expect(stats.length).toBe(3);

    await broker('start');
    await verifyTopics(kafka, prefix, dm);
    // The backlog drained on every node (a closed-timestamp entry or two may be in flight).
    await until('the backlog drained on every node', async () => {
      const views = await Promise.all(dm.http.map((p) => mirrorStats(p)));
      return views.every((v) => (v.shards?.[0].backlogEntries ?? 99) <= 2) ? true : undefined;
    });
    for (const v of await Promise.all(dm.http.map((p) => mirrorStats(p)))) expect(v.shards?.[0]).toMatchObject({ gaps: 0, overflowed: false });
    await materializerMatchesReplicas(dm.materializerHttp, dm);
  });

  it(`past ${MAX_BACKLOG} unmirrored entries the log is compacted anyway and the topic gets one gap record, then continues`, async () => {
    const dm = d as MirroredDemo;
    await broker('stop');
    await write('outage', 5000, MAX_BACKLOG + 150);
    await until('the backlog overflowing on every node', async () => {
      const views = await Promise.all(dm.http.map((p) => mirrorStats(p)));
      return views.every((v) => v.shards?.[0].overflowed === true) ? true : undefined;
    });
    await broker('start');
    const targets = await until('shard 1 mirrored up to its applied index', () => caughtUp(dm.http, dm.shards), 90_000);
    const logs = await readLogs(kafka, prefix, targets);
    const recs = logs.get(1) ?? [];
    // No duplicate, no silent gap: the missing range is one explicit gap record.
    expect(indexProblems(recs)).toEqual([]);
    const gaps = recs.filter((r) => r.outcome.status === 'gap');
    expect(gaps).toHaveLength(1);
    const gap = gaps[0];
    expect(gap.outcome.status === 'gap' && gap.index >= gap.outcome.gapFrom).toBe(true);
    const idx = recs.map((r) => r.index);
    expect(new Set(idx).size).toBe(idx.length);
    // Entries after the gap are there, one each, up to the end.
    expect(recs.at(-1)?.index).toBe(targets.get(1));
    expect((await leaderView()).gaps).toBe(1);
    // The demo's materializer (WEFT_MATERIALIZER_BOOTSTRAP=snapshot) does not paper over it
    // either: it installs a node's snapshot past the gap, then reaches the replicas' state hash.
    const feed = await until('the materializer past the gap with a snapshot', async () => {
      const f = (await materializerStatus(dm.materializerHttp)).find((x) => x.shardId === 1);
      if (f?.state === 'stopped') throw new Error(`materializer stopped: ${f.error}`);
      return f?.snapshotStart !== undefined && /gap/.test(f.snapshotStart.reason) && f.state !== 'bootstrapping' ? f : undefined;
    }, 90_000);
    expect(feed.snapshotStart?.index).toBeGreaterThanOrEqual(gap.index);
    await materializerMatchesReplicas(dm.materializerHttp, dm);
    // Writes during all of this were never refused: every row is there.
    const c = await connect(dm.pgPort);
    try {
      const n = await c.query<{ n: string }>('SELECT count(*) AS n FROM outage');
      expect(Number(n.rows[0].n)).toBe(40 + 150 + MAX_BACKLOG + 150);
    } finally {
      await c.end();
    }
  });
});
