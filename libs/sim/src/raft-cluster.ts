/**
 * A whole Raft group in one process, driven by virtual time: N RawNodes on a simulated network
 * and simulated disks, random clients issuing key-value operations, and random faults. After
 * every step the safety invariants are checked; at the end the faults are healed, liveness is
 * asserted and the client history is checked for linearizability.
 *
 * A run is a pure function of its options (seed included): all randomness comes from forks of
 * one Prng, time is virtual, and events at equal times run in scheduling order. The trace hash
 * in the result proves it: the same seed gives the same hash.
 *
 * The driver follows the Ready contract the way a production host must: persist (and fsync when
 * asked) before sending the Ready's messages, apply committed entries, then advance. A crash
 * throws away the process (RawNode, in-memory log, state machine) and rebuilds it from what
 * the simulated disk actually kept.
 */
import {
  ConfChange,
  ConfChangeType,
  ConfState,
  decodeConfChange,
  Entry,
  EntryType,
  HardState,
  MemoryStorage,
  Message,
  MessageType,
  ProposalDroppedError,
  RawNode,
  Ready,
  ReadOnlyOption,
  Snapshot,
  StateType,
} from '@weft/raft';
import { SimClock, TickClock } from './clock';
import { SimDisk } from './disk';
import { EventQueue } from './event-queue';
import { decodeCommand, decodeText, encodeCommand, encodeText, KvStateMachine } from './kv';
import { checkLinearizable, HistoryOp, KvInput } from './linearizability';
import { DEFAULT_LINK, LinkConfig, SimNetwork } from './network';
import { hashString, Prng } from './prng';
import { InvariantViolation, RaftInvariants } from './raft-invariants';

export interface ClusterSimOptions {
  readonly seed: number;
  /** Events to run with faults and clients active, before healing. */
  readonly steps?: number;
  /** Replicas in the group (default: 3 or 5, chosen by the seed). */
  readonly replicas?: number;
  /** Passed to every replica: a deliberately broken Raft, to prove the checkers can fail. */
  readonly unsafeVoteTwice?: boolean;
  /** Default 'safe' (ReadIndex round trips). 'lease-based' also enables CheckQuorum. */
  readonly readOnlyOption?: ReadOnlyOption;
  /** Receives every trace line (otherwise lines are only hashed). */
  readonly trace?: (line: string) => void;
  /** Let replicas snapshot and compact their logs (default: the seed decides). */
  readonly compaction?: boolean;
  /**
   * Random membership changes (add learner, promote, remove, replace a dead voter) through
   * the log (default: the seed decides).
   */
  readonly membership?: boolean;
  /** Send a leader's appends before its own write completes (default: the seed decides). */
  readonly parallelAppend?: boolean;
  /** Virtual ms allowed, after healing, for a leader to emerge and a proposal to commit. */
  readonly livenessBoundMs?: number;
}

export interface ClusterSimResult {
  readonly ok: boolean;
  readonly seed: number;
  /** The step at which the run failed (or the last step run). */
  readonly step: number;
  readonly reason?: string;
  /** Hash of the full event trace: equal for equal seeds. */
  readonly traceHash: string;
  readonly virtualMs: number;
  readonly stats: {
    readonly ops: number;
    readonly completedOps: number;
    readonly unknownOps: number;
    readonly leaders: number;
    readonly committed: number;
    readonly crashes: number;
    readonly messages: number;
    readonly faults: number;
    /** Conf changes proposed (and accepted by the leader). */
    readonly confChanges: number;
    /** Replicas removed from the group for good (removed, or replaced while dead). */
    readonly retired: number;
  };
}

type DiskRecord =
  | { readonly k: 'boot'; readonly voters: readonly number[] }
  /**
   * One Ready's snapshot, entries and hard state as a single record: a WAL writes them as one
   * checksummed batch, so a crash keeps all of it or none of it.
   */
  | { readonly k: 'ready'; readonly snap?: Snapshot; readonly entries: readonly Entry[]; readonly hs?: HardState }
  /** A local snapshot of the applied state at snap's index; entries up to compactTo dropped. */
  | { readonly k: 'compact'; readonly snap: Snapshot; readonly compactTo: number };

interface Replica {
  readonly id: number;
  up: boolean;
  /** Removed from the group for good (as an operator decommissions it): never restarted. */
  retired: boolean;
  /** The membership as of this replica's applied index (what its snapshots record). */
  conf: ConfState;
  /** Bumped on every crash, so timers and callbacks of a dead process are recognisably stale. */
  inc: number;
  node: RawNode | undefined;
  storage: MemoryStorage;
  readonly disk: SimDisk<DiskRecord>;
  readonly clock: TickClock;
  kv: KvStateMachine;
  applied: number;
  /** The Ready being persisted while a (possibly slow) fsync is in flight. */
  inFlight: Ready | undefined;
  readStates: { index: number; ctx: string }[];
  role: StateType;
  term: number;
  commit: number;
}

interface PendingOp {
  readonly reqId: string;
  readonly client: number;
  readonly input: KvInput;
  readonly call: number;
  readonly replica: number;
  readonly inc: number;
  ret?: number;
  output?: string | boolean;
  /** The proposal was refused outright: it never took effect, so it leaves no history. */
  refused?: boolean;
}

