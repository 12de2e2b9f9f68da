import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MetaCatalog } from './catalog';
import { decodeCommand, encodeCommand, MetaCommandDecodeError, type MetaCommand } from './commands';
import { MetaStateMachine } from './state';

const node = (nodeId: number, zone: string) => ({ nodeId, address: `10.0.0.${nodeId}`, kvPort: 7200 + nodeId, raftPort: 7100 + nodeId, region: 'eu', zone });

/** A mixed log: registrations, heartbeats, liveness, shards, placement, hints, TSO marks, noise. */
const LOG: MetaCommand[] = [
  { t: 'barrier', leader: 1, term: 2 },
  { t: 'tso', highUs: 1_700_000_001_000_000n },
  { t: 'node', info: node(1, 'a'), atMs: 1000 },
  { t: 'node', info: node(2, 'b'), atMs: 1001 },
  { t: 'node', info: node(3, 'c'), atMs: 1002 },
  { t: 'init-shards', count: 4 },
  { t: 'init-shards', count: 7 }, // ignored: the map exists
  { t: 'replicas', shardId: 1, replicas: [3, 1, 2, 2] },
  { t: 'replicas', shardId: 9, replicas: [1] }, // unknown shard: no-op
  { t: 'beats', beats: [[1, 5000], [2, 400], [42, 9000]] },
  { t: 'liveness', nodeId: 3, state: 'dead', atMs: 20000 },
  { t: 'leaseholders', hints: [[1, 2], [3, 1]] },
  { t: 'tso', highUs: 1_700_000_000_500_000n }, // lower: the mark never goes down
  { t: 'node', info: { ...node(2, 'b'), address: '10.0.1.2' }, atMs: 21000 },
  { t: 'liveness', nodeId: 3, state: 'live', atMs: 22000 },
];

async function replay(cmds: readonly MetaCommand[], batch: number): Promise<MetaCatalog> {
  const sm = new MetaStateMachine();
  const cat = await MetaCatalog.open(undefined);
  let i = 0;
  for (const c of cmds) {
    i++;
    // Through the byte encoding, as the Raft log carries it; index gaps are no-op entries.
    sm.applyEntry(2 * i, encodeCommand(c));
    if (i % batch === 0) await cat.persist(sm.takeChanges());
  }
  await cat.persist(sm.takeChanges());
  return cat;
}

describe('meta state machine and TypeORM catalog', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-meta-state-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips every command and refuses malformed ones', () => {
    for (const c of LOG) expect(decodeCommand(encodeCommand(c))).toEqual(c);
    expect(() => decodeCommand(Buffer.from([1, ...Buffer.from('{"t":"tso","highUs":-1}')]))).toThrow(MetaCommandDecodeError);
    expect(() => decodeCommand(Buffer.from([9, ...Buffer.from('{"t":"barrier"}')]))).toThrow(/version 9/);
    expect(() => decodeCommand(Buffer.from([1, ...Buffer.from('{"t":"nope"}')]))).toThrow(/unknown/);
  });

  it('is deterministic: the same commands give the same TypeORM rows, however they were batched', async () => {
    const a = await replay(LOG, 1);
    const b = await replay(LOG, 4);
    const ca = await a.load();
    const cb = await b.load();
    expect(ca).toEqual(cb);
    expect(ca.appliedIndex).toBe(2 * LOG.length);
    expect(ca.tsoHighUs).toBe(1_700_000_001_000_000n);
    expect(ca.nodes.map((n) => [n.nodeId, n.state, n.lastHeartbeatMs, n.address])).toEqual([
      [1, 'live', 5000, '10.0.0.1'],
      [2, 'live', 21000, '10.0.1.2'],
      [3, 'live', 22000, '10.0.0.3'],
    ]);
    expect(ca.shards.map((s) => [s.shardId, s.hashLo, s.hashHi, s.replicas, s.leaseholder, s.version])).toEqual([
      [1, 0, 16384, [1, 2, 3], 2, 2],
      [2, 16384, 32768, [], 0, 1],
      [3, 32768, 49152, [], 1, 1],
      [4, 49152, 65536, [], 0, 1],
    ]);
    await a.close();
    await b.close();
  });

  it('persists atomically to a file and a restart resumes from the persisted applied index', async () => {
    const file = path.join(dir, 'meta.sqlite');
    const sm = new MetaStateMachine();
    const cat = await MetaCatalog.open(file);
    LOG.slice(0, 8).forEach((c, i) => sm.applyEntry(i + 1, encodeCommand(c)));
    await cat.persist(sm.takeChanges());
    // Applied after the last persist, then a "crash": these are not in the file.
    LOG.slice(8).forEach((c, i) => sm.applyEntry(i + 9, encodeCommand(c)));
    await cat.close();
    expect(existsSync(`${file}.tmp`)).toBe(false);

    const reopened = await MetaCatalog.open(file);
    const c = await reopened.load();
    expect(c.appliedIndex).toBe(8);
    expect(reopened.persistedIndex).toBe(8);
    const resumed = new MetaStateMachine();
    resumed.load(c.appliedIndex, c.tsoHighUs, c.nodes, c.shards);
    // The log replays from the start; entries at or below the persisted index are skipped.
    LOG.forEach((cmd, i) => resumed.applyEntry(i + 1, encodeCommand(cmd)));
    await reopened.persist(resumed.takeChanges());
    const fresh = new MetaStateMachine();
    LOG.forEach((cmd, i) => fresh.applyEntry(i + 1, encodeCommand(cmd)));
    expect(resumed.encodeSnapshot()).toEqual(fresh.encodeSnapshot());
    expect((await reopened.load()).appliedIndex).toBe(LOG.length);
    await reopened.close();
  });

  it('restores from a snapshot and rewrites every row', async () => {
    const src = new MetaStateMachine();
    LOG.forEach((c, i) => src.applyEntry(i + 1, encodeCommand(c)));
    const dst = new MetaStateMachine();
    dst.applyEntry(1, encodeCommand({ t: 'node', info: node(9, 'z'), atMs: 1 }));
    const cat = await MetaCatalog.open(undefined);
    await cat.persist(dst.takeChanges());
    dst.restoreSnapshot(src.encodeSnapshot(), 40);
    await cat.persist(dst.takeChanges());
    const c = await cat.load();
    expect(c.appliedIndex).toBe(40);
    expect(c.nodes.map((n) => n.nodeId)).toEqual([1, 2, 3]);
    expect(c.shards).toHaveLength(4);
    await cat.close();
  });
});
