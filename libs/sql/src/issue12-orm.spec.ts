// Issue 12, ORM clients (Sequelize, Drizzle): what their generated SQL exposed in the engine.
// Each case is a wrong answer or a spurious error found by test/clients-sequelize.test.ts or
// test/clients-drizzle.test.ts, reduced to the statement shape that caused it.
import type { Client } from 'pg';
import { sqlstate, startSqlServer, type SqlTestServer } from './test-support/server';

let srv: SqlTestServer;
let c: Client;
beforeAll(async () => {
  srv = await startSqlServer({ memory: true });
  c = await srv.client();
});
afterAll(async () => {
  await c.end();
  await srv.close();
});

const rows = async (sql: string, params?: unknown[]): Promise<unknown[]> => (await c.query<Record<string, unknown>>(sql, params)).rows;

describe('INSERT runs only the defaults of the columns it leaves out', () => {
  it('does not draw a sequence value for a serial column given explicitly (Sequelize upsert by id)', async () => {
    await c.query('CREATE TABLE o_seq (id serial PRIMARY KEY, email text UNIQUE, note text)');
    await c.query("INSERT INTO o_seq (email) VALUES ('a')");
    // `note` is left out, so defaults run, but only note's: id's nextval must not.
    await c.query("INSERT INTO o_seq (id, email) VALUES (1, 'a2') ON CONFLICT (id) DO UPDATE SET email = excluded.email");
    await c.query("INSERT INTO o_seq (id, email) VALUES (10, 'b')");
    expect(await rows("INSERT INTO o_seq (email) VALUES ('c') RETURNING id")).toEqual([{ id: 2 }]);
    expect(await rows('SELECT id, email FROM o_seq ORDER BY id')).toEqual([
      { id: 1, email: 'a2' },
      { id: 2, email: 'c' },
      { id: 10, email: 'b' },
    ]);
  });
});

describe('GROUP BY keys match references by the column they name, not by spelling', () => {
  beforeAll(async () => {
    await c.query('CREATE TABLE o_grp ("userId" int, id int, score int)');
    await c.query('INSERT INTO o_grp VALUES (1, 1, 5), (1, 2, 1), (2, 3, 3)');
  });

  it('accepts a qualified reference to an unqualified key and the reverse (Sequelize ORDER BY "Model"."col")', async () => {
    expect(await rows('SELECT "userId", sum(score)::int AS s FROM o_grp AS "Post" GROUP BY "userId" ORDER BY "Post"."userId"')).toEqual([
      { userId: 1, s: 6 },
      { userId: 2, s: 3 },
    ]);
    expect(await rows('SELECT "userId" FROM o_grp AS p GROUP BY p."userId" ORDER BY "userId" DESC')).toEqual([{ userId: 2 }, { userId: 1 }]);
    expect(await rows('SELECT p."userId" + 1 AS k FROM o_grp p GROUP BY "userId" + 1 ORDER BY "userId" + 1')).toEqual([{ k: 2 }, { k: 3 }]);
  });

  it('still refuses a column that is not a key, with 42803', async () => {
    expect(await sqlstate(c.query('SELECT p.score FROM o_grp p GROUP BY "userId"'))).toBe('42803');
    expect(await sqlstate(c.query('SELECT o_grp.id FROM o_grp GROUP BY score'))).toBe('42803');
  });
});

describe('GROUP BY a primary key makes the rest of its table functionally dependent', () => {
  beforeAll(async () => {
    await c.query('CREATE TABLE o_fa (id int PRIMARY KEY, name text)');
    await c.query('CREATE TABLE o_fb (id int PRIMARY KEY, a_id int, v int)');
    await c.query('CREATE TABLE o_fk2 (a int, b int, note text, PRIMARY KEY (a, b))');
    await c.query('CREATE TABLE o_nokey (x int, y int)');
    await c.query("INSERT INTO o_fa VALUES (1, 'a'), (2, 'b')");
    await c.query('INSERT INTO o_fb VALUES (1, 1, 10), (2, 1, 20), (3, 2, 5)');
    await c.query("INSERT INTO o_fk2 VALUES (1, 1, 'x'), (1, 2, 'y')");
  });

  it("selects the grouped table's other columns and * (Drizzle groupBy(table.id))", async () => {
    expect(await rows('SELECT o_fa.name, sum(o_fb.v)::int AS s FROM o_fa LEFT JOIN o_fb ON o_fb.a_id = o_fa.id GROUP BY o_fa.id ORDER BY o_fa.id')).toEqual([
      { name: 'a', s: 30 },
      { name: 'b', s: 5 },
    ]);
    expect(await rows('SELECT a.*, count(b.id)::int AS n FROM o_fa a JOIN o_fb b ON b.a_id = a.id GROUP BY a.id HAVING count(*) > 1')).toEqual([{ id: 1, name: 'a', n: 2 }]);
    expect(await rows('SELECT note FROM o_fk2 GROUP BY b, a ORDER BY note')).toEqual([{ note: 'x' }, { note: 'y' }]);
  });

  it('refuses columns not covered by a whole declared key: other aliases, part of a key, subqueries, keyless tables (42803)', async () => {
    expect(await sqlstate(c.query('SELECT y.name FROM o_fa x JOIN o_fa y ON true GROUP BY x.id'))).toBe('42803');
    expect(await sqlstate(c.query('SELECT note FROM o_fk2 GROUP BY a'))).toBe('42803');
    expect(await sqlstate(c.query('SELECT s.name FROM (SELECT * FROM o_fa) s GROUP BY s.id'))).toBe('42803');
    expect(await sqlstate(c.query('SELECT y FROM o_nokey GROUP BY x'))).toBe('42803');
  });
});

