/**
 * A 3-replica shard under the deterministic simulator: RawNodes on a SimNetwork, each driving a
 * real ShardReplica over a real RocksDB materializer, with clients issuing random 1PC commits,
 * strong reads at the leader and follower reads at the closed timestamp, while faults strike
 * (partitions, lossy links, crashes with restart, clock offsets within the configured bound).
 *
 * Clients also run large transactions through the real `Txn` with one-byte stage chunks (every
 * put is a `stage` entry laid as intents), routed to whichever replica leads at each call as a
 * gateway's KV client would; they commit, roll back, or abandon the transaction (a crashed
 * gateway), leaving the replicas' staged sweep (small virtual limits here) to settle the rest.
 *
 * At the end, faults heal and the run checks that (1) every replica reaches the same state hash
 * at the same applied index, with no staged transaction left unsettled; (2) every acknowledged
 * commit is in the final state at its commit timestamp; (3) every read returned exactly the
 * newest committed version at or below its timestamp (no commit ever landed below a served read
 * or a closed timestamp); (4) no value of a transaction known not to have committed (refused,
 * rolled back, abandoned) is in the final state, every value there was written by some client,
 * and a large transaction whose commit was ambiguous is in the final state entirely or not at all.
 *
 * Crash model: the host persists each Ready synchronously before sending or applying, so a
 * crash (kill -9) keeps the Raft log and the materializer's RocksDB state; what it loses is
 * everything in memory (RawNode, replica, pending proposals). Power loss (unsynced writes lost)
 * is the Raft simulator's (raft-cluster.ts) and the WAL crash tests' business.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KvRow, ReadRequestOptions, ScanPage, ScanRequestOptions, ShardKv, TxnStatus } from '@weft/kv';
import type { ApplyOutcome, CommitEntry, LogEntry, Timestamp } from '@weft/logentry';
import { Materializer } from '@weft/materialize';
import { PgError } from '@weft/pgwire';
import { MemoryStorage, RawNode, type Message } from '@weft/raft';
import { AmbiguousResultError, ShardReplica, type CommittedEntry, type ReplicaTimers } from '@weft/replica';
import { MvccStore } from '@weft/storage';
import { Txn } from '@weft/txn';
import { EventQueue } from './event-queue';
import { SimNetwork } from './network';
import { hashString, Prng } from './prng';
import { SimRaftPort } from './raft-port';

export interface ShardSimOptions {
  readonly seed: number;
  /** Virtual milliseconds of faults and client load before healing (default 2000). */
  readonly durationMs?: number;
  readonly clients?: number;
  /** A deliberately broken replica (no commit floor), to prove the checks can fail. */
  readonly unsafeNoCommitFloor?: boolean;
  /**
   * Whether leaders may serve strong reads under their Raft lease (default: on for even seeds,
   * off for odd ones, so half the runs confirm every strong read by ReadIndex or a barrier).
   */
  readonly leaseReads?: boolean;
  /** Whether clients also run large (staged) transactions (default true). */
  readonly largeTxns?: boolean;
  /** Replicas without the staged sweep: abandoned transactions must then be caught unsettled. */
  readonly noStagedSweep?: boolean;
  readonly trace?: (line: string) => void;
}

export interface ShardSimResult {
  readonly ok: boolean;
  readonly seed: number;
  readonly reason?: string;
  /** Hash of outcomes and final state: equal for equal seeds. */
  readonly signature: string;
  readonly stats: {
    commits: number;
    aborts: number;
    ambiguous: number;
    reads: number;
    followerReads: number;
    crashes: number;
    appliedIndex: number;
    /** How the leaders confirmed strong reads (ShardReplica.stats, summed over incarnations). */
    leaseReads: number;
    readIndexReads: number;
    barrierReads: number;
    /** Large (staged) transactions by how they ended, as the client saw it; puts = chunks proposed. */
    large: { commits: number; aborts: number; rollbacks: number; abandoned: number; ambiguous: number; puts: number };
  };
}

