import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  checkAnnotations,
  compareOutcome,
  diffOutcomes,
  hasTopLevelOrderBy,
  runCorpus,
  splitStatements,
  type Outcome,
  type Statement,
} from './sql-corpus/harness';
import { startPostgres, type SqlServer, stopStartedServers } from './support/postgres';
import { startCluster } from './support/weft-server';

// Starting servers can take a while on a loaded machine (the project-level testTimeout does
// not apply to hooks run this way); the catch-all afterAll stops servers whose start outlived
// a failed beforeAll.
jest.setTimeout(120_000);
afterAll(() => stopStartedServers());

// The same SQL corpus runs on Weft and on PostgreSQL 15; every statement's outcome must match.
// test/sql-corpus/*.sql is what Weft passes (checked here against Weft); test/sql-corpus/pending/
// holds files Weft does not pass yet: they run only PostgreSQL-vs-PostgreSQL here, which proves
// the harness and the corpus (annotations hold, runs are reproducible) until Weft catches up.

const CORPUS = path.join(__dirname, 'sql-corpus');
const PENDING = path.join(CORPUS, 'pending');
const sqlFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
const passing = sqlFiles(CORPUS);
const pending = sqlFiles(PENDING);
const load = (file: string): Statement[] => splitStatements(readFileSync(file, 'utf8'));

describe('corpus statement splitter', () => {
  it('splits at top-level semicolons only and keeps line numbers and directives', () => {
    const sql = [
      "SELECT 'a;b', \"x;y\", $$c;d$$, $t$e;$$;f$t$; -- tail; comment",
      '/* block; /* nested; */ still; */ SELECT E\'it\\\'s;\';',
      '-- @error 22012',
      'SELECT 1 / 0;',
      '-- @columns-only',
      'SELECT now()',
    ].join('\n');
    const s = splitStatements(sql);
    expect(s.map((x) => x.sql)).toEqual([
      "SELECT 'a;b', \"x;y\", $$c;d$$, $t$e;$$;f$t$",
      "SELECT E'it\\'s;'",
      'SELECT 1 / 0',
      'SELECT now()',
    ]);
    expect(s.map((x) => x.line)).toEqual([1, 2, 4, 6]);
    expect(s.map((x) => [x.expectError, x.columnsOnly])).toEqual([
      [undefined, false],
      [undefined, false],
      ['22012', false],
      [undefined, true],
    ]);
  });

  it('rejects malformed directives instead of ignoring them', () => {
    expect(() => splitStatements('-- @error 123\nSELECT 1;')).toThrow(/SQLSTATE/);
    expect(() => splitStatements('-- @unordered\nSELECT 1;')).toThrow(/unknown directive/);
  });

  it('orders rows only for a top-level ORDER BY', () => {
    expect(hasTopLevelOrderBy('SELECT a FROM t ORDER BY a')).toBe(true);
    expect(hasTopLevelOrderBy('SELECT string_agg(a, \',\' ORDER BY a) FROM t')).toBe(false);
    expect(hasTopLevelOrderBy("SELECT 'order by' FROM t")).toBe(false);
    expect(hasTopLevelOrderBy('SELECT * FROM (SELECT a FROM t ORDER BY a) s')).toBe(false);
  });
});

