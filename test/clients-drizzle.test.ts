import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { and, asc, between, count, desc, eq, gt, inArray, isNull, like, or, relations, sql, sum, TransactionRollbackError } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { bigint, bigserial, boolean, integer, jsonb, numeric, pgEnum, pgTable, serial, text, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';
import { Pool } from 'pg';
import { stopStartedServers, type SqlServer } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// Drizzle ORM over node-postgres as applications use it: its migrator (a drizzle schema with a
// __drizzle_migrations table, migrations as drizzle-kit writes them), the query builder (joins,
// RETURNING, ON CONFLICT, operators, aggregates), relational queries (db.query: lateral joins
// with json aggregation), transactions with tx.rollback(), named prepared statements.
jest.setTimeout(120_000);
afterAll(() => stopStartedServers());

const authors = pgTable('dz_authors', {
  id: serial('id').primaryKey(),
  name: varchar('name', { length: 80 }).notNull(),
  email: text('email').notNull().unique(),
  active: boolean('active').notNull().default(true),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  // Milliseconds, as a JavaScript Date holds: a value read back compares equal to the stored one.
  seenAt: timestamp('seen_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

const books = pgTable('dz_books', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  uid: uuid('uid').notNull().defaultRandom(),
  authorId: integer('author_id')
    .notNull()
    .references(() => authors.id, { onDelete: 'cascade' }),
  title: text('title').notNull(),
  price: numeric('price', { precision: 8, scale: 2 }).notNull(),
  meta: jsonb('meta').$type<{ pages: number; series?: string }>(),
  tags: text('tags').array(),
  publishedAt: timestamp('published_at', { withTimezone: true }),
});

const reviews = pgTable('dz_reviews', {
  id: serial('id').primaryKey(),
  bookId: bigint('book_id', { mode: 'number' })
    .notNull()
    .references(() => books.id, { onDelete: 'cascade' }),
  stars: integer('stars').notNull(),
  body: text('body'),
});

// pgEnum: drizzle-kit creates the type in a DO block that ignores duplicate_object.
const shelfStatus = pgEnum('dz_shelf_status', ['draft', 'open', 'closed']);
const shelves = pgTable('dz_shelves', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  status: shelfStatus('status').notNull().default('draft'),
});

const authorsRelations = relations(authors, ({ many }) => ({ books: many(books) }));
const booksRelations = relations(books, ({ one, many }) => ({
  author: one(authors, { fields: [books.authorId], references: [authors.id] }),
  reviews: many(reviews),
}));
const reviewsRelations = relations(reviews, ({ one }) => ({ book: one(books, { fields: [reviews.bookId], references: [books.id] }) }));
const schema = { authors, books, reviews, shelves, authorsRelations, booksRelations, reviewsRelations };

// The migrations folder drizzle-kit would generate for the schema above (written by hand).
const MIGRATIONS: { tag: string; sql: string[] }[] = [
  {
    tag: '0000_init',
    sql: [
      `CREATE TABLE "dz_authors" (
\t"id" serial PRIMARY KEY NOT NULL,
\t"name" varchar(80) NOT NULL,
\t"email" text NOT NULL,
\t"active" boolean DEFAULT true NOT NULL,
\t"created_at" timestamp with time zone DEFAULT now() NOT NULL,
\t"seen_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
\tCONSTRAINT "dz_authors_email_unique" UNIQUE("email")
);`,
      `CREATE TABLE "dz_books" (
\t"id" bigserial PRIMARY KEY NOT NULL,
\t"uid" uuid DEFAULT gen_random_uuid() NOT NULL,
\t"author_id" integer NOT NULL,
\t"title" text NOT NULL,
\t"price" numeric(8, 2) NOT NULL,
\t"meta" jsonb,
\t"tags" text[]
);`,
      `ALTER TABLE "dz_books" ADD CONSTRAINT "dz_books_author_id_dz_authors_id_fk" FOREIGN KEY ("author_id") REFERENCES "public"."dz_authors"("id") ON DELETE cascade ON UPDATE no action;`,
      `CREATE INDEX "dz_books_author_idx" ON "dz_books" USING btree ("author_id","price");`,
    ],
  },
  {
    tag: '0001_reviews',
    sql: [
      `CREATE TABLE "dz_reviews" (
\t"id" serial PRIMARY KEY NOT NULL,
\t"book_id" bigint NOT NULL,
\t"stars" integer NOT NULL,
\t"body" text
);`,
      `ALTER TABLE "dz_books" ADD COLUMN "published_at" timestamp with time zone;`,
      `ALTER TABLE "dz_reviews" ADD CONSTRAINT "dz_reviews_book_id_dz_books_id_fk" FOREIGN KEY ("book_id") REFERENCES "public"."dz_books"("id") ON DELETE cascade ON UPDATE no action;`,
    ],
  },
  {
    tag: '0002_shelves',
    sql: [
      `DO $$ BEGIN
 CREATE TYPE "public"."dz_shelf_status" AS ENUM('draft', 'open', 'closed');
EXCEPTION
 WHEN duplicate_object THEN null;
END $$;`,
      `CREATE TABLE "dz_shelves" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"status" "dz_shelf_status" DEFAULT 'draft' NOT NULL
);`,
    ],
  },
];

function writeMigrations(dir: string): void {
  mkdirSync(path.join(dir, 'meta'), { recursive: true });
  const entries = MIGRATIONS.map((m, idx) => ({ idx, version: '7', when: 1_700_000_000_000 + idx * 1000, tag: m.tag, breakpoints: true }));
  writeFileSync(path.join(dir, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'postgresql', entries }, null, 2));
  for (const m of MIGRATIONS) writeFileSync(path.join(dir, `${m.tag}.sql`), m.sql.join('\n--> statement-breakpoint\n'));
}

/** What a rejected promise was, for comparing errors between servers. */
async function failure(p: Promise<unknown>): Promise<Error & { code?: string; cause?: { code?: string; message?: string } }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string; cause?: { code?: string; message?: string } };
  }
  throw new Error('expected the operation to fail');
}

