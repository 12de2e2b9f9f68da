import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { CdcFeed } from './cdc-feed';
import type { CatalogView } from './catalog-view';
import type { TopicRegistry } from './topics';

// A feed that is behind its log topic and publishes nothing must show a growing lagMs: before,
// a feed whose consumer got no batches reported lagMs 0 while lagEntries grew (a stall looked
// healthy to anyone watching the time lag).
describe('CdcFeed lag', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('is 0 while the topic is at the published index, then grows from when the feed was first seen behind', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-cdc-lag-'));
    dirs.push(dataDir);
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    // Nothing here talks to Kafka: the feed is opened (its replica) but never run.
    const feed = new CdcFeed({
      kafka: {} as Kafka,
      prefix: 'lag',
      changePrefix: 'lag',
      instanceId: 'x',
      shardId: 2,
      dataDir,
      topics: {} as TopicRegistry,
      catalog: {} as CatalogView,
      catalogSettled: () => true,
      logger: quiet,
    });
    await feed.open();
    try {
      const t0 = 1_000_000;
      expect(feed.status(t0)).toMatchObject({ topicIndex: 0, publishedIndex: 0, lagEntries: 0, lagMs: 0 });
      feed.noteTopicIndex(40, t0);
      expect(feed.status(t0 + 5_000)).toMatchObject({ topicIndex: 40, lagEntries: 40, lagMs: 5_000 });
      // A later poll does not restart the clock: the feed is still behind since t0.
      feed.noteTopicIndex(55, t0 + 6_000);
      expect(feed.status(t0 + 9_000)).toMatchObject({ lagEntries: 55, lagMs: 9_000 });
    } finally {
      await feed.close();
    }
  });
});
