import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import type { KvRow, ScanPage, TxnStatus } from '@weft/kv';
import type { ApplyOutcome, LogEntry, Timestamp } from '@weft/logentry';
import { AmbiguousResultError, NotLeaderError } from '@weft/replica';
import { FrameReader } from '@weft/transport';
import { RemoteShardKv } from './client';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, Kind, KvRpcDecodeError, type Request, type Response } from './codec';
import { KvServer, type ServedShard } from './server';

// A scripted shard replica: leads or not, answers from a map, may hang on proposals.
class FakeShard implements ServedShard {
  readonly shardId = 1;
  leading = true;
  leaderHint = 0;
  hangProposals = false;
  readonly rows = new Map<string, string>();
  proposals = 0;

  constructor(readonly nodeId: number) {}

  private check(): void {
    if (!this.leading) throw new NotLeaderError(1, this.leaderHint);
  }
  async now(): Promise<Timestamp> {
    this.check();
    return 1000n;
  }
  async get(key: Buffer, ts: Timestamp): Promise<KvRow | undefined> {
    this.check();
    const v = this.rows.get(key.toString());
    return v === undefined ? undefined : { key, value: Buffer.from(v), ts };
  }
  async scan(): Promise<ScanPage> {
    this.check();
    return { rows: [...this.rows].map(([k, v]) => ({ key: Buffer.from(k), value: Buffer.from(v), ts: 5n })), resumeKey: Buffer.from('z') };
  }
  async txnStatus(): Promise<TxnStatus> {
    this.check();
    return { kind: 'unknown' };
  }
  async propose(entry: LogEntry): Promise<ApplyOutcome> {
    this.check();
    this.proposals++;
    if (this.hangProposals) return new Promise<ApplyOutcome>(() => undefined);
    if (entry.type === 'commit') for (const w of entry.writes) if (w.kind === 'put') this.rows.set(w.key.toString(), w.value.toString());
    return { status: 'committed', commitTs: 42n };
  }
  replicaStatus() {
    return { leader: this.leading ? this.nodeId : this.leaderHint, term: 3, appliedIndex: 9, closedTs: 7n, stateHash: Buffer.alloc(32, this.nodeId), voters: [1, 2, 3] };
  }
}

const entry = (k: string, v: string): LogEntry => ({
  type: 'commit',
  txnId: Buffer.alloc(16, 1),
  readTs: 1n,
  minCommitTs: 0n,
  reads: [],
  writes: [{ kind: 'put', key: Buffer.from(k), value: Buffer.from(v) }],
});

