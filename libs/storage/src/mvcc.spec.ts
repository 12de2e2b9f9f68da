import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prefixEnd } from './bytes';
import { GetResult, IntentVerdict, MvccStore, ScanResult } from './mvcc';
import { Intent } from './mvcc-values';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const found = (value: string, ts: bigint): GetResult => ({ kind: 'found', value: b(value), ts });

describe.each([true, false])('MvccStore (tailing point reads: %s)', (tailingReads) => {
  let dir: string;
  let store: MvccStore;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-mvcc-'));
    store = await MvccStore.open(dir, { tailingReads });
  });

  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the newest version at or below the read timestamp; tombstones hide older versions', () => {
    const k = b('vis');
    store.put(k, 10n, b('a'));
    store.put(k, 20n, b('b'));
    store.delete(k, 30n);
    store.put(k, 40n, b('c'));
    expect(store.get(k, 9n)).toEqual({ kind: 'not-found' });
    expect(store.get(k, 10n)).toEqual(found('a', 10n));
    expect(store.get(k, 19n)).toEqual(found('a', 10n));
    expect(store.get(k, 25n)).toEqual(found('b', 20n));
    expect(store.get(k, 30n)).toEqual({ kind: 'not-found' });
    expect(store.get(k, 1000n)).toEqual(found('c', 40n));
    expect(store.latestCommitTs(k)).toBe(40n);
    expect(store.get(b('vis-absent'), 1000n)).toEqual({ kind: 'not-found' });
  });

  it('a version in (readTs, uncertaintyLimit] makes a read uncertain: gets, scans both ways, tombstones and intents', () => {
    const k = b('unc/a');
    store.put(k, 10n, b('a'));
    store.put(k, 20n, b('b'));
    store.delete(k, 30n);
    store.put(k, 60n, b('c'));
    const j = b('unc/b');
    store.put(j, 5n, b('j'));
    const u = (ts: bigint): GetResult => ({ kind: 'uncertain', ts });
    // No window (or one that reaches nothing newer): the plain snapshot read.
    expect(store.get(k, 15n, { uncertaintyLimit: 15n })).toEqual(found('a', 10n));
    expect(store.get(k, 15n, { uncertaintyLimit: 19n })).toEqual(found('a', 10n));
    // The newest version within the window decides, a tombstone included.
    expect(store.get(k, 15n, { uncertaintyLimit: 20n })).toEqual(u(20n));
    expect(store.get(k, 15n, { uncertaintyLimit: 45n })).toEqual(u(30n));
    expect(store.get(k, 35n, { uncertaintyLimit: 59n })).toEqual({ kind: 'not-found' });
    expect(store.get(k, 35n, { uncertaintyLimit: 1000n })).toEqual(u(60n));
    const span = (reverse: boolean, readTs: bigint, limit: bigint): ScanResult => store.scan(b('unc/'), prefixEnd(b('unc/')), readTs, { reverse, uncertaintyLimit: limit });
    for (const reverse of [false, true]) {
      expect(span(reverse, 15n, 19n)).toMatchObject({ kind: 'rows', rows: reverse ? [{ key: j }, { key: k }] : [{ key: k }, { key: j }] });
      expect(span(reverse, 15n, 45n)).toEqual(u(30n));
      expect(span(reverse, 35n, 1000n)).toEqual(u(60n));
    }
    // An undecided intent within the window is a conflict; above it, ignored.
    store.putIntent(j, { txnId: 'other', ts: 40n, value: b('j2') });
    expect(store.get(j, 35n, { uncertaintyLimit: 39n })).toEqual(found('j', 5n));
    expect(store.get(j, 35n, { uncertaintyLimit: 40n })).toMatchObject({ kind: 'intent-conflict' });
    expect(span(false, 35n, 40n)).toMatchObject({ kind: 'intent-conflict' });
    expect(span(true, 35n, 40n)).toMatchObject({ kind: 'intent-conflict' });
    // A decided one committed within the window is uncertain, like a version.
    const committed = { intentStatus: (): IntentVerdict => ({ committedAt: 42n }), uncertaintyLimit: 50n };
    expect(store.get(j, 35n, committed)).toEqual(u(42n));
    expect(store.scan(b('unc/b'), prefixEnd(b('unc/b')), 35n, committed)).toEqual(u(42n));
    store.resolveIntent(j, 'other', 'abort');
  });

  it('keeps keys that are prefixes of each other apart, in order', () => {
    const keys = ['p', 'p\0', 'p\0\0', 'p\x01', 'pa', 'p\xff'];
    keys.forEach((k, i) => {
      store.put(b(k), 5n, b(`v${i}`));
      store.put(b(k), 7n, b(`w${i}`));
    });
    const r = store.scan(b('p'), b('q'), 6n);
    expect(r).toEqual({ kind: 'rows', rows: keys.map((k, i) => ({ key: b(k), value: b(`v${i}`), ts: 5n })) });
    const rev = store.scan(b('p'), b('q'), 100n, { reverse: true });
    expect(rev.kind === 'rows' && rev.rows.map((row) => row.value.toString())).toEqual(keys.map((_, i) => `w${i}`).reverse());
    expect(store.get(b('p\0'), 6n)).toEqual(found('v1', 5n));
  });

  it('skips many old versions with seeks and pages with resumeKey', () => {
    for (let i = 0; i < 50; i++) {
      const k = b(`many/${String(i).padStart(3, '0')}`);
      for (let ts = 1n; ts <= 30n; ts++) store.put(k, ts, b(`${i}@${ts}`));
    }
    const at = (readTs: bigint, reverse = false, limit = 7): string[] => {
      const out: string[] = [];
      let start: Buffer | undefined = b('many/');
      let end: Buffer | undefined = b('many0');
      for (;;) {
        const r: ScanResult = store.scan(start, end, readTs, { limit, reverse });
        if (r.kind !== 'rows') throw new Error('unexpected conflict');
        expect(r.rows.length).toBeLessThanOrEqual(limit);
        out.push(...r.rows.map((row) => row.value.toString()));
        if (r.resumeKey === undefined) return out;
        if (reverse) end = r.resumeKey;
        else start = r.resumeKey;
      }
    };
    const expected = (ts: number) => Array.from({ length: 50 }, (_, i) => `${i}@${ts}`);
    expect(at(30n)).toEqual(expected(30));
    expect(at(3n)).toEqual(expected(3));
    expect(at(15n, true)).toEqual(expected(15).reverse());
    expect(store.get(b('many/007'), 2n)).toEqual(found('7@2', 2n));
  });

  it('a scan filter keeps only the rows it accepts, counts them with countOnly, and LIMIT counts kept rows', () => {
    for (let i = 0; i < 60; i++) {
      const k = b(`flt/${String(i).padStart(3, '0')}`);
      store.put(k, 1n, b(String(i)));
      if (i % 4 === 0) store.put(k, 5n, b(String(i + 1000)));
    }
    const keep = (v: Buffer): boolean => Number(v.toString()) % 3 === 0;
    const all = store.scan(b('flt/'), b('flt0'), 3n, { keep });
    expect(all.kind === 'rows' && all.rows.map((r) => r.value.toString())).toEqual(Array.from({ length: 20 }, (_, i) => String(i * 3)));
    // Versions newer than the read are not what the filter sees.
    const later = store.scan(b('flt/'), b('flt0'), 9n, { keep, countOnly: true });
    const expectedLater = Array.from({ length: 60 }, (_, i) => (i % 4 === 0 ? i + 1000 : i)).filter((v) => v % 3 === 0).length;
    expect(later.kind === 'rows' && [later.rows.length, later.count]).toEqual([0, expectedLater]);
    const limited = store.scan(b('flt/'), b('flt0'), 3n, { keep, limit: 4 });
    expect(limited.kind === 'rows' && limited.rows.map((r) => r.value.toString())).toEqual(['0', '3', '6', '9']);
    expect(limited.kind === 'rows' && limited.resumeKey?.toString()).toBe('flt/010');
    const rev = store.scan(b('flt/'), b('flt0'), 3n, { keep, limit: 2, reverse: true });
    expect(rev.kind === 'rows' && rev.rows.map((r) => r.value.toString())).toEqual(['57', '54']);
  });

  it('bounds the work of one scan call on a long run of deleted keys, returning a resume key', () => {
    const batch = store.batch();
    for (let i = 0; i < 40_000; i++) {
      const k = b(`dead/${String(i).padStart(6, '0')}`);
      batch.put(k, 1n, b('v'));
      batch.delete(k, 2n);
    }
    batch.put(b('dead/zz-live'), 3n, b('live'));
    store.write(batch);
    const found: string[] = [];
    let calls = 0;
    let start: Buffer | undefined = b('dead/');
    while (start !== undefined) {
      const r = store.scan(start, b('dead0'), 10n, { limit: 10 });
      if (r.kind !== 'rows') throw new Error('unexpected conflict');
      calls++;
      for (const row of r.rows) found.push(row.value.toString());
      start = r.resumeKey;
    }
    expect(found).toEqual(['live']);
    expect(calls).toBeGreaterThan(2);
    const rev = store.scan(b('dead/'), b('dead0'), 10n, { limit: 10, reverse: true });
    expect(rev.kind === 'rows' && rev.rows.map((x) => x.value.toString())).toEqual(['live']);
  });

  describe('intents', () => {
    const intent = (txnId: string, ts: bigint, value: string | null): Intent => ({ txnId, ts, value: value === null ? null : b(value) });

    it('conflict for readers at or above the intent, invisible below, visible to its owner', () => {
      const k = b('int/1');
      store.put(k, 10n, b('old'));
      expect(store.putIntent(k, { ...intent('t1', 15n, 'new'), primary: b('int/primary') })).toBeUndefined();
      const r = store.get(k, 20n);
      expect(r.kind).toBe('intent-conflict');
      if (r.kind === 'intent-conflict') {
        expect(r.intents).toHaveLength(1);
        expect(r.intents[0]).toMatchObject({ txnId: 't1', ts: 15n, key: k, primary: b('int/primary') });
      }
      expect(store.get(k, 14n)).toEqual(found('old', 10n));
      expect(store.get(k, 20n, { txnId: 't1' })).toEqual(found('new', 15n));
      // Another transaction cannot lay an intent on the same key; the owner can replace its own.
      expect(store.putIntent(k, intent('t2', 16n, 'x'))?.intents[0].txnId).toBe('t1');
      expect(store.putIntent(k, intent('t1', 15n, 'newer'))).toBeUndefined();
      expect(store.scan(b('int/'), b('int0'), 20n).kind).toBe('intent-conflict');
      expect(store.scan(b('int/'), b('int0'), 20n, { reverse: true }).kind).toBe('intent-conflict');
    });

    it('resolve commits at the commit ts or aborts, and is idempotent', () => {
      const k = b('int/2');
      store.put(k, 10n, b('old'));
      store.putIntent(k, intent('t3', 15n, 'new'));
      expect(store.resolveIntent(k, 'other', { commit: 20n })).toBe('no-intent');
      expect(store.resolveIntent(k, 't3', { commit: 20n })).toBe('committed');
      expect(store.resolveIntent(k, 't3', { commit: 20n })).toBe('no-intent');
      expect(store.getIntent(k)).toBeUndefined();
      expect(store.get(k, 19n)).toEqual(found('old', 10n));
      expect(store.get(k, 20n)).toEqual(found('new', 20n));

      store.putIntent(k, intent('t4', 25n, null));
      expect(store.resolveIntent(k, 't4', 'abort')).toBe('aborted');
      expect(store.get(k, 30n)).toEqual(found('new', 20n));

      store.putIntent(k, intent('t5', 25n, null));
      expect(() => store.resolveIntent(k, 't5', { commit: 24n })).toThrow(/below the intent/);
      expect(store.resolveIntent(k, 't5', { commit: 26n })).toBe('committed');
      expect(store.get(k, 30n)).toEqual({ kind: 'not-found' });
    });

    it('reads intents by the caller\'s verdict: committed at C is a version at C, ignored is read past', () => {
      const keys = ['v/1', 'v/2', 'v/3'].map(b);
      for (const k of keys) store.put(k, 10n, b('old'));
      store.putIntent(keys[0], intent('committed', 12n, 'c'));
      store.putIntent(keys[1], intent('open', 12n, 'o'));
      store.putIntent(keys[2], intent('gone', 12n, null));
      const intentStatus = (t: string): IntentVerdict | undefined => (t === 'committed' ? { committedAt: 20n } : 'ignore');
      // Below the commit ts the committed intent is invisible; at or above it, it is the newest version.
      expect(store.get(keys[0], 19n, { intentStatus })).toEqual(found('old', 10n));
      expect(store.get(keys[0], 20n, { intentStatus })).toEqual(found('c', 20n));
      expect(store.get(keys[1], 50n, { intentStatus })).toEqual(found('old', 10n));
      expect(store.get(keys[2], 50n, { intentStatus })).toEqual(found('old', 10n));
      const rows = (r: ScanResult): string[] => (r.kind === 'rows' ? r.rows.map((x) => `${x.key.toString()}=${x.value.toString()}@${x.ts}`) : ['conflict']);
      expect(rows(store.scan(b('v/'), b('v0'), 25n, { intentStatus }))).toEqual(['v/1=c@20', 'v/2=old@10', 'v/3=old@10']);
      expect(rows(store.scan(b('v/'), b('v0'), 25n, { intentStatus, reverse: true }))).toEqual(['v/3=old@10', 'v/2=old@10', 'v/1=c@20']);
      expect(rows(store.scan(b('v/'), b('v0'), 15n, { intentStatus, reverse: true }))).toEqual(['v/3=old@10', 'v/2=old@10', 'v/1=old@10']);
      // A committed deletion reads as not found; the owner still sees its own intent.
      const deleted = (t: string): IntentVerdict | undefined => (t === 'gone' ? { committedAt: 20n } : undefined);
      expect(store.get(keys[2], 30n, { intentStatus: deleted })).toEqual({ kind: 'not-found' });
      expect(store.get(keys[1], 30n, { intentStatus: deleted }).kind).toBe('intent-conflict');
      expect(store.get(keys[1], 30n, { intentStatus: deleted, txnId: 'open' })).toEqual(found('o', 12n));
    });

    it('lists every conflicting intent of a scan', () => {
      for (const n of [1, 2, 3]) store.putIntent(b(`many-int/${n}`), intent(`s${n}`, 5n, 'v'));
      store.put(b('many-int/0'), 1n, b('committed'));
      const r = store.scan(b('many-int/'), b('many-int0'), 10n);
      expect(r.kind === 'intent-conflict' && r.intents.map((i) => i.txnId)).toEqual(['s1', 's2', 's3']);
      expect(store.scan(b('many-int/'), b('many-int0'), 4n)).toEqual({ kind: 'rows', rows: [{ key: b('many-int/0'), value: b('committed'), ts: 1n }] });
    });
  });

  it('writes an operation and a local key (applied index) in one batch', () => {
    const batch = store.batch().put(b('batch/a'), 5n, b('1')).delete(b('batch/b'), 5n).putLocal('applied', b('42'));
    expect(batch.count).toBe(3);
    store.write(batch, { sync: true });
    expect(store.getLocal('applied')).toEqual(b('42'));
    expect(store.get(b('batch/a'), 5n)).toEqual(found('1', 5n));
    // Local keys never show up in MVCC scans.
    const all = store.scan(undefined, undefined, 5n);
    expect(all.kind === 'rows' && all.rows.some((r) => r.key.toString() === 'applied')).toBe(false);
  });

  describe('gc', () => {
    it('keeps the newest version visible at the threshold and everything newer', () => {
      const k = b('gc/1');
      for (const ts of [10n, 20n, 30n]) store.put(k, ts, b(`v${ts}`));
      const gone = b('gc/2'); // newest at the threshold is a tombstone: all of it goes
      store.put(gone, 5n, b('x'));
      store.delete(gone, 6n);
      const fresh = b('gc/3'); // only versions above the threshold: untouched
      store.put(fresh, 26n, b('y'));
      store.putIntent(b('gc/4'), { txnId: 'g', ts: 1n, value: b('z') });
      const stats = store.gc({ now: 125n, ttl: 100n, start: b('gc/'), end: b('gc0') });
      expect(stats.versionsRemoved).toBe(3);
      expect(store.get(k, 25n)).toEqual(found('v20', 20n));
      expect(store.get(k, 15n)).toEqual({ kind: 'not-found' }); // history below the threshold is gone
      expect(store.get(k, 35n)).toEqual(found('v30', 30n));
      expect(store.get(gone, 25n)).toEqual({ kind: 'not-found' });
      expect(store.get(gone, 5n)).toEqual({ kind: 'not-found' });
      expect(store.get(fresh, 30n)).toEqual(found('y', 26n));
      expect(store.getIntent(b('gc/4'))?.txnId).toBe('g');
      expect(store.gc({ now: 125n, ttl: 100n, start: b('gc/'), end: b('gc0') }).versionsRemoved).toBe(0);
    });

    it('defaults to a 25 h TTL in microseconds', () => {
      const hour = 3_600_000_000n;
      const k = b('gc-ttl/1');
      store.put(k, 1n * hour, b('a'));
      store.put(k, 2n * hour, b('b'));
      expect(store.gc({ now: 26n * hour, start: b('gc-ttl/'), end: b('gc-ttl0') }).versionsRemoved).toBe(0);
      expect(store.gc({ now: 27n * hour, start: b('gc-ttl/'), end: b('gc-ttl0') }).versionsRemoved).toBe(1);
      expect(store.get(k, 27n * hour)).toEqual(found('b', 2n * hour));
    });
  });

  describe('against an in-memory model', () => {
    type Version = { ts: bigint; value: string | null };
    type Model = { versions: Map<string, Version[]>; intents: Map<string, Intent> };
    const KEYS = ['', 'a', 'a\0', 'a\0\0', 'ab', 'b', '\0', '\xff', 'b\xff\xff'];
    const key = fc.constantFrom(...KEYS);
    const ts = fc.bigInt(1n, 20n);
    const op = fc.oneof(
      { weight: 5, arbitrary: fc.record({ t: fc.constant('put' as const), k: key, ts, v: fc.string({ maxLength: 3 }) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), k: key, ts }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('intent' as const), k: key, ts, txn: fc.constantFrom('t1', 't2'), v: fc.option(fc.string({ maxLength: 3 }), { nil: null }) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('resolve' as const), k: key, txn: fc.constantFrom('t1', 't2'), commit: fc.option(fc.bigInt(0n, 5n), { nil: null }) }) },
    );
    const read = fc.record({
      start: fc.option(key, { nil: undefined }),
      end: fc.option(key, { nil: undefined }),
      readTs: fc.bigInt(0n, 25n),
      limit: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      reverse: fc.boolean(),
      txn: fc.option(fc.constantFrom('t1', 't2'), { nil: undefined }),
    });

    let run = 0;
    const latin = (s: string) => Buffer.from(s, 'latin1');

    function modelRead(m: Model, k: string, readTs: bigint, txn: string | undefined): { kind: 'row'; value: string; ts: bigint } | { kind: 'none' } | { kind: 'intent'; intent: Intent } {
      const intent = m.intents.get(k);
      if (intent && txn !== undefined && intent.txnId === txn) return intent.value === null ? { kind: 'none' } : { kind: 'row', value: intent.value.toString('latin1'), ts: intent.ts };
      if (intent && intent.ts <= readTs) return { kind: 'intent', intent };
      const vis = (m.versions.get(k) ?? []).filter((v) => v.ts <= readTs).sort((x, y) => (x.ts < y.ts ? 1 : -1))[0];
      return vis === undefined || vis.value === null ? { kind: 'none' } : { kind: 'row', value: vis.value, ts: vis.ts };
    }

    function modelScan(m: Model, r: { start?: string; end?: string; readTs: bigint; limit?: number; reverse: boolean; txn?: string }) {
      const present = KEYS.filter((k) => (m.versions.get(k)?.length ?? 0) > 0 || m.intents.has(k))
        .filter((k) => (r.start === undefined || Buffer.compare(latin(k), latin(r.start)) >= 0) && (r.end === undefined || Buffer.compare(latin(k), latin(r.end)) < 0))
        .sort((x, y) => Buffer.compare(latin(x), latin(y)));
      if (r.reverse) present.reverse();
      const rows: { key: string; value: string; ts: bigint }[] = [];
      const intents: string[] = [];
      const limit = r.limit ?? Infinity;
      let resume: string | undefined;
      for (let i = 0; i < present.length; i++) {
        const k = present[i];
        if (!r.reverse && rows.length >= limit) {
          resume = k;
          break;
        }
        const got = modelRead(m, k, r.readTs, r.txn);
        if (got.kind === 'row') rows.push({ key: k, value: got.value, ts: got.ts });
        if (got.kind === 'intent') intents.push(got.intent.txnId);
        if (r.reverse && rows.length >= limit && i + 1 < present.length) {
          resume = k;
          break;
        }
      }
      return { rows, intents, resume };
    }

    it('get and scan agree with the model after random puts, deletes, intents and resolves', () => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 40 }), fc.array(read, { minLength: 1, maxLength: 10 }), (ops, reads) => {
          const ns = Buffer.from(`model/${String(run++).padStart(6, '0')}/`);
          const uk = (k: string) => Buffer.concat([ns, latin(k)]);
          const m: Model = { versions: new Map(), intents: new Map() };
          for (const o of ops) {
            if (o.t === 'put' || o.t === 'del') {
              const value = o.t === 'put' ? o.v : null;
              if (o.t === 'put') store.put(uk(o.k), o.ts, latin(o.v));
              else store.delete(uk(o.k), o.ts);
              const vs = (m.versions.get(o.k) ?? []).filter((v) => v.ts !== o.ts);
              vs.push({ ts: o.ts, value });
              m.versions.set(o.k, vs);
            } else if (o.t === 'intent') {
              const i: Intent = { txnId: o.txn, ts: o.ts, value: o.v === null ? null : latin(o.v) };
              const existing = m.intents.get(o.k);
              const res = store.putIntent(uk(o.k), i);
              if (existing && existing.txnId !== o.txn) expect(res?.intents[0].txnId).toBe(existing.txnId);
              else {
                expect(res).toBeUndefined();
                m.intents.set(o.k, i);
              }
            } else {
              const existing = m.intents.get(o.k);
              const outcome = o.commit === null ? ('abort' as const) : { commit: (existing?.ts ?? 0n) + o.commit };
              const res = store.resolveIntent(uk(o.k), o.txn, outcome);
              if (!existing || existing.txnId !== o.txn) {
                expect(res).toBe('no-intent');
                continue;
              }
              m.intents.delete(o.k);
              if (outcome !== 'abort') {
                const vs = (m.versions.get(o.k) ?? []).filter((v) => v.ts !== outcome.commit);
                vs.push({ ts: outcome.commit, value: existing.value === null ? null : existing.value.toString('latin1') });
                m.versions.set(o.k, vs);
              }
            }
          }
          for (const r of reads) {
            for (const k of KEYS) {
              const want = modelRead(m, k, r.readTs, r.txn);
              const got = store.get(uk(k), r.readTs, { txnId: r.txn });
              if (want.kind === 'row') expect(got).toEqual({ kind: 'found', value: latin(want.value), ts: want.ts });
              else if (want.kind === 'none') expect(got).toEqual({ kind: 'not-found' });
              else expect(got.kind === 'intent-conflict' && got.intents[0].txnId).toBe(want.intent.txnId);
            }
            const want = modelScan(m, r);
            const got = store.scan(r.start === undefined ? ns : uk(r.start), r.end === undefined ? prefixEnd(ns) : uk(r.end), r.readTs, {
              limit: r.limit, reverse: r.reverse, txnId: r.txn,
            });
            if (want.intents.length > 0) {
              expect(got.kind === 'intent-conflict' && got.intents.map((i) => i.txnId)).toEqual(want.intents);
            } else {
              expect(got.kind).toBe('rows');
              if (got.kind !== 'rows') return;
              expect(got.rows.map((row) => ({ key: row.key.subarray(ns.length).toString('latin1'), value: row.value.toString('latin1'), ts: row.ts }))).toEqual(want.rows);
              expect(got.resumeKey?.subarray(ns.length).toString('latin1')).toBe(want.resume);
            }
          }
          // GC must not change any read at or above its threshold.
          const threshold = 10n;
          const before = KEYS.map((k) => [11n, 15n, 25n].map((t) => store.get(uk(k), t)));
          store.gc({ now: threshold + 5n, ttl: 5n, start: ns, end: prefixEnd(ns) });
          expect(KEYS.map((k) => [11n, 15n, 25n].map((t) => store.get(uk(k), t)))).toEqual(before);
          for (const k of KEYS) {
            const want = modelRead(m, k, threshold, undefined);
            const got = store.get(uk(k), threshold);
            if (want.kind === 'row') expect(got).toEqual({ kind: 'found', value: latin(want.value), ts: want.ts });
            else if (want.kind === 'none') expect(got).toEqual({ kind: 'not-found' });
            else expect(got.kind).toBe('intent-conflict');
          }
        }),
        { numRuns: 150 },
      );
    });
  });

  it('keeps data across close and reopen', async () => {
    const path = mkdtempSync(join(tmpdir(), 'weft-mvcc-reopen-'));
    try {
      let s = await MvccStore.open(path, { tailingReads });
      s.write(s.batch().put(b('r/1'), 3n, b('kept')).putIntent(b('r/2'), { txnId: 'tx', ts: 4n, value: null }).putLocal('applied', b('7')));
      await s.close();
      s = await MvccStore.open(path, { tailingReads });
      expect(s.get(b('r/1'), 3n)).toEqual(found('kept', 3n));
      expect(s.getIntent(b('r/2'))).toEqual({ txnId: 'tx', ts: 4n, value: null });
      expect(s.getLocal('applied')).toEqual(b('7'));
      await s.close();
    } finally {
      rmSync(path, { recursive: true, force: true });
    }
  });

  it('rejects reserved and negative timestamps', () => {
    expect(() => store.put(b('x'), -1n, b('v'))).toThrow(/timestamp/);
    expect(() => store.get(b('x'), (1n << 64n) - 1n)).toThrow(/timestamp/);
  });
});
