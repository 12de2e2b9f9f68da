import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeEntry, type CommitEntry, type Timestamp } from '@weft/logentry';
import { Materializer } from '@weft/materialize';
import { MvccStore } from '@weft/storage';
import { AmbiguousResultError, NotLeaderError, ReadTsTooFarError, ReplicaStoppedError } from './errors';
import type { ReplicaRaft, ReplicaTimers } from './ports';
import { ShardReplica } from './replica';

// The replica's rules against the real RocksDB materializer, with a scripted Raft group:
// proposals commit (and apply) on the next turn unless the test says leadership was lost.
class ScriptedRaft implements ReplicaRaft {
  leader = 1;
  term = 1;
  lease = true;
  lastIndex = 0;
  failNext = false;
  /** How the next ReadIndex calls end: a read point, no quorum in time, or leadership lost. */
  readIndexMode: 'ok' | 'timeout' | 'lose-leadership' = 'ok';
  readIndexCalls = 0;
  replica?: ShardReplica;
  readonly proposed: Uint8Array[] = [];

  propose(data: Uint8Array): Promise<number> {
    if (this.leader !== 1) return Promise.reject(new Error('not leader'));
    const index = ++this.lastIndex;
    this.proposed.push(data);
    const fail = this.failNext;
    this.failNext = false;
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        if (fail) return reject(new Error('leadership lost'));
        this.replica?.applyCommitted([{ index, term: this.term, data }]);
        resolve(index);
      }),
    );
  }

  status(): { id: number; leader: number; term: number } {
    return { id: 1, leader: this.leader, term: this.term };
  }

  leaseValid(): boolean {
    return this.lease && this.leader === 1;
  }

  readIndex(): Promise<number> {
    if (this.leader !== 1) return Promise.reject(new Error('not leader'));
    this.readIndexCalls++;
    // The read point is the commit index when the call is made (everything proposed so far
    // commits on the next turn, before the heartbeat round "completes").
    const index = this.lastIndex;
    const mode = this.readIndexMode;
    return new Promise((resolve, reject) =>
      setImmediate(() => {
        if (mode === 'timeout') return reject(new Error('no quorum in time'));
        if (mode === 'lose-leadership') {
          this.leader = 2;
          this.term++;
          return reject(new Error('leadership lost'));
        }
        resolve(index);
      }),
    );
  }
}

const noTimers: ReplicaTimers = { every: () => ({ stop: () => undefined }) };
const SEC = 1_000_000n;

function commit(k: string, v: string, readTs: Timestamp): CommitEntry {
  return { type: 'commit', txnId: Buffer.alloc(16, k.length), readTs, minCommitTs: 0n, reads: [], writes: [{ kind: 'put', key: Buffer.from(k), value: Buffer.from(v) }] };
}

