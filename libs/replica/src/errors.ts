// Errors a shard replica reports to the layers above. Each carries the shard id, and the ones a
// client can act on carry what to do next (a leader hint, an SQLSTATE), so the KV RPC can ship
// them across the wire unchanged and the gateway can map them to Postgres errors.

/** Base of every replica error: `code` is stable across the wire; `sqlstate` is what a client sees. */
export abstract class ReplicaError extends Error {
  abstract readonly code: ReplicaErrorCode;
  abstract readonly sqlstate: string;
  constructor(readonly shardId: number, message: string) {
    super(message);
  }
}

export type ReplicaErrorCode = 'not-leader' | 'ambiguous' | 'read-ts-too-far' | 'stopped' | 'unavailable';

/**
 * This replica cannot serve the request (not the leader, or a follower whose closed timestamp is
 * below the read). Nothing was done: safe to retry at `leaderHint` (0 = unknown).
 */
export class NotLeaderError extends ReplicaError {
  readonly code = 'not-leader' as const;
  readonly sqlstate = '40001';
  constructor(shardId: number, readonly leaderHint: number) {
    super(shardId, `shard ${shardId}: this replica is not the leader${leaderHint ? ` (leader is node ${leaderHint})` : ' (no leader known)'}`);
    this.name = 'NotLeaderError';
  }
}

/**
 * A proposal was handed to Raft but its fate is unknown (leadership changed before it applied):
 * it may commit later or never. The transaction is ambiguous; Postgres calls this 40003.
 */
export class AmbiguousResultError extends ReplicaError {
  readonly code = 'ambiguous' as const;
  readonly sqlstate = '40003';
  constructor(shardId: number, reason: string) {
    super(shardId, `shard ${shardId}: outcome of the proposal is unknown (${reason})`);
    this.name = 'AmbiguousResultError';
  }
}

/**
 * The read timestamp is further ahead of this replica's clock than the maximum clock offset the
 * cluster tolerates: serving it could miss a write this replica would later commit below it.
 */
export class ReadTsTooFarError extends ReplicaError {
  readonly code = 'read-ts-too-far' as const;
  readonly sqlstate = '40001';
  constructor(shardId: number, readonly readTs: bigint, readonly now: bigint, readonly maxOffset: bigint) {
    super(shardId, `shard ${shardId}: read timestamp ${readTs} is ${readTs - now} us ahead of the replica clock (max offset ${maxOffset} us)`);
    this.name = 'ReadTsTooFarError';
  }
}

/** The replica met an entry it cannot apply (corrupt, truncated) and applies nothing after it. */
export class ReplicaStoppedError extends ReplicaError {
  readonly code = 'stopped' as const;
  readonly sqlstate = 'XX001';
  constructor(shardId: number, readonly index: number, readonly reason: string) {
    super(shardId, `shard ${shardId}: replica stopped at log index ${index}: ${reason}`);
    this.name = 'ReplicaStoppedError';
  }
}

/** No answer in time (no leader elected, replica closing). Nothing is known to have happened. */
export class ReplicaUnavailableError extends ReplicaError {
  readonly code = 'unavailable' as const;
  readonly sqlstate = '57P03';
  constructor(shardId: number, reason: string) {
    super(shardId, `shard ${shardId}: unavailable (${reason})`);
    this.name = 'ReplicaUnavailableError';
  }
}
