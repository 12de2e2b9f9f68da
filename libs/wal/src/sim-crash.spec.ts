/**
 * Seeded crash testing on the in-memory disk: random multi-group workloads (appends,
 * overwrites, hard states, compactions, snapshots), crashes at random moments that keep a
 * random part of the unsynced bytes (tearing records), recovery, and comparison with a small
 * independent model. After each crash the recovered state must equal the model after some
 * prefix of the appends issued (never part of one: an append is atomic), and that prefix
 * must include every acknowledged append.
 */
import { MemFs } from './fs';
import { WalRecord } from './records';
import { entry, payload } from './test-util';
import { Wal } from './wal';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deliberately naive model of one group's log. */
class RefGroup {
  compactIdx = 0;
  compactTerm = 0;
  terms: number[] = []; // terms[k] is the term of index compactIdx + 1 + k
  hs = '0/0/0';
  snap = '0:0';
  last(): number {
    return this.compactIdx + this.terms.length;
  }
  term(i: number): number | undefined {
    if (i === this.compactIdx) return this.compactTerm;
    if (i < this.compactIdx || i > this.last()) return undefined;
    return this.terms[i - this.compactIdx - 1];
  }
  apply(r: WalRecord): void {
    switch (r.type) {
      case 'entries':
        this.terms.length = r.entries[0].index - this.compactIdx - 1;
        for (const e of r.entries) this.terms.push(e.term);
        break;
      case 'hardState':
        this.hs = `${r.hardState.term}/${r.hardState.vote}/${r.hardState.commit}`;
        break;
      case 'compact':
        this.compactTerm = this.term(r.index)!;
        this.terms = this.terms.slice(r.index - this.compactIdx);
        this.compactIdx = r.index;
        break;
      case 'snapshot': {
        const { index, term } = r.snapshot.metadata;
        this.snap = `${index}:${term}`;
        if (this.term(index) !== term) {
          this.terms = [];
          this.compactIdx = index;
          this.compactTerm = term;
        }
        break;
      }
    }
  }
  digest(): string {
    return `${this.compactIdx}@${this.compactTerm}[${this.terms.join(',')}]hs=${this.hs} snap=${this.snap}`;
  }
}

const GROUPS = 4;
const conf = { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

function digestWal(wal: Wal): string {
  const parts: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const s = wal.storage(g);
    const terms: number[] = [];
    for (const e of s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity)) {
      if (!Buffer.from(e.data).equals(Buffer.from(payload(g, e.index, e.term, 8 + (e.index % 40))))) {
        throw new Error(`group ${g} entry ${e.index}: payload differs`);
      }
      terms.push(e.term);
    }
    const hs = s.hardState();
    const m = s.snapshot().metadata;
    parts.push(`${s.compactIndex()}@${s.term(s.compactIndex())}[${terms.join(',')}]hs=${hs.term}/${hs.vote}/${hs.commit} snap=${m.index}:${m.term}`);
  }
  return parts.join(' | ');
}

function refFromWal(wal: Wal): RefGroup[] {
  return Array.from({ length: GROUPS }, (_, g) => {
    const s = wal.storage(g);
    const r = new RefGroup();
    r.compactIdx = s.compactIndex();
    r.compactTerm = s.term(r.compactIdx);
    r.terms = s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity).map((e) => e.term);
    const hs = s.hardState();
    r.hs = `${hs.term}/${hs.vote}/${hs.commit}`;
    const m = s.snapshot().metadata;
    r.snap = `${m.index}:${m.term}`;
    return r;
  });
}

