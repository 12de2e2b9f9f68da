import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Consumer } from 'kafkajs';
import { readTopicToEnd, TEST_KAFKA_BROKER, testKafka } from './support/kafka';
import { caughtUp } from './support/kafka-log';
import { connect, sleep, startMirroredDemo, uniquePrefix, until, type MirroredDemo } from './support/mirrored-demo';
import { freePort } from './support/ports';
import { spawnNode, waitForHttp, type Spawned } from './support/process';

// The CDC initial snapshot (issue 11, decision 0037) on the real cluster (`weft demo --kafka`)
// and a real broker: rows written and their history partly deleted from the log topics, then a
// fresh CDC service with WEFT_CDC_SNAPSHOT_MODE=initial starts while writes, updates and
// deletes run, is killed (SIGKILL) right after it starts — most likely mid-snapshot —, killed
// again (SIGKILL) while streaming at a moment its replica is ahead of the published changes (the
// restart republishes them from its key journal, decision 0039: the topics lost their history,
// so a rebuild from offset 0 is impossible), and stopped (SIGTERM) while streaming; its last
// run's consumers crash on their first batch in a way kafkajs does not restart from
// (WEFT_CDC_FAILPOINT=consumer-crash), and each feed takes its shard over again. A plain
// kafkajs consumer (read_committed) reads its change topic: every row that existed before
// arrives once as `r`, every later change once as c/u/d whose before-image is exactly what the
// consumer holds for the key, and replaying the events gives the table.
jest.setTimeout(300_000);

type Row = { id: number; v: string };
interface Change {
  before: Row | null;
  after: Row | null;
  op: 'r' | 'c' | 'u' | 'd';
  source: { shard: number; index: number; commit_ts: string; snapshot: string; txId: string };
  transaction: unknown;
}
interface FeedStatus {
  shardId: number;
  state: string;
  appliedIndex: number;
  publishedIndex: number;
  recoveries: number;
  recovery?: { from: number; to: number; how: string; transactions: number; changeEvents: number; ms: number };
  error?: string;
  undecodable: number;
  consumerRestarts: number;
  snapshots: number;
  snapshot?: { index: number; reason: string; startOffset: string; reads: number; ms: number; source: string };
}

