import type { NodeRecord, ShardRecord } from './types';

/** Replicas per shard. */
export const REPLICATION_FACTOR = 3;

export class PlacementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlacementError';
  }
}

export interface PlaceOptions {
  /** Replicas wanted in total (default 3). */
  readonly count?: number;
  /** Replicas that stay (count toward the total and toward zone diversity). */
  readonly keep?: readonly number[];
  /** Nodes not to choose (e.g. the shard's current replicas, dead or not). */
  readonly exclude?: readonly number[];
  /** Replicas each node already holds: fewer is preferred, so shards spread. */
  readonly load?: ReadonlyMap<number, number>;
}

/** Failure domain of a node: its zone when labelled (within its region), else the node itself. */
function domain(n: NodeRecord): string {
  return n.zone !== '' ? `${n.region}/${n.zone}` : `node:${n.nodeId}`;
}

/**
 * Chooses the nodes for a shard's replicas among live nodes, deterministically (same inputs,
 * same answer on every meta replica and every run). Greedy: each pick prefers a failure domain
 * (zone) not used yet, then the least loaded node, then an order rotated by shard id (so equal
 * nodes take turns across shards), then the lowest id. Distinct zones are guaranteed when at
 * least `count` zones have live nodes; with fewer zones the replicas still go to distinct nodes,
 * spread over as many zones as exist. Throws PlacementError when there are not enough live nodes.
 * Returns the chosen new nodes (not `keep`), ascending.
 */
export function placeReplicas(shardId: number, nodes: readonly NodeRecord[], opts: PlaceOptions = {}): number[] {
  const count = opts.count ?? REPLICATION_FACTOR;
  const keep = opts.keep ?? [];
  const excluded = new Set([...(opts.exclude ?? []), ...keep]);
  const byId = new Map(nodes.map((n) => [n.nodeId, n]));
  const candidates = nodes.filter((n) => n.state === 'live' && !excluded.has(n.nodeId)).sort((a, b) => a.nodeId - b.nodeId);
  const need = count - keep.length;
  if (need <= 0) return [];
  if (candidates.length < need) {
    const live = nodes.filter((n) => n.state === 'live').length;
    throw new PlacementError(`shard ${shardId}: ${count} replicas need ${need} more live node(s) besides its ${keep.length} kept replica(s); ${candidates.length} eligible of ${live} live`);
  }
  const used = new Set(keep.map((id) => byId.get(id)).filter((n): n is NodeRecord => n !== undefined).map(domain));
  const rank = new Map(candidates.map((n, i) => [n.nodeId, (i - (shardId % candidates.length) + candidates.length) % candidates.length]));
  const load = new Map(opts.load ?? []);
  const chosen: number[] = [];
  const pool = [...candidates];
  for (let k = 0; k < need; k++) {
    pool.sort((a, b) => {
      const za = used.has(domain(a)) ? 1 : 0;
      const zb = used.has(domain(b)) ? 1 : 0;
      if (za !== zb) return za - zb;
      const la = load.get(a.nodeId) ?? 0;
      const lb = load.get(b.nodeId) ?? 0;
      if (la !== lb) return la - lb;
      return (rank.get(a.nodeId) as number) - (rank.get(b.nodeId) as number);
    });
    const pick = pool.shift() as NodeRecord;
    chosen.push(pick.nodeId);
    used.add(domain(pick));
    load.set(pick.nodeId, (load.get(pick.nodeId) ?? 0) + 1);
  }
  return chosen.sort((a, b) => a - b);
}

/** Replicas per node in a shard map. */
export function replicaLoad(shards: readonly ShardRecord[]): Map<number, number> {
  const load = new Map<number, number>();
  for (const s of shards) for (const r of s.replicas) load.set(r, (load.get(r) ?? 0) + 1);
  return load;
}

