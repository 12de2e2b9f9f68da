import { connect, type Socket } from 'node:net';
import {
  UncertainReadError, WriteIntentError, type KvRow, type LockReadResult, type LockWaitEdge, type ReadRequestOptions, type RefreshResult, type ScanPage, type ScanRequestOptions, type ShardKv, type TxnStatus,
} from '@weft/kv';
import { encodeEntry, type ApplyOutcome, type LogEntry, type ReadSpan, type Timestamp } from '@weft/logentry';
import { AmbiguousResultError, ReplicaUnavailableError } from '@weft/replica';
import { FrameReader } from '@weft/transport';
import { decodeResponse, encodeRequest, Kind, type ReplicaStatus, type Request, type Response, type WireErrorCode } from './codec';

export interface ReplicaAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export interface RemoteShardKvOptions {
  readonly shardId: number;
  readonly replicas: readonly ReplicaAddress[];
  /** One request's time limit on one replica (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** Total time spent looking for a replica that answers (default 10000 ms). */
  readonly deadlineMs?: number;
  /**
   * One proposal's time limit on one replica (default 30000 ms). Longer than reads: past it the
   * outcome is unknown (40003) although a live leader under load would still have answered.
   */
  readonly proposeTimeoutMs?: number;
  /** Connection attempt limit (default 1000 ms). */
  readonly connectTimeoutMs?: number;
  /** The replica follower reads try first (the one in this gateway's zone); default: round-robin. */
  readonly nearestNodeId?: number;
  /** The caller's current W3C trace context (`traceparent`), sent with each proposal and read; default none. */
  readonly traceparent?: () => string | undefined;
  /**
   * Read-only replicas (Kafka-fed materializers, `apps/materializer` with WEFT_KV_PORT) that
   * follower reads try first, in order: one serves a read at or below its closed timestamp and
   * refuses anything else, which then goes to the Raft replicas as usual. Never used for
   * anything but follower reads.
   */
  readonly readReplicas?: readonly Omit<ReplicaAddress, 'nodeId'>[];
}

/** Connection ids of read replicas: far above any node id, so the two never collide. */
const READ_REPLICA_ID_BASE = 1 << 30;

/** An error a replica reported that retrying elsewhere will not fix; carries its SQLSTATE. */
export class KvRpcError extends Error {
  constructor(
    readonly shardId: number,
    readonly code: WireErrorCode,
    readonly sqlstate: string,
    message: string,
  ) {
    super(message);
    this.name = 'KvRpcError';
  }
}

/** The connection failed or the request timed out; `sent` says whether the request left. */
class TransportFailure extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
  ) {
    super(message);
  }
}

interface Pending {
  readonly resolve: (r: Response) => void;
  readonly reject: (e: TransportFailure) => void;
  readonly timer: NodeJS.Timeout;
}

/** One pipelined connection to one node: many requests in flight, matched by id. */
class KvConnection {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Requests made in this event-loop turn, written together (see send). */
  private outbox: { readonly socket: Socket; readonly frame: Buffer }[] = [];

  constructor(
    readonly addr: ReplicaAddress,
    private readonly connectTimeoutMs: number,
  ) {}

