import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { stopStartedServers, type SqlServer } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// Go pgx v5 (pinned in test/clients-go/go.mod, from the Go module proxy): binary parameters and
// results including arrays, CopyFrom (binary COPY), batches, transactions. The checks are
// test/clients-go/main.go, built by tools/go/clients.sh and run once per server.
jest.setTimeout(300_000);
afterAll(() => stopStartedServers());

const ROOT = path.join(__dirname, '..');
let binary = '';

beforeAll(() => {
  binary = execFileSync('bash', [path.join(ROOT, 'tools/go/clients.sh')], { encoding: 'utf8' }).trim().split('\n').pop() ?? '';
});

function runSuite(server: SqlServer): Promise<{ code: number | null; out: string }> {
  const dsn = `postgres://${server.user}@${server.host}:${server.port}/${server.database}`;
  return new Promise((resolve, reject) => {
    const p = spawn(binary, [dsn], { cwd: ROOT });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

describe.each(clientTargets(true))('Go pgx against %s', (kind) => {
  let server: SqlServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.stop());

  it(`passes every check on ${targetLabel(kind)}`, async () => {
    const r = await runSuite(server);
    const failed = r.out.split('\n').filter((l) => !l.startsWith('OK   ') && l.trim() !== '' && l !== 'ALL PASSED');
    expect(failed).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('ALL PASSED');
  });
});
