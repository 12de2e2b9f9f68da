// Fault injection against a running `weft demo`: kill -9 and SIGSTOP/SIGCONT of its node
// processes and kill -9 of its gateway, in a bounded, scripted sequence, plus the probes a test
// needs around it (which node leads which shard, have the replicas converged). Every fault is
// bounded in count and time, logged on a timeline (ms since the test began) so a failing run can
// be replayed, and undone on cleanup (a stopped process is always continued).
import { RemoteShardKv } from '@weft/kvrpc';
import type { DemoState } from '../../apps/cli/src/state';
import type { Demo } from './weft-server';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`'s value if it settles within `ms`, else (or if it rejects) `fallback`. */
export async function within<T>(ms: number, p: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.catch(() => fallback), new Promise<T>((r) => (timer = setTimeout(() => r(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** A small seeded PRNG (mulberry32): the workload and the nemesis' choices replay from a seed. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
}

/** What happened when, in ms since `t0`: the run's timeline for the report of a failure. */
export class Timeline {
  readonly events: { readonly at: number; readonly what: string }[] = [];
  constructor(readonly t0 = Date.now()) {}
  now(): number {
    return Date.now() - this.t0;
  }
  log(what: string): void {
    this.events.push({ at: this.now(), what });
  }
  toString(): string {
    return this.events.map((e) => `${(e.at / 1000).toFixed(2).padStart(8)}s  ${e.what}`).join('\n');
  }
}

export const NODE_IDS = [1, 2, 3] as const;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const signal = (pid: number, sig: NodeJS.Signals): boolean => {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
};

/**
 * The processes of one demo, found through DATA/weft-demo.json. Remembers every pid it ever
 * saw, so cleanup can kill services even if the demo itself is gone (the demo starts each
 * service in its own process group: signalling the demo's group does not reach them).
 */
export class DemoProcesses {
  private readonly seen = new Set<number>();
  private readonly paused = new Set<number>();

  constructor(readonly demo: Demo) {
    this.pids();
  }

  state(): DemoState {
    const s = this.demo.state();
    if (!s) throw new Error(`no readable weft-demo.json in ${this.demo.dataDir}`);
    return s;
  }

  /** Current pid of every service that is up (and records them for cleanup). */
  pids(): Map<string, number> {
    const out = new Map<string, number>();
    const s = this.demo.state();
    for (const svc of s?.services ?? []) {
      if (svc.pid === null) continue;
      out.set(svc.name, svc.pid);
      this.seen.add(svc.pid);
    }
    if (this.demo.proc.child.pid !== undefined) this.seen.add(this.demo.proc.child.pid);
    return out;
  }

  pid(name: string): number | undefined {
    return this.pids().get(name);
  }

  httpPort(name: string): number {
    const svc = this.state().services.find((s) => s.name === name);
    if (!svc) throw new Error(`no service ${name} in weft-demo.json`);
    return svc.httpPort;
  }

  /** KV RPC port of each node, by node id. */
  kvPorts(): Map<number, number> {
    const out = new Map<number, number>();
    for (const id of NODE_IDS) {
      const svc = this.state().services.find((s) => s.name === `node-${id}`);
      const port = svc?.ports.kv;
      if (port === undefined) throw new Error(`no kv port for node-${id} in weft-demo.json`);
      out.set(id, port);
    }
    return out;
  }

  restarts(): Record<string, number> {
    return Object.fromEntries(this.state().services.map((s) => [s.name, s.restarts]));
  }

  /** kill -9; returns the pid killed. */
  kill(name: string): number {
    const pid = this.pid(name);
    if (pid === undefined) throw new Error(`${name} has no pid (down?)`);
    if (!signal(pid, 'SIGKILL')) throw new Error(`could not SIGKILL ${name} (pid ${pid})`);
    return pid;
  }

  pause(name: string): number {
    const pid = this.pid(name);
    if (pid === undefined) throw new Error(`${name} has no pid (down?)`);
    this.paused.add(pid);
    if (!signal(pid, 'SIGSTOP')) throw new Error(`could not SIGSTOP ${name} (pid ${pid})`);
    return pid;
  }

  resume(pid: number): void {
    signal(pid, 'SIGCONT');
    this.paused.delete(pid);
  }

  async healthy(name: string): Promise<boolean> {
    const port = this.httpPort(name);
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 1500);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: ctl.signal });
      return res.status === 200;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until `name` runs under a pid other than `oldPid` and answers /health. */
  async awaitRespawn(name: string, oldPid: number, ms: number): Promise<number> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const pid = this.pid(name);
      if (pid !== undefined && pid !== oldPid && (await this.healthy(name))) return pid;
      await sleep(100);
    }
    throw new Error(`${name} was not restarted and healthy within ${ms} ms after pid ${oldPid} died`);
  }

  /** Waits until every service answers /health. */
  async awaitAllHealthy(ms: number): Promise<void> {
    const end = Date.now() + ms;
    const names = this.state().services.map((s) => s.name);
    let down: string[] = names;
    while (Date.now() < end) {
      const ok = await Promise.all(down.map((n) => this.healthy(n)));
      down = down.filter((_, i) => !ok[i]);
      if (down.length === 0) return;
      await sleep(200);
    }
    throw new Error(`services not healthy after ${ms} ms: ${down.join(', ')}`);
  }

  /**
   * Continues anything paused, stops the demo (SIGTERM, SIGKILL after its grace), then SIGKILLs
   * every service pid ever seen that is still alive. Never throws.
   */
  async cleanup(graceMs = 25_000): Promise<void> {
    this.pids();
    for (const pid of this.seen) signal(pid, 'SIGCONT');
    this.paused.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.demo.stop().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    const demoPid = this.demo.proc.child.pid;
    if (demoPid !== undefined && alive(demoPid)) signal(-demoPid, 'SIGKILL');
    for (const pid of this.seen) if (alive(pid)) signal(pid, 'SIGKILL');
  }
}

/** One node's view of one shard's replica. */
export interface ReplicaView {
  readonly nodeId: number;
  readonly leader: number;
  readonly appliedIndex: number;
  readonly stateHash: string;
}

export interface ShardConvergence {
  readonly shardId: number;
  readonly converged: boolean;
  /** The last views seen (or the error), for the report. */
  readonly last: string;
  /** Views at an equal applied index with different state hashes: divergence, never benign. */
  readonly divergences: readonly string[];
}

/** Direct KV RPC clients of every shard over the three nodes, for status probes. */
export class ShardProbe {
  private readonly kvs = new Map<number, RemoteShardKv>();

  constructor(
    readonly shardIds: readonly number[],
    kvPorts: ReadonlyMap<number, number>,
  ) {
    for (const shardId of shardIds) {
      this.kvs.set(
        shardId,
        new RemoteShardKv({
          shardId,
          replicas: [...kvPorts].map(([nodeId, port]) => ({ nodeId, host: '127.0.0.1', port })),
          requestTimeoutMs: 2000,
          deadlineMs: 5000,
        }),
      );
    }
  }

  kv(shardId: number): RemoteShardKv {
    const kv = this.kvs.get(shardId);
    if (!kv) throw new Error(`no probe for shard ${shardId}`);
    return kv;
  }

  async view(shardId: number, nodeId: number): Promise<ReplicaView> {
    const s = await this.kv(shardId).replicaStatus(nodeId);
    return { nodeId: s.nodeId, leader: s.leader, appliedIndex: s.appliedIndex, stateHash: s.stateHash.toString('hex') };
  }

  /** The leader each shard's replicas agree on right now (majority view), or undefined. */
  async leaders(): Promise<Map<number, number | undefined>> {
    const out = new Map<number, number | undefined>();
    for (const shardId of this.shardIds) {
      const views = await Promise.all(NODE_IDS.map((n) => this.view(shardId, n).catch(() => undefined)));
      const self = views.find((v) => v !== undefined && v.leader === v.nodeId);
      out.set(shardId, self?.nodeId);
    }
    return out;
  }

  /**
   * Polls every shard until its three replicas report the same applied index and state hash,
   * or `ms` passes. Views taken at an equal applied index whose hashes differ are recorded as
   * divergence (a replica's index and hash are read in one synchronous step on the node).
   */
  async converge(ms: number): Promise<ShardConvergence[]> {
    const end = Date.now() + ms;
    const pending = new Set(this.shardIds);
    const last = new Map<number, string>();
    const divergences = new Map<number, string[]>(this.shardIds.map((s) => [s, []]));
    while (pending.size > 0 && Date.now() < end) {
      for (const shardId of [...pending]) {
        try {
          const views = await Promise.all(NODE_IDS.map((n) => this.view(shardId, n)));
          const desc = views.map((v) => `n${v.nodeId}@${v.appliedIndex}:${v.stateHash.slice(0, 12)}(leader ${v.leader})`).join(' ');
          last.set(shardId, desc);
          const sameIndex = views.every((v) => v.appliedIndex === views[0].appliedIndex);
          const sameHash = views.every((v) => v.stateHash === views[0].stateHash);
          if (sameIndex && sameHash) pending.delete(shardId);
          else if (sameIndex) divergences.get(shardId)?.push(desc);
        } catch (e) {
          last.set(shardId, `error: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (pending.size > 0) await sleep(200);
    }
    return this.shardIds.map((shardId) => ({
      shardId,
      converged: !pending.has(shardId),
      last: last.get(shardId) ?? 'no answer',
      divergences: divergences.get(shardId) ?? [],
    }));
  }

  close(): void {
    for (const kv of this.kvs.values()) kv.close();
  }
}

