/**
 * One Weft Raft replica process for bench/raft.ts: a MultiRaftHost with a real WAL (fdatasync)
 * and the TCP transport. Controlled by its parent over IPC; proposers run in this process.
 * argv: nodeId dataDir port peerPorts(csv id=port) groups
 */
import { randomInt } from 'node:crypto';
import { MultiRaftHost } from '@weft/multiraft';
import { RaftTransport } from '@weft/transport';
import { Wal } from '@weft/wal';

type Command =
  | { cmd: 'status' }
  | { cmd: 'run'; group: number; concurrency: number; durationMs: number; valueBytes: number }
  | { cmd: 'idle'; ms: number }
  | { cmd: 'write'; group: number; prefix: string; count: number; concurrency: number }
  | { cmd: 'applied'; group: number }
  | { cmd: 'stop' };

async function main(): Promise<void> {
  const [idArg, dir, portArg, peersArg, groupsArg] = process.argv.slice(2);
  const nodeId = Number(idArg);
  const peers = new Map(peersArg.split(',').map((p) => p.split('=').map(Number) as [number, number]));
  const groups = Number(groupsArg);
  const wal = await Wal.open(dir);
  const ref: { host?: MultiRaftHost } = {};
  const quiet = () => {};
  const transport = new RaftTransport({
    nodeId,
    port: Number(portArg),
    peers: new Map([...peers].filter(([id]) => id !== nodeId).map(([id, port]) => [id, { host: '127.0.0.1', port }])),
    onMessages: (_from, batch) => {
      for (const e of batch) ref.host?.receive(e.groupId, e.msg);
    },
    onUnreachable: (n) => ref.host?.reportUnreachable(n),
    logger: { debug: quiet, info: quiet, warn: quiet, error: quiet },
  });
  await transport.listen();
  let applied = 0;
  // Crash tests read back what was applied; benchmarks leave recording off to bound memory.
  const record = process.env.WEFT_RAFT_NODE_RECORD === '1';
  const log = new Map<number, string[]>();
  const host = new MultiRaftHost({
    nodeId,
    wal,
    sender: transport,
    rand: { int: (n) => randomInt(n) },
    tickMs: 100,
    // bench/raft.ts measures idle cost both ways.
    quiesce: process.env.WEFT_RAFT_QUIESCE !== '0',
    apply: (g, entries) => {
      applied += entries.length;
      if (!record) return;
      const l = log.get(g) ?? [];
      for (const e of entries) l.push(Buffer.from(e.data).toString());
      log.set(g, l);
    },
  });
  ref.host = host;
  for (let g = 1; g <= groups; g++) await host.addGroup(g, [...peers.keys()]);

  const send = (m: object) => process.send?.(m);
  process.on('message', (raw: Command) => {
    void (async () => {
      switch (raw.cmd) {
        case 'status': {
          const leaders = host.groupIds().filter((g) => host.status(g).state === 'leader');
          send({ leaders, applied });
          return;
        }
        case 'run':
          send(await runLoad(host, raw.group, raw.concurrency, raw.durationMs, raw.valueBytes));
          return;
        case 'write':
          // Each acknowledgement is reported as it happens, so a test that kills this process
          // mid-stream knows exactly which writes a client was told had committed.
          send(await writeValues(host, raw.group, raw.prefix, raw.count, raw.concurrency, (v) => send({ ack: v })));
          return;
        case 'applied':
          send({ values: log.get(raw.group) ?? [] });
          return;
        case 'idle': {
          const cpu0 = process.cpuUsage();
          await new Promise((r) => setTimeout(r, raw.ms));
          const cpu = process.cpuUsage(cpu0);
          send({ cpuPercent: ((cpu.user + cpu.system) / 1000 / raw.ms) * 100, rssMiB: process.memoryUsage().rss / 2 ** 20, walSyncs: wal.stats().syncs });
          return;
        }
        case 'stop':
          await host.close();
          await transport.close();
          await wal.close();
          process.exit(0);
      }
    })();
  });
  send({ ready: true });
}

/** Closed loop: `concurrency` proposers each propose, wait for commit, repeat. */
async function runLoad(host: MultiRaftHost, group: number, concurrency: number, durationMs: number, valueBytes: number) {
  const value = Buffer.alloc(valueBytes, 0x61);
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await host.propose(group, value);
        lat.push(performance.now() - t0);
      } catch {
        errors++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  return { ops: lat.length, secs, errors, latencies: lat };
}

/** Writes `${prefix}-${i}` values; returns those acknowledged (committed and applied here). */
async function writeValues(host: MultiRaftHost, group: number, prefix: string, count: number, concurrency: number, onAck: (v: string) => void) {
  const acked: string[] = [];
  let next = 0;
  let errors = 0;
  const worker = async () => {
    while (next < count) {
      const v = `${prefix}-${next++}`;
      try {
        await host.propose(group, Buffer.from(v));
        acked.push(v);
        onAck(v);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { done: true, acked: acked.length, errors };
}

main().catch((e: unknown) => {
  process.stderr.write(`raft-node: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
