// The KV client: what transactions talk to instead of one shard (CockroachDB's DistSender role).
// It routes each key to its shard through the shard map, fans a span out to every shard that may
// hold part of it and merges their ordered pages, and resolves the intents a read runs into:
// it looks up the owner's fate on the owner's primary shard, aborts an owner whose coordinator
// is gone (expired), and settles the intent before reading again. Replica selection, leader
// following and retries of unanswered requests are each shard's ShardKv's own business
// (RemoteShardKv over the KV RPC, or an in-process shard).
import {
  KvError, WaitGraph, WriteIntentError, deadlockDetected, findDeadlockVictim, lockTimeout, type LockWaitEdge, type KvRow, type MetIntent, type ReadRequestOptions, type RefreshResult, type ScanFilter, type ScanPage,
  type ScanRequestOptions, type ShardKv, type TxnStatus,
} from '@weft/kv';
import type { ApplyOutcome, LogEntry, ReadSpan, Timestamp } from '@weft/logentry';
import { ForgetQueue } from './forget-queue';
import { ShardMap } from './shard-map';

export interface KvClientClock {
  /** Wall-clock microseconds since the Unix epoch (intent expiry is judged against it). */
  now(): Timestamp;
}

export interface KvClientOptions {
  readonly map: ShardMap;
  /** The client of each shard in the map. */
  readonly shards: ReadonlyMap<number, ShardKv>;
  readonly clock?: KvClientClock;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * An undecided 2PC transaction whose intent is older than this is presumed abandoned by its
   * coordinator and is aborted by whoever meets it (default 5 s; a commit takes milliseconds).
   */
  readonly txnExpiryUs?: bigint;
  /** How long a read keeps waiting on intents before giving up with 40001 (default 30 s). */
  readonly intentWaitMs?: number;
  /**
   * Keys kept as one copy per shard: written to every shard, read from the system shard, and
   * validated on each shard a transaction commits on (the catalog version, so a data
   * transaction's read of it never makes its commit a multi-shard one).
   */
  readonly replicatedKeys?: readonly Buffer[];
  /** Every key under one of these prefixes is kept as one copy per shard too (dropped-data markers). */
  readonly replicatedPrefixes?: readonly Buffer[];
  /** How long settled 2PC transactions collect before their markers are forgotten (default 1 s, decision 0054). */
  readonly forgetDelayMs?: number;
  /**
   * The most any two clocks of the cluster may differ (default 250 ms, the replicas' default).
   * A transaction's uncertainty window is three times it (decision 0055): clock offset plus the
   * 2× offset a new leader starts its commits ahead.
   */
  readonly maxClockOffsetUs?: bigint;
}

/** A granted locking read: the newest committed value, read at readTs; newestTs as in LockReadResult. */
export interface LockedRow {
  readonly row: KvRow | undefined;
  readonly readTs: Timestamp;
  readonly newestTs: Timestamp;
  /** LockOptions.also, read at readTs (undefined when the shard did not read them). */
  readonly also?: readonly (KvRow | undefined)[];
}

export interface LockOptions {
  /** The transaction's snapshot: the lock read is served at or above it. */
  readonly minTs?: Timestamp;
  /** lock_timeout: give up waiting with 55P03 after this long (0 = wait on). */
  readonly lockTimeoutMs?: number;
  /** The statement's cancel/timeout signal: stop waiting when it fires. */
  readonly signal?: AbortSignal;
  readonly readOptions?: ReadRequestOptions;
  /** Other keys to read at the lock read's timestamp: replicated keys (their copy on this shard) or keys of the same shard. */
  readonly also?: readonly Buffer[];
}

/**
 * After this long in a lock's line (and then this often) a waiter also looks for a deadlock
 * through other gateways' transactions: each shard's leaseholder lists its waits-for edges.
 * Not sooner: most waits end quickly, and the look asks every shard.
 */
const GLOBAL_DEADLOCK_CHECK_MS = 1000;

/** How long one lock request waits at the leaseholder before the client checks for deadlocks and timeouts. */
const LOCK_POLL_MS = 250;

const systemClock: KvClientClock = { now: () => BigInt(Date.now()) * 1000n };
const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Background waits (the forget batch) must not keep a process alive that is shutting down. */
const idleSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
const hexId = (id: string): Buffer => Buffer.from(id, 'hex');