/** One proposed move: replace a shard's replica on a dead node. */
export interface RepairStep {
  readonly shardId: number;
  /** The shard version the plan was made against (a mover must check it is still current). */
  readonly version: number;
  readonly remove: number;
  /** The replacement, or undefined when no live node qualifies (then `reason` says why). */
  readonly add: number | undefined;
  readonly reason?: string;
}

/**
 * For every shard with a replica on a dead node, proposes a live replacement (one step per dead
 * replica), keeping the shard's surviving replicas and spreading replacements by load. Only a
 * plan: moving replicas (add learner, catch up, promote, remove) is not done here.
 */
export function planRepairs(shards: readonly ShardRecord[], nodes: readonly NodeRecord[]): RepairStep[] {
  const byId = new Map(nodes.map((n) => [n.nodeId, n]));
  const load = replicaLoad(shards);
  const steps: RepairStep[] = [];
  for (const s of [...shards].sort((a, b) => a.shardId - b.shardId)) {
    const dead = s.replicas.filter((r) => byId.get(r)?.state === 'dead');
    if (dead.length === 0) continue;
    const keep = s.replicas.filter((r) => !dead.includes(r));
    const exclude = [...s.replicas];
    for (const d of dead) {
      try {
        const [add] = placeReplicas(s.shardId, nodes, { count: keep.length + 1, keep, exclude, load });
        steps.push({ shardId: s.shardId, version: s.version, remove: d, add });
        keep.push(add);
        exclude.push(add);
        load.set(add, (load.get(add) ?? 0) + 1);
      } catch (e) {
        if (!(e instanceof PlacementError)) throw e;
        steps.push({ shardId: s.shardId, version: s.version, remove: d, add: undefined, reason: e.message });
      }
    }
  }
  return steps;
}

/** One rebalancing move: a replica of `shardId` goes from the most loaded node to a lighter one. */
export interface RebalanceStep {
  readonly shardId: number;
  readonly version: number;
  readonly from: number;
  readonly to: number;
}

/**
 * At most one move that narrows the spread of replicas per live node, when the most and least
 * loaded live nodes differ by two or more (a node that joined later starts empty). Only when
 * every known node is live: moving replicas while a node is suspect or dead would compete with
 * repairs. The move keeps the shard's zones apart (placeReplicas picks the target). Pure and
 * deterministic; one move at a time keeps the extra snapshot traffic small.
 */
export function planRebalance(shards: readonly ShardRecord[], nodes: readonly NodeRecord[]): RebalanceStep | undefined {
  if (nodes.length === 0 || nodes.some((n) => n.state !== 'live')) return undefined;
  if (shards.some((s) => s.replicas.length === 0)) return undefined;
  const load = replicaLoad(shards);
  for (const n of nodes) if (!load.has(n.nodeId)) load.set(n.nodeId, 0);
  const byLoad = nodes.map((n) => n.nodeId).sort((a, b) => (load.get(b) as number) - (load.get(a) as number) || a - b);
  const most = byLoad[0];
  const least = Math.min(...byLoad.map((id) => load.get(id) as number));
  if ((load.get(most) as number) - least < 2) return undefined;
  for (const s of [...shards].sort((a, b) => a.shardId - b.shardId)) {
    if (!s.replicas.includes(most)) continue;
    const keep = s.replicas.filter((r) => r !== most);
    let to: number;
    try {
      [to] = placeReplicas(s.shardId, nodes, { count: s.replicas.length, keep, exclude: s.replicas, load });
    } catch (e) {
      if (e instanceof PlacementError) continue;
      throw e;
    }
    // Never at the cost of zone spread: the shard keeps at least as many failure domains.
    const byId = new Map(nodes.map((n) => [n.nodeId, n]));
    const domains = (ids: readonly number[]): number => new Set(ids.map((id) => byId.get(id)).filter((n): n is NodeRecord => n !== undefined).map(domain)).size;
    if (domains([...keep, to]) < domains(s.replicas)) continue;
    if ((load.get(to) as number) + 1 < (load.get(most) as number)) return { shardId: s.shardId, version: s.version, from: most, to };
  }
  return undefined;
}
