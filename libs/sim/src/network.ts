/**
 * A simulated message network between replicas. Messages are delivered in order of their
 * (virtual) delivery time, which each link draws from its own delay distribution, so
 * reordering falls out naturally; the knobs below make it worse on purpose. Partitions are
 * per directed link, so asymmetric partitions (A hears B but B does not hear A) are expressible.
 *
 * Partitions are checked when a message is sent: a message already on the wire when a
 * partition starts still arrives, like a packet that had left the switch.
 */
import { EventQueue } from './event-queue';
import { Prng } from './prng';

export type NodeId = number;

export interface LinkConfig {
  /** Minimum one-way delay (ms). */
  readonly minDelayMs: number;
  /** Maximum one-way delay for the common case (ms). */
  readonly maxDelayMs: number;
  /** Probability a message is silently lost. */
  readonly dropRate: number;
  /** Probability a message is delivered twice (the copy gets its own delay). */
  readonly duplicateRate: number;
  /** Probability a message is held back by an extra `reorderDelayMs`, letting later ones pass. */
  readonly reorderRate: number;
  readonly reorderDelayMs: number;
}

export const DEFAULT_LINK: LinkConfig = {
  minDelayMs: 1,
  maxDelayMs: 8,
  dropRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  reorderDelayMs: 50,
};

export interface Delivery<M> {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly msg: M;
  /** True for the second copy of a duplicated message (for traces only). */
  readonly duplicate: boolean;
}

export type TraceFn = (line: string) => void;

export class SimNetwork<M> {
  private readonly queue = new EventQueue<Delivery<M>>();
  private readonly links = new Map<string, LinkConfig>();
  private readonly blocked = new Set<string>();
  private defaults: LinkConfig;
  /** Counters for reports; not used for decisions. */
  readonly stats = { sent: 0, dropped: 0, blocked: 0, duplicated: 0, delivered: 0 };

  constructor(
    private readonly rng: Prng,
    defaults: LinkConfig = DEFAULT_LINK,
    private readonly trace: TraceFn = () => undefined,
    private readonly describe: (m: M) => string = () => 'msg',
  ) {
    this.defaults = defaults;
  }

  setDefaults(cfg: LinkConfig): void {
    this.defaults = cfg;
  }

  /** Overrides one directed link's behaviour (e.g. a lossy cable between 1 and 3). */
  setLink(from: NodeId, to: NodeId, cfg: Partial<LinkConfig>): void {
    this.links.set(key(from, to), { ...this.link(from, to), ...cfg });
  }

  link(from: NodeId, to: NodeId): LinkConfig {
    return this.links.get(key(from, to)) ?? this.defaults;
  }

  /** Blocks every link between the two groups, both ways. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    this.partitionOneWay(a, b);
    this.partitionOneWay(b, a);
  }

  /** Blocks messages from `from` to `to` only. */
  partitionOneWay(from: readonly NodeId[], to: readonly NodeId[]): void {
    for (const f of from) for (const t of to) if (f !== t) this.blocked.add(key(f, t));
    this.trace(`net partition ${from.join(',')} -/-> ${to.join(',')}`);
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(key(from, to));
  }

  /** Removes every partition and per-link override: a fully healthy network. */
  heal(): void {
    this.blocked.clear();
    this.links.clear();
    this.trace('net heal');
  }

  /** Queues a message; returns false if it was lost at once (blocked link or dropped). */
  send(from: NodeId, to: NodeId, msg: M, now: number): boolean {
    this.stats.sent++;
    if (this.blocked.has(key(from, to))) {
      this.stats.blocked++;
      return false;
    }
    const cfg = this.link(from, to);
    if (this.rng.chance(cfg.dropRate)) {
      this.stats.dropped++;
      this.trace(`net drop ${from}->${to} ${this.describe(msg)}`);
      return false;
    }
    this.enqueue(from, to, msg, now, cfg, false);
    if (this.rng.chance(cfg.duplicateRate)) {
      this.stats.duplicated++;
      this.enqueue(from, to, msg, now, cfg, true);
    }
    return true;
  }

  private enqueue(from: NodeId, to: NodeId, msg: M, now: number, cfg: LinkConfig, dup: boolean): void {
    let delay = this.rng.range(cfg.minDelayMs, Math.max(cfg.minDelayMs, cfg.maxDelayMs));
    if (this.rng.chance(cfg.reorderRate)) delay += this.rng.range(1, Math.max(1, cfg.reorderDelayMs));
    this.queue.push(now + delay, { from, to, msg, duplicate: dup });
  }

  /** Virtual time of the next delivery, if any message is in flight. */
  nextAt(): number | undefined {
    return this.queue.peek()?.at;
  }

  /** Takes the next message if it is due at or before `now`. */
  popDue(now: number): Delivery<M> | undefined {
    const top = this.queue.peek();
    if (top === undefined || top.at > now) return undefined;
    this.queue.pop();
    this.stats.delivered++;
    return top.item;
  }

  get inFlight(): number {
    return this.queue.size;
  }
}

function key(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