  async request(make: (id: number) => Request, timeoutMs: number): Promise<Response> {
    let socket: Socket;
    try {
      socket = this.socket ?? (await this.open());
    } catch (e) {
      throw new TransportFailure(`node ${this.addr.nodeId} (${this.addr.host}:${this.addr.port}) unreachable: ${(e as Error).message}`, false);
    }
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TransportFailure(`node ${this.addr.nodeId} did not answer within ${timeoutMs} ms`, true));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send(socket, encodeRequest(make(id)));
    });
  }

  /**
   * Coalesces every request made in this turn of the event loop into one socket write, as the
   * server does with its answers: on loopback a write also runs the receiver's TCP processing,
   * and one write per request was a quarter of a loaded gateway's CPU. The flush runs right
   * after the poll phase, so a lone request waits for nothing else.
   */
  private send(socket: Socket, frame: Buffer): void {
    this.outbox.push({ socket, frame });
    if (this.outbox.length > 1) return;
    setImmediate(() => {
      const queued = this.outbox;
      this.outbox = [];
      // One write per run of frames for the same socket (a reconnect mid-turn starts a new
      // run). Frames for a socket that closed meanwhile are dropped: closing failed their requests.
      for (let i = 0; i < queued.length; ) {
        const target = queued[i].socket;
        let j = i + 1;
        while (j < queued.length && queued[j].socket === target) j++;
        if (!target.destroyed) target.write(j - i === 1 ? queued[i].frame : Buffer.concat(queued.slice(i, j).map((q) => q.frame)));
        i = j;
      }
    });
  }

  private open(): Promise<Socket> {
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: this.addr.host, port: this.addr.port });
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect timed out after ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      const reader = new FrameReader();
      s.once('connect', () => {
        clearTimeout(timer);
        this.socket = s;
        resolve(s);
      });
      s.on('data', (chunk: Buffer) => {
        try {
          for (const p of reader.push(chunk)) this.onResponse(decodeResponse(p));
        } catch (e) {
          s.destroy(e as Error);
        }
      });
      s.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      s.on('close', () => {
        clearTimeout(timer);
        reject(new Error('connection closed'));
        if (this.socket === s) this.socket = undefined;
        this.failAll(`connection to node ${this.addr.nodeId} closed`);
      });
    }).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private onResponse(r: Response): void {
    if (r.kind === Kind.Error && r.id === 0) {
      // The server could not read one of our frames and is closing: fail everything in flight.
      this.failAll(`node ${this.addr.nodeId} refused a frame: ${r.error.message}`);
      return;
    }
    const p = this.pending.get(r.id);
    if (!p) return; // timed out already
    this.pending.delete(r.id);
    clearTimeout(p.timer);
    p.resolve(r);
  }

  private failAll(reason: string): void {
    const ps = [...this.pending.values()];
    this.pending.clear();
    for (const p of ps) {
      clearTimeout(p.timer);
      p.reject(new TransportFailure(reason, true));
    }
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.failAll('client closed');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * ShardKv over the KV RPC: finds the shard's leader among its replicas (following NotLeader
 * hints, trying the others when a node is down), keeps one pipelined connection per node, and
 * retries whatever is safe to retry until the deadline. A proposal whose request reached a node
 * that then failed to answer is never retried: it rejects with AmbiguousResultError (40003).
 */
const NO_TXN = Buffer.alloc(0);

export class RemoteShardKv implements ShardKv {
  readonly shardId: number;
  private readonly conns = new Map<number, KvConnection>();
  private order: number[];
  /** The shard's replicas as last placed (describe); `order` may also hold former ones. */
  private placed: number[];
  private leader: number | undefined;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly deadlineMs: number;
  private readonly proposeTimeoutMs: number;
  readonly stats = { requests: 0, redirects: 0, failovers: 0, followerReads: 0, readReplicaReads: 0, readReplicaRefusals: 0 };
  /** Connection ids of the read replicas, in the order follower reads try them. */
  private readonly readReplicas: number[] = [];
  private rr = 0;
  private readonly nearest: number | undefined;
  private readonly traceparent: (() => string | undefined) | undefined;

  constructor(opts: RemoteShardKvOptions) {
    if (opts.replicas.length === 0) throw new Error(`shard ${opts.shardId}: RemoteShardKv needs at least one replica address`);
    this.shardId = opts.shardId;
    for (const r of opts.replicas) this.conns.set(r.nodeId, new KvConnection(r, opts.connectTimeoutMs ?? 1000));
    this.order = opts.replicas.map((r) => r.nodeId);
    this.placed = [...this.order];
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 1000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
    this.deadlineMs = opts.deadlineMs ?? 10_000;
    this.proposeTimeoutMs = opts.proposeTimeoutMs ?? 30_000;
    this.nearest = opts.nearestNodeId;
    this.traceparent = opts.traceparent;
    for (const [i, r] of (opts.readReplicas ?? []).entries()) {
      const id = READ_REPLICA_ID_BASE + i;
      this.conns.set(id, new KvConnection({ ...r, nodeId: id }, this.connectTimeoutMs));
      this.readReplicas.push(id);
    }
  }