type SimEvent =
  | { readonly k: 'tick'; readonly r: number; readonly inc: number }
  | { readonly k: 'synced'; readonly r: number; readonly inc: number; readonly upTo: number }
  | { readonly k: 'client'; readonly c: number }
  | { readonly k: 'timeout'; readonly c: number; readonly reqId: string }
  | { readonly k: 'fault' }
  | { readonly k: 'restart'; readonly r: number }
  | { readonly k: 'undo'; readonly what: string; readonly fn: () => void }
  | { readonly k: 'retire'; readonly r: number }
  | { readonly k: 'probe' };

const TICK_MS = 10;
const ELECTION_TICK = 10;
const HEARTBEAT_TICK = 1;
const CLIENT_TIMEOUT_MS = 800;

/** Per-seed fault intensities, so different seeds explore different regimes. */
interface Profile {
  readonly faultEveryMs: readonly [number, number];
  readonly clientGapMs: readonly [number, number];
  readonly baseLink: LinkConfig;
  readonly crashWeight: number;
  readonly partitionWeight: number;
  readonly lossyWeight: number;
  readonly skewWeight: number;
  readonly slowDiskWeight: number;
  readonly membershipWeight: number;
}

function drawProfile(rng: Prng): Profile {
  const calm = rng.chance(0.2);
  return {
    faultEveryMs: calm ? [400, 1500] : [60, 500],
    clientGapMs: [rng.range(5, 20), rng.range(30, 120)],
    baseLink: {
      ...DEFAULT_LINK,
      maxDelayMs: rng.pick([3, 8, 20]),
      reorderRate: rng.pick([0, 0.05]),
      duplicateRate: rng.pick([0, 0.02]),
      dropRate: rng.pick([0, 0, 0.01]),
    },
    crashWeight: rng.range(1, 3),
    partitionWeight: rng.range(1, 4),
    lossyWeight: rng.range(0, 3),
    skewWeight: rng.range(0, 2),
    slowDiskWeight: rng.range(0, 2),
    membershipWeight: 0,
  };
}

function sameConf(a: ConfState, b: ConfState): boolean {
  const eq = (x: readonly number[], y: readonly number[]): boolean => x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.voters, b.voters) && eq(a.learners, b.learners) && eq(a.votersOutgoing, b.votersOutgoing) && eq(a.learnersNext, b.learnersNext);
}

/** Replicas a run may add beyond the initial ones (ids are never reused). */
const MAX_NEW_REPLICAS = 4;

function describeMsg(m: Message): string {
  const ents = m.entries.length > 0 ? ` n${m.entries.length}@${m.entries[0].index}` : '';
  return `${MessageType[m.type]} ${m.from}->${m.to} t${m.term} lt${m.logTerm} i${m.index} c${m.commit}${ents}${
    m.reject ? ` rej${m.rejectHint}` : ''
  }`;
}

class Failure extends Error {}

export class RaftClusterSim {
  private readonly rng: Prng;
  private readonly faultRng: Prng;
  private readonly clientRng: Prng;
  private readonly clock = new SimClock();
  private readonly events = new EventQueue<SimEvent>();
  private readonly net: SimNetwork<Message>;
  private readonly replicas: Replica[] = [];
  private readonly inv = new RaftInvariants();
  private readonly ops: PendingOp[] = [];
  private readonly waiting = new Map<string, PendingOp>();
  private readonly clientBusy: (string | undefined)[] = [];
  private readonly clientSeq: number[] = [];
  private readonly lastSeen: (string | undefined)[] = [];
  private readonly profile: Profile;
  /** The initial voters. Membership changes add replicas with ids after these. */
  private readonly voters: number[];
  private readonly memberRng: Prng;
  private confChanges = 0;
  private readonly keys: string[];
  private readonly readOnly: ReadOnlyOption;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  /** Snapshot after this many applied entries (undefined: never compact). */
  private readonly compactEvery: number | undefined;
  private readonly compactKeep: number;
  /** Honour Ready.sendBeforePersist (most seeds), or always persist first. */
  private readonly parallelAppend: boolean;
  private traceH1 = 0x811c9dc5;
  private traceH2 = 0x01000193;
  private stepNo = 0;
  private healed = false;
  private faults = 0;
  private probe: { id: string; index: number | undefined; committedAt: number | undefined } | undefined;

  constructor(private readonly opts: ClusterSimOptions) {
    this.rng = new Prng(opts.seed);
    const setup = this.rng.fork('setup');
    this.faultRng = this.rng.fork('faults');
    this.clientRng = this.rng.fork('clients');
    this.profile = drawProfile(setup);
    const n = opts.replicas ?? setup.pick([3, 3, 5]);
    this.voters = Array.from({ length: n }, (_, i) => i + 1);
    this.keys = ['x', 'y', 'z'].slice(0, setup.range(1, 3));
    this.readOnly = opts.readOnlyOption ?? 'safe';
    this.checkQuorum = this.readOnly === 'lease-based' || setup.chance(0.5);
    this.preVote = setup.chance(0.5);
    this.compactEvery = opts.compaction === false ? undefined : setup.pick([undefined, 8, 20]);
    this.compactKeep = setup.pick([0, 2, 5]);
    // A separate fork: options added later must not change what older seeds draw.
    const setup2 = this.rng.fork('setup2');
    this.parallelAppend = opts.parallelAppend ?? setup2.chance(0.8);
    this.memberRng = this.rng.fork('membership');
    const membership = opts.membership ?? setup2.chance(0.7);
    this.profile = { ...this.profile, membershipWeight: membership ? setup2.range(2, 5) : 0 };
    this.net = new SimNetwork<Message>(this.rng.fork('net'), this.profile.baseLink, (l) => this.trace(l), describeMsg);
    for (const id of this.voters) this.newReplica(id, this.voters);
    this.trace(
      `setup seed=${opts.seed} n=${n} keys=${this.keys.join(',')} preVote=${this.preVote} checkQuorum=${this.checkQuorum} ` +
        `readOnly=${this.readOnly} compactEvery=${this.compactEvery ?? 'never'} parallelAppend=${this.parallelAppend} ` +
        `unsafeVoteTwice=${opts.unsafeVoteTwice === true}`,
    );
  }

