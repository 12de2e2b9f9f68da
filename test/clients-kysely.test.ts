import { Kysely, Migrator, PostgresDialect, sql, type Generated, type Migration, type MigrationProvider } from 'kysely';
import { Pool } from 'pg';
import { stopStartedServers, type SqlServer } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// Kysely as applications use it: its Migrator (which serializes migration runs with an advisory
// lock and its own lock table), the schema builder, the type-safe query builder over node-postgres
// (joins, aggregates, RETURNING, ON CONFLICT), transactions, and catalog introspection.
jest.setTimeout(120_000);
afterAll(() => stopStartedServers());

interface Database {
  ky_authors: { id: Generated<number>; name: string; email: string; joined: Generated<Date> };
  ky_posts: { id: Generated<string>; author_id: number; title: string; score: string; tags: string[] | null };
}

// Migrations as objects (what a project's migrations folder holds, without the files).
const migrations: Record<string, Migration> = {
  '2024_01_authors': {
    up: async (db: Kysely<unknown>) => {
      await db.schema
        .createTable('ky_authors')
        .addColumn('id', 'serial', (c) => c.primaryKey())
        .addColumn('name', 'varchar(80)', (c) => c.notNull())
        .addColumn('email', 'varchar(120)', (c) => c.notNull().unique())
        .addColumn('joined', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
    },
    down: async (db: Kysely<unknown>) => {
      await db.schema.dropTable('ky_authors').execute();
    },
  },
  '2024_02_posts': {
    up: async (db: Kysely<unknown>) => {
      await db.schema
        .createTable('ky_posts')
        .addColumn('id', 'bigserial', (c) => c.primaryKey())
        .addColumn('author_id', 'integer', (c) => c.notNull().references('ky_authors.id').onDelete('cascade'))
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('score', 'numeric(6, 2)', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('ky_posts_author').on('ky_posts').columns(['author_id', 'score desc']).execute();
    },
    down: async (db: Kysely<unknown>) => {
      await db.schema.dropTable('ky_posts').execute();
    },
  },
  '2024_03_tags': {
    up: async (db: Kysely<unknown>) => {
      await db.schema.alterTable('ky_posts').addColumn('tags', sql`text[]`).execute();
    },
    down: async (db: Kysely<unknown>) => {
      await db.schema.alterTable('ky_posts').dropColumn('tags').execute();
    },
  },
};
const provider: MigrationProvider = { getMigrations: async () => migrations };

describe.each(clientTargets(true))('Kysely against %s', (kind) => {
  let server: SqlServer;
  let db: Kysely<Database>;
  const label = targetLabel(kind);

  beforeAll(async () => {
    server = await startServer(kind);
    db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new Pool({ host: server.host, port: server.port, user: server.user, database: server.database, max: 4 }) }),
    });
  });
  afterAll(async () => {
    await db?.destroy();
    await server?.stop();
  });

  it(`migrates to latest under the migrator's lock, then finds nothing to do on ${label}`, async () => {
    const migrator = new Migrator({ db, provider });
    const first = await migrator.migrateToLatest();
    expect(first.error).toBeUndefined();
    expect(first.results?.map((r) => [r.migrationName, r.status])).toEqual([
      ['2024_01_authors', 'Success'],
      ['2024_02_posts', 'Success'],
      ['2024_03_tags', 'Success'],
    ]);
    // Two migrators at once (two app instances starting): the lock lets one do the work.
    const [a, b] = await Promise.all([new Migrator({ db, provider }).migrateToLatest(), new Migrator({ db, provider }).migrateToLatest()]);
    expect([a.error, b.error]).toEqual([undefined, undefined]);
    expect([a.results, b.results]).toEqual([[], []]);
    const applied = await db
      .selectFrom(sql<{ name: string }>`kysely_migration`.as('m'))
      .select('m.name')
      .orderBy('m.name')
      .execute();
    expect(applied.map((r) => r.name)).toEqual(['2024_01_authors', '2024_02_posts', '2024_03_tags']);
  });

  it(`introspects the tables the migrations made on ${label}`, async () => {
    const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
    const posts = tables.find((t) => t.name === 'ky_posts');
    expect(posts?.schema).toBe('public');
    expect(posts?.columns.map((c) => [c.name, c.dataType, c.isNullable, c.isAutoIncrementing, c.hasDefaultValue])).toEqual([
      ['id', 'int8', false, true, true],
      ['author_id', 'int4', false, false, false],
      ['title', 'text', false, false, false],
      ['score', 'numeric', false, false, true],
      ['tags', '_text', true, false, false],
    ]);
    expect(tables.some((t) => t.name === 'kysely_migration')).toBe(true);
  });

  it(`inserts with RETURNING, upserts, joins and aggregates through the query builder on ${label}`, async () => {
    const authors = await db
      .insertInto('ky_authors')
      .values([
        { name: 'Ann', email: 'ann@example.com' },
        { name: 'Bob', email: 'bob@example.com' },
      ])
      .returning(['id', 'name'])
      .execute();
    expect(authors).toEqual([
      { id: 1, name: 'Ann' },
      { id: 2, name: 'Bob' },
    ]);
    await db
      .insertInto('ky_posts')
      .values([
        { author_id: 1, title: 'first', score: '4.50', tags: ['a', 'b'] },
        { author_id: 1, title: 'second', score: '1.25', tags: null },
        { author_id: 2, title: 'third', score: '9.99', tags: [] },
      ])
      .execute();
    const upserted = await db
      .insertInto('ky_authors')
      .values({ name: 'Ann B.', email: 'ann@example.com' })
      .onConflict((oc) => oc.column('email').doUpdateSet((eb) => ({ name: eb.ref('excluded.name') })))
      .returning(['id', 'name'])
      .executeTakeFirstOrThrow();
    expect(upserted).toEqual({ id: 1, name: 'Ann B.' });
    const stats = await db
      .selectFrom('ky_authors as a')
      .innerJoin('ky_posts as p', 'p.author_id', 'a.id')
      .select(['a.name', (eb) => eb.fn.countAll<string>().as('posts'), (eb) => eb.fn.sum<string>('p.score').as('total')])
      .where('p.score', '>', '1')
      .groupBy('a.name')
      .orderBy('a.name')
      .execute();
    expect(stats).toEqual([
      { name: 'Ann B.', posts: '2', total: '5.75' },
      { name: 'Bob', posts: '1', total: '9.99' },
    ]);
    const tagged = await db.selectFrom('ky_posts').select(['title', 'tags']).where(sql<boolean>`${sql.ref('tags')} @> ARRAY['a']::text[]`).execute();
    expect(tagged).toEqual([{ title: 'first', tags: ['a', 'b'] }]);
    const updated = await db.updateTable('ky_posts').set({ score: sql`score * 2` }).where('author_id', '=', 2).returning('score').execute();
    expect(updated).toEqual([{ score: '19.98' }]);
  });

  it(`commits a transaction and rolls a failing one back with its error on ${label}`, async () => {
    // (The upsert above used a sequence value, as in PostgreSQL: Cy's id is read back, not assumed.)
    const cy = await db.transaction().execute(async (trx) => {
      const { id } = await trx.insertInto('ky_authors').values({ name: 'Cy', email: 'cy@example.com' }).returning('id').executeTakeFirstOrThrow();
      await trx.insertInto('ky_posts').values({ author_id: id, title: 'cy post', score: '2' }).execute();
      return id;
    });
    let code: string | undefined;
    try {
      await db.transaction().execute(async (trx) => {
        await trx.insertInto('ky_posts').values({ author_id: cy, title: 'lost', score: '1' }).execute();
        await trx.insertInto('ky_authors').values({ name: 'dup', email: 'cy@example.com' }).execute();
      });
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe('23505');
    const titles = await db.selectFrom('ky_posts').select('title').where('author_id', '=', cy).execute();
    expect(titles).toEqual([{ title: 'cy post' }]);
    // ON DELETE CASCADE from the migration's foreign key.
    await db.deleteFrom('ky_authors').where('id', '=', cy).execute();
    const left = await db.selectFrom('ky_posts').select((eb) => eb.fn.countAll<string>().as('n')).where('author_id', '=', cy).executeTakeFirstOrThrow();
    expect(left.n).toBe('0');
  });

  it(`migrates down one step and back up on ${label}`, async () => {
    const migrator = new Migrator({ db, provider });
    const down = await migrator.migrateDown();
    expect(down.error).toBeUndefined();
    expect(down.results?.map((r) => [r.migrationName, r.direction, r.status])).toEqual([['2024_03_tags', 'Down', 'Success']]);
    const cols = await sql<{ column_name: string }>`SELECT column_name FROM information_schema.columns WHERE table_name = 'ky_posts' ORDER BY ordinal_position`.execute(db);
    expect(cols.rows.map((r) => r.column_name)).toEqual(['id', 'author_id', 'title', 'score']);
    const up = await migrator.migrateToLatest();
    expect(up.results?.map((r) => [r.migrationName, r.status])).toEqual([['2024_03_tags', 'Success']]);
  });
});