  /**
   * A follower read from the read replicas, first to answer; undefined when none could (a read
   * above their closed timestamps, or none reachable): the caller goes to the Raft replicas.
   */
  private async fromReadReplica(make: (id: number) => Request): Promise<Response | undefined> {
    for (const id of this.readReplicas) {
      let res: Response;
      try {
        res = await (this.conns.get(id) as KvConnection).request(make, this.requestTimeoutMs);
      } catch {
        continue;
      }
      if (res.kind === Kind.IntentConflict) throw new WriteIntentError(this.shardId, res.intents);
      if (res.kind === Kind.Uncertain) throw new UncertainReadError(this.shardId, res.readTs, res.valueTs);
      if (res.kind !== Kind.Error) {
        this.stats.readReplicaReads++;
        return res;
      }
      this.stats.readReplicaRefusals++;
    }
    return undefined;
  }

  /**
   * Points the client at the shard's current replicas (meta placed or moved them): new nodes get
   * a connection and are tried first, a node whose address changed is reconnected. Nodes no
   * longer listed stay known, tried last: a stale placement costs a redirect, never a failure.
   * `leaseholder`, if known, becomes the first guess for the leader.
   */
  setReplicas(replicas: readonly ReplicaAddress[], leaseholder = 0): void {
    for (const r of replicas) {
      const c = this.conns.get(r.nodeId);
      if (c && c.addr.host === r.host && c.addr.port === r.port) continue;
      c?.close();
      this.conns.set(r.nodeId, new KvConnection(r, this.connectTimeoutMs));
    }
    const placed = replicas.map((r) => r.nodeId);
    this.placed = placed;
    this.order = [...placed, ...this.order.filter((n) => !placed.includes(n))];
    if (this.leader === undefined && leaseholder > 0 && placed.includes(leaseholder)) this.leader = leaseholder;
  }

  /** The shard's replicas as last placed (node ids), without asking anyone (health probes). */
  get replicaIds(): readonly number[] {
    return this.placed;
  }

  /** The node currently believed to lead (undefined until a request succeeded). */
  get leaderHint(): number | undefined {
    return this.leader;
  }

  async now(): Promise<Timestamp> {
    const r = await this.call((id) => ({ kind: Kind.Now, id, shardId: this.shardId }), false);
    return (r as Extract<Response, { kind: Kind.NowOk }>).ts;
  }

  async get(key: Buffer, ts: Timestamp, options?: ReadRequestOptions): Promise<KvRow | undefined> {
    const txnId = options?.txnId ?? NO_TXN;
    const traceparent = this.traceparent?.();
    const limit = options?.uncertaintyLimit;
    const r = await this.call(
      (id) => ({ kind: Kind.Get, id, shardId: this.shardId, ts, key, txnId, ...(traceparent ? { traceparent } : {}), ...(limit !== undefined ? { uncertaintyLimit: limit } : {}) }),
      false, 0, options?.follower === true,
    );
    const ok = r as Extract<Response, { kind: Kind.GetOk }>;
    if (ok.observedTs !== undefined) options?.onObserved?.(ok.observedTs);
    return ok.row;
  }

  /** A first read at the leaseholder's clock (at least minTs); never a follower read. */
  async getNow(keys: readonly Buffer[], minTs: Timestamp, options?: ReadRequestOptions): Promise<{ rows: readonly (KvRow | undefined)[]; ts: Timestamp }> {
    const txnId = options?.txnId ?? NO_TXN;
    const traceparent = this.traceparent?.();
    const r = await this.call((id) => ({ kind: Kind.GetNow, id, shardId: this.shardId, minTs, keys, txnId, ...(traceparent ? { traceparent } : {}) }), false);
    const ok = r as Extract<Response, { kind: Kind.GetNowOk }>;
    return { rows: ok.rows, ts: ok.ts };
  }

  async scan(start: Buffer, end: Buffer, ts: Timestamp, options?: ScanRequestOptions): Promise<ScanPage> {
    const limit = options?.limit ?? 0;
    if (!Number.isInteger(limit) || limit < 0 || limit > 0xffffffff) throw new RangeError(`scan limit must be an integer 0..2^32-1, got ${limit}`);
    const reverse = options?.reverse ?? false;
    const txnId = options?.txnId ?? NO_TXN;
    const traceparent = this.traceparent?.();
    const filter = options?.filter;
    const top = options?.uncertaintyLimit;
    const r = await this.call(
      (id) => ({
        kind: Kind.Scan, id, shardId: this.shardId, ts, start, end, limit, reverse, txnId,
        ...(traceparent ? { traceparent } : {}), ...(filter ? { filter } : {}), ...(top !== undefined ? { uncertaintyLimit: top } : {}),
      }),
      false, 0, options?.follower === true,
    );
    const ok = r as Extract<Response, { kind: Kind.ScanOk }>;
    if (ok.observedTs !== undefined) options?.onObserved?.(ok.observedTs);
    return ok.page;
  }