/** One random record that is valid against the model's current state. */
function randomRecord(rnd: () => number, ref: RefGroup[], g: number): WalRecord {
  const m = ref[g];
  const x = rnd();
  const maxTerm = Math.max(m.compactTerm, ...m.terms, 1);
  const snapIdx = Number(m.snap.split(':')[0]);
  // Like Raft: nothing at or below a snapshot (applied, so committed) is ever overwritten.
  const floor = Math.max(m.compactIdx, snapIdx);
  if (x < 0.6 || m.last() === m.compactIdx) {
    // Mostly append at the end; sometimes overwrite a suffix with a newer term.
    const overwrite = rnd() < 0.15 && m.last() > floor + 1;
    const start = overwrite ? floor + 1 + Math.floor(rnd() * (m.last() - floor)) : m.last() + 1;
    const term = overwrite ? maxTerm + 1 : maxTerm;
    const n = 1 + Math.floor(rnd() * 4);
    const ents = Array.from({ length: n }, (_, k) => entry(g, start + k, term, 8 + ((start + k) % 40)));
    return { type: 'entries', group: g, entries: ents };
  }
  if (x < 0.8) return { type: 'hardState', group: g, hardState: { term: maxTerm, vote: 1 + (g % 3), commit: m.last() } };
  if (x < 0.93) {
    const index = m.compactIdx + 1 + Math.floor(rnd() * (m.last() - m.compactIdx));
    return { type: 'compact', group: g, index };
  }
  if (rnd() < 0.7) {
    // A snapshot taken locally at an index in the log (keeps the log).
    const lo = Math.max(snapIdx + 1, m.compactIdx + 1);
    if (lo > m.last()) return { type: 'hardState', group: g, hardState: { term: maxTerm, vote: 0, commit: m.last() } };
    const index = lo + Math.floor(rnd() * (m.last() - lo + 1));
    return { type: 'snapshot', group: g, snapshot: { metadata: { index, term: m.term(index)!, confState: conf }, data: Buffer.from(`s${index}`) } };
  }
  // A snapshot from a leader beyond our log (replaces it).
  const index = Math.max(m.last(), snapIdx) + 1 + Math.floor(rnd() * 5);
  return { type: 'snapshot', group: g, snapshot: { metadata: { index, term: maxTerm + 1, confState: conf }, data: Buffer.from(`s${index}`) } };
}

async function runSeed(seed: number): Promise<void> {
  const rnd = mulberry32(seed);
  const mem = new MemFs();
  const opts = { segmentBytes: 1024 + Math.floor(rnd() * 4096), preallocate: rnd() < 0.3 };
  for (let round = 0; round < 4; round++) {
    // A crashed WAL keeps running on its detached files; fence it off the shared disk.
    let dead = false;
    const fence = <T>(f: () => T): T => {
      if (dead) throw new Error('crashed');
      return f();
    };
    const fenced = {
      mkdirp: (d: string) => fence(() => mem.mkdirp(d)),
      list: (d: string) => fence(() => mem.list(d)),
      open: (p: string, c: boolean) => fence(() => mem.open(p, c)),
      read: (p: string) => fence(() => mem.read(p)),
      rename: (a: string, b: string) => fence(() => mem.rename(a, b)),
      unlink: (p: string) => fence(() => mem.unlink(p)),
      syncDir: (d: string) => fence(() => mem.syncDir(d)),
    };
    const wal = await Wal.open('/wal', { ...opts, fs: fenced });
    const ref = refFromWal(wal);
    const digests = [ref.map((r) => r.digest()).join(' | ')];
    const rejected: unknown[] = [];
    let acked = 0; // appends acknowledged (acks arrive in order)
    const ops = 20 + Math.floor(rnd() * 150);
    for (let op = 0; op < ops; op++) {
      const recs: WalRecord[] = [];
      const n = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < n; k++) {
        const r = randomRecord(rnd, ref, Math.floor(rnd() * GROUPS));
        ref[r.group].apply(r);
        recs.push(r);
      }
      // Only whole appends are valid recovery points: one append() is atomic on disk.
      digests.push(ref.map((x) => x.digest()).join(' | '));
      const upTo = digests.length - 1;
      wal.append(recs).then(
        () => {
          if (!dead) acked = Math.max(acked, upTo);
        },
        (e: unknown) => {
          if (!dead) rejected.push(e);
        },
      );
      if (rnd() < 0.3) await new Promise((r) => setImmediate(r));
    }
    if (rnd() < 0.5) await new Promise((r) => setImmediate(r));
    dead = true;
    expect(rejected).toEqual([]);
    mem.crash((_name, n) => (rnd() < 0.5 ? Math.floor(rnd() * (n + 1)) : 0));

    const again = await Wal.open('/wal', { ...opts, fs: mem });
    const got = digestWal(again);
    const k = digests.lastIndexOf(got);
    if (k < acked) {
      throw new Error(`seed ${seed} round ${round}: recovered state matches prefix ${k}, but ${acked} records were acknowledged\n got ${got}\nwant ${digests[acked]}`);
    }
    await again.close();
  }
}

describe('WAL under simulated crashes (MemFs)', () => {
  // WAL_SIM_SEEDS=5000 WAL_SIM_FIRST=1 npx jest libs/wal/src/sim-crash runs a longer search.
  const first = Number(process.env.WAL_SIM_FIRST ?? 1);
  const seeds = Number(process.env.WAL_SIM_SEEDS ?? 150);
  it(`recovers a prefix containing every acknowledged append (seeds ${first}..${first + seeds - 1})`, async () => {
    for (let seed = first; seed < first + seeds; seed++) await runSeed(seed);
  }, 600_000);
});
