import { fromMessage, LogRecordError, toMessage, type LogRecord } from './log-record';
import { logTopic, shardOfLogTopic } from './topics';

// What a consumer reads back is what the mirror wrote: headers survive the Kafka wire format
// (values arrive as Buffers), and a malformed record is refused with what is wrong.
const wire = (r: LogRecord) => {
  const m = toMessage(r);
  const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.from(String(v))]));
  return { value: m.value as Buffer, headers, key: m.key };
};

describe('log records', () => {
  const base = { shardId: 7, index: 42, term: 3, data: Buffer.from([1, 2, 3]) };
  it.each([
    { status: 'committed', commitTs: 1_700_000_000_000_001n },
    { status: 'applied' },
    { status: 'applied', ts: 99n },
    { status: 'aborted', sqlstate: '40001' },
    { status: 'empty' },
    { status: 'unknown' },
    { status: 'gap', gapFrom: 10 },
  ] as const)('round-trips outcome %o with shard, index, term and bytes', (outcome) => {
    const rec: LogRecord = { ...base, outcome };
    const m = wire(rec);
    expect(m.key).toBe('7');
    expect(fromMessage(m)).toEqual(rec);
  });

  it('refuses records without the headers it needs, naming the header', () => {
    const m = wire({ ...base, outcome: { status: 'committed', commitTs: 5n } });
    const { ['weft.index']: _omit, ...noIndex } = m.headers;
    expect(() => fromMessage({ ...m, headers: noIndex }, 't@1')).toThrow(new LogRecordError('t@1: header weft.index is missing'));
    expect(() => fromMessage({ ...m, headers: { ...m.headers, 'weft.outcome': Buffer.from('maybe') } }, 't@1')).toThrow(/unknown outcome "maybe"/);
    expect(() => fromMessage({ ...m, headers: { ...m.headers, 'weft.index': Buffer.from('-1') } }, 't@1')).toThrow(/not an unsigned integer/);
  });

  it('names log topics and parses them back', () => {
    expect(logTopic('weft', 12)).toBe('weft.log.12');
    expect(shardOfLogTopic('weft', 'weft.log.12')).toBe(12);
    expect(shardOfLogTopic('weft', 'weft.log.012')).toBeUndefined();
    expect(shardOfLogTopic('weft', 'other.log.1')).toBeUndefined();
  });
});