/**
 * The options a read sends to shard `id` (decision 0055): the uncertainty limit lowered to the
 * transaction's observed timestamp there, if it has one, and a hook that records the first
 * one the shard reports. The observation map itself never leaves the client.
 */
function forShard<T extends ReadRequestOptions>(id: number, options: T): T;
function forShard<T extends ReadRequestOptions>(id: number, options: T | undefined): T | undefined;
function forShard<T extends ReadRequestOptions>(id: number, options: T | undefined): T | undefined {
  if (options === undefined || options.observed === undefined) return options;
  const { observed, uncertaintyLimit, ...rest } = options;
  if (uncertaintyLimit === undefined) return rest as T;
  const seen = observed.get(id);
  const limit = seen !== undefined && seen < uncertaintyLimit ? seen : uncertaintyLimit;
  return {
    ...rest,
    uncertaintyLimit: limit,
    onObserved: (ts: Timestamp) => {
      if (!observed.has(id)) observed.set(id, ts);
    },
  } as T;
}

export class KvClient {
  readonly map: ShardMap;
  private readonly shards: ReadonlyMap<number, ShardKv>;
  private readonly clock: KvClientClock;
  /** Waits on the client's time (virtual in the simulator): backoffs of callers use it too. */
  readonly sleep: (ms: number) => Promise<void>;
  private readonly expiryUs: bigint;
  private readonly intentWaitMs: number;
  private readonly replicated: ReadonlySet<string>;
  private readonly replicatedPrefixes: readonly Buffer[];
  /** Who waits for whom among this gateway's transactions (deadlock detection). */
  private readonly waits = new WaitGraph();
  /** The newest timestamp this client has seen (reads and commits): now() never goes below it. */
  private seen: Timestamp = 0n;
  readonly stats = { intentsResolved: 0, intentWaits: 0, pushes: 0, fanouts: 0 };
  /** Settled 2PC transactions whose resolved markers are to be dropped (decision 0054). */
  private readonly forgets: ForgetQueue;
  private readonly settling = new Set<Promise<void>>();
  /** How far above its snapshot a transaction's reads must look for versions that may precede it (decision 0055). */
  readonly uncertaintyWindowUs: bigint;

  constructor(opts: KvClientOptions) {
    this.map = opts.map;
    this.shards = opts.shards;
    for (const id of opts.map.shardIds()) if (!opts.shards.has(id)) throw new Error(`KvClient: no client for shard ${id} of the shard map`);
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? realSleep;
    this.expiryUs = opts.txnExpiryUs ?? 5_000_000n;
    this.intentWaitMs = opts.intentWaitMs ?? 30_000;
    this.replicated = new Set((opts.replicatedKeys ?? []).map((k) => k.toString('latin1')));
    this.replicatedPrefixes = opts.replicatedPrefixes ?? [];
    this.uncertaintyWindowUs = 3n * (opts.maxClockOffsetUs ?? 250_000n);
    this.forgets = new ForgetQueue((shard, entry) => this.propose(shard, entry), opts.sleep ?? idleSleep, opts.forgetDelayMs ?? 1000);
  }

  /**
   * A 2PC transaction every participant has resolved (the coordinator saw each resolve apply):
   * its resolved markers on `shards` can go. Batched per shard; see ForgetQueue.
   */
  forgetSettled(shards: readonly number[], txnId: Buffer): void {
    this.forgets.add(shards, txnId);
  }

  /**
   * Resolution a decided transaction left running after its commit returned (its participants
   * other than the primary): `flushForgets` waits for it.
   */
  settleInBackground(work: Promise<void>): void {
    this.settling.add(work);
    void work.finally(() => this.settling.delete(work));
  }

  /** Waits for background resolution, then proposes the queued forgets now (tests; shutdown). */
  async flushForgets(): Promise<void> {
    while (this.settling.size > 0) await Promise.all([...this.settling]);
    return this.forgets.flush();
  }

  /** A client over one shard holding everything (tests, the simulator, a one-shard cluster). */
  static single(shard: ShardKv, opts: Omit<KvClientOptions, 'map' | 'shards'> = {}): KvClient {
    return new KvClient({ ...opts, map: ShardMap.single(shard.shardId), shards: new Map([[shard.shardId, shard]]) });
  }

