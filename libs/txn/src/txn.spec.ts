import { PgError } from '@weft/pgwire';
import { Txn } from './txn';
import { MemoryShard } from './test-support/memory-shard';

const b = (s: string): Buffer => Buffer.from(s);

async function collect(it: AsyncIterable<{ key: Buffer; value: Buffer }>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(`${r.key.toString()}=${r.value.toString()}`);
  return out;
}

async function seed(shard: MemoryShard, rows: Record<string, string>): Promise<void> {
  const t = new Txn(shard);
  for (const [key, v] of Object.entries(rows)) t.put(b(key), b(v));
  await t.commit();
}

describe('Txn', () => {
  it('reads its own writes in gets and scans, in key order, hiding its deletes', async () => {
    const shard = new MemoryShard();
    await seed(shard, { a: '1', c: '3', e: '5' });
    const t = new Txn(shard);
    t.put(b('b'), b('2'));
    t.delete(b('c'));
    t.put(b('e'), b('50'));
    expect((await t.get(b('b')))?.toString()).toBe('2');
    expect(await t.get(b('c'))).toBeUndefined();
    expect(await collect(t.scan(b('a'), b('z')))).toEqual(['a=1', 'b=2', 'e=50']);
    expect(await collect(t.scan(b('a'), b('z'), { reverse: true }))).toEqual(['e=50', 'b=2', 'a=1']);
  });

  it('read-only transactions commit without proposing', async () => {
    const shard = new MemoryShard();
    await seed(shard, { a: '1' });
    const n = shard.proposed.length;
    const t = new Txn(shard);
    await t.get(b('a'));
    expect(await t.commit()).toBeUndefined();
    expect(shard.proposed.length).toBe(n);
  });

  it('aborts with 40001 when something it read changed after its snapshot', async () => {
    const shard = new MemoryShard();
    await seed(shard, { a: '1' });
    const t1 = new Txn(shard);
    const t2 = new Txn(shard);
    await t1.get(b('a'));
    await t2.get(b('a'));
    t1.put(b('a'), b('2'));
    t2.put(b('a'), b('3'));
    await t1.commit();
    await expect(t2.commit()).rejects.toMatchObject({ code: '40001' });
  });

  it('a scan cut by the consumer only protects the consumed part of the span', async () => {
    const shard = new MemoryShard();
    await seed(shard, { a: '1', b: '2', c: '3' });
    const t = new Txn(shard);
    for await (const _ of t.scan(b('a'), b('z'))) break;
    await seed(shard, { c: '30' });
    t.put(b('x'), b('1'));
    await expect(t.commit()).resolves.toBeDefined();
  });

  it('ifAbsent on an existing key aborts with 23505 naming the constraint', async () => {
    const shard = new MemoryShard();
    await seed(shard, { a: '1' });
    const t = new Txn(shard);
    t.put(b('a'), b('9'), { constraint: 't_pkey', detail: 'Key (id)=(1) already exists.' });
    const err = await t.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgError);
    expect(err).toMatchObject({ code: '23505', fields: { constraint: 't_pkey' } });
  });

  it('savepoints restore the write buffer', async () => {
    const shard = new MemoryShard();
    const t = new Txn(shard);
    t.put(b('a'), b('1'));
    const sp = t.savepoint();
    t.put(b('b'), b('2'));
    t.delete(b('a'));
    t.rollbackTo(sp);
    expect(await collect(t.scan(b('a'), b('z')))).toEqual(['a=1']);
    await t.commit();
    expect(await collect(new Txn(shard).scan(b('a'), b('z')))).toEqual(['a=1']);
  });

  it('scans page through large ranges', async () => {
    const shard = new MemoryShard();
    const rows: Record<string, string> = {};
    for (let i = 0; i < 50; i++) rows[`k${String(i).padStart(3, '0')}`] = String(i);
    await seed(shard, rows);
    const t = new Txn(shard, { scanPageSize: 7 });
    expect((await collect(t.scan(b('k'), b('l')))).length).toBe(50);
    expect((await collect(t.scan(b('k'), b('l'), { reverse: true })))[0]).toBe('k049=49');
  });

  it('refuses a write set over the size limit with 54000 at the write that crosses it, and stays usable', async () => {
    const shard = new MemoryShard();
    const t = new Txn(shard, { maxWriteBytes: 1000 });
    const sp = t.savepoint();
    for (let i = 0; i < 9; i++) t.put(b(`k${i}`), Buffer.alloc(80));
    // Overwriting a key replaces its size instead of adding to it.
    for (let i = 0; i < 20; i++) t.put(b('k0'), Buffer.alloc(80));
    let err: unknown;
    try {
      for (let i = 9; i < 20; i++) t.put(b(`k${i}`), Buffer.alloc(80));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgError);
    expect(err).toMatchObject({ code: '54000' });
    // Rolling back to a savepoint frees the budget again.
    t.rollbackTo(sp);
    for (let i = 0; i < 9; i++) t.put(b(`n${i}`), Buffer.alloc(80));
    expect(await t.commit()).toBeDefined();
    expect(shard.proposed.length).toBe(1);
  });
});