describe('differential harness on PostgreSQL 15 (proves the harness and the corpus)', () => {
  let pgA: SqlServer;
  let pgB: SqlServer;
  beforeAll(async () => {
    // One after the other, so a failure to start the second cannot leak the first.
    pgA = await startPostgres();
    pgB = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all([pgA?.stop(), pgB?.stop()]);
  });

  const one = (sql: string): Statement => splitStatements(sql)[0];
  const outcome = async (sql: string): Promise<Outcome> => (await runCorpus(pgA, [one(sql)]))[0];

  it('reports real differences: value, column name, type, tag, SQLSTATE, order', async () => {
    const pairs: [string, string, RegExp][] = [
      ['SELECT 1 AS x', 'SELECT 2 AS x', /rows differ/],
      ['SELECT 1 AS x', 'SELECT 1 AS y', /column names differ/],
      ['SELECT 1 AS x', 'SELECT 1::int8 AS x', /column types differ/],
      ['SELECT 1 / 0', "SELECT 'x'::int", /outcome differs/],
      ['SELECT 1', 'SELECT 1 / 0', /outcome differs/],
      ['VALUES (1), (2) ORDER BY 1', 'VALUES (2), (1) ORDER BY 1 DESC', /row 1 differs \(ordered\)/],
      ['VALUES (1), (2)', 'VALUES (1)', /command tag differs/],
      ['BEGIN', 'SELECT', /command tag differs/],
    ];
    for (const [a, b, why] of pairs) {
      const s = one(a);
      expect(compareOutcome(s, await outcome(a), await outcome(b))).toMatch(why);
    }
    await runCorpus(pgA, [one('ROLLBACK')]);
  });

  it('treats rows without ORDER BY as a multiset and compares exact text output', async () => {
    const s = one('VALUES (1), (2)');
    expect(compareOutcome(s, await outcome('VALUES (1), (2)'), await outcome('VALUES (2), (1)'))).toBeUndefined();
    const num = await outcome('SELECT 1.50::numeric AS n, NULL::text AS t');
    expect(num).toEqual({ ok: true, tag: 'SELECT 1', columns: [{ name: 'n', typeOid: 1700 }, { name: 't', typeOid: 25 }], rows: [['1.50', null]] });
    const tag = await outcome('CREATE TEMP TABLE harness_tag (a int)');
    expect(tag).toMatchObject({ ok: true, tag: 'CREATE TABLE' });
  });

  it.each([...passing, ...pending.map((f) => `pending/${f}`)])(
    '%s: errors on PostgreSQL only where annotated, and two PostgreSQL runs agree',
    async (file) => {
      const statements = load(path.join(CORPUS, file));
      const name = `test/sql-corpus/${file}`;
      const [a, b] = await Promise.all([runCorpus(pgA, statements), runCorpus(pgB, statements)]);
      expect(checkAnnotations(name, statements, a)).toEqual([]);
      expect(diffOutcomes(name, statements, a, b, ['postgres A', 'postgres B'])).toEqual([]);
    },
  );
});

// Only files Weft passes live directly in test/sql-corpus/. WEFT_DIFF_PENDING=1 also runs the
// pending files against Weft, to see which are ready to move (not set in CI). Weft here is the
// real cluster (`weft demo`: three node processes replicating the shard, and the gateway), one
// for the whole file; WEFT_TEST_SERVER=gateway runs the gateway's in-process shard instead.
const againstWeft = process.env.WEFT_DIFF_PENDING === '1' ? [...passing, ...pending.map((f) => `pending/${f}`)] : passing;
if (againstWeft.length > 0) {
  describe('Weft vs PostgreSQL 15 on the passing corpus', () => {
    let pg: SqlServer;
    let weft: SqlServer;
    beforeAll(async () => {
      pg = await startPostgres();
      weft = await startCluster();
    });
    afterAll(async () => {
      await Promise.all([pg?.stop(), weft?.stop()]);
    });

    // Every file in both protocols: drivers use the extended one (Parse/Bind/Describe/Execute)
    // for anything with parameters; psql and pgbench -M simple use the simple one.
    it.each(againstWeft.flatMap((f) => [[f, 'simple'] as const, [f, 'extended'] as const]))(
      '%s (%s protocol) matches PostgreSQL statement by statement',
      async (file, protocol) => {
        const statements = load(path.join(CORPUS, file));
        const [ref, got] = await Promise.all([runCorpus(pg, statements, protocol), runCorpus(weft, statements, protocol)]);
        expect(diffOutcomes(`test/sql-corpus/${file}`, statements, ref, got)).toEqual([]);
      },
    );
  });
}
