import { EntryType, type Entry } from '@weft/raft';
import type { MultiRaftHost } from '@weft/multiraft';
import type { CommittedEntry, ReplicaRaft } from './ports';

/** A replica's Raft group hosted by the node's MultiRaftHost. */
export class HostGroupRaft implements ReplicaRaft {
  constructor(
    private readonly host: MultiRaftHost,
    readonly groupId: number,
  ) {}

  propose(data: Uint8Array): Promise<number> {
    return this.host.propose(this.groupId, data);
  }

  status(): { id: number; leader: number; term: number } {
    // Before addGroup (a restarting node sits out an election timeout first) nothing is known.
    if (!this.host.groupIds().includes(this.groupId)) return { id: -1, leader: 0, term: 0 };
    const s = this.host.status(this.groupId);
    return { id: s.id, leader: s.lead, term: s.term };
  }

  leaseValid(): boolean {
    if (!this.host.groupIds().includes(this.groupId)) return false;
    return this.host.leaseValid(this.groupId);
  }

  readIndex(): Promise<number> {
    if (!this.host.groupIds().includes(this.groupId)) return Promise.reject(new Error(`raft group ${this.groupId} is not started yet`));
    return this.host.readIndex(this.groupId);
  }

  transferLeader(to: number): void {
    this.host.transferLeader(this.groupId, to);
  }
}

/** The host's committed entries in the shape the replica applies. */
export function toCommitted(entries: readonly Entry[]): CommittedEntry[] {
  return entries.map((e) => ({ index: e.index, term: e.term, data: e.data, conf: e.type === EntryType.ConfChange }));
}
