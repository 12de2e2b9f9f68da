// The statement snapshot over a real Txn: reads see the data as of the snapshot's start (stored
// rows plus the transaction's earlier writes), never writes made through `writer` afterwards.
import { MemoryShard, Txn } from '@weft/txn';
import { StatementSnapshot } from './statement-snapshot';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const str = (x: Buffer | undefined): string | undefined => x?.toString('latin1');

async function setup(): Promise<{ shard: MemoryShard; txn: Txn }> {
  const shard = new MemoryShard();
  const seed = new Txn(shard);
  for (const key of ['a', 'c', 'e', 'g']) seed.put(b(key), b(`${key}0`));
  await seed.commit();
  const txn = new Txn(shard);
  // Earlier writes of the transaction: part of the snapshot.
  txn.put(b('b'), b('b1'));
  txn.delete(b('e'));
  txn.put(b('g'), b('g1'));
  return { shard, txn };
}

async function scanAll(s: StatementSnapshot, reverse = false): Promise<string[]> {
  const out: string[] = [];
  for await (const r of s.reader.scan(b('a'), b('z'), { reverse })) out.push(`${str(r.key)}=${str(r.value)}`);
  return out;
}

describe('StatementSnapshot', () => {
  it('scans and gets see the start state, forwards and backwards, whatever is written meanwhile', async () => {
    const { txn } = await setup();
    const s = new StatementSnapshot(txn);
    const start = ['a=a0', 'b=b1', 'c=c0', 'g=g1'];
    expect(await scanAll(s)).toEqual(start);
    s.writer.delete(b('a'));
    s.writer.put(b('b'), b('b2'));
    s.writer.delete(b('c'));
    s.writer.put(b('d'), b('d2'));
    s.writer.put(b('e'), b('e2'));
    s.writer.put(b('h'), b('h2'));
    expect(await scanAll(s)).toEqual(start);
    expect(await scanAll(s, true)).toEqual([...start].reverse());
    expect(await Promise.all(['a', 'b', 'c', 'd', 'e', 'g', 'h'].map(async (key) => str(await s.reader.get(b(key)))))).toEqual(['a0', 'b1', 'c0', undefined, undefined, 'g1', undefined]);
    // The transaction itself sees everything.
    const now: string[] = [];
    for await (const r of txn.scan(b('a'), b('z'))) now.push(`${str(r.key)}=${str(r.value)}`);
    expect(now).toEqual(['b=b2', 'd=d2', 'e=e2', 'g=g1', 'h=h2']);
  });

  it('a scan that stops early returns the first rows of the start state', async () => {
    const { txn } = await setup();
    const s = new StatementSnapshot(txn);
    s.writer.delete(b('a'));
    s.writer.put(b('a1'), b('new'));
    const first: string[] = [];
    for await (const r of s.reader.scan(b('a'), b('z'), { limit: 2 })) {
      first.push(str(r.key) ?? '');
      if (first.length === 2) break;
    }
    expect(first).toEqual(['a', 'b']);
  });

  it('writtenSoFar is frozen when taken', async () => {
    const { txn } = await setup();
    const s = new StatementSnapshot(txn);
    s.writer.put(b('x'), b('1'));
    const before = s.writtenSoFar();
    s.writer.put(b('y'), b('1'));
    expect([before(b('x')), before(b('y')), s.writtenSoFar()(b('y'))]).toEqual([true, false, true]);
  });
});
