/**
 * `npm run bench`: runs every benchmark in sequence on this machine and prints their tables.
 * Each is also runnable alone (node dist/bench/<name>.js --help-free flags in its header).
 * Results are copied by hand into docs/benchmarks.md with the date and machine.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const BENCHES = ['raft', 'wal', 'transport', 'storage', 'materialize', 'pgbench', 'shard', 'sql-plan'];
const only = process.argv.slice(2);
let failed = 0;
for (const name of only.length > 0 ? only : BENCHES) {
  if (!BENCHES.includes(name)) {
    process.stderr.write(`bench: unknown benchmark ${JSON.stringify(name)} (have: ${BENCHES.join(', ')})\n`);
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