  /**
   * A replica with a fresh disk. Initial ones are bootstrapped with the initial voters; one
   * added later starts empty (no membership) and learns everything from the leader's log or
   * a snapshot, as Raft requires of a brand-new member.
   */
  private newReplica(id: number, voters: readonly number[]): Replica {
    const disk = new SimDisk<DiskRecord>(this.rng.fork(`disk/${id}`));
    disk.write({ k: 'boot', voters });
    disk.completeSync(disk.beginSync());
    const r: Replica = {
      id,
      up: false,
      retired: false,
      conf: { voters: [...voters], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      inc: 0,
      node: undefined,
      storage: new MemoryStorage(),
      disk,
      clock: new TickClock(TICK_MS),
      kv: new KvStateMachine(),
      applied: 0,
      inFlight: undefined,
      readStates: [],
      role: 'follower',
      term: 0,
      commit: 0,
    };
    this.replicas.push(r);
    return r;
  }

  /** Ids of replicas not retired (partitions and lossy links pick among these). */
  private liveIds(): number[] {
    return this.replicas.filter((r) => !r.retired).map((r) => r.id);
  }

  private trace(line: string): void {
    const l = `${this.clock.now} ${line}`;
    this.traceH1 = hashString(l, this.traceH1);
    this.traceH2 = hashString(l, this.traceH2 ^ 0x9e3779b9);
    this.opts.trace?.(l);
  }

  /**
   * Deliveries are most of the trace: hash their fields as numbers and only format a line
   * when someone is reading, so tracing stays cheap enough to be always on.
   */
  private traceRecv(m: Message, dup: boolean): void {
    let h1 = this.traceH1;
    let h2 = this.traceH2;
    const fields = [this.clock.now, m.type, m.from, m.to, m.term, m.logTerm, m.index, m.commit, m.entries.length, m.reject ? 1 : 0, m.rejectHint, dup ? 1 : 0];
    for (const f of fields) {
      h1 = Math.imul(h1 ^ f, 0x01000193);
      h2 = Math.imul(h2 ^ f, 0x5bd1e995) ^ (h2 >>> 15);
    }
    this.traceH1 = h1;
    this.traceH2 = h2;
    if (this.opts.trace) this.opts.trace(`${this.clock.now} recv ${describeMsg(m)}${dup ? ' dup' : ''}`);
  }

  private rep(id: number): Replica {
    return this.replicas[id - 1];
  }

  run(): ClusterSimResult {
    const steps = this.opts.steps ?? 2000;
    // Elections take 100–200 ms here; 5 s is dozens of election timeouts.
    const bound = this.opts.livenessBoundMs ?? 5_000;
    let reason: string | undefined;
    try {
      for (const r of this.replicas) this.start(r);
      const clients = this.voters.length === 5 ? 4 : 3;
      for (let c = 0; c < clients; c++) {
        this.clientBusy.push(undefined);
        this.clientSeq.push(0);
        this.lastSeen.push(undefined);
        this.events.push(this.clientRng.range(0, 50), { k: 'client', c });
      }
      this.events.push(this.faultRng.range(...this.profile.faultEveryMs), { k: 'fault' });

      while (this.stepNo < steps) this.step();

      this.heal();
      const healedAt = this.clock.now;
      this.events.push(this.clock.now + TICK_MS, { k: 'probe' });
      // Liveness: with every fault gone, a leader must emerge and commit a proposal, and every
      // replica must apply it.
      while (!this.probeAppliedEverywhere()) {
        if (this.clock.now - healedAt > bound) {
          throw new Failure(
            `liveness: ${bound} ms after healing, ${
              this.probe?.committedAt === undefined ? 'no proposal committed' : 'not every replica applied the probe'
            } (${this.describeCluster()})`,
          );
        }
        this.step();
      }
      // Let outstanding client operations finish or time out before judging the history.
      // (Operations waiting on a replica that has since crashed can never be answered.)
      const drainUntil = this.clock.now + CLIENT_TIMEOUT_MS + 1;
      while (this.nextAt() <= drainUntil && this.answerable() > 0) this.step();
      for (const r of this.replicas) this.inv.observeWholeLog(r.id, r.storage);

      const history = this.history();
      const lin = checkLinearizable(history);
      if (!lin.ok) throw new Failure(`linearizability: ${lin.explanation}`);
    } catch (e) {
      if (e instanceof Failure || e instanceof InvariantViolation) reason = e.message;
      else reason = `exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
      this.trace(`FAIL ${reason}`);
    }
    const completed = this.ops.filter((o) => o.ret !== undefined).length;
    return {
      ok: reason === undefined,
      seed: this.opts.seed,
      step: this.stepNo,
      reason,
      traceHash: (this.traceH1 >>> 0).toString(16).padStart(8, '0') + (this.traceH2 >>> 0).toString(16).padStart(8, '0'),
      virtualMs: this.clock.now,
      stats: {
        ops: this.ops.length,
        completedOps: completed,
        unknownOps: this.ops.filter((o) => o.ret === undefined && !o.refused).length,
        leaders: this.inv.stats.leaders,
        committed: this.inv.stats.committed,
        crashes: this.replicas.reduce((s, r) => s + r.disk.stats.crashes, 0),
        messages: this.net.stats.sent,
        faults: this.faults,
        confChanges: this.confChanges,
        retired: this.replicas.filter((r) => r.retired).length,
      },
    };
  }

  private answerable(): number {
    let n = 0;
    for (const op of this.waiting.values()) {
      const r = this.rep(op.replica);
      if (r.up && r.inc === op.inc) n++;
    }
    return n;
  }

  /** Who leads, who has applied what, and the leader's view of its followers: for liveness reports. */
  private describeCluster(): string {
    const parts: string[] = [];
    for (const r of this.replicas) {
      if (!r.up || r.node === undefined) {
        parts.push(`${r.id}: down`);
        continue;
      }
      const st = r.node.status();
      let line = `${r.id}: ${st.state} t${st.term} commit=${st.commit} applied=${r.applied} last=${r.storage.lastIndex()}`;
      if (st.progress) {
        const prs = Object.entries(st.progress).map(
          ([id, pr]) => `${id}:${pr.state} match=${pr.match} next=${pr.next} inflight=${pr.inflight}`,
        );
        line += ` [${prs.join(', ')}]`;
      }
      parts.push(line);
    }
    return parts.join('; ');
  }

  private history(): HistoryOp[] {
    const out: HistoryOp[] = [];
    for (const o of this.ops) {
      if (o.refused) continue;
      // A read that never returned tells us nothing; leaving it out keeps the search small.
      if (o.ret === undefined && o.input.op === 'get') continue;
      out.push({ client: o.client, input: o.input, output: o.output, call: o.call, ret: o.ret });
    }
    return out;
  }

  private nextAt(): number {
    const e = this.events.peek()?.at ?? Infinity;
    const m = this.net.nextAt() ?? Infinity;
    return Math.min(e, m);
  }

  /** Runs one event: the earliest timer or message delivery. */
  private step(): void {
    this.stepNo++;
    // The per-step checks are incremental; a full pass over every log now and then also
    // catches divergence in entries that were never written through a Ready (snapshots).
    if (this.stepNo % 500 === 0) for (const r of this.replicas) if (r.up) this.inv.observeWholeLog(r.id, r.storage);
    const e = this.events.peek();
    const mAt = this.net.nextAt();
    if (e === undefined && mAt === undefined) throw new Failure('simulation ran out of events');
    if (e !== undefined && (mAt === undefined || e.at <= mAt)) {
      this.events.pop();
      this.clock.advanceTo(e.at);
      this.handle(e.item);
    } else {
      this.clock.advanceTo(mAt as number);
      const d = this.net.popDue(this.clock.now);
      if (d === undefined) return;
      const r = this.rep(d.to);
      if (!r.up || r.node === undefined) return;
      this.traceRecv(d.msg, d.duplicate);
      r.node.step(d.msg);
      this.pump(r);
    }
  }

  private handle(ev: SimEvent): void {
    switch (ev.k) {
      case 'tick': {
        const r = this.rep(ev.r);
        if (!r.up || r.inc !== ev.inc || r.node === undefined) return;
        r.node.tick();
        this.pump(r);
        this.events.push(r.clock.nextTickAt(this.clock.now), { k: 'tick', r: r.id, inc: r.inc });
        return;
      }
      case 'synced': {
        const r = this.rep(ev.r);
        if (!r.up || r.inc !== ev.inc || r.inFlight === undefined) return;
        r.disk.completeSync({ upTo: ev.upTo, latencyMs: 0 });
        const rd = r.inFlight;
        r.inFlight = undefined;
        this.finishReady(r, rd);
        this.pump(r);
        return;
      }
      case 'client':
        this.clientAct(ev.c);
        return;
      case 'timeout': {
        const op = this.waiting.get(ev.reqId);
        if (op === undefined) return;
        this.waiting.delete(ev.reqId);
        this.trace(`client ${op.client} timeout ${op.reqId}`);
        if (this.clientBusy[op.client] === op.reqId) this.clientBusy[op.client] = undefined;
        return;
      }
      case 'fault':
        if (this.healed) return;
        this.injectFault();
        this.events.push(this.clock.now + this.faultRng.range(...this.profile.faultEveryMs), { k: 'fault' });
        return;
      case 'restart': {
        const r = this.rep(ev.r);
        if (!r.up && !r.retired) this.start(r);
        return;
      }
      case 'undo':
        if (this.healed) return;
        this.trace(`undo ${ev.what}`);
        ev.fn();
        return;
      case 'probe':
        this.probeAct();
        return;
      case 'retire': {
        const r = this.rep(ev.r);
        if (r.retired) return;
        this.trace(`retire ${r.id}`);
        this.crash(r, 0);
        r.retired = true;
        return;
      }
    }
  }

  // ---- replicas -------------------------------------------------------------------------

  /** Starts (or restarts) a replica from whatever its disk kept. */
  private start(r: Replica): void {
    let storage = new MemoryStorage();
    for (const rec of r.disk.durableRecords()) {
      switch (rec.k) {
        case 'boot':
          storage = MemoryStorage.withVoters(rec.voters);
          break;
        case 'ready':
          if (rec.snap) storage.applySnapshot(rec.snap);
          storage.append(rec.entries);
          if (rec.hs) storage.setHardState(rec.hs);
          break;
        case 'compact': {
          const i = rec.snap.metadata.index;
          if (i > storage.lastIndex()) {
            storage.applySnapshot(rec.snap);
          } else {
            if (i > storage.snapshot().metadata.index) storage.createSnapshot(i, rec.snap.metadata.confState, rec.snap.data);
            if (rec.compactTo > storage.firstIndex() - 1) storage.compact(rec.compactTo);
          }
          break;
        }
      }
    }
    const hs = storage.initialState().hardState;
    r.storage = storage;
    // The state machine restarts from the newest snapshot; Raft re-delivers what follows it.
    const snap = storage.snapshot();
    r.kv = KvStateMachine.restore(snap.data);
    r.applied = snap.metadata.index;
    r.conf = snap.metadata.confState;
    r.inFlight = undefined;
    r.readStates = [];
    r.role = 'follower';
    r.term = hs.term;
    r.commit = hs.commit;
    r.node = new RawNode({
      id: r.id,
      electionTick: ELECTION_TICK,
      heartbeatTick: HEARTBEAT_TICK,
      storage,
      applied: r.applied,
      maxSizePerMsg: 4096,
      maxInflightMsgs: 16,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      readOnlyOption: this.readOnly,
      leaseMarginTicks: 2,
      rand: this.rng.fork(`raft/${r.id}#${r.inc}`),
      testingUnsafeVoteTwice: this.opts.unsafeVoteTwice,
    });
    r.up = true;
    this.inv.replicaRestarted(r.id, r.applied);
    this.trace(`start ${r.id}#${r.inc} term=${hs.term} vote=${hs.vote} commit=${hs.commit} last=${storage.lastIndex()}`);
    // Spread first ticks so replicas are not in lock-step.
    this.events.push(this.clock.now + 1 + this.faultRng.int(TICK_MS), { k: 'tick', r: r.id, inc: r.inc });
    this.pump(r);
  }

