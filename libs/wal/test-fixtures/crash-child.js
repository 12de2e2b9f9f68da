// Crash-test child: appends entries for several groups at some concurrency and prints
// "<group> <index> <term>" for every append the WAL has acknowledged. The parent kills it with
// SIGKILL at an arbitrary moment and checks that everything printed survived.
// Usage: node crash-child.js <dir> <groups> <concurrency> <term>
require('./register-ts');
const { Wal } = require('../src/wal.ts');
const { entry } = require('../src/test-util.ts');

async function main() {
  const [dir, groupsArg, concArg, termArg] = process.argv.slice(2);
  const groups = Number(groupsArg);
  const term = Number(termArg);
  const wal = await Wal.open(dir, { segmentBytes: 256 * 1024 });
  const next = [];
  for (let g = 0; g < groups; g++) next.push(wal.storage(g).lastIndex() + 1);
  let turn = 0;
  const worker = async () => {
    for (;;) {
      const g = turn++ % groups;
      const index = next[g]++;
      const size = 16 + ((index * 7) % 200);
      await wal.append([
        { type: 'entries', group: g, entries: [entry(g, index, term, size)] },
        { type: 'hardState', group: g, hardState: { term, vote: 1, commit: index } },
      ]);
      process.stdout.write(`${g} ${index} ${term}\n`);
    }
  };
  process.stdout.write('ready\n');
  await Promise.all(Array.from({ length: Number(concArg) }, worker));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
