/**
 * Raft transport throughput on loopback: App messages carrying one 128-byte entry each, from a
 * sender transport (main thread) to a receiver transport (worker thread, so the two do not
 * share an event loop). A bounded in-flight window stands in for Raft's flow control, so the
 * run measures sustained throughput rather than queue overflow.
 *
 *   npm run build && node dist/bench/transport.js [--seconds 5] [--entry-bytes 128]
 *     [--groups 64] [--window 20000] [--per-turn 2000]
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { MessageType, type Message } from '../libs/raft/src/types';
import { RaftTransport, type TransportLogger } from '../libs/transport/src';

interface ReceiverData {
  readonly counter: SharedArrayBuffer;
}

const quietLogger: TransportLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (o, m) => console.error(m, o),
  error: (o, m) => console.error(m, o),
};

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

/** Worker: a transport that counts what it receives into shared memory. */
async function receiver(data: ReceiverData): Promise<void> {
  const received = new Float64Array(data.counter);
  let n = 0;
  const t = new RaftTransport({
    nodeId: 2,
    logger: quietLogger,
    onMessages: (_from, batch) => {
      n += batch.length;
      received[0] = n; // single writer: a plain store is enough for a progress counter
    },
  });
  const addr = await t.listen();
  parentPort!.postMessage(addr);
  parentPort!.on('message', () => {
    void t.close().then(() => process.exit(0));
  });
}

async function sender(): Promise<void> {
  const seconds = arg('seconds', 5);
  const entryBytes = arg('entry-bytes', 128);
  const groups = arg('groups', 64);
  const window = arg('window', 20_000);
  const perTurn = arg('per-turn', 2_000);

  const counter = new SharedArrayBuffer(8);
  const received = new Float64Array(counter);
  const worker = new Worker(__filename, { workerData: { counter } satisfies ReceiverData });
  const addr = await new Promise<{ host: string; port: number }>((resolve) => worker.once('message', resolve));

  const t = new RaftTransport({ nodeId: 1, logger: quietLogger, peers: new Map([[2, addr]]), onMessages: () => undefined });
  const payload = new Uint8Array(entryBytes).fill(7);
  const index = new Array<number>(groups).fill(0);
  const msg = (g: number): Message => {
    const i = ++index[g];
    return {
      type: MessageType.App, to: 2, from: 1, term: 3, logTerm: 3, index: i - 1, commit: i - 1, reject: false,
      rejectHint: 0, entries: [{ term: 3, index: i, type: 0, data: payload }],
    };
  };

  let sent = 0;
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  const run = async (ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const room = Math.min(perTurn, window - (sent - received[0]));
      for (let k = 0; k < room; k++) t.send(2, sent++ % groups, msg(sent % groups));
      await turn();
    }
  };

  await run(500); // warm-up: JIT, connection, socket buffers
  const s0 = t.stats();
  const r0 = received[0];
  const t0 = process.hrtime.bigint();
  await run(seconds * 1000);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const s1 = t.stats();
  const msgs = received[0] - r0;
  const frames = s1.framesSent - s0.framesSent;
  const wireBytes = s1.bytesSent - s0.bytesSent;

  const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d });
  console.log(`raft transport bench: ${entryBytes}-byte entries, ${groups} groups, window ${window}, ${fmt(elapsed, 2)} s`);
  console.log(`  received     ${fmt(msgs / elapsed)} msgs/s`);
  console.log(`  payload      ${fmt((msgs * entryBytes) / elapsed / 1e6, 1)} MB/s (entry data)`);
  console.log(`  wire         ${fmt(wireBytes / elapsed / 1e6, 1)} MB/s (frames sent)`);
  console.log(`  frames       ${fmt(frames)} (${fmt((s1.messagesSent - s0.messagesSent) / Math.max(1, frames), 1)} msgs/frame)`);
  console.log(`  drops        ${s1.drops - s0.drops}, back-pressure waits ${s1.backpressureWaits - s0.backpressureWaits}`);

  await t.close();
  worker.postMessage('stop');
  await new Promise((r) => worker.once('exit', r));
}

if (isMainThread) {
  sender().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  receiver(workerData as ReceiverData).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
