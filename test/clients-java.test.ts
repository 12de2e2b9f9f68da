import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { stopStartedServers, type SqlServer } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// pgjdbc (from Maven Central, pinned in tools/java/jdbc.sh): PreparedStatement past the
// prepare threshold (server-prepared, binary), batches, generated keys, createArrayOf, fetch
// size, DatabaseMetaData. The checks are test/clients-java/JdbcSuite.java, run once per server.
jest.setTimeout(300_000);
afterAll(() => stopStartedServers());

const ROOT = path.join(__dirname, '..');
let classpath = '';

beforeAll(() => {
  classpath = execFileSync('bash', [path.join(ROOT, 'tools/java/jdbc.sh')], { encoding: 'utf8' }).trim().split('\n').pop() ?? '';
});

function runSuite(server: SqlServer): Promise<{ code: number | null; out: string }> {
  const url = `jdbc:postgresql://${server.host}:${server.port}/${server.database}?user=${server.user}`;
  return new Promise((resolve, reject) => {
    const p = spawn('java', ['-cp', classpath, 'JdbcSuite', url], { cwd: ROOT });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

describe.each(clientTargets(true))('pgjdbc against %s', (kind) => {
  let server: SqlServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.stop());

  it(`passes every JdbcSuite check on ${targetLabel(kind)}`, async () => {
    const r = await runSuite(server);
    const failed = r.out.split('\n').filter((l) => !l.startsWith('OK   ') && l.trim() !== '' && l !== 'ALL PASSED');
    expect(failed).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('ALL PASSED');
  });
});