  private crash(r: Replica, downMs: number): void {
    if (!r.up) return;
    const rep = r.disk.crash();
    this.trace(`crash ${r.id}#${r.inc} lost=${rep.lost} torn=${rep.torn} down=${downMs}ms`);
    r.up = false;
    r.inc++;
    r.node = undefined;
    r.inFlight = undefined;
    r.role = 'follower';
    this.events.push(this.clock.now + downMs, { k: 'restart', r: r.id });
  }

  /** Takes Ready batches until the node has none or one is waiting on an fsync. */
  private pump(r: Replica): void {
    while (r.up && r.node !== undefined && r.inFlight === undefined && r.node.hasReady()) {
      const rd = r.node.ready();
      if (rd.hardState) {
        r.term = rd.hardState.term;
        r.commit = rd.hardState.commit;
      }
      if (rd.softState) {
        r.role = rd.softState.state;
        this.trace(`role ${r.id} ${r.role} t${r.term} lead=${rd.softState.lead}`);
      }
      if (rd.snapshot) r.storage.applySnapshot(rd.snapshot);
      if (rd.entries.length > 0) {
        r.storage.append(rd.entries);
        this.inv.observeAppend(r.id, rd.entries, r.storage.term(rd.entries[0].index - 1));
      }
      if (rd.hardState) r.storage.setHardState(rd.hardState);
      if (rd.snapshot || rd.entries.length > 0 || rd.hardState) {
        r.disk.write({ k: 'ready', snap: rd.snapshot, entries: rd.entries, hs: rd.hardState });
      }
      for (const rs of rd.readStates) r.readStates.push({ index: rs.index, ctx: decodeText(rs.ctx) });
      this.inv.observe({ id: r.id, term: r.term, isLeader: r.role === 'leader', commit: r.commit, log: r.storage });
      // A leader's appends may leave while its own write is still in flight (a crash can then
      // lose entries that followers hold); the core counts its own copy only after advance.
      if (this.parallelAppend && rd.sendBeforePersist) this.sendMessages(r, rd);
      if (rd.mustSync) {
        const t = r.disk.beginSync();
        r.inFlight = rd;
        this.events.push(this.clock.now + t.latencyMs, { k: 'synced', r: r.id, inc: r.inc, upTo: t.upTo });
        return;
      }
      this.finishReady(r, rd);
    }
  }

