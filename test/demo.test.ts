import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { RemoteShardKv } from '@weft/kvrpc';
import { devPorts, PORT_SPAN } from '../apps/cli/src/dev-cluster';
import { restartDelayMs } from '../apps/cli/src/demo';
import type { DemoState } from '../apps/cli/src/state';
import { ROOT, spawnNode } from './support/process';
import { freeDemoPort, spawnDemo, type Demo } from './support/weft-server';

// `npm start` is `weft demo`: three meta replicas placing the shards on three node processes, and the
// gateway, supervised like a service manager. A newcomer's first experience, so it is tested as
// they would use it: SQL on the printed port, `weft status`, a node (and the gateway) killed
// with kill -9 and restarted while the shard stays available, a clean stop on SIGTERM, the
// data still there after a restart with the same --data, two demos side by side.
jest.setTimeout(180_000);

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the weft CLI to completion: exit code and output. */
async function weft(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
  }
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== undefined) return v;
    await sleep(50);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

const pidOf = (state: DemoState | null, name: string): number | undefined => state?.services.find((s) => s.name === name)?.pid ?? undefined;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Inserts rows one autocommit statement at a time, reading each back, and records which
 * inserts were acknowledged (and when). A failed statement is ambiguous (it may or may not
 * have committed), so it is not counted; the writer reconnects and goes on with the next id.
 */
class Writer {
  readonly acked: { id: number; at: number }[] = [];
  readonly errors: string[] = [];
  private running = true;
  private readonly done: Promise<void>;
  private nextId = 1;

