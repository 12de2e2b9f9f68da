import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { UncertainReadError, WriteIntentError, type ReadRequestOptions, type ShardKv } from '@weft/kv';
import { decodeEntry, EntryDecodeError, type Timestamp } from '@weft/logentry';
import { FrameDecodeError, FrameReader } from '@weft/transport';
import {
  decodeRequest,
  encodeResponse,
  Kind,
  KvRpcDecodeError,
  type ReplicaStatus,
  type Request,
  type Response,
  type WireError,
  type WireErrorCode,
} from './codec';

/** A shard replica as the server sees it: ShardKv plus a status report. */
export interface ServedShard extends ShardKv {
  replicaStatus(): Omit<ReplicaStatus, 'nodeId'>;
}

export interface KvServerLogger {
  warn(obj: object, msg: string): void;
}

export interface KvServerOptions {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  /** The replica this node hosts for a shard, if any. */
  readonly shard: (shardId: number) => ServedShard | undefined;
  readonly logger?: KvServerLogger;
  /** Largest request frame accepted (default 64 MiB). */
  readonly maxFrameBytes?: number;
  /**
   * Runs each proposal's handling (default: directly), given the caller's W3C trace context if
   * it sent one: the node continues the caller's trace there (a server span, the context active
   * while the replica proposes).
   */
  readonly traceProposal?: <T>(shardId: number, traceparent: string | undefined, run: () => Promise<T>) => Promise<T>;
  /** The same for reads (Get, Scan, GetNow, LockRead), called only for requests that carry a trace context. */
  readonly traceRead?: <T>(kind: TracedRead, shardId: number, traceparent: string, run: () => Promise<T>) => Promise<T>;
}

/** The read requests that carry a trace context, as span names give them. */
export type TracedRead = 'get' | 'scan' | 'get_now' | 'lock_read';
const TRACED_READS: Partial<Record<Kind, TracedRead>> = { [Kind.Get]: 'get', [Kind.Scan]: 'scan', [Kind.GetNow]: 'get_now', [Kind.LockRead]: 'lock_read' };

const REPLICA_CODES: ReadonlySet<string> = new Set(['not-leader', 'ambiguous', 'read-ts-too-far', 'stopped', 'unavailable']);

/** Turns whatever a replica threw into the error frame a client can act on. */
export function toWireError(err: unknown): WireError {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; sqlstate?: unknown; leaderHint?: unknown };
    if (typeof e.code === 'string' && REPLICA_CODES.has(e.code)) {
      return {
        code: e.code as WireErrorCode,
        sqlstate: typeof e.sqlstate === 'string' ? e.sqlstate : 'XX000',
        message: e.message,
        leaderHint: typeof e.leaderHint === 'number' ? e.leaderHint : 0,
      };
    }
    const sqlstate = typeof e.sqlstate === 'string' ? e.sqlstate : 'XX000';
    return { code: 'internal', sqlstate, message: `${e.name}: ${e.message}`, leaderHint: 0 };
  }
  return { code: 'internal', sqlstate: 'XX000', message: String(err), leaderHint: 0 };
}

/** The answer to a request that failed: the read conflicts the client handles itself, else an error frame. */
function failureResponse(id: number, err: unknown): Response {
  if (err instanceof WriteIntentError) return { kind: Kind.IntentConflict, id, intents: err.intents };
  if (err instanceof UncertainReadError) return { kind: Kind.Uncertain, id, readTs: err.readTs, valueTs: err.valueTs };
  return { kind: Kind.Error, id, error: toWireError(err) };
}

function errorResponse(id: number, code: WireErrorCode, sqlstate: string, message: string): Response {
  return { kind: Kind.Error, id, error: { code, sqlstate, message, leaderHint: 0 } };
}

/**
 * Serves the KV RPC on one TCP port. Every request is answered (result or error frame, by
 * request id, in completion order); a frame whose header cannot be read gets an error frame
 * with id 0 and the connection is closed. Nothing a client sends can crash the process.
 */
/** An empty txn id on the wire means a read of committed data only. */
const readOptions = (txnId: Buffer, uncertaintyLimit?: Timestamp, onObserved?: (ts: Timestamp) => void): ReadRequestOptions => ({
  ...(txnId.length === 0 ? {} : { txnId }),
  ...(uncertaintyLimit === undefined ? {} : { uncertaintyLimit, ...(onObserved === undefined ? {} : { onObserved }) }),
});

