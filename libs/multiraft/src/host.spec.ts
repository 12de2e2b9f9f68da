import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RaftTransport } from '@weft/transport';
import { Wal } from '@weft/wal';
import type { Entry } from '@weft/raft';
import { MultiRaftHost } from './host';

// Three hosts in one process, each with its own WAL directory and its own TCP transport on
// loopback: the real I/O stack, minus process boundaries (bench/raft covers those).
interface TestNode {
  id: number;
  dir: string;
  wal: Wal;
  transport: RaftTransport;
  host: MultiRaftHost;
  applied: Map<number, string[]>;
}

const GROUPS = [1, 2, 3, 4];
const seeded = (seed: number) => {
  let s = seed >>> 0;
  return { int: (n: number) => ((s = (s * 1664525 + 1013904223) >>> 0) % n) };
};

async function startNode(id: number, dir: string, ports: Map<number, number>): Promise<TestNode> {
  const wal = await Wal.open(dir);
  const applied = new Map<number, string[]>();
  // The transport and the host refer to each other; messages only flow after both exist.
  const hostRef: { current?: MultiRaftHost } = {};
  const transport = new RaftTransport({
    nodeId: id,
    port: ports.get(id) ?? 0,
    onMessages: (_from, batch) => {
      for (const env of batch) hostRef.current?.receive(env.groupId, env.msg);
    },
    onUnreachable: (node) => hostRef.current?.reportUnreachable(node),
    logger: { warn: () => {}, info: () => {}, debug: () => {}, error: () => {} },
  });
  const addr = await transport.listen();
  ports.set(id, addr.port);
  const host = new MultiRaftHost({
    nodeId: id,
    wal,
    sender: transport,
    rand: seeded(id),
    tickMs: 10,
    apply: (group: number, entries: readonly Entry[]) => {
      const list = applied.get(group) ?? [];
      for (const e of entries) list.push(Buffer.from(e.data).toString());
      applied.set(group, list);
    },
  });
  hostRef.current = host;
  return { id, dir, wal, transport, host, applied };
}

function connect(nodes: TestNode[], ports: Map<number, number>): void {
  for (const n of nodes) for (const [peer, port] of ports) if (peer !== n.id) n.transport.setPeer(peer, { host: '127.0.0.1', port });
}

async function stopNode(n: TestNode): Promise<void> {
  await n.host.close();
  await n.transport.close();
  await n.wal.close();
}

async function until(cond: () => boolean, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function leaderOf(nodes: TestNode[], group: number): TestNode | undefined {
  return nodes.find((n) => n.host.status(group).state === 'leader');
}

describe('MultiRaftHost over real WAL and TCP transport', () => {
  let dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    dirs = [];
  });

  it('elects leaders for many groups, commits proposals on every replica in order, and survives a replica restart', async () => {
    const ports = new Map<number, number>();
    dirs = [1, 2, 3].map(() => mkdtempSync(path.join(tmpdir(), 'weft-host-')));
    let nodes = await Promise.all([1, 2, 3].map((id, i) => startNode(id, dirs[i], ports)));
    connect(nodes, ports);
    for (const n of nodes) for (const g of GROUPS) await n.host.addGroup(g, [1, 2, 3]);

    await until(() => GROUPS.every((g) => leaderOf(nodes, g) !== undefined));

    // 50 proposals per group, all in flight at once.
    const proposals: Promise<number>[] = [];
    for (const g of GROUPS) {
      const leader = leaderOf(nodes, g)!;
      for (let i = 0; i < 50; i++) proposals.push(leader.host.propose(g, Buffer.from(`g${g}-${i}`)));
    }
    const indexes = await Promise.all(proposals);
    expect(new Set(indexes.map((ix, k) => `${Math.floor(k / 50)}:${ix}`)).size).toBe(indexes.length);

    const expected = (g: number, n: number) => Array.from({ length: n }, (_, i) => `g${g}-${i}`);
    await until(() => nodes.every((n) => GROUPS.every((g) => (n.applied.get(g)?.length ?? 0) === 50)));
    for (const n of nodes) for (const g of GROUPS) expect(n.applied.get(g)).toEqual(expected(g, 50));
    // Group commit: far fewer WAL appends (each one fdatasync) than entries persisted.
    expect(nodes[0].host.stats.walAppends).toBeLessThan(GROUPS.length * 50);

    // A follower of group 1 stops; the others keep committing; it restarts from its WAL and
    // catches up without losing anything it had.
    const follower = nodes.find((n) => n !== leaderOf(nodes, 1))!;
    await stopNode(follower);
    const rest = nodes.filter((n) => n !== follower);
    await until(() => leaderOf(rest, 1) !== undefined);
    for (let i = 50; i < 80; i++) await leaderOf(rest, 1)!.host.propose(1, Buffer.from(`g1-${i}`));

    const restarted = await startNode(follower.id, follower.dir, ports);
    nodes = [...rest, restarted];
    connect(nodes, ports);
    for (const g of GROUPS) await restarted.host.addGroup(g, [1, 2, 3]);
    // It re-applies its durable log from the start (applied state is in memory in this test),
    // then receives what it missed.
    await until(() => (restarted.applied.get(1)?.length ?? 0) === 80);
    expect(restarted.applied.get(1)).toEqual(expected(1, 80));

    const notLeader = nodes.find((n) => n.host.status(1).state !== 'leader')!;
    await expect(notLeader.host.propose(1, Buffer.from('x'))).rejects.toThrow('not the leader');

    await Promise.all(nodes.map(stopNode));
  }, 60000);
});