const TICK_MS = 10;
const ELECTION_TICKS = 10;
const MAX_OFFSET_US = 100_000n;
const BASE_US = 1_700_000_000_000_000n;
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];
/** Ticks a ReadIndex may wait for a quorum before it fails (as MultiRaftHost's default). */
const READ_INDEX_TIMEOUT_TICKS = 2 * ELECTION_TICKS;
/**
 * The staged sweep, scaled to the run's virtual time (production: 1 s / 5 min / 2 s): abandoned
 * transactions are aborted and unresolved decided ones resolved well within the heal phase.
 */
const STAGED_SWEEP_MS = 100;
const STAGED_IDLE_MS = 400;
const STAGED_GRACE_MS = 200;

type Ev = { k: 'tick'; node: number } | { k: 'wake'; fn: () => void } | { k: 'fault' } | { k: 'restart'; node: number };

/** One replica process: RawNode + replica; rebuilt from its "disk" (storage + RocksDB) on restart. */
class SimReplica extends SimRaftPort {
  node!: RawNode;
  replica!: ShardReplica;
  sm!: Materializer;

  constructor(
    readonly id: number,
    readonly storage: MemoryStorage,
    readonly store: MvccStore,
    private readonly sim: ShardSim,
    readonly clockOffsetUs: bigint,
  ) {
    super();
  }

  protected get core(): RawNode {
    return this.node;
  }

  protected get raftId(): number {
    return this.id;
  }

  protected leaseReadsOn(): boolean {
    return this.sim.leaseReads;
  }

  protected send(m: Message): void {
    this.sim.send(this.id, m);
  }

  protected apply(entries: CommittedEntry[]): void {
    this.replica.applyCommitted(entries);
  }

  async boot(): Promise<void> {
    this.sm = await Materializer.open(this.store, 1);
    this.node = new RawNode({
      id: this.id,
      storage: this.storage,
      rand: this.sim.rng.fork(`raft-${this.id}-${this.sim.now}`),
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
      clock: { now: () => BASE_US + BigInt(this.sim.now) * 1000n + this.clockOffsetUs },
      timers: this.sim.timersFor(this),
      maxClockOffsetUs: MAX_OFFSET_US,
      idleCloseMs: 500,
      unsafeNoCommitFloor: this.sim.unsafe,
      stagedSweepMs: this.sim.noStagedSweep ? 0 : STAGED_SWEEP_MS,
      stagedSweep: { idleMs: STAGED_IDLE_MS, graceMs: STAGED_GRACE_MS },
    });
    this.up = true;
  }

  crash(): void {
    this.up = false;
    this.sim.countReads(this.replica.stats);
    this.replica.close();
    this.failRequests(new Error('replica crashed'));
  }

  /** Called on every Raft tick: unanswered ReadIndex requests time out. */
  onTick(): void {
    this.expireReads(READ_INDEX_TIMEOUT_TICKS);
  }
}

interface WriteRec {
  readonly key: string;
  readonly value: string;
  readonly commitTs: Timestamp;
}
interface ReadRec {
  readonly key: string;
  readonly ts: Timestamp;
  readonly value: string | undefined;
  readonly node: number;
}

/** A large transaction whose commit outcome is unknown: all of its writes land, or none. */
interface AmbiguousTxn {
  readonly id: string;
  readonly writes: readonly { readonly key: string; readonly value: string }[];
}

/**
 * The shard as a gateway's KV client sees it: every call goes to whichever replica leads now
 * (highest term), so one transaction's chunks, commit and resolves may meet different leaders.
 */
class LeaderKv implements ShardKv {
  readonly shardId = 1;
  constructor(private readonly leader: () => SimReplica | undefined) {}

  private pick(): ShardReplica {
    const l = this.leader();
    if (!l) throw new Error('no leader');
    return l.replica;
  }

