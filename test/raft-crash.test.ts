import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './support/ports';
import { ROOT } from './support/process';

// Durability under kill -9: three replica processes (real WAL with fdatasync, TCP transport),
// writes acknowledged only once committed; a replica is SIGKILLed while writes are in flight,
// restarted from its data directory, and must end up holding every acknowledged write, in the
// same order as its peers.
const NODE_ENTRY = path.join(ROOT, 'dist/bench/raft-node.js');

interface Replica {
  id: number;
  proc: ChildProcess;
}

/** One request at a time per process; ack messages are streamed to `onAck` meanwhile. */
function request<T>(p: ChildProcess, msg: object, onAck?: (v: string) => void, timeoutMs = 60000): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = () => finish(() => reject(new Error('process exited')));
    const onMessage = (m: { ack?: string }) => {
      if (m.ack !== undefined) return onAck?.(m.ack);
      finish(() => resolve(m as T));
    };
    const t = setTimeout(() => finish(() => reject(new Error(`no answer to ${JSON.stringify(msg)}`))), timeoutMs);
    const finish = (f: () => void) => {
      clearTimeout(t);
      p.off('message', onMessage);
      p.off('exit', onExit);
      f();
    };
    p.on('message', onMessage);
    p.once('exit', onExit);
    p.send(msg);
  });
}

describe('Raft replicas survive kill -9 without losing acknowledged writes', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-raft-crash-'));
  const replicas = new Map<number, Replica>();
  let peers = '';

  const start = async (id: number, port: number): Promise<Replica> => {
    const proc = fork(NODE_ENTRY, [String(id), path.join(dir, `n${id}`), String(port), peers, '1'], {
      env: { ...process.env, WEFT_RAFT_NODE_RECORD: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise((r) => proc.once('message', r));
    const r = { id, proc };
    replicas.set(id, r);
    return r;
  };
  const leader = async (): Promise<Replica> => {
    const end = Date.now() + 30000;
    while (Date.now() < end) {
      for (const r of replicas.values()) {
        if (r.proc.exitCode !== null || r.proc.signalCode !== null) continue;
        const st = await request<{ leaders: number[] }>(r.proc, { cmd: 'status' });
        if (st.leaders.includes(1)) return r;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('no leader elected');
  };

  afterAll(async () => {
    for (const r of replicas.values()) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('kills the leader and then a follower mid-stream; every acknowledged write survives on every replica', async () => {
    const ports = new Map<number, number>();
    for (const id of [1, 2, 3]) ports.set(id, await freePort());
    peers = [...ports].map(([id, p]) => `${id}=${p}`).join(',');
    for (const [id, port] of ports) await start(id, port);

    const acked: string[] = [];
    for (const round of ['leader', 'follower']) {
      const l = await leader();
      const victim = round === 'leader' ? l : [...replicas.values()].find((r) => r !== l)!;
      // Writes in flight on the leader while the victim dies.
      const writing = request(l.proc, { cmd: 'write', group: 1, prefix: round, count: 3000, concurrency: 32 }, (v) => acked.push(v));
      await new Promise((r) => setTimeout(r, 300));
      victim.proc.kill('SIGKILL');
      await writing.catch(() => undefined); // the killed leader never answers
      await new Promise((r) => victim.proc.exitCode !== null || victim.proc.signalCode !== null ? r(null) : victim.proc.once('exit', r));
      // The survivors keep committing, then the victim restarts from its WAL.
      const l2 = await leader();
      await request(l2.proc, { cmd: 'write', group: 1, prefix: `${round}-after`, count: 200, concurrency: 8 }, (v) => acked.push(v));
      await start(victim.id, ports.get(victim.id)!);
    }
    expect(acked.length).toBeGreaterThan(200);

    // Every replica converges on the same log containing every acknowledged write.
    const end = Date.now() + 60000;
    let logs: string[][];
    for (;;) {
      logs = await Promise.all([...replicas.values()].map((r) => request<{ values: string[] }>(r.proc, { cmd: 'applied', group: 1 }).then((x) => x.values)));
      const have = logs.map((l) => new Set(l));
      if (have.every((s) => acked.every((v) => s.has(v))) || Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const l of logs) {
      const s = new Set(l);
      expect(acked.filter((v) => !s.has(v))).toEqual([]);
    }
    // Same order on every replica (state-machine safety), compared over the common prefix.
    const n = Math.min(...logs.map((l) => l.length));
    for (const l of logs) expect(l.slice(0, n)).toEqual(logs[0].slice(0, n));

    await Promise.all([...replicas.values()].map((r) => request(r.proc, { cmd: 'stop' }).catch(() => undefined)));
  }, 180000);
});
