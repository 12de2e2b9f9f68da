/**
 * The multi-shard bank under the deterministic simulator: several shards (Raft groups of three
 * replicas each, one replica of every shard on each of three simulated nodes), every replica a
 * real ShardReplica over a real RocksDB Materializer of its own, driven over one SimNetwork with
 * one virtual clock. Clients are gateways: each has a real KvClient (@weft/kvclient) whose
 * per-shard ShardKv follows that shard's leader, and runs bank transfers through the real Txn.
 *
 * Accounts live in a hashed user table (/100/1/<hash>/<id>), so they spread over the shards; most
 * transfers move money between accounts on different shards (2PC). Each transfer also writes its
 * own log row (/101/1/<hash>/<transfer id>) in the same transaction. Some take row locks
 * (getForUpdate, in account order), some read plainly, some read a third account (a read-only
 * participant). A few are run by a gateway that crashes mid-commit: in the middle of its
 * prepares, after all prepares, or after the primary's resolve and before the others'; later
 * readers and writers must finish or abort those (intent resolution after the expiry, judged
 * by the KvClient's clock = the simulated clock). Read-only audits scan every account.
 *
 * Faults: node isolation, one-way partitions, lossy/duplicating/reordering links, node crashes
 * with restart (a crash loses everything in memory: RawNodes, replicas, pending proposals, lock
 * tables; the host persists each Ready synchronously, as in shard-cluster.ts), and clock jumps
 * within the max offset.
 *
 * At the end, faults heal, clients stop, every abandoned transaction expires, a final full scan
 * resolves the intents it meets and a final write pass (every account rewritten with its own
 * balance) pushes the read locks of prepared read-only participants; then (1) every audit saw
 * the exact total and no negative balance, (2) a strong read sees the exact total, no negative
 * balance, and balances equal to the initial ones plus the logged transfers, (3) every
 * acknowledged transfer (and every one whose primary decided commit before its gateway
 * crashed) is logged, no transfer known not to have committed is, and an outcome-unknown one is
 * all-or-nothing (by (2)), (4) no prepared or staged transaction is left on any replica, and (5)
 * every shard's replicas have equal state hashes at equal applied index (and each replica's
 * maintained hash equals a recomputation from its store).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KvRow, LockReadResult, ReadRequestOptions, RefreshResult, ScanPage, ScanRequestOptions, ShardKv, TxnStatus } from '@weft/kv';
import { KvClient, ShardMap } from '@weft/kvclient';
import type { ApplyOutcome, LogEntry, ReadSpan, Timestamp } from '@weft/logentry';
import { Materializer } from '@weft/materialize';
import { PgError } from '@weft/pgwire';
import { MemoryStorage, RawNode, type Message } from '@weft/raft';
import { NotLeaderError, ReplicaUnavailableError, ShardReplica, type CommittedEntry, type ReplicaTimers } from '@weft/replica';
import { encodeIndexKey, indexSpan, MvccStore, type IndexKeySpec } from '@weft/storage';
import { AssumptionFailedError, Txn } from '@weft/txn';
import { EventQueue } from './event-queue';
import { SimNetwork } from './network';
import { hashString, Prng } from './prng';
import { SimRaftPort } from './raft-port';

export interface BankSimOptions {
  readonly seed: number;
  /** Virtual milliseconds of faults and client load before healing (default 2500). */
  readonly durationMs?: number;
  /** Raft groups (default 3 on odd seeds, 4 on even ones). */
  readonly shards?: number;
  /** Gateways running transfers and audits (default 4). */
  readonly clients?: number;
  /** Accounts (default 4 per shard). */
  readonly accounts?: number;
  /**
   * Skip the final write pass: prepared read-only participants of abandoned transactions are
   * then only resolved if some writer met their read locks during the run.
   */
  readonly noWritePass?: boolean;
  /** Whether some transfers take row locks with getForUpdate (default true). */
  readonly locking?: boolean;
  /**
   * Run MVCC gc on every shard (a 300 ms virtual ttl). History below a shard's gc threshold is
   * gone then, so the final checks of commit timestamps and audits skip what lies below it;
   * money, atomicity and replica equality are checked as always.
   */
  readonly gc?: boolean;
  readonly trace?: (line: string) => void;
  /** Every KV call and its answer (not part of the signature): for reducing a failure. */
  readonly kvTrace?: (line: string) => void;
}

export interface BankSimStats {
  shards: number;
  accounts: number;
  transfers: number;
  crossShard: number;
  committed: number;
  /** Refused or failed before a decision: known not to have committed. */
  aborted: number;
  /** 40003: may or may not have committed. */
  unknown: number;
  /** Not enough money: rolled back by the client. */
  insufficient: number;
  locked: number;
  readOnlyParticipants: number;
  abandoned: { midPrepare: number; afterPrepare: number; afterPrimaryCommit: number; afterPrimaryAbort: number; afterPrimaryUnknown: number };
  audits: number;
  auditErrors: number;
  crashes: number;
  clockJumps: number;
  /** KvClient stats summed over the gateways. */
  intentsResolved: number;
  pushes: number;
  /** Prepared records left after the final scan (read-only participants; the write pass resolves them). */
  preparedAfterScan: number;
  /**
   * Granted lock reads whose row was older than the key's newest committed version
   * (newestTs > readTs): the value returned is not the newest (see the README's findings).
   */
  staleLockReads: number;
  /** Schema bumps committed, and transfers whose assumed schema version had moved on. */
  schemaChanges: number;
  schemaMisses: number;
  /**
   * Lock reads served at a timestamp below the transaction's snapshot (moved up earlier by a
   * read refresh on another shard): nothing validates the key between the two (the lost-update
   * bug in the README's findings). Transfers that had one say so in their outcome.
   */
  lockReadsBelowSnapshot: number;
  /** With `gc`: shards whose gc threshold moved during the run (gc entries applied there). */
  gcShards: number;
  /**
   * Resolved-transaction markers left on the shards at the end (first replica of each). Settled
   * 2PC transactions are forgotten (decision 0054); what is left is from coordinators that
   * failed before every participant answered.
   */
  markersLeft: number;
  appliedIndex: number;
}

export interface BankSimResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly reason?: string;
  /** Hash of the trace (outcomes, faults, final state): equal for equal seeds. */
  readonly signature: string;
  readonly stats: BankSimStats;
  readonly virtualMs: number;
}

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const MAX_OFFSET_US = 100_000n;
const BASE_US = 1_700_000_000_000_000n;
const NODES = [1, 2, 3];
const INITIAL_BALANCE = 100;
/** How long a gateway waits for a leader (no leader, not leader) before giving up on a call. */
const LEADER_RETRIES = 25;
const LEADER_RETRY_MS = 15;
/** A lock request parked at the leaseholder (its own timer never fires in a run). */
const PARKED_LOCK_MS = 2 ** 31 - 1;
/** Reads wait on live intents this long in real time before 40001 (never, in a run). */
const INTENT_WAIT_REAL_MS = 3_600_000;
const STAGED_SWEEP_MS = 100;
const STAGED_IDLE_MS = 400;
const STAGED_GRACE_MS = 200;
const GC_TTL_US = 300_000n;
const GC_INTERVAL_MS = 100;

