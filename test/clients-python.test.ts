import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { stopStartedServers, type SqlServer } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// Python clients as applications use them: asyncpg (binary protocol, arrays, pool reset,
// cursors, advisory locks), psycopg 3 (text and binary parameters, named cursors), psycopg2
// (client-side parameters, executemany/execute_values, copy_expert, named cursors, type
// adapters), SQLAlchemy 2 on psycopg (Core, ORM, yield_per, reflection) and Alembic (a migration
// history upgraded, downgraded and re-applied; `alembic check` and autogenerate against the
// models; transactional DDL; offline scripts). The test bodies are pytest files
// in test/clients-python/, run once per server; the venv (pinned requirements.txt from PyPI)
// is made by tools/python/venv.sh, which .ci/run calls first (a no-op when up to date).
jest.setTimeout(300_000);
afterAll(() => stopStartedServers());

const ROOT = path.join(__dirname, '..');
const PYTHON = path.join(ROOT, '.cache/venv/bin/python');
const SUITES = ['test_asyncpg.py', 'test_psycopg.py', 'test_psycopg2.py', 'test_alembic.py'];

beforeAll(() => {
  execFileSync('bash', [path.join(ROOT, 'tools/python/venv.sh')], { stdio: 'inherit' });
});

/** Runs one pytest file against `server`; resolves to pytest's exit code and its output. */
function pytest(file: string, server: SqlServer): Promise<{ code: number | null; out: string }> {
  const dsn = `postgresql://${server.user}@${server.host}:${server.port}/${server.database}`;
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, ['-m', 'pytest', '-q', '-rA', '-p', 'no:cacheprovider', path.join(__dirname, 'clients-python', file)], {
      env: { ...process.env, WEFT_PY_DSN: dsn, PYTHONDONTWRITEBYTECODE: '1' },
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

describe.each(clientTargets(true))('Python clients against %s', (kind) => {
  let server: SqlServer;
  beforeAll(async () => {
    server = await startServer(kind);
  });
  afterAll(() => server?.stop());

  it.each(SUITES)(`%s passes on ${targetLabel(kind)}`, async (file) => {
    const r = await pytest(file, server);
    // On failure the assertion shows pytest's report (which test, which assertion).
    expect({ code: r.code, out: r.code === 0 ? 'passed' : r.out }).toEqual({ code: 0, out: 'passed' });
    expect(r.out).toMatch(/\d+ passed/);
  });
});
