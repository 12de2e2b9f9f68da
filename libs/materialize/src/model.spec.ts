import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplyOutcome, LogEntry, ReadSpan, encodeEntry } from '@weft/logentry';
import { MvccStore } from '@weft/storage';
import { Materializer } from './materializer';
import { entryStream, keyOf } from './testing/entries';

/**
 * The documented apply semantics (README) as a plain in-memory model, for 1PC logs: outcomes
 * and visible data of the materializer must match it entry by entry.
 */
class Model {
  readonly versions = new Map<string, { ts: bigint; value: Buffer | null }[]>(); // newest first
  last = 0n;
  closed = 0n;

  newest(key: Buffer): { ts: bigint; value: Buffer | null } | undefined {
    return this.versions.get(key.toString('hex'))?.[0];
  }

  touchesNewer(r: ReadSpan, readTs: bigint): boolean {
    if (r.kind === 'point') return (this.newest(r.key)?.ts ?? 0n) > readTs;
    for (const [k, vs] of this.versions) {
      const key = Buffer.from(k, 'hex');
      if (key.compare(r.start) >= 0 && key.compare(r.end) < 0 && vs.length > 0 && vs[0].ts > readTs) return true;
    }
    return false;
  }

  apply(e: LogEntry): ApplyOutcome {
    switch (e.type) {
      case 'commit': {
        if (e.reads.some((r) => this.touchesNewer(r, e.readTs)) || e.writes.some((w) => this.touchesNewer({ kind: 'point', key: w.key }, e.readTs))) {
          return { status: 'aborted', sqlstate: '40001', message: 'could not serialize access due to concurrent update' };
        }
        const exists = new Map<string, boolean>();
        for (const w of e.writes) {
          const k = w.key.toString('hex');
          if (w.kind === 'put' && w.ifAbsent && (exists.get(k) ?? (this.newest(w.key)?.value != null))) {
            return { status: 'aborted', sqlstate: '23505', message: `duplicate key value violates unique constraint "${w.ifAbsent.constraint}"`, constraint: w.ifAbsent.constraint, detail: w.ifAbsent.detail };
          }
          exists.set(k, w.kind === 'put');
        }
        const max = (...xs: bigint[]): bigint => xs.reduce((a, b) => (a > b ? a : b));
        const ts = max(e.minCommitTs, this.last + 1n, e.readTs + 1n, this.closed + 1n);
        const final = new Map<string, Buffer | null>();
        for (const w of e.writes) final.set(w.key.toString('hex'), w.kind === 'put' ? w.value : null);
        for (const [k, value] of final) {
          const vs = this.versions.get(k) ?? [];
          vs.unshift({ ts, value });
          this.versions.set(k, vs);
        }
        this.last = ts;
        return { status: 'committed', commitTs: ts };
      }
      case 'closed-timestamp':
        if (e.closedTs > this.closed) this.closed = e.closedTs;
        return { status: 'applied' };
      case 'gc':
        for (const [k, vs] of this.versions) {
          const i = vs.findIndex((v) => v.ts <= e.threshold);
          if (i < 0) continue;
          const keep = vs[i].value === null ? i : i + 1;
          this.versions.set(k, vs.slice(0, keep));
        }
        return { status: 'applied' };
      case 'schema-change':
        return { status: 'applied' };
      case 'split':
        return { status: 'aborted', sqlstate: '0A000', message: 'split entries are not supported yet' };
      default:
        throw new Error(`model does not cover ${e.type}`);
    }
  }

  read(key: Buffer, ts: bigint): Buffer | undefined {
    const v = this.versions.get(key.toString('hex'))?.find((x) => x.ts <= ts);
    return v?.value ?? undefined;
  }
}

describe('Materializer vs the documented semantics (model)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-materialize-model-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([1, 2, 3])('agrees outcome by outcome and read by read on random 1PC log %i', async (seed) => {
    const store = await MvccStore.open(dir);
    const m = await Materializer.open(store, 1);
    const model = new Model();
    let i = 0;
    const keys = 40;
    for (const e of entryStream(seed, 800, { keys, twoPhase: false })) {
      i++;
      const got = m.apply(i, encodeEntry(e));
      const want = model.apply(e);
      if (want.status === 'aborted' && want.sqlstate === '40001') expect(got).toMatchObject({ status: 'aborted', sqlstate: '40001' });
      else expect({ i, got }).toEqual({ i, got: want });
      if (i % 100 === 0) {
        for (let k = 0; k < keys; k++) {
          for (const ts of [m.lastCommitTs, m.lastCommitTs - 50n, m.lastCommitTs - 200n]) {
            expect({ i, k, ts, v: m.read(keyOf(k), ts)?.value }).toEqual({ i, k, ts, v: model.read(keyOf(k), ts) });
          }
        }
      }
    }
    expect(m.verifyStateHash().ok).toBe(true);
    await store.close();
  });
});
