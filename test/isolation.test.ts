import { Client, DatabaseError } from 'pg';
import { encodeIndexKey, keyRoute } from '../libs/storage/src/table-keys';
import { checkListAppend, describeAnomalies, type MicroOp, type TxnRecord, type TxnStatus } from './support/list-append';
import { startPostgres, stopStartedServers, type SqlServer } from './support/postgres';
import { startCluster, targetLabel } from './support/weft-server';

// Isolation at SERIALIZABLE, as a client sees it, on Weft's real cluster (`weft demo`: meta,
// three node processes, four shards, the gateway) and, side by side, on PostgreSQL 15:
//   1. lost update: two read-modify-write sessions on one row; the final value is the number of
//      commits that succeeded (the loser gets 40001, or the two run one after the other);
//   2. write skew (doctors on call), on rows of different shards: at most one commits, someone
//      stays on call;
//   3. read skew: a reader's snapshot sees a transfer entirely or not at all;
//   4. an Elle-style list-append history from concurrent workers, checked offline for cycles in
//      the ww/wr/rw dependency graph and for aborted, intermediate, lost and garbage reads (the
//      checker, test/support/list-append.ts, is first shown to catch hand-made anomalies);
//   5. (Weft only) follower reads under weft.max_staleness and AS OF SYSTEM TIME never see a
//      value committed after their timestamp, and always see one committed well before it.
// Any failure on Weft is a real isolation bug: the failure message carries the history.

jest.setTimeout(180_000);
afterAll(() => stopStartedServers());

type Kind = 'postgres' | 'weft';
const KINDS: readonly Kind[] = ['postgres', 'weft'];

/** ISO_VERBOSE=1 prints what each scenario saw (outcomes, the list-append summary). */
const log = (line: string): void => {
  if (process.env.ISO_VERBOSE) process.stdout.write(`[isolation] ${line}\n`);
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The SQLSTATE of a server error, or undefined (connection loss, client timeout, no error). */
const sqlState = (e: unknown): string | undefined => (e instanceof DatabaseError ? e.code : undefined);
const describeError = (e: unknown): string => (e instanceof DatabaseError ? `${e.code} ${e.message}` : String(e));

/** A promise's outcome, without throwing: lets a test start a statement and look at it later. */
type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
const settle = <T>(p: Promise<T>): Promise<Settled<T>> => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

/** Whether a promise is still pending after `ms`. */
async function pendingAfter(p: Promise<unknown>, ms: number): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await sleep(ms);
  return !done;
}

/** mulberry32: a small seeded PRNG, so a failing workload can be replayed with ISO_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const servers = new Map<Kind, Promise<SqlServer>>();
/** One server per kind for the whole file (the Weft cluster takes a while to start). */
function server(kind: Kind): Promise<SqlServer> {
  let s = servers.get(kind);
  if (!s) {
    s = kind === 'weft' ? startCluster() : startPostgres();
    servers.set(kind, s);
  }
  return s;
}

const allClients: Client[] = [];
afterAll(async () => {
  await Promise.all(allClients.map((c) => c.end().catch(() => undefined)));
});

async function connect(kind: Kind, opts: { queryTimeoutMs?: number } = {}): Promise<Client> {
  const s = await server(kind);
  const c = new Client({ host: s.host, port: s.port, user: s.user, database: s.database, query_timeout: opts.queryTimeoutMs });
  // A connection the server drops must fail its queries, not crash the test process.
  c.on('error', () => undefined);
  await c.connect();
  allClients.push(c);
  await c.query("SET default_transaction_isolation = 'serializable'");
  return c;
}

async function close(c: Client): Promise<void> {
  const i = allClients.indexOf(c);
  if (i >= 0) allClients.splice(i, 1);
  await c.end().catch(() => undefined);
}

/**
 * Two integer primary-key values whose rows live on different shards (Weft), checked against
 * the key ranges SHOW RANGES reports; any two on PostgreSQL. The shard hash of an int primary
 * key depends on the value only (not the table), computed with the storage layer's encoder.
 */