/** Accounts: a hashed user table /100/1/<hash>/<int8 id>. */
export const ACCOUNTS_TABLE: IndexKeySpec = { tableId: 100, indexId: 1, types: ['int8'], directions: ['asc'], hashColumns: 1 };
/** The transfer log: /101/1/<hash>/<int8 transfer id>, one row per committed transfer. */
export const TRANSFER_LOG_TABLE: IndexKeySpec = { tableId: 101, indexId: 1, types: ['int8'], directions: ['asc'], hashColumns: 1 };
const accountKey = (i: number): Buffer => encodeIndexKey(ACCOUNTS_TABLE, [{ type: 'int8', value: BigInt(i) }]);
const logKey = (id: number): Buffer => encodeIndexKey(TRANSFER_LOG_TABLE, [{ type: 'int8', value: BigInt(id) }]);
/**
 * A schema version kept as one copy per shard (as the SQL catalog version is). Transfers assume
 * the version their client cached, unread (Txn.assume: checked with the first read, as a
 * gateway checks its cached catalog); now and then a client bumps it, a write to every shard.
 */
const SCHEMA_KEY = encodeIndexKey({ tableId: 1, indexId: 2, types: ['text'], directions: ['asc'] }, [{ type: 'text', value: 'version' }]);
const schemaVersion = (v: Buffer | undefined): number => (v === undefined ? 0 : Number(v.toString()));

type Ev = { k: 'tick'; node: number } | { k: 'wake'; fn: () => void } | { k: 'fault' } | { k: 'restart'; node: number };
type Envelope = { readonly shard: number; readonly msg: Message };

/** One simulated machine: a replica of every shard, one wall clock (with its offset). */
class SimNode {
  up = true;
  readonly replicas = new Map<number, BankReplica>();
  constructor(
    readonly id: number,
    public offsetUs: bigint,
  ) {}
}

/** One replica of one shard on one node (as shard-cluster.ts's SimReplica, shard-aware). */
class BankReplica extends SimRaftPort {
  rawNode!: RawNode;
  replica!: ShardReplica;
  sm!: Materializer;

  constructor(
    readonly node: SimNode,
    readonly shard: number,
    readonly storage: MemoryStorage,
    readonly store: MvccStore,
    private readonly sim: BankSim,
  ) {
    super();
  }

  protected get core(): RawNode {
    return this.rawNode;
  }

  protected get raftId(): number {
    return this.node.id;
  }

  protected leaseReadsOn(): boolean {
    return this.sim.leaseReads;
  }

  protected send(m: Message): void {
    this.sim.send(this.node.id, this.shard, m);
  }

  protected apply(entries: CommittedEntry[]): void {
    this.replica.applyCommitted(entries);
  }

  async boot(): Promise<void> {
    this.sm = await Materializer.open(this.store, this.shard);
    this.rawNode = new RawNode({
      id: this.node.id,
      storage: this.storage,
      rand: this.sim.rng.fork(`raft-${this.node.id}-${this.shard}-${this.sim.now}`),
      electionTick: ELECTION_TICKS,
      heartbeatTick: 1,
      maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 64,
      preVote: true,
      checkQuorum: true,
      readOnlyOption: 'safe',
      leaseMarginTicks: 2,
      applied: this.storage.snapshot().metadata.index,
    });
    this.resetRequests();
    this.replica = new ShardReplica({
      raft: this,
      stateMachine: this.sm,
      clock: { now: () => this.sim.wallUs(this.node) },
      timers: this.sim.timersFor(this),
      maxClockOffsetUs: MAX_OFFSET_US,
      idleCloseMs: 500,
      stagedSweepMs: STAGED_SWEEP_MS,
      stagedSweep: { idleMs: STAGED_IDLE_MS, graceMs: STAGED_GRACE_MS },
      // With `gc`: MVCC gc with a ttl far shorter than partitions and crashes last, so its
      // passes, the gc threshold and the markers it must keep meet every fault (decision 0048).
      gc: this.sim.gcOn ? { ttlUs: GC_TTL_US, intervalMs: GC_INTERVAL_MS, spanEntries: 64 } : null,
    });
    this.up = true;
  }

  crash(): void {
    this.up = false;
    this.replica.close();
    this.failRequests(new Error('replica crashed'));
  }

  get leading(): boolean {
    return this.up && this.rawNode.raft.state === 'leader';
  }

  tick(): void {
    if (!this.up) return;
    this.rawNode.tick();
    this.expireReads(2 * ELECTION_TICKS);
  }
}

/**
 * A gateway's client of one shard: every call goes to whichever replica leads the shard now
 * (highest term); a call that found no leader, or a replica that no longer leads, is retried
 * after a virtual pause (as RemoteShardKv follows leader hints). A proposal is retried only
 * when it provably never entered a log (NotLeaderError before proposing).
 */
class LeaderKv implements ShardKv {
  constructor(
    readonly shardId: number,
    private readonly sim: BankSim,
  ) {}

  private async call<T>(op: (r: ShardReplica) => Promise<T>, retryUnavailable: boolean, what?: () => string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const l = this.sim.leaderOf(this.shardId);
      try {
        if (l === undefined) throw new NotLeaderError(this.shardId, 0);
        const out = await op(l.replica);
        if (what !== undefined) this.sim.kvTrace(() => `s${this.shardId} n${l.node.id} t${l.rawNode.raft.term} ${what()} -> ${this.sim.describe(out)}`);
        return out;
      } catch (e) {
        if (what !== undefined) this.sim.kvTrace(() => `s${this.shardId} n${l?.node.id ?? '-'} ${what()} -> ${e instanceof Error ? e.name : 'error'}`);
        const retry = e instanceof NotLeaderError || (retryUnavailable && e instanceof ReplicaUnavailableError);
        if (!retry || attempt >= LEADER_RETRIES) throw e;
        await this.sim.sleep(LEADER_RETRY_MS);
      }
    }
  }

  now(): Promise<Timestamp> {
    return this.call((r) => r.now(), true);
  }

  get(key: Buffer, ts: Timestamp, options?: ReadRequestOptions): Promise<KvRow | undefined> {
    return this.call((r) => r.get(key, ts, options), true, () => `get ${this.sim.keyName(key)} @${ts}`);
  }

  scan(start: Buffer, end: Buffer, ts: Timestamp, options?: ScanRequestOptions): Promise<ScanPage> {
    return this.call((r) => r.scan(start, end, ts, options), true, () => `scan @${ts}`);
  }

  /** A transaction's first read, picking its snapshot at the leader (as over the KV RPC). */
  getNow(keys: readonly Buffer[], minTs: Timestamp, options?: ReadRequestOptions): Promise<{ rows: readonly (KvRow | undefined)[]; ts: Timestamp }> {
    return this.call((r) => r.getNow(keys, minTs, options), true, () => `get-now ${keys.map((k) => this.sim.keyName(k)).join(',')} >=${minTs}`);
  }

  propose(entry: LogEntry): Promise<ApplyOutcome> {
    return this.call((r) => r.propose(entry), false, () => this.sim.describeEntry(entry));
  }

  txnStatus(txnId: Buffer): Promise<TxnStatus> {
    return this.call((r) => r.txnStatus(txnId), true);
  }

  /**
   * The leaseholder's lock table waits on a real timer, so the request is parked there with a
   * wait that never ends in a run and the wait is timed here in virtual time instead; a parked
   * request keeps its place in line and the client's next poll finds it granted. The holder is
   * not reported (deadlock detection is off; lockers take locks in one global order).
   */
  lockRead(key: Buffer, txnId: Buffer, waitMs: number, minTs: Timestamp, options?: ReadRequestOptions, also?: readonly Buffer[]): Promise<LockReadResult> {
    return this.call(async (r) => {
      const timedOut = this.sim.sleep(waitMs).then((): LockReadResult => ({ granted: false, holder: '' }));
      const out = await Promise.race([r.lockRead(key, txnId, PARKED_LOCK_MS, minTs, options, also), timedOut]);
      if (out.granted && out.newestTs > out.readTs) this.sim.staleLockRead(this.shardId, key, out.readTs, out.newestTs);
      if (out.granted) this.sim.lockReadTs.set(txnId.toString('hex'), out.readTs);
      return out;
    }, true, () => `lockRead ${this.sim.keyName(key)} by ${txnId.toString('hex').slice(0, 8)}`);
  }

  releaseLocks(txnId: Buffer): Promise<void> {
    return this.call((r) => r.releaseLocks(txnId), true);
  }

  refresh(txnId: Buffer, reads: readonly ReadSpan[], fromTs: Timestamp, toTs: Timestamp): Promise<RefreshResult> {
    return this.call((r) => r.refresh(txnId, reads, fromTs, toTs), true);
  }
}