export class KvServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  readonly stats = { requests: 0, badFrames: 0, connections: 0 };

  constructor(private readonly opts: KvServerOptions) {
    this.server = createServer((s) => this.accept(s));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.stats.connections++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const reader = new FrameReader(this.opts.maxFrameBytes);
    let out: Buffer[] = [];
    let dead = false;
    const flush = (): void => {
      const bufs = out;
      out = [];
      if (dead || bufs.length === 0) return;
      socket.write(bufs.length === 1 ? bufs[0] : Buffer.concat(bufs));
    };
    const reply = (r: Response): void => {
      if (dead) return;
      out.push(encodeResponse(r));
      // Coalesce every answer completed in this turn into one write.
      if (out.length === 1) setImmediate(flush);
    };
    const fatal = (reason: string): void => {
      this.stats.badFrames++;
      this.opts.logger?.warn({ remote: socket.remoteAddress, reason }, 'kv rpc: closing connection after a malformed frame');
      reply(errorResponse(0, 'bad-request', '08P01', reason));
      flush();
      dead = true;
      socket.end();
    };
    socket.on('data', (chunk: Buffer) => {
      if (dead) return;
      let payloads: Buffer[];
      try {
        payloads = reader.push(chunk);
      } catch (e) {
        fatal(e instanceof FrameDecodeError ? e.message : String(e));
        return;
      }
      for (const p of payloads) {
        let req: Request;
        try {
          req = decodeRequest(p);
        } catch (e) {
          if (e instanceof KvRpcDecodeError && e.requestId !== undefined) {
            this.stats.badFrames++;
            reply(errorResponse(e.requestId, 'bad-request', '08P01', e.message));
            continue;
          }
          fatal(e instanceof Error ? e.message : String(e));
          return;
        }
        this.stats.requests++;
        this.handle(req).then(reply, (err: unknown) => reply(failureResponse(req.id, err)));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      dead = true;
      this.sockets.delete(socket);
    });
  }

  private handle(req: Request): Promise<Response> {
    const traced = TRACED_READS[req.kind];
    const traceRead = this.opts.traceRead;
    if (traced !== undefined && traceRead !== undefined && 'traceparent' in req && req.traceparent) return traceRead(traced, req.shardId, req.traceparent, () => this.serve(req));
    return this.serve(req);
  }

  private async serve(req: Request): Promise<Response> {
    const shard = this.opts.shard(req.shardId);
    if (!shard) return errorResponse(req.id, 'unknown-shard', 'XX000', `node ${this.opts.nodeId} hosts no replica of shard ${req.shardId}`);
    switch (req.kind) {
      case Kind.Now:
        return { kind: Kind.NowOk, id: req.id, ts: await shard.now() };
      case Kind.Get: {
        let observedTs: Timestamp | undefined;
        const row = await shard.get(req.key, req.ts, readOptions(req.txnId, req.uncertaintyLimit, (t) => (observedTs = t)));
        return observedTs === undefined ? { kind: Kind.GetOk, id: req.id, row } : { kind: Kind.GetOk, id: req.id, row, observedTs };
      }
      case Kind.Scan: {
        let observedTs: Timestamp | undefined;
        const options = { limit: req.limit === 0 ? undefined : req.limit, reverse: req.reverse, ...readOptions(req.txnId, req.uncertaintyLimit, (t) => (observedTs = t)) };
        const page = await shard.scan(req.start, req.end, req.ts, req.filter ? { ...options, filter: req.filter } : options);
        return observedTs === undefined ? { kind: Kind.ScanOk, id: req.id, page } : { kind: Kind.ScanOk, id: req.id, page, observedTs };
      }
      case Kind.Propose: {
        let entry;
        try {
          entry = decodeEntry(req.entry);
        } catch (e) {
          if (e instanceof EntryDecodeError) return errorResponse(req.id, 'bad-request', '08P01', `log entry rejected: ${e.message}`);
          throw e;
        }
        const trace = this.opts.traceProposal;
        const outcome = trace ? await trace(req.shardId, req.traceparent, () => shard.propose(entry)) : await shard.propose(entry);
        return { kind: Kind.ProposeOk, id: req.id, outcome };
      }
      case Kind.Status:
        return { kind: Kind.StatusOk, id: req.id, status: { ...shard.replicaStatus(), nodeId: this.opts.nodeId } };
      case Kind.TxnStatus:
        return { kind: Kind.TxnStatusOk, id: req.id, status: await shard.txnStatus(req.txnId) };
      case Kind.LockRead: {
        if (!shard.lockRead) return errorResponse(req.id, 'bad-request', '0A000', `shard ${req.shardId} keeps no row locks`);
        return { kind: Kind.LockReadOk, id: req.id, result: await shard.lockRead(req.key, req.txnId, req.waitMs, req.minTs, readOptions(req.readerTxn), req.also) };
      }
      case Kind.TransferLease:
        if (!shard.transferLease) return errorResponse(req.id, 'bad-request', '0A000', `shard ${req.shardId} cannot move its lease`);
        await shard.transferLease(req.target);
        return { kind: Kind.TransferLeaseOk, id: req.id };
      case Kind.GetNow: {
        const opts = readOptions(req.txnId);
        if (shard.getNow) {
          const r = await shard.getNow(req.keys, req.minTs, opts);
          return { kind: Kind.GetNowOk, id: req.id, ts: r.ts, rows: r.rows };
        }
        const now = await shard.now();
        const ts = now > req.minTs ? now : req.minTs;
        return { kind: Kind.GetNowOk, id: req.id, ts, rows: await Promise.all(req.keys.map((key) => shard.get(key, ts, opts))) };
      }
      case Kind.LockWaits:
        return { kind: Kind.LockWaitsOk, id: req.id, edges: shard.lockWaits ? await shard.lockWaits() : [] };
      case Kind.ReleaseLocks:
        await shard.releaseLocks?.(req.txnId);
        return { kind: Kind.ReleaseLocksOk, id: req.id };
      case Kind.Refresh: {
        if (!shard.refresh) return errorResponse(req.id, 'bad-request', '0A000', `shard ${req.shardId} cannot refresh reads`);
        return { kind: Kind.RefreshOk, id: req.id, result: await shard.refresh(req.txnId, req.reads, req.fromTs, req.toTs) };
      }
    }
  }
}
