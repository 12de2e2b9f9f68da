// Materializers over throwaway RocksDB stores for specs: each test gets a fresh directory, and
// every store opened in it is closed and removed after the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEntry, type ApplyOutcome, type LogEntry } from '@weft/logentry';
import { MvccStore } from '@weft/storage';
import { Materializer } from '../materializer';

export interface TempMaterializers {
  /** A materializer of `shardId` over the store named `name` in this test's directory. */
  open(name?: string, shardId?: number): Promise<Materializer>;
  /** Closes `m`'s store and opens it again (what a restart does). */
  reopen(m: Materializer, name?: string): Promise<Materializer>;
}

/** Registers beforeEach/afterEach hooks in the calling describe block. */
export function tempMaterializers(prefix: string, defaultShard = 1): TempMaterializers {
  let dir = '';
  const stores: MvccStore[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const open = async (name = 'a', shardId = defaultShard): Promise<Materializer> => {
    const store = await MvccStore.open(join(dir, name));
    stores.push(store);
    return Materializer.open(store, shardId);
  };
  return {
    open,
    reopen: async (m, name = 'a') => {
      await m.store.close();
      stores.splice(stores.indexOf(m.store), 1);
      return open(name, m.shardId);
    },
  };
}

/** Applies `e` at the next index; an 'already-applied' answer is a test failure. */
export function applyNext(m: Materializer, e: LogEntry): ApplyOutcome {
  const r = m.apply(m.appliedIndex + 1, encodeEntry(e));
  if (r === 'already-applied') throw new Error('unexpected already-applied');
  return r;
}
