/**
 * PgServer: the TCP listener. Owns the cancel registry (pid -> session) because a
 * CancelRequest arrives on its own short-lived connection and must find the target session.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { type Authenticator } from './auth';
import { type CancelRegistry, type CancelTarget, PgConnection } from './connection';
import { PgError, SqlState } from './errors';
import { DEFAULT_LIMITS } from './reader';
import type { PreparedStatement, SessionFactory } from './session';

export interface PgServerOptions<S extends PreparedStatement> {
  authenticator: Authenticator;
  sessionFactory: SessionFactory<S>;
  /** Extra/overriding ParameterStatus values reported to every session. */
  parameters?: Record<string, string>;
  /** Largest frontend message accepted (bytes, length word included). Default 64 MiB. */
  maxMessageLength?: number;
  /** Unauthenticated connections are dropped after this long. Default 60 s (Postgres's default). */
  authTimeoutMs?: number;
  /** Connections beyond this are refused with 53300. Default 1000. */
  maxConnections?: number;
  /** Unexpected (non-PgError) failures, for logging. The connection answers XX000 regardless. */
  onInternalError?: (err: unknown) => void;
}

/** What a client sees in ParameterStatus unless overridden; chosen for psql/pgbench/drivers. */
export const DEFAULT_PARAMETERS: Readonly<Record<string, string>> = {
  server_version: '15.0 (Weft)',
  server_encoding: 'UTF8',
  client_encoding: 'UTF8',
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'postgres',
  TimeZone: 'UTC',
  integer_datetimes: 'on',
  standard_conforming_strings: 'on',
  default_transaction_read_only: 'off',
  in_hot_standby: 'off',
  application_name: '',
  is_superuser: 'off',
  session_authorization: '',
};

class Registry implements CancelRegistry {
  private readonly byPid = new Map<number, CancelTarget>();

  register(t: CancelTarget): void {
    this.byPid.set(t.pid, t);
  }
  unregister(t: CancelTarget): void {
    if (this.byPid.get(t.pid) === t) this.byPid.delete(t.pid);
  }
  cancel(pid: number, secret: number): void {
    const t = this.byPid.get(pid);
    // A wrong secret is ignored silently, as in Postgres: no oracle for guessing keys.
    if (t && t.secret === secret) t.cancel();
  }
  has(pid: number): boolean {
    return this.byPid.has(pid);
  }
  /** Cancels a backend's running statement without its secret (an administrator's cancel). */
  cancelByPid(pid: number): boolean {
    const t = this.byPid.get(pid);
    t?.cancel();
    return t !== undefined;
  }
}

export class PgServer<S extends PreparedStatement = PreparedStatement> {
  private readonly server: Server;
  private readonly registry = new Registry();
  private readonly connections = new Set<PgConnection<S>>();
  private readonly sockets = new Set<Socket>();
  private nextPid = 1000 + (randomBytes(2).readUInt16BE(0) % 30000);

  constructor(private readonly opts: PgServerOptions<S>) {
    this.server = createServer((socket) => this.accept(socket));
    // A listener-level error (e.g. EMFILE on accept) must not take the process down.
    this.server.on('error', (e) => this.opts.onInternalError?.(e));
  }

  listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo | null {
    const a = this.server.address();
    return a && typeof a === 'object' ? a : null;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Serve one already-accepted socket (also usable with sockets from another listener). */
  accept(socket: Socket): void {
    socket.on('error', () => undefined);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.sockets.size > (this.opts.maxConnections ?? 1000)) {
      // Answer in the startup phase format clients understand: a FATAL ErrorResponse.
      const c = this.newConnection(socket);
      c.terminate(new PgError(SqlState.TOO_MANY_CONNECTIONS, 'sorry, too many clients already', {}, 'FATAL'));
      return;
    }
    const conn = this.newConnection(socket);
    this.connections.add(conn);
    conn
      .run()
      .catch((e: unknown) => this.opts.onInternalError?.(e))
      .finally(() => this.connections.delete(conn));
  }

  private newConnection(socket: Socket): PgConnection<S> {
    return new PgConnection<S>(socket, {
      authenticator: this.opts.authenticator,
      sessionFactory: this.opts.sessionFactory,
      parameters: { ...DEFAULT_PARAMETERS, ...this.opts.parameters },
      limits: { ...DEFAULT_LIMITS, maxMessageLength: this.opts.maxMessageLength ?? DEFAULT_LIMITS.maxMessageLength },
      authTimeoutMs: this.opts.authTimeoutMs ?? 60_000,
      pid: this.allocatePid(),
      secret: randomBytes(4).readInt32BE(0),
      registry: this.registry,
      onInternalError: this.opts.onInternalError,
    });
  }

  private allocatePid(): number {
    for (let i = 0; i < 1_000_000; i++) {
      const pid = this.nextPid;
      this.nextPid = this.nextPid >= 0x3fffffff ? 1000 : this.nextPid + 1;
      if (!this.registry.has(pid)) return pid;
    }
    throw new Error('no free backend pid');
  }

  /**
   * Cancels the statement backend `pid` is running, as pg_cancel_backend does (an operator's
   * console; a client's CancelRequest must carry the secret instead). False if no such backend.
   */
  cancelBackend(pid: number): boolean {
    return this.registry.cancelByPid(pid);
  }

  /** Stop listening, tell every session the server is shutting down (57P01), close sockets. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) {
      c.terminate(new PgError(SqlState.ADMIN_SHUTDOWN, 'terminating connection due to administrator command', {}, 'FATAL'));
    }
    for (const s of this.sockets) s.destroySoon();
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 500).unref();
    await closed;
  }
}
