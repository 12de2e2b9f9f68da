import { EntryType, type Entry } from '@weft/raft';
import { NodeMirror, type ShardLogSource } from '@weft/mirror';
import { TEST_KAFKA_BROKER, testKafka } from './support/kafka';
import { indexProblems, readLogs } from './support/kafka-log';

// Two nodes that both believe they lead a shard (a deposed leader that has not noticed yet)
// mirror the same log to a real broker at the same time. Fencing (one transactional id per
// shard) and the progress committed with the data must keep the topic free of duplicates and
// gaps: each takeover fences the other's producer and resumes after the committed progress.
jest.setTimeout(180_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A shard log that grows on its own; `lead` says whether this node thinks it leads. */
function growingLog(entries: Entry[], lead: () => boolean): ShardLogSource {
  return {
    leaderTerm: () => (lead() ? 1 : undefined),
    appliedIndex: () => entries.length,
    firstIndex: () => 1,
    entries: (_id, lo, hi) => entries.slice(lo - 1, hi - 1),
    outcomeAt: (_id, index) => ({ status: 'committed', commitTs: BigInt(index) * 10n }),
  };
}

describe('Kafka mirror with two nodes leading the same shard at once', () => {
  it('publishes every index exactly once, in order', async () => {
    const prefix = `wtfence${process.pid}${Date.now().toString(36)}`;
    const entries: Entry[] = [];
    const append = (n: number): void => {
      for (let i = 0; i < n; i++) entries.push({ term: 1, index: entries.length + 1, type: EntryType.Normal, data: Buffer.from(`entry ${entries.length + 1}`) });
    };
    const logger = { info: () => undefined, warn: () => undefined };
    const settings = { brokers: [TEST_KAFKA_BROKER], topicPrefix: prefix, replicationFactor: 1 };
    let bothLead = true;
    const a = new NodeMirror({ kafka: settings, nodeId: 1, logger, maxBatchEntries: 7 });
    const b = new NodeMirror({ kafka: settings, nodeId: 2, logger, maxBatchEntries: 7 });
    a.start(growingLog(entries, () => true), [1]);
    b.start(growingLog(entries, () => bothLead), [1]);
    // The log keeps growing until both nodes have published part of it (each fencing the other).
    const grow = setInterval(() => append(5), 50);
    try {
      const st = () => [a.stats().shards[0], b.stats().shards[0]];
      await waitFor(() => st().every((s) => s.entriesProduced > 0), 'both nodes to have produced', 110_000);
      clearInterval(grow);
      bothLead = false;
      append(20);
      await waitFor(() => a.stats().shards[0].mirroredIndex === entries.length, 'node 1 to catch up alone');
    } finally {
      clearInterval(grow);
      await a.stop();
      await b.stop();
    }
    const logs = await readLogs(testKafka('weft-fencing-test'), prefix, new Map([[1, entries.length]]));
    const recs = logs.get(1) ?? [];
    expect(indexProblems(recs)).toEqual([]);
    expect(recs.map((r) => r.index)).toEqual(entries.map((e) => e.index));
    expect(recs.map((r) => r.data.toString())).toEqual(entries.map((e) => Buffer.from(e.data).toString()));
  });
});

async function waitFor(ok: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
