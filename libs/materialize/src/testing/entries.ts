// A deterministic stream of random log entries for tests and benchmarks (not exported by the
// lib): the same seed always yields the same entries, so two replicas, a crashing process and a
// reference run can apply identical logs. Small key space and lagging read timestamps make
// conflicts (40001), duplicate keys (23505), intents, tombstones and gc all common.
import type { LogEntry, ReadSpan, WriteOp } from '@weft/logentry';

/** mulberry32: tiny, fast, good enough for test data. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export interface StreamOptions {
  readonly keys?: number;
  /** Include 2PC prepare/resolve entries (default true). */
  readonly twoPhase?: boolean;
  /** Include staged transactions: stage chunks, their commit or abort, resolve-staged (default: twoPhase). */
  readonly staged?: boolean;
}

export const keyOf = (i: number): Buffer => Buffer.from(`k/${String(i).padStart(5, '0')}`);

/** Entry i (1-based) of the stream is meant for raft index i; ten timestamp units per index. */
export function* entryStream(seed: number, count: number, options: StreamOptions = {}): Generator<LogEntry> {
  const rng = new Rng(seed);
  const nkeys = options.keys ?? 200;
  const twoPhase = options.twoPhase ?? true;
  const open: Buffer[] = []; // prepared txn ids not yet resolved
  const staging: { id: Buffer; readTs: bigint; seq: number }[] = []; // staged txns still open
  const decided: Buffer[] = []; // staged txns sent a commit or an abort
  const settled: Buffer[] = []; // 2PC txns resolved here, whose markers a forget may drop
  const staged = options.staged ?? twoPhase;
  let txnSeq = 0;
  const txnId = (): Buffer => {
    const b = Buffer.alloc(16);
    b.writeUInt32BE(seed >>> 0, 0);
    b.writeUInt32BE(++txnSeq, 12);
    return b;
  };
  const key = (): Buffer => keyOf(rng.int(nkeys));
  const value = (i: number): Buffer => Buffer.from(`v${i}-${rng.int(1e6)}-${'x'.repeat(rng.int(40))}`);
  const reads = (): ReadSpan[] => {
    const out: ReadSpan[] = [];
    for (let n = rng.int(3); n > 0; n--) {
      if (rng.chance(0.8)) out.push({ kind: 'point', key: key() });
      else {
        const a = rng.int(nkeys);
        out.push({ kind: 'span', start: keyOf(a), end: keyOf(a + 1 + rng.int(5)) });
      }
    }
    return out;
  };
  const writes = (i: number): WriteOp[] => {
    const out: WriteOp[] = [];
    for (let n = 1 + rng.int(4); n > 0; n--) {
      const r = rng.next();
      const k = key();
      if (r < 0.55) out.push({ kind: 'put', key: k, value: value(i) });
      else if (r < 0.8) out.push({ kind: 'put', key: k, value: value(i), ifAbsent: { constraint: 't_pkey', detail: `Key (k)=(${k.toString()}) already exists.` } });
      else out.push({ kind: 'delete', key: k });
    }
    return out;
  };
  for (let i = 1; i <= count; i++) {
    const now = BigInt(i) * 10n;
    const back = (d: bigint): bigint => (now > d ? now - d : 0n);
    const readTs = back(BigInt(rng.int(6)) * 10n);
    const r = rng.next();
    if (twoPhase && r < 0.08) {
      const id = txnId();
      open.push(id);
      yield { type: 'prepare', txnId: id, readTs, minCommitTs: now, primaryKey: key(), reads: reads(), writes: writes(i) };
    } else if (twoPhase && r < 0.16 && open.length > 0) {
      const id = open.splice(rng.int(open.length), 1)[0];
      settled.push(id);
      yield {
        type: 'resolve', txnId: id,
        // Far enough above any prepare timestamp of the last few entries.
        decision: rng.chance(0.7) ? { kind: 'commit', commitTs: now + 5n } : { kind: 'abort' },
      };
    } else if (twoPhase && r < 0.17 && settled.length > 0) {
      // Settled transactions' markers go; a still-prepared one named by mistake keeps its own.
      const ids = settled.splice(0, 1 + rng.int(3));
      if (open.length > 0 && rng.chance(0.2)) ids.push(open[rng.int(open.length)]);
      yield { type: 'forget', txnIds: ids };
    } else if (r < 0.2) {
      yield { type: 'closed-timestamp', closedTs: back(20n) };
    } else if (r < 0.215) {
      yield { type: 'gc', threshold: back(300n) };
    } else if (r < 0.225) {
      yield { type: 'schema-change', descriptorId: 100 + rng.int(3), version: i };
    } else if (r < 0.23) {
      yield { type: 'split', splitKey: key(), newShardId: 2 };
    } else if (staged && r < 0.27) {
      // A chunk of a large transaction: a new one, or the next chunk of an open one (rarely
      // with a gap in the sequence, which aborts it).
      if (staging.length > 0 && rng.chance(0.6)) {
        const t = staging[rng.int(staging.length)];
        t.seq += rng.chance(0.03) ? 2 : 1;
        yield { type: 'stage', txnId: t.id, readTs: t.readTs, seq: t.seq, writes: writes(i) };
      } else {
        const t = { id: txnId(), readTs, seq: 0 };
        staging.push(t);
        yield { type: 'stage', txnId: t.id, readTs: t.readTs, seq: 0, writes: writes(i) };
      }
    } else if (staged && r < 0.29 && staging.length > 0) {
      const t = staging.splice(rng.int(staging.length), 1)[0];
      decided.push(t.id);
      yield rng.chance(0.75)
        ? { type: 'commit', txnId: t.id, readTs: t.readTs, minCommitTs: now, reads: reads(), writes: writes(i) }
        : { type: 'resolve-staged', txnId: t.id, abort: true };
    } else if (staged && r < 0.31 && decided.length > 0) {
      // One chunk settled; the transaction leaves the list once it has surely run out of chunks.
      const k = rng.int(decided.length);
      const id = decided[k];
      if (rng.chance(0.3)) decided.splice(k, 1);
      yield { type: 'resolve-staged', txnId: id, abort: false };
    } else {
      yield { type: 'commit', txnId: txnId(), readTs, minCommitTs: now, reads: reads(), writes: writes(i) };
    }
  }
}
