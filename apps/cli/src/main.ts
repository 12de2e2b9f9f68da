import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo } from './demo';
import { DEFAULT_PG_PORT, DEFAULT_SHARD_COUNT, PORT_SPAN, ROLES, roleEntry, type Role } from './dev-cluster';
import { runStatus } from './status';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const MAX_SHARDS = 1024;

const USAGE = `usage: weft <command> [options]

commands:
  demo     start a local Weft cluster (3 meta replicas, 3 nodes, gateway), restart any service that dies,
           and keep it running until Ctrl-C
           --data DIR   data directory (default ./.weft-data)
           --port N     Postgres port for the gateway (default ${DEFAULT_PG_PORT}); the other services use
                        N+1 .. N+${PORT_SPAN - 1}
           --shards N   shards meta creates and the gateway routes over (default ${DEFAULT_SHARD_COUNT})
           --kafka H:P  Kafka bootstrap brokers (host:port[,host:port]): mirror every shard's log to
                        topics weft.log.<shard>, run a materializer fed by them and the CDC
                        service (change topics weft.cdc.<db>.<schema>.<table>)
                        (\`npm run kafka:start\` runs a local broker)
  status   show the health and pids of a demo's services
           --data DIR   the demo's data directory (its ports are read from DIR/weft-demo.json)
           --port N     the demo's Postgres port (instead of reading it from DIR)
  start    run one process of a real deployment, configured by WEFT_* environment variables
           --role meta|node|gateway|materializer|cdc
  version  print the Weft version
  help     show this text
`;

/** Which flags each command takes; any other flag is an error that names what to do instead. */
const FLAGS: Record<string, readonly string[]> = {
  demo: ['data', 'port', 'shards', 'kafka'],
  status: ['data', 'port'],
  start: ['role'],
  version: [],
  help: [],
};

/** Parses argv strictly: an unknown flag or a bad value is one line on stderr and exit 2. */
function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        data: { type: 'string' },
        port: { type: 'string' },
        shards: { type: 'string' },
        kafka: { type: 'string' },
        role: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // parseArgs appends advice about positionals that start with '-' ("... To specify a
    // positional argument ..."): irrelevant here, and it would make the line hard to read.
    fail((err instanceof Error ? err.message : String(err)).split('\n')[0].replace(/\. To specify a positional argument.*$/, ''));
  }
}

function fail(message: string): never {
  process.stderr.write(`weft: ${message} (see \`weft help\`)\n`);
  process.exit(2);
}

function parseIntFlag(flag: string, raw: string | undefined, fallback: number, min: number, max: number, what: string): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) fail(`--${flag} ${JSON.stringify(raw)}: expected ${what} ${min}-${max}`);
  return Number(raw);
}

// The demo uses PORT_SPAN ports from --port up, so the highest --port leaves room for them.
const parsePort = (raw: string | undefined): number | undefined =>
  raw === undefined ? undefined : parseIntFlag('port', raw, DEFAULT_PG_PORT, 1, 65536 - PORT_SPAN, 'a TCP port');

function parseBrokers(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const list = raw.split(',').map((b) => b.trim());
  if (list.some((b) => !/^[A-Za-z0-9.\-_]+:\d{1,5}$/.test(b))) fail(`--kafka ${JSON.stringify(raw)}: expected host:port[,host:port...], e.g. 127.0.0.1:9092`);
  return list.join(',');
}

function parseRole(raw: string | undefined): Role {
  if (raw === undefined) fail('start needs --role meta, --role node, --role gateway, --role materializer or --role cdc');
  const role = ROLES.find((r) => r === raw);
  if (!role) fail(`--role ${JSON.stringify(raw)}: expected meta, node, gateway, materializer or cdc`);
  return role;
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * `weft start --role R`: becomes that service in this process (its entry point reads WEFT_*
 * variables, exits 2 on a bad one, and stops cleanly on SIGTERM), so a container or a systemd
 * unit runs exactly what the demo spawns.
 */
function startRole(role: Role): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(path.join(ROOT, roleEntry(role)));
}

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  const [command = 'help', ...rest] = positionals;
  const allowed = FLAGS[command];
  if (allowed === undefined) fail(`unknown command ${JSON.stringify(command)}`);
  if (rest.length > 0) {
    fail(command === 'start' ? `unexpected argument ${JSON.stringify(rest[0])}; write --role ${rest[0]}` : `unexpected argument ${JSON.stringify(rest[0])}`);
  }
  if (values.help || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  for (const flag of Object.keys(values)) {
    if (allowed.includes(flag)) continue;
    if (command === 'start') {
      fail(`start takes only --role; configure the service with WEFT_* environment variables instead of --${flag}`);
    }
    fail(`--${flag} does not apply to \`weft ${command}\`${allowed.length ? ` (it takes ${allowed.map((f) => `--${f}`).join(', ')})` : ''}`);
  }
  switch (command) {
    case 'version':
      process.stdout.write(`weft ${readVersion()}\n`);
      return;
    case 'demo':
      await runDemo({
        dataDir: values.data ?? '.weft-data',
        pgPort: parsePort(values.port) ?? DEFAULT_PG_PORT,
        shardCount: parseIntFlag('shards', values.shards, DEFAULT_SHARD_COUNT, 1, MAX_SHARDS, 'an integer'),
        kafka: parseBrokers(values.kafka),
      });
      return;
    case 'status':
      process.exitCode = await runStatus({ dataDir: values.data ?? '.weft-data', pgPort: parsePort(values.port) });
      return;
    case 'start':
      startRole(parseRole(values.role));
      return;
  }
}

run(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`weft: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