describe('ShardReplica', () => {
  let dir: string;
  let store: MvccStore;
  let raft: ScriptedRaft;
  let replica: ShardReplica;
  let wall: bigint;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'weft-replica-'));
    store = await MvccStore.open(dir);
    const sm = await Materializer.open(store, 7);
    raft = new ScriptedRaft();
    wall = 1_700_000_000n * SEC;
    replica = new ShardReplica({ raft, stateMachine: sm, clock: { now: () => wall }, timers: noTimers, maxClockOffsetUs: 250_000n });
    raft.replica = replica;
  });

  afterEach(async () => {
    replica.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves each proposal with its own apply outcome', async () => {
    const [a, b] = await Promise.all([replica.propose(commit('a', '1', wall)), replica.propose(commit('a', '2', wall - 10n))]);
    expect(a.status).toBe('committed');
    // b read before a committed and wrote the same key: the materializer aborts it.
    expect(b).toMatchObject({ status: 'aborted', sqlstate: '40001' });
  });

  it("lets a transaction's row locks go when its commit or resolve applies, before the coordinator releases them", async () => {
    const a = Buffer.alloc(16, 0xa1);
    const b = Buffer.alloc(16, 0xb2);
    const c = Buffer.alloc(16, 0xc3);
    await replica.propose(commit('warm', 'x', wall));
    wall = await replica.now();
    expect(await replica.lockRead(Buffer.from('row'), a, 1000, 0n)).toMatchObject({ granted: true });
    let bGranted = false;
    const bWaits = replica.lockRead(Buffer.from('row'), b, 5000, 0n).then((r) => (bGranted = r.granted));
    await new Promise((r) => setTimeout(r, 20));
    expect(bGranted).toBe(false);
    // a's 1PC commit applies: b has the row without any releaseLocks call.
    await replica.propose({ ...commit('row', 'a', wall), txnId: a });
    await bWaits;
    expect(bGranted).toBe(true);
    // The same for a 2PC participant: b's resolve lets c in.
    let cGranted = false;
    const cWaits = replica.lockRead(Buffer.from('row'), c, 5000, 0n).then((r) => (cGranted = r.granted));
    await new Promise((r) => setTimeout(r, 20));
    expect(cGranted).toBe(false);
    await replica.propose({ type: 'resolve', txnId: b, decision: { kind: 'abort' } });
    await cWaits;
    expect(cGranted).toBe(true);
  });

  it('commits land above every read the leader served (commit floor)', async () => {
    await replica.propose(commit('warm', 'x', wall));
    // A new leader's first commits land 2 x max offset ahead (its floor): let physical time catch up.
    wall = await replica.now();
    const readTs = wall + 200_000n; // ahead of the clock, within the max offset
    expect(await replica.get(Buffer.from('k'), readTs)).toBeUndefined();
    const out = await replica.propose(commit('k', 'v', wall));
    expect(out.status).toBe('committed');
    expect((out as { commitTs: Timestamp }).commitTs).toBeGreaterThan(readTs);
    // ... so the read at readTs stays repeatable.
    expect(await replica.get(Buffer.from('k'), readTs)).toBeUndefined();
  });

  it('refuses a read timestamp further ahead than the max clock offset', async () => {
    await replica.propose(commit('warm', 'x', wall));
    await expect(replica.get(Buffer.from('k'), (await replica.now()) + 10n * SEC)).rejects.toBeInstanceOf(ReadTsTooFarError);
  });

  it('bounds reads by the physical clock, so reads cannot walk the hybrid clock ahead (shard sim seed 355)', async () => {
    await replica.propose(commit('warm', 'x', wall));
    wall = await replica.now();
    // Each read may be up to max offset ahead of the physical clock, but not of the last read:
    // otherwise every read would raise the hybrid clock and the next read's limit with it.
    let ts = wall;
    for (let i = 0; i < 5; i++) {
      ts += 200_000n;
      const r = replica.get(Buffer.from('k'), ts);
      if (i === 0) await expect(r).resolves.toBeUndefined();
      else await expect(r).rejects.toBeInstanceOf(ReadTsTooFarError);
    }
  });

  it('without a lease, a read confirms leadership by ReadIndex, writing nothing to the log', async () => {
    await replica.propose(commit('a', '1', wall));
    raft.lease = false;
    const before = raft.proposed.length;
    const [x, y] = await Promise.all([replica.get(Buffer.from('a'), await replica.now()), replica.get(Buffer.from('b'), await replica.now())]);
    expect(x?.value.toString()).toBe('1');
    expect(y).toBeUndefined();
    expect(raft.proposed.length).toBe(before);
    expect(raft.readIndexCalls).toBe(2);
    expect(replica.stats).toMatchObject({ readIndexReads: 2, barrierReads: 0 });
  });

  it('a ReadIndex read sees a write acknowledged before it and keeps later commits above it', async () => {
    raft.lease = false;
    await replica.propose(commit('a', '1', wall));
    wall = await replica.now();
    const readTs = wall + 100_000n;
    expect((await replica.get(Buffer.from('a'), readTs))?.value.toString()).toBe('1');
    const out = await replica.propose(commit('a', '2', await replica.now()));
    expect(out.status).toBe('committed');
    expect((out as { commitTs: Timestamp }).commitTs).toBeGreaterThan(readTs);
    expect((await replica.get(Buffer.from('a'), readTs))?.value.toString()).toBe('1');
    expect(replica.stats.readIndexReads).toBe(2);
  });

  it('a ReadIndex that finds the leadership lost fails the read with NotLeaderError', async () => {
    await replica.propose(commit('a', '1', wall));
    raft.lease = false;
    raft.readIndexMode = 'lose-leadership';
    const before = raft.proposed.length;
    await expect(replica.get(Buffer.from('a'), await replica.now())).rejects.toMatchObject({ constructor: NotLeaderError, leaderHint: 2 });
    expect(raft.proposed.length).toBe(before); // no barrier attempted
  });

  it('a ReadIndex without a quorum in time falls back to a barrier entry while still leading', async () => {
    await replica.propose(commit('a', '1', wall));
    raft.lease = false;
    raft.readIndexMode = 'timeout';
    const before = raft.proposed.length;
    const [x, y] = await Promise.all([replica.get(Buffer.from('a'), await replica.now()), replica.get(Buffer.from('b'), await replica.now())]);
    expect(x?.value.toString()).toBe('1');
    expect(y).toBeUndefined();
    // One barrier per read at most (a read may share a barrier proposed after it arrived).
    expect(raft.proposed.length - before).toBeGreaterThanOrEqual(1);
    expect(raft.proposed.length - before).toBeLessThanOrEqual(2);
    expect(replica.stats).toMatchObject({ readIndexReads: 0, barrierReads: 2 });
  });

  it('a follower serves reads at or below its closed timestamp and redirects newer ones', async () => {
    const out = await replica.propose(commit('a', '1', wall));
    const cts = (out as { commitTs: Timestamp }).commitTs;
    wall += SEC;
    await replica.get(Buffer.from('a'), await replica.now()); // lease read, no closed ts yet
    raft.lease = false;
    raft.readIndexMode = 'timeout';
    await replica.get(Buffer.from('a'), await replica.now()); // the fallback barrier closes a timestamp
    expect(replica.closedTs).toBeGreaterThanOrEqual(cts);
    raft.leader = 2;
    expect((await replica.get(Buffer.from('a'), cts))?.value.toString()).toBe('1');
    await expect(replica.get(Buffer.from('a'), replica.closedTs + 1n)).rejects.toMatchObject({ constructor: NotLeaderError, leaderHint: 2 });
    await expect(replica.propose(commit('b', '1', wall))).rejects.toBeInstanceOf(NotLeaderError);
  });

  it('a proposal whose leader is lost mid-flight is ambiguous (40003)', async () => {
    await replica.propose(commit('a', '1', wall));
    raft.failNext = true;
    const err = await replica.propose(commit('b', '1', wall)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmbiguousResultError);
    expect((err as AmbiguousResultError).sqlstate).toBe('40003');
  });

  it.each([
    ['corrupted', (b: Buffer) => Buffer.from(b.map((x, i) => (i === b.length - 3 ? x ^ 0x40 : x)))],
    ['truncated', (b: Buffer) => b.subarray(0, b.length - 5)],
  ])('stops at a %s entry: names shard and index, applies nothing after it', async (_what, damage) => {
    await replica.propose(commit('a', '1', wall));
    const good = encodeEntry(commit('b', '2', wall));
    const applied = replica.appliedIndex;
    const hash = replica.stateHash();
    replica.applyCommitted([
      { index: applied + 1, term: 1, data: damage(good) },
      { index: applied + 2, term: 1, data: encodeEntry(commit('c', '3', wall)) },
    ]);
    const err = replica.stoppedError();
    expect(err).toBeInstanceOf(ReplicaStoppedError);
    expect(err?.message).toContain('shard 7');
    expect(err?.message).toContain(`log index ${applied + 1}`);
    expect(err?.index).toBe(applied + 1);
    expect(replica.appliedIndex).toBe(applied);
    expect(replica.stateHash().equals(hash)).toBe(true);
    // Later deliveries are ignored, and every request now fails with the same error.
    replica.applyCommitted([{ index: applied + 3, term: 1, data: encodeEntry(commit('d', '4', wall)) }]);
    expect(replica.appliedIndex).toBe(applied);
    await expect(replica.get(Buffer.from('a'), 1n)).rejects.toBe(err);
    await expect(replica.propose(commit('e', '5', wall))).rejects.toBe(err);
  });
});