  now(): Promise<Timestamp> {
    return this.pick().now();
  }

  get(key: Buffer, ts: Timestamp, options?: ReadRequestOptions): Promise<KvRow | undefined> {
    return this.pick().get(key, ts, options);
  }

  scan(start: Buffer, end: Buffer, ts: Timestamp, options?: ScanRequestOptions): Promise<ScanPage> {
    return this.pick().scan(start, end, ts, options);
  }

  propose(entry: LogEntry): Promise<ApplyOutcome> {
    return this.pick().propose(entry);
  }

  txnStatus(txnId: Buffer): Promise<TxnStatus> {
    return this.pick().txnStatus(txnId);
  }
}

class ShardSim {
  now = 0;
  readonly rng: Prng;
  private readonly q = new EventQueue<Ev>();
  private readonly net: SimNetwork<Message>;
  readonly nodes: SimReplica[] = [];
  private readonly writes: WriteRec[] = [];
  private readonly reads: ReadRec[] = [];
  /** Every value any client proposed (the final state may hold only these). */
  private readonly attempted = new Set<string>();
  /** Values of transactions known not to have committed (refused, rolled back, abandoned). */
  private readonly doomed = new Set<string>();
  private readonly ambiguousTxns: AmbiguousTxn[] = [];
  private readonly kv = new LeaderKv(() => this.leader());
  private readonly stats = {
    commits: 0,
    aborts: 0,
    ambiguous: 0,
    reads: 0,
    followerReads: 0,
    crashes: 0,
    appliedIndex: 0,
    leaseReads: 0,
    readIndexReads: 0,
    barrierReads: 0,
    large: { commits: 0, aborts: 0, rollbacks: 0, abandoned: 0, ambiguous: 0, puts: 0 },
  };
  private faultsOn = true;
  private clientsOn = true;
  private valueSeq = 0;
  private sig = 0x811c9dc5;
  private failure: string | undefined;
  readonly unsafe: boolean;
  readonly leaseReads: boolean;
  private readonly largeTxns: boolean;
  readonly noStagedSweep: boolean;

  constructor(
    private readonly opts: ShardSimOptions,
    private readonly dir: string,
  ) {
    this.rng = new Prng(opts.seed);
    this.unsafe = opts.unsafeNoCommitFloor ?? false;
    this.leaseReads = opts.leaseReads ?? opts.seed % 2 === 0;
    this.largeTxns = opts.largeTxns ?? true;
    this.noStagedSweep = opts.noStagedSweep ?? false;
    this.net = new SimNetwork<Message>(this.rng.fork('net'));
  }

  /** Adds a replica incarnation's strong-read counts to the run's stats. */
  countReads(s: { readonly leaseReads: number; readonly readIndexReads: number; readonly barrierReads: number }): void {
    this.stats.leaseReads += s.leaseReads;
    this.stats.readIndexReads += s.readIndexReads;
    this.stats.barrierReads += s.barrierReads;
  }

  private trace(line: string): void {
    this.sig = hashString(line, this.sig);
    this.opts.trace?.(`${this.now} ${line}`);
  }

  timersFor(r: SimReplica): ReplicaTimers {
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

  send(from: number, m: Message): void {
    this.net.send(from, m.to, m, this.now);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.q.push(this.now + ms, { k: 'wake', fn: resolve }));
  }

  private leader(): SimReplica | undefined {
    const ls = this.nodes.filter((n) => n.up && n.node.raft.state === 'leader');
    // Several may believe they lead (an old one not yet deposed): pick the highest term.
    return ls.sort((x, y) => y.node.raft.term - x.node.raft.term)[0];
  }