export type Fault =
  | { readonly kind: 'kill-node' }
  | { readonly kind: 'pause-node'; readonly pauseMs: number }
  | { readonly kind: 'kill-gateway' }
  /** The coordinating gateway and a leaseholder node die together, commits in flight. */
  | { readonly kind: 'kill-gateway-and-node' };

export interface NemesisOptions {
  readonly procs: DemoProcesses;
  readonly timeline: Timeline;
  readonly rng: Prng;
  /** Faults in order; each is preceded by `gapMs` of normal operation. */
  readonly faults: readonly Fault[];
  readonly gapMs: number;
  /** Hard bound of the whole sequence: faults not started by then are not run (and reported). */
  readonly budgetMs: number;
  /** The nodes that currently lead some shard (best effort; empty if unknown). */
  readonly leaseholders: () => Promise<readonly number[]>;
  /** How many transactions are between sending COMMIT and its answer right now. */
  readonly commitsInFlight: () => number;
}

export interface FaultRecord {
  readonly kind: Fault['kind'];
  readonly target: string;
  readonly at: number;
  readonly detail: string;
}

/**
 * Runs the fault sequence once: kill -9 a leaseholder node and wait for the demo to restart it,
 * SIGSTOP a node for a few seconds then SIGCONT it, kill -9 the gateway while commits are in
 * flight and wait for its restart. Before each fault every service must be healthy again, so
 * at most one node is faulty at a time (the shard keeps a quorum). Stops itself after the
 * sequence or the budget, whichever comes first.
 */
