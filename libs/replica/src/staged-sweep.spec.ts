import { StagedSweep, type StagedTxnView } from './staged-sweep';

const id = Buffer.from('0123456789abcdef');
const view = (state: StagedTxnView['state'], lastIndex: number, chunks: number): StagedTxnView => ({ txnId: id, state, lastIndex, chunks });
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('StagedSweep', () => {
  it('aborts an open transaction only after it made no progress for idleMs, settling every chunk', async () => {
    const sweep = new StagedSweep({ idleMs: 10_000, graceMs: 1_000 });
    const sent: boolean[] = [];
    const resolve = async (_t: Buffer, abort: boolean): Promise<void> => {
      sent.push(abort);
    };
    sweep.tick(true, [view('pending', 5, 3)], 0n, resolve);
    sweep.tick(true, [view('pending', 5, 3)], 9_000_000n, resolve);
    expect(sent).toEqual([]);
    // Progress (a new chunk) restarts the clock.
    sweep.tick(true, [view('pending', 7, 4)], 9_500_000n, resolve);
    sweep.tick(true, [view('pending', 7, 4)], 19_000_000n, resolve);
    expect(sent).toEqual([]);
    sweep.tick(true, [view('pending', 7, 4)], 19_600_000n, resolve);
    await flush();
    expect(sent).toEqual([true, true, true, true]);
  });

  it('resolves a decided transaction nobody settles within the grace period, and never while following', async () => {
    const sweep = new StagedSweep({ idleMs: 10_000, graceMs: 1_000 });
    const sent: boolean[] = [];
    const resolve = async (_t: Buffer, abort: boolean): Promise<void> => {
      sent.push(abort);
    };
    sweep.tick(true, [view('committed', 9, 2)], 0n, resolve);
    sweep.tick(false, [view('committed', 9, 2)], 5_000_000n, resolve);
    sweep.tick(true, [view('committed', 9, 2)], 6_000_000n, resolve);
    expect(sent).toEqual([]);
    sweep.tick(true, [view('committed', 9, 2)], 7_000_000n, resolve);
    await flush();
    expect(sent).toEqual([false, false]);
  });
});
