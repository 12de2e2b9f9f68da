import { connect, type Socket } from 'node:net';
import { KvError } from '@weft/kv';
import { FrameReader } from '@weft/transport';
import { decodeFrame, encodeFrame, MetaKind, parseError, parseResult, type MetaResults } from './codec';
import type { RepairStep } from './placement';
import type { MetaStatus, NodeInfo, NodeLiveness, NodeRecord, ShardRecord, TsoRange } from './types';

/** Exponential backoff with jitter in [d/2, d], d = min(max, base * 2^attempt). */
function backoffDelay(attempt: number, b: { readonly baseMs: number; readonly maxMs: number }): number {
  const d = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + (Math.random() * d) / 2);
}

/** A meta replica's RPC address. */
export interface MetaEndpoint {
  readonly metaId: number;
  readonly host: string;
  readonly port: number;
}

export interface MetaClientOptions {
  /** Every meta replica (WEFT_META_ADDRS-style list). */
  readonly endpoints: readonly MetaEndpoint[];
  /** One attempt's limit (default 4000 ms: above the server's own 3000 ms bound). */
  readonly attemptTimeoutMs?: number;
  /** A call gives up after this long, with KvError 'unavailable' (default 10000 ms). */
  readonly deadlineMs?: number;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

interface Pending {
  readonly resolve: (body: unknown) => void;
  readonly reject: (e: Error) => void;
}

/** A failed attempt and whether another replica (or a later try) may succeed. */
class AttemptError extends Error {
  constructor(
    message: string,
    readonly code: 'not-leader' | 'unavailable' | 'bad-request' | 'internal' | 'connection',
    readonly leaderHint: number,
  ) {
    super(message);
  }
}

/** One TCP connection to one meta replica, requests pipelined by id. */
class Conn {
  private socket?: Socket;
  private ready?: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(readonly ep: MetaEndpoint) {}

  private open(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      const s = connect({ host: this.ep.host, port: this.ep.port });
      this.socket = s;
      s.setNoDelay(true);
      const reader = new FrameReader(16 << 20);
      s.once('connect', () => resolve());
      s.on('data', (chunk: Buffer) => {
        let payloads: Buffer[];
        try {
          payloads = reader.push(chunk);
        } catch (e) {
          this.fail(new AttemptError(`meta ${this.ep.metaId}: bad frame: ${e instanceof Error ? e.message : String(e)}`, 'connection', 0));
          return;
        }
        for (const p of payloads) {
          let f: ReturnType<typeof decodeFrame>;
          try {
            f = decodeFrame(p);
          } catch (e) {
            this.fail(new AttemptError(`meta ${this.ep.metaId}: bad answer: ${e instanceof Error ? e.message : String(e)}`, 'connection', 0));
            return;
          }
          const w = this.pending.get(f.id);
          if (!w) continue;
          this.pending.delete(f.id);
          if (f.kind === MetaKind.Ok) w.resolve(f.body);
          else {
            const e = parseError(f.body);
            w.reject(new AttemptError(e.message, e.code, e.leaderHint));
          }
        }
      });
      s.on('error', (e) => {
        const err = new AttemptError(`meta ${this.ep.metaId} at ${this.ep.host}:${this.ep.port}: ${e.message}`, 'connection', 0);
        reject(err);
        this.fail(err);
      });
      s.on('close', () => this.fail(new AttemptError(`meta ${this.ep.metaId}: connection closed`, 'connection', 0)));
    });
    return this.ready;
  }

  private fail(err: Error): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.ready = undefined;
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
  }

  async call(kind: MetaKind, body: unknown, timeoutMs: number): Promise<unknown> {
    await this.open();
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return new Promise<unknown>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new AttemptError(`meta ${this.ep.metaId}: no answer within ${timeoutMs} ms`, 'unavailable', 0));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (b) => {
          clearTimeout(t);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.socket?.write(encodeFrame(kind, id, body));
    });
  }

  close(): void {
    this.fail(new AttemptError('meta client closed', 'connection', 0));
  }
}

