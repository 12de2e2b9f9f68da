import { createHash } from 'node:crypto';
import { SimClock, TickClock } from './clock';
import { SimDisk } from './disk';
import { EventQueue } from './event-queue';
import { SimNetwork } from './network';
import { Prng } from './prng';

function drain<M>(net: SimNetwork<M>, clock: SimClock): { at: number; from: number; to: number; msg: M }[] {
  const out: { at: number; from: number; to: number; msg: M }[] = [];
  for (let at = net.nextAt(); at !== undefined; at = net.nextAt()) {
    clock.advanceTo(at);
    const d = net.popDue(clock.now);
    if (d) out.push({ at, from: d.from, to: d.to, msg: d.msg });
  }
  return out;
}

describe('EventQueue', () => {
  it('orders by time, then by insertion', () => {
    const q = new EventQueue<string>();
    q.push(5, 'c');
    q.push(1, 'a');
    q.push(5, 'd');
    q.push(1, 'b');
    q.removeWhere((x) => x === 'd');
    const out: string[] = [];
    for (let e = q.pop(); e; e = q.pop()) out.push(e.item);
    expect(out).toEqual(['a', 'b', 'c']);
  });
});

describe('SimNetwork', () => {
  it('delivers in delivery-time order, with partitions, drops and duplicates', () => {
    const clock = new SimClock();
    const net = new SimNetwork<number>(new Prng(1));
    net.setLink(1, 2, { duplicateRate: 1 });
    net.setLink(1, 3, { dropRate: 1 });
    net.send(1, 2, 10, 0);
    net.send(1, 3, 11, 0);
    net.partitionOneWay([2], [1]);
    net.send(2, 1, 12, 0);
    net.send(1, 2, 13, 0);
    const got = drain(net, clock);
    expect(got.map((d) => d.msg).sort()).toEqual([10, 10, 13, 13]);
    for (let i = 1; i < got.length; i++) expect(got[i].at).toBeGreaterThanOrEqual(got[i - 1].at);
    expect(net.stats.dropped).toBe(1);
    expect(net.stats.blocked).toBe(1);
    net.heal();
    net.send(2, 1, 14, clock.now);
    expect(drain(net, clock).map((d) => d.msg)).toEqual([14]);
  });

  it('reorders messages on a link when asked', () => {
    const clock = new SimClock();
    const net = new SimNetwork<number>(new Prng(5), { minDelayMs: 1, maxDelayMs: 1, dropRate: 0, duplicateRate: 0, reorderRate: 0.5, reorderDelayMs: 20 });
    for (let i = 0; i < 50; i++) net.send(1, 2, i, i);
    const order = drain(net, clock).map((d) => d.msg);
    expect(order.slice().sort((a, b) => a - b)).toEqual(order.slice().sort((a, b) => a - b));
    expect(order).not.toEqual(order.slice().sort((a, b) => a - b));
  });

  it('is a pure function of the seed', () => {
    const run = (seed: number): string => {
      const clock = new SimClock();
      const lines: string[] = [];
      const net = new SimNetwork<number>(new Prng(seed).fork('net'), undefined, (l) => lines.push(l));
      net.setDefaults({ minDelayMs: 1, maxDelayMs: 30, dropRate: 0.1, duplicateRate: 0.1, reorderRate: 0.1, reorderDelayMs: 40 });
      for (let i = 0; i < 200; i++) net.send(1 + (i % 3), 1 + ((i + 1) % 3), i, i);
      for (const d of drain(net, clock)) lines.push(`${d.at} ${d.from}->${d.to} ${d.msg}`);
      return createHash('sha256').update(lines.join('\n')).digest('hex');
    };
    expect(run(17)).toBe(run(17));
    expect(run(17)).not.toBe(run(18));
  });
});

describe('SimDisk', () => {
  it('keeps synced writes across a crash and loses (some) unsynced ones', () => {
    const disk = new SimDisk<number>(new Prng(2), {
      syncMinMs: 1,
      syncMaxMs: 1,
      slowSyncMinMs: 100,
      slowSyncMaxMs: 100,
      partialFlushRate: 0,
      tearRate: 0,
    });
    disk.write(1);
    disk.write(2);
    const t = disk.beginSync();
    disk.write(3);
    disk.completeSync(t);
    expect(disk.unsyncedCount).toBe(1);
    expect(disk.crash()).toEqual({ lost: 1, torn: false });
    expect(disk.durableRecords()).toEqual([1, 2]);
    disk.setSlow(true);
    expect(disk.beginSync().latencyMs).toBe(100);
  });

  it('may flush a prefix of unsynced writes and tear the last one', () => {
    let sawPartial = false;
    let sawTorn = false;
    for (let seed = 1; seed < 50; seed++) {
      const disk = new SimDisk<number>(new Prng(seed));
      for (let i = 0; i < 5; i++) disk.write(i);
      const r = disk.crash();
      const kept = disk.durableRecords();
      // Whatever survives is always a prefix of what was written.
      expect(kept).toEqual([0, 1, 2, 3, 4].slice(0, kept.length));
      expect(r.lost + kept.length).toBe(5); // a torn record counts as lost
      sawPartial ||= kept.length > 0;
      sawTorn ||= r.torn;
    }
    expect(sawPartial && sawTorn).toBe(true);
  });

  it('a crash during a slow sync loses the writes it covered', () => {
    const disk = new SimDisk<string>(new Prng(3), {
      syncMinMs: 0,
      syncMaxMs: 0,
      slowSyncMinMs: 50,
      slowSyncMaxMs: 50,
      partialFlushRate: 0,
      tearRate: 0,
    });
    disk.setSlow(true);
    disk.write('a');
    disk.beginSync();
    disk.crash(); // before completeSync
    expect(disk.durableRecords()).toEqual([]);
  });
});

describe('TickClock', () => {
  it('skews and stalls ticks', () => {
    const c = new TickClock(10);
    expect(c.nextTickAt(0)).toBe(10);
    c.setRate(1.5);
    expect(c.nextTickAt(10)).toBe(25);
    c.stall(100);
    expect(c.nextTickAt(25)).toBe(100);
    c.reset();
    expect(c.nextTickAt(100)).toBe(110);
  });
});