  private sendMessages(r: Replica, rd: Ready): void {
    const node = r.node as RawNode;
    for (const m of rd.messages) {
      const sent = this.net.send(r.id, m.to, m, this.clock.now);
      // A real transport learns at once that a crashed peer refuses connections, and hosts
      // report that to Raft (as etcd's do) so it stops streaming optimistically into the void.
      const up = this.rep(m.to).up;
      if (!up) node.reportUnreachable(m.to);
      // Snapshot streams report their outcome; a lost one must be retried, not waited for.
      if (m.type === MessageType.Snap) node.reportSnapshot(m.to, sent && up);
    }
  }

  private finishReady(r: Replica, rd: Ready): void {
    const node = r.node as RawNode;
    if (!(this.parallelAppend && rd.sendBeforePersist)) this.sendMessages(r, rd);
    if (rd.snapshot) {
      r.kv = KvStateMachine.restore(rd.snapshot.data);
      r.applied = rd.snapshot.metadata.index;
      r.conf = rd.snapshot.metadata.confState;
      this.inv.replicaRestarted(r.id, r.applied);
      this.trace(`install snapshot ${r.id} at ${r.applied}`);
    }
    for (const e of rd.committedEntries) this.apply(r, e);
    this.serveReads(r);
    node.advance(rd);
    this.maybeCompact(r);
  }