describe('CDC initial snapshot (WEFT_CDC_SNAPSHOT_MODE=initial)', () => {
  const prefix = uniquePrefix('cs');
  // The demo runs its own CDC service (mode never) on `prefix`; this one publishes under its own prefix.
  const changePrefix = `${prefix}snap`;
  const topic = `${changePrefix}.cdc.weft.public.snap`;
  let d: MirroredDemo | undefined;
  let cdc: { proc: Spawned; http: number } | undefined;
  const tmpDirs: string[] = [];
  let consumer: Consumer | undefined;

  const demo = (): MirroredDemo => d as MirroredDemo;
  const status = async (): Promise<FeedStatus[]> => {
    const res = await fetch(`http://127.0.0.1:${cdc?.http ?? 0}/cdc`);
    return ((await res.json()) as { shards: FeedStatus[] }).shards;
  };
  const cdcDir = (): string => {
    if (tmpDirs.length === 0) tmpDirs.push(mkdtempSync(path.join(os.tmpdir(), 'weft-cdcsnap-')));
    return tmpDirs[0];
  };
  const startCdc = async (env: Record<string, string> = {}): Promise<void> => {
    const http = await freePort();
    const proc = spawnNode('dist/apps/cdc/src/main.js', {
      WEFT_HTTP_PORT: String(http),
      WEFT_METRICS_PORT: String(await freePort()),
      WEFT_KAFKA_BROKERS: TEST_KAFKA_BROKER,
      WEFT_KAFKA_TOPIC_PREFIX: prefix,
      WEFT_CDC_TOPIC_PREFIX: changePrefix,
      WEFT_DATA_DIR: cdcDir(),
      WEFT_SHARD_COUNT: String(demo().shards.length),
      WEFT_CDC_ID: 'snap',
      WEFT_CDC_SNAPSHOT_MODE: 'initial',
      WEFT_CDC_SNAPSHOT_FROM: demo().http.map((p) => `127.0.0.1:${p}`).join(','),
      WEFT_LOG_LEVEL: 'warn',
      ...env,
    });
    cdc = { proc, http };
    try {
      await waitForHttp(`http://127.0.0.1:${http}/health`, 60_000);
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${proc.stderr().slice(-2000)}`, { cause: e });
    }
  };
  // Each CDC process's log (warnings and errors), said when the test fails.
  const cdcLogs: string[] = [];
  const logOf = (p: Spawned): string => `${p.stdout()}${p.stderr()}`;
  const logTails = (): string => [...cdcLogs, cdc === undefined ? '' : logOf(cdc.proc)].map((l, i) => `--- cdc process ${i + 1}:\n${l.slice(-4000)}`).join('\n');
  const killCdc = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const c = cdc;
    if (c === undefined) return;
    c.proc.child.kill(signal);
    await c.proc.exited;
    cdcLogs.push(logOf(c.proc));
    cdc = undefined;
  };

  beforeAll(async () => {
    d = await startMirroredDemo(TEST_KAFKA_BROKER, prefix, { shards: 2 });
  });
  afterAll(async () => {
    await consumer?.disconnect().catch(() => undefined);
    await killCdc().catch(() => undefined);
    await d?.stop();
    for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('publishes every existing row once as r, then every later change once, from a log that no longer starts at offset 0', async () => {
    await scenario().catch((e: unknown) => {
      // Say what the CDC processes logged: a stall and a slow start look alike from a timeout alone.
      if (e instanceof Error) e.message += `\n${logTails()}`;
      throw e;
    });
  });

  const scenario = async (): Promise<void> => {
    const c = await connect(demo().pgPort);
    await c.query('CREATE TABLE snap (id int PRIMARY KEY, v text)');
    for (let i = 1; i <= 200; i += 20) {
      const ids = Array.from({ length: 20 }, (_, j) => i + j);
      await c.query(`INSERT INTO snap VALUES ${ids.map((id) => `(${id}, 'v${id}')`).join(', ')}`);
    }
    // History the snapshot must not replay: updates and deletes before the CDC service starts.
    await c.query("UPDATE snap SET v = 'early-' || id::text WHERE id <= 30");
    await c.query('DELETE FROM snap WHERE id > 190');
    const before = new Map((await c.query<Row>('SELECT id, v FROM snap')).rows.map((r) => [r.id, r.v]));
    expect(before.size).toBe(190);

    // Every shard mirrored; then the log topics lose their history (all but the last record).
    await until('every shard mirrored up to its applied index', () => caughtUp(demo().http, demo().shards), 90_000);
    const admin = testKafka('weft-cdcsnap-admin').admin();
    await admin.connect();
    try {
      for (const shard of demo().shards) {
        const t = `${prefix}.log.${shard}`;
        const high = Number((await admin.fetchTopicOffsets(t)).find((p) => p.partition === 0)?.high ?? 0);
        expect(high).toBeGreaterThan(1);
        await admin.deleteTopicRecords({ topic: t, partitions: [{ partition: 0, offset: String(high - 1) }] });
        const low = Number((await admin.fetchTopicOffsets(t)).find((p) => p.partition === 0)?.low ?? 0);
        expect(low).toBe(high - 1);
      }
    } finally {
      await admin.disconnect();
    }

    // Writes while the CDC service starts, snapshots, is killed and restarted: new rows, updates
    // of rows 1..50, deletes of 51..70 and of new rows. Rows 71..190 are not touched after this point.
    const acked: string[] = [];
    let writing = true;
    const writes = (async () => {
      const w = await connect(demo().pgPort);
      try {
        for (let n = 0; writing; n++) {
          if (n % 3 === 0) await w.query('INSERT INTO snap VALUES ($1, $2)', [10_000 + n, `new${n}`]);
          else if (n % 3 === 1) await w.query('UPDATE snap SET v = $1 WHERE id = $2', [`upd${n}`, 1 + (n % 50)]);
          // Deletes of 51..70 first, then of rows this loop inserted 32 steps earlier.
          else await w.query('DELETE FROM snap WHERE id = $1', [n < 60 ? 51 + (n % 20) : 10_000 + n - 32]);
          acked.push(String(n));
          await sleep(15);
        }
      } finally {
        await w.end();
      }
    })();

    try {
      await startCdc();
      // Killed right after it started (most likely while snapshotting: nothing committed, the
      // snapshot is taken again; or just after: it continues from the published index).
      await sleep(500);
      const during = await status().catch(() => [] as FeedStatus[]);
      console.log(`killed at: ${JSON.stringify(during.map((s) => [s.shardId, s.state, s.publishedIndex]))}`);
      await killCdc();
      await startCdc();
      const started = await until('every shard started from a snapshot', async () => {
        const s = await status();
        for (const f of s) if (f.error !== undefined) throw new Error(`shard ${f.shardId}: ${f.error}`);
        return s.length === 2 && s.every((f) => f.publishedIndex > 0 && f.state !== 'snapshotting' && f.state !== 'starting') ? s : undefined;
      }, 120_000);
      console.log(`after restart: ${JSON.stringify(started.map((s) => ({ shard: s.shardId, snapshots: s.snapshots, snapshot: s.snapshot })))}`);
      await until('more writes after the snapshot', () => (acked.length >= 150 ? true : undefined), 90_000);
      // SIGKILLed while streaming, the moment a shard has applied entries it has not published
      // (polled; the commit may still win the race, then it is tried again). The restart
      // republishes (published, applied] from the key journal: no rebuild from offset 0, which
      // the truncated topics could not serve.
      const recovered: NonNullable<FeedStatus['recovery']>[] = [];
      for (let attempt = 1; recovered.length === 0; attempt++) {
        if (attempt > 10) throw new Error('no SIGKILL landed between apply and commit in 10 attempts');
        const ahead = await until('a shard applied past its published index', async () => {
          const s = await status();
          return s.some((f) => f.appliedIndex > f.publishedIndex && f.state !== 'starting') ? s : undefined;
        }, 30_000);
        await killCdc();
        await startCdc();
        const s = await until('every shard streaming again', async () => {
          const st = await status();
          for (const f of st) if (f.error !== undefined) throw new Error(`shard ${f.shardId}: ${f.error}`);
          return st.length === 2 && st.every((f) => ['applying', 'caught-up', 'waiting-for-catalog'].includes(f.state)) ? st : undefined;
        }, 60_000);
        console.log(`SIGKILL ${attempt} at ${JSON.stringify(ahead.map((f) => [f.shardId, f.appliedIndex, f.publishedIndex]))}; restart: ${JSON.stringify(s.map((f) => [f.shardId, f.recovery]))}`);
        for (const f of s) {
          if (f.recovery === undefined) continue;
          expect(f.recovery.how).toBe('journal');
          recovered.push(f.recovery);
        }
      }
      expect(recovered.some((r) => r.to >= r.from)).toBe(true);
      // Stopped while streaming (SIGTERM: it publishes what it applied), the restart continues
      // from the published index.
      await killCdc('SIGTERM');
      const n = acked.length;
      await until('writes while the CDC service is down', () => (acked.length >= n + 30 ? true : undefined), 60_000);
      // This run's consumers die on their first batch with an error kafkajs does not restart
      // from; each feed must take its shard over again rather than stand still.
      await startCdc({ WEFT_CDC_FAILPOINT: 'consumer-crash' });
      await until('writes after the second restart', () => (acked.length >= n + 90 ? true : undefined), 90_000);
    } finally {
      writing = false;
      await writes;
    }
    const after = new Map((await c.query<Row>('SELECT id, v FROM snap')).rows.map((r) => [r.id, r.v]));
    await c.end();

    // The CDC service publishes up to every shard's mirrored index.
    const targets = await until('every shard mirrored up to its applied index', () => caughtUp(demo().http, demo().shards), 90_000);
    let lastStatus: FeedStatus[] = [];
    const final = await until('the CDC service caught up with the log', async () => {
      const s = (lastStatus = await status());
      for (const f of s) if (f.error !== undefined) throw new Error(`shard ${f.shardId}: ${f.error}`);
      return s.every((f) => f.publishedIndex >= (targets.get(f.shardId) ?? 0)) ? s : undefined;
    }, 120_000).catch((e: unknown) => {
      // Say where each shard stood: a hang and a lag look alike from the timeout alone.
      throw new Error(`${e instanceof Error ? e.message : String(e)}; targets ${JSON.stringify([...targets])}; feeds ${JSON.stringify(lastStatus)}`);
    });
    for (const f of final) expect([f.shardId, f.undecodable, f.consumerRestarts >= 1]).toEqual([f.shardId, 0, true]);

    // Read the change topic from the beginning, read_committed (kafkajs' default).
    consumer = testKafka('weft-cdcsnap-reader').consumer({ groupId: `cdcsnap-test-${Math.random().toString(36).slice(2)}` });
    const got = await readTopicToEnd<{ id: number }, Change>(consumer, topic);

    // Replay per key, checking every event against what a consumer holds for the key.
    const state = new Map<number, string>();
    const reads = new Map<number, number>();
    const problems: string[] = [];
    for (const { key, value: e } of got) {
      const held = state.get(key.id);
      const has = state.has(key.id);
      if (e.op === 'r') {
        reads.set(key.id, (reads.get(key.id) ?? 0) + 1);
        if (has) problems.push(`r for ${key.id} after other events`);
        if (e.before !== null || e.after === null || !['true', 'last'].includes(e.source.snapshot) || e.transaction !== null) problems.push(`bad r event ${JSON.stringify(e)}`);
        state.set(key.id, (e.after as Row).v);
      } else if (e.op === 'c') {
        if (has) problems.push(`c for ${key.id} while it holds ${held}`);
        state.set(key.id, (e.after as Row).v);
      } else if (e.op === 'u') {
        if (!has || e.before?.v !== held) problems.push(`u for ${key.id}: before ${JSON.stringify(e.before)} but holds ${held}`);
        state.set(key.id, (e.after as Row).v);
      } else {
        if (!has || e.before?.v !== held) problems.push(`d for ${key.id}: before ${JSON.stringify(e.before)} but holds ${held}`);
        state.delete(key.id);
      }
      if (e.op !== 'r' && e.source.snapshot !== 'false') problems.push(`streamed event marked snapshot ${e.source.snapshot}`);
    }
    expect(problems.slice(0, 10)).toEqual([]);
    // Exactly once: no (shard, index, key) carries two events (a republished change would).
    const seen = new Set<string>();
    const dups = got.filter(({ key, value: e }) => {
      const k = `${e.source.shard}/${e.source.index}/${key.id}`;
      const dup = seen.has(k);
      seen.add(k);
      return dup;
    });
    expect(dups.slice(0, 5)).toEqual([]);
    // Each pre-existing row that nothing touched later: exactly one event, its r, with its value.
    for (let id = 71; id <= 190; id++) {
      const evs = got.filter((m) => m.key.id === id).map((m) => m.value);
      expect([id, evs.map((e) => e.op), evs[0]?.after]).toEqual([id, ['r'], { id, v: before.get(id) }]);
    }
    expect([...reads.values()].every((n) => n === 1)).toBe(true);
    // No historic change replayed: the updated rows' first event is their r (never their c).
    for (let id = 1; id <= 30; id++) expect(got.find((m) => m.key.id === id)?.value.op).toBe('r');
    // At most one 'last' per shard (the last event of that shard's snapshot).
    const lasts = got.filter((m) => m.value.source.snapshot === 'last').map((m) => m.value.source.shard);
    expect(new Set(lasts).size).toBe(lasts.length);
    // Replaying r then the stream gives the table.
    expect(new Map([...state].sort((a, b) => a[0] - b[0]))).toEqual(new Map([...after].sort((a, b) => a[0] - b[0])));
    const ops = got.reduce<Record<string, number>>((m, x) => ({ ...m, [x.value.op]: (m[x.value.op] ?? 0) + 1 }), {});
    console.log(`events: ${JSON.stringify(ops)}; writes acked: ${acked.length}; rows at the end: ${after.size}`);
    expect(ops.r).toBeGreaterThanOrEqual(150);
    expect(ops.c).toBeGreaterThan(0);
    expect(ops.u).toBeGreaterThan(0);
    expect(ops.d).toBeGreaterThan(0);
  };
});