  constructor(private readonly port: number) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    let c: Client | undefined;
    while (this.running) {
      try {
        if (!c) {
          const fresh = new Client({ host: '127.0.0.1', port: this.port, user: 'weft', database: 'weft', connectionTimeoutMillis: 3000 });
          fresh.on('error', () => undefined);
          c = fresh;
          await fresh.connect();
        }
        const id = this.nextId++;
        await c.query('INSERT INTO kill_rows (id, v) VALUES ($1, $2)', [id, `row ${id}`]);
        this.acked.push({ id, at: Date.now() });
        const r = await c.query<{ v: string }>('SELECT v FROM kill_rows WHERE id = $1', [id]);
        if (r.rows[0]?.v !== `row ${id}`) this.errors.push(`read of acknowledged row ${id} returned ${JSON.stringify(r.rows)}`);
      } catch (e) {
        this.errors.push(String(e));
        await c?.end().catch(() => undefined);
        c = undefined;
        await sleep(100);
      }
    }
    await c?.end().catch(() => undefined);
  }

  ackedSince(t: number): number {
    return this.acked.filter((a) => a.at > t).length;
  }

  async waitAcks(n: number, ms = 30_000): Promise<void> {
    const target = this.acked.length + n;
    await until(`${n} more acknowledged writes (errors: ${this.errors.slice(-3).join(' | ')})`, () => (this.acked.length >= target ? true : undefined), ms);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

describe('weft demo (npm start)', () => {
  // Made in beforeAll, not at collection time: a run filtered with -t would leave it behind.
  let dataDir = '';
  let pgPort = 0;
  let demo: Demo | undefined;

  const start = (): Promise<Demo> => spawnDemo({ dataDir, pgPort });
  const connect = async (user: string): Promise<Client> => {
    const c = new Client({ host: '127.0.0.1', port: pgPort, user, database: 'weft' });
    await c.connect();
    return c;
  };
  /**
   * Kills a service with SIGKILL — `times` times in a row, each new process as soon as the demo
   * has spawned it, so the service stays down through several backoff delays (0.5 + 1 + 2 s for
   * three) — then waits until the demo says it is back. Returns when it went down and when the
   * process that stayed up was spawned.
   */
  const killAndAwaitRestart = async (d: Demo, name: string, times = 1): Promise<{ killedAt: number; respawnedAt: number }> => {
    let pid = pidOf(d.state(), name);
    if (pid === undefined) throw new Error(`no pid for ${name} in ${d.dataDir}/weft-demo.json`);
    const killedAt = Date.now();
    let respawnedAt = killedAt;
    for (let i = 0; i < times; i++) {
      const victim: number = pid;
      process.kill(victim, 'SIGKILL');
      await until(`the demo to report ${name} exited`, () =>
        d.proc.stderr().includes(`weft: ${name} (pid ${victim}) exited unexpectedly (SIGKILL); restarting it in ${restartDelayMs(i + 1) / 1000} s`) ? true : undefined,
      );
      pid = await until(`a new ${name} process`, () => {
        const p = pidOf(d.state(), name);
        return p !== undefined && p !== victim ? p : undefined;
      });
      respawnedAt = Date.now();
    }
    await until(`${name} to be back`, () => (d.proc.stdout().includes(`weft: ${name} is back (pid ${pid})`) ? true : undefined), 60_000);
    return { killedAt, respawnedAt };
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-demo-test-'));
    pgPort = await freeDemoPort();
  });
  afterAll(async () => {
    if (demo) await demo.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves SQL on --port over the replicated shard, prints how to connect, records pids and ports', async () => {
    demo = await start();
    const out = demo.proc.stdout();
    expect(out).toContain(`data: ${dataDir}`);
    expect(out).toContain(`psql "host=127.0.0.1 port=${pgPort} user=weft dbname=weft"`);

    // Every port moved with --port; the state file says where each service is and its pid.
    const state = demo.state() as DemoState;
    const p = devPorts(pgPort);
    expect(state).toMatchObject({ pid: demo.proc.child.pid, running: true, pgPort, shardCount: 4 });
    expect(state.services.map((s) => [s.name, s.httpPort])).toEqual([
      ['meta-1', p.metaHttp(1)],
      ['meta-2', p.metaHttp(2)],
      ['meta-3', p.metaHttp(3)],
      ['node-1', p.http(1)],
      ['node-2', p.http(2)],
      ['node-3', p.http(3)],
      ['gateway', p.gatewayHttp],
    ]);
    for (const s of state.services) {
      expect(s.pid !== null && alive(s.pid)).toBe(true);
      for (const port of Object.values(s.ports)) expect(port >= pgPort && port < pgPort + PORT_SPAN).toBe(true);
      expect(out).toContain(`pid ${s.pid}`);
    }

    const status = await weft(['status', '--data', dataDir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`Postgres port ${pgPort}`);
    for (const s of state.services) expect(status.stdout).toMatch(new RegExp(`^${s.name}\\s+up\\s+(?:not-)?ready\\s+pid ${s.pid}\\s+http://127.0.0.1:${s.httpPort}/health$`, 'm'));

    const c = await connect('weft');
    try {
      await c.query('CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(10,2))');
      await c.query("INSERT INTO orders VALUES (1, 'ada', 12.50), (2, 'bob', 7.25), (3, 'cy', 100.00)");
      const r = await c.query<{ n: string; s: string }>('SELECT count(*) AS n, sum(total) AS s FROM orders');
      expect(r.rows).toEqual([{ n: '3', s: '119.75' }]);
      await expect(c.query("INSERT INTO orders VALUES (1, 'dup', 0)")).rejects.toMatchObject({ code: '23505' });
      await c.query('CREATE TABLE kill_rows (id int PRIMARY KEY, v text NOT NULL)');
    } finally {
      await c.end();
    }
  });

  it('restarts a node killed with kill -9 (a follower, then the leader) while the shard stays available, then the gateway and meta; no acknowledged row is lost', async () => {
    const d = demo as Demo;
    const p = devPorts(pgPort);
    const kv = new RemoteShardKv({ shardId: 1, replicas: [1, 2, 3].map((id) => ({ nodeId: id, host: '127.0.0.1', port: p.kv(id) })) });
    const leader = async (): Promise<number> =>
      until('a node that reports itself leader', async () => {
        for (const id of [1, 2, 3]) {
          const s = await kv.replicaStatus(id).catch(() => undefined);
          if (s && s.leader === s.nodeId) return s.nodeId;
        }
        return undefined;
      });
    const writer = new Writer(pgPort);
    try {
      await writer.waitAcks(20);
      const first = await leader();
      const follower = first === 1 ? 2 : 1;

      // A follower dies (and its next two incarnations too, so it stays down ~3.5 s): the other
      // two replicas are a quorum, so writes go on while it is down.
      const f = await killAndAwaitRestart(d, `node-${follower}`, 3);
      const whileDown = writer.acked.filter((a) => a.at > f.killedAt && a.at < f.respawnedAt).length;
      const timeline = writer.acked.slice(-40).map((a) => a.at - f.killedAt);
      // On failure, say when the writes were acknowledged (ms after the kill) and what failed.
      const why = { downMs: f.respawnedAt - f.killedAt, ackedAtMsAfterKill: timeline, lastErrors: writer.errors.slice(-5) };
      expect([whileDown > 0, why]).toEqual([true, why]);
      await writer.waitAcks(20);

      // The leader dies: the others elect a new one; the old one comes back as a follower.
      const l = await killAndAwaitRestart(d, `node-${first}`);
      await writer.waitAcks(20);
      expect(writer.ackedSince(l.killedAt)).toBeGreaterThanOrEqual(20);
      await leader();
    } finally {
      await writer.stop();
      kv.close();
    }

    // The gateway is stateless: killed, restarted, clients reconnect. Meta restarts from its
    // own data directory.
    await killAndAwaitRestart(d, 'gateway');
    await killAndAwaitRestart(d, 'meta-1');
    const c = await connect('weft');
    try {
      const r = await c.query<{ id: number }>('SELECT id FROM kill_rows');
      const present = new Set(r.rows.map((x) => x.id));
      const lost = writer.acked.filter((a) => !present.has(a.id)).map((a) => a.id);
      expect(lost).toEqual([]);
      expect(writer.acked.length).toBeGreaterThanOrEqual(60);
    } finally {
      await c.end();
    }
    expect(d.state()?.services.map((s) => [s.name, s.restarts])).toEqual(
      expect.arrayContaining([
        ['gateway', 1],
        ['meta-1', 1],
      ]),
    );
    expect((await weft(['status', '--data', dataDir])).code).toBe(0);
  });

  it('stops cleanly on SIGTERM and keeps the data across a restart with the same --data', async () => {
    const d = demo as Demo;
    const pids = (d.state() as DemoState).services.map((s) => s.pid as number);
    expect(await d.stop()).toBe(0);
    expect(d.proc.stdout()).toContain('weft: stopped');
    expect(pids.filter(alive)).toEqual([]);
    expect(d.state()).toMatchObject({ running: false });
    const down = await weft(['status', '--data', dataDir]);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^node-1\s+down/m);

    demo = await start();
    // The OS user is accepted without a password on loopback, like `weft`.
    const c = await connect(os.userInfo().username);
    try {
      const r = await c.query<{ id: number; customer: string }>('SELECT id, customer FROM orders ORDER BY id');
      expect(r.rows).toEqual([
        { id: 1, customer: 'ada' },
        { id: 2, customer: 'bob' },
        { id: 3, customer: 'cy' },
      ]);
    } finally {
      await c.end();
    }
  });

  it('refuses a second demo on the same data directory or on ports in use (exit 2, one line)', async () => {
    const same = await weft(['demo', '--port', String(await freeDemoPort()), '--data', dataDir]);
    expect(same.code).toBe(2);
    expect(same.stderr).toBe(`weft: a demo (pid ${(demo as Demo).proc.child.pid}) is already running on ${dataDir}; stop it or choose another --data\n`);

    const other = mkdtempSync(path.join(os.tmpdir(), 'weft-demo-other-'));
    try {
      // Ports overlap: the other demo's meta-1 http port (its first service) is this demo's gateway http port.
      const otherPg = pgPort + 1 - devPorts(0).metaHttp(1);
      const r = await weft(['demo', '--port', String(otherPg), '--data', other]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `weft: port ${pgPort + 1} (meta-1 http) is already in use; choose another --port ` +
          `(the demo uses ${otherPg}-${otherPg + PORT_SPAN - 1}, so two demos need ports at least ${PORT_SPAN} apart)\n`,
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('gives up on a service that keeps crashing: the 5th crash within 60 s stops everything, exit 1', async () => {
    const d = demo as Demo;
    let kills = 0;
    let last: number | undefined;
    const killer = (async () => {
      while (d.proc.child.exitCode === null && kills < 5) {
        const pid = pidOf(d.state(), 'gateway');
        if (pid !== undefined && pid !== last && alive(pid)) {
          process.kill(pid, 'SIGKILL');
          last = pid;
          kills++;
        }
        await sleep(20);
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([d.proc.exited, new Promise((r) => (timer = setTimeout(() => r('still running'), 60_000)))]);
    clearTimeout(timer);
    await killer;
    expect(code).toBe(1);
    expect(kills).toBe(5);
    const err = d.proc.stderr();
    for (const n of [1, 2, 3, 4]) expect(err).toContain(`restarting it in ${restartDelayMs(n) / 1000} s`);
    expect(err).toContain('weft: gateway exited (SIGKILL) for the 5th time within 60 s; giving up and stopping the cluster');
    expect(d.proc.stdout()).toContain('weft: stopped');
    expect((d.state() as DemoState).services.map((s) => s.pid)).toEqual([null, null, null, null, null, null, null]);
  });
});

describe('two demos on one machine', () => {
  const dirs: string[] = [];
  const demos: Demo[] = [];
  beforeAll(() => {
    for (let i = 0; i < 2; i++) dirs.push(mkdtempSync(path.join(os.tmpdir(), 'weft-demo-pair-')));
  });
  afterAll(async () => {
    await Promise.all(demos.map((d) => d.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('run side by side with different --port and --data, each answering SQL and found by `weft status`', async () => {
    // One after the other: two cluster start-ups at once would only compete for the CPU.
    for (const dataDir of dirs) demos.push(await spawnDemo({ dataDir, pgPort: await freeDemoPort(), args: ['--shards', '2'], detached: true }));
    const [a, b] = demos;
    expect(Math.abs(a.pgPort - b.pgPort)).toBeGreaterThanOrEqual(PORT_SPAN);
    for (const [i, d] of demos.entries()) {
      const c = new Client({ host: '127.0.0.1', port: d.pgPort, user: 'weft', database: 'weft' });
      await c.connect();
      try {
        await c.query('CREATE TABLE which (n int PRIMARY KEY)');
        await c.query('INSERT INTO which VALUES ($1)', [i]);
      } finally {
        await c.end();
      }
      expect(d.state()).toMatchObject({ pgPort: d.pgPort, shardCount: 2, running: true });
      const s = await weft(['status', '--data', d.dataDir]);
      expect([s.code, s.stdout]).toEqual([0, expect.stringContaining(`Postgres port ${d.pgPort}`)]);
      expect((await weft(['status', '--port', String(d.pgPort)])).code).toBe(0);
    }
    // Each demo kept its own data.
    for (const [i, d] of demos.entries()) {
      const c = new Client({ host: '127.0.0.1', port: d.pgPort, user: 'weft', database: 'weft' });
      await c.connect();
      try {
        expect((await c.query('SELECT n FROM which')).rows).toEqual([{ n: i }]);
      } finally {
        await c.end();
      }
    }
  });

  it('stops on Ctrl-C in its terminal: the whole process group gets SIGINT, nothing is restarted', async () => {
    const d = demos[0];
    const pids = (d.state() as DemoState).services.map((s) => s.pid as number);
    process.kill(-(d.proc.child.pid as number), 'SIGINT');
    expect(await d.proc.exited).toBe(0);
    expect(d.proc.stdout()).toContain('weft: stopped');
    expect(d.proc.stderr()).not.toContain('exited unexpectedly');
    expect(pids.filter(alive)).toEqual([]);
  });

  it('after the demo itself is killed with kill -9, a new demo on its data names the services left running', async () => {
    const d = demos[1];
    const pids = (d.state() as DemoState).services.map((s) => s.pid as number);
    process.kill(d.proc.child.pid as number, 'SIGKILL');
    await d.proc.exited;
    try {
      const r = await weft(['demo', '--port', String(d.pgPort), '--data', d.dataDir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^weft: port \\d+ \\(meta-1 http\\) is held by services a previous demo on ${d.dataDir} left running \\(pids ${pids.join(', ')}\\); stop them first\n$`));
    } finally {
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGTERM');
      await until('the orphaned services to stop', () => (pids.some(alive) ? undefined : true));
    }
  });
});

describe('weft command line', () => {
  // Every bad flag is one line on stderr that says what to fix, and exit code 2.
  it.each([
    [['start'], 'weft: start needs --role meta, --role node, --role gateway, --role materializer or --role cdc (see `weft help`)'],
    [['start', '--role', 'db'], 'weft: --role "db": expected meta, node, gateway, materializer or cdc (see `weft help`)'],
    [['start', '--role'], "weft: Option '--role <value>' argument missing (see `weft help`)"],
    [['start', '--role', 'node', '--port', '7000'], 'weft: start takes only --role; configure the service with WEFT_* environment variables instead of --port (see `weft help`)'],
    [['start', '--role', 'node', '--data', '/tmp/x'], 'weft: start takes only --role; configure the service with WEFT_* environment variables instead of --data (see `weft help`)'],
    [['start', 'node'], 'weft: unexpected argument "node"; write --role node (see `weft help`)'],
    [['start', '--role', 'node', '--verbose'], "weft: Unknown option '--verbose' (see `weft help`)"],
    [['demo', '--port', '70000'], `weft: --port "70000": expected a TCP port 1-${65536 - PORT_SPAN} (see \`weft help\`)`],
    [['demo', '--port', 'x'], `weft: --port "x": expected a TCP port 1-${65536 - PORT_SPAN} (see \`weft help\`)`],
    [['demo', '--shards', '0'], 'weft: --shards "0": expected an integer 1-1024 (see `weft help`)'],
    [['demo', '--kafka', 'localhost'], 'weft: --kafka "localhost": expected host:port[,host:port...], e.g. 127.0.0.1:9092 (see `weft help`)'],
    [['demo', '--role', 'node'], 'weft: --role does not apply to `weft demo` (it takes --data, --port, --shards, --kafka) (see `weft help`)'],
    [['status', '--shards', '2'], 'weft: --shards does not apply to `weft status` (it takes --data, --port) (see `weft help`)'],
    [['version', '--port', '1'], 'weft: --port does not apply to `weft version` (see `weft help`)'],
    [['launch'], 'weft: unknown command "launch" (see `weft help`)'],
  ])('weft %j exits 2 with one line', async (args, line) => {
    const r = await weft(args);
    expect([r.code, r.stderr, r.stdout]).toEqual([2, `${line}\n`, '']);
  });

  it('weft start --role passes a bad WEFT_* variable to the service, which names it (exit 2)', async () => {
    const r = await weft(['start', '--role', 'gateway'], { WEFT_PG_PORT: 'abc' });
    expect([r.code, r.stderr]).toEqual([2, 'weft-gateway: WEFT_PG_PORT="abc" is invalid: expected a TCP port number 0-65535\n']);
  });

  it('weft start --role node runs the storage node from WEFT_* variables and stops on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'weft-start-node-'));
    const base = await freeDemoPort();
    const proc = spawnNode('dist/apps/cli/src/main.js', {
      WEFT_LOG_LEVEL: 'warn',
      WEFT_NODE_ID: '1',
      WEFT_DATA_DIR: dir,
      WEFT_HTTP_PORT: String(base),
      WEFT_METRICS_PORT: String(base + 1),
      WEFT_RAFT_PORT: String(base + 2),
      WEFT_KV_PORT: String(base + 3),
      WEFT_RAFT_PEERS: `1@127.0.0.1:${base + 2}`,
    }, ['start', '--role', 'node']);
    try {
      const health = await until('the node to answer /health', async () => {
        const res = await fetch(`http://127.0.0.1:${base}/health`).catch(() => undefined);
        return res?.status === 200 ? ((await res.json()) as { service: string; pid: number }) : undefined;
      });
      // The node runs in the weft process itself: no extra child to manage.
      expect(health).toEqual(expect.objectContaining({ service: 'weft-node', pid: proc.child.pid }));
      const kvOpen = await new Promise<boolean>((resolve) => {
        const s = net.connect(base + 3, '127.0.0.1', () => (s.destroy(), resolve(true)));
        s.on('error', () => resolve(false));
      });
      expect(kvOpen).toBe(true);
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
    } finally {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