  /**
   * Now and then a replica snapshots its applied state and drops the log before it, so lagging
   * or restarted replicas must catch up through InstallSnapshot.
   */
  private maybeCompact(r: Replica): void {
    const snapshot = r.storage.snapshot().metadata;
    const snapIndex = snapshot.index;
    // A membership change also triggers one, compacting the whole log through it: a replica
    // it added starts empty and must be seeded by a snapshot that includes it (the bootstrap
    // membership is not in the log, so replaying the log from index 1 cannot build it).
    const confChanged = !sameConf(snapshot.confState, r.conf);
    const every = this.compactEvery;
    if (!confChanged && (every === undefined || r.applied - snapIndex < every)) return;
    if (r.applied <= snapIndex || r.applied > r.storage.lastIndex()) return;
    const i = r.applied;
    const snap = r.storage.createSnapshot(i, r.conf, r.kv.serialize());
    const compactTo = confChanged ? i : Math.max(r.storage.firstIndex(), i - this.compactKeep);
    if (compactTo > r.storage.firstIndex() - 1 && compactTo <= r.storage.lastIndex()) r.storage.compact(compactTo);
    r.disk.write({ k: 'compact', snap, compactTo });
    this.trace(`compact ${r.id} snapshot=${i} first=${r.storage.firstIndex()}`);
  }


  private apply(r: Replica, e: Entry): void {
    this.inv.observeApply(r.id, e);
    r.applied = e.index;
    if (e.type === EntryType.ConfChange) {
      this.applyConfChange(r, decodeConfChange(e.data), e.index);
      return;
    }
    if (e.data.length === 0) return;
    const cmd = decodeCommand(e.data);
    if (cmd === undefined) {
      if (this.probe !== undefined && decodeText(e.data) === this.probe.id && this.probe.index === undefined) {
        this.probe.index = e.index;
        this.probe.committedAt = this.clock.now;
        this.trace(`probe committed at ${e.index}`);
      }
      return;
    }
    const res = r.kv.apply(cmd);
    const op = this.waiting.get(cmd.id);
    if (op === undefined || op.replica !== r.id || op.inc !== r.inc) return;
    this.complete(op, 'value' in res ? res.value : 'swapped' in res ? res.swapped : undefined);
  }

  private applyConfChange(r: Replica, cc: ConfChange, index: number): void {
    const before = r.conf;
    r.conf = (r.node as RawNode).applyConfChange(cc);
    const c = r.conf;
    this.trace(
      `conf ${r.id} at ${index} voters=${c.voters.join(',')} learners=${c.learners.join(',')}` +
        (c.votersOutgoing.length > 0 ? ` outgoing=${c.votersOutgoing.join(',')}` : ''),
    );
    // A replica that is out of the membership entirely is decommissioned, as an operator
    // would: it is never restarted, so it cannot disrupt the group (and the liveness check
    // does not wait for it).
    const now = new Set([...c.voters, ...c.votersOutgoing, ...c.learners, ...c.learnersNext]);
    // (After this Ready is done: the replica may be the one applying its own removal.)
    for (const id of [...before.voters, ...before.votersOutgoing, ...before.learners, ...before.learnersNext]) {
      if (!now.has(id) && !this.rep(id).retired) this.events.push(this.clock.now, { k: 'retire', r: id });
    }
  }

  private serveReads(r: Replica): void {
    if (r.readStates.length === 0) return;
    const keep: { index: number; ctx: string }[] = [];
    for (const rs of r.readStates) {
      if (rs.index > r.applied) {
        keep.push(rs);
        continue;
      }
      const op = this.waiting.get(rs.ctx);
      if (op === undefined || op.replica !== r.id || op.inc !== r.inc) continue;
      this.complete(op, r.kv.get(op.input.key));
    }
    r.readStates = keep;
  }

  // ---- clients --------------------------------------------------------------------------

  private complete(op: PendingOp, output: string | boolean | undefined): void {
    op.ret = this.clock.now;
    op.output = output;
    this.waiting.delete(op.reqId);
    if (this.clientBusy[op.client] === op.reqId) this.clientBusy[op.client] = undefined;
    this.trace(`client ${op.client} ok ${op.reqId} -> ${String(output)}`);
  }

  private clientAct(c: number): void {
    const rng = this.clientRng;
    if (!this.healed) this.events.push(this.clock.now + rng.range(...this.profile.clientGapMs), { k: 'client', c });
    if (this.clientBusy[c] !== undefined || this.healed) return;
    // Clients mostly find the leader (as a real one would after a redirect), sometimes not.
    const leaders = this.replicas.filter((r) => r.up && r.role === 'leader');
    const r = leaders.length > 0 && rng.chance(0.7) ? rng.pick(leaders) : rng.pick(this.replicas);
    if (!r.up || r.node === undefined) return; // connection refused: nothing happened
    const key = rng.pick(this.keys);
    const reqId = `c${c}.${this.clientSeq[c]++}`;
    const roll = rng.float();
    let input: KvInput;
    let viaReadIndex = false;
    if (roll < 0.45) input = { op: 'put', key, value: reqId };
    else if (roll < 0.8) {
      input = { op: 'get', key };
      viaReadIndex = rng.chance(0.7);
    } else input = { op: 'cas', key, expected: rng.chance(0.3) ? undefined : this.lastSeen[c], value: reqId };
    const op: PendingOp = { reqId, client: c, input, call: this.clock.now, replica: r.id, inc: r.inc };
    this.trace(`client ${c} call ${reqId} ${input.op}(${key}) at ${r.id}${viaReadIndex ? ' readIndex' : ''}`);
    try {
      if (viaReadIndex) r.node.readIndex(encodeText(reqId));
      else r.node.propose(encodeCommand({ id: reqId, input }));
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      this.trace(`client ${c} refused ${reqId}: ${e.message}`);
      return;
    }
    this.ops.push(op);
    this.waiting.set(reqId, op);
    this.clientBusy[c] = reqId;
    this.events.push(this.clock.now + CLIENT_TIMEOUT_MS, { k: 'timeout', c, reqId });
    this.pump(r);
  }