  async run(): Promise<ShardSimResult> {
    for (const id of [1, 2, 3]) {
      const store = await MvccStore.open(path.join(this.dir, `r${id}`));
      const offset = BigInt(this.rng.range(-Number(MAX_OFFSET_US) / 2, Number(MAX_OFFSET_US) / 2));
      const r = new SimReplica(id, MemoryStorage.withVoters([1, 2, 3]), store, this, offset);
      await r.boot();
      this.nodes.push(r);
      this.q.push(this.rng.range(1, TICK_MS), { k: 'tick', node: id });
    }
    this.q.push(200, { k: 'fault' });
    const clients = this.opts.clients ?? 4;
    const done: Promise<void>[] = [];
    for (let c = 0; c < clients; c++) done.push(this.client(c));
    const duration = this.opts.durationMs ?? 2000;
    try {
      await this.loop(duration);
      // Heal: no more faults, everyone back up, clients stop; then everything must converge.
      this.faultsOn = false;
      this.clientsOn = false;
      this.net.heal();
      for (const n of this.nodes) if (!n.up) await this.restart(n);
      // Converged with every staged transaction settled (abandoned ones by the sweep).
      await this.loop(this.now + 4000, () => this.converged() && this.unsettled().length === 0);
      if (!this.converged()) this.fail(`replicas did not converge: ${this.nodes.map((n) => `${n.id}@${n.sm.appliedIndex}:${n.sm.stateHash().toString('hex').slice(0, 8)}`).join(' ')}`);
      const open = this.unsettled();
      if (open.length > 0) this.fail(`staged transactions left unsettled after heal: ${open.join(', ')}`);
      this.checkHistory();
    } catch (e) {
      this.fail(`exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    } finally {
      for (const n of this.nodes) if (n.up) n.crash();
      for (const n of this.nodes) await n.store.close();
    }
    this.stats.appliedIndex = this.nodes[0]?.sm.appliedIndex ?? 0;
    for (const n of this.nodes) this.trace(`final ${n.id} ${n.sm.appliedIndex} ${n.sm.stateHash().toString('hex')}`);
    return { ok: this.failure === undefined, seed: this.opts.seed, reason: this.failure, signature: (this.sig >>> 0).toString(16), stats: this.stats };
  }

  private fail(reason: string): void {
    this.failure ??= reason;
  }

  /** Staged transactions some replica still holds (state, chunks left), as `node:txn:state/chunks`. */
  private unsettled(): string[] {
    const out: string[] = [];
    for (const n of this.nodes) {
      for (const t of n.sm.stagedTransactions()) out.push(`${n.id}:${t.txnId.toString('hex').slice(0, 8)}:${t.state}/${t.chunks}`);
    }
    return out;
  }

  private converged(): boolean {
    const [a, ...rest] = this.nodes;
    return rest.every((n) => n.up && n.sm.appliedIndex === a.sm.appliedIndex && n.sm.stateHash().equals(a.sm.stateHash())) && a.sm.appliedIndex > 0;
  }

  private async loop(until: number, stopWhen?: () => boolean): Promise<void> {
    while (this.failure === undefined) {
      if (stopWhen?.()) return;
      const tNet = this.net.nextAt();
      const tQ = this.q.peek()?.at;
      const t = Math.min(tNet ?? Infinity, tQ ?? Infinity);
      if (t === Infinity || t > until) {
        this.now = until;
        return;
      }
      this.now = Math.max(this.now, t);
      if (tNet !== undefined && tNet <= t) {
        const d = this.net.popDue(this.now);
        const to = d && this.nodes[d.to - 1];
        if (d && to?.up) to.node.step(d.msg);
      } else {
        const ev = this.q.pop()?.item as Ev;
        this.handle(ev);
      }
      // Drain: Readies, then the promise callbacks they trigger (which may propose more).
      for (;;) {
        let progress = false;
        for (const n of this.nodes) while (n.handleReady()) progress = true;
        await new Promise<void>((r) => setImmediate(r));
        for (const n of this.nodes) if (n.up && n.node.hasReady()) progress = true;
        if (!progress) break;
      }
    }
  }

  private handle(ev: Ev): void {
    switch (ev.k) {
      case 'tick': {
        const n = this.nodes[ev.node - 1];
        if (n.up) {
          n.node.tick();
          n.onTick();
        }
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
        this.q.push(this.now + this.rng.range(100, 600), { k: 'fault' });
        break;
    }
  }

  private async restart(n: SimReplica): Promise<void> {
    if (n.up) return;
    await n.boot();
    this.trace(`restart ${n.id}`);
  }

  private fault(): void {
    const r = this.rng.int(10);
    this.net.heal();
    if (r < 3) {
      const victim = this.rng.range(1, 3);
      this.net.partition([victim], [1, 2, 3].filter((x) => x !== victim));
      this.trace(`isolate ${victim}`);
    } else if (r < 5) {
      for (const a of [1, 2, 3]) for (const b of [1, 2, 3]) if (a !== b) this.net.setLink(a, b, { dropRate: 0.2, reorderRate: 0.2 });
      this.trace('lossy');
    } else if (r < 7) {
      const up = this.nodes.filter((n) => n.up);
      if (up.length === 3) {
        const victim = this.rng.chance(0.6) ? (this.leader() ?? this.rng.pick(up)) : this.rng.pick(up);
        victim.crash();
        this.stats.crashes++;
        this.trace(`crash ${victim.id}`);
        // A restarted replica sits out an election timeout (it forgot any lease it acknowledged).
        this.q.push(this.now + this.rng.range(2 * ELECTION_TICKS * TICK_MS, 600), { k: 'restart', node: victim.id });
      }
    } else {
      this.trace('healthy');
    }
  }

  private async client(c: number): Promise<void> {
    const rng = this.rng.fork(`client-${c}`);
    await this.sleep(rng.range(50, 300));
    while (this.clientsOn && this.failure === undefined) {
      await this.sleep(rng.range(5, 40));
      const roll = rng.int(20);
      if (roll < 9) await this.writeOp(rng);
      else if (roll < 10) await (this.largeTxns ? this.largeTxnOp(rng) : this.writeOp(rng));
      else if (roll < 16) await this.strongRead(rng);
      else await this.followerRead(rng);
    }
  }

  private async writeOp(rng: Prng): Promise<void> {
    const l = this.leader();
    if (!l) return;
    const key = rng.pick(KEYS);
    const readKey = rng.pick(KEYS);
    const value = `v${++this.valueSeq}`;
    this.attempted.add(value);
    let readTs: Timestamp;
    try {
      readTs = (await l.replica.now()) - BigInt(rng.range(0, 50_000));
    } catch {
      this.doomed.add(value);
      return;
    }
    const txnId = Buffer.alloc(16);
    txnId.writeUInt32BE(this.valueSeq, 12);
    const entry: CommitEntry = {
      type: 'commit',
      txnId,
      readTs,
      minCommitTs: 0n,
      reads: rng.chance(0.5) ? [{ kind: 'point', key: Buffer.from(readKey) }] : [],
      writes: [{ kind: 'put', key: Buffer.from(key), value: Buffer.from(value) }],
    };
    let out: ApplyOutcome;
    try {
      out = await l.replica.propose(entry);
    } catch (e) {
      if (e instanceof AmbiguousResultError) this.stats.ambiguous++;
      this.trace(`write ${key}=${value} ${e instanceof Error ? e.name : 'error'}`);
      return;
    }
    this.trace(`write ${key}=${value} ${out.status}${out.status === 'committed' ? ` @${out.commitTs}` : ''}`);
    if (out.status === 'committed') {
      this.stats.commits++;
      this.writes.push({ key, value, commitTs: out.commitTs });
    } else {
      this.stats.aborts++;
      this.doomed.add(value);
    }
  }

  /**
   * A large transaction through the real Txn: 2-5 puts of fresh values (sometimes one key put
   * twice), mostly each staged as its own chunk, sometimes reading one back (through its own
   * intents once staged); then COMMIT (60 %), ROLLBACK (20 %) or nothing at all (20 %: the
   * gateway died and only the sweep can clean up).
   */
  private async largeTxnOp(rng: Prng): Promise<void> {
    if (!this.leader()) return;
    const id = Buffer.alloc(16);
    id[0] = 0x5a; // 1PC ids start with zero bytes: never the same id
    for (let i = 1; i < 16; i += 3) id.writeUIntBE(rng.int(1 << 24), i, 3);
    // Mostly one put per chunk (stageBytes 1); sometimes 2-3 per chunk, so the commit entry itself
    // carries the remainder (possibly replacing the transaction's own intents).
    const perChunk = rng.pick([1, 1, 2, 3]);
    const txn = new Txn(this.kv, perChunk === 1 ? { stageBytes: 1, randomId: () => id } : { stageOps: perChunk, randomId: () => id });
    const tag = `large ${id.toString('hex').slice(0, 8)}`;
    const writes: { key: string; value: string }[] = [];
    const put = (key: string): void => {
      const value = `v${++this.valueSeq}`;
      this.attempted.add(value);
      const prev = writes.findIndex((w) => w.key === key);
      if (prev >= 0) {
        // Overwritten within the transaction: that value is never committed, whatever happens.
        this.doomed.add(writes[prev].value);
        writes[prev] = { key, value };
      } else writes.push({ key, value });
      txn.put(Buffer.from(key), Buffer.from(value));
      this.stats.large.puts++;
    };
    for (const key of rng.shuffle(KEYS).slice(0, rng.range(2, 5))) put(key);
    if (rng.chance(0.3)) put(rng.pick(writes).key);
    const doomed = (how: string, count: () => void): void => {
      for (const w of writes) this.doomed.add(w.value);
      count();
      this.trace(`${tag} ${writes.map((w) => `${w.key}=${w.value}`).join(',')} ${how}`);
    };
    const roll = rng.int(10);
    try {
      if (rng.chance(0.5)) {
        // Read your own staged writes: the leader reads this txn's intents (visible to it only).
        const w = rng.pick(writes);
        const got = (await txn.get(Buffer.from(w.key)))?.toString();
        if (got !== w.value) {
          this.fail(`${tag} read its own write ${w.key}=${w.value} back as ${got ?? 'nothing'}`);
          return;
        }
      }
      if (roll < 2) {
        // Abandoned: wait for the chunks (so they are counted), then drop the transaction.
        await txn.settle().catch(() => undefined);
        return doomed('abandoned', () => this.stats.large.abandoned++);
      }
      if (roll < 4) {
        txn.rollback();
        return doomed('rolled back', () => this.stats.large.rollbacks++);
      }
      const commitTs = await txn.commit();
      if (commitTs === undefined) throw new Error(`${tag}: commit of a transaction with writes returned no timestamp`);
      for (const w of writes) this.writes.push({ key: w.key, value: w.value, commitTs });
      this.stats.commits++;
      this.stats.large.commits++;
      this.trace(`${tag} ${writes.map((w) => `${w.key}=${w.value}`).join(',')} committed @${commitTs}`);
    } catch (e) {
      if (e instanceof PgError && e.code === '40003') {
        // Outcome unknown: the commit entry may still apply (the sweep then resolves it).
        this.ambiguousTxns.push({ id: tag, writes });
        this.stats.large.ambiguous++;
        this.trace(`${tag} ${writes.map((w) => `${w.key}=${w.value}`).join(',')} ambiguous`);
        return;
      }
      if (!txn.finished) txn.rollback();
      // A refused chunk or commit (the Txn sent no commit, or apply answered aborted).
      doomed(`aborted ${e instanceof PgError ? e.code : 'error'}: ${e instanceof Error ? e.message : String(e)}${e instanceof PgError && e.fields.detail !== undefined ? ` (${e.fields.detail})` : ''}`, () => this.stats.large.aborts++);
    }
  }

  private async strongRead(rng: Prng): Promise<void> {
    const l = this.leader();
    if (!l) return;
    const key = rng.pick(KEYS);
    try {
      const ts = (await l.replica.now()) + BigInt(rng.range(0, Number(MAX_OFFSET_US) / 2));
      const row = await l.replica.get(Buffer.from(key), ts);
      this.record(key, ts, row?.value.toString(), l.id);
      this.stats.reads++;
    } catch {
      // not leader any more, crashed, ...: the read simply did not happen
    }
  }

  private async followerRead(rng: Prng): Promise<void> {
    const up = this.nodes.filter((n) => n.up);
    if (up.length === 0) return;
    const n = rng.pick(up);
    const key = rng.pick(KEYS);
    const closed = n.sm.closedTs;
    if (closed === 0n) return;
    const ts = closed - BigInt(rng.range(0, 20_000));
    try {
      const row = await n.replica.get(Buffer.from(key), ts);
      this.record(key, ts, row?.value.toString(), n.id);
      this.stats.followerReads++;
    } catch {
      // crashed mid-read
    }
  }

  private record(key: string, ts: Timestamp, value: string | undefined, node: number): void {
    this.reads.push({ key, ts, value, node });
    this.trace(`read ${key}@${ts} on ${node} = ${value ?? '-'}`);
  }

  /** Compares acknowledged writes and served reads with the versions in the final state. */
  private checkHistory(): void {
    const sm = this.nodes[0].sm;
    const versions = new Map<string, { ts: Timestamp; value: string }[]>();
    for (const key of KEYS) {
      const vs: { ts: Timestamp; value: string }[] = [];
      let at = (1n << 63n) - 1n;
      for (;;) {
        const row = sm.read(Buffer.from(key), at);
        if (!row) break;
        vs.push({ ts: row.ts, value: row.value.toString() });
        at = row.ts - 1n;
      }
      versions.set(key, vs); // newest first
    }
    for (const [key, vs] of versions) {
      for (const v of vs) {
        if (!this.attempted.has(v.value)) return this.fail(`final state holds ${key}=${v.value}@${v.ts}, which no client wrote`);
        if (this.doomed.has(v.value)) return this.fail(`final state holds ${key}=${v.value}@${v.ts} of a transaction that did not commit`);
      }
    }
    for (const t of this.ambiguousTxns) {
      const found = t.writes.map((w) => versions.get(w.key)?.find((x) => x.value === w.value));
      const ts = new Set(found.map((v) => v?.ts));
      if (ts.size !== 1) {
        return this.fail(`${t.id} (commit outcome unknown) is partly in the final state: ${t.writes.map((w, i) => `${w.key}=${w.value}@${found[i]?.ts ?? '-'}`).join(' ')}`);
      }
    }
    for (const w of this.writes) {
      const v = versions.get(w.key)?.find((x) => x.value === w.value);
      if (!v || v.ts !== w.commitTs) return this.fail(`acknowledged write ${w.key}=${w.value}@${w.commitTs} is not in the final state (found ${v ? `@${v.ts}` : 'nothing'})`);
    }
    for (const r of this.reads) {
      const expected = versions.get(r.key)?.find((x) => x.ts <= r.ts)?.value;
      if (expected !== r.value) {
        return this.fail(`read ${r.key}@${r.ts} on node ${r.node} returned ${r.value ?? 'nothing'}, but the committed history has ${expected ?? 'nothing'} there`);
      }
    }
  }
}

/** Runs one seed; the temporary RocksDB directories are removed afterwards. */
export async function runShardSim(opts: ShardSimOptions): Promise<ShardSimResult> {
  const dir = mkdtempSync(path.join(tmpdir(), `weft-shard-sim-${opts.seed}-`));
  try {
    return await new ShardSim(opts, dir).run();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