describe('time and timestamp precision (typmod) round stored and cast values', () => {
  it('rounds on cast, on insert and on update, and reports the precision in the catalog (Drizzle timestamp({ precision: 3 }))', async () => {
    expect(await rows("SELECT '2024-01-01 10:00:00.789+00'::timestamptz(0)::text AS a, '2024-01-01 10:00:00.75'::timestamp(1)::text AS b, '10:00:00.789'::time(0)::text AS c")).toEqual([
      { a: '2024-01-01 10:00:01+00', b: '2024-01-01 10:00:00.8', c: '10:00:01' },
    ]);
    await c.query('CREATE TABLE o_ts (id int PRIMARY KEY, t timestamptz(3), u timestamp(0) without time zone)');
    await c.query("INSERT INTO o_ts VALUES (1, '2024-01-01 10:00:00.78951+00', '2024-01-01 10:00:00.5')");
    expect(await rows('SELECT t::text, u::text FROM o_ts')).toEqual([{ t: '2024-01-01 10:00:00.79+00', u: '2024-01-01 10:00:01' }]);
    // A value read back as a JavaScript Date (milliseconds) finds its row again.
    await c.query('UPDATE o_ts SET t = now()');
    const [{ t }] = (await c.query<{ t: Date }>('SELECT t FROM o_ts')).rows;
    expect(await rows('SELECT id FROM o_ts WHERE t = $1', [t])).toEqual([{ id: 1 }]);
    expect(await rows("SELECT format_type(atttypid, atttypmod) AS f FROM pg_attribute WHERE attrelid = 'o_ts'::regclass AND attnum > 1 ORDER BY attnum")).toEqual([
      { f: 'timestamp(3) with time zone' },
      { f: 'timestamp(0) without time zone' },
    ]);
    expect(await rows("SELECT datetime_precision AS p FROM information_schema.columns WHERE table_name = 'o_ts' AND column_name <> 'id' ORDER BY ordinal_position")).toEqual([{ p: 3 }, { p: 0 }]);
  });
});

describe('ALTER COLUMN TYPE within one storage converts the stored values', () => {
  it('rounds numeric and timestamp values, keeps indexes in step, refuses a too-long value (Sequelize sync({ alter: true }))', async () => {
    await c.query('CREATE TABLE o_alt (id int PRIMARY KEY, p numeric(10,2), v varchar(10) UNIQUE, ts timestamptz)');
    await c.query("CREATE INDEX o_alt_p ON o_alt (p)");
    await c.query("INSERT INTO o_alt VALUES (1, 12.55, 'abc', '2024-01-01 10:00:00.789+00'), (2, 7.04, 'abcdefgh', NULL)");
    await c.query('ALTER TABLE o_alt ALTER COLUMN p TYPE numeric(10,1)');
    await c.query('ALTER TABLE o_alt ALTER COLUMN ts TYPE timestamptz(0)');
    await c.query('ALTER TABLE o_alt ALTER COLUMN v TYPE varchar(10)'); // unchanged, on a unique column
    await c.query('ALTER TABLE o_alt ALTER COLUMN id TYPE int'); // unchanged primary key
    expect(await rows('SELECT id, p::text, ts::text FROM o_alt ORDER BY id')).toEqual([
      { id: 1, p: '12.6', ts: '2024-01-01 10:00:01+00' },
      { id: 2, p: '7.0', ts: null },
    ]);
    expect(await rows('SELECT id FROM o_alt WHERE p = 12.6')).toEqual([{ id: 1 }]); // through the rewritten index entry
    expect(await sqlstate(c.query('ALTER TABLE o_alt ALTER COLUMN v TYPE varchar(5)'))).toBe('22001');
    // Across storage types the rows are rewritten too (numeric -> int rounds, as PostgreSQL does).
    await c.query('ALTER TABLE o_alt ALTER COLUMN p TYPE int');
    expect(await rows('SELECT id, p FROM o_alt WHERE p = 13')).toEqual([{ id: 1, p: 13 }]);
  });
});

describe('enum types and the DO blocks ORMs create them in', () => {
  it('runs the guarded CREATE TYPE of Sequelize/Drizzle twice and stores, orders and validates values', async () => {
    const guarded = `DO $$ BEGIN CREATE TYPE "o_mood" AS ENUM('sad', 'ok', 'happy'); EXCEPTION WHEN duplicate_object THEN null; END $$;`;
    await c.query(guarded);
    await c.query(guarded);
    await c.query('CREATE TABLE o_moods (id int PRIMARY KEY, mood o_mood)');
    await c.query("INSERT INTO o_moods VALUES (1, 'happy'), (2, 'sad'), (3, $1)", ['ok']);
    // Declaration order, not text order ('happy' < 'ok' < 'sad' as text).
    expect(await rows('SELECT id, mood FROM o_moods ORDER BY mood')).toEqual([
      { id: 2, mood: 'sad' },
      { id: 3, mood: 'ok' },
      { id: 1, mood: 'happy' },
    ]);
    const err = await c.query("INSERT INTO o_moods VALUES (4, 'meh')").then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    expect([err?.code, err?.message]).toEqual(['22P02', 'invalid input value for enum o_mood: "meh"']);
    expect(await rows("SELECT t.typtype, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typname = 'o_mood' GROUP BY t.typtype")).toEqual([
      { typtype: 'e', labels: '{sad,ok,happy}' },
    ]);
  });
});
