/**
 * A tiny deterministic in-memory network of RawNodes for unit tests: it runs the Ready
 * loop (persist → send → apply → advance) and delivers messages in rounds, with link cuts.
 * Test support only; the real simulator lives in libs/sim.
 */
import { decodeConfChange } from '../confchange-codec';
import { RaftConfig, RaftRand } from '../raft';
import { RawNode } from '../raw-node';
import { MemoryStorage } from '../storage';
import { ConfState, Entry, EntryType, Message, MessageType, ReadState, ReplicaId } from '../types';

/** mulberry32: small, seedable, good enough for election jitter. */
export function seededRand(seed: number): RaftRand {
  let a = seed >>> 0;
  return {
    int(n: number): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      const r = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      return Math.floor(r * n);
    },
  };
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);
export const str = (b: Uint8Array): string => dec.decode(b);

export interface TestNode {
  id: ReplicaId;
  rn: RawNode;
  storage: MemoryStorage;
  /** Data of applied normal entries, in order (restored from snapshots too). */
  applied: string[];
  confState: ConfState;
  readStates: ReadState[];
}

export type NodeOptions = Partial<Omit<RaftConfig, 'id' | 'storage'>>;

export class Network {
  readonly nodes = new Map<ReplicaId, TestNode>();
  /** Every message delivered, in order (for counting round trips). */
  readonly delivered: Message[] = [];
  /** Highest-term leader seen per term, to check election safety across a test. */
  readonly leadersByTerm = new Map<number, Set<ReplicaId>>();
  private cut = new Set<string>();
  /** Optional hook: return false to drop a message. */
  filter: ((m: Message) => boolean) | undefined;
  private seed: number;

  constructor(
    ids: readonly ReplicaId[],
    readonly opts: NodeOptions = {},
    seed = 1,
  ) {
    this.seed = seed;
    for (const id of ids) this.add(id, MemoryStorage.withVoters(ids));
  }

  add(id: ReplicaId, storage: MemoryStorage, opts: NodeOptions = {}): TestNode {
    const cfg: RaftConfig = {
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      preVote: false,
      checkQuorum: false,
      readOnlyOption: 'safe',
      leaseMarginTicks: 2,
      rand: seededRand(this.seed * 1000 + id),
      ...this.opts,
      ...opts,
    };
    const node: TestNode = {
      id,
      rn: new RawNode(cfg),
      storage,
      applied: [],
      confState: storage.initialState().confState,
      readStates: [],
    };
    this.nodes.set(id, node);
    return node;
  }

  node(id: ReplicaId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  isolate(id: ReplicaId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cutLink(id, other);
    }
  }

  cutLink(a: ReplicaId, b: ReplicaId): void {
    this.cut.add(`${a}-${b}`);
    this.cut.add(`${b}-${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Handles one node's Ready; returns the messages to send. */
  private handleReady(n: TestNode): Message[] {
    const rd = n.rn.ready();
    if (rd.snapshot) {
      n.storage.applySnapshot(rd.snapshot);
      n.confState = rd.snapshot.metadata.confState;
      n.applied = JSON.parse(str(rd.snapshot.data)) as string[];
    }
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    const st = n.rn.status();
    if (st.state === 'leader') {
      const s = this.leadersByTerm.get(st.term) ?? new Set<ReplicaId>();
      s.add(n.id);
      this.leadersByTerm.set(st.term, s);
    }
    for (const e of rd.committedEntries) this.apply(n, e);
    n.readStates.push(...rd.readStates);
    n.rn.advance(rd);
    return rd.messages;
  }

  private apply(n: TestNode, e: Entry): void {
    if (e.type === EntryType.ConfChange) {
      n.confState = n.rn.applyConfChange(decodeConfChange(e.data));
    } else if (e.data.length > 0) {
      n.applied.push(str(e.data));
    }
  }

  /** Runs Ready loops and deliveries until nothing moves. Returns rounds taken. */
  stabilize(maxRounds = 1000): number {
    for (let round = 0; round < maxRounds; round++) {
      const out: Message[] = [];
      for (const id of [...this.nodes.keys()].sort((a, b) => a - b)) {
        const n = this.node(id);
        if (n.rn.hasReady()) out.push(...this.handleReady(n));
      }
      if (out.length === 0) return round;
      this.deliver(out);
    }
    throw new Error('network did not stabilize');
  }

  /** Delivers messages (subject to cuts and the filter). */
  deliver(msgs: readonly Message[]): void {
    for (const m of msgs) {
      if (this.cut.has(`${m.from}-${m.to}`)) continue;
      if (this.filter && !this.filter(m)) continue;
      const to = this.nodes.get(m.to);
      if (!to) continue;
      this.delivered.push(m);
      to.rn.step(m);
      // The transport reports snapshot delivery back to the sender.
      if (m.type === MessageType.Snap) this.nodes.get(m.from)?.rn.reportSnapshot(m.to, true);
    }
  }

  /** Drains one node's Ready without delivering its messages; returns them. */
  collect(id: ReplicaId): Message[] {
    const n = this.node(id);
    return n.rn.hasReady() ? this.handleReady(n) : [];
  }

  tick(ids: readonly ReplicaId[] = [...this.nodes.keys()], times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of ids) this.node(id).rn.tick();
      this.stabilize();
    }
  }

  /** Ticks every node until some node is leader (or gives up). */
  tickUntilLeader(maxTicks = 500): ReplicaId {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l !== undefined) return l;
      this.tick();
    }
    throw new Error('no leader elected');
  }

  /** The leader with the highest term, if any. */
  leader(): ReplicaId | undefined {
    let best: { id: ReplicaId; term: number } | undefined;
    for (const n of this.nodes.values()) {
      const s = n.rn.status();
      if (s.state === 'leader' && (!best || s.term > best.term)) best = { id: n.id, term: s.term };
    }
    return best?.id;
  }

  elect(id: ReplicaId): void {
    this.node(id).rn.campaign();
    this.stabilize();
    if (this.node(id).rn.status().state !== 'leader') throw new Error(`node ${id} failed to become leader`);
  }

  propose(id: ReplicaId, data: string): void {
    this.node(id).rn.propose(bytes(data));
    this.stabilize();
  }

  /** Snapshot the applied state at the applied index and compact the log up to it. */
  compact(id: ReplicaId): number {
    const n = this.node(id);
    const applied = n.rn.status().applied;
    n.storage.createSnapshot(applied, n.confState, bytes(JSON.stringify(n.applied)));
    n.storage.compact(applied);
    return applied;
  }

  count(pred: (m: Message) => boolean): number {
    return this.delivered.filter(pred).length;
  }
}