type CrashPoint = 'mid-prepare' | 'after-prepare' | 'after-primary';

/**
 * A gateway that dies mid-commit: its proposals go through until the crash point, then every
 * call hangs forever (the process is gone) and `crashed` resolves.
 */
class CrashingGateway {
  private fire!: () => void;
  readonly crashed = new Promise<void>((resolve) => (this.fire = resolve));
  private dead = false;
  private prepares = 0;
  private resolves = 0;
  /** The primary's answer to the decision, when the crash point is after it. */
  primaryOutcome: 'committed' | 'aborted' | 'unknown' | undefined;

  /** The transaction this gateway commits (set once created); other transactions' entries (intent resolution) pass. */
  txnId: Buffer | undefined;

  constructor(readonly point: CrashPoint) {}

  private hang<T>(): Promise<T> {
    if (!this.dead) {
      this.dead = true;
      this.fire();
    }
    return new Promise<T>(() => undefined);
  }

  wrap(inner: LeaderKv): ShardKv {
    const alive = <T>(f: () => Promise<T>): Promise<T> => (this.dead ? this.hang<T>() : f());
    return {
      shardId: inner.shardId,
      now: () => alive(() => inner.now()),
      get: (key, ts, options) => alive(() => inner.get(key, ts, options)),
      getNow: (keys, minTs, options) => alive(() => inner.getNow(keys, minTs, options)),
      scan: (start, end, ts, options) => alive(() => inner.scan(start, end, ts, options)),
      txnStatus: (txnId) => alive(() => inner.txnStatus(txnId)),
      propose: (entry) => alive(() => this.propose(inner, entry)),
    };
  }

  private async propose(inner: LeaderKv, entry: LogEntry): Promise<ApplyOutcome> {
    if (!('txnId' in entry) || this.txnId === undefined || !entry.txnId.equals(this.txnId)) return inner.propose(entry);
    if (entry.type === 'prepare') {
      if (this.point === 'mid-prepare' && ++this.prepares >= 2) return this.hang();
      return inner.propose(entry);
    }
    if (entry.type === 'resolve') {
      if (this.point !== 'after-primary' || ++this.resolves >= 2) return this.hang();
      try {
        const out = await inner.propose(entry);
        this.primaryOutcome = out.status === 'committed' ? 'committed' : 'aborted';
        return out;
      } catch (e) {
        this.primaryOutcome = 'unknown';
        throw e;
      }
    }
    if (entry.type === 'commit') return this.hang(); // a 1PC commit: died before sending it
    return inner.propose(entry);
  }
}

type Outcome =
  | 'open'
  /** Acknowledged, or decided commit on the primary before the gateway died: must be logged. */
  | 'committed'
  /** Known not to have committed: must not be logged. */
  | 'aborted'
  /** May or may not have committed (all or nothing). */
  | 'unknown';

interface Transfer {
  readonly id: number;
  readonly from: number;
  readonly to: number;
  readonly amount: number;
  outcome: Outcome;
  how: string;
  /** The commit timestamp the client was given, when acknowledged. */
  commitTs?: Timestamp;
}

export class BankSim {
  now = 0;
  readonly rng: Prng;
  readonly leaseReads: boolean;
  private readonly q = new EventQueue<Ev>();
  private readonly net: SimNetwork<Envelope>;
  private readonly nodes: SimNode[] = [];
  private readonly byShard = new Map<number, BankReplica[]>();
  private readonly map: ShardMap;
  private readonly kvs = new Map<number, LeaderKv>();
  private readonly gateways: KvClient[] = [];
  /** Committed transfers: when their commit was acknowledged (virtual ms) and at what timestamp. */
  private readonly acked: { readonly at: number; readonly ts: Timestamp }[] = [];
  private readonly transfers = new Map<number, Transfer>();
  private readonly accounts: number;
  private readonly total: number;
  private readonly expiryMs: number;
  private badAudit: string | undefined;
  private faultsOn = true;
  private clientsOn = true;
  private clientsDone = 0;
  /** What each client is doing (named in the failure when one is stuck). */
  private readonly busy = new Map<number, string>();
  /** The timestamp of each transaction's last granted lock read (hex id). */
  readonly lockReadTs = new Map<string, Timestamp>();
  /** Every completed audit: its snapshot timestamp and the balance it saw per account key (hex). */
  private readonly audits: { readonly tag: string; readonly ts: Timestamp; readonly seen: ReadonlyMap<string, string> }[] = [];
  private transferSeq = 0;
  private sig = 0x811c9dc5;
  private failure: string | undefined;
  private readonly stats: BankSimStats;

  constructor(
    private readonly opts: BankSimOptions,
    private readonly dir: string,
  ) {
    this.rng = new Prng(opts.seed);
    this.leaseReads = opts.seed % 4 < 2;
    const shards = opts.shards ?? (opts.seed % 2 === 0 ? 4 : 3);
    this.map = ShardMap.uniform(shards);
    this.accounts = opts.accounts ?? 4 * shards;
    this.total = this.accounts * INITIAL_BALANCE;
    this.expiryMs = this.rng.range(200, 800);
    this.net = new SimNetwork<Envelope>(this.rng.fork('net'));
    this.stats = {
      shards, accounts: this.accounts, transfers: 0, crossShard: 0, committed: 0, aborted: 0, unknown: 0, insufficient: 0, locked: 0, readOnlyParticipants: 0,
      abandoned: { midPrepare: 0, afterPrepare: 0, afterPrimaryCommit: 0, afterPrimaryAbort: 0, afterPrimaryUnknown: 0 },
      audits: 0, auditErrors: 0, crashes: 0, clockJumps: 0, intentsResolved: 0, pushes: 0, preparedAfterScan: 0, staleLockReads: 0, schemaChanges: 0, schemaMisses: 0, lockReadsBelowSnapshot: 0, gcShards: 0, markersLeft: 0, appliedIndex: 0,
    };
  }

  staleLockRead(shard: number, key: Buffer, readTs: Timestamp, newestTs: Timestamp): void {
    this.stats.staleLockReads++;
    this.trace(`stale lock read on shard ${shard}: ${this.keyName(key)} read at ${readTs}, newest version at ${newestTs}`);
  }

  kvTrace(line: () => string): void {
    if (this.opts.kvTrace !== undefined) this.opts.kvTrace(`${this.now} ${line()}`);
  }