  private probeAct(): void {
    if (this.probe?.index !== undefined) return;
    this.events.push(this.clock.now + 5 * TICK_MS, { k: 'probe' });
    const leader = this.replicas.find((r) => r.up && r.role === 'leader');
    if (leader === undefined || leader.node === undefined) return;
    const id = `probe@${this.clock.now}`;
    try {
      leader.node.propose(encodeText(id));
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      return;
    }
    // A newer probe supersedes an older one that may have been lost with a deposed leader.
    this.probe = { id, index: undefined, committedAt: undefined };
    this.trace(`probe ${id} at ${leader.id}`);
    this.pump(leader);
  }

  /** Every member of the group (per the newest membership any replica applied) applied the probe. */
  private probeAppliedEverywhere(): boolean {
    const idx = this.probe?.index;
    if (idx === undefined) return false;
    const members = this.currentMembers();
    return this.replicas.every((r) => !members.has(r.id) || (r.up && r.applied >= idx));
  }

  /** Voters and learners of the membership applied at the highest index by any live replica. */
  private currentMembers(): Set<number> {
    let best: Replica | undefined;
    for (const r of this.replicas) if (!r.retired && (best === undefined || r.applied > best.applied)) best = r;
    const c = best?.conf;
    return new Set(c ? [...c.voters, ...c.votersOutgoing, ...c.learners, ...c.learnersNext] : this.voters);
  }

  // ---- faults ---------------------------------------------------------------------------

  private heal(): void {
    this.healed = true;
    this.net.heal();
    this.net.setDefaults(DEFAULT_LINK);
    for (const r of this.replicas) {
      r.disk.setSlow(false);
      r.clock.reset();
      if (!r.up && !r.retired) this.start(r);
    }
    this.trace('heal all');
  }

  private undoLater(what: string, minMs: number, maxMs: number, fn: () => void): void {
    this.events.push(this.clock.now + this.faultRng.range(minMs, maxMs), { k: 'undo', what, fn });
  }

  private injectFault(): void {
    const rng = this.faultRng;
    const p = this.profile;
    const menu: [number, () => void][] = [
      [p.partitionWeight, () => this.faultPartition()],
      [p.crashWeight, () => this.faultCrash()],
      [p.lossyWeight, () => this.faultLossy()],
      [p.skewWeight, () => this.faultSkew()],
      [p.slowDiskWeight, () => this.faultSlowDisk()],
      [1, () => this.faultHealNet()],
      [1, () => this.faultTransferLeader()],
      [p.membershipWeight, () => this.faultMembership()],
    ];
    const total = menu.reduce((s, [w]) => s + w, 0);
    let x = rng.int(total);
    for (const [w, fn] of menu) {
      if (x < w) {
        this.faults++;
        fn();
        return;
      }
      x -= w;
    }
  }

  private faultPartition(): void {
    const rng = this.faultRng;
    const ids = rng.shuffle(this.liveIds());
    const kind = rng.int(4);
    if (kind === 0) {
      // Isolate whoever leads: the classic stale-leader scenario.
      const leader = this.replicas.find((r) => r.up && r.role === 'leader')?.id ?? ids[0];
      this.net.partition(
        [leader],
        ids.filter((v) => v !== leader),
      );
    } else if (kind === 1) {
      const cut = rng.range(1, ids.length - 1);
      this.net.partition(ids.slice(0, cut), ids.slice(cut));
    } else if (kind === 2) {
      // Asymmetric: a node that can send but not hear (or the reverse).
      this.net.partitionOneWay([ids[0]], ids.slice(1));
    } else {
      // A bridge: two halves that only talk through one node.
      const a = ids.slice(1, 1 + Math.floor((ids.length - 1) / 2));
      const b = ids.slice(1 + a.length);
      this.net.partition(a, b);
    }
    this.undoLater('partition', 100, 1200, () => this.net.heal());
  }

  /** Leadership transfer (rolling restarts do this): exercises TimeoutNow and its guards. */
  private faultTransferLeader(): void {
    const leader = this.replicas.find((r) => r.up && r.role === 'leader');
    if (leader === undefined || leader.node === undefined) return;
    const voters = leader.node.status().confState.voters.filter((v) => v !== leader.id);
    if (voters.length === 0) return;
    const to = this.faultRng.pick(voters);
    this.trace(`transfer leadership ${leader.id} -> ${to}`);
    leader.node.transferLeader(to);
    this.pump(leader);
  }

  private faultHealNet(): void {
    this.net.heal();
  }

  private faultCrash(): void {
    const rng = this.faultRng;
    const r = rng.pick(this.replicas);
    if (!r.up) return;
    this.crash(r, rng.range(20, 1000));
  }

