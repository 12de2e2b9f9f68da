/**
 * Readiness: whether a service should receive traffic now. Liveness (/health, /health/live) only
 * says the process turns its event loop; readiness says it does its job: a node's replicas all
 * apply and keep up, a gateway reaches a quorum of every shard, meta has a leader.
 */
export interface ReadinessReport {
  readonly ready: boolean;
  /** Why not ready (empty when ready): one line each, naming the shard/node concerned. */
  readonly reasons: readonly string[];
}

/** Provided by an app module (token READINESS_PROBE, exported) to feed /health/ready and /status. */
export interface ReadinessProbe {
  readiness(): ReadinessReport | Promise<ReadinessReport>;
  /** The service's own view for `weft status` (shards, leaders, lag...): plain JSON. */
  details?(): Record<string, unknown> | Promise<Record<string, unknown>>;
}

export const READINESS_PROBE = Symbol('READINESS_PROBE');