  shard(id: number): ShardKv {
    const s = this.shards.get(id);
    if (s === undefined) throw new KvError('unknown-shard', `shard ${id} is not in shard map v${this.map.version}`, id);
    return s;
  }

  /** Whether `key` is kept as one copy per shard (see KvClientOptions.replicatedKeys). */
  isReplicated(key: Buffer): boolean {
    for (const p of this.replicatedPrefixes) if (key.length >= p.length && key.compare(p, 0, p.length, 0, p.length) === 0) return true;
    return this.replicated.size > 0 && this.replicated.has(key.toString('latin1'));
  }

  shardOf(key: Buffer): number {
    return this.isReplicated(key) ? this.map.systemShard : this.map.forKey(key);
  }

  /** A timestamp at least as new as every commit acknowledged to anyone (the system shard's clock) and to this client. */
  async now(): Promise<Timestamp> {
    const ts = await this.shard(this.map.systemShard).now();
    this.observe(ts);
    return this.seen;
  }

  /** Milliseconds on the injected clock (deadlines follow it, so the simulator controls them). */
  private nowMs(): number {
    return Number(this.clock.now() / 1000n);
  }

  observe(ts: Timestamp): void {
    if (ts > this.seen) this.seen = ts;
  }

  async get(key: Buffer, ts: Timestamp, options?: ReadRequestOptions): Promise<KvRow | undefined> {
    const id = this.shardOf(key);
    return this.withIntents(id, () => this.shard(id).get(key, ts, forShard(id, options)));
  }

  /**
   * A transaction's first read, which also picks its snapshot: at the leaseholder's clock,
   * raised to every timestamp this client has seen — the same timestamp `now()` would give, but
   * in the read's own round trip. `keys[0]` picks the shard (a replicated key alone is read on
   * the system shard, whose clock `now()` uses); any further key must live on that shard too or
   * be a replicated key, whose copy there is read (the catalog version a gateway assumed rides
   * along with the row this way). `rows[i]` answers `keys[i]`.
   */
  async getNow(keys: readonly Buffer[], options?: ReadRequestOptions): Promise<{ rows: readonly (KvRow | undefined)[]; ts: Timestamp }> {
    const id = this.shardOf(keys[0]);
    for (const key of keys.slice(1)) {
      if (!this.isReplicated(key) && this.map.forKey(key) !== id) throw new RangeError(`getNow: a key of shard ${this.map.forKey(key)} cannot ride along a read of shard ${id}`);
    }
    const shard = this.shard(id);
    if (shard.getNow === undefined) {
      const ts = await this.now();
      return { rows: await this.withIntents(id, () => Promise.all(keys.map((key) => shard.get(key, ts, options)))), ts };
    }
    const r = await this.withIntents(id, () => (shard.getNow as NonNullable<ShardKv['getNow']>)(keys, this.seen, options));
    this.observe(r.ts);
    return r;
  }

  /**
   * Rows of [start, end) at ts, in key order (descending with reverse), at most `limit`; the
   * page's resumeKey continues the scan like a single shard's would.
   */
  async scan(start: Buffer, end: Buffer, ts: Timestamp, options: ScanRequestOptions = {}): Promise<ScanPage> {
    const ids = this.map.forSpan(start, end);
    if (ids.length === 1) return this.withIntents(ids[0], () => this.shard(ids[0]).scan(start, end, ts, forShard(ids[0], options)));
    this.stats.fanouts++;
    const pages = await Promise.all(ids.map((id) => this.withIntents(id, () => this.shard(id).scan(start, end, ts, forShard(id, options)))));
    return mergePages(pages, options.reverse ?? false, options.limit);
  }

