import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StagedSnapshotError, StagedSnapshotFile } from './staged-snapshot';

describe('StagedSnapshotFile (the marker of a snapshot staged but not live, decision 0041)', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(path.join(os.tmpdir(), 'weft-staged-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is absent until written, reads back what was written, and is gone once cleared', () => {
    const f = new StagedSnapshotFile(root, 3);
    expect(f.read()).toBeUndefined();
    f.write({ dir: 'shard-3.snap-AbC_12', index: 417 });
    expect(f.read()).toEqual({ dir: 'shard-3.snap-AbC_12', index: 417 });
    expect(f.dirOf({ dir: 'shard-3.snap-AbC_12', index: 417 })).toBe(path.join(root, 'shard-3.snap-AbC_12'));
    expect(existsSync(path.join(root, 'shard-3.staged.tmp'))).toBe(false);
    f.clear();
    expect(f.read()).toBeUndefined();
    f.clear();
  });

  it('refuses a marker that names another shard, a path outside the data directory, or no index', () => {
    const f = new StagedSnapshotFile(root, 3);
    const file = path.join(root, 'shard-3.staged');
    for (const [text, why] of [
      ['{"dir":"shard-4.snap-x","index":5}', /does not name a staged state of shard 3/],
      ['{"dir":"../shard-3.snap-x","index":5}', /does not name a staged state of shard 3/],
      ['{"dir":"shard-3","index":5}', /does not name a staged state of shard 3/],
      ['{"dir":"shard-3.snap-x","index":0}', /does not name a staged state of shard 3/],
      ['{"dir":"shard-3.snap-x"}', /does not name a staged state of shard 3/],
      ['shard-3.snap-x', /is not JSON/],
    ] as const) {
      writeFileSync(file, text);
      expect(() => f.read()).toThrow(StagedSnapshotError);
      expect(() => f.read()).toThrow(why);
    }
  });
});
