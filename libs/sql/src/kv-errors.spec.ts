import { KvError } from '@weft/kv';
import { PgError } from '@weft/pgwire';
import { kvErrorToPg } from './kv-errors';

/** An error as a shard's gc threshold check raises it and the KV RPC carries it. */
const tooOld = (): Error => Object.assign(new Error('snapshot too old: read timestamp 5 is below the gc threshold 9 of shard 2'), { sqlstate: '72000' });

describe('kvErrorToPg', () => {
  it('keeps the KV table’s SQLSTATEs and passes other errors through', () => {
    expect(kvErrorToPg(new KvError('ambiguous', 'fate unknown'))).toMatchObject({ code: '40003' });
    expect(kvErrorToPg(new KvError('retry', 'conflict'))).toMatchObject({ code: '40001', hint: 'Retry the transaction.' });
    const plain = new Error('boom');
    expect(kvErrorToPg(plain)).toBe(plain);
    const pg = new PgError('23505', 'dup');
    expect(kvErrorToPg(pg)).toBe(pg);
  });

  it('reports a read below the gc threshold as 72000 only when the user chose the timestamp; otherwise the transaction restarts (40001)', () => {
    expect(kvErrorToPg(tooOld(), { userTimestamp: true })).toMatchObject({ code: '72000', message: expect.stringContaining('snapshot too old') as string });
    expect(kvErrorToPg(tooOld())).toMatchObject({ code: '40001', hint: 'Retry the transaction.' });
  });
});