async function idsOnDifferentShards(kind: Kind, c: Client, table: string): Promise<{ a: number; b: number; shards: string }> {
  if (kind === 'postgres') return { a: 1, b: 2, shards: 'one server' };
  const ranges = (await c.query<{ shard_id: string; start_key: string; end_key: string }>(`SHOW RANGES FROM TABLE ${table}`)).rows.map((r) => {
    const lo = Number.parseInt(r.start_key.split('/').pop() ?? '', 16);
    const hiText = r.end_key.split('/').pop() ?? '';
    return { shard: Number(r.shard_id), lo, hi: hiText === 'ffff+' ? 0x10000 : Number.parseInt(hiText, 16) };
  });
  expect(ranges.length).toBeGreaterThanOrEqual(2);
  for (const r of ranges) expect(Number.isInteger(r.lo) && Number.isInteger(r.hi) && r.lo < r.hi).toBe(true);
  const shardOf = (id: number): number => {
    const key = encodeIndexKey({ tableId: 100, indexId: 1, types: ['int4'], directions: ['asc'], hashColumns: 1 }, [{ type: 'int4', value: id }]);
    const hash = keyRoute(key)?.hash;
    const r = ranges.find((x) => hash !== undefined && x.lo <= hash && hash < x.hi);
    if (!r) throw new Error(`no range of SHOW RANGES holds hash ${hash} (id ${id})`);
    return r.shard;
  };
  const a = 1;
  for (let b = 2; b < 1000; b++) {
    if (shardOf(b) !== shardOf(a)) return { a, b, shards: `id ${a} on shard ${shardOf(a)}, id ${b} on shard ${shardOf(b)}` };
  }
  throw new Error('no two ids below 1000 on different shards');
}

describe('the list-append checker', () => {
  const t = (id: number, status: TxnStatus, ops: MicroOp[], process = 0): TxnRecord => ({ id, process, status, ops });
  const ap = (k: number, v: number): MicroOp => ({ f: 'append', k, v });
  const r = (k: number, v: number[]): MicroOp => ({ f: 'r', k, v });

  it('accepts a serializable history', () => {
    const res = checkListAppend([
      t(1, 'ok', [ap(1, 1), ap(2, 1)]),
      t(2, 'ok', [r(1, [1]), ap(1, 2)]),
      t(3, 'ok', [r(2, [1]), r(1, [1, 2])]),
      t(4, 'fail', [ap(2, 9)]),
      t(5, 'info', [ap(2, 3)]), // never observed: did not commit
      t(6, 'ok', [r(1, [1]), r(2, [1])]), // an older snapshot: fine at serializable
      t(7, 'ok', [r(1, [1, 2]), r(2, [1])]),
    ]);
    expect(describeAnomalies(res.anomalies)).toBe('');
    expect(res.valid).toBe(true);
    expect(res.versionOrder.get(1)).toEqual([1, 2]);
    expect(res.committed).toBe(5);
  });

  it('finds write skew (G2-item: two rw anti-dependencies) and names the cycle', () => {
    // T1 and T2 both read keys 1 and 2 empty, then each appends to a different one.
    const res = checkListAppend([
      t(1, 'ok', [r(1, []), r(2, []), ap(1, 1)]),
      t(2, 'ok', [r(1, []), r(2, []), ap(2, 2)]),
      t(3, 'ok', [r(1, [1]), r(2, [2])]),
    ]);
    expect(res.valid).toBe(false);
    const cyc = res.anomalies.find((a) => a.type === 'G2-item');
    expect(cyc?.cycle?.map((e) => e.kind)).toEqual(['rw', 'rw']);
    expect(new Set(cyc?.txns.map((x) => x.id))).toEqual(new Set([1, 2]));
  });

  it('finds G1c (a ww/wr cycle) and G-single (read skew)', () => {
    // G1c: T1 appends 1 to key 1 before T2's 2, but reads T2's append to key 2 first.
    const g1c = checkListAppend([
      t(1, 'ok', [ap(1, 1), r(2, [2])]),
      t(2, 'ok', [ap(1, 2), ap(2, 2)]),
      t(3, 'ok', [r(1, [1, 2]), r(2, [2])]),
    ]);
    expect(g1c.anomalies.map((a) => a.type)).toContain('G1c');
    // Read skew: T3 sees T1's append to key 1 but not T1's append to key 2.
    const skew = checkListAppend([
      t(1, 'ok', [ap(1, 1), ap(2, 1)]),
      t(3, 'ok', [r(1, [1]), r(2, [])]),
      t(4, 'ok', [r(1, [1]), r(2, [1])]),
    ]);
    const single = skew.anomalies.find((a) => a.type === 'G-single');
    expect(single?.cycle?.map((e) => e.kind).sort()).toEqual(['rw', 'wr']);
  });

  it('finds a lost update, aborted and intermediate reads, garbage, disagreeing orders and internal inconsistency', () => {
    const res = checkListAppend([
      // Lost update: both read [1] and wrote [1, x]: T2's 2 vanished.
      t(1, 'ok', [ap(1, 1)]),
      t(2, 'ok', [ap(1, 2)]),
      t(3, 'ok', [ap(1, 3)]),
      t(4, 'ok', [r(1, [1, 3])]),
      t(5, 'ok', [r(1, [1, 2])]), // also not a prefix of [1, 3]
      // Aborted read and intermediate read.
      t(6, 'fail', [ap(2, 6)]),
      t(7, 'ok', [ap(3, 7), ap(3, 8)]),
      t(8, 'ok', [r(2, [6]), r(3, [7])]),
      // Garbage and internal inconsistency.
      t(9, 'ok', [r(4, [99])]),
      t(10, 'ok', [ap(5, 10), r(5, [])]),
      t(11, 'ok', [r(3, [7, 8]), r(5, [10])]),
    ]);
    const types = new Set(res.anomalies.map((a) => a.type));
    for (const want of ['lost-append', 'incompatible-order', 'G1a', 'G1b', 'garbage-read', 'internal'] as const) expect(types).toContain(want);
    expect(describeAnomalies(res.anomalies)).toContain('T2 committed append 2 to key 1');
  });
});