  /**
   * Every page of [start, end) at ts, in key order (descending with reverse): the first at most
   * `firstLimit` rows per shard, then `pageSize`. Within one hashed index each shard holds one
   * contiguous hash range, so the span is the shards' parts one after another: every part's
   * first page is asked for at once (in parallel) and kept, then each part is read to its end
   * before the next is yielded. Merging a page of every shard per round and dropping the rows
   * past the smallest resume key would read a full scan's rows about (S+1)/2 times on S shards.
   * Other spans (system tables, several indexes) page through scan()'s merge.
   */
  async *scanPages(start: Buffer, end: Buffer, ts: Timestamp, options: ScanRequestOptions, pageSize: number): AsyncGenerator<ScanPage> {
    const reverse = options.reverse ?? false;
    const firstLimit = options.limit ?? pageSize;
    const parts = this.map.partsOfIndexSpan(start, end);
    if (parts === undefined || parts.length === 1) {
      let lo = start;
      let hi = end;
      for (let limit = firstLimit; ; limit = pageSize) {
        const page = await this.scan(lo, hi, ts, { ...options, limit });
        yield page;
        if (page.resumeKey === undefined) return;
        if (reverse) hi = page.resumeKey;
        else lo = page.resumeKey;
      }
    }
    const ordered = reverse ? [...parts].reverse() : parts;
    this.stats.fanouts++;
    const read = (id: number, lo: Buffer, hi: Buffer, limit: number): Promise<ScanPage> => this.withIntents(id, () => this.shard(id).scan(lo, hi, ts, forShard(id, { ...options, limit })));
    const firsts = ordered.map((id) => {
      const p = read(id, start, end, firstLimit);
      // Read later, or never if the caller stops early: a failure must not go unhandled.
      p.catch(() => undefined);
      return p;
    });
    for (let i = 0; i < ordered.length; i++) {
      let page = await firsts[i];
      let lo = start;
      let hi = end;
      for (;;) {
        yield page;
        if (page.resumeKey === undefined) break;
        if (reverse) hi = page.resumeKey;
        else lo = page.resumeKey;
        page = await read(ordered[i], lo, hi, pageSize);
      }
    }
  }

  /**
   * How many rows in [start, end) at `ts` pass `filter` (an empty program counts every row),
   * counted on the shards in parallel, each paging through its part. Undefined when a shard
   * cannot evaluate the filter (it then answers with rows instead of a count).
   */
  async count(start: Buffer, end: Buffer, ts: Timestamp, filter: ScanFilter, options: ReadRequestOptions = {}): Promise<number | undefined> {
    const counted = { ...filter, countOnly: true };
    const perShard = await Promise.all(this.map.forSpan(start, end).map(async (id) => {
      let n = 0;
      let lo = start;
      for (;;) {
        const page = await this.withIntents(id, () => this.shard(id).scan(lo, end, ts, forShard(id, { ...options, filter: counted })));
        if (page.count === undefined) return undefined;
        n += page.count;
        if (page.resumeKey === undefined) return n;
        lo = page.resumeKey;
      }
    }));
    return perShard.some((n) => n === undefined) ? undefined : perShard.reduce<number>((a, n) => a + (n ?? 0), 0);
  }

  /**
   * The partial aggregates of [start, end) at `ts` under an aggregating `filter` program: one
   * per page, from every shard in parallel. Undefined when a shard answers without one (it
   * cannot evaluate the program, or a row's evaluation failed): the caller then scans.
   */
  async partials(start: Buffer, end: Buffer, ts: Timestamp, filter: ScanFilter, options: ReadRequestOptions = {}): Promise<Buffer[] | undefined> {
    const perShard = await Promise.all(this.map.forSpan(start, end).map(async (id) => {
      const out: Buffer[] = [];
      let lo = start;
      for (;;) {
        const page = await this.withIntents(id, () => this.shard(id).scan(lo, end, ts, forShard(id, { ...options, filter })));
        if (page.partial === undefined) return undefined;
        out.push(page.partial);
        if (page.resumeKey === undefined) return out;
        lo = page.resumeKey;
      }
    }));
    return perShard.some((p) => p === undefined) ? undefined : perShard.flatMap((p) => p ?? []);
  }

