import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Message } from '@weft/raft';
import { Wal } from '@weft/wal';
import { MultiRaftHost, type RaftSender } from './host';

/** Three hosts with real WALs on an in-process network that can cut a node off. */
class Net {
  readonly hosts = new Map<number, MultiRaftHost>();
  down = new Set<number>();
  sent = 0;
  sender(from: number): RaftSender {
    return {
      send: (to, groupId, m: Message) => {
        if (this.down.has(from) || this.down.has(to)) return true;
        this.sent++;
        setImmediate(() => this.hosts.get(to)?.receive(groupId, m));
        return true;
      },
    };
  }
}

const GROUPS = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('quiescence of idle groups', () => {
  let dir: string;
  let net: Net;
  const applied = new Map<string, number>();

  const leaderOf = (g: number): number | undefined => [...net.hosts].find(([, h]) => h.status(g).state === 'leader')?.[0];
  const allQuiesced = (): boolean =>
    [...net.hosts].every(([id, h]) => net.down.has(id) || Array.from({ length: GROUPS }, (_, i) => i + 1).every((g) => h.isQuiesced(g)));

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'weft-quiesce-'));
    net = new Net();
    applied.clear();
    for (const id of [1, 2, 3]) {
      const wal = await Wal.open(path.join(dir, `n${id}`));
      const host = new MultiRaftHost({
        nodeId: id,
        wal,
        sender: net.sender(id),
        rand: { int: (n) => (id * 7 + 3) % n },
        tickMs: 5,
        apply: (g, ents) => applied.set(`${id}/${g}`, (applied.get(`${id}/${g}`) ?? 0) + ents.length),
        raft: { checkQuorum: true, readOnlyOption: 'lease-based' },
      });
      net.hosts.set(id, host);
      for (let g = 1; g <= GROUPS; g++) await host.addGroup(g, [1, 2, 3]);
    }
    // Spread leadership: group g starts its election on node 1 + g % 3.
    for (let g = 1; g <= GROUPS; g++) net.hosts.get(1 + (g % 3))?.campaign(g);
  });

  afterEach(async () => {
    for (const h of net.hosts.values()) await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops every message and tick once groups are idle, and wakes a group on a proposal', async () => {
    await until(() => Array.from({ length: GROUPS }, (_, i) => leaderOf(i + 1)).every((l) => l !== undefined), 'leaders');
    await until(allQuiesced, 'all groups quiesced on all nodes');
    // On a loaded machine a group can quiesce a few ticks late (a stalled event loop delays the
    // last heartbeat round): wait until nothing at all was sent for 20 ticks, then measure.
    let quietSince = net.sent;
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      if (net.sent === quietSince && allQuiesced()) break;
      quietSince = net.sent;
    }
    const before = net.sent;
    await sleep(300); // 60 ticks: without quiescence, 20 leaders × 2 followers × 60 heartbeats
    expect(net.sent - before).toBe(0);

    const g = 5;
    const leader = net.hosts.get(leaderOf(g) as number) as MultiRaftHost;
    const index = await leader.propose(g, Buffer.from('wake up'));
    expect(index).toBeGreaterThan(0);
    await until(() => [1, 2, 3].every((id) => applied.get(`${id}/${g}`) === 1), 'applied everywhere');
    // Only that group woke; it goes back to sleep once the entry is everywhere.
    await until(allQuiesced, 'quiesced again');
    expect(leader.stats.wakeups).toBeGreaterThan(0);
  }, 30_000);

  it('a quiesced leader reports no lease until it has heard from a quorum again', async () => {
    await until(() => leaderOf(1) !== undefined, 'leader');
    await until(allQuiesced, 'all quiesced');
    const h = net.hosts.get(leaderOf(1) as number) as MultiRaftHost;
    expect(h.leaseValid(1)).toBe(false); // its tick clock stood still: never trust it
    expect(h.isQuiesced(1)).toBe(false);
    await until(() => h.leaseValid(1), 'lease re-earned after a heartbeat round');
  }, 30_000);

  it('followers of a leader that died while quiesced elect a new one', async () => {
    await until(() => Array.from({ length: GROUPS }, (_, i) => leaderOf(i + 1)).every((l) => l !== undefined), 'leaders');
    await until(allQuiesced, 'all quiesced');
    const led = Array.from({ length: GROUPS }, (_, i) => i + 1).filter((g) => leaderOf(g) === 1);
    expect(led.length).toBeGreaterThan(0);
    net.down.add(1);
    // What the transport does when a peer's connection drops.
    net.hosts.get(2)?.reportUnreachable(1);
    net.hosts.get(3)?.reportUnreachable(1);
    for (const g of led) {
      await until(() => [2, 3].some((id) => net.hosts.get(id)?.status(g).state === 'leader'), `new leader for group ${g}`);
    }
    const h2 = net.hosts.get(2) as MultiRaftHost;
    const g = led[0];
    const l = h2.status(g).state === 'leader' ? h2 : (net.hosts.get(3) as MultiRaftHost);
    await l.propose(g, Buffer.from('after failover'));
  }, 30_000);
});