describe.each(clientTargets(true))('Drizzle ORM against %s', (kind) => {
  let server: SqlServer;
  let pool: Pool;
  let db: NodePgDatabase<typeof schema>;
  let dir: string;
  const label = targetLabel(kind);

  beforeAll(async () => {
    server = await startServer(kind);
    pool = new Pool({ host: server.host, port: server.port, user: server.user, database: server.database, max: 4 });
    db = drizzle(pool, { schema });
    dir = mkdtempSync(path.join(os.tmpdir(), 'drizzle-migrations-'));
    writeMigrations(dir);
  });
  afterAll(async () => {
    await pool?.end();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`migrates with drizzle's migrator, and a second run applies nothing on ${label}`, async () => {
    await migrate(db, { migrationsFolder: dir });
    await migrate(db, { migrationsFolder: dir });
    const applied = await db.execute<{ hash: string; created_at: string }>(sql`SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id`);
    expect(applied.rows.map((r) => [r.hash.length, r.created_at])).toEqual([
      [64, '1700000000000'],
      [64, '1700000001000'],
      [64, '1700000002000'],
    ]);
    const cols = await db.execute<{ column_name: string; data_type: string; is_nullable: string }>(
      sql`SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'dz_books' ORDER BY ordinal_position`,
    );
    expect(cols.rows.map((r) => [r.column_name, r.data_type, r.is_nullable])).toEqual([
      ['id', 'bigint', 'NO'],
      ['uid', 'uuid', 'NO'],
      ['author_id', 'integer', 'NO'],
      ['title', 'text', 'NO'],
      ['price', 'numeric', 'NO'],
      ['meta', 'jsonb', 'YES'],
      ['tags', 'ARRAY', 'YES'],
      ['published_at', 'timestamp with time zone', 'YES'],
    ]);
  });

  it(`inserts with returning, upserts with onConflictDoUpdate and returns typed values on ${label}`, async () => {
    const made = await db
      .insert(authors)
      .values([
        { name: 'Ann', email: 'ann@example.com' },
        { name: 'Bob', email: 'bob@example.com', active: false },
        { name: 'Cy', email: 'cy@example.com' },
      ])
      .returning({ id: authors.id, name: authors.name, active: authors.active, createdAt: authors.createdAt });
    expect(made.map((a) => [a.id, a.name, a.active, a.createdAt instanceof Date])).toEqual([
      [1, 'Ann', true, true],
      [2, 'Bob', false, true],
      [3, 'Cy', true, true],
    ]);
    const published = new Date('2024-03-01T12:30:00.123Z');
    const inserted = await db
      .insert(books)
      .values([
        { authorId: 1, title: 'Alpha', price: '12.50', meta: { pages: 120, series: 'greek' }, tags: ['sf', 'short'], publishedAt: published },
        { authorId: 1, title: 'Beta', price: '7.25', meta: { pages: 80 }, tags: [] },
        { authorId: 2, title: 'Gamma', price: '30.00', meta: null, tags: null },
        { authorId: 3, title: 'Delta', price: '0.99' },
      ])
      .returning();
    expect(inserted.map((b) => [b.id, b.title, b.price, b.meta, b.tags, b.publishedAt])).toEqual([
      [1, 'Alpha', '12.50', { pages: 120, series: 'greek' }, ['sf', 'short'], published],
      [2, 'Beta', '7.25', { pages: 80 }, [], null],
      [3, 'Gamma', '30.00', null, null, null],
      [4, 'Delta', '0.99', null, null, null],
    ]);
    expect(inserted.every((b) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(b.uid))).toBe(true);
    expect(new Set(inserted.map((b) => b.uid)).size).toBe(4);
    await db.insert(reviews).values([
      { bookId: 1, stars: 5, body: 'great' },
      { bookId: 1, stars: 3, body: null },
      { bookId: 3, stars: 4, body: 'fine' },
    ]);
    // The row found again by the timestamp the app read back (timestamp(3) rounds now()).
    const [{ seenAt }] = await db.select({ seenAt: authors.seenAt }).from(authors).where(eq(authors.id, 3));
    expect(await db.select({ id: authors.id }).from(authors).where(and(eq(authors.id, 3), eq(authors.seenAt, seenAt)))).toEqual([{ id: 3 }]);
    const precision = await db.execute<{ p: number }>(sql`SELECT datetime_precision AS p FROM information_schema.columns WHERE table_name = 'dz_authors' AND column_name = 'seen_at'`);
    expect(precision.rows).toEqual([{ p: 3 }]);
    const upserted = await db
      .insert(authors)
      .values({ name: 'Ann B.', email: 'ann@example.com' })
      .onConflictDoUpdate({ target: authors.email, set: { name: sql`excluded.name` } })
      .returning({ id: authors.id, name: authors.name });
    expect(upserted).toEqual([{ id: 1, name: 'Ann B.' }]);
    const ignored = await db.insert(authors).values({ name: 'x', email: 'bob@example.com' }).onConflictDoNothing().returning();
    expect(ignored).toEqual([]);
    const dup = await failure(db.insert(authors).values({ name: 'dup', email: 'cy@example.com' }));
    expect([dup.cause?.code, dup.cause?.message]).toEqual(['23505', 'duplicate key value violates unique constraint "dz_authors_email_unique"']);
  });

  it(`selects with joins, operators, ordering and aggregates on ${label}`, async () => {
    const joined = await db
      .select({ author: authors.name, title: books.title, price: books.price })
      .from(books)
      .innerJoin(authors, eq(books.authorId, authors.id))
      .where(and(or(like(books.title, '%a'), inArray(books.authorId, [2, 3])), between(books.price, '1', '20')))
      .orderBy(desc(books.price), asc(books.title));
    expect(joined).toEqual([
      { author: 'Ann B.', title: 'Alpha', price: '12.50' },
      { author: 'Ann B.', title: 'Beta', price: '7.25' },
    ]);
    const left = await db
      .select({ title: books.title, stars: reviews.stars })
      .from(books)
      .leftJoin(reviews, eq(reviews.bookId, books.id))
      .where(isNull(books.publishedAt))
      .orderBy(books.id, reviews.stars);
    expect(left).toEqual([
      { title: 'Beta', stars: null },
      { title: 'Gamma', stars: 4 },
      { title: 'Delta', stars: null },
    ]);
    const perAuthor = await db
      .select({
        name: authors.name,
        books: count(books.id),
        total: sum(books.price),
        avgPages: sql<string | null>`avg((${books.meta}->>'pages')::int)`,
        titles: sql<string[]>`array_agg(${books.title} order by ${books.title})`,
      })
      .from(authors)
      .leftJoin(books, eq(books.authorId, authors.id))
      .groupBy(authors.id)
      .having(({ books: n }) => gt(n, 0))
      .orderBy(authors.id);
    expect(perAuthor).toEqual([
      { name: 'Ann B.', books: 2, total: '19.75', avgPages: '100.0000000000000000', titles: ['Alpha', 'Beta'] },
      { name: 'Bob', books: 1, total: '30.00', avgPages: null, titles: ['Gamma'] },
      { name: 'Cy', books: 1, total: '0.99', avgPages: null, titles: ['Delta'] },
    ]);
    expect(await db.$count(books, gt(books.price, '5'))).toBe(3);
    const tagged = await db
      .select({ title: books.title })
      .from(books)
      .where(sql`${books.tags} @> ARRAY['sf']::text[] OR ${books.meta} @> ${JSON.stringify({ pages: 80 })}::jsonb`)
      .orderBy(books.title);
    expect(tagged).toEqual([{ title: 'Alpha' }, { title: 'Beta' }]);
    const sub = db.select({ authorId: books.authorId, n: count().as('n') }).from(books).groupBy(books.authorId).as('sub');
    const viaSub = await db.select({ name: authors.name, n: sub.n }).from(authors).innerJoin(sub, eq(sub.authorId, authors.id)).where(gt(sub.n, 1));
    expect(viaSub).toEqual([{ name: 'Ann B.', n: 2 }]);
  });

  it(`answers relational queries (lateral joins with json aggregation) on ${label}`, async () => {
    const tree = await db.query.authors.findMany({
      columns: { id: true, name: true },
      with: {
        books: {
          columns: { title: true, price: true, tags: true, publishedAt: true },
          orderBy: (b, { asc: up }) => [up(b.title)],
          with: { reviews: { columns: { stars: true, body: true }, orderBy: (r, { desc: down }) => [down(r.stars)] } },
        },
      },
      where: (a, { ne }) => ne(a.name, 'Bob'),
      orderBy: (a, { asc: up }) => [up(a.id)],
    });
    expect(tree).toEqual([
      {
        id: 1,
        name: 'Ann B.',
        books: [
          {
            title: 'Alpha',
            // Rows of relations travel as JSON: numeric 12.50 arrives as the JSON number 12.5.
            price: '12.5',
            tags: ['sf', 'short'],
            publishedAt: new Date('2024-03-01T12:30:00.123Z'),
            reviews: [
              { stars: 5, body: 'great' },
              { stars: 3, body: null },
            ],
          },
          { title: 'Beta', price: '7.25', tags: [], publishedAt: null, reviews: [] },
        ],
      },
      { id: 3, name: 'Cy', books: [{ title: 'Delta', price: '0.99', tags: null, publishedAt: null, reviews: [] }] },
    ]);
    const one = await db.query.books.findFirst({
      where: (b, { eq: is }) => is(b.title, 'Gamma'),
      columns: { title: true, meta: true },
      with: { author: { columns: { name: true, active: true } } },
      extras: { upper: sql<string>`upper(${books.title})`.as('upper') },
    });
    expect(one).toEqual({ title: 'Gamma', meta: null, upper: 'GAMMA', author: { name: 'Bob', active: false } });
    const limited = await db.query.authors.findMany({ columns: { name: true }, with: { books: { columns: { title: true }, limit: 1, orderBy: (b, { desc: down }) => [down(b.price)] } }, limit: 2, offset: 1, orderBy: (a, { asc: up }) => [up(a.id)] });
    expect(limited).toEqual([
      { name: 'Bob', books: [{ title: 'Gamma' }] },
      { name: 'Cy', books: [{ title: 'Delta' }] },
    ]);
  });

  it(`commits transactions, rolls back on tx.rollback() and on errors on ${label}`, async () => {
    const id = await db.transaction(async (tx) => {
      const [a] = await tx.insert(authors).values({ name: 'Dee', email: 'dee@example.com' }).returning({ id: authors.id });
      await tx.insert(books).values({ authorId: a.id, title: 'Epsilon', price: '5.00' });
      return a.id;
    });
    const rolled = await failure(
      db.transaction(async (tx) => {
        await tx.insert(books).values({ authorId: id, title: 'lost', price: '1.00' });
        await tx.update(authors).set({ name: 'renamed' }).where(eq(authors.id, id));
        tx.rollback();
      }),
    );
    expect(rolled).toBeInstanceOf(TransactionRollbackError);
    const failed = await failure(
      db.transaction(
        async (tx) => {
          await tx.insert(books).values({ authorId: id, title: 'lost too', price: '1.00' });
          await tx.insert(books).values({ authorId: 999, title: 'orphan', price: '1.00' });
        },
        { isolationLevel: 'serializable' },
      ),
    );
    expect([failed.cause?.code, failed.cause?.message]).toEqual(['23503', 'insert or update on table "dz_books" violates foreign key constraint "dz_books_author_id_dz_authors_id_fk"']);
    const nested = await db.transaction(async (tx) => {
      await tx.insert(books).values({ authorId: id, title: 'Zeta', price: '2.00' });
      // A nested transaction is a savepoint: its rollback keeps the outer work.
      await failure(
        tx.transaction(async (inner) => {
          await inner.insert(books).values({ authorId: id, title: 'inner', price: '3.00' });
          inner.rollback();
        }),
      );
      return (await tx.select({ title: books.title }).from(books).where(eq(books.authorId, id)).orderBy(books.title)).map((b) => b.title);
    });
    expect(nested).toEqual(['Epsilon', 'Zeta']);
    const dee = await db.query.authors.findFirst({ where: eq(authors.id, id), columns: { name: true }, with: { books: { columns: { title: true }, orderBy: [asc(books.title)] } } });
    expect(dee).toEqual({ name: 'Dee', books: [{ title: 'Epsilon' }, { title: 'Zeta' }] });
    // ON DELETE CASCADE through two levels of foreign keys from the migrations.
    await db.delete(authors).where(eq(authors.name, 'Ann B.'));
    expect(await db.$count(reviews)).toBe(1);
  });

  it(`runs named prepared statements with placeholders on ${label}`, async () => {
    const byAuthor = db
      .select({ title: books.title, price: books.price })
      .from(books)
      .innerJoin(authors, eq(authors.id, books.authorId))
      .where(and(eq(authors.email, sql.placeholder('email')), gt(books.price, sql.placeholder('min'))))
      .orderBy(books.title)
      .prepare('dz_books_by_author');
    expect(await byAuthor.execute({ email: 'dee@example.com', min: '1' })).toEqual([
      { title: 'Epsilon', price: '5.00' },
      { title: 'Zeta', price: '2.00' },
    ]);
    expect(await byAuthor.execute({ email: 'bob@example.com', min: '100' })).toEqual([]);
    const rename = db
      .update(authors)
      .set({ name: sql`${sql.placeholder('name')}` })
      .where(eq(authors.id, sql.placeholder('id')))
      .returning({ name: authors.name })
      .prepare('dz_rename');
    expect(await rename.execute({ id: 2, name: 'Robert' })).toEqual([{ name: 'Robert' }]);
    const relational = db.query.authors.findFirst({ where: (a, { eq: is }) => is(a.id, sql.placeholder('id')), columns: { name: true }, with: { books: { columns: { title: true } } } }).prepare('dz_author_tree');
    expect(await relational.execute({ id: 2 })).toEqual({ name: 'Robert', books: [{ title: 'Gamma' }] });
    expect(await relational.execute({ id: 42 })).toBeUndefined();
  });

  it(`stores pgEnum values, orders them in declaration order and refuses unknown ones on ${label}`, async () => {
    await db.insert(shelves).values([{ name: 'a', status: 'closed' }, { name: 'b' }, { name: 'c', status: 'open' }]);
    expect(await db.select({ name: shelves.name, status: shelves.status }).from(shelves).orderBy(asc(shelves.status))).toEqual([
      { name: 'b', status: 'draft' },
      { name: 'c', status: 'open' },
      { name: 'a', status: 'closed' },
    ]);
    expect(await db.select({ name: shelves.name }).from(shelves).where(inArray(shelves.status, ['open', 'closed'])).orderBy(shelves.name)).toEqual([{ name: 'a' }, { name: 'c' }]);
    const updated = await db.update(shelves).set({ status: 'open' }).where(eq(shelves.name, 'b')).returning({ status: shelves.status });
    expect(updated).toEqual([{ status: 'open' }]);
    const err = await failure(db.insert(shelves).values({ name: 'd', status: 'lost' as 'open' }));
    expect([err.cause?.code ?? err.code, err.cause?.message ?? err.message]).toEqual(['22P02', 'invalid input value for enum dz_shelf_status: "lost"']);
    const labels = await db.execute<{ enumlabel: string }>(sql`SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = 'dz_shelf_status' ORDER BY e.enumsortorder`);
    expect(labels.rows.map((r) => r.enumlabel)).toEqual(['draft', 'open', 'closed']);
  });
});