export class Nemesis {
  readonly done: FaultRecord[] = [];
  readonly skipped: string[] = [];
  private stopped = false;
  private lastNode: number | undefined;

  constructor(private readonly opts: NemesisOptions) {}

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const { procs, timeline: tl } = this.opts;
    const end = Date.now() + this.opts.budgetMs;
    tl.log(`nemesis: start (${this.opts.faults.length} faults, budget ${this.opts.budgetMs} ms)`);
    for (const [i, fault] of this.opts.faults.entries()) {
      if (this.stopped || Date.now() >= end) {
        this.skipped.push(...this.opts.faults.slice(i).map((f) => f.kind));
        break;
      }
      await sleep(Math.min(this.opts.gapMs, Math.max(0, end - Date.now())));
      try {
        await procs.awaitAllHealthy(Math.max(1000, Math.min(30_000, end - Date.now())));
      } catch (e) {
        tl.log(`nemesis: ${String(e)}`);
        this.skipped.push(...this.opts.faults.slice(i).map((f) => f.kind));
        break;
      }
      if (this.stopped || Date.now() >= end) {
        this.skipped.push(...this.opts.faults.slice(i).map((f) => f.kind));
        break;
      }
      await this.inject(fault, Math.max(5000, end - Date.now()));
    }
    tl.log(`nemesis: done (${this.done.length} faults, ${this.skipped.length} not run)`);
  }

  private async pickNode(): Promise<{ node: number; why: string }> {
    const leading = await this.opts.leaseholders().catch(() => [] as number[]);
    // Prefer a leaseholder other than the node hit last, so the faults move around.
    const fresh = leading.filter((n) => n !== this.lastNode);
    if (fresh.length > 0) return { node: this.opts.rng.pick(fresh), why: `leaseholder of some shard (leaseholders: ${leading.join(',')})` };
    if (leading.length > 0) return { node: this.opts.rng.pick(leading), why: `leaseholder of some shard (leaseholders: ${leading.join(',')})` };
    return { node: this.opts.rng.pick(NODE_IDS), why: 'no leaseholder known: random node' };
  }

  private async inject(fault: Fault, boundMs: number): Promise<void> {
    const { procs, timeline: tl } = this.opts;
    const at = tl.now();
    switch (fault.kind) {
      case 'kill-node': {
        const { node, why } = await this.pickNode();
        const name = `node-${node}`;
        const pid = procs.kill(name);
        this.lastNode = node;
        tl.log(`nemesis: kill -9 ${name} (pid ${pid}; ${why})`);
        const back = await procs.awaitRespawn(name, pid, Math.min(boundMs, 30_000));
        tl.log(`nemesis: ${name} back as pid ${back}`);
        this.done.push({ kind: fault.kind, target: name, at, detail: `pid ${pid} -> ${back}; ${why}` });
        return;
      }
      case 'pause-node': {
        const { node, why } = await this.pickNode();
        const name = `node-${node}`;
        const pid = procs.pause(name);
        this.lastNode = node;
        tl.log(`nemesis: SIGSTOP ${name} (pid ${pid}; ${why}) for ${fault.pauseMs} ms`);
        try {
          await sleep(Math.min(fault.pauseMs, boundMs));
        } finally {
          procs.resume(pid);
        }
        tl.log(`nemesis: SIGCONT ${name} (pid ${pid})`);
        this.done.push({ kind: fault.kind, target: name, at, detail: `pid ${pid} paused ${fault.pauseMs} ms; ${why}` });
        return;
      }
      case 'kill-gateway':
      case 'kill-gateway-and-node': {
        const victim = fault.kind === 'kill-gateway-and-node' ? await this.pickNode() : undefined;
        const node = victim ? `node-${victim.node}` : undefined;
        // Mid-commit if possible: wait (bounded) until some transaction has sent COMMIT.
        const waitUntil = Date.now() + 3000;
        while (this.opts.commitsInFlight() === 0 && Date.now() < waitUntil) await sleep(2);
        const inFlight = this.opts.commitsInFlight();
        const pid = procs.kill('gateway');
        const nodePid = node === undefined ? undefined : procs.kill(node);
        if (victim) this.lastNode = victim.node;
        tl.log(`nemesis: kill -9 gateway (pid ${pid})${node ? ` and ${node} (pid ${nodePid}; ${victim?.why})` : ''} with ${inFlight} COMMIT(s) in flight`);
        const back = await procs.awaitRespawn('gateway', pid, Math.min(boundMs, 30_000));
        tl.log(`nemesis: gateway back as pid ${back}`);
        let detail = `gateway pid ${pid} -> ${back}; ${inFlight} COMMIT(s) in flight`;
        if (node !== undefined && nodePid !== undefined) {
          const nodeBack = await procs.awaitRespawn(node, nodePid, Math.min(boundMs, 30_000));
          tl.log(`nemesis: ${node} back as pid ${nodeBack}`);
          detail += `; ${node} pid ${nodePid} -> ${nodeBack}`;
        }
        this.done.push({ kind: fault.kind, target: node ? `gateway+${node}` : 'gateway', at, detail });
        return;
      }
    }
  }
}
