import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo } from './demo';
import { runStatus } from './status';

const USAGE = `usage: weft <command> [options]

commands:
  demo     start a local Weft cluster (meta, node, gateway) and keep it running until Ctrl-C
           --data DIR   data directory (default ./.weft-data)
           --port N     Postgres port for the gateway (default 5433)
  status   show the health of the local cluster's services
  version  print the Weft version
  help     show this text
`;

/** Parses argv strictly: an unknown flag or a bad value is one line on stderr and exit 2. */
function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { data: { type: 'string' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
}

function fail(message: string): never {
  process.stderr.write(`weft: ${message}\n(run \`weft help\` for usage)\n`);
  process.exit(2);
}

function parsePort(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) fail(`--port ${JSON.stringify(raw)}: expected a TCP port 1-65535`);
  return Number(raw);
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [command = 'help', ...rest] = positionals;
  if (rest.length > 0) fail(`unexpected argument ${JSON.stringify(rest[0])}`);
  if (values.help || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case 'version':
      process.stdout.write(`weft ${readVersion()}\n`);
      return;
    case 'demo':
      await runDemo({ dataDir: values.data ?? '.weft-data', pgPort: parsePort(values.port, 5433) });
      return;
    case 'status':
      process.exitCode = await runStatus();
      return;
    default:
      fail(`unknown command ${JSON.stringify(command)}`);
  }
}

run(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`weft: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
