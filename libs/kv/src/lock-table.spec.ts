import { LockTable, WaitGraph, findDeadlockVictim } from './lock-table';

const k = (s: string): Buffer => Buffer.from(s);

describe('LockTable', () => {
  it('grants in FIFO order on release and re-grants the holder at once', async () => {
    const t = new LockTable();
    expect(await t.acquire(k('a'), 'T1', 10)).toEqual({ granted: true });
    expect(await t.acquire(k('a'), 'T1', 10)).toEqual({ granted: true });
    const w2 = t.acquire(k('a'), 'T2', 1000);
    const w3 = t.acquire(k('a'), 'T3', 1000);
    t.release('T1');
    expect(await w2).toEqual({ granted: true });
    expect(t.holder(k('a'))).toBe('T2');
    t.release('T2');
    expect(await w3).toEqual({ granted: true });
    t.release('T3');
    expect(t.size).toBe(0);
  });

  it('answers who holds the lock when the wait runs out, and keeps the place in line', async () => {
    const t = new LockTable();
    await t.acquire(k('a'), 'T1', 10);
    expect(await t.acquire(k('a'), 'T2', 20)).toEqual({ granted: false, holder: 'T1' });
    const again = t.acquire(k('a'), 'T2', 1000);
    t.release('T1');
    expect(await again).toEqual({ granted: true });
  });

  it('a released transaction leaves every queue, so no lock is handed to it afterwards', async () => {
    const t = new LockTable();
    await t.acquire(k('a'), 'T1', 10);
    expect(await t.acquire(k('a'), 'T2', 20)).toMatchObject({ granted: false });
    t.release('T2'); // gave up (deadlock victim)
    t.release('T1');
    expect(t.holder(k('a'))).toBeUndefined();
  });

  it('hands a lock whose holder went quiet past its lease to the head of the line', async () => {
    let now = 0;
    const t = new LockTable({ leaseMs: 1000, now: () => now });
    await t.acquire(k('a'), 'T1', 10);
    now = 5000;
    expect(await t.acquire(k('a'), 'T2', 10)).toEqual({ granted: true });
    expect(t.holder(k('a'))).toBe('T2');
  });

  it('a waiter that stopped asking (its gateway died) does not keep a dead holder\'s lock from being taken over', async () => {
    let now = 0;
    const t = new LockTable({ leaseMs: 1000, waiterTtlMs: 500, now: () => now });
    await t.acquire(k('a'), 'A', 10); // A's gateway then dies
    expect(await t.acquire(k('a'), 'B', 5)).toMatchObject({ granted: false }); // B waits once, then dies too
    now = 5000;
    expect(await t.acquire(k('a'), 'C', 5)).toEqual({ granted: true });
    expect(t.holder(k('a'))).toBe('C');
    // And a release skips waiters that went away.
    expect(await t.acquire(k('a'), 'D', 5)).toMatchObject({ granted: false });
    now = 6000;
    const e = t.acquire(k('a'), 'E', 1000);
    t.release('C');
    expect(await e).toEqual({ granted: true });
    expect(t.holder(k('a'))).toBe('E');
  });

  it('clear() lets every waiter through (leadership lost)', async () => {
    const t = new LockTable();
    await t.acquire(k('a'), 'T1', 10);
    const w = t.acquire(k('a'), 'T2', 10_000);
    t.clear();
    expect(await w).toEqual({ granted: true });
  });
});

describe('WaitGraph', () => {
  it('reports the edge that closes a cycle', () => {
    const g = new WaitGraph();
    expect(g.wait('A', 'B')).toBe(false);
    expect(g.wait('B', 'C')).toBe(false);
    expect(g.wait('C', 'A')).toBe(true);
    g.done('C');
    expect(g.wait('C', 'D')).toBe(false);
  });
});

describe('waitEdges and findDeadlockVictim (deadlocks across gateways)', () => {
  it('lists who waits for whom, and drops waiters that stopped asking', async () => {
    let now = 0;
    const t = new LockTable({ now: () => now, waiterTtlMs: 2000 });
    await t.acquire(k('a'), 'T1', 5);
    await t.acquire(k('b'), 'T2', 5);
    expect(await t.acquire(k('a'), 'T2', 5)).toMatchObject({ granted: false });
    expect(await t.acquire(k('b'), 'T1', 5)).toMatchObject({ granted: false });
    expect(t.waitEdges().sort()).toEqual([
      ['T1', 'T2'],
      ['T2', 'T1'],
    ]);
    now = 5000;
    expect(t.waitEdges()).toEqual([]);
  });

  it('names the largest id of a cycle through the transaction, and nothing without one', () => {
    const edges = [['t3', 't7'], ['t7', 't5'], ['t5', 't3'], ['t9', 't3']] as const;
    for (const member of ['t3', 't5', 't7']) expect(findDeadlockVictim(member, edges)).toBe('t7');
    // t9 waits on the cycle but is not in it: not its business.
    expect(findDeadlockVictim('t9', edges)).toBeUndefined();
    expect(findDeadlockVictim('t1', [['t1', 't2'], ['t2', 't3']])).toBeUndefined();
  });
});
