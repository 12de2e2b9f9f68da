/**
 * `npm run bench`: runs every benchmark in sequence on this machine and prints their tables.
 * Each is also runnable alone (node dist/bench/<name>.js --help-free flags in its header).
 * Results are copied by hand into docs/benchmarks.md with the date and machine.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const BENCHES = ['raft', 'wal', 'transport', 'storage', 'materialize', 'pgbench', 'shard', 'sql-plan'];
// Need a Kafka broker on BENCH_KAFKA (npm run kafka:start): run when named, or in the full run
// when one answers there.
const KAFKA_BENCHES = ['mirror', 'cdc'];
const only = process.argv.slice(2);
const kafka = process.env.BENCH_KAFKA ?? '127.0.0.1:9092';
const brokerUp = (): boolean =>
  spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'tools/kafka/wait-ready.js'), kafka, '3000'], { stdio: 'ignore' }).status === 0;
let failed = 0;
let names = only;
if (names.length === 0) {
  names = [...BENCHES];
  if (brokerUp()) names.push(...KAFKA_BENCHES);
  else process.stdout.write(`\n(no Kafka broker on ${kafka}: ${KAFKA_BENCHES.join(', ')} not run; npm run kafka:start, or set BENCH_KAFKA)\n`);
}
for (const name of names) {
  if (!BENCHES.includes(name) && !KAFKA_BENCHES.includes(name)) {
    process.stderr.write(`bench: unknown benchmark ${JSON.stringify(name)} (have: ${[...BENCHES, ...KAFKA_BENCHES].join(', ')})\n`);
    process.exit(2);
  }
  process.stdout.write(`\n## ${name}\n\n`);
  const r = spawnSync(process.execPath, [path.join(__dirname, `${name}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`bench: ${name} failed (${r.signal ?? `exit ${r.status}`})\n`);
  }
}
process.exit(failed === 0 ? 0 : 1);
