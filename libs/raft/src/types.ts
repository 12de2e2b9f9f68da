/**
 * The data types shared by the Raft core, its storage (WAL), its transport codec and the
 * simulator. Modelled on etcd's raftpb: plain data, no behaviour, so every layer can encode
 * them without knowing about the others. Ids and indexes are JS numbers (safe to 2^53).
 */

/** A replica's id within its Raft group (non-zero; 0 means "none"). */
export type ReplicaId = number;
export const NONE: ReplicaId = 0;

export enum EntryType {
  /** Application data (for Weft: an encoded log entry for the shard's materializer). */
  Normal = 0,
  /** A membership change; `data` is an encoded ConfChange. */
  ConfChange = 1,
}

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** Must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: ReplicaId;
  readonly commit: number;
}

/** Group membership. `votersOutgoing` is non-empty only inside a joint configuration. */
export interface ConfState {
  readonly voters: readonly ReplicaId[];
  readonly learners: readonly ReplicaId[];
  readonly votersOutgoing: readonly ReplicaId[];
  readonly learnersNext: readonly ReplicaId[];
  readonly autoLeave: boolean;
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** Opaque application state (for Weft: a reference to, or chunk of, a checkpoint). */
  readonly data: Uint8Array;
}

export enum MessageType {
  Hup = 0, // local: start an election
  Beat = 1, // local: leader sends heartbeats
  Prop = 2, // proposal (local, or forwarded by a follower)
  App = 3,
  AppResp = 4,
  Vote = 5,
  VoteResp = 6,
  Snap = 7,
  Heartbeat = 8,
  HeartbeatResp = 9,
  Unreachable = 10, // local: transport reports a peer unreachable
  SnapStatus = 11, // local: snapshot send finished or failed
  CheckQuorum = 12, // local
  TransferLeader = 13,
  TimeoutNow = 14,
  ReadIndex = 15,
  ReadIndexResp = 16,
  PreVote = 17,
  PreVoteResp = 18,
  /**
   * Host-level, never stepped into the core: one chunk of a streamed snapshot (the multi-Raft
   * host turns a core `Snap` into a stream of these). `snapshot` carries the metadata and this
   * chunk's bytes as `data`; `index` is the chunk's sequence number from 0; `commit` is 1 on
   * the last chunk; `rejectHint` identifies the stream.
   */
  SnapChunk = 19,
  /** Host-level: acknowledges chunk `index` of stream `rejectHint`; `reject` aborts the stream. */
  SnapChunkAck = 20,
}

export interface Message {
  readonly type: MessageType;
  readonly to: ReplicaId;
  readonly from: ReplicaId;
  readonly term: number;
  /** Term of the entry at `index` (App), or of the candidate's last entry (Vote/PreVote). */
  readonly logTerm: number;
  /**
   * App: index of the entry preceding `entries`. AppResp: the follower's last matching index.
   * Heartbeat/HeartbeatResp: the leader's tick counter when it sent the heartbeat, echoed back
   * by the follower, so the leader can date its lease from the send time (lease reads).
   */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot?: Snapshot;
  readonly reject: boolean;
  /** On a rejected App: the follower's hint for where the logs may match (fast back-off). */
  readonly rejectHint: number;
  /** Opaque request context (ReadIndex request ids, campaign-transfer markers). */
  readonly context?: Uint8Array;
}

export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  AddLearnerNode = 2,
}

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly replicaId: ReplicaId;
}

/** One or more changes; more than one (or `joint: true`) enters joint consensus. */
export interface ConfChange {
  readonly changes: readonly ConfChangeSingle[];
  readonly joint: boolean;
  /**
   * Only for joint changes: leave the joint configuration automatically once it is applied.
   * Defaults to `!joint` (several changes without an explicit `joint` auto-leave); with
   * `joint: true` and no autoLeave the application proposes an empty ConfChange to leave.
   */
  readonly autoLeave?: boolean;
}

/** A linearizable read point: once `index` is applied locally, the read tagged `ctx` may run. */
export interface ReadState {
  readonly index: number;
  readonly ctx: Uint8Array;
}
