// The leaseholder's table of exclusive row locks (SELECT ... FOR UPDATE, UPDATE, DELETE by key).
// Locks only make conflicting writers queue instead of failing: they are not replicated and not
// needed for correctness, because every commit is still validated at apply (a version newer
// than the transaction's read timestamp aborts it). So the table may forget everything on a
// leader change, and a lock whose holder has gone quiet for `leaseMs` (a crashed gateway) is
// handed to the next waiter; at worst one of the two then fails validation with 40001.
import { KvError } from './errors';

/** [waiting transaction, transaction holding the lock it waits for], both as hex ids. */
export type LockWaitEdge = readonly [waiter: string, holder: string];

export interface LockTableOptions {
  /** A lock held this long without its holder touching the table may be taken over (default 10 s). */
  readonly leaseMs?: number;
  /** A waiter that has not asked again for this long has gone away and loses its place (default 2 s). */
  readonly waiterTtlMs?: number;
  readonly now?: () => number;
}

/** What a lock request learned: granted, or still queued behind `holder` when the wait ran out. */
export type LockAttempt = { readonly granted: true } | { readonly granted: false; readonly holder: string };

interface Waiter {
  readonly txn: string;
  readonly grant: () => void;
  /** When it last asked (a waiter that stopped asking — its gateway died — loses its place). */
  readonly askedAt: number;
  /** Whether its request is still being held open. */
  waiting: boolean;
}

interface Lock {
  holder: string;
  since: number;
  readonly queue: Waiter[];
}

export class LockTable {
  private readonly locks = new Map<string, Lock>();
  private readonly byTxn = new Map<string, Set<string>>();
  private readonly leaseMs: number;
  private readonly waiterTtlMs: number;
  private readonly now: () => number;

  constructor(opts: LockTableOptions = {}) {
    this.leaseMs = opts.leaseMs ?? 10_000;
    this.waiterTtlMs = opts.waiterTtlMs ?? 2_000;
    this.now = opts.now ?? Date.now;
  }

  /** Drops waiters that stopped asking (their client is gone): they must not block the line. */
  private prune(lock: Lock): void {
    const now = this.now();
    for (let i = lock.queue.length - 1; i >= 0; i--) {
      const w = lock.queue[i];
      if (!w.waiting && now - w.askedAt >= this.waiterTtlMs) lock.queue.splice(i, 1);
    }
  }

  get size(): number {
    return this.locks.size;
  }

  holder(key: Buffer): string | undefined {
    return this.locks.get(key.toString('latin1'))?.holder;
  }

  /**
   * Takes the lock on `key` for `txn` (hex id), waiting at most `waitMs` in FIFO order. A
   * re-request by the holder is granted at once. After the wait it answers who still holds it
   * (the caller checks for deadlocks and lock_timeout, then asks again, keeping its place).
   */
  async acquire(key: Buffer, txn: string, waitMs: number): Promise<LockAttempt> {
    const k = key.toString('latin1');
    const lock = this.locks.get(k);
    if (lock === undefined) {
      this.grant(k, txn);
      return { granted: true };
    }
    if (lock.holder === txn) {
      lock.since = this.now();
      return { granted: true };
    }
    this.prune(lock);
    if (this.now() - lock.since >= this.leaseMs && (lock.queue.length === 0 || lock.queue[0].txn === txn)) {
      if (lock.queue[0]?.txn === txn) lock.queue.shift();
      this.take(k, lock, txn);
      return { granted: true };
    }
    return new Promise<LockAttempt>((resolve) => {
      let done = false;
      const waiter: Waiter = {
        txn,
        askedAt: this.now(),
        waiting: true,
        grant: () => {
          if (done) return;
          done = true;
          waiter.waiting = false;
          clearTimeout(timer);
          resolve({ granted: true });
        },
      };
      const existing = lock.queue.findIndex((w) => w.txn === txn);
      if (existing >= 0) lock.queue[existing] = waiter; // keeps its place in line
      else lock.queue.push(waiter);
      const timer = setTimeout(() => {
        if (done) return;
        waiter.waiting = false;
        const current = this.locks.get(k);
        if (current !== undefined) this.prune(current);
        // The holder went quiet past its lease: the head of the line takes over.
        if (current !== undefined && this.now() - current.since >= this.leaseMs && current.queue[0]?.txn === txn) {
          current.queue.shift();
          done = true;
          this.take(k, current, txn);
          resolve({ granted: true });
          return;
        }
        done = true;
        resolve({ granted: false, holder: current?.holder ?? '' });
      }, waitMs);
      timer.unref?.();
    });
  }

