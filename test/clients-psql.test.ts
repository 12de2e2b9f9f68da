import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { libpqEnv, PG_BIN, type SqlServer, stopStartedServers } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// Starting servers can take a while on a loaded machine (the project-level testTimeout does
// not apply to hooks run this way); the catch-all afterAll stops servers whose start outlived
// a failed beforeAll.
jest.setTimeout(120_000);
afterAll(() => stopStartedServers());

// The real psql binary (PostgreSQL 15 client): SQL, the \d family (which runs psql's own
// catalog queries) and \copy (COPY FROM STDIN / TO STDOUT driven by the client).
const exec = promisify(execFile);

interface PsqlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe.each(clientTargets(true))('psql against %s', (kind) => {
  let server: SqlServer;
  let dir: string;
  const label = targetLabel(kind);

  const psql = async (args: string[], input?: string): Promise<PsqlResult> => {
    try {
      const p = exec(path.join(PG_BIN, 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', ...args], {
        env: { ...process.env, ...libpqEnv(server) },
        timeout: 30_000,
      });
      if (input !== undefined) p.child.stdin?.end(input);
      const { stdout, stderr } = await p;
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
    }
  };
  /** Runs psql and fails with its stderr unless it exits 0. */
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await psql(args, input);
    if (r.code !== 0) throw new Error(`psql ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    server = await startServer(kind);
    dir = mkdtempSync(path.join(os.tmpdir(), 'weft-psql-'));
    await ok(['-q', '-c', 'CREATE TABLE psql_items (id int PRIMARY KEY, name varchar(40) NOT NULL, price numeric(8,2) DEFAULT 0)']);
    await ok(['-q', '-c', 'CREATE INDEX psql_items_name ON psql_items (name)']);
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`runs SQL and prints aligned and unaligned results on ${label}`, async () => {
    await ok(['-q', '-c', "INSERT INTO psql_items VALUES (1, 'apple', 1.25), (2, 'pear', 2)"]);
    const aligned = await ok(['-c', 'SELECT id, name, price FROM psql_items ORDER BY id']);
    expect(aligned).toContain(' id | name  | price');
    expect(aligned).toMatch(/^\s+1 \| apple \|\s+1\.25$/m);
    expect(aligned).toContain('(2 rows)');
    const csv = await ok(['--csv', '-c', 'SELECT id, name, price FROM psql_items ORDER BY id']);
    expect(csv).toBe('id,name,price\n1,apple,1.25\n2,pear,2.00\n');
  });

  it(`lists tables with \\dt on ${label}`, async () => {
    const out = await ok(['-c', '\\dt']);
    expect(out).toContain('List of relations');
    expect(out).toMatch(/public\s+\|\s+psql_items\s+\|\s+table\s+\|/);
  });

  it(`describes a table with \\d on ${label}`, async () => {
    const out = await ok(['-c', '\\d psql_items']);
    expect(out).toContain('Table "public.psql_items"');
    expect(out).toMatch(/id\s+\|\s+integer\s+\|\s+\|\s+not null\s+\|/);
    expect(out).toMatch(/name\s+\|\s+character varying\(40\)\s+\|\s+\|\s+not null\s+\|/);
    expect(out).toMatch(/price\s+\|\s+numeric\(8,2\)\s+\|\s+\|\s+\|\s+0/);
    expect(out).toContain('"psql_items_pkey" PRIMARY KEY, btree (id)');
    expect(out).toContain('"psql_items_name" btree (name)');
  });

  it(`says when \\d finds no relation on ${label}`, async () => {
    const r = await psql(['-c', '\\d no_such_relation']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Did not find any relation named "no_such_relation"');
  });

  it(`loads and dumps a table with \\copy (text and CSV) on ${label}`, async () => {
    await ok(['-q', '-c', 'CREATE TABLE psql_copy (id int PRIMARY KEY, label text, amount numeric(10,2), note text)']);
    const rows = Array.from({ length: 500 }, (_, i) => `${i}\tlabel ${i}\t${(i * 1.5).toFixed(2)}\t${i % 7 === 0 ? '\\N' : `n${i}`}`);
    const textFile = path.join(dir, 'in.tsv');
    writeFileSync(textFile, rows.join('\n') + '\n');
    expect(await ok(['-c', `\\copy psql_copy FROM '${textFile}'`])).toBe('COPY 500\n');

    const csvFile = path.join(dir, 'in.csv');
    writeFileSync(csvFile, 'id,label,amount,note\n1000,"with, comma",3.00,\n1001,"quote ""q""",4.50,x\n');
    expect(await ok(['-c', `\\copy psql_copy FROM '${csvFile}' WITH (FORMAT csv, HEADER true)`])).toBe('COPY 2\n');

    expect(await ok(['-tA', '-c', 'SELECT count(*), sum(amount), count(note) FROM psql_copy'])).toBe('502|187132.50|429\n');

    const outFile = path.join(dir, 'out.tsv');
    await ok(['-c', `\\copy (SELECT * FROM psql_copy WHERE id < 500 ORDER BY id) TO '${outFile}'`]);
    expect(readFileSync(outFile, 'utf8')).toBe(rows.join('\n') + '\n');
    const csvOut = await ok(['-c', `\\copy (SELECT id, label, note FROM psql_copy WHERE id >= 1000 ORDER BY id) TO STDOUT WITH (FORMAT csv)`]);
    expect(csvOut).toBe('1000,"with, comma",\n1001,"quote ""q""",x\n');
  });

  it(`rejects a malformed \\copy row with the line and keeps no partial rows on ${label}`, async () => {
    await ok(['-q', '-c', 'CREATE TABLE psql_bad (id int PRIMARY KEY, v int)']);
    const r = await psql(['-c', '\\copy psql_bad FROM STDIN'], '1\t10\n2\tnot-a-number\n3\t30\n\\.\n');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('invalid input syntax for type integer: "not-a-number"');
    expect(r.stderr).toMatch(/COPY psql_bad, line 2/);
    expect(await ok(['-tA', '-c', 'SELECT count(*) FROM psql_bad'])).toBe('0\n');
  });

  it(`stops a script at the first error with ON_ERROR_STOP (exit 3) on ${label}`, async () => {
    const r = await psql(['-q'], 'SELECT 1;\nSELECT * FROM psql_missing;\nSELECT 2;\n');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('relation "psql_missing" does not exist');
  });
});
