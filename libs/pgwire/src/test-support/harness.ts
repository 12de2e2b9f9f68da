/** Test harness: a PgServer over the EchoHandler, and a raw protocol client built on pg-protocol. */
import { connect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages';
import { Parser } from 'pg-protocol/dist/parser';
import { StaticAuthenticator } from '../auth';
import { PgServer } from '../server';
import { echoSessionFactory, type EchoStatement, type EchoStats, newStats } from './echo-handler';

export interface TestServer {
  server: PgServer<EchoStatement>;
  port: number;
  stats: EchoStats;
  internalErrors: unknown[];
  close(): Promise<void>;
}

export const USERS = {
  alice: { method: 'trust' as const, superuser: true },
  carol: { method: 'password' as const, password: 'cleartext-pw' },
  bob: { method: 'md5' as const, password: 'md5-pw' },
  sam: { method: 'scram-sha-256' as const, password: 'scram-pw' },
};

export async function startServer(opts: { maxMessageLength?: number; authTimeoutMs?: number } = {}): Promise<TestServer> {
  const stats = newStats();
  const internalErrors: unknown[] = [];
  const server = new PgServer<EchoStatement>({
    authenticator: new StaticAuthenticator(USERS),
    sessionFactory: echoSessionFactory(stats),
    maxMessageLength: opts.maxMessageLength ?? 1024 * 1024,
    authTimeoutMs: opts.authTimeoutMs ?? 5000,
    onInternalError: (e) => internalErrors.push(e),
  });
  const addr = await server.listen(0, '127.0.0.1');
  return { server, port: addr.port, stats, internalErrors, close: () => server.close() };
}

export type Msg = BackendMessage & { [k: string]: unknown };

/** A protocol client that sends arbitrary bytes and records every parsed backend message. */
export class RawClient {
  readonly messages: Msg[] = [];
  /** Raw bytes received before startParsing() (single-byte SSL answers, byte-exact checks). */
  raw = Buffer.alloc(0);
  closed = false;
  /** BackendKeyData of the session (set by ready()). */
  key = { pid: 0, secret: 0 };
  private readonly parser = new Parser();
  private parse = false;
  private wake: (() => void) | null = null;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      if (this.parse) this.feed(d);
      else this.raw = Buffer.concat([this.raw, d]);
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connect and complete a trust startup; returns after the first ReadyForQuery. */
  static async ready(port: number, user = 'alice'): Promise<RawClient> {
    const c = await RawClient.open(port);
    c.startParsing();
    c.send(serialize.startup({ user, database: 'weft' }));
    const rfq = await c.until((m) => m.name === 'readyForQuery');
    if (!rfq) throw new Error(`startup failed: ${JSON.stringify(c.messages)}`);
    const k = c.messages.find((m) => m.name === 'backendKeyData');
    if (k) c.key = { pid: k.processID as number, secret: k.secretKey as number };
    c.messages.length = 0;
    return c;
  }

  startParsing(): void {
    this.parse = true;
  }

  private feed(d: Buffer): void {
    try {
      this.parser.parse(d, (m) => this.messages.push(m as Msg));
    } catch {
      this.messages.push({ name: 'unparseable', length: 0 } as unknown as Msg);
    }
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  send(b: Buffer | Buffer[]): void {
    this.socket.write(Array.isArray(b) ? Buffer.concat(b) : b);
  }

  /** Wait until a message matching `pred` arrived (or the socket closed). Bounded by `ms`. */
  async until(pred: (m: Msg) => boolean, ms = 5000): Promise<Msg | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.messages.find(pred);
      if (m) return m;
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting; got ${this.messages.map((x) => x.name).join(',')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async waitClosed(ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  /** Messages received so far up to and including the n-th ReadyForQuery, then cleared. */
  async cycle(n = 1): Promise<Msg[]> {
    await this.until(() => this.messages.filter((m) => m.name === 'readyForQuery').length >= n);
    const out = this.messages.splice(0, this.messages.length);
    return out;
  }

  names(ms: Msg[]): string[] {
    return ms.map((m) => m.name);
  }

  end(): void {
    this.socket.destroy();
  }
}