  /** Releases every lock of `txn`; each passes to the first waiter in line. Also drops its place in queues. */
  release(txn: string): void {
    // Its places in line go first, so no lock is handed to it on the way.
    for (const lock of this.locks.values()) {
      const i = lock.queue.findIndex((w) => w.txn === txn);
      if (i >= 0) lock.queue.splice(i, 1);
    }
    const keys = this.byTxn.get(txn);
    this.byTxn.delete(txn);
    if (keys === undefined) return;
    for (const k of keys) {
      const lock = this.locks.get(k);
      if (lock === undefined || lock.holder !== txn) continue;
      this.prune(lock);
      const next = lock.queue.shift();
      if (next === undefined) {
        this.locks.delete(k);
        continue;
      }
      this.take(k, lock, next.txn);
      next.grant();
    }
  }

  /**
   * Who waits for whom here: one [waiter, holder] pair per transaction still in a line (waiters
   * that stopped asking are pruned first). Gateways merge these from every shard to find
   * deadlocks that span gateways (KvClient.lockRead).
   */
  waitEdges(): LockWaitEdge[] {
    const out: LockWaitEdge[] = [];
    for (const lock of this.locks.values()) {
      this.prune(lock);
      for (const w of lock.queue) out.push([w.txn, lock.holder]);
    }
    return out;
  }

  /** Forgets every lock and lets every waiter through (leadership lost: the new leader starts empty). */
  clear(): void {
    const waiters = [...this.locks.values()].flatMap((l) => l.queue);
    this.locks.clear();
    this.byTxn.clear();
    for (const w of waiters) w.grant();
  }

  private grant(k: string, txn: string): void {
    this.locks.set(k, { holder: txn, since: this.now(), queue: [] });
    this.own(k, txn);
  }

  private take(k: string, lock: Lock, txn: string): void {
    this.byTxn.get(lock.holder)?.delete(k);
    lock.holder = txn;
    lock.since = this.now();
    this.own(k, txn);
  }

  private own(k: string, txn: string): void {
    let set = this.byTxn.get(txn);
    if (set === undefined) this.byTxn.set(txn, (set = new Set()));
    set.add(k);
  }
}

/**
 * Waits-for edges of the transactions of one gateway: a lock request that has waited on a
 * holder records the edge; a new edge that closes a cycle is a deadlock (40P01). Complete for
 * the transactions of one gateway; cycles through several gateways are found from the shards'
 * own edges (findDeadlockVictim over LockTable.waitEdges of every shard).
 */
export class WaitGraph {
  private readonly waitsFor = new Map<string, string>();

  /** Records that `waiter` waits for `holder`; true when that closes a cycle. */
  wait(waiter: string, holder: string): boolean {
    this.waitsFor.set(waiter, holder);
    const seen = new Set<string>([waiter]);
    for (let at = this.waitsFor.get(waiter); at !== undefined; at = this.waitsFor.get(at)) {
      if (at === waiter) return true;
      if (seen.has(at)) return false;
      seen.add(at);
    }
    return false;
  }

  done(waiter: string): void {
    this.waitsFor.delete(waiter);
  }
}

/** 55P03: lock_timeout passed while waiting for a row lock. */
export function lockTimeout(ms: number): KvError {
  return new KvError('lock-timeout', `canceling statement due to lock timeout (waited ${ms} ms for a row lock)`);
}

/** 40P01: waiting for the lock would close a cycle of waiting transactions. */
export function deadlockDetected(txn: string, holder: string): KvError {
  return new KvError('deadlock', `deadlock detected: transaction ${txn} waits for a row lock held by ${holder}, which waits for it`);
}

/**
 * The transaction to abort if `txn` is in a waits-for cycle of `edges` (each waiter waits for
 * one holder at a time): the cycle's largest id, so every member that looks decides the same
 * and exactly one gives way. Undefined when `txn` is in no cycle.
 */
export function findDeadlockVictim(txn: string, edges: Iterable<LockWaitEdge>): string | undefined {
  const next = new Map<string, string>(edges);
  const path: string[] = [txn];
  const seen = new Set<string>(path);
  for (let at = next.get(txn); at !== undefined; at = next.get(at)) {
    if (at === txn) return path.reduce((a, b) => (a > b ? a : b));
    if (seen.has(at)) return undefined; // a cycle that does not pass through txn
    seen.add(at);
    path.push(at);
  }
  return undefined;
}
