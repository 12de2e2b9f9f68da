import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Message } from '@weft/raft';
import { Wal } from '@weft/wal';
import { MultiRaftHost, NotLeaderError, ReadIndexTimeoutError, type HostOptions, type RaftSender } from './host';

/** Three hosts with real WALs on an in-process network that can cut a node off. */
class Net {
  readonly hosts = new Map<number, MultiRaftHost>();
  readonly down = new Set<number>();
  sender(from: number): RaftSender {
    return {
      send: (to, groupId, m: Message) => {
        if (this.down.has(from) || this.down.has(to)) return true;
        setImmediate(() => this.hosts.get(to)?.receive(groupId, m));
        return true;
      },
    };
  }
}

const G = 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('MultiRaftHost.readIndex', () => {
  let dir: string;
  let net: Net;
  /** Highest index each node handed to its apply callback. */
  const applied = new Map<number, number>();

  async function start(extra: Partial<HostOptions> = {}): Promise<void> {
    for (const id of [1, 2, 3]) {
      const wal = await Wal.open(path.join(dir, `n${id}`));
      const host = new MultiRaftHost({
        nodeId: id,
        wal,
        sender: net.sender(id),
        rand: { int: (n) => (id * 7 + 3) % n },
        tickMs: 5,
        apply: (_g, ents) => applied.set(id, Math.max(applied.get(id) ?? 0, ...ents.map((e) => e.index))),
        ...extra,
      });
      net.hosts.set(id, host);
      await host.addGroup(G, [1, 2, 3]);
    }
    net.hosts.get(1)?.campaign(G);
    await until(() => leaderId() !== undefined, 'a leader');
  }

  const leaderId = (): number | undefined =>
    [...net.hosts].find(([id, h]) => !net.down.has(id) && h.status(G).state === 'leader')?.[0];
  const host = (id: number | undefined): MultiRaftHost => net.hosts.get(id as number) as MultiRaftHost;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'weft-readindex-'));
    net = new Net();
    applied.clear();
  });

  afterEach(async () => {
    for (const h of net.hosts.values()) await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns a read point at or after every write acknowledged before the call, applied here', async () => {
    await start({ quiesce: false });
    const lid = leaderId() as number;
    const l = host(lid);
    for (let i = 0; i < 5; i++) {
      const written = await l.propose(G, Buffer.from(`w${i}`));
      const readAt = await l.readIndex(G);
      expect(readAt).toBeGreaterThanOrEqual(written);
      expect(applied.get(lid)).toBeGreaterThanOrEqual(readAt);
      // Nothing was appended for the read: the log ends at the write.
      expect(l.status(G).commit).toBe(written);
    }
  }, 20_000);

  it('batches concurrent callers into one request per cycle', async () => {
    await start({ quiesce: false });
    const l = host(leaderId());
    const written = await l.propose(G, Buffer.from('x'));
    const before = l.stats.readIndexRequests;
    const points = await Promise.all(Array.from({ length: 100 }, () => l.readIndex(G)));
    for (const p of points) expect(p).toBeGreaterThanOrEqual(written);
    const requests = l.stats.readIndexRequests - before;
    expect(l.stats.readIndexReads).toBeGreaterThanOrEqual(100);
    expect(requests).toBeGreaterThanOrEqual(1);
    expect(requests).toBeLessThanOrEqual(2);
  }, 20_000);

  it('refuses on a follower with the leader as hint', async () => {
    await start({ quiesce: false });
    const lid = leaderId() as number;
    const follower = host([1, 2, 3].find((id) => id !== lid));
    await until(() => follower.status(G).lead === lid, 'follower knows the leader');
    const err = await follower.readIndex(G).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leader).toBe(lid);
  }, 20_000);

  it('wakes a quiesced group and answers', async () => {
    await start();
    const l = host(leaderId());
    const written = await l.propose(G, Buffer.from('before sleep'));
    await until(() => [...net.hosts.values()].every((h) => h.isQuiesced(G)), 'group quiesced everywhere');
    const readAt = await l.readIndex(G);
    expect(readAt).toBeGreaterThanOrEqual(written);
    expect(l.isQuiesced(G)).toBe(false);
    // The read does not keep the group awake: it goes back to sleep.
    await until(() => [...net.hosts.values()].every((h) => h.isQuiesced(G)), 'quiesced again');
  }, 20_000);

  it('a partitioned old leader cannot complete a read; the new leader reads past the new write', async () => {
    await start({ quiesce: false });
    const oldId = leaderId() as number;
    const old = host(oldId);
    await old.propose(G, Buffer.from('before partition'));
    net.down.add(oldId);
    const stale = old.readIndex(G).then(
      () => 'answered',
      (e: unknown) => e,
    );
    await until(() => leaderId() !== undefined, 'a new leader among the majority');
    const fresh = host(leaderId());
    const written = await fresh.propose(G, Buffer.from('after partition'));
    expect(await fresh.readIndex(G)).toBeGreaterThanOrEqual(written);
    const outcome = await stale;
    // Whichever comes first: its timeout, or CheckQuorum deposing it.
    expect(outcome === 'answered').toBe(false);
    expect(outcome instanceof ReadIndexTimeoutError || outcome instanceof NotLeaderError).toBe(true);
  }, 20_000);

  it('times out with a typed error when no quorum answers', async () => {
    // Timeout well inside the election timeout (10 ticks): the leader still believes it leads.
    await start({ quiesce: false, readIndexTimeoutTicks: 3 });
    const lid = leaderId() as number;
    const l = host(lid);
    net.down.add(lid);
    const err = await l.readIndex(G).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadIndexTimeoutError);
    expect((err as ReadIndexTimeoutError).groupId).toBe(G);
  }, 20_000);

  it('rejects with NotLeaderError when leadership is lost while the read waits', async () => {
    await start({ quiesce: false, readIndexTimeoutTicks: 10_000 });
    const lid = leaderId() as number;
    const l = host(lid);
    net.down.add(lid);
    const err = await l.readIndex(G).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect(l.status(G).state).not.toBe('leader');
  }, 20_000);
});
