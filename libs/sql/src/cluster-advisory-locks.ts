// Advisory locks across gateways (decision 0050). Two levels:
//
//  - Inside one gateway the local table (advisory-locks.ts) orders the sessions: stacking,
//    session vs transaction scope, arrival order, cancel.
//  - Between gateways, a gateway that has any local holder of a key holds a cluster hold on it:
//    a record in the system keyspace (/4/1/<key>, on the system shard) naming each holding
//    gateway with its mode and lease expiry, written by ordinary serializable transactions, so
//    two gateways racing for a key conflict at commit and one retries. A blocked gateway polls
//    with backoff (no cross-gateway queue order: PostgreSQL does not promise fairness either).
//
// Leases: a holding gateway renews its records every leaseMs/5. A gateway that crashed stops
// renewing and its holds lapse after leaseMs; others then take the key. A live gateway that
// cannot renew (system shard unreachable) for leaseMs - marginMs since its last confirmed
// renewal gives its holds up: the sessions holding them are ended (FATAL 57P01 on their next
// statement), because another gateway may now hold the lock. The margin covers the clock offset
// between the gateway's clock and the cluster timestamps the expiry is written in.
import { randomUUID } from 'node:crypto';
import { PgError } from '@weft/pgwire';
import { encodeIndexKey, type IndexKeySpec } from '@weft/storage';
import type { Txn } from '@weft/txn';
import { AdvisoryLockTable, type AdvisoryMode, type AdvisoryScope } from './advisory-locks';
import { sqlError } from './errors';
import { STATEMENT_TIMEOUT } from './exec/nodes';

const ADVISORY: IndexKeySpec = { tableId: 4, indexId: 1, types: ['text'], directions: ['asc'] };
export const advisoryRecordKey = (key: string): Buffer => encodeIndexKey(ADVISORY, [{ type: 'text', value: key }]);

interface Holder {
  readonly mode: AdvisoryMode;
  /** Cluster timestamp (µs) after which the hold is void unless renewed. */
  readonly expiresUs: string;
}

type LockRecord = Record<string, Holder>;

function parseRecord(v: Buffer | undefined): LockRecord {
  if (v === undefined) return {};
  return JSON.parse(v.toString('utf8')) as LockRecord;
}

const encodeRecord = (r: LockRecord): Buffer => Buffer.from(JSON.stringify(r), 'utf8');

export interface ClusterAdvisoryLocksOptions {
  readonly newTxn: () => Txn;
  /** Runs `fn` again on serialization failures (Engine.retry). */
  readonly retry: <T>(fn: () => Promise<T>) => Promise<T>;
  /** How long a hold lasts without renewal (default 15 s). */
  readonly leaseMs?: number;
  /** Given up this long before the lease runs out, for clock offset (default 3 s). */
  readonly marginMs?: number;
  /** Monotonic milliseconds (tests move it by hand). */
  readonly nowMs?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called with the sessions whose locks were given up. */
  readonly onLost?: (pids: readonly number[]) => void;
}

interface ClusterHold {
  mode: AdvisoryMode;
  /** Local time at which the last confirmed write of this hold started. */
  confirmedAt: number;
}