  private faultLossy(): void {
    const rng = this.faultRng;
    const ids = this.liveIds();
    const from = rng.pick(ids);
    const to = rng.pick(ids.filter((v) => v !== from));
    const cfg: Partial<LinkConfig> = {
      dropRate: rng.pick([0.1, 0.3, 0.6]),
      duplicateRate: rng.pick([0, 0.1, 0.3]),
      reorderRate: rng.pick([0, 0.2, 0.5]),
      maxDelayMs: rng.pick([10, 50, 200]),
    };
    this.trace(
      `net lossy ${from}->${to} drop=${cfg.dropRate} dup=${cfg.duplicateRate} reorder=${cfg.reorderRate} max=${cfg.maxDelayMs}`,
    );
    this.net.setLink(from, to, cfg);
    this.undoLater(`lossy ${from}->${to}`, 100, 1500, () => this.net.setLink(from, to, this.profile.baseLink));
  }

  private faultSkew(): void {
    const rng = this.faultRng;
    const r = rng.pick(this.replicas);
    // A stopped clock is unbounded drift, which no lease margin covers: lease runs only drift.
    if (this.readOnly === 'lease-based' || rng.chance(0.5)) {
      // Lease reads are only safe while drift stays within the margin; keep it modest for
      // 'lease-based' runs, and go wild otherwise (safe reads must not care).
      const rate = this.readOnly === 'lease-based' ? rng.pick([0.9, 1.1]) : rng.pick([0.5, 0.8, 1.25, 2, 3]);
      r.clock.setRate(rate);
      this.trace(`skew ${r.id} rate=${rate}`);
      this.undoLater(`skew ${r.id}`, 200, 3000, () => r.clock.setRate(1));
    } else {
      // A process pause (GC, VM steal): no ticks, then it wakes up believing little time passed.
      const ms = rng.range(50, 800);
      r.clock.stall(this.clock.now + ms);
      this.trace(`stall ${r.id} ${ms}ms`);
    }
  }

  /**
   * One membership change through the leader, as an operator or the rebalancer would make
   * it: add a learner (a brand-new replica), promote a learner, remove a voter or learner, or
   * replace a crashed voter by a new replica (joint consensus). The core refuses what is not
   * allowed right now (another change pending, removing the leader); that is fine too.
   */
  private faultMembership(): void {
    const rng = this.memberRng;
    const leader = this.replicas.find((r) => r.up && r.role === 'leader');
    if (leader === undefined || leader.node === undefined) return;
    const cs = leader.node.status().confState;
    if (cs.votersOutgoing.length > 0) return; // joint: it leaves on its own
    const canAdd = this.replicas.length < this.voters.length + MAX_NEW_REPLICAS;
    const downVoters = cs.voters.filter((v) => v !== leader.id && !this.rep(v).up);
    const options: string[] = [];
    if (canAdd && cs.learners.length === 0) options.push('add-learner');
    if (cs.learners.length > 0 && cs.voters.length < 5) options.push('promote');
    if (cs.learners.length > 0) options.push('remove-learner');
    if (cs.voters.length > 3) options.push('remove-voter');
    if (canAdd && downVoters.length > 0) options.push('replace');
    if (options.length === 0) return;
    const what = rng.pick(options);
    let cc: ConfChange;
    switch (what) {
      case 'add-learner': {
        const r = this.newReplica(this.replicas.length + 1, []);
        this.start(r);
        cc = { changes: [{ type: ConfChangeType.AddLearnerNode, replicaId: r.id }], joint: false };
        break;
      }
      case 'promote':
        cc = { changes: [{ type: ConfChangeType.AddNode, replicaId: rng.pick(cs.learners) }], joint: false };
        break;
      case 'remove-learner':
        cc = { changes: [{ type: ConfChangeType.RemoveNode, replicaId: rng.pick(cs.learners) }], joint: false };
        break;
      case 'remove-voter':
        cc = { changes: [{ type: ConfChangeType.RemoveNode, replicaId: rng.pick(cs.voters.filter((v) => v !== leader.id)) }], joint: false };
        break;
      default: {
        // Replace a dead voter: add the new replica and remove the dead one in one joint change.
        const dead = rng.pick(downVoters);
        const r = this.newReplica(this.replicas.length + 1, []);
        this.start(r);
        cc = {
          changes: [
            { type: ConfChangeType.AddNode, replicaId: r.id },
            { type: ConfChangeType.RemoveNode, replicaId: dead },
          ],
          joint: false,
        };
      }
    }
    const desc = cc.changes.map((c) => `${ConfChangeType[c.type]}(${c.replicaId})`).join('+');
    try {
      leader.node.proposeConfChange(cc);
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      this.trace(`membership ${what} ${desc} refused: ${e.message}`);
      return;
    }
    this.confChanges++;
    this.trace(`membership ${what} ${desc} proposed at ${leader.id}`);
    this.pump(leader);
  }

  private faultSlowDisk(): void {
    const rng = this.faultRng;
    const r = rng.pick(this.replicas);
    r.disk.setSlow(true);
    this.trace(`slow disk ${r.id}`);
    this.undoLater(`slow disk ${r.id}`, 100, 2000, () => r.disk.setSlow(false));
  }
}

/** Runs one seed of the cluster simulation. */
export function runClusterSim(opts: ClusterSimOptions): ClusterSimResult {
  return new RaftClusterSim(opts).run();
}