  keyName(key: Buffer): string {
    for (let i = 0; i < this.accounts; i++) if (accountKey(i).equals(key)) return `acct${i}`;
    for (let i = 1; i <= this.transferSeq; i++) if (logKey(i).equals(key)) return `log${i}`;
    if (key.equals(SCHEMA_KEY)) return 'schema';
    return key.toString('hex');
  }

  describe(out: unknown): string {
    if (out === undefined || out === null) return 'none';
    if (typeof out === 'string' || typeof out === 'number' || typeof out === 'bigint' || typeof out === 'boolean') return `${out}`;
    if (typeof out !== 'object') return typeof out;
    const o = out as Record<string, unknown>;
    if (Buffer.isBuffer(o.value)) return `${o.value.toString()}@${String(o.ts)}`;
    if ('rows' in o && Array.isArray(o.rows)) return `${o.rows.length} rows`;
    if ('granted' in o) {
      const row = o.row as { value: Buffer; ts: bigint } | undefined;
      return o.granted === true ? `granted ${row ? `${row.value.toString()}@${row.ts}` : 'none'} readTs ${String(o.readTs)} newest ${String(o.newestTs)}` : 'waiting';
    }
    return JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }

  describeEntry(e: LogEntry): string {
    const id = 'txnId' in e ? e.txnId.toString('hex').slice(0, 8) : '';
    const ws = 'writes' in e ? ` w[${e.writes.map((w) => `${this.keyName(w.key)}=${w.kind === 'put' ? w.value.toString() : 'del'}`).join(',')}]` : '';
    const rs = 'reads' in e ? ` r[${e.reads.map((r) => (r.kind === 'point' ? this.keyName(r.key) : 'span')).join(',')}]` : '';
    const extra = e.type === 'resolve' ? ` ${e.decision.kind}${e.decision.kind === 'commit' ? `@${e.decision.commitTs}` : ''}` : 'readTs' in e ? ` readTs ${e.readTs}` : '';
    return `${e.type} ${id}${extra}${rs}${ws}`;
  }

  wallUs(n: SimNode): Timestamp {
    return BASE_US + BigInt(this.now) * 1000n + n.offsetUs;
  }

  private trace(line: string): void {
    this.sig = hashString(line, this.sig);
    this.opts.trace?.(`${this.now} ${line}`);
  }

  timersFor(r: BankReplica): ReplicaTimers {
    return {
      every: (ms, fn) => {
        let stopped = false;
        const arm = (): void => this.q.push(this.now + ms, { k: 'wake', fn: tick });
        const tick = (): void => {
          if (stopped || !r.up) return;
          fn();
          arm();
        };
        arm();
        return { stop: () => void (stopped = true) };
      },
    };
  }

