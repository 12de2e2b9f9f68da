import { Column, Entity, PrimaryColumn } from 'typeorm';

// The control plane's catalog as TypeORM entities (the customer's choice for the catalog). Each
// meta replica keeps one SQLite database (sql.js) that mirrors its applied state; the Raft log
// stays the source of truth, the database is what a restart resumes from. Column types are
// explicit so nothing depends on emitted decorator metadata.

/** A storage node: its addresses, placement labels and liveness. */
@Entity({ name: 'node' })
export class Node {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  @Column({ type: 'varchar' })
  address!: string;

  @Column({ type: 'integer' })
  kvPort!: number;

  @Column({ type: 'integer' })
  raftPort!: number;

  @Column({ type: 'varchar' })
  region!: string;

  @Column({ type: 'varchar' })
  zone!: string;

  /** Milliseconds since the epoch, as of the last heartbeat flush through the log. */
  @Column({ type: 'integer' })
  lastHeartbeatMs!: number;

  @Column({ type: 'varchar' })
  state!: 'live' | 'suspect' | 'dead';
}

/** A hash range of the shard map and its replicas. */
@Entity({ name: 'shard' })
export class Shard {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  @Column({ type: 'integer' })
  hashLo!: number;

  @Column({ type: 'integer' })
  hashHi!: number;

  /** Node ids, ascending (a JSON array: three small integers, never queried by element). */
  @Column({ type: 'simple-json' })
  replicas!: number[];

  @Column({ type: 'integer' })
  leaseholder!: number;

  @Column({ type: 'integer' })
  version!: number;

  /** See ShardRecord.bootstrapVoters. */
  @Column({ type: 'simple-json', default: '[]' })
  bootstrapVoters!: number[];
}

/** The timestamp oracle's persisted high-water mark (one row, id 1). */
@Entity({ name: 'tso_state' })
export class TsoState {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  /** Microseconds since the epoch, as a decimal string (64-bit exact). */
  @Column({ type: 'varchar' })
  highUs!: string;
}

/** The Raft index the catalog reflects (one row, id 1), written in the same transaction as the rows. */
@Entity({ name: 'meta_state' })
export class MetaState {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  @Column({ type: 'integer' })
  appliedIndex!: number;
}

export const META_ENTITIES = [Node, Shard, TsoState, MetaState];