  async propose(entry: LogEntry): Promise<ApplyOutcome> {
    const bytes = encodeEntry(entry);
    // A big entry (a bulk load, an index backfill) takes longer to replicate, fsync and apply:
    // allow one extra second per MiB rather than calling a slow success ambiguous.
    const extraMs = Math.max(0, this.proposeTimeoutMs - this.requestTimeoutMs) + Math.ceil(bytes.length / (1 << 20)) * 1000;
    const traceparent = this.traceparent?.();
    const r = await this.call((id) => ({ kind: Kind.Propose, id, shardId: this.shardId, entry: bytes, ...(traceparent ? { traceparent } : {}) }), true, extraMs);
    return (r as Extract<Response, { kind: Kind.ProposeOk }>).outcome;
  }

  async txnStatus(txnId: Buffer): Promise<TxnStatus> {
    const r = await this.call((id) => ({ kind: Kind.TxnStatus, id, shardId: this.shardId, txnId }), false);
    return (r as Extract<Response, { kind: Kind.TxnStatusOk }>).status;
  }

  async lockRead(key: Buffer, txnId: Buffer, waitMs: number, minTs: Timestamp, options?: ReadRequestOptions, also: readonly Buffer[] = []): Promise<LockReadResult> {
    const readerTxn = options?.txnId ?? NO_TXN;
    // The server may hold the request for waitMs: allow for it on top of the usual timeout.
    const traceparent = this.traceparent?.();
    const r = await this.call((id) => ({ kind: Kind.LockRead, id, shardId: this.shardId, key, txnId, waitMs, minTs, readerTxn, also, ...(traceparent ? { traceparent } : {}) }), false, waitMs);
    return (r as Extract<Response, { kind: Kind.LockReadOk }>).result;
  }

  /** Moves the shard's lease to node `to` (asked of the leader; resolves once `to` leads). */
  async transferLease(to: number): Promise<void> {
    if (!this.conns.has(to)) throw new KvRpcError(this.shardId, 'bad-request', '22023', `node ${to} holds no replica of shard ${this.shardId}`);
    await this.call((id) => ({ kind: Kind.TransferLease, id, shardId: this.shardId, target: to }), false, 5000);
    this.leader = to;
  }

  async releaseLocks(txnId: Buffer): Promise<void> {
    await this.call((id) => ({ kind: Kind.ReleaseLocks, id, shardId: this.shardId, txnId }), false);
  }

  /** The leaseholder's waits-for edges (deadlock detection across gateways). */
  async lockWaits(): Promise<readonly LockWaitEdge[]> {
    const r = await this.call((id) => ({ kind: Kind.LockWaits, id, shardId: this.shardId }), false);
    return (r as Extract<Response, { kind: Kind.LockWaitsOk }>).edges;
  }

  async refresh(txnId: Buffer, reads: readonly ReadSpan[], fromTs: Timestamp, toTs: Timestamp): Promise<RefreshResult> {
    const r = await this.call((id) => ({ kind: Kind.Refresh, id, shardId: this.shardId, txnId, fromTs, toTs, reads }), false);
    return (r as Extract<Response, { kind: Kind.RefreshOk }>).result;
  }

  /** The shard's replicas (node ids) and its current leader (asked of the cluster if unknown). */
  async describe(): Promise<{ readonly replicas: readonly number[]; readonly leaseholder: number | undefined }> {
    if (this.leader === undefined) await this.now().catch(() => undefined);
    return { replicas: [...this.placed].sort((a, b) => a - b), leaseholder: this.leader };
  }