describe.each(KINDS.map((k) => [targetLabel(k), k] as const))('isolation at SERIALIZABLE on %s', (_label, kind) => {
  const label = targetLabel(kind);
  let admin: Client;

  beforeAll(async () => {
    admin = await connect(kind);
    await admin.query('CREATE TABLE iso_counter (id int PRIMARY KEY, v int NOT NULL)');
    await admin.query('CREATE TABLE iso_doctors (id int PRIMARY KEY, on_call boolean NOT NULL)');
    await admin.query('CREATE TABLE iso_accounts (id int PRIMARY KEY, balance int NOT NULL)');
    await admin.query('CREATE TABLE la (k int PRIMARY KEY, v text)');
  });

  /** Reads v of the counter row in the session's transaction. */
  const readCounter = async (c: Client, forUpdate = false): Promise<number> =>
    (await c.query<{ v: number }>(`SELECT v FROM iso_counter WHERE id = 1${forUpdate ? ' FOR UPDATE' : ''}`)).rows[0].v;

  it.each([false, true])(`lost update is prevented on ${label} (read with FOR UPDATE: %s)`, async (forUpdate) => {
    const a = await connect(kind);
    const b = await connect(kind);
    const trace: string[] = [];
    let commits = 0;
    await admin.query('DELETE FROM iso_counter');
    await admin.query('INSERT INTO iso_counter VALUES (1, 0)');
    for (let round = 0; round < 4; round++) {
      const before = await readCounter(admin);
      // Alternate who goes first.
      const [first, second] = round % 2 === 0 ? [a, b] : [b, a];
      await first.query('BEGIN');
      await second.query('BEGIN');
      const v1 = await readCounter(first, forUpdate);
      // With FOR UPDATE the second's read queues behind the first's lock: start it, don't wait.
      const read2 = settle(readCounter(second, forUpdate));
      await first.query('UPDATE iso_counter SET v = $1 WHERE id = 1', [v1 + 1]);
      let update2: Promise<Settled<unknown>> | undefined;
      if (!forUpdate) {
        const r2 = await read2;
        if (!r2.ok) throw r2.error;
        // The second UPDATE waits on the first's row lock: issue it without awaiting.
        update2 = settle(second.query('UPDATE iso_counter SET v = $1 WHERE id = 1', [r2.value + 1]));
      }
      const waited = await pendingAfter(update2 ?? read2, 300);
      const c1 = await settle(first.query('COMMIT'));
      let ok2 = false;
      let err2: unknown;
      if (forUpdate) {
        const r2 = await read2;
        if (r2.ok) {
          const u = await settle(second.query('UPDATE iso_counter SET v = $1 WHERE id = 1', [r2.value + 1]));
          if (u.ok) {
            const c2 = await settle(second.query('COMMIT'));
            ok2 = c2.ok;
            if (!c2.ok) err2 = c2.error;
          } else err2 = u.error;
        } else err2 = r2.error;
      } else {
        const u = await (update2 as Promise<Settled<unknown>>);
        if (u.ok) {
          const c2 = await settle(second.query('COMMIT'));
          ok2 = c2.ok;
          if (!c2.ok) err2 = c2.error;
        } else err2 = u.error;
      }
      if (!ok2) await second.query('ROLLBACK');
      const after = await readCounter(admin);
      const won = (c1.ok ? 1 : 0) + (ok2 ? 1 : 0);
      commits += won;
      trace.push(`round ${round}: ${before} -> ${after}; first ${c1.ok ? 'committed' : describeError(c1.error)}; second ${waited ? 'waited, ' : ''}${ok2 ? 'committed' : describeError(err2)}`);
      // The invariant, whatever the mechanism: every commit added exactly one.
      expect({ trace, after }).toEqual({ trace, after: before + won });
      expect(won).toBeGreaterThanOrEqual(1);
      if (!ok2) expect({ trace, code: sqlState(err2) }).toEqual({ trace, code: '40001' });
      if (!c1.ok) expect({ trace, code: sqlState(c1.error) }).toEqual({ trace, code: '40001' });
    }
    expect(await readCounter(admin)).toBe(commits);
    log(`lost update on ${label} (FOR UPDATE: ${forUpdate}):\n  ${trace.join('\n  ')}`);
    await close(a);
    await close(b);
  });

  it(`lost update is prevented under concurrency on ${label}: the counter equals the commits`, async () => {
    await admin.query('DELETE FROM iso_counter');
    await admin.query('INSERT INTO iso_counter VALUES (1, 0)');
    const sessions = await Promise.all([0, 1, 2, 3].map(() => connect(kind, { queryTimeoutMs: 30_000 })));
    const codes = new Map<string, number>();
    let commits = 0;
    await Promise.all(
      sessions.map(async (c) => {
        for (let i = 0; i < 12; i++) {
          try {
            await c.query('BEGIN');
            const v = await readCounter(c);
            await c.query('UPDATE iso_counter SET v = $1 WHERE id = 1', [v + 1]);
            await c.query('COMMIT');
            commits++;
          } catch (e) {
            const code = sqlState(e) ?? String(e);
            codes.set(code, (codes.get(code) ?? 0) + 1);
            await c.query('ROLLBACK');
          }
        }
      }),
    );
    for (const c of sessions) await close(c);
    log(`concurrent increments on ${label}: ${commits} of 48 committed, errors ${JSON.stringify([...codes])}`);
    expect([...codes.keys()].filter((c) => c !== '40001')).toEqual([]);
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(await readCounter(admin)).toBe(commits);
  });

  it.each(['point reads', 'a scan'])(`write skew (doctors on call, rows on different shards) is prevented on ${label}, reading with %s`, async (how) => {
    const { a: idA, b: idB, shards } = await idsOnDifferentShards(kind, admin, 'iso_doctors');
    const s1 = await connect(kind);
    const s2 = await connect(kind);
    const trace: string[] = [shards];
    for (let round = 0; round < 3; round++) {
      await admin.query('DELETE FROM iso_doctors');
      await admin.query('INSERT INTO iso_doctors VALUES ($1, true), ($2, true)', [idA, idB]);
      const sessions = [
        { c: s1, own: idA, other: idB, failed: undefined as unknown, committed: false },
        { c: s2, own: idB, other: idA, failed: undefined as unknown, committed: false },
      ];
      if (round === 1) sessions.reverse();
      const step = async (s: (typeof sessions)[number], sql: string, params: unknown[] = []): Promise<boolean> => {
        if (s.failed !== undefined) return false;
        const r = await settle(s.c.query(sql, params));
        if (!r.ok) s.failed = r.error;
        return r.ok;
      };
      const othersOnCall = new Map<Client, boolean>();
      for (const s of sessions) await step(s, 'BEGIN');
      // Each reads both doctors (interleaved), decides, then writes its own row.
      for (const s of sessions) {
        if (how === 'a scan') {
          const r = await settle(s.c.query<{ n: number }>('SELECT count(*)::int AS n FROM iso_doctors WHERE on_call'));
          if (r.ok) othersOnCall.set(s.c, r.value.rows[0].n >= 2);
          else s.failed = r.error;
        } else {
          const r = await settle(
            (async () => {
              await s.c.query('SELECT on_call FROM iso_doctors WHERE id = $1', [s.own]);
              return (await s.c.query<{ on_call: boolean }>('SELECT on_call FROM iso_doctors WHERE id = $1', [s.other])).rows[0].on_call;
            })(),
          );
          if (r.ok) othersOnCall.set(s.c, r.value);
          else s.failed = r.error;
        }
      }
      for (const s of sessions) {
        if (othersOnCall.get(s.c) === true) await step(s, 'UPDATE iso_doctors SET on_call = false WHERE id = $1', [s.own]);
      }
      for (const s of sessions) s.committed = await step(s, 'COMMIT');
      for (const s of sessions) if (!s.committed) await s.c.query('ROLLBACK');
      const onCall = (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM iso_doctors WHERE on_call')).rows[0].n;
      trace.push(`round ${round}: ${sessions.map((s) => `${s.own} ${s.committed ? 'committed' : describeError(s.failed)}`).join('; ')}; on call: ${onCall}`);
      expect({ trace, onCall: onCall >= 1, committed: sessions.filter((s) => s.committed).length <= 1 }).toEqual({ trace, onCall: true, committed: true });
      expect({ trace, codes: sessions.filter((s) => !s.committed).map((s) => sqlState(s.failed)) }).toEqual({ trace, codes: sessions.filter((s) => !s.committed).map(() => '40001') });
      // Both saw the other on call and committed one after the other: the first to commit
      // conflicts with nothing committed, so exactly one goes off call (no spurious double abort).
      expect({ trace, onCall }).toEqual({ trace, onCall: 1 });
    }
    log(`write skew on ${label} (${how}):\n  ${trace.join('\n  ')}`);
    await close(s1);
    await close(s2);
  });

  it(`read skew is prevented on ${label}: a snapshot sees a transfer entirely or not at all`, async () => {
    const { a: idA, b: idB, shards } = await idsOnDifferentShards(kind, admin, 'iso_accounts');
    const reader = await connect(kind);
    const writer = await connect(kind);
    const balance = async (c: Client, id: number): Promise<number> => (await c.query<{ balance: number }>('SELECT balance FROM iso_accounts WHERE id = $1', [id])).rows[0].balance;
    for (const readOnly of [true, false]) {
      await admin.query('DELETE FROM iso_accounts');
      await admin.query('INSERT INTO iso_accounts VALUES ($1, 100), ($2, 100)', [idA, idB]);
      await reader.query(readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
      const a1 = await balance(reader, idA);
      await writer.query('BEGIN');
      await writer.query('UPDATE iso_accounts SET balance = balance - 30 WHERE id = $1', [idA]);
      await writer.query('UPDATE iso_accounts SET balance = balance + 30 WHERE id = $1', [idB]);
      await writer.query('COMMIT');
      const later = await settle(
        (async () => ({
          b1: await balance(reader, idB),
          a2: await balance(reader, idA),
          total: (await reader.query<{ s: number }>('SELECT sum(balance)::int AS s FROM iso_accounts')).rows[0].s,
        }))(),
      );
      if (!later.ok) {
        // Weft only: the transfer's write on the other shard lies within the reader's
        // uncertainty window (decision 0055), and the reader cannot tell whether it committed
        // before the reader began (a faster clock) or after. Its earlier read changed too, so
        // it cannot move its snapshot up: it refuses (40001) rather than risk a stale read.
        expect({ kind, shards, readOnly, code: sqlState(later.error) }).toEqual({ kind: 'weft', shards, readOnly, code: '40001' });
        log(`read skew on ${label}, ${readOnly ? 'read-only' : 'read-write'} reader: ${describeError(later.error)}`);
        await reader.query('ROLLBACK');
        expect(a1).toBe(100);
        const after = (await admin.query<{ id: number; balance: number }>('SELECT id, balance FROM iso_accounts WHERE id IN ($1, $2) ORDER BY balance', [idA, idB])).rows;
        expect(after).toEqual([{ id: idA, balance: 70 }, { id: idB, balance: 130 }]);
        continue;
      }
      const { b1, a2, total } = later.value;
      let committed = false;
      if (!readOnly) {
        // A read-write reader: whatever it commits must be consistent with what it saw.
        const w = await settle(reader.query('INSERT INTO iso_accounts VALUES ($1, $2)', [idA + idB + 1000, a1 + b1]));
        const c = w.ok ? await settle(reader.query('COMMIT')) : w;
        committed = c.ok;
        log(`read skew on ${label}, read-write reader: ${c.ok ? 'committed' : describeError(c.error)}`);
        if (!c.ok) {
          expect({ shards, code: sqlState(c.error) }).toEqual({ shards, code: '40001' });
          await reader.query('ROLLBACK');
        }
      } else {
        await reader.query('COMMIT');
      }
      expect({ shards, readOnly, a1, b1, a2, total }).toEqual({ shards, readOnly, a1: 100, b1: 100, a2: 100, total: 200 });
      const after = (await admin.query<{ id: number; balance: number }>('SELECT id, balance FROM iso_accounts WHERE id IN ($1, $2) ORDER BY balance', [idA, idB])).rows;
      expect(after).toEqual([
        { id: idA, balance: 70 },
        { id: idB, balance: 130 },
      ]);
      if (committed) expect((await admin.query<{ balance: number }>('SELECT balance FROM iso_accounts WHERE id = $1', [idA + idB + 1000])).rows).toEqual([{ balance: 200 }]);
    }
    await close(reader);
    await close(writer);
  });

  it(`an Elle-style list-append history from concurrent workers has no anomaly on ${label}`, async () => {
    const seed = Number(process.env.ISO_SEED ?? Date.now() % 1_000_000);
    const rand = prng(seed);
    // ISO_WORKERS / ISO_TXNS / ISO_SECONDS make a longer soak run of the same workload.
    const WORKERS = Number(process.env.ISO_WORKERS ?? 6);
    const KEYS = 8;
    const MAX_TXNS = Number(process.env.ISO_TXNS ?? 600);
    const DEADLINE_MS = 1000 * Number(process.env.ISO_SECONDS ?? 40);
    const history: TxnRecord[] = [];
    const codes = new Map<string, number>();
    let nextTxn = 1;
    let nextValue = 1;
    const started = Date.now();
    const parse = (v: string | null | undefined): number[] => (v === null || v === undefined || v === '' ? [] : v.split(',').map(Number));

    const worker = async (worker: number): Promise<void> => {
      let c = await connect(kind, { queryTimeoutMs: 30_000 });
      while (nextTxn <= MAX_TXNS && Date.now() - started < DEADLINE_MS) {
        const id = nextTxn++;
        // Keys drawn unevenly so a few are hot.
        const plan: { f: 'append' | 'r'; k: number }[] = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => ({
          f: rand() < 0.5 ? ('append' as const) : ('r' as const),
          k: 1 + Math.floor(rand() * rand() * KEYS),
        }));
        const ops: MicroOp[] = plan.map((p) => (p.f === 'append' ? { f: 'append', k: p.k, v: nextValue++ } : { f: 'r', k: p.k, v: null }));
        // Some appends read without FOR UPDATE (the UPDATE then takes the lock and must notice a
        // change since the snapshot); some transactions read all their keys in one scan.
        const lockingRead = rand() < 0.6;
        const scanAll = ops.every((o) => o.f === 'r') && ops.length > 1 && rand() < 0.5;
        let status: TxnStatus = 'ok';
        let error: string | undefined;
        let stage = 'body';
        try {
          await c.query('BEGIN');
          if (scanAll) {
            const keys = [...new Set(ops.map((o) => o.k))];
            const cur = await c.query<{ k: number; v: string | null }>(`SELECT k, v FROM la WHERE k IN (${keys.join(', ')})`);
            for (let i = 0; i < ops.length; i++) ops[i] = { f: 'r', k: ops[i].k, v: parse(cur.rows.find((r) => r.k === ops[i].k)?.v) };
          }
          for (let i = 0; i < ops.length && !scanAll; i++) {
            const op = ops[i];
            if (op.f === 'append') {
              // Read-modify-write, as an application appends.
              const cur = await c.query<{ v: string | null }>(`SELECT v FROM la WHERE k = $1${lockingRead ? ' FOR UPDATE' : ''}`, [op.k]);
              const row = cur.rows[0];
              if (row) await c.query('UPDATE la SET v = $2 WHERE k = $1', [op.k, row.v ? `${row.v},${op.v}` : String(op.v)]);
              else await c.query('INSERT INTO la (k, v) VALUES ($1, $2)', [op.k, String(op.v)]);
            } else {
              const cur = await c.query<{ v: string | null }>('SELECT v FROM la WHERE k = $1', [op.k]);
              ops[i] = { f: 'r', k: op.k, v: parse(cur.rows[0]?.v) };
            }
          }
          stage = 'commit';
          await c.query('COMMIT');
        } catch (e) {
          const code = sqlState(e);
          codes.set(code ?? 'no SQLSTATE', (codes.get(code ?? 'no SQLSTATE') ?? 0) + 1);
          error = describeError(e);
          // Before COMMIT nothing can commit; at COMMIT, 40003 or a lost connection leave it unknown.
          status = stage === 'commit' && (code === undefined || code === '40003') ? 'info' : 'fail';
          if (code === undefined) {
            await close(c);
            c = await connect(kind, { queryTimeoutMs: 30_000 });
          } else {
            await c.query('ROLLBACK').catch(() => undefined);
          }
        }
        history.push({ id, process: worker, status, ops, error });
      }
      await close(c);
    };
    await Promise.all(Array.from({ length: WORKERS }, (_v, i) => worker(i)));
    const elapsed = Date.now() - started;

    // The final state, read in one committed transaction after every worker is done.
    const fin = await connect(kind);
    await fin.query('BEGIN');
    const rows = (await fin.query<{ k: number; v: string | null }>('SELECT k, v FROM la ORDER BY k')).rows;
    await fin.query('COMMIT');
    await close(fin);
    const finalOps: MicroOp[] = Array.from({ length: KEYS }, (_v, i) => ({ f: 'r', k: i + 1, v: parse(rows.find((r) => r.k === i + 1)?.v) }));
    history.push({ id: nextTxn++, process: -1, status: 'ok', ops: finalOps });

    const res = checkListAppend(history);
    const count = (s: TxnStatus): number => history.filter((t) => t.status === s).length;
    const summary = `${label}, seed ${seed}: ${history.length} txns in ${elapsed} ms (${count('ok')} ok, ${count('fail')} failed, ${count('info')} unknown; errors ${JSON.stringify([...codes])}), ${res.committed} committed, ${res.edges} edges`;
    const report = res.valid ? summary : `${summary}\n${describeAnomalies(res.anomalies)}`;
    log(report);
    // A failure here is an isolation anomaly: the report names it with its transactions.
    expect(report).toBe(summary);
    // The workload did something: commits on every side, and appends that landed.
    expect(count('ok')).toBeGreaterThan(history.length / 4);
    expect([...res.versionOrder.values()].reduce((n, o) => n + o.length, 0)).toBeGreaterThan(20);
    // Failures are serialization failures, deadlocks or (PostgreSQL) concurrent inserts of a key.
    expect([...codes.keys()].filter((c) => !['40001', '40P01', '23505'].includes(c))).toEqual([]);
  });
});

describe('follower reads on Weft never see a value committed after their timestamp', () => {
  it.each([
    ['weft.max_staleness', "SET weft.max_staleness = '2s'", 'SELECT v FROM iso_fr WHERE id = 1'],
    ['AS OF SYSTEM TIME', 'SET weft.max_staleness = 0', "SELECT v FROM iso_fr AS OF SYSTEM TIME '-2s' WHERE id = 1"],
  ])('%s', async (name, setup, read) => {
    const writer = await connect('weft');
    const reader = await connect('weft');
    await writer.query('DROP TABLE IF EXISTS iso_fr');
    await writer.query('CREATE TABLE iso_fr (id int PRIMARY KEY, v int NOT NULL)');
    await writer.query('INSERT INTO iso_fr VALUES (1, 0)');
    await reader.query(setup);
    // The table and the row must be older than the read timestamp (the catalog is read at it too).
    await sleep(3000);

    // One writer bumps v every ~100 ms, recording wall time before and after each commit.
    const writes: { v: number; start: number; ack: number }[] = [];
    const reads: { v: number; start: number; end: number }[] = [];
    let stop = false;
    const writing = (async () => {
      for (let v = 1; !stop; v++) {
        const start = Date.now();
        await writer.query('UPDATE iso_fr SET v = $1 WHERE id = 1', [v]);
        writes.push({ v, start, ack: Date.now() });
        await sleep(100);
      }
    })();
    const reading = (async () => {
      await sleep(500);
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        const start = Date.now();
        const r = await reader.query<{ v: number }>(read);
        reads.push({ v: r.rows[0].v, start, end: Date.now() });
        await sleep(40);
      }
    })();
    await reading;
    stop = true;
    await writing;

    // The read timestamp is the gateway's clock at the read minus 2 s: in [start - 2 s, end - 2 s]
    // (one host, one clock). A commit acknowledged before start - 2.5 s has a timestamp below it
    // and must be seen; one begun after the read began (indeed, after end - 1.7 s: the commit
    // timestamp is at least the leader's clock when it commits) is above it and must not be.
    const bad: string[] = [];
    let mustSeeChecks = 0;
    let mustNotChecks = 0;
    for (const r of reads) {
      const mustSee = writes.filter((w) => w.ack < r.start - 2500).reduce((m, w) => Math.max(m, w.v), 0);
      const tooNew = writes.filter((w) => w.start > r.end - 1700).reduce((m, w) => Math.min(m, w.v), Number.POSITIVE_INFINITY);
      if (mustSee > 0) mustSeeChecks++;
      if (tooNew !== Number.POSITIVE_INFINITY) mustNotChecks++;
      if (r.v < mustSee) bad.push(`read at [${r.start}, ${r.end}] saw ${r.v}, but ${mustSee} was acknowledged at ${writes[mustSee - 1].ack}`);
      if (r.v >= tooNew) bad.push(`read at [${r.start}, ${r.end}] saw ${r.v}, but ${tooNew} was only begun at ${writes[tooNew - 1].start}`);
    }
    log(`follower reads (${name}): ${reads.length} reads, ${writes.length} writes, ${mustSeeChecks} must-see and ${mustNotChecks} must-not-see bounds checked`);
    expect(bad).toEqual([]);
    expect(reads.length).toBeGreaterThan(10);
    expect(mustSeeChecks).toBeGreaterThan(5);
    expect(mustNotChecks).toBeGreaterThan(5);
    // The reads were stale (else the bounds above would be vacuous): most saw neither the newest write.
    expect(reads.filter((r) => r.v < (writes.filter((w) => w.ack < r.start).pop()?.v ?? 0)).length).toBeGreaterThan(reads.length / 2);
    await close(writer);
    await close(reader);
  });
});
