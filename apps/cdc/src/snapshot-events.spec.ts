// The initial snapshot's events against the replicas' own materializer on a real RocksDB: which
// rows a state at one index holds (committed, staged-committed-unresolved; not prepared, open,
// deleted, secondary), the r/d events and their marks, and that snapshot + stream from I+1
// neither repeat nor miss a change.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEntry, type LogEntry, type WriteOp } from '@weft/logentry';
import { Materializer } from '@weft/materialize';
import { encodeIndexKey, encodeRow, MvccStore } from '@weft/storage';
import { applyAndCapture } from './capture';
import type { ResolvedTable, SnapshotCatalog, TableDescView } from './catalog-view';
import type { ChangeEvent } from './envelope';
import { snapshotSettings } from './settings';
import { snapshotMessages, snapshotPoint } from './snapshot-events';

const TABLE = 120;
const OTHER = 121;
const desc = (id: number, name: string): TableDescView => ({
  kind: 'table', id, schemaId: 101, name,
  columns: [{ id: 1, name: 'id', type: { kind: 'int4' } }, { id: 2, name: 'v', type: { kind: 'text' } }],
  primary: { id: 1, columns: [1] },
});
const catalog = (tables: TableDescView[]): SnapshotCatalog => ({
  tables: (): ResolvedTable[] => tables.map((table) => ({ db: 'weft', schema: 'public', table })),
});
const key = (table: number, id: number, index = 1): Buffer => encodeIndexKey({ tableId: table, indexId: index, types: ['int4'], directions: ['asc'], hashColumns: 1 }, [{ type: 'int4', value: id }]);
const row = (id: number, v: string): Buffer => encodeRow([[1, { type: 'int4', value: id }], [2, { type: 'text', value: v }]]);
const put = (id: number, v: string, table = TABLE): WriteOp => ({ kind: 'put', key: key(table, id), value: row(id, v) });
const del = (id: number): WriteOp => ({ kind: 'delete', key: key(TABLE, id) });
const txn = (n: number): Buffer => Buffer.from(`txn-${n}`.padEnd(16, '.'));

/** [table letter, key, ...] rows sorted by table, then id. */
const byKey = (a: unknown[], b: unknown[]): number => String(a[0]).localeCompare(String(b[0])) || (a[1] as { id: number }).id - (b[1] as { id: number }).id;

interface Out { topic: string; key: unknown; event: ChangeEvent }
function collect(gen: Generator<{ topic: string; key: string; value: string }, { reads: number; deletes: number; tables: number }>): { out: Out[]; counts: { reads: number; deletes: number; tables: number } } {
  const out: Out[] = [];
  for (;;) {
    const r = gen.next();
    if (r.done === true) return { out, counts: r.value };
    out.push({ topic: r.value.topic, key: JSON.parse(r.value.key) as unknown, event: JSON.parse(r.value.value) as ChangeEvent });
  }
}