  /**
   * Takes the row lock on `key` for `txnId` (waiting in line at the leaseholder) and reads the
   * newest committed value. Undefined when the shard keeps no locks (read without locking then).
   * While waiting, a wait that closes a cycle among this gateway's transactions fails with 40P01;
   * after GLOBAL_DEADLOCK_CHECK_MS the shards' waits-for edges are merged to find cycles through
   * other gateways too (the cycle's largest transaction id gives way, so exactly one fails);
   * lock_timeout fails with 55P03.
   */
  async lockRead(key: Buffer, txnId: Buffer, opts: LockOptions = {}): Promise<LockedRow | undefined> {
    const id = this.shardOf(key);
    const shard = this.shard(id);
    if (shard.lockRead === undefined) return undefined;
    const txn = txnId.toString('hex');
    const started = this.nowMs();
    let globalCheckAt = started + GLOBAL_DEADLOCK_CHECK_MS;
    try {
      for (;;) {
        const r = await this.withIntents(id, () => (shard.lockRead as NonNullable<ShardKv['lockRead']>)(key, txnId, LOCK_POLL_MS, opts.minTs !== undefined && opts.minTs > this.seen ? opts.minTs : this.seen, opts.readOptions, opts.also));
        if (r.granted) {
          this.observe(r.readTs);
          return r.also === undefined ? { row: r.row, readTs: r.readTs, newestTs: r.newestTs } : { row: r.row, readTs: r.readTs, newestTs: r.newestTs, also: r.also };
        }
        if (r.holder !== '' && this.waits.wait(txn, r.holder)) throw deadlockDetected(txn, r.holder);
        if (r.holder !== '' && this.nowMs() >= globalCheckAt) {
          globalCheckAt = this.nowMs() + GLOBAL_DEADLOCK_CHECK_MS;
          if ((await this.deadlockVictim(txn)) === txn) throw deadlockDetected(txn, r.holder);
        }
        const waited = this.nowMs() - started;
        if (opts.lockTimeoutMs !== undefined && opts.lockTimeoutMs > 0 && waited >= opts.lockTimeoutMs) throw lockTimeout(waited);
        if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new KvError('timeout', 'canceling statement while waiting for a row lock');
      }
    } finally {
      this.waits.done(txn);
    }
  }

  /**
   * The victim of a waits-for cycle through `txn`, from every shard's lock table (and this
   * gateway's own waits). A shard that does not answer is left out: a cycle through it is
   * found on a later look, or broken by the lock lease.
   */
  private async deadlockVictim(txn: string): Promise<string | undefined> {
    const lists = await Promise.all(
      [...this.shards.values()].map((s) => (s.lockWaits ? s.lockWaits().catch((): readonly LockWaitEdge[] => []) : Promise.resolve<readonly LockWaitEdge[]>([]))),
    );
    return findDeadlockVictim(txn, lists.flat());
  }

  /** Releases the transaction's row locks on these shards (best effort: locks also lapse). */
  releaseLocks(shardIds: Iterable<number>, txnId: Buffer): void {
    for (const id of shardIds) void this.shards.get(id)?.releaseLocks?.(txnId).catch(() => undefined);
  }

  /** Read refresh on one shard (see ShardKv.refresh); a shard that cannot refresh says no. */
  async refresh(shardId: number, txnId: Buffer, reads: readonly ReadSpan[], fromTs: Timestamp, toTs: Timestamp): Promise<RefreshResult> {
    const s = this.shard(shardId);
    if (s.refresh === undefined) return { ok: false, detail: `shard ${shardId} cannot refresh reads` };
    return s.refresh(txnId, reads, fromTs, toTs);
  }

  async propose(shardId: number, entry: LogEntry): Promise<ApplyOutcome> {
    const out = await this.shard(shardId).propose(entry);
    if (out.status === 'committed') this.observe(out.commitTs);
    return out;
  }

