// Fork target of test/materialize-crash.test.ts: applies a deterministic entry stream to a shard
// store, starting a little BEFORE its persisted applied index (re-delivery), and reports progress
// over IPC until it finishes or is SIGKILLed. Usage (IPC required):
//   node dist/bench/materialize-worker.js <dir> <shardId> <streamSeed> <count> <redeliver>
import { encodeEntry } from '@weft/logentry';
import { Materializer } from '@weft/materialize';
import { MvccStore } from '@weft/storage';
import { entryStream } from '../libs/materialize/src/testing/entries';

export interface WorkerMessage {
  readonly kind: 'ready' | 'progress' | 'done';
  readonly appliedIndex: number;
  readonly alreadyApplied?: number;
  readonly hash?: string;
  readonly verified?: boolean;
}

async function main(): Promise<void> {
  const [dir, shard, seed, count, redeliver] = process.argv.slice(2);
  const send = (m: WorkerMessage): void => {
    process.send?.(m);
  };
  if (process.send === undefined || redeliver === undefined) throw new Error('usage: materialize-worker <dir> <shardId> <seed> <count> <redeliver> (with an IPC channel)');
  const n = Number(count);
  const entries = [...entryStream(Number(seed), n)].map(encodeEntry);
  const store = await MvccStore.open(dir);
  const m = await Materializer.open(store, Number(shard));
  const from = Math.max(1, m.appliedIndex + 1 - Number(redeliver));
  send({ kind: 'ready', appliedIndex: m.appliedIndex });
  let alreadyApplied = 0;
  for (let i = from; i <= n; i++) {
    if (m.apply(i, entries[i - 1]) === 'already-applied') alreadyApplied++;
    if (i % 100 === 0) send({ kind: 'progress', appliedIndex: m.appliedIndex, alreadyApplied });
    // Let IPC messages out (and the parent's SIGKILL land anywhere in the stream).
    if (i % 500 === 0) await new Promise((r) => setImmediate(r));
  }
  const verified = m.verifyStateHash().ok;
  const hash = m.stateHash().toString('hex');
  await store.close();
  send({ kind: 'done', appliedIndex: n, alreadyApplied, hash, verified });
  process.disconnect?.();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