describe('snapshot events', () => {
  const dirs: string[] = [];
  const stores: MvccStore[] = [];
  let seq = 0;
  const open = async (): Promise<Materializer> => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-cdc-snap-'));
    dirs.push(dir);
    const store = await MvccStore.open(dir);
    stores.push(store);
    return Materializer.open(store, 2);
  };
  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const run = (sm: Materializer, e: LogEntry) => applyAndCapture(sm, sm.appliedIndex + 1, encodeEntry(e));
  const commit = (sm: Materializer, writes: WriteOp[]) => run(sm, { type: 'commit', txnId: txn(++seq), readTs: sm.lastCommitTs, minCommitTs: 0n, reads: [], writes });
  const ctx = { prefix: 'p', shard: 2, catalog: catalog([desc(TABLE, 't'), desc(OTHER, 'u')]), nowMs: 1234 };

  it('one r per live row at the index, table by table in key order, the last marked; deleted, prepared, open-staged and secondary entries are not rows', async () => {
    const sm = await open();
    commit(sm, [put(1, 'a'), put(2, 'b'), put(3, 'c'), put(1, 'x', OTHER), { kind: 'put', key: key(TABLE, 9, 2), value: Buffer.alloc(0) }]);
    commit(sm, [put(2, 'b2')]);
    commit(sm, [del(3)]);
    // A staged transaction committed at this index with its intents not resolved yet: its rows are live.
    const st = txn(++seq);
    run(sm, { type: 'stage', txnId: st, readTs: sm.lastCommitTs, seq: 0, writes: [put(4, 'staged')] });
    expect(run(sm, { type: 'commit', txnId: st, readTs: sm.lastCommitTs, minCommitTs: 0n, reads: [], writes: [] }).outcome).toMatchObject({ status: 'committed' });
    // A staged transaction still open, and a 2PC prepared one: not committed at this index.
    run(sm, { type: 'stage', txnId: txn(++seq), readTs: sm.lastCommitTs, seq: 0, writes: [put(5, 'open')] });
    const prepared = txn(++seq);
    run(sm, { type: 'prepare', txnId: prepared, readTs: sm.lastCommitTs, minCommitTs: 0n, primaryKey: key(TABLE, 1), reads: [], writes: [put(1, 'prepared'), put(6, 'prepared')] });

    const at = snapshotPoint(sm);
    expect(at.index).toBe(sm.appliedIndex);
    const { out, counts } = collect(snapshotMessages(ctx, sm, at));
    expect(counts).toEqual({ reads: 4, deletes: 0, tables: 2 });
    // Tables in catalog order; rows in stored key order (by shard hash, then key).
    expect(out.map((m) => m.topic)).toEqual(['p.cdc.weft.public.t', 'p.cdc.weft.public.t', 'p.cdc.weft.public.t', 'p.cdc.weft.public.u']);
    expect(out.map((m) => m.event.source.snapshot)).toEqual(['true', 'true', 'true', 'last']);
    expect(out.map((m) => [m.topic.slice(-1), m.key, m.event.op, m.event.before, m.event.after]).sort(byKey)).toEqual([
      ['t', { id: 1 }, 'r', null, { id: 1, v: 'a' }],
      ['t', { id: 2 }, 'r', null, { id: 2, v: 'b2' }],
      ['t', { id: 4 }, 'r', null, { id: 4, v: 'staged' }],
      ['u', { id: 1 }, 'r', null, { id: 1, v: 'x' }],
    ]);
    for (const m of out) {
      expect(m.event.transaction).toBeNull();
      expect(m.event.source).toMatchObject({ shard: 2, index: at.index, commit_ts: at.ts.toString(), txId: '', ts_ms: Number(at.ts / 1000n) });
      expect(m.event.ts_ms).toBe(1234);
    }

    // The stream from I+1: the prepared transaction commits later; its change's before-image is
    // the r event's row (no gap, no overlap).
    const ts = sm.lastCommitTs + 10n;
    const resolved = run(sm, { type: 'resolve', txnId: prepared, decision: { kind: 'commit', commitTs: ts } });
    const images = resolved.committed?.changes.map((c) => [c.before?.equals(row(1, 'a')) ?? null, c.after?.equals(c.key.equals(key(TABLE, 1)) ? row(1, 'prepared') : row(6, 'prepared'))]);
    expect(images).toEqual([[true, true], [null, true]]);
  });

  it('a re-snapshot deletes the rows gone since the state it replaces, then reads every live row', async () => {
    const before = await open();
    const after = await open();
    for (const sm of [before, after]) commit(sm, [put(1, 'a'), put(2, 'b'), put(3, 'c')]);
    // Inside the "gap": 1 deleted, 2 updated, 4 inserted.
    commit(after, [del(1), put(2, 'b2'), put(4, 'd')]);
    const { out, counts } = collect(snapshotMessages(ctx, after, snapshotPoint(after), { sm: before, at: snapshotPoint(before) }));
    expect(counts).toEqual({ reads: 3, deletes: 1, tables: 2 });
    // Deletes first, then reads; the last event marked.
    expect(out.map((m) => m.event.op)).toEqual(['d', 'r', 'r', 'r']);
    expect(out.map((m) => m.event.source.snapshot)).toEqual(['true', 'true', 'true', 'last']);
    expect(out.map((m) => [m.topic.slice(-1), m.key, m.event.op, m.event.before, m.event.after]).sort(byKey)).toEqual([
      ['t', { id: 1 }, 'd', { id: 1, v: 'a' }, null],
      ['t', { id: 2 }, 'r', null, { id: 2, v: 'b2' }],
      ['t', { id: 3 }, 'r', null, { id: 3, v: 'c' }],
      ['t', { id: 4 }, 'r', null, { id: 4, v: 'd' }],
    ]);
  });

  it('an empty state, or tables the catalog does not list, yield no events', async () => {
    const sm = await open();
    expect(collect(snapshotMessages(ctx, sm, snapshotPoint(sm))).out).toEqual([]);
    commit(sm, [put(1, 'a', 150)]);
    expect(collect(snapshotMessages(ctx, sm, snapshotPoint(sm))).counts).toEqual({ reads: 0, deletes: 0, tables: 2 });
  });

  it('pages through more rows than one scan page', async () => {
    const sm = await open();
    for (let i = 0; i < 3; i++) commit(sm, Array.from({ length: 500 }, (_, j) => put(i * 500 + j, `v${i * 500 + j}`)));
    const { out } = collect(snapshotMessages(ctx, sm, snapshotPoint(sm)));
    expect(out.length).toBe(1500);
    expect(new Set(out.map((m) => (m.key as { id: number }).id)).size).toBe(1500);
    expect(out.filter((m) => m.event.source.snapshot === 'last').length).toBe(1);
  });
});

describe('snapshot settings', () => {
  const env = (mode: 'never' | 'initial' | 'when_needed', from: string[]) => ({ WEFT_CDC_SNAPSHOT_MODE: mode, WEFT_CDC_SNAPSHOT_FROM: from, WEFT_CDC_SNAPSHOT_START_MARGIN_MS: 5000 });
  it('never takes none; initial and when_needed need sources; never refuses them', () => {
    expect(snapshotSettings(env('never', []))).toBeUndefined();
    expect(snapshotSettings(env('initial', ['n1:8080']))).toEqual({ mode: 'initial', sources: ['n1:8080'], startMarginMs: 5000, retryMs: 2000 });
    expect(snapshotSettings(env('when_needed', ['n1:8080', 'n2:8080']))?.mode).toBe('when_needed');
    expect(() => snapshotSettings(env('initial', []))).toThrow(/WEFT_CDC_SNAPSHOT_MODE=initial needs WEFT_CDC_SNAPSHOT_FROM/);
    expect(() => snapshotSettings(env('never', ['n1:8080']))).toThrow(/WEFT_CDC_SNAPSHOT_FROM is set but WEFT_CDC_SNAPSHOT_MODE=never/);
  });
});