const abortError = (signal: AbortSignal | undefined): Error =>
  sqlError('57014', signal?.reason === STATEMENT_TIMEOUT ? 'canceling statement due to statement timeout' : 'canceling statement due to user request');

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class ClusterAdvisoryLocks {
  readonly gatewayId = randomUUID();
  private readonly local = new AdvisoryLockTable();
  private readonly holds = new Map<string, ClusterHold>();
  /** Per key, the chain of cluster operations (they must not interleave). */
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly lost = new Set<number>();
  private renewTimer: NodeJS.Timeout | undefined;
  private renewing = false;
  private readonly leaseMs: number;
  private readonly marginMs: number;
  private readonly nowMs: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(private readonly o: ClusterAdvisoryLocksOptions) {
    this.leaseMs = o.leaseMs ?? 15_000;
    this.marginMs = o.marginMs ?? 3_000;
    if (this.marginMs * 2 >= this.leaseMs) throw new Error(`advisory lock lease ${this.leaseMs} ms must exceed twice its margin ${this.marginMs} ms`);
    this.nowMs = o.nowMs ?? (() => performance.now());
    this.sleep = o.sleep ?? defaultSleep;
  }

  /**
   * Takes the lock for session `owner`: first among this gateway's sessions, then (if this
   * gateway does not already hold it in a covering mode) among gateways. With `wait` false
   * answers at once; with `wait` true waits until granted or `signal` fires (57014).
   */
  async acquire(owner: number, key: string, mode: AdvisoryMode, scope: AdvisoryScope, wait: boolean, signal?: AbortSignal): Promise<boolean> {
    this.checkLost(owner);
    if (!(await this.local.acquire(owner, key, mode, scope, wait, signal))) return false;
    let granted = false;
    try {
      granted = await this.serial(key, () => this.holdInCluster(key, mode, wait, signal));
      return granted;
    } finally {
      if (!granted) {
        this.local.undo(owner, key, mode, scope);
        this.afterLocalRelease();
      }
    }
  }

  /** pg_advisory_unlock: one session-level hold; false (and the caller warns) if none. */
  release(owner: number, key: string, mode: AdvisoryMode): boolean {
    const released = this.local.release(owner, key, mode);
    if (released) this.afterLocalRelease();
    return released;
  }

  /** Session end / pg_advisory_unlock_all (session scope) or transaction end (xact scope). */
  releaseAll(owner: number, scope: AdvisoryScope): void {
    this.local.releaseAll(owner, scope);
    if (scope === 'session') this.lost.delete(owner);
    this.afterLocalRelease();
  }

  /** Locks held by this gateway's sessions, for pg_locks. */
  held(): { key: string; owner: number; mode: AdvisoryMode }[] {
    return this.local.held();
  }

  /** Whether this gateway holds `key` among gateways, and how (tests, diagnostics). */
  clusterMode(key: string): AdvisoryMode | undefined {
    return this.holds.get(key)?.mode;
  }

  /** A session whose locks were given up gets FATAL on its next statement: its client must know. */
  checkLost(owner: number): void {
    if (!this.lost.has(owner)) return;
    this.lost.delete(owner);
    throw new PgError('57P01', 'terminating connection because its advisory locks could not be kept', {
      detail: 'The gateway could not renew its cluster-wide advisory lock lease in time; another session may hold the lock now.',
    }, 'FATAL');
  }

  /** Stops renewing (the gateway is closing; its holds lapse or were released). */
  close(): void {
    if (this.renewTimer !== undefined) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }

  private serial<T>(key: string, op: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(op, op);
    const tail = next.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }

  private async holdInCluster(key: string, mode: AdvisoryMode, wait: boolean, signal: AbortSignal | undefined): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const have = this.holds.get(key);
      if (have !== undefined && (have.mode === 'exclusive' || have.mode === mode)) return true;
      if (signal?.aborted) throw abortError(signal);
      if (await this.tryHold(key, mode)) return true;
      if (!wait) return false;
      await this.sleep(Math.min(1000, 20 * 2 ** Math.min(attempt, 6)), signal);
      if (signal?.aborted) throw abortError(signal);
    }
  }

  /** One transaction: takes `key` in `mode` unless a live hold of another gateway conflicts. */
  private async tryHold(key: string, mode: AdvisoryMode): Promise<boolean> {
    const started = this.nowMs();
    const ok = await this.o.retry(async () => {
      const txn = this.o.newTxn();
      const rk = advisoryRecordKey(key);
      const rec = parseRecord(await txn.get(rk));
      const now = await txn.readTs();
      const live: LockRecord = {};
      for (const [gw, h] of Object.entries(rec)) if (gw === this.gatewayId || BigInt(h.expiresUs) >= now) live[gw] = h;
      const others = Object.entries(live).filter(([gw]) => gw !== this.gatewayId);
      if (others.some(([, h]) => mode === 'exclusive' || h.mode === 'exclusive')) {
        txn.rollback();
        return false;
      }
      live[this.gatewayId] = { mode, expiresUs: String(now + BigInt(this.leaseMs) * 1000n) };
      txn.put(rk, encodeRecord(live));
      await txn.commit();
      return true;
    });
    if (ok) {
      this.holds.set(key, { mode, confirmedAt: started });
      this.startRenewing();
    }
    return ok;
  }

  /** Gives up the cluster hold of every key no local session holds any more. */
  private afterLocalRelease(): void {
    for (const key of [...this.holds.keys()]) {
      if (this.local.modeHeld(key) !== undefined) continue;
      void this.serial(key, async () => {
        if (this.local.modeHeld(key) !== undefined || !this.holds.has(key)) return;
        this.holds.delete(key);
        // Best effort: if this fails the hold lapses with its lease (nothing renews it now).
        await this.o.retry(async () => {
          const txn = this.o.newTxn();
          const rk = advisoryRecordKey(key);
          const rec = parseRecord(await txn.get(rk));
          if (!(this.gatewayId in rec)) return txn.rollback();
          delete rec[this.gatewayId];
          if (Object.keys(rec).length === 0) txn.delete(rk);
          else txn.put(rk, encodeRecord(rec));
          await txn.commit();
        }).catch(() => undefined);
        if (this.holds.size === 0) this.close();
      });
    }
  }

  private startRenewing(): void {
    if (this.renewTimer !== undefined) return;
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.leaseMs / 5)));
    this.renewTimer.unref();
  }

  /** Extends every hold's lease in one transaction; gives up holds it could not confirm in time. */
  async renew(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      const keys = [...this.holds.keys()];
      if (keys.length > 0) {
        const started = this.nowMs();
        const stolen = await this.o.retry(async () => {
          const txn = this.o.newTxn();
          const now = await txn.readTs();
          const missing: string[] = [];
          for (const key of keys) {
            const rk = advisoryRecordKey(key);
            const rec = parseRecord(await txn.get(rk));
            const mine = rec[this.gatewayId];
            // Lapsed (and possibly taken by another gateway since): not ours to extend.
            if (mine === undefined || BigInt(mine.expiresUs) < now) {
              missing.push(key);
              continue;
            }
            rec[this.gatewayId] = { mode: mine.mode, expiresUs: String(now + BigInt(this.leaseMs) * 1000n) };
            txn.put(rk, encodeRecord(rec));
          }
          await txn.commit();
          return missing;
        }).catch(() => undefined);
        if (stolen !== undefined) {
          for (const key of keys) {
            const h = this.holds.get(key);
            if (h !== undefined && !stolen.includes(key)) h.confirmedAt = Math.max(h.confirmedAt, started);
          }
          for (const key of stolen) this.giveUp(key);
        }
      }
      const deadline = this.nowMs() - (this.leaseMs - this.marginMs);
      for (const [key, h] of [...this.holds]) if (h.confirmedAt < deadline) this.giveUp(key);
    } finally {
      this.renewing = false;
    }
  }

  /** The hold of `key` can no longer be vouched for: its sessions must learn it. */
  private giveUp(key: string): void {
    if (!this.holds.delete(key)) return;
    const pids = this.local.holdersOf(key);
    for (const pid of pids) {
      this.lost.add(pid);
      this.local.releaseAll(pid, 'session');
      this.local.releaseAll(pid, 'xact');
    }
    this.o.onLost?.(pids);
    this.afterLocalRelease();
  }
}
