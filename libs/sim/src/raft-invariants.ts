/**
 * Raft's safety properties (Ongaro's thesis, fig. 3.2), checked from plain observations of
 * replicas so the checker knows nothing about the core's internals and cannot share its bugs:
 *
 * - Election safety: at most one leader per term, ever.
 * - Log matching: if two logs contain an entry with the same index and term, the logs are
 *   identical up to that index.
 * - Leader completeness: an entry committed in term T is in the log of every leader of a term
 *   after T.
 * - State-machine safety: no two replicas apply different entries at the same index.
 *
 * Log matching is checked through a global table keyed by (index, term): under election safety
 * that pair names one entry forever, so every replica's copy must agree on the entry's content
 * and on the term of the entry before it. Agreement on the predecessor's term at every index is
 * exactly the inductive form of "identical prefixes", and checking it needs no pairwise log
 * comparison.
 */
import { Entry } from '../../raft/src/types';

export type InvariantName =
  | 'election-safety'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'apply-order';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: InvariantName,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** Read access to one replica's log (e.g. a RaftStorage). May throw for compacted indexes. */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  /** Term at i, for i in [firstIndex - 1, lastIndex]. */
  term(i: number): number;
}

export interface ReplicaObservation {
  readonly id: number;
  readonly term: number;
  readonly isLeader: boolean;
  /** The replica's commit index (from its hard state or status). */
  readonly commit: number;
  readonly log: LogView;
}

interface EntryFact {
  readonly digest: number;
  readonly prevTerm: number;
  readonly seenOn: number;
}

/** FNV-1a over an entry's type and payload: a cheap content identity for comparisons. */
export function entryDigest(e: Entry): number {
  let h = 0x811c9dc5 ^ e.type;
  h = Math.imul(h, 0x01000193);
  const d = e.data;
  for (let i = 0; i < d.length; i++) {
    h ^= d[i];
    h = Math.imul(h, 0x01000193);
  }
  h ^= d.length;
  return Math.imul(h, 0x01000193) >>> 0;
}

export class RaftInvariants {
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly entryFacts = new Map<string, EntryFact>();
  /** committedTerm[i]: the term of the entry committed at index i. */
  private readonly committedTerm: number[] = [];
  /** The lowest replica term at which index i was seen committed (≥ the true commit term). */
  private readonly committedAtTerm: number[] = [];
  private readonly commitSeen = new Map<number, number>();
  private readonly leaderChecked = new Set<string>();
  private readonly applied: { term: number; digest: number; by: number }[] = [];
  private readonly lastApplied = new Map<number, number>();
  readonly stats = { observations: 0, leaders: 0, appendedEntries: 0, committed: 0, applied: 0 };

  /** Called after every step for every live replica. */
  observe(o: ReplicaObservation): void {
    this.stats.observations++;
    this.observeCommit(o);
    if (o.isLeader) this.observeLeader(o);
  }

  private observeLeader(o: ReplicaObservation): void {
    const prior = this.leaderOfTerm.get(o.term);
    if (prior !== undefined && prior !== o.id) {
      throw new InvariantViolation('election-safety', `replicas ${prior} and ${o.id} were both leader in term ${o.term}`);
    }
    const k = `${o.id}@${o.term}`;
    if (this.leaderChecked.has(k)) return;
    this.leaderOfTerm.set(o.term, o.id);
    this.leaderChecked.add(k);
    this.stats.leaders++;
    // Leader completeness, checked when the leader is first seen: it must already hold every
    // entry committed in an earlier term.
    const first = o.log.firstIndex();
    const last = o.log.lastIndex();
    for (let i = Math.max(1, first - 1); i < this.committedTerm.length; i++) {
      const t = this.committedTerm[i];
      if (t === undefined || this.committedAtTerm[i] >= o.term) continue;
      const have = i <= last ? o.log.term(i) : undefined;
      if (have !== t) {
        throw new InvariantViolation(
          'leader-completeness',
          `leader ${o.id} of term ${o.term} lacks committed entry ${i} (term ${t}, committed by term ` +
            `${this.committedAtTerm[i]}); its log has ${have === undefined ? 'nothing' : `term ${have}`} there`,
        );
      }
    }
  }

