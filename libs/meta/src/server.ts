import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { KvError } from '@weft/kv';
import { FrameDecodeError, FrameReader } from '@weft/transport';
import { decodeFrame, encodeFrame, MetaKind, MetaRpcDecodeError, parseRequest, type MetaRequest, type MetaWireError } from './codec';
import { MetaNotLeaderError } from './errors';
import type { MetaReplica } from './replica';

export interface MetaServerLogger {
  warn(obj: object, msg: string): void;
}

export interface MetaServerOptions {
  readonly host: string;
  readonly port: number;
  readonly replica: Pick<MetaReplica, 'tsoRange' | 'heartbeat' | 'nodes' | 'shardMap' | 'status' | 'repairPlan'>;
  readonly logger?: MetaServerLogger;
  /** Largest request frame accepted (default 1 MiB: requests are tiny). */
  readonly maxFrameBytes?: number;
}

/** What a replica threw, as the error frame a client acts on. */
export function toMetaWireError(err: unknown): MetaWireError {
  if (err instanceof MetaNotLeaderError) return { code: 'not-leader', message: err.message, leaderHint: err.leaderHint };
  if (err instanceof KvError) {
    const code = err.code === 'unavailable' || err.code === 'bad-request' || err.code === 'not-leader' ? err.code : err.code === 'stopped' ? 'unavailable' : 'internal';
    return { code, message: err.message, leaderHint: 0 };
  }
  return { code: 'internal', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err), leaderHint: 0 };
}

/**
 * Serves the meta RPC on one TCP port. Every request is answered by id, in completion order
 * (a slow tso does not hold up a status); a frame that cannot be read closes the connection.
 */
export class MetaServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  readonly stats = { requests: 0, badFrames: 0 };

  constructor(private readonly opts: MetaServerOptions) {
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
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const reader = new FrameReader(this.opts.maxFrameBytes ?? 1 << 20);
    let dead = false;
    const send = (b: Buffer): void => {
      if (!dead && !socket.destroyed) socket.write(b);
    };
    socket.on('data', (chunk: Buffer) => {
      if (dead) return;
      let payloads: Buffer[];
      try {
        payloads = reader.push(chunk);
      } catch (e) {
        this.stats.badFrames++;
        this.opts.logger?.warn({ remote: socket.remoteAddress, reason: e instanceof FrameDecodeError ? e.message : String(e) }, 'meta rpc: closing connection after a malformed frame');
        dead = true;
        socket.destroy();
        return;
      }
      for (const p of payloads) {
        let req: MetaRequest;
        let id: number;
        try {
          const f = decodeFrame(p);
          id = f.id;
          req = parseRequest(f);
        } catch (e) {
          this.stats.badFrames++;
          if (e instanceof MetaRpcDecodeError && e.requestId !== undefined) {
            send(encodeFrame(MetaKind.Error, e.requestId, { code: 'bad-request', message: e.message, leaderHint: 0 }));
            continue;
          }
          dead = true;
          socket.destroy();
          return;
        }
        this.stats.requests++;
        this.handle(req).then(
          (body) => send(encodeFrame(MetaKind.Ok, id, body)),
          (err: unknown) => send(encodeFrame(MetaKind.Error, id, toMetaWireError(err))),
        );
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      dead = true;
      this.sockets.delete(socket);
    });
  }

  private async handle(req: MetaRequest): Promise<unknown> {
    const r = this.opts.replica;
    switch (req.kind) {
      case MetaKind.Tso:
        return r.tsoRange(req.count);
      case MetaKind.Heartbeat:
        return r.heartbeat(req.info);
      case MetaKind.Nodes:
        return r.nodes();
      case MetaKind.ShardMap:
        return r.shardMap();
      case MetaKind.Status:
        return r.status();
      case MetaKind.RepairPlan:
        return r.repairPlan();
    }
  }
}