  /**
   * Runs a read, resolving the intents it meets and reading again until it gets through. A read
   * timestamp ahead of the replica's clock (a new leader starts its commits up to twice the max
   * clock offset ahead, and the system shard's clock follows them) is waited out briefly: the
   * replica's clock catches up within the offset.
   */
  private async withIntents<T>(shardId: number, read: () => Promise<T>): Promise<T> {
    const deadline = this.nowMs() + this.intentWaitMs;
    const aheadDeadline = this.nowMs() + 2_000;
    for (let attempt = 0; ; attempt++) {
      try {
        return await read();
      } catch (e) {
        if ((e as { code?: unknown } | null)?.code === 'read-ts-too-far' && this.nowMs() < aheadDeadline) {
          await this.sleep(25);
          continue;
        }
        if (!(e instanceof WriteIntentError)) throw e;
        if (this.nowMs() >= deadline) {
          throw new KvError('retry', `shard ${shardId}: gave up after ${this.intentWaitMs} ms waiting for transaction ${e.intents[0]?.txnId ?? '?'} to finish`, shardId);
        }
        let waited = false;
        for (const intent of e.intents) if ((await this.resolveIntent(intent, shardId)) === 'pending') waited = true;
        if (waited) await this.sleep(Math.min(100, 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /**
   * Settles one intent met on `shardId` if its owner's fate can be known: decided on the
   * owner's primary shard, or abandoned (older than the expiry, then aborted there first: the
   * first resolve applied on the primary is the decision, so this cannot contradict a commit).
   * Returns 'pending' when the owner is alive and undecided (the caller waits and retries).
   */
  async resolveIntent(intent: MetIntent, shardId: number): Promise<'resolved' | 'pending'> {
    const txnId = hexId(intent.txnId);
    let primary = intent.primary;
    if (primary === undefined) {
      // A staged intent: its own shard knows whether it was prepared, and for whom.
      const local = await this.shard(shardId).txnStatus(txnId);
      if (local.kind === 'committed' || local.kind === 'aborted') return this.settle(txnId, local, shardId);
      if (local.kind !== 'pending' || local.primary === undefined) return 'pending';
      primary = local.primary;
    }
    const primaryShard = this.map.forKey(primary);
    let status: TxnStatus = await this.shard(primaryShard).txnStatus(txnId);
    if (status.kind === 'pending' || status.kind === 'unknown') {
      if (this.clock.now() - intent.ts < this.expiryUs) {
        this.stats.intentWaits++;
        return 'pending';
      }
      this.stats.pushes++;
      const out = await this.shard(primaryShard).propose({ type: 'resolve', txnId, decision: { kind: 'abort' } });
      status = out.status === 'committed' ? { kind: 'committed', ts: out.commitTs } : { kind: 'aborted' };
    }
    if (shardId === primaryShard) return 'resolved';
    return this.settle(txnId, status, shardId);
  }

  private async settle(txnId: Buffer, status: TxnStatus, shardId: number): Promise<'resolved'> {
    const decision = status.kind === 'committed' ? { kind: 'commit' as const, commitTs: status.ts } : { kind: 'abort' as const };
    await this.shard(shardId).propose({ type: 'resolve', txnId, decision });
    this.stats.intentsResolved++;
    return 'resolved';
  }

  close(): void {
    for (const s of this.shards.values()) (s as { close?: () => void }).close?.();
  }
}

/**
 * Merges ordered pages of several shards into one ordered page of at most `limit` rows. A shard
 * that stopped early (resumeKey) bounds how far the merged page is complete: rows beyond its
 * resume point are dropped (they come again on the next page) and the merged page resumes there.
 */
export function mergePages(pages: readonly ScanPage[], reverse: boolean, limit: number | undefined): ScanPage {
  const before = (a: Buffer, b: Buffer): boolean => (reverse ? Buffer.compare(a, b) > 0 : Buffer.compare(a, b) < 0);
  // Forward: resume keys are inclusive starts, so rows below the smallest are complete. Reverse:
  // resume keys are exclusive ends, so rows at or above the largest are complete.
  let bound: Buffer | undefined;
  for (const p of pages) {
    if (p.resumeKey === undefined) continue;
    if (bound === undefined || before(p.resumeKey, bound)) bound = p.resumeKey;
  }
  const rows: KvRow[] = [];
  for (const p of pages) for (const r of p.rows) if (bound === undefined || (reverse ? Buffer.compare(r.key, bound) >= 0 : Buffer.compare(r.key, bound) < 0)) rows.push(r);
  rows.sort((a, b) => (reverse ? Buffer.compare(b.key, a.key) : Buffer.compare(a.key, b.key)));
  if (limit !== undefined && limit > 0 && rows.length > limit) {
    const kept = rows.slice(0, limit);
    const last = kept[kept.length - 1].key;
    return { rows: kept, resumeKey: reverse ? last : Buffer.concat([last, Buffer.from([0])]) };
  }
  return bound === undefined ? { rows } : { rows, resumeKey: bound };
}
