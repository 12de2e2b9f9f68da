/**
 * `npm run sim -- --seeds N [--start S] [--steps M]` runs seeds S..S+N-1;
 * `npm run sim -- --seed S [--steps M] [--trace]` replays one seed exactly (same trace hash).
 * `--workload bank` runs the multi-shard bank (multi-shard-bank.ts) instead of the Raft cluster,
 * with the same --seed/--seeds/--start/--keep-going/--trace (and --duration MS, --shards N).
 * Exit code 0 when every seed passed, 1 on a failure, 2 on bad arguments.
 */
import { runBankSim, type BankSimResult } from './multi-shard-bank';
import { runClusterSim } from './raft-cluster';
import { DEFAULT_STEPS, formatFailure, runSeeds } from './runner';

interface Args {
  seed?: number;
  seeds?: number;
  start: number;
  steps: number;
  trace: boolean;
  unsafeVoteTwice: boolean;
  lease: boolean;
  keepGoing: boolean;
  workload: 'raft' | 'bank';
  duration?: number;
  shards?: number;
  noLocking: boolean;
  gc?: boolean;
}

const USAGE =
  'usage: npm run sim -- --seeds N [--start S] [--steps M] [--keep-going]\n' +
  '       npm run sim -- --seed S [--steps M] [--trace]\n' +
  '       (either form also takes --lease for lease-based reads, --unsafe-vote-twice to run a broken Raft)\n' +
  '       npm run sim -- --workload bank (--seeds N [--start S] [--keep-going] | --seed S [--trace]) [--duration MS] [--shards N] [--no-locking] [--gc]';

