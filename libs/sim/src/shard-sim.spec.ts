import { runShardSim } from './shard-cluster';

// The shard simulation in CI: SHARD_SIM_SEEDS / SHARD_SIM_FIRST widen the sweep locally.
const SEEDS = Number(process.env.SHARD_SIM_SEEDS ?? 60);
const FIRST = Number(process.env.SHARD_SIM_FIRST ?? 1);

describe('shard replicas under the deterministic simulator', () => {
  it('the same seed replays to the same outcomes and final state', async () => {
    const a = await runShardSim({ seed: 7 });
    const b = await runShardSim({ seed: 7 });
    expect(a.ok).toBe(true);
    expect(b.signature).toBe(a.signature);
    expect(a.stats.commits).toBeGreaterThan(10);
    expect(a.stats.reads + a.stats.followerReads).toBeGreaterThan(10);
    expect(a.stats.large.puts).toBeGreaterThan(0);
  });

  it('catches a replica that lets commits land below served reads', async () => {
    let caught = 0;
    for (let seed = 1; seed <= 5 && caught === 0; seed++) {
      const r = await runShardSim({ seed, unsafeNoCommitFloor: true });
      if (!r.ok && /returned/.test(r.reason ?? '')) caught++;
    }
    expect(caught).toBe(1);
  });

  it('catches abandoned large transactions when no sweep settles them', async () => {
    let caught = 0;
    for (let seed = 1; seed <= 5 && caught === 0; seed++) {
      const r = await runShardSim({ seed, noStagedSweep: true });
      if (!r.ok && /left unsettled/.test(r.reason ?? '') && r.stats.large.abandoned > 0) caught++;
    }
    expect(caught).toBe(1);
  });

  it(`${SEEDS} seeds: equal state hashes at equal applied index, reads consistent with committed writes`, async () => {
    const failures: string[] = [];
    const totals = { commits: 0, reads: 0, followerReads: 0, crashes: 0, ambiguous: 0, leaseReads: 0, readIndexReads: 0 };
    const large = { commits: 0, aborts: 0, rollbacks: 0, abandoned: 0, ambiguous: 0, puts: 0 };
    for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
      const r = await runShardSim({ seed });
      if (!r.ok) failures.push(`seed ${seed}: ${r.reason} (replay: npx jest libs/sim/src/shard-sim.spec.ts with SHARD_SIM_FIRST=${seed} SHARD_SIM_SEEDS=1)`);
      totals.commits += r.stats.commits;
      totals.reads += r.stats.reads;
      totals.followerReads += r.stats.followerReads;
      totals.crashes += r.stats.crashes;
      totals.ambiguous += r.stats.ambiguous;
      totals.leaseReads += r.stats.leaseReads;
      totals.readIndexReads += r.stats.readIndexReads;
      for (const k of Object.keys(large) as (keyof typeof large)[]) large[k] += r.stats.large[k];
    }
    expect(failures).toEqual([]);
    // The runs did real work: commits, both kinds of reads, and crashes.
    expect(totals.commits).toBeGreaterThan(SEEDS * 10);
    expect(totals.followerReads).toBeGreaterThan(SEEDS);
    expect(totals.crashes).toBeGreaterThan(SEEDS / 2);
    // Strong reads were confirmed both ways: under the lease (even seeds) and by ReadIndex (odd).
    expect(totals.leaseReads).toBeGreaterThan(SEEDS);
    expect(totals.readIndexReads).toBeGreaterThan(SEEDS);
    // Large transactions staged chunks and ended every way: committed, refused, rolled back and
    // abandoned (left to the sweep, which had to settle them all before the run could pass).
    expect(large.puts).toBeGreaterThan(SEEDS * 5);
    expect(large.commits).toBeGreaterThan(SEEDS);
    expect(large.aborts).toBeGreaterThan(0);
    expect(large.rollbacks).toBeGreaterThan(SEEDS / 2);
    expect(large.abandoned).toBeGreaterThan(SEEDS / 2);
  }, 120000);
});