/**
 * Client of the meta service for gateways and nodes. Finds the leader (following not-leader
 * hints, else trying each replica in turn), retries with exponential backoff, and after
 * `deadlineMs` fails with KvError 'unavailable' (SQLSTATE 57P03): it never invents an answer.
 * A bad request fails at once with KvError 'bad-request'.
 */
export class MetaClient {
  private readonly conns = new Map<number, Conn>();
  private readonly order: number[];
  private target: number;
  private closed = false;

  constructor(private readonly opts: MetaClientOptions) {
    if (opts.endpoints.length === 0) throw new Error('meta client needs at least one meta endpoint');
    for (const ep of opts.endpoints) this.conns.set(ep.metaId, new Conn(ep));
    this.order = opts.endpoints.map((e) => e.metaId);
    this.target = this.order[0];
  }

  /** The meta id the client currently sends to (its best guess at the leader). */
  get leaderGuess(): number {
    return this.target;
  }

  /** `count` consecutive strictly increasing timestamps (microseconds); returns the first. */
  tso(count = 1): Promise<TsoRange> {
    return this.call(MetaKind.Tso, { count });
  }

  heartbeat(info: NodeInfo): Promise<{ state: NodeLiveness }> {
    return this.call(MetaKind.Heartbeat, info);
  }

  nodes(): Promise<readonly NodeRecord[]> {
    return this.call(MetaKind.Nodes, {});
  }

  shardMap(): Promise<readonly ShardRecord[]> {
    return this.call(MetaKind.ShardMap, {});
  }

  repairPlan(): Promise<readonly RepairStep[]> {
    return this.call(MetaKind.RepairPlan, {});
  }

  /** One replica's own status (no redirect: every replica answers for itself). */
  async status(metaId: number): Promise<MetaStatus> {
    const c = this.conns.get(metaId);
    if (!c) throw new Error(`meta ${metaId} is not in the client's endpoint list`);
    try {
      return parseResult(MetaKind.Status, await c.call(MetaKind.Status, {}, this.opts.attemptTimeoutMs ?? 4000));
    } catch (e) {
      throw new KvError('unavailable', `meta ${metaId}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private next(after: number): number {
    const i = this.order.indexOf(after);
    return this.order[(i + 1) % this.order.length];
  }

  private async call<K extends keyof MetaResults & MetaKind>(kind: K, body: unknown): Promise<MetaResults[K]> {
    const deadline = Date.now() + (this.opts.deadlineMs ?? 10_000);
    const backoff = this.opts.backoff ?? { baseMs: 25, maxMs: 500 };
    let last = 'no attempt';
    for (let attempt = 0; !this.closed; attempt++) {
      const target = this.target;
      const conn = this.conns.get(target) as Conn;
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const res = await conn.call(kind, body, Math.min(left, this.opts.attemptTimeoutMs ?? 4000));
        return parseResult(kind, res);
      } catch (e) {
        if (!(e instanceof AttemptError)) throw e;
        if (e.code === 'bad-request') throw new KvError('bad-request', e.message);
        last = e.message;
        if (e.code === 'not-leader' && e.leaderHint !== 0 && e.leaderHint !== target && this.conns.has(e.leaderHint)) {
          // A redirect is not a failure: go to the named leader right away.
          this.target = e.leaderHint;
          continue;
        }
        if (this.target === target) this.target = this.next(target);
      }
      const wait = Math.min(backoffDelay(attempt, backoff), Math.max(0, deadline - Date.now()));
      await new Promise((r) => setTimeout(r, wait));
    }
    throw new KvError('unavailable', `meta service unavailable: no meta leader answered within ${this.opts.deadlineMs ?? 10_000} ms (last: ${last})`);
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns.values()) c.close();
  }
}
