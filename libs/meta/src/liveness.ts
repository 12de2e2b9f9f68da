import type { NodeLiveness, NodeRecord } from './types';

export interface LivenessRules {
  /** Silent this long: dead (WEFT_META_DEAD_AFTER_MS, default 10 s). */
  readonly deadAfterMs: number;
  /** Silent this long: suspect (default half of deadAfterMs). */
  readonly suspectAfterMs?: number;
}

export interface LivenessChange {
  readonly nodeId: number;
  readonly state: NodeLiveness;
}

/**
 * The liveness changes the leader should write at `nowMs`, given when it last heard from each
 * node. Only downgrades: a node comes back to live through its own heartbeat. `heardMs` must
 * already include the leader's grace (a new leader counts every node as heard when it took
 * over, since heartbeats sent to the old leader were not in the log).
 */
export function livenessChanges(nodes: readonly NodeRecord[], heardMs: (n: NodeRecord) => number, nowMs: number, rules: LivenessRules): LivenessChange[] {
  const suspectAfter = rules.suspectAfterMs ?? Math.floor(rules.deadAfterMs / 2);
  const out: LivenessChange[] = [];
  for (const n of nodes) {
    const silent = nowMs - heardMs(n);
    if (silent >= rules.deadAfterMs) {
      if (n.state !== 'dead') out.push({ nodeId: n.nodeId, state: 'dead' });
    } else if (silent >= suspectAfter && n.state === 'live') {
      out.push({ nodeId: n.nodeId, state: 'suspect' });
    }
  }
  return out;
}
