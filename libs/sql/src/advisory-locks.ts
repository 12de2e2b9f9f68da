// Advisory locks (pg_advisory_lock and friends) among the sessions of one gateway. Between
// gateways, cluster-advisory-locks.ts adds a leased hold per key (decision 0050): this table
// orders a gateway's own sessions, that one orders gateways.
//
// Semantics follow PostgreSQL: a lock is exclusive or shared; session-level locks stack (each
// lock call needs an unlock) and outlive transactions; transaction-level locks are released at
// COMMIT/ROLLBACK and cannot be unlocked explicitly; a session re-acquires what it already holds
// without waiting; waiters queue in arrival order and give up on cancel / statement_timeout.
import { sqlError } from './errors';
import { STATEMENT_TIMEOUT } from './exec/nodes';

export type AdvisoryMode = 'exclusive' | 'shared';
export type AdvisoryScope = 'session' | 'xact';

interface Holds {
  /** Counts per mode and scope. */
  readonly n: Record<`${AdvisoryMode}:${AdvisoryScope}`, number>;
}

interface Waiter {
  readonly owner: number;
  readonly mode: AdvisoryMode;
  readonly grant: () => void;
}

interface LockState {
  readonly holders: Map<number, Holds>;
  readonly waiters: Waiter[];
}

const emptyHolds = (): Holds => ({ n: { 'exclusive:session': 0, 'exclusive:xact': 0, 'shared:session': 0, 'shared:xact': 0 } });
const total = (h: Holds, mode?: AdvisoryMode): number =>
  mode ? h.n[`${mode}:session`] + h.n[`${mode}:xact`] : h.n['exclusive:session'] + h.n['exclusive:xact'] + h.n['shared:session'] + h.n['shared:xact'];

/** An advisory lock key as pg_locks shows it: one bigint, or two int4s. */
export function advisoryKey(args: readonly (number | bigint)[]): string {
  return args.length === 1 ? `b:${BigInt(args[0])}` : `i:${Number(args[0])}:${Number(args[1])}`;
}

export class AdvisoryLockTable {
  private readonly locks = new Map<string, LockState>();

  /**
   * Takes the lock for `owner` (a session's pid). With `wait` false answers at once whether it
   * was granted; with `wait` true queues until granted or `signal` fires (57014).
   */
  async acquire(owner: number, key: string, mode: AdvisoryMode, scope: AdvisoryScope, wait: boolean, signal?: AbortSignal): Promise<boolean> {
    const state = this.state(key);
    if (this.grantable(state, owner, mode) && (state.waiters.length === 0 || state.holders.has(owner))) {
      this.take(state, owner, mode, scope);
      return true;
    }
    if (!wait) {
      this.dropIfIdle(key, state);
      return false;
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = state.waiters.indexOf(waiter);
        if (i >= 0) state.waiters.splice(i, 1);
        this.wake(key, state);
        reject(sqlError('57014', signal?.reason === STATEMENT_TIMEOUT ? 'canceling statement due to statement timeout' : 'canceling statement due to user request'));
      };
      const waiter: Waiter = {
        owner,
        mode,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.take(state, owner, mode, scope);
          resolve();
        },
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      state.waiters.push(waiter);
    });
    return true;
  }

  /** pg_advisory_unlock: one session-level hold; false (and the caller warns) if none. */
  release(owner: number, key: string, mode: AdvisoryMode): boolean {
    const state = this.locks.get(key);
    const h = state?.holders.get(owner);
    if (!state || !h || h.n[`${mode}:session`] === 0) return false;
    h.n[`${mode}:session`]--;
    if (total(h) === 0) state.holders.delete(owner);
    this.wake(key, state);
    return true;
  }

  /** Session end / pg_advisory_unlock_all (session scope) or transaction end (xact scope). */
  releaseAll(owner: number, scope: AdvisoryScope): void {
    for (const [key, state] of this.locks) {
      const h = state.holders.get(owner);
      if (!h) continue;
      h.n[`exclusive:${scope}`] = 0;
      h.n[`shared:${scope}`] = 0;
      if (total(h) === 0) state.holders.delete(owner);
      this.wake(key, state);
    }
  }

  /** Takes back one hold just granted (its cluster-wide part was refused or cancelled). */
  undo(owner: number, key: string, mode: AdvisoryMode, scope: AdvisoryScope): void {
    const state = this.locks.get(key);
    const h = state?.holders.get(owner);
    if (!state || !h || h.n[`${mode}:${scope}`] === 0) return;
    h.n[`${mode}:${scope}`]--;
    if (total(h) === 0) state.holders.delete(owner);
    this.wake(key, state);
  }

  /** The strongest mode any session holds `key` in; undefined when none does. */
  modeHeld(key: string): AdvisoryMode | undefined {
    const state = this.locks.get(key);
    if (!state) return undefined;
    let mode: AdvisoryMode | undefined;
    for (const h of state.holders.values()) {
      if (total(h, 'exclusive') > 0) return 'exclusive';
      if (total(h, 'shared') > 0) mode = 'shared';
    }
    return mode;
  }

  /** Sessions holding `key` in any mode. */
  holdersOf(key: string): number[] {
    return [...(this.locks.get(key)?.holders.keys() ?? [])];
  }

  /** Locks held, for pg_locks: key, owner, mode and whether granted. */
  held(): { key: string; owner: number; mode: AdvisoryMode }[] {
    const out: { key: string; owner: number; mode: AdvisoryMode }[] = [];
    for (const [key, state] of this.locks) {
      for (const [owner, h] of state.holders) {
        if (total(h, 'exclusive') > 0) out.push({ key, owner, mode: 'exclusive' });
        if (total(h, 'shared') > 0) out.push({ key, owner, mode: 'shared' });
      }
    }
    return out;
  }

  private state(key: string): LockState {
    let s = this.locks.get(key);
    if (!s) {
      s = { holders: new Map(), waiters: [] };
      this.locks.set(key, s);
    }
    return s;
  }

  private grantable(state: LockState, owner: number, mode: AdvisoryMode): boolean {
    for (const [other, h] of state.holders) {
      if (other === owner) continue;
      if (mode === 'exclusive' ? total(h) > 0 : total(h, 'exclusive') > 0) return false;
    }
    return true;
  }

  private take(state: LockState, owner: number, mode: AdvisoryMode, scope: AdvisoryScope): void {
    let h = state.holders.get(owner);
    if (!h) {
      h = emptyHolds();
      state.holders.set(owner, h);
    }
    h.n[`${mode}:${scope}`]++;
  }

  /** Grants queued waiters in arrival order while they are compatible. */
  private wake(key: string, state: LockState): void {
    while (state.waiters.length > 0 && this.grantable(state, state.waiters[0].owner, state.waiters[0].mode)) {
      const w = state.waiters.shift();
      w?.grant();
    }
    this.dropIfIdle(key, state);
  }

  private dropIfIdle(key: string, state: LockState): void {
    if (state.holders.size === 0 && state.waiters.length === 0) this.locks.delete(key);
  }
}

export const advisoryUnlockWarning = (mode: AdvisoryMode): { severity: 'WARNING'; code: string; message: string } => ({
  severity: 'WARNING',
  code: '01000',
  message: `you don't own a lock of type ${mode === 'exclusive' ? 'ExclusiveLock' : 'ShareLock'}`,
});
