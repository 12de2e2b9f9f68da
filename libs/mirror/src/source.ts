// What the mirror needs from the node that hosts the shards: who leads, how far each shard
// applied, its Raft log and the journaled outcomes. An interface so the mirror can be tested
// and reasoned about without a whole NodeHost; nodeHostSource() adapts the real one.

import type { OutcomeSummary } from '@weft/materialize';
import type { NodeHost } from '@weft/nodehost';
import { EntryType, type Entry } from '@weft/raft';

export interface ShardLogSource {
  /** The Raft term in which this node leads the shard, or undefined if it does not lead it. */
  leaderTerm(shardId: number): number | undefined;
  appliedIndex(shardId: number): number;
  /** First index still in the Raft log (everything below was compacted). */
  firstIndex(shardId: number): number;
  /** Entries [lo, hi), at most about maxBytes but at least one. */
  entries(shardId: number, lo: number, hi: number, maxBytes: number): readonly Entry[];
  /** The journaled outcome of an applied entry (undefined: none kept). */
  outcomeAt(shardId: number, index: number): OutcomeSummary | undefined;
}

/** A Raft entry with nothing for the materializer (no-op after an election, membership change). */
export function isEmptyEntry(e: Entry): boolean {
  return e.type === EntryType.ConfChange || e.data.length === 0;
}

export function nodeHostSource(node: NodeHost): ShardLogSource {
  return {
    leaderTerm: (id) => {
      const st = node.replica(id)?.replicaStatus();
      return st !== undefined && st.leader === node.nodeId ? st.term : undefined;
    },
    appliedIndex: (id) => node.materializer(id)?.appliedIndex ?? 0,
    firstIndex: (id) => node.logStatus(id).firstIndex,
    entries: (id, lo, hi, maxBytes) => node.logEntries(id, lo, hi, maxBytes),
    outcomeAt: (id, index) => node.materializer(id)?.outcomeAt(index),
  };
}
