// Large transactions against the real materializer: the buffer is staged as intents every
// `stageBytes`, the transaction reads them back, and commit/rollback settle them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalShard } from '@weft/materialize';
import { Txn } from './txn';

const b = (s: string): Buffer => Buffer.from(s);
const key = (i: number): Buffer => b(`row/${String(i).padStart(5, '0')}`);
const STAGE = 2048;

async function collect(it: AsyncIterable<{ key: Buffer; value: Buffer }>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(`${r.key.toString()}=${r.value.toString()}`);
  return out;
}

describe('Txn staging (large transactions)', () => {
  let dir: string;
  let shard: LocalShard;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-staged-txn-'));
    shard = await LocalShard.open(dir, { shardId: 1 });
    const seed = new Txn(shard);
    seed.put(key(0), b('seed'));
    await seed.commit();
  });
  afterEach(async () => {
    await shard.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const big = (): Txn => new Txn(shard, { stageBytes: STAGE });
  const fill = (t: Txn, from: number, to: number, value = 'v'): void => {
    for (let i = from; i < to; i++) t.put(key(i), b(`${value}${i}`.padEnd(64, '.')), { constraint: 'row_pkey' });
  };
  const count = async (): Promise<number> => (await collect(new Txn(shard).scan(b('row/'), b('row0')))).length;

  it('stages a large write set in chunks, reads it back, and publishes it only at commit', async () => {
    const t = big();
    fill(t, 1, 400);
    await t.settle();
    expect(t.staged).toBe(true);
    expect(shard.materializer.stagedTransactions()).toEqual([expect.objectContaining({ state: 'pending' })]);
    // Read your own writes, staged or buffered; others see none of them.
    expect((await t.get(key(5)))?.toString()).toMatch(/^v5\./);
    expect((await t.get(key(399)))?.toString()).toMatch(/^v399\./);
    expect((await collect(t.scan(b('row/'), b('row0')))).length).toBe(400);
    expect(await count()).toBe(1);
    const commitTs = await t.commit();
    expect(commitTs).toBeDefined();
    expect(await count()).toBe(400);
    // Commit waited for the chunks to become plain versions.
    expect(shard.materializer.stagedTransactions()).toEqual([]);
    expect(shard.materializer.verifyStateHash().ok).toBe(true);
  });

  it('rolls back staged writes, leaving the data as it was', async () => {
    const t = big();
    fill(t, 1, 300);
    t.delete(key(0));
    await t.settle();
    t.rollback();
    await t.cleanedUp;
    expect(shard.materializer.stagedTransactions()).toEqual([]);
    expect(await count()).toBe(1);
    const again = big();
    fill(again, 1, 300);
    await again.commit();
    expect(await count()).toBe(300);
  });

  it('fails with 23505 when a staged chunk repeats a key, and cleans up', async () => {
    const t = big();
    fill(t, 1, 100);
    await t.settle();
    fill(t, 50, 150); // keys 50..99 again, in a later chunk
    const err = await t.commit().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '23505', fields: { constraint: 'row_pkey' } });
    await t.cleanedUp;
    expect(shard.materializer.stagedTransactions()).toEqual([]);
    expect(await count()).toBe(1);
  });

  it('makes a concurrent writer of a staged key fail with 40001, and lets readers read past', async () => {
    const t = big();
    fill(t, 1, 200);
    await t.settle();
    const other = new Txn(shard);
    expect(await other.get(key(7))).toBeUndefined();
    other.put(key(7), b('other'));
    await expect(other.commit()).rejects.toMatchObject({ code: '40001' });
    await t.commit();
    expect((await new Txn(shard).get(key(7)))?.toString()).toMatch(/^v7\./);
  });

  it('refuses ROLLBACK TO a savepoint taken before writes were staged (0A000) but honours later ones', async () => {
    const t = big();
    const early = t.savepoint();
    fill(t, 1, 200);
    await t.settle();
    let refused: unknown;
    try {
      t.rollbackTo(early);
    } catch (e) {
      refused = e;
    }
    expect(refused).toMatchObject({ code: '0A000' });
    const late = t.savepoint();
    t.put(key(999), b('x'));
    t.rollbackTo(late);
    expect(await t.get(key(999))).toBeUndefined();
    await t.commit();
    expect(await count()).toBe(200);
  });

  it('does not stage while a scan is running, so the scan never meets rows written during it', async () => {
    const t = big();
    fill(t, 1, 100);
    await t.settle();
    let seen = 0;
    for await (const row of t.scan(b('row/'), b('row0'))) {
      seen++;
      // Rewrite each row under a key further along the range (an UPDATE that moves keys).
      const n = Number(row.key.toString().slice(4));
      if (n < 100) t.put(key(n + 1000), row.value);
    }
    expect(seen).toBe(100);
    await t.commit();
    expect(await count()).toBe(200);
  });
});
