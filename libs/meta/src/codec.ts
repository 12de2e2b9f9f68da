// The meta RPC wire format (control plane: gateways and nodes to meta). Frames are
// [u32 LE payload length][payload], the framing of @weft/transport (FrameReader is shared).
// Payload: [u8 version][u8 kind][u32 LE request id][JSON body, UTF-8]. JSON because these are a
// handful of small control-plane calls per node per second (timestamps are asked for in
// batches), never a per-row data path; bigints travel as decimal strings.
import type { RepairStep } from './placement';
import type { MetaStatus, NodeInfo, NodeLiveness, NodeRecord, ShardRecord, TsoRange } from './types';

export const META_RPC_VERSION = 1;
const HEADER_BYTES = 6;

export enum MetaKind {
  Tso = 1,
  Heartbeat = 2,
  Nodes = 3,
  ShardMap = 4,
  Status = 5,
  RepairPlan = 6,
  Ok = 0x80,
  Error = 0xff,
}

/** Error codes on the wire: the KvError codes a meta call can end with. */
export type MetaErrorCode = 'not-leader' | 'unavailable' | 'bad-request' | 'internal';

export interface MetaWireError {
  readonly code: MetaErrorCode;
  readonly message: string;
  /** Meta id of the leader, for not-leader (0: unknown). */
  readonly leaderHint: number;
}

export type MetaRequest =
  | { readonly kind: MetaKind.Tso; readonly count: number }
  | { readonly kind: MetaKind.Heartbeat; readonly info: NodeInfo }
  | { readonly kind: MetaKind.Nodes }
  | { readonly kind: MetaKind.ShardMap }
  | { readonly kind: MetaKind.Status }
  | { readonly kind: MetaKind.RepairPlan };

/** The answer of each request kind. */
export interface MetaResults {
  [MetaKind.Tso]: TsoRange;
  [MetaKind.Heartbeat]: { readonly state: NodeLiveness };
  [MetaKind.Nodes]: readonly NodeRecord[];
  [MetaKind.ShardMap]: readonly ShardRecord[];
  [MetaKind.Status]: MetaStatus;
  [MetaKind.RepairPlan]: readonly RepairStep[];
}

export class MetaRpcDecodeError extends Error {
  constructor(
    message: string,
    readonly requestId: number | undefined,
  ) {
    super(message);
    this.name = 'MetaRpcDecodeError';
  }
}

const toJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

/** A complete frame (length prefix included). */
export function encodeFrame(kind: MetaKind, id: number, body: unknown): Buffer {
  const json = Buffer.from(toJson(body ?? null), 'utf8');
  const buf = Buffer.allocUnsafe(4 + HEADER_BYTES + json.length);
  buf.writeUInt32LE(HEADER_BYTES + json.length, 0);
  buf[4] = META_RPC_VERSION;
  buf[5] = kind;
  buf.writeUInt32LE(id >>> 0, 6);
  json.copy(buf, 4 + HEADER_BYTES);
  return buf;
}

export interface RawFrame {
  /** As sent: possibly a kind this build does not know (parseRequest refuses those). */
  readonly kind: MetaKind;
  readonly id: number;
  readonly body: unknown;
}

/** Header and JSON body of a payload (as FrameReader returns it). */
export function decodeFrame(payload: Buffer): RawFrame {
  if (payload.length < HEADER_BYTES) throw new MetaRpcDecodeError(`meta rpc frame of ${payload.length} bytes`, undefined);
  const id = payload.readUInt32LE(2);
  if (payload[0] !== META_RPC_VERSION) throw new MetaRpcDecodeError(`meta rpc version ${payload[0]} (this build speaks ${META_RPC_VERSION})`, id);
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8', HEADER_BYTES));
  } catch {
    throw new MetaRpcDecodeError('meta rpc body is not JSON', id);
  }
  return { kind: payload[1], id, body };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null ? (v as Obj) : {});
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isPort = (v: unknown): v is number => isInt(v) && v >= 0 && v <= 65535;
const isStr = (v: unknown): v is string => typeof v === 'string';

/** Validates a request body; throws MetaRpcDecodeError (answered as bad-request). */
export function parseRequest(f: RawFrame): MetaRequest {
  const b = obj(f.body);
  switch (f.kind) {
    case MetaKind.Tso:
      if (!isInt(b.count) || b.count < 1 || b.count > 1_000_000) throw new MetaRpcDecodeError('tso: count must be an integer 1..1000000', f.id);
      return { kind: MetaKind.Tso, count: b.count };
    case MetaKind.Heartbeat: {
      const { nodeId, address, kvPort, raftPort, region, zone, leading } = b;
      if (!isInt(nodeId) || nodeId < 1 || nodeId > 65535 || !isStr(address) || address === '' || !isPort(kvPort) || !isPort(raftPort) || !isStr(region) || !isStr(zone)) {
        throw new MetaRpcDecodeError('heartbeat: expected { nodeId 1-65535, address, kvPort, raftPort, region, zone }', f.id);
      }
      if (leading !== undefined && !(Array.isArray(leading) && leading.every(isInt))) throw new MetaRpcDecodeError('heartbeat: leading must be a list of shard ids', f.id);
      return { kind: MetaKind.Heartbeat, info: { nodeId, address, kvPort, raftPort, region, zone, leading } };
    }
    case MetaKind.Nodes:
    case MetaKind.ShardMap:
    case MetaKind.Status:
    case MetaKind.RepairPlan:
      return { kind: f.kind };
    default:
      throw new MetaRpcDecodeError(`unknown meta rpc kind ${f.kind}`, f.id);
  }
}

/** Restores bigints of a result body (the only ones: tso.first and status.tsoHighUs). */
export function parseResult<K extends MetaRequest['kind']>(kind: K, body: unknown): MetaResults[K] {
  const b = obj(body);
  switch (kind) {
    case MetaKind.Tso:
      if (!isStr(b.first) || !/^\d+$/.test(b.first) || !isInt(b.count)) throw new MetaRpcDecodeError('tso answer malformed', undefined);
      return { first: BigInt(b.first), count: b.count } as MetaResults[K];
    case MetaKind.Status:
      if (!isStr(b.tsoHighUs) || !/^\d+$/.test(b.tsoHighUs)) throw new MetaRpcDecodeError('status answer malformed', undefined);
      return { ...(b as unknown as MetaStatus), tsoHighUs: BigInt(b.tsoHighUs) } as MetaResults[K];
    default:
      return body as MetaResults[K];
  }
}

export function parseError(body: unknown): MetaWireError {
  const b = obj(body);
  const code = b.code === 'not-leader' || b.code === 'unavailable' || b.code === 'bad-request' ? b.code : 'internal';
  return { code, message: isStr(b.message) ? b.message : 'meta rpc error', leaderHint: isInt(b.leaderHint) ? b.leaderHint : 0 };
}