  /** One node's view of its replica (no redirect): applied index, state hash, leader. */
  async replicaStatus(nodeId: number): Promise<ReplicaStatus> {
    const conn = this.conns.get(nodeId);
    if (!conn) throw new Error(`shard ${this.shardId}: node ${nodeId} is not one of its replicas`);
    const r = await conn.request((id) => ({ kind: Kind.Status, id, shardId: this.shardId }), this.requestTimeoutMs);
    if (r.kind === Kind.Error) throw new KvRpcError(this.shardId, r.error.code, r.error.sqlstate, r.error.message);
    return (r as Extract<Response, { kind: Kind.StatusOk }>).status;
  }

  close(): void {
    for (const c of this.conns.values()) c.close();
  }

  private next(after: number): number {
    const i = this.order.indexOf(after);
    return this.order[(i + 1) % this.order.length];
  }

  /** The replica follower reads go to first (round-robin over the others than the leader, or the configured nearest). */
  private followerTarget(): number {
    if (this.nearest !== undefined && this.conns.has(this.nearest)) return this.nearest;
    const others = this.order.filter((n) => n !== this.leader);
    const pick = others.length > 0 ? others : this.order;
    this.rr = (this.rr + 1) % pick.length;
    return pick[this.rr];
  }

  /**
   * `extraMs` lengthens both the per-request timeout and the overall deadline (big proposals).
   * `follower`: start at a follower (a follower read); a refusal sends it on to the leader.
   */
  private async call(make: (id: number) => Request, mutating: boolean, extraMs = 0, follower = false): Promise<Response> {
    if (follower && this.readReplicas.length > 0) {
      const served = await this.fromReadReplica(make);
      if (served !== undefined) return served;
    }
    const timeoutMs = this.requestTimeoutMs + extraMs;
    const deadline = Date.now() + this.deadlineMs + extraMs;
    let target = follower ? this.followerTarget() : (this.leader ?? this.order[0]);
    let attempt = 0;
    let lastReason = 'no replica tried';
    /** Nodes that answered "no replica of this shard here", and how often, in this call. */
    const notHosted = new Map<number, number>();
    for (;;) {
      if (attempt > 0) {
        if (Date.now() >= deadline) throw new ReplicaUnavailableError(this.shardId, `no leader answered within ${this.deadlineMs} ms; last: ${lastReason}`);
        // Hop between replicas fast at first, then back off while an election runs.
        if (attempt >= this.order.length) await sleep(Math.min(200, 10 * attempt));
      }
      attempt++;
      this.stats.requests++;
      const conn = this.conns.get(target) as KvConnection;
      let res: Response;
      try {
        res = await conn.request(make, timeoutMs);
      } catch (e) {
        const f = e as TransportFailure;
        if (mutating && f.sent) throw new AmbiguousResultError(this.shardId, f.message);
        lastReason = f.message;
        if (this.leader === target) this.leader = undefined;
        this.stats.failovers++;
        target = this.next(target);
        continue;
      }
      if (res.kind === Kind.IntentConflict) {
        this.leader = target;
        throw new WriteIntentError(this.shardId, res.intents);
      }
      if (res.kind === Kind.Uncertain) {
        if (!follower) this.leader = target;
        throw new UncertainReadError(this.shardId, res.readTs, res.valueTs);
      }
      if (res.kind !== Kind.Error) {
        if (!follower) this.leader = target;
        else if (target !== this.leader) this.stats.followerReads++;
        return res;
      }
      const err = res.error;
      // 'unknown-shard': this node holds no replica (meta moved it, or is only placing it there);
      // another listed node may. Twice from every node: no node hosts it at all.
      if (err.code === 'unknown-shard') {
        notHosted.set(target, (notHosted.get(target) ?? 0) + 1);
        if (this.order.every((n) => (notHosted.get(n) ?? 0) >= 2)) throw new KvRpcError(this.shardId, err.code, err.sqlstate, err.message);
      }
      if (err.code === 'not-leader' || err.code === 'unavailable' || err.code === 'unknown-shard') {
        lastReason = err.message;
        if (this.leader === target) this.leader = undefined;
        this.stats.redirects++;
        target = err.leaderHint && this.conns.has(err.leaderHint) && err.leaderHint !== target ? err.leaderHint : this.next(target);
        continue;
      }
      if (err.code === 'ambiguous') throw new AmbiguousResultError(this.shardId, err.message);
      throw new KvRpcError(this.shardId, err.code, err.sqlstate, err.message);
    }
  }
}