  send(from: number, shard: number, m: Message): void {
    this.net.send(from, m.to, { shard, msg: m }, this.now);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.q.push(this.now + ms, { k: 'wake', fn: resolve }));
  }

  leaderOf(shard: number): BankReplica | undefined {
    let best: BankReplica | undefined;
    for (const r of this.byShard.get(shard) ?? []) if (r.leading && (best === undefined || r.rawNode.raft.term > best.rawNode.raft.term)) best = r;
    return best;
  }

  /** A gateway's KV client: the simulated clock judges intent expiry, sleeps are virtual. */
  private newGateway(crash?: CrashingGateway): KvClient {
    const shards = new Map<number, ShardKv>();
    for (const [id, kv] of this.kvs) shards.set(id, crash === undefined ? kv : crash.wrap(kv));
    return new KvClient({
      map: this.map,
      shards,
      clock: { now: () => BASE_US + BigInt(this.now) * 1000n },
      sleep: (ms) => this.sleep(ms),
      txnExpiryUs: BigInt(this.expiryMs) * 1000n,
      intentWaitMs: INTENT_WAIT_REAL_MS,
      maxClockOffsetUs: MAX_OFFSET_US,
      replicatedKeys: [SCHEMA_KEY],
    });
  }

  private txnId(rng: Prng): Buffer {
    const id = Buffer.alloc(16);
    id[0] = 0xba;
    for (let i = 1; i < 16; i += 3) id.writeUIntBE(rng.int(1 << 24), i, 3);
    return id;
  }

  private shardOfAccount(i: number): number {
    return this.map.forKey(accountKey(i));
  }

  async run(): Promise<BankSimResult> {
    for (const id of NODES) {
      const n = new SimNode(id, BigInt(this.rng.range(-Number(MAX_OFFSET_US) / 2, Number(MAX_OFFSET_US) / 2)));
      this.nodes.push(n);
    }
    for (const shard of this.map.shardIds()) {
      const rs: BankReplica[] = [];
      for (const n of this.nodes) {
        const store = await MvccStore.open(path.join(this.dir, `n${n.id}-s${shard}`));
        const r = new BankReplica(n, shard, MemoryStorage.withVoters(NODES), store, this);
        await r.boot();
        n.replicas.set(shard, r);
        rs.push(r);
      }
      this.byShard.set(shard, rs);
      this.kvs.set(shard, new LeaderKv(shard, this));
    }
    for (const n of this.nodes) this.q.push(this.rng.range(1, TICK_MS), { k: 'tick', node: n.id });
    const clients = this.opts.clients ?? 4;
    try {
      if (!(await this.task(this.setup(), 5000))) this.fail('setup: the initial balances did not commit within 5 s virtual');
      this.q.push(this.now + 100, { k: 'fault' });
      const started = this.now;
      for (let c = 0; c < clients; c++) void this.client(c).finally(() => this.clientsDone++);
      await this.loop(started + (this.opts.durationMs ?? 2500));
      // Heal: no more faults, every node back up, clients finish what they are doing.
      this.faultsOn = false;
      this.clientsOn = false;
      this.net.heal();
      for (const n of this.nodes) if (!n.up) await this.restart(n);
      await this.loop(this.now + 5000, () => this.clientsDone === clients);
      if (this.clientsDone !== clients) this.fail(`client(s) still stuck 5 s (virtual) after heal: ${[...this.busy.values()].join('; ')}`);
      // Every abandoned transaction is past its expiry now: readers may abort it.
      await this.loop(this.now + this.expiryMs + 200);
      await this.settleAll();
      this.stats.markersLeft = [...this.byShard.values()].reduce((n, rs) => n + rs[0].sm.resolvedMarkerCount(), 0);
    } catch (e) {
      this.fail(`exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    } finally {
      for (const n of this.nodes) for (const r of n.replicas.values()) if (r.up) r.crash();
      for (const n of this.nodes) for (const r of n.replicas.values()) await r.store.close();
    }
    for (const g of this.gateways) {
      this.stats.intentsResolved += g.stats.intentsResolved;
      this.stats.pushes += g.stats.pushes;
    }
    this.stats.appliedIndex = [...this.byShard.values()].reduce((s, rs) => s + rs[0].sm.appliedIndex, 0);
    this.stats.gcShards = [...this.byShard.values()].filter((rs) => rs[0].sm.gcThreshold > 0n).length;
    return { ok: this.failure === undefined, seed: this.opts.seed, reason: this.failure, signature: (this.sig >>> 0).toString(16), stats: this.stats, virtualMs: this.now };
  }

  private fail(reason: string): void {
    if (this.failure === undefined) this.trace(`FAIL ${reason}`);
    this.failure ??= reason;
  }

  /** Runs the simulation until `p` settles (or `timeoutMs` virtual passes); whether it settled. */
  private async task(p: Promise<unknown>, timeoutMs: number): Promise<boolean> {
    let done = false;
    void p.then(
      () => (done = true),
      (e: unknown) => {
        done = true;
        this.fail(`exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      },
    );
    await this.loop(this.now + timeoutMs, () => done);
    return done;
  }

  private async setup(): Promise<void> {
    const kv = this.newGateway();
    const rng = this.rng.fork('setup');
    for (let attempt = 0; ; attempt++) {
      const t = new Txn(kv, { randomId: () => this.txnId(rng) });
      for (let i = 0; i < this.accounts; i++) t.put(accountKey(i), Buffer.from(String(INITIAL_BALANCE)));
      try {
        await t.commit();
        this.trace(`setup committed after ${attempt} retries`);
        return;
      } catch (e) {
        if (attempt > 50) throw e;
        await this.sleep(50);
      }
    }
  }

  private async loop(until: number, stopWhen?: () => boolean): Promise<void> {
    while (this.failure === undefined) {
      if (stopWhen?.()) return;
      const tNet = this.net.nextAt();
      const tQ = this.q.peek()?.at;
      const t = Math.min(tNet ?? Infinity, tQ ?? Infinity);
      if (t === Infinity || t > until) {
        this.now = Math.max(this.now, until);
        return;
      }
      this.now = Math.max(this.now, t);
      if (tNet !== undefined && tNet <= t) {
        const d = this.net.popDue(this.now);
        const to = d && this.nodes[d.to - 1];
        const r = d && to?.up ? to.replicas.get(d.msg.shard) : undefined;
        if (d && r?.up) r.rawNode.step(d.msg.msg);
      } else {
        const ev = this.q.pop()?.item as Ev;
        this.handle(ev);
      }
      for (;;) {
        let progress = false;
        for (const n of this.nodes) for (const r of n.replicas.values()) while (r.handleReady()) progress = true;
        await new Promise<void>((r) => setImmediate(r));
        for (const n of this.nodes) for (const r of n.replicas.values()) if (r.up && r.rawNode.hasReady()) progress = true;
        if (!progress) break;
      }
    }
  }

  private handle(ev: Ev): void {
    switch (ev.k) {
      case 'tick': {
        const n = this.nodes[ev.node - 1];
        if (n.up) for (const r of n.replicas.values()) r.tick();
        this.q.push(this.now + TICK_MS, ev);
        break;
      }
      case 'wake':
        ev.fn();
        break;
      case 'restart':
        void this.restart(this.nodes[ev.node - 1]);
        break;
      case 'fault':
        if (!this.faultsOn) return;
        this.fault();
        this.q.push(this.now + this.rng.range(100, 500), { k: 'fault' });
        break;
    }
  }

  private async restart(n: SimNode): Promise<void> {
    if (n.up) return;
    n.up = true;
    for (const r of n.replicas.values()) await r.boot();
    this.trace(`restart ${n.id}`);
  }

  private crash(n: SimNode): void {
    n.up = false;
    for (const r of n.replicas.values()) r.crash();
    this.stats.crashes++;
    this.trace(`crash ${n.id}`);
    this.q.push(this.now + this.rng.range(2 * ELECTION_TICKS * TICK_MS, 600), { k: 'restart', node: n.id });
  }

  private fault(): void {
    const r = this.rng.int(12);
    this.net.heal();
    if (r < 3) {
      const victim = this.rng.range(1, 3);
      this.net.partition([victim], NODES.filter((x) => x !== victim));
      this.trace(`isolate ${victim}`);
    } else if (r < 5) {
      for (const a of NODES) for (const b of NODES) if (a !== b) this.net.setLink(a, b, { dropRate: 0.15, reorderRate: 0.2, duplicateRate: 0.05 });
      this.trace('lossy');
    } else if (r < 7) {
      if (this.nodes.every((n) => n.up)) {
        // Mostly a node that leads some shard (its proposals in flight become ambiguous).
        const leaders = this.nodes.filter((n) => [...n.replicas.values()].some((x) => x.leading));
        const victim = this.rng.chance(0.7) && leaders.length > 0 ? this.rng.pick(leaders) : this.rng.pick(this.nodes);
        this.crash(victim);
      }
    } else if (r < 8) {
      const a = this.rng.range(1, 3);
      const b = this.rng.pick(NODES.filter((x) => x !== a));
      this.net.partitionOneWay([a], [b]);
      this.trace(`one-way ${a}->${b}`);
    } else if (r < 10) {
      // A clock jump (either way), staying within ±max offset / 2 so any two nodes differ by at most the max offset.
      const n = this.rng.pick(this.nodes);
      n.offsetUs = BigInt(this.rng.range(-Number(MAX_OFFSET_US) / 2, Number(MAX_OFFSET_US) / 2));
      this.stats.clockJumps++;
      this.trace(`clock ${n.id} offset ${n.offsetUs}us`);
    } else {
      this.trace('healthy');
    }
  }

  // ------------------------------------------------------------------ clients

  private async client(c: number): Promise<void> {
    const rng = this.rng.fork(`client-${c}`);
    const kv = this.newGateway();
    this.gateways.push(kv);
    await this.sleep(rng.range(5, 50));
    const schema = { version: 0 };
    while (this.clientsOn && this.failure === undefined) {
      await this.sleep(rng.range(2, 30));
      if (rng.int(10) === 0) await this.audit(kv, rng, `audit c${c}`);
      else if (rng.int(12) === 0) await this.bumpSchema(kv, rng, c);
      else await this.transfer(kv, rng, c, schema);
    }
    this.busy.delete(c);
  }

  private pickOther(rng: Prng, not: readonly number[], crossShardOf: readonly number[]): number | undefined {
    const shards = new Set(crossShardOf.map((i) => this.shardOfAccount(i)));
    const candidates: number[] = [];
    for (let i = 0; i < this.accounts; i++) if (!not.includes(i) && !shards.has(this.shardOfAccount(i))) candidates.push(i);
    return candidates.length > 0 ? rng.pick(candidates) : undefined;
  }

  /**
   * A "DDL": the schema version + 1 on every shard (one 2PC over all of them). It conflicts with
   * every prepared transfer (their read sets hold the version), so it retries as DDL would.
   */
  private async bumpSchema(kv: KvClient, rng: Prng, c: number): Promise<void> {
    for (let attempt = 0; attempt < 5 && this.clientsOn; attempt++) {
      const t = new Txn(kv, { randomId: () => this.txnId(rng) });
      try {
        const v = schemaVersion(await t.get(SCHEMA_KEY));
        t.put(SCHEMA_KEY, Buffer.from(String(v + 1)));
        await t.commit();
        this.stats.schemaChanges++;
        this.trace(`client ${c} schema -> ${v + 1}`);
        return;
      } catch (e) {
        if (!t.finished) t.rollback();
        this.trace(`client ${c} schema change failed: ${e instanceof Error ? e.message : String(e)}`);
        if (!(e instanceof PgError) && !isKvError(e)) return this.fail(`client ${c} schema change: unexpected ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        if (e instanceof PgError && e.code === '40003') return;
        await this.sleep(rng.range(1, 20));
      }
    }
  }

  private async transfer(kv: KvClient, rng: Prng, c: number, schema: { version: number }): Promise<void> {
    const id = ++this.transferSeq;
    const from = rng.int(this.accounts);
    const cross = rng.chance(0.85);
    let to = cross ? this.pickOther(rng, [from], [from]) : undefined;
    if (to === undefined) to = (from + 1 + rng.int(this.accounts - 1)) % this.accounts;
    const amount = rng.range(1, 40);
    const crash = cross && rng.chance(0.1) ? new CrashingGateway(rng.pick<CrashPoint>(['mid-prepare', 'after-prepare', 'after-primary'])) : undefined;
    const locking = crash === undefined && rng.chance(0.4) && this.opts.locking !== false;
    const extra = rng.chance(0.2) ? this.pickOther(rng, [from, to], [from, to]) : undefined;
    const rec: Transfer = { id, from, to, amount, outcome: 'open', how: '' };
    this.transfers.set(id, rec);
    this.stats.transfers++;
    if (this.shardOfAccount(from) !== this.shardOfAccount(to)) this.stats.crossShard++;
    if (locking) this.stats.locked++;
    if (extra !== undefined) this.stats.readOnlyParticipants++;
    const gateway = crash === undefined ? kv : this.newGateway(crash);
    const t = new Txn(gateway, { randomId: () => this.txnId(rng) });
    const assumed = schema.version;
    t.assume(SCHEMA_KEY, (v) => schemaVersion(v) === assumed);
    if (crash !== undefined) crash.txnId = t.id;
    const tag = `transfer ${id} ${from}->${to} ${amount}${locking ? ' locking' : ''}${extra !== undefined ? ` +read ${extra}` : ''}${crash ? ` crash ${crash.point}` : ''} txn ${t.id.toString('hex').slice(0, 8)}`;
    const phase = (p: string): void => void this.busy.set(c, `client ${c} ${tag}: ${p} since ${this.now}`);
    phase('reading');
    let seen = '';
    let hazard = '';
    const settle = (outcome: Outcome, how: string): void => {
      rec.outcome = outcome;
      rec.how = how + hazard;
      this.trace(`${tag}: ${outcome} (${how})${seen}`);
    };
    try {
      const bal = new Map<number, number>();
      const read = async (i: number, lock: boolean): Promise<void> => {
        phase(`${lock ? 'locking' : 'reading'} account ${i}`);
        const v = lock ? await t.getForUpdate(accountKey(i)) : await t.get(accountKey(i));
        const lockedAt = this.lockReadTs.get(t.id.toString('hex'));
        if (lock && lockedAt !== undefined && lockedAt < (await t.readTs())) {
          this.stats.lockReadsBelowSnapshot++;
          hazard += `; lock read of account ${i} at ${lockedAt}, below the snapshot ${await t.readTs()}`;
        }
        this.lockReadTs.delete(t.id.toString('hex'));
        const n = Number(v?.toString() ?? 'NaN');
        if (!Number.isInteger(n)) throw new Error(`account ${i} holds ${v?.toString() ?? 'nothing'}`);
        bal.set(i, n);
      };
      for (const i of locking ? [from, to].sort((a, b) => a - b) : [from, to]) await read(i, locking);
      if (extra !== undefined) await read(extra, false);
      const a = bal.get(from) as number;
      const z = bal.get(to) as number;
      seen = ` read ${from}=${a} ${to}=${z} at ${await t.readTs()}`;
      if (a < amount) {
        t.rollback();
        this.stats.insufficient++;
        return settle('aborted', 'insufficient funds');
      }
      const puts: [Buffer, string][] = [
        [accountKey(from), String(a - amount)],
        [accountKey(to), String(z + amount)],
        [logKey(id), `${id}:${from}:${to}:${amount}`],
      ];
      for (const [k, v] of rng.shuffle(puts)) t.put(k, Buffer.from(v)); // the first is the primary
      phase('committing');
      if (crash === undefined) {
        const ts = await t.commit();
        rec.commitTs = ts;
        if (ts !== undefined) this.acked.push({ at: this.now, ts });
        this.stats.committed++;
        return settle('committed', `@${ts}`);
      }
      const crashed = await Promise.race([t.commit().then(() => false), crash.crashed.then(() => true)]);
      if (!crashed) {
        this.stats.committed++;
        return settle('committed', 'before its gateway could crash');
      }
      if (crash.point === 'mid-prepare') {
        this.stats.abandoned.midPrepare++;
        return settle('aborted', 'gateway died during prepares');
      }
      if (crash.point === 'after-prepare') {
        this.stats.abandoned.afterPrepare++;
        return settle('aborted', 'gateway died before the decision');
      }
      switch (crash.primaryOutcome) {
        case 'committed':
          this.stats.abandoned.afterPrimaryCommit++;
          return settle('committed', 'gateway died after the primary committed');
        case 'aborted':
          this.stats.abandoned.afterPrimaryAbort++;
          return settle('aborted', 'gateway died after the primary aborted');
        default:
          this.stats.abandoned.afterPrimaryUnknown++;
          return settle('unknown', 'gateway died after an unanswered decision');
      }
    } catch (e) {
      if (!t.finished) t.rollback();
      if (e instanceof AssumptionFailedError) {
        // As a gateway would: learn the version (here in a transaction of its own) and go on.
        this.stats.schemaMisses++;
        const r = new Txn(kv, { randomId: () => this.txnId(rng) });
        schema.version = await r.get(SCHEMA_KEY).then(schemaVersion, () => schema.version);
        this.stats.aborted++;
        return settle('aborted', `schema moved on from ${assumed}`);
      }
      const code = e instanceof PgError ? e.code : undefined;
      const msg = `${code ?? (e instanceof Error ? e.name : 'error')}: ${e instanceof Error ? e.message : String(e)}`;
      if (code === '40003') {
        this.stats.unknown++;
        return settle('unknown', msg);
      }
      if (!(e instanceof PgError) && !isKvError(e)) {
        this.fail(`${tag}: unexpected ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        return;
      }
      this.stats.aborted++;
      return settle('aborted', msg);
    }
  }

  /**
   * A read-only transaction scanning every account: the exact total, nothing negative, and
   * (strict serializability, decision 0055) every transfer acknowledged before it began, by any
   * gateway, at or below its snapshot.
   */
  private async audit(kv: KvClient, rng: Prng, tag: string): Promise<void> {
    const startedAt = this.now;
    const t = new Txn(kv, { randomId: () => this.txnId(rng) });
    const span = indexSpan(ACCOUNTS_TABLE);
    let sum = 0;
    let n = 0;
    const negative: string[] = [];
    const seen = new Map<string, string>();
    try {
      for await (const row of t.scan(span.start, span.end)) {
        seen.set(row.key.toString('hex'), row.value.toString());
        const v = Number(row.value.toString());
        if (!(v >= 0)) negative.push(row.value.toString());
        sum += v;
        n++;
      }
      await t.commit();
    } catch (e) {
      if (!t.finished) t.rollback();
      this.stats.auditErrors++;
      this.trace(`${tag}: error ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.stats.audits++;
    const ts = await t.readTs();
    const missed = this.acked.find((a) => a.at < startedAt && a.ts > ts);
    if (missed !== undefined) {
      this.fail(`${tag}: began at ${startedAt} ms and read at ${ts}, below a transfer acknowledged at ${missed.at} ms (commit ${missed.ts}): a stale read`);
      return;
    }
    this.audits.push({ tag, ts, seen });
    this.trace(`${tag} @${ts}: ${n} accounts, total ${sum}`);
    if (n !== this.accounts || sum !== this.total || negative.length > 0) {
      // Failed at the end (with what the committed history holds at that timestamp), so the run
      // still settles and the final checks still run.
      this.badAudit ??= `${tag} at ${ts} saw ${n}/${this.accounts} accounts, total ${sum} (expected ${this.total})${negative.length > 0 ? `, negative/invalid balances ${negative.join(',')}` : ''}`;
    }
  }

  // ------------------------------------------------------------------ settle and check

  private leftovers(): string[] {
    const out: string[] = [];
    for (const [shard, rs] of this.byShard) {
      for (const r of rs) {
        for (const id of r.sm.preparedTxns) out.push(`shard ${shard} node ${r.node.id}: prepared ${id.slice(0, 8)}`);
        for (const s of r.sm.stagedTransactions()) out.push(`shard ${shard} node ${r.node.id}: staged ${s.txnId.toString('hex').slice(0, 8)} ${s.state}`);
      }
    }
    return out;
  }

  private converged(): boolean {
    for (const rs of this.byShard.values()) {
      const [a, ...rest] = rs;
      if (!a.up || a.sm.appliedIndex === 0) return false;
      if (!rest.every((r) => r.up && r.sm.appliedIndex === a.sm.appliedIndex && r.sm.stateHash().equals(a.sm.stateHash()))) return false;
    }
    return true;
  }

  private describeShards(): string {
    return [...this.byShard].map(([s, rs]) => `shard ${s}: ${rs.map((r) => `${r.node.id}@${r.sm.appliedIndex}:${r.sm.stateHash().toString('hex').slice(0, 8)}`).join(' ')}`).join('; ');
  }

  /** Retries `op` (a transaction) until it succeeds; fails the run if it never does. */
  private async finalTxn<T>(what: string, op: (kv: KvClient, rng: Prng) => Promise<T>): Promise<T | undefined> {
    const kv = this.newGateway();
    this.gateways.push(kv);
    const rng = this.rng.fork(what);
    let result: T | undefined;
    let ok = false;
    const attempt = async (): Promise<void> => {
      let last: unknown;
      for (let i = 0; i < 20; i++) {
        try {
          result = await op(kv, rng);
          ok = true;
          return;
        } catch (e) {
          last = e;
          await this.sleep(50);
        }
      }
      throw last;
    };
    if (!(await this.task(attempt(), 10_000)) || !ok) {
      this.fail(`${what} did not complete after heal`);
      return undefined;
    }
    return result;
  }

  private async scanAll(t: Txn): Promise<{ balances: Map<number, number>; logs: string[] }> {
    const balances = new Map<number, number>();
    const a = indexSpan(ACCOUNTS_TABLE);
    // Rows come in key order (hash first), not account order: key them by account id.
    const byKey = new Map<string, number>();
    for (let j = 0; j < this.accounts; j++) byKey.set(accountKey(j).toString('hex'), j);
    for await (const row of t.scan(a.start, a.end)) balances.set(byKey.get(row.key.toString('hex')) ?? -1, Number(row.value.toString()));
    const logs: string[] = [];
    const l = indexSpan(TRANSFER_LOG_TABLE);
    for await (const row of t.scan(l.start, l.end)) logs.push(row.value.toString());
    return { balances, logs };
  }

  private async settleAll(): Promise<void> {
    // A full read resolves every intent it meets (aborting the expired, finishing the decided).
    await this.finalTxn('final scan', async (kv, rng) => {
      const t = new Txn(kv, { randomId: () => this.txnId(rng) });
      await this.scanAll(t);
      await t.commit();
    });
    await this.loop(this.now + 3000, () => this.converged() && this.leftovers().length === 0);
    const afterScan = this.leftovers();
    this.stats.preparedAfterScan = afterScan.length;
    if (afterScan.length > 0) this.trace(`after the final scan: ${afterScan.join(', ')}`);
    if (!this.opts.noWritePass && afterScan.length > 0) {
      // Prepared read-only participants hold read locks and no intents: only a writer meets them.
      await this.finalTxn('final write pass', async (kv, rng) => {
        const t = new Txn(kv, { randomId: () => this.txnId(rng) });
        for (let i = 0; i < this.accounts; i++) {
          const v = await t.get(accountKey(i));
          if (v === undefined) throw new Error(`account ${i} is missing`);
          t.put(accountKey(i), v);
        }
        await t.commit();
      });
    }
    // The gateways' queued forgets (decision 0054) go out now, as at a gateway's shutdown.
    await this.task(Promise.all(this.gateways.map((g) => g.flushForgets())), 5000);
    await this.loop(this.now + 3000, () => this.converged() && this.leftovers().length === 0);
    if (this.failure !== undefined) return;
    if (!this.converged()) return this.fail(`replicas did not converge: ${this.describeShards()}`);
    const left = this.leftovers();
    if (left.length > 0) return this.fail(`transactions left unresolved after settling: ${left.join(', ')}`);
    for (const rs of this.byShard.values()) {
      for (const r of rs) {
        const v = r.sm.verifyStateHash();
        if (!v.ok) return this.fail(`shard ${r.shard} node ${r.node.id}: maintained state hash ${v.stored.toString('hex').slice(0, 8)} != recomputed ${v.recomputed.toString('hex').slice(0, 8)}`);
      }
    }
    const final = await this.finalTxn('final strong read', async (kv, rng) => {
      const t = new Txn(kv, { randomId: () => this.txnId(rng) });
      const out = await this.scanAll(t);
      await t.commit();
      return out;
    });
    if (final === undefined) return;
    this.trace(`final ${this.describeShards()}`);
    this.check(final.balances, final.logs);
    this.checkTimestamps();
    this.checkAudits();
  }

  /** Every version of `key` in the settled state, newest first. */
  /** The replica whose store the final checks read for `key`: the shard's leader, or its first. */
  private replicaFor(key: Buffer): BankReplica {
    const shard = this.map.forKey(key);
    return this.leaderOf(shard) ?? (this.byShard.get(shard) as BankReplica[])[0];
  }

  get gcOn(): boolean {
    return this.opts.gc === true;
  }

  private versions(key: Buffer): { ts: Timestamp; value: string }[] {
    const shard = this.map.forKey(key);
    const r = this.leaderOf(shard) ?? (this.byShard.get(shard) as BankReplica[])[0];
    const out: { ts: Timestamp; value: string }[] = [];
    let at = (1n << 63n) - 1n;
    for (;;) {
      if (at < r.sm.gcThreshold) return out; // collected below here
      const row = r.sm.read(key, at);
      if (!row) return out;
      out.push({ ts: row.ts, value: row.value.toString() });
      at = row.ts - 1n;
    }
  }

  /** A transfer's three rows (on up to three shards) carry its one commit timestamp, the one its client was given. */
  private checkTimestamps(): void {
    const history = new Map<number, { ts: Timestamp; value: string }[]>();
    for (let i = 0; i < this.accounts; i++) history.set(i, this.versions(accountKey(i)));
    for (const rec of this.transfers.values()) {
      const log = this.versions(logKey(rec.id));
      if (log.length === 0) continue;
      const ts = log[0].ts;
      // Versions at or below a shard's gc threshold may be collected: nothing to compare.
      if ([logKey(rec.id), accountKey(rec.from), accountKey(rec.to)].some((k) => ts <= this.replicaFor(k).sm.gcThreshold)) continue;
      const problems: string[] = [];
      if (rec.commitTs !== undefined && rec.commitTs !== ts) problems.push(`acknowledged at ${rec.commitTs}, logged at ${ts}`);
      for (const acct of [rec.from, rec.to]) {
        if (!(history.get(acct) ?? []).some((v) => v.ts === ts)) {
          const near = (history.get(acct) ?? []).filter((v) => v.ts >= ts - 300_000n && v.ts <= ts + 300_000n).map((v) => `${v.value}@${v.ts}`);
          problems.push(`account ${acct} (shard ${this.shardOfAccount(acct)}) has no version at ${ts} (near: ${near.join(' ')})`);
        }
      }
      if (problems.length > 0) return this.fail(`transfer ${rec.id} ${rec.from}->${rec.to} ${rec.amount} (${rec.outcome}: ${rec.how}; log on shard ${this.map.forKey(logKey(rec.id))}): ${problems.join('; ')}`);
    }
  }

  /**
   * Every audit must have seen exactly the committed history at its timestamp (read from the
   * settled leader replicas' stores): no commit may land at or below a snapshot already served.
   */
  private checkAudits(): void {
    for (const a of this.audits) {
      const diff: string[] = [];
      for (let i = 0; i < this.accounts; i++) {
        const key = accountKey(i);
        const r = this.replicaFor(key);
        if (a.ts < r.sm.gcThreshold) continue; // that history is collected
        const row = r.sm.read(key, a.ts);
        const want = row?.value.toString();
        const got = a.seen.get(key.toString('hex'));
        if (want !== got) diff.push(`account ${i} (shard ${r.shard}): saw ${got ?? 'nothing'}, history has ${want ?? 'nothing'}${row ? `@${row.ts}` : ''}`);
      }
      if (diff.length > 0) return this.fail(`${this.badAudit ?? a.tag} — audit ${a.tag} at ${a.ts} disagrees with the committed history: ${diff.join('; ')}`);
    }
    if (this.badAudit !== undefined) {
      // The history itself is off at that timestamp: replay the logged transfers up to it.
      const bad = this.audits.find((x) => this.badAudit?.startsWith(`${x.tag} at ${x.ts}`));
      const diff: string[] = [];
      if (bad !== undefined) {
        const expect = new Map<number, number>();
        for (let i = 0; i < this.accounts; i++) expect.set(i, INITIAL_BALANCE);
        const applied: string[] = [];
        for (const rec of this.transfers.values()) {
          const log = this.versions(logKey(rec.id));
          if (log.length === 0 || log[0].ts > bad.ts) continue;
          expect.set(rec.from, (expect.get(rec.from) as number) - rec.amount);
          expect.set(rec.to, (expect.get(rec.to) as number) + rec.amount);
          if (log[0].ts > bad.ts - 200_000n) applied.push(`${rec.id}@${log[0].ts}`);
        }
        for (let i = 0; i < this.accounts; i++) {
          const got = bad.seen.get(accountKey(i).toString('hex'));
          if (Number(got) !== expect.get(i)) {
            const vs = this.versions(accountKey(i)).filter((v) => v.ts > bad.ts - 300_000n && v.ts < bad.ts + 300_000n).map((v) => `${v.value}@${v.ts}`);
            diff.push(`account ${i} (shard ${this.shardOfAccount(i)}): saw ${got ?? 'nothing'}, logged transfers give ${expect.get(i)}; versions near: ${vs.join(' ')}`);
          }
        }
        diff.push(`recent logged transfers: ${applied.join(' ')}`);
      }
      this.fail(`${this.badAudit}${diff.length > 0 ? ` — ${diff.join('; ')}` : ''}`);
    }
  }

  /**
   * Walks every account's versions in timestamp order against the logged transfers at each
   * version's timestamp: names the first version that is not its predecessor plus that transfer
   * (a lost update), for the failure message.
   */
  private explainHistory(): string {
    const byTs = new Map<Timestamp, Transfer[]>();
    for (const rec of this.transfers.values()) {
      const log = this.versions(logKey(rec.id));
      if (log.length === 0) continue;
      byTs.set(log[0].ts, [...(byTs.get(log[0].ts) ?? []), rec]);
    }
    const out: string[] = [];
    for (let i = 0; i < this.accounts; i++) {
      const vs = this.versions(accountKey(i)).reverse();
      for (let j = 1; j < vs.length; j++) {
        const recs = (byTs.get(vs[j].ts) ?? []).filter((r) => r.from === i || r.to === i);
        const delta = recs.reduce((d, r) => d + (r.to === i ? r.amount : -r.amount), 0);
        if (recs.length === 0 && vs[j].value === vs[j - 1].value) continue; // the final write pass
        if (Number(vs[j].value) !== Number(vs[j - 1].value) + delta || recs.length !== 1) {
          const rs = recs.map((r) => `transfer ${r.id} ${r.from}->${r.to} ${r.amount} (${r.how})`).join(', ') || 'no logged transfer';
          out.push(`account ${i} (shard ${this.shardOfAccount(i)}): ${vs[j - 1].value}@${vs[j - 1].ts} -> ${vs[j].value}@${vs[j].ts} by ${rs}`);
          break;
        }
      }
    }
    return out.join('; ');
  }

  private check(balances: Map<number, number>, logs: readonly string[]): void {
    let sum = 0;
    for (let i = 0; i < this.accounts; i++) {
      const b = balances.get(i);
      if (b === undefined || !Number.isInteger(b)) return this.fail(`final state: account ${i} holds ${b ?? 'nothing'}`);
      if (b < 0) return this.fail(`final state: account ${i} is negative (${b})`);
      sum += b;
    }
    if (balances.size !== this.accounts) return this.fail(`final state: ${balances.size} account rows, expected ${this.accounts}`);
    if (sum !== this.total) return this.fail(`final state: total ${sum}, expected ${this.total}; first versions that do not follow from their predecessor: ${this.explainHistory()}`);
    const expected = new Map<number, number>();
    for (let i = 0; i < this.accounts; i++) expected.set(i, INITIAL_BALANCE);
    const logged = new Set<number>();
    for (const line of logs) {
      const [id, from, to, amount] = line.split(':').map(Number);
      const rec = this.transfers.get(id);
      if (rec === undefined || rec.from !== from || rec.to !== to || rec.amount !== amount) return this.fail(`final state: log row ${line} matches no transfer a client made`);
      if (rec.outcome === 'aborted' || rec.outcome === 'open') return this.fail(`final state: transfer ${id} is logged, but it ${rec.outcome === 'open' ? 'never finished' : `did not commit (${rec.how})`}`);
      logged.add(id);
      expected.set(from, (expected.get(from) as number) - amount);
      expected.set(to, (expected.get(to) as number) + amount);
    }
    for (const rec of this.transfers.values()) {
      if (rec.outcome === 'committed' && !logged.has(rec.id)) return this.fail(`final state: committed transfer ${rec.id} (${rec.how}) is not logged`);
    }
    for (let i = 0; i < this.accounts; i++) {
      if (balances.get(i) !== expected.get(i)) {
        return this.fail(`final state: account ${i} holds ${balances.get(i)}, but the initial balance and the logged transfers give ${expected.get(i)}; ${this.explainHistory()}`);
      }
    }
    const unknown = [...this.transfers.values()].filter((r) => r.outcome === 'unknown');
    this.trace(`checked: ${logged.size} logged transfers, ${unknown.filter((r) => logged.has(r.id)).length}/${unknown.length} outcome-unknown ones landed`);
  }
}

function isKvError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string';
}

/** Runs one seed; the temporary RocksDB directories are removed afterwards. */
export async function runBankSim(opts: BankSimOptions): Promise<BankSimResult> {
  const dir = mkdtempSync(path.join(tmpdir(), `weft-bank-sim-${opts.seed}-`));
  try {
    return await new BankSim(opts, dir).run();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
