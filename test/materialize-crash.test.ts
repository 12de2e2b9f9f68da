import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeEntry } from '@weft/logentry';
import { Materializer } from '@weft/materialize';
import { MvccStore } from '@weft/storage';
import { entryStream } from '../libs/materialize/src/testing/entries';
import type { WorkerMessage } from '../bench/materialize-worker';
import { ROOT } from './support/process';

// kill -9 mid-apply: a worker process applies a long deterministic entry stream and is SIGKILLed
// at random points; each restart resumes from its persisted applied index (re-delivering a few
// already-applied entries first). At the end its state hash and every byte of its MVCC data
// equal a reference replica that applied the same stream without crashes.
const WORKER = path.join(ROOT, 'dist/bench/materialize-worker.js');
const STREAM_SEED = 7;
const COUNT = 30_000;
const SHARD = 5;
const KILLS = 6;

function startWorker(dir: string, redeliver: number, onMessage: (m: WorkerMessage) => void): { proc: ChildProcess; exited: Promise<number | string> } {
  const proc = fork(WORKER, [dir, String(SHARD), String(STREAM_SEED), String(COUNT), String(redeliver)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  proc.on('message', (m) => onMessage(m as WorkerMessage));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { proc, exited };
}

/** Every raw RocksDB entry of a store, as hex "key=value" lines. */
function dump(store: MvccStore): string[] {
  const out: string[] = [];
  const it = store.db.iterator({});
  try {
    for (;;) {
      const { rows, finished } = it.next(1024);
      for (let i = 0; i < rows.length; i += 2) out.push(`${rows[i].toString('hex')}=${rows[i + 1].toString('hex')}`);
      if (finished || rows.length === 0) return out;
    }
  } finally {
    it.close();
  }
}

describe('materializer survives kill -9 mid-apply', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-materialize-crash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('resumes after every kill and ends byte-identical to a replica that never crashed', async () => {
    const killSeed = Date.now() % 100_000;
    let s = killSeed;
    const rand = (n: number): number => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s % n;
    };
    const context = `kill seed ${killSeed}`;

    // Reference replica, in this process.
    const refStore = await MvccStore.open(path.join(dir, 'reference'));
    const ref = await Materializer.open(refStore, SHARD);
    let index = 0;
    for (const e of entryStream(STREAM_SEED, COUNT)) ref.apply(++index, encodeEntry(e));

    const workerDir = path.join(dir, 'worker');
    let lastProgress = 0;
    let redelivered = 0;
    let killedMidStream = 0;
    for (let run = 0; run <= KILLS; run++) {
      const redeliver = rand(40);
      let ready: (m: WorkerMessage) => void = () => undefined;
      const readyP = new Promise<WorkerMessage>((r) => (ready = r));
      let done: WorkerMessage | undefined;
      let progress = 0;
      const w = startWorker(workerDir, redeliver, (m) => {
        if (m.kind === 'ready') ready(m);
        else if (m.kind === 'progress') progress = m.appliedIndex;
        else done = m;
        redelivered = Math.max(redelivered, m.alreadyApplied ?? 0);
      });
      const r = await readyP;
      // Nothing the previous run reported as applied was lost.
      expect({ context, run, appliedAtStart: r.appliedIndex >= lastProgress }).toEqual({ context, run, appliedAtStart: true });
      if (run < KILLS) {
        await new Promise((res) => setTimeout(res, 60 + rand(250)));
        w.proc.kill('SIGKILL');
        const code = await w.exited;
        if (code === 0 && done !== undefined) break; // finished before the kill landed
        expect(code).toBe('SIGKILL');
        if (done === undefined) killedMidStream++;
        lastProgress = progress;
      } else {
        expect(await w.exited).toBe(0);
      }
      if (done !== undefined && run < KILLS) break; // finished before the kill landed
    }
    expect({ context, killedMidStream: killedMidStream >= 3 }).toEqual({ context, killedMidStream: true });
    expect(redelivered).toBeGreaterThan(0);

    // The crashed-and-restarted replica equals the reference: hash, apply state and every byte.
    const store = await MvccStore.open(workerDir);
    const m = await Materializer.open(store, SHARD);
    expect(m.appliedIndex).toBe(COUNT);
    expect(m.stateHash().toString('hex')).toBe(ref.stateHash().toString('hex'));
    expect([m.lastCommitTs, m.closedTs]).toEqual([ref.lastCommitTs, ref.closedTs]);
    expect(m.verifyStateHash().ok).toBe(true);
    const [a, b] = [dump(store), dump(refStore)];
    expect(a.length).toBe(b.length);
    expect(a.filter((line, i) => line !== b[i]).slice(0, 3)).toEqual([]);
    await store.close();
    await refStore.close();
  }, 60_000);
});
