import { beginEvent, boundaryId, changeEvent, changeTopic, endEvent, opOf, transactionTopic } from './envelope';

describe('change envelope', () => {
  const src = { db: 'weft', schema: 'public', table: 'acct', shard: 3, index: 77, commitTs: 1_700_000_000_123_456n, txId: 'ab'.repeat(16) };

  it('derives op from the images', () => {
    expect(opOf(null, { id: 1 })).toBe('c');
    expect(opOf({ id: 1 }, { id: 1 })).toBe('u');
    expect(opOf({ id: 1 }, null)).toBe('d');
    expect(opOf(null, null)).toBeUndefined();
  });

  it('has Debezium\'s fields plus where the change sits in Weft\'s log', () => {
    const e = changeEvent('weft', src, { id: 1, v: 'a' }, { id: 1, v: 'b' }, 'u', 1234, { totalOrder: 2, collectionOrder: 1 });
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      before: { id: 1, v: 'a' },
      after: { id: 1, v: 'b' },
      source: {
        version: '1', connector: 'weft', name: 'weft', ts_ms: 1_700_000_000_123, snapshot: 'false',
        db: 'weft', schema: 'public', table: 'acct', shard: 3, index: 77, commit_ts: '1700000000123456', txId: 'ab'.repeat(16),
      },
      op: 'u',
      ts_ms: 1234,
      transaction: { id: `${'ab'.repeat(16)}:3`, total_order: 2, data_collection_order: 1 },
    });
  });

  it('boundary events: BEGIN without counts, END with the total and per-table counts', () => {
    const id = boundaryId('cd'.repeat(16), 2);
    expect(beginEvent(id, 5)).toEqual({ status: 'BEGIN', id, event_count: null, data_collections: null, ts_ms: 5 });
    expect(endEvent(id, new Map([['weft.public.a', 2], ['weft.public.b', 1]]), 6)).toEqual({
      status: 'END', id, event_count: 3, ts_ms: 6,
      data_collections: [{ data_collection: 'weft.public.a', event_count: 2 }, { data_collection: 'weft.public.b', event_count: 1 }],
    });
  });

  it('names topics <prefix>.cdc.<db>.<schema>.<table> and <prefix>.cdc.<db>.transactions, with characters Kafka refuses replaced', () => {
    expect(changeTopic('weft', src)).toBe('weft.cdc.weft.public.acct');
    expect(changeTopic('p', { db: 'my db', schema: 'sales.eu', table: 'Ordres€' })).toBe('p.cdc.my_db.sales_eu.Ordres_');
    expect(transactionTopic('weft', 'weft')).toBe('weft.cdc.weft.transactions');
  });
});
