import type { NodeInfo, NodeLiveness, ShardRecord } from './types';

/**
 * Entries of the meta Raft log. Encoded as one version byte followed by JSON: this log is the
 * control plane (a few entries per second at most: TSO window extensions, node registrations,
 * liveness changes, heartbeat flushes), never on a query's path, and JSON keeps the log readable
 * with standard tools when debugging a cluster. Bigints travel as decimal strings because JSON
 * has no 64-bit integers.
 */
export type MetaCommand =
  /** A leader's first entry in its term: once applied, every earlier entry is applied too. */
  | { readonly t: 'barrier'; readonly leader: number; readonly term: number }
  /** Raise the TSO high-water mark: no timestamp above it may be handed out before the next one. */
  | { readonly t: 'tso'; readonly highUs: bigint }
  /** Register a node or change its addresses/labels; it is live, heard at `atMs`. */
  | { readonly t: 'node'; readonly info: NodeInfo; readonly atMs: number }
  /** Last heartbeat times of known nodes, flushed by the leader now and then (not per heartbeat). */
  | { readonly t: 'beats'; readonly beats: readonly (readonly [number, number])[] }
  /** A liveness change decided by the leader's checker, or a heartbeat from a suspect/dead node. */
  | { readonly t: 'liveness'; readonly nodeId: number; readonly state: NodeLiveness; readonly atMs: number }
  /** Create the shard map: `count` uniform ranges of the 16-bit hash space, no replicas yet. */
  | { readonly t: 'init-shards'; readonly count: number }
  /**
   * Set a shard's replicas (placement); bumps its version. With `ifVersion`, only if the shard is
   * still at that version (a repair planned by a leader that was since replaced is dropped).
   */
  | { readonly t: 'replicas'; readonly shardId: number; readonly replicas: readonly number[]; readonly ifVersion?: number }
  /** Leaseholder hints reported by nodes (no version bump: a hint, not placement). */
  | { readonly t: 'leaseholders'; readonly hints: readonly (readonly [number, number])[] };

export const META_COMMAND_VERSION = 1;

export class MetaCommandDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetaCommandDecodeError';
  }
}

export function encodeCommand(cmd: MetaCommand): Uint8Array {
  const json = JSON.stringify(cmd, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  const body = Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(1 + body.length);
  out[0] = META_COMMAND_VERSION;
  body.copy(out, 1);
  return out;
}

type Json = Record<string, unknown>;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function pairs(v: unknown, what: string): [number, number][] {
  if (!Array.isArray(v) || !v.every((p) => Array.isArray(p) && p.length === 2 && isInt(p[0]) && isInt(p[1]))) {
    throw new MetaCommandDecodeError(`${what}: expected a list of integer pairs`);
  }
  return v as [number, number][];
}

function nodeInfo(v: unknown): NodeInfo {
  const o = v as Json;
  if (typeof v !== 'object' || v === null || !isInt(o.nodeId) || !isStr(o.address) || !isInt(o.kvPort) || !isInt(o.raftPort) || !isStr(o.region) || !isStr(o.zone)) {
    throw new MetaCommandDecodeError('node: malformed node info');
  }
  return { nodeId: o.nodeId, address: o.address, kvPort: o.kvPort, raftPort: o.raftPort, region: o.region, zone: o.zone };
}

/** Decodes and validates an entry; a malformed entry is an error, never a guess. */
export function decodeCommand(data: Uint8Array): MetaCommand {
  if (data.length < 2) throw new MetaCommandDecodeError(`meta command of ${data.length} bytes`);
  if (data[0] !== META_COMMAND_VERSION) throw new MetaCommandDecodeError(`meta command version ${data[0]} (this build reads ${META_COMMAND_VERSION})`);
  let o: Json;
  try {
    o = JSON.parse(Buffer.from(data.buffer, data.byteOffset + 1, data.length - 1).toString('utf8')) as Json;
  } catch (e) {
    throw new MetaCommandDecodeError(`meta command is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  switch (o.t) {
    case 'barrier':
      if (!isInt(o.leader) || !isInt(o.term)) break;
      return { t: 'barrier', leader: o.leader, term: o.term };
    case 'tso':
      if (!isStr(o.highUs) || !/^\d+$/.test(o.highUs)) break;
      return { t: 'tso', highUs: BigInt(o.highUs) };
    case 'node':
      if (!isInt(o.atMs)) break;
      return { t: 'node', info: nodeInfo(o.info), atMs: o.atMs };
    case 'beats':
      return { t: 'beats', beats: pairs(o.beats, 'beats') };
    case 'liveness':
      if (!isInt(o.nodeId) || !isInt(o.atMs) || (o.state !== 'live' && o.state !== 'suspect' && o.state !== 'dead')) break;
      return { t: 'liveness', nodeId: o.nodeId, state: o.state, atMs: o.atMs };
    case 'init-shards':
      if (!isInt(o.count) || o.count < 1 || o.count > 65536) break;
      return { t: 'init-shards', count: o.count };
    case 'replicas':
      if (!isInt(o.shardId) || !Array.isArray(o.replicas) || !o.replicas.every(isInt) || (o.ifVersion !== undefined && !isInt(o.ifVersion))) break;
      return o.ifVersion === undefined ? { t: 'replicas', shardId: o.shardId, replicas: o.replicas } : { t: 'replicas', shardId: o.shardId, replicas: o.replicas, ifVersion: o.ifVersion };
    case 'leaseholders':
      return { t: 'leaseholders', hints: pairs(o.hints, 'leaseholders') };
    default:
      throw new MetaCommandDecodeError(`unknown meta command ${JSON.stringify(o.t)}`);
  }
  throw new MetaCommandDecodeError(`malformed meta command ${JSON.stringify(o.t)}`);
}

/** Hash space of the shard map (16-bit key hashes, decision 0023). */
export const HASH_SPACE = 65536;

/** The uniform ranges @weft/kvclient's ShardMap.uniform uses, so both agree on shard ids. */
export function uniformRanges(count: number): ShardRecord[] {
  const out: ShardRecord[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ shardId: i + 1, hashLo: Math.floor((i * HASH_SPACE) / count), hashHi: Math.floor(((i + 1) * HASH_SPACE) / count), replicas: [], leaseholder: 0, version: 1, bootstrapVoters: [] });
  }
  return out;
}
