import { ReplicaId } from './types';

export type VoteResult = 'pending' | 'lost' | 'won';

/** Looks up how far a replica has acknowledged (an index, or a tick for leases). */
export type AckedIndexer = (id: ReplicaId) => number | undefined;

/** A plain majority of a set of voters. */
export class MajorityConfig {
  readonly ids: ReadonlySet<ReplicaId>;

  constructor(ids: Iterable<ReplicaId> = []) {
    this.ids = new Set(ids);
  }

  get size(): number {
    return this.ids.size;
  }

  sorted(): ReplicaId[] {
    return [...this.ids].sort((a, b) => a - b);
  }

  /**
   * The largest value a majority has acknowledged. An empty config returns +Infinity so it
   * never constrains the other half of a joint config.
   */
  committedIndex(acked: AckedIndexer): number {
    const n = this.ids.size;
    if (n === 0) return Infinity;
    const vals: number[] = [];
    for (const id of this.ids) vals.push(acked(id) ?? 0);
    vals.sort((a, b) => b - a);
    // The (n/2+1)-th largest value is held by a majority.
    return vals[Math.floor(n / 2)];
  }

  /** Won once a majority granted; lost once a majority can no longer be reached. */
  voteResult(votes: ReadonlyMap<ReplicaId, boolean>): VoteResult {
    if (this.ids.size === 0) return 'won'; // by convention, so joint configs reduce to majority
    let granted = 0;
    let missing = 0;
    for (const id of this.ids) {
      const v = votes.get(id);
      if (v === undefined) missing++;
      else if (v) granted++;
    }
    const q = Math.floor(this.ids.size / 2) + 1;
    if (granted >= q) return 'won';
    if (granted + missing >= q) return 'pending';
    return 'lost';
  }
}

/**
 * Joint consensus: decisions need a majority of BOTH the incoming and the outgoing voters.
 * Outside a joint config, `outgoing` is empty and this is just the incoming majority.
 */
export class JointConfig {
  constructor(
    readonly incoming: MajorityConfig = new MajorityConfig(),
    readonly outgoing: MajorityConfig = new MajorityConfig(),
  ) {}

  isJoint(): boolean {
    return this.outgoing.size > 0;
  }

  ids(): Set<ReplicaId> {
    return new Set([...this.incoming.ids, ...this.outgoing.ids]);
  }

  committedIndex(acked: AckedIndexer): number {
    return Math.min(this.incoming.committedIndex(acked), this.outgoing.committedIndex(acked));
  }

  voteResult(votes: ReadonlyMap<ReplicaId, boolean>): VoteResult {
    const r1 = this.incoming.voteResult(votes);
    const r2 = this.outgoing.voteResult(votes);
    if (r1 === r2) return r1;
    if (r1 === 'lost' || r2 === 'lost') return 'lost';
    return 'pending';
  }
}
