// The leader's sweep of staged (large) transactions. The gateway that ran such a transaction
// normally settles its intents itself right after COMMIT or ROLLBACK; this sweep finishes the
// job when it could not: the gateway crashed, the leader changed under it, or a resolve was
// lost. Decided transactions whose chunks stop shrinking get resolve-staged entries; open ones
// that make no progress for `idleMs` are aborted (their writer is presumed gone), so abandoned
// intents never block writers forever. Everything it does goes through the log, so replicas
// stay deterministic; only the decision to propose uses this leader's clock.
import type { Timestamp } from '@weft/logentry';

/** What the state machine reports about one staged transaction (Materializer.stagedTransactions). */
export interface StagedTxnView {
  readonly txnId: Buffer;
  readonly state: 'pending' | 'committed' | 'aborted' | 'prepared';
  readonly lastIndex: number;
  readonly chunks: number;
}

export interface StagedSweepOptions {
  /** An open transaction idle this long is aborted (default 5 minutes). */
  readonly idleMs?: number;
  /** A decided transaction nobody resolved for this long is resolved here (default 2 s). */
  readonly graceMs?: number;
}

interface Seen {
  lastIndex: number;
  chunks: number;
  sinceMs: number;
  proposing: boolean;
}

export class StagedSweep {
  private readonly seen = new Map<string, Seen>();
  private readonly idleMs: number;
  private readonly graceMs: number;

  constructor(options: StagedSweepOptions = {}) {
    this.idleMs = options.idleMs ?? 5 * 60_000;
    this.graceMs = options.graceMs ?? 2_000;
  }

  /**
   * One pass. `nowUs` is the leader's wall clock; `resolve` proposes a resolve-staged entry.
   * Followers call it with `leading` false, which forgets what was seen (a new leader starts
   * its clocks afresh, which only delays the sweep).
   */
  tick(leading: boolean, txns: readonly StagedTxnView[], nowUs: Timestamp, resolve: (txnId: Buffer, abort: boolean) => Promise<unknown>): void {
    if (!leading) {
      this.seen.clear();
      return;
    }
    const nowMs = Number(nowUs / 1000n);
    const live = new Set<string>();
    for (const t of txns) {
      const id = t.txnId.toString('hex');
      live.add(id);
      // A prepared one waits for the decision on its primary's shard: whoever meets its intents
      // resolves it from there (an idle abort here could contradict a commit there).
      if (t.state === 'prepared') continue;
      let s = this.seen.get(id);
      if (s === undefined || s.lastIndex !== t.lastIndex || s.chunks !== t.chunks) {
        s = { lastIndex: t.lastIndex, chunks: t.chunks, sinceMs: nowMs, proposing: s?.proposing ?? false };
        this.seen.set(id, s);
        continue;
      }
      const wait = t.state === 'pending' ? this.idleMs : this.graceMs;
      if (s.proposing || nowMs - s.sinceMs < wait) continue;
      s.proposing = true;
      const entry = s;
      // One entry settles one chunk: send as many as there are chunks, one after another.
      const abort = t.state === 'pending';
      void (async () => {
        try {
          for (let i = 0; i < Math.max(1, t.chunks); i++) await resolve(t.txnId, abort);
        } catch {
          // Not leading any more, or the log is stuck: the next pass (or leader) retries.
        } finally {
          entry.proposing = false;
        }
      })();
    }
    for (const id of [...this.seen.keys()]) if (!live.has(id)) this.seen.delete(id);
  }
}