function parse(argv: readonly string[]): Args {
  const a: Args = { start: 1, steps: DEFAULT_STEPS, trace: false, unsafeVoteTwice: false, lease: false, keepGoing: false, workload: 'raft', noLocking: false };
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer, got ${v ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--seed':
        a.seed = num(f, argv[++i]);
        break;
      case '--seeds':
        a.seeds = num(f, argv[++i]);
        break;
      case '--start':
        a.start = num(f, argv[++i]);
        break;
      case '--steps':
        a.steps = num(f, argv[++i]);
        break;
      case '--trace':
        a.trace = true;
        break;
      case '--unsafe-vote-twice':
        a.unsafeVoteTwice = true;
        break;
      case '--lease':
        a.lease = true;
        break;
      case '--keep-going':
        a.keepGoing = true;
        break;
      case '--workload': {
        const w = argv[++i];
        if (w !== 'raft' && w !== 'bank') throw new Error(`--workload must be raft or bank, got ${w ?? 'nothing'}`);
        a.workload = w;
        break;
      }
      case '--duration':
        a.duration = num(f, argv[++i]);
        break;
      case '--shards':
        a.shards = num(f, argv[++i]);
        break;
      case '--no-locking':
        a.noLocking = true;
        break;
      case '--gc':
        a.gc = true;
        break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${f}`);
    }
  }
  if (a.seed === undefined && a.seeds === undefined) a.seeds = 100;
  return a;
}

function bankReplay(r: BankSimResult, args: Args): string {
  return `npm run sim -- --workload bank --seed ${r.seed}${args.duration !== undefined ? ` --duration ${args.duration}` : ''}${args.shards !== undefined ? ` --shards ${args.shards}` : ''}${args.noLocking ? ' --no-locking' : ''}${args.gc ? ' --gc' : ''}`;
}

/** The multi-shard bank workload: one seed (replay) or a sweep. */
async function mainBank(args: Args): Promise<number> {
  const opts = { durationMs: args.duration, shards: args.shards, locking: !args.noLocking, gc: args.gc === true };
  if (args.seed !== undefined) {
    const r = await runBankSim({ ...opts, seed: args.seed, trace: args.trace ? (l) => process.stdout.write(l + '\n') : undefined });
    if (!r.ok) {
      process.stderr.write(`sim: bank seed ${r.seed} failed: ${r.reason}\n  replay: ${bankReplay(r, args)} [--trace]\n  trace hash ${r.signature}\n`);
      return 1;
    }
    process.stdout.write(`sim: bank seed ${r.seed} ok: ${r.virtualMs} virtual ms, trace hash ${r.signature}, ${JSON.stringify(r.stats)}\n`);
    return 0;
  }
  const count = args.seeds ?? 0;
  const started = Date.now();
  let failures = 0;
  let run = 0;
  const totals = { transfers: 0, committed: 0, unknown: 0, abandoned: 0, audits: 0, crashes: 0, pushes: 0, preparedAfterScan: 0, staleLockReads: 0 };
  for (let seed = args.start; seed < args.start + count; seed++) {
    const r = await runBankSim({ ...opts, seed });
    run++;
    totals.transfers += r.stats.transfers;
    totals.committed += r.stats.committed;
    totals.unknown += r.stats.unknown;
    totals.abandoned += Object.values(r.stats.abandoned).reduce((a, b) => a + b, 0);
    totals.audits += r.stats.audits;
    totals.crashes += r.stats.crashes;
    totals.pushes += r.stats.pushes;
    totals.preparedAfterScan += r.stats.preparedAfterScan;
    totals.staleLockReads += r.stats.staleLockReads;
    if (!r.ok) {
      failures++;
      process.stderr.write(`sim: bank seed ${r.seed} failed: ${r.reason}\n  replay: ${bankReplay(r, args)} [--trace]\n`);
      if (!args.keepGoing) break;
    } else if (run % 100 === 0) process.stdout.write(`sim: ${run} bank seeds run so far (last ${seed})\n`);
  }
  const wall = (Date.now() - started) / 1000;
  process.stdout.write(`sim: bank ${run - failures}/${run} seeds passed (${args.start}..${args.start + run - 1}) in ${wall.toFixed(1)} s; totals ${JSON.stringify(totals)}\n`);
  return failures === 0 ? 0 : 1;
}

function main(argv: readonly string[]): number {
  let args: Args;
  try {
    args = parse(argv);
  } catch (e) {
    process.stderr.write(`sim: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.workload === 'bank') {
    mainBank(args).then(
      (code) => (process.exitCode = code),
      (e: unknown) => {
        process.stderr.write(`sim: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exitCode = 1;
      },
    );
    return 0;
  }
  const readOnlyOption = args.lease ? 'lease-based' : 'safe';
  if (args.seed !== undefined) {
    const r = runClusterSim({
      seed: args.seed,
      steps: args.steps,
      unsafeVoteTwice: args.unsafeVoteTwice,
      readOnlyOption,
      trace: args.trace ? (l) => process.stdout.write(l + '\n') : undefined,
    });
    if (!r.ok) {
      process.stderr.write(formatFailure(r, args.steps, { lease: args.lease, unsafeVoteTwice: args.unsafeVoteTwice }) + '\n');
      process.stderr.write(`trace hash ${r.traceHash}\n`);
      return 1;
    }
    process.stdout.write(
      `sim: seed ${r.seed} ok: ${r.step} steps, ${r.virtualMs} virtual ms, trace hash ${r.traceHash}, ` +
        `${JSON.stringify(r.stats)}\n`,
    );
    return 0;
  }
  const count = args.seeds ?? 0;
  let done = 0;
  const summary = runSeeds({
    start: args.start,
    count,
    steps: args.steps,
    unsafeVoteTwice: args.unsafeVoteTwice,
    readOnlyOption,
    stopOnFailure: !args.keepGoing,
    onResult: (r) => {
      done++;
      if (!r.ok) process.stderr.write(formatFailure(r, args.steps, { lease: args.lease, unsafeVoteTwice: args.unsafeVoteTwice }) + '\n');
      else if (done % 1000 === 0) process.stdout.write(`sim: ${done} seeds run so far (last ${r.seed})\n`);
    },
  });
  const rate = summary.seeds / Math.max(summary.wallMs / 1000, 1e-9);
  process.stdout.write(
    `sim: ${summary.seeds - summary.failures.length}/${summary.seeds} seeds passed ` +
      `(${args.start}..${args.start + summary.seeds - 1}, ${args.steps} steps each) in ${(summary.wallMs / 1000).toFixed(1)} s, ` +
      `${rate.toFixed(1)} seeds/s\n`,
  );
  return summary.failures.length === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