const bytes = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const id = fc.integer({ min: 0, max: 0xffffffff });
const shard = fc.integer({ min: 0, max: 0xffffffff });
const requestArb: fc.Arbitrary<Request> = fc.oneof(
  fc.record({ kind: fc.constant(Kind.Now as const), id, shardId: shard }),
  fc.record({ kind: fc.constant(Kind.Status as const), id, shardId: shard }),
  fc.record({ kind: fc.constant(Kind.Get as const), id, shardId: shard, ts: u64, key: bytes, txnId: bytes }),
  fc.record({ kind: fc.constant(Kind.Scan as const), id, shardId: shard, ts: u64, start: bytes, end: bytes, limit: id, reverse: fc.boolean(), txnId: bytes }),
  fc.record({ kind: fc.constant(Kind.Propose as const), id, shardId: shard, entry: bytes }),
  fc.record({ kind: fc.constant(Kind.Get as const), id, shardId: shard, ts: u64, key: bytes, txnId: bytes, uncertaintyLimit: u64.filter((t) => t > 0n) }),
  fc.record({ kind: fc.constant(Kind.Scan as const), id, shardId: shard, ts: u64, start: bytes, end: bytes, limit: id, reverse: fc.boolean(), txnId: bytes, uncertaintyLimit: u64.filter((t) => t > 0n) }),
  fc.record({
    kind: fc.constant(Kind.Scan as const), id, shardId: shard, ts: u64, start: bytes, end: bytes, limit: id, reverse: fc.boolean(), txnId: bytes,
    filter: fc.record({ program: bytes, args: bytes, countOnly: fc.boolean() }),
  }),
  fc.record({ kind: fc.constant(Kind.LockWaits as const), id, shardId: shard }),
  fc.record({ kind: fc.constant(Kind.GetNow as const), id, shardId: shard, minTs: u64, keys: fc.array(bytes, { minLength: 1, maxLength: 4 }), txnId: bytes }),
  fc.record({ kind: fc.constant(Kind.Get as const), id, shardId: shard, ts: u64, key: bytes, txnId: bytes, traceparent: fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01') }),
  fc.record({ kind: fc.constant(Kind.GetNow as const), id, shardId: shard, minTs: u64, keys: fc.array(bytes, { minLength: 1, maxLength: 2 }), txnId: bytes, traceparent: fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01') }),
  fc.record({ kind: fc.constant(Kind.LockRead as const), id, shardId: shard, key: bytes, txnId: bytes, waitMs: id, minTs: u64, readerTxn: bytes, also: fc.array(bytes, { maxLength: 2 }), traceparent: fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01') }),
  fc.record({ kind: fc.constant(Kind.LockRead as const), id, shardId: shard, key: bytes, txnId: bytes, waitMs: id, minTs: u64, readerTxn: bytes, also: fc.array(bytes, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant(Kind.Propose as const), id, shardId: shard, entry: bytes, traceparent: fc.constantFrom("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") }),
);
const row = fc.record({ key: bytes, value: bytes, ts: u64 });
const responseArb: fc.Arbitrary<Response> = fc.oneof(
  fc.record({ kind: fc.constant(Kind.NowOk as const), id, ts: u64 }),
  fc.record({ kind: fc.constant(Kind.Uncertain as const), id, readTs: u64, valueTs: u64 }),
  fc.record({ kind: fc.constant(Kind.GetOk as const), id, row: fc.option(row, { nil: undefined }) }),
  fc.record({ kind: fc.constant(Kind.GetOk as const), id, row: fc.option(row, { nil: undefined }), observedTs: u64.filter((t) => t > 0n) }),
  fc.record({ kind: fc.constant(Kind.ScanOk as const), id, page: fc.record({ rows: fc.array(row, { maxLength: 3 }) }), observedTs: u64.filter((t) => t > 0n) }),
  fc.record({ kind: fc.constant(Kind.ScanOk as const), id, page: fc.record({ rows: fc.array(row, { maxLength: 5 }), resumeKey: bytes }) }),
  fc.record({ kind: fc.constant(Kind.ScanOk as const), id, page: fc.record({ rows: fc.constant([]), count: id, resumeKey: bytes }) }),
  fc.record({ kind: fc.constant(Kind.ScanOk as const), id, page: fc.record({ rows: fc.constant([]), partial: bytes }) }),
  fc.record({
    kind: fc.constant(Kind.ProposeOk as const),
    id,
    outcome: fc.oneof(
      fc.record({ status: fc.constant('committed' as const), commitTs: u64 }),
      fc.constant({ status: 'applied' as const }),
      fc.record({ status: fc.constant('aborted' as const), sqlstate: fc.constantFrom('40001', '23505'), message: fc.string(), detail: fc.string(), constraint: fc.string() }),
    ),
  }),
  fc.record({ kind: fc.constant(Kind.GetNowOk as const), id, ts: u64, rows: fc.array(fc.option(row, { nil: undefined }), { maxLength: 4 }) }),
  fc.record({ kind: fc.constant(Kind.LockReadOk as const), id, result: fc.record({ granted: fc.constant(true as const), row: fc.option(row, { nil: undefined }), readTs: u64, newestTs: u64, also: fc.array(fc.option(row, { nil: undefined }), { minLength: 1, maxLength: 3 }) }) }),
  fc.record({ kind: fc.constant(Kind.LockReadOk as const), id, result: fc.record({ granted: fc.constant(true as const), row: fc.option(row, { nil: undefined }), readTs: u64, newestTs: u64 }) }),
  fc.record({ kind: fc.constant(Kind.LockReadOk as const), id, result: fc.record({ granted: fc.constant(false as const), holder: fc.string() }) }),
  fc.record({ kind: fc.constant(Kind.LockWaitsOk as const), id, edges: fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 4 }) }),
  fc.record({ kind: fc.constant(Kind.Error as const), id, error: fc.record({ code: fc.constantFrom('not-leader' as const, 'internal' as const), sqlstate: fc.string(), message: fc.string(), leaderHint: shard }) }),
);

describe('KV RPC codec', () => {
  it('round-trips requests and responses', () => {
    fc.assert(fc.property(requestArb, (r) => expect(decodeRequest(encodeRequest(r).subarray(4))).toEqual(r)));
    fc.assert(fc.property(responseArb, (r) => expect(decodeResponse(encodeResponse(r).subarray(4))).toEqual(r)));
  });

  it('rejects every truncation and any garbage with KvRpcDecodeError, never another error', () => {
    fc.assert(
      fc.property(requestArb, fc.nat(), (r, cut) => {
        const p = encodeRequest(r).subarray(4);
        const t = p.subarray(0, cut % p.length);
        expect(() => decodeRequest(t)).toThrow(KvRpcDecodeError);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          decodeRequest(Buffer.from(b));
          decodeResponse(Buffer.from(b));
        } catch (e) {
          expect(e).toBeInstanceOf(KvRpcDecodeError);
        }
      }),
    );
  });
});

describe('KV RPC over loopback', () => {
  const shards = new Map<number, FakeShard>();
  const servers: KvServer[] = [];
  const addrs: { nodeId: number; host: string; port: number }[] = [];

  beforeAll(async () => {
    for (const nodeId of [1, 2, 3]) {
      const s = new FakeShard(nodeId);
      shards.set(nodeId, s);
      const server = new KvServer({ nodeId, host: '127.0.0.1', port: 0, shard: (id) => (id === 1 ? s : undefined) });
      servers.push(server);
      const a = await server.listen();
      addrs.push({ nodeId, host: a.host, port: a.port });
    }
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
  });
  beforeEach(() => {
    for (const [n, s] of shards) {
      s.leading = n === 2;
      s.leaderHint = 2;
      s.hangProposals = false;
    }
  });

  it('follows the NotLeader hint to the leader and pipelines requests', async () => {
    const kv = new RemoteShardKv({ shardId: 1, replicas: addrs });
    try {
      const outs = await Promise.all(Array.from({ length: 100 }, (_, i) => kv.propose(entry(`k${i}`, `v${i}`))));
      expect(outs.every((o) => o.status === 'committed')).toBe(true);
      expect(kv.leaderHint).toBe(2);
      expect((await kv.get(Buffer.from('k7'), 9n))?.value.toString()).toBe('v7');
      const page = await kv.scan(Buffer.from('a'), Buffer.from('z'), 9n, { limit: 3, reverse: true });
      expect(page.resumeKey?.toString()).toBe('z');
      expect(await kv.now()).toBe(1000n);
      expect((await kv.replicaStatus(3)).stateHash).toEqual(Buffer.alloc(32, 3));
      expect((await kv.replicaStatus(3)).voters).toEqual([1, 2, 3]);
    } finally {
      kv.close();
    }
  });

  it('follower reads try the read replicas first; what they refuse, and everything else, goes to the Raft replicas', async () => {
    // A read replica that serves reads at or below ts 100 only (its closed timestamp).
    const closed = new FakeShard(0);
    closed.rows.set('k', 'from the read replica');
    const readOnly: ServedShard = {
      shardId: 1,
      now: () => Promise.reject(new NotLeaderError(1, 0)),
      get: (key, ts) => (ts <= 100n ? closed.get(key, ts) : Promise.reject(new NotLeaderError(1, 0))),
      scan: () => Promise.reject(new NotLeaderError(1, 0)),
      txnStatus: () => Promise.reject(new NotLeaderError(1, 0)),
      propose: () => Promise.reject(new NotLeaderError(1, 0)),
      replicaStatus: () => closed.replicaStatus(),
    };
    const server = new KvServer({ nodeId: 0, host: '127.0.0.1', port: 0, shard: (id) => (id === 1 ? readOnly : undefined) });
    const a = await server.listen();
    shards.get(2)?.rows.set('k', 'from the raft leader');
    const kv = new RemoteShardKv({ shardId: 1, replicas: addrs, readReplicas: [{ host: a.host, port: a.port }] });
    try {
      expect((await kv.get(Buffer.from('k'), 50n, { follower: true }))?.value.toString()).toBe('from the read replica');
      expect(kv.stats.readReplicaReads).toBe(1);
      // Above its closed timestamp: refused there, answered by a Raft replica.
      expect((await kv.get(Buffer.from('k'), 500n, { follower: true }))?.value.toString()).toBe('from the raft leader');
      expect(kv.stats.readReplicaRefusals).toBe(1);
      // Strong reads and writes never go to a read replica.
      expect((await kv.get(Buffer.from('k'), 50n))?.value.toString()).toBe('from the raft leader');
      expect((await kv.propose(entry('w', '1'))).status).toBe('committed');
      expect(kv.stats.readReplicaReads).toBe(1);
    } finally {
      kv.close();
      await server.close();
    }
  });

  it('fails over past a dead node, and gives up with a clear error when nobody leads', async () => {
    const dead = { nodeId: 9, host: '127.0.0.1', port: 1 };
    const kv = new RemoteShardKv({ shardId: 1, replicas: [dead, ...addrs], deadlineMs: 500 });
    try {
      expect(await kv.now()).toBe(1000n);
      for (const s of shards.values()) {
        s.leading = false;
        s.leaderHint = 0;
      }
      await expect(kv.now()).rejects.toThrow(/shard 1: unavailable \(no leader answered within 500 ms/);
    } finally {
      kv.close();
    }
  });

  it('a proposal that reached a node which then stopped answering is ambiguous, not retried', async () => {
    (shards.get(2) as FakeShard).hangProposals = true;
    const kv = new RemoteShardKv({ shardId: 1, replicas: addrs, requestTimeoutMs: 200 });
    try {
      const before = (shards.get(2) as FakeShard).proposals;
      await expect(kv.propose(entry('a', 'b'))).rejects.toBeInstanceOf(AmbiguousResultError);
      expect((shards.get(2) as FakeShard).proposals).toBe(before + 1);
    } finally {
      kv.close();
    }
  });

  it('answers malformed requests with error frames, closes on unreadable frames, and keeps serving', async () => {
    const send = (frames: Buffer[]): Promise<{ responses: Response[]; closed: boolean }> =>
      new Promise((resolve) => {
        const s: Socket = connect({ host: addrs[0].host, port: addrs[0].port });
        const reader = new FrameReader();
        const responses: Response[] = [];
        let closed = false;
        s.on('data', (c: Buffer) => {
          for (const p of reader.push(c)) responses.push(decodeResponse(p));
        });
        s.on('close', () => {
          closed = true;
        });
        s.on('error', () => undefined);
        s.write(Buffer.concat(frames));
        setTimeout(() => {
          s.destroy();
          resolve({ responses, closed });
        }, 150);
      });
    const frame = (payload: Buffer): Buffer => {
      const h = Buffer.alloc(4);
      h.writeUInt32LE(payload.length);
      return Buffer.concat([h, payload]);
    };
    // A bad log entry and an unknown kind: each answered by id; the connection stays up.
    const badEntry = encodeRequest({ kind: Kind.Propose, id: 5, shardId: 1, entry: Buffer.from('not an entry') });
    const unknownKind = frame(Buffer.from([1, 0x33, 6, 0, 0, 0, 1, 0, 0, 0]));
    const unknownShard = encodeRequest({ kind: Kind.Now, id: 7, shardId: 99 });
    let r = await send([badEntry, unknownKind, unknownShard]);
    expect(r.closed).toBe(false);
    expect(r.responses.map((x) => [x.id, x.kind === Kind.Error ? x.error.code : x.kind])).toEqual(
      expect.arrayContaining([
        [5, 'bad-request'],
        [6, 'bad-request'],
        [7, 'unknown-shard'],
      ]),
    );
    // A frame too short to carry a header, and an absurd length: error frame id 0, then close.
    r = await send([frame(Buffer.from([1, 2, 3]))]);
    expect(r.closed).toBe(true);
    expect(r.responses[0]).toMatchObject({ kind: Kind.Error, id: 0 });
    r = await send([Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2])]);
    expect(r.closed).toBe(true);
    // Random garbage streams never take the server down.
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 80 }), async (b) => {
        await send([Buffer.from(b)]);
      }),
      { numRuns: 15 },
    );
    const kv = new RemoteShardKv({ shardId: 1, replicas: addrs });
    expect(await kv.now()).toBe(1000n);
    kv.close();
  }, 20000);
});
