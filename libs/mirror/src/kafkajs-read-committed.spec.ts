// kafkajs 2.2.4 let records of aborted transactions through to read_committed consumers when
// several producers' aborted transactions overlap in a partition (the broker lists them in abort
// order; kafkajs assumed first-offset order and entered one per record). The CDC service's
// producers (one per shard) write the same change topics, so a kill -9 of the service left
// overlapping aborted transactions there, and consumers saw changes twice. Weft installs kafkajs
// with patches/kafkajs+2.2.4.patch (npm postinstall, patch-package); this pins the behaviour.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const filterAbortedMessages = require('kafkajs/src/consumer/filterAbortedMessages') as (a: {
  messages: Msg[];
  abortedTransactions: { producerId: string; firstOffset: string }[];
}) => Msg[];

interface Msg {
  offset: string;
  key: Buffer | null;
  batchContext: { producerId: string; inTransaction: boolean };
  isControlRecord?: boolean;
}

const rec = (offset: number, producerId: string): Msg => ({ offset: String(offset), key: Buffer.from('k'), batchContext: { producerId, inTransaction: true } });
const abortMarker = (offset: number, producerId: string): Msg => ({ offset: String(offset), key: Buffer.from([0, 0, 0, 0]), batchContext: { producerId, inTransaction: true }, isControlRecord: true });
const commitMarker = (offset: number, producerId: string): Msg => ({ offset: String(offset), key: Buffer.from([0, 0, 0, 1]), batchContext: { producerId, inTransaction: true }, isControlRecord: true });

describe('read_committed filtering of aborted transactions (patched kafkajs)', () => {
  it('drops every record of overlapping aborted transactions listed in abort order, keeps committed ones', () => {
    // Producer 1's transaction starts at 0, producer 2's at 1; 2 is aborted first (marker at 4),
    // 1 later (marker at 6); producer 3 commits in between.
    const messages = [rec(0, '1'), rec(1, '2'), rec(2, '1'), rec(3, '3'), abortMarker(4, '2'), commitMarker(5, '3'), abortMarker(6, '1'), rec(7, '1')];
    const kept = filterAbortedMessages({ messages, abortedTransactions: [{ producerId: '2', firstOffset: '1' }, { producerId: '1', firstOffset: '0' }] });
    expect(kept.filter((m) => m.isControlRecord !== true).map((m) => m.offset)).toEqual(['3', '7']);
  });

  it('enters every aborted transaction that started before a fetch that begins inside them', () => {
    // The fetch starts at 10; both transactions began earlier.
    const messages = [rec(10, '2'), rec(11, '1'), abortMarker(12, '1'), abortMarker(13, '2'), rec(14, '2')];
    const kept = filterAbortedMessages({ messages, abortedTransactions: [{ producerId: '1', firstOffset: '8' }, { producerId: '2', firstOffset: '9' }] });
    expect(kept.filter((m) => m.isControlRecord !== true).map((m) => m.offset)).toEqual(['14']);
  });
});