  private observeCommit(o: ReplicaObservation): void {
    const seen = this.commitSeen.get(o.id) ?? 0;
    if (o.commit <= seen) return;
    const first = o.log.firstIndex();
    const upTo = Math.min(o.commit, o.log.lastIndex());
    for (let i = Math.max(seen + 1, first); i <= upTo; i++) {
      const t = o.log.term(i);
      const known = this.committedTerm[i];
      if (known === undefined) {
        this.committedTerm[i] = t;
        this.committedAtTerm[i] = o.term;
        this.stats.committed++;
      } else if (known !== t) {
        throw new InvariantViolation(
          'state-machine-safety',
          `index ${i} committed with term ${known} elsewhere but replica ${o.id} committed term ${t}`,
        );
      } else if (o.term < this.committedAtTerm[i]) {
        this.committedAtTerm[i] = o.term;
      }
    }
    this.commitSeen.set(o.id, upTo);
  }

  /**
   * Entries a replica just wrote to its log (a Ready's `entries`), with the term of the entry
   * just before the first one in that replica's log.
   */
  observeAppend(replica: number, entries: readonly Entry[], prevTerm: number): void {
    let prev = prevTerm;
    for (const e of entries) {
      this.recordFact(replica, e.index, e.term, entryDigest(e), prev);
      prev = e.term;
    }
    this.stats.appendedEntries += entries.length;
  }

  private recordFact(replica: number, index: number, term: number, digest: number | undefined, prevTerm: number): void {
    const k = `${index}:${term}`;
    const f = this.entryFacts.get(k);
    if (f === undefined) {
      if (digest !== undefined) this.entryFacts.set(k, { digest, prevTerm, seenOn: replica });
      return;
    }
    if (digest !== undefined && f.digest !== digest) {
      throw new InvariantViolation(
        'log-matching',
        `entry ${index} of term ${term} differs between replicas ${f.seenOn} and ${replica}`,
      );
    }
    if (f.prevTerm !== prevTerm) {
      throw new InvariantViolation(
        'log-matching',
        `entry ${index} of term ${term} follows term ${f.prevTerm} on replica ${f.seenOn} but term ${prevTerm} ` +
          `on replica ${replica}: same entry, different prefixes`,
      );
    }
  }

  /** A full pass over a replica's log (cheap per entry; call every few hundred steps and at the end). */
  observeWholeLog(replica: number, log: LogView): void {
    const first = log.firstIndex();
    const last = log.lastIndex();
    let prev = log.term(first - 1);
    for (let i = first; i <= last; i++) {
      const t = log.term(i);
      this.recordFact(replica, i, t, undefined, prev);
      prev = t;
    }
  }

  /** An entry the replica's state machine applied. */
  observeApply(replica: number, e: Entry): void {
    this.stats.applied++;
    const last = this.lastApplied.get(replica);
    if (last !== undefined && e.index !== last + 1) {
      throw new InvariantViolation('apply-order', `replica ${replica} applied index ${e.index} right after ${last}`);
    }
    this.lastApplied.set(replica, e.index);
    const digest = entryDigest(e);
    const prior = this.applied[e.index];
    if (prior === undefined) {
      this.applied[e.index] = { term: e.term, digest, by: replica };
    } else if (prior.term !== e.term || prior.digest !== digest) {
      throw new InvariantViolation(
        'state-machine-safety',
        `replica ${replica} applied entry ${e.index} of term ${e.term} but replica ${prior.by} applied term ` +
          `${prior.term} there${prior.term === e.term ? ' with different data' : ''}`,
      );
    }
    const ct = this.committedTerm[e.index];
    if (ct !== undefined && ct !== e.term) {
      throw new InvariantViolation(
        'state-machine-safety',
        `replica ${replica} applied entry ${e.index} of term ${e.term}, but term ${ct} was committed there`,
      );
    }
  }

  /**
   * A replica restarted: its state machine starts over (or from a snapshot at `appliedIndex`),
   * so the apply-order check restarts too. Global facts are kept: they are about the cluster.
   */
  replicaRestarted(replica: number, appliedIndex: number): void {
    this.lastApplied.set(replica, appliedIndex);
    this.commitSeen.delete(replica);
  }

  /** Leaders seen so far, by term (for reports and tests). */
  leaders(): ReadonlyMap<number, number> {
    return this.leaderOfTerm;
  }
}
