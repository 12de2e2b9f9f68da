import knexFactory, { type Knex } from 'knex';
import 'reflect-metadata';
import {
  Column,
  CreateDateColumn,
  DataSource,
  Entity,
  In,
  Index,
  ManyToOne,
  OneToMany,
  PrimaryGeneratedColumn,
  QueryFailedError,
  Table,
  TableIndex,
  type MigrationInterface,
  type QueryRunner,
} from 'typeorm';
import { stopStartedServers, type SqlServer } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// Starting servers can take a while on a loaded machine (the project-level testTimeout does
// not apply to hooks run this way); the catch-all afterAll stops servers whose start outlived
// a failed beforeAll.
jest.setTimeout(120_000);
afterAll(() => stopStartedServers());

// TypeORM and Knex as applications use them: schema from entities (synchronize) and from
// migrations, relations, query builders, transactions. Both introspect the catalog
// (information_schema / pg_catalog) to decide what to create, so a second synchronize must
// find nothing to change. Relations are declared without database foreign keys
// (createForeignKeyConstraints: false) because Weft does not have FK constraints yet; the
// relation logic under test is the ORM's joins and cascades.

@Entity('orm_customers')
class Customer {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 80, unique: true })
  email!: string;

  @Column({ type: 'text', nullable: true })
  name!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @OneToMany(() => Purchase, (p) => p.customer, { cascade: true })
  purchases!: Purchase[];
}

@Entity('orm_purchases')
@Index(['customerId', 'placedAt'])
class Purchase {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'int' })
  customerId!: number;

  @ManyToOne(() => Customer, (c) => c.purchases, { createForeignKeyConstraints: false })
  customer!: Customer;

  @Column({ type: 'numeric', precision: 10, scale: 2 })
  amount!: string;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details!: Record<string, unknown>;

  @Column({ type: 'timestamptz' })
  placedAt!: Date;
}

// An enum column: TypeORM creates the type ("orm_tickets_status_enum") and, on the second
// synchronize, compares the labels it reads from pg_enum with the entity's.
enum TicketStatus {
  Open = 'open',
  Triaged = 'triaged',
  Closed = 'closed',
}

@Entity('orm_tickets')
class Ticket {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text' })
  title!: string;

  @Column({ type: 'enum', enum: TicketStatus, default: TicketStatus.Open })
  status!: TicketStatus;
}

class CreateProducts1700000000001 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'orm_products',
        columns: [
          { name: 'id', type: 'int', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'sku', type: 'varchar', length: '32', isUnique: true },
          { name: 'price', type: 'numeric', precision: 10, scale: 2, default: 0 },
        ],
      }),
    );
    await q.createIndex('orm_products', new TableIndex({ name: 'orm_products_price', columnNames: ['price'] }));
  }
  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('orm_products');
  }
}

class AddStock1700000000002 implements MigrationInterface {
  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orm_products ADD COLUMN stock int NOT NULL DEFAULT 0');
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orm_products DROP COLUMN stock');
  }
}

describe.each(clientTargets(true))('TypeORM against %s', (kind) => {
  let server: SqlServer;
  let ds: DataSource;
  const label = targetLabel(kind);
  const options = (): ConstructorParameters<typeof DataSource>[0] => ({
    type: 'postgres',
    host: server.host,
    port: server.port,
    username: server.user,
    database: server.database,
    entities: [Customer, Purchase, Ticket],
    logging: false,
  });

  beforeAll(async () => {
    server = await startServer(kind);
    ds = new DataSource({ ...options(), synchronize: true });
    await ds.initialize();
  });
  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await server?.stop();
  });

  it(`creates the schema from entities, and a second synchronize finds nothing to change on ${label}`, async () => {
    const tables = await ds.query<{ table_name: string }[]>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE 'orm_%' ORDER BY table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual(['orm_customers', 'orm_purchases', 'orm_tickets']);
    const pending = await ds.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it(`saves enum columns, orders them in declaration order and refuses unknown labels on ${label}`, async () => {
    const repo = ds.getRepository(Ticket);
    await repo.save([{ title: 'c', status: TicketStatus.Closed }, { title: 'a' }, { title: 't', status: TicketStatus.Triaged }]);
    expect((await repo.find({ order: { status: 'ASC' } })).map((t) => [t.title, t.status])).toEqual([
      ['a', 'open'],
      ['t', 'triaged'],
      ['c', 'closed'],
    ]);
    expect((await repo.find({ where: { status: In([TicketStatus.Open, TicketStatus.Closed]) }, order: { title: 'ASC' } })).map((t) => t.title)).toEqual(['a', 'c']);
    const err = await repo.save({ title: 'x', status: 'lost' as TicketStatus }).then(
      () => undefined,
      (e: { driverError?: { code?: string } }) => e.driverError?.code,
    );
    expect(err).toBe('22P02');
  });

  it(`saves an aggregate with cascaded relations and loads it back on ${label}`, async () => {
    const c = ds.getRepository(Customer).create({
      email: 'ann@example.com',
      name: 'Ann',
      purchases: [
        { amount: '12.50', placedAt: new Date('2024-01-01T10:00:00Z'), details: { sku: 'A' } },
        { amount: '7.25', placedAt: new Date('2024-01-02T10:00:00Z') },
      ],
    });
    await ds.getRepository(Customer).save(c);
    expect(c.id).toBe(1);
    expect(c.createdAt).toBeInstanceOf(Date);
    const loaded = await ds.getRepository(Customer).findOne({ where: { email: 'ann@example.com' }, relations: { purchases: true } });
    expect(loaded?.purchases.map((p) => [p.amount, p.details]).sort()).toEqual([
      ['12.50', { sku: 'A' }],
      ['7.25', {}],
    ]);
    expect(loaded?.purchases.every((p) => /^[0-9a-f-]{36}$/.test(p.id))).toBe(true);
  });

  it(`queries with the query builder (join, aggregate, parameters) on ${label}`, async () => {
    await ds.getRepository(Customer).save({ email: 'bob@example.com', name: null });
    const totals = await ds
      .getRepository(Customer)
      .createQueryBuilder('c')
      .leftJoin('c.purchases', 'p')
      .select('c.email', 'email')
      .addSelect('COALESCE(SUM(p.amount), 0)', 'total')
      .addSelect('COUNT(p.id)', 'n')
      .where('c.email LIKE :pattern', { pattern: '%@example.com' })
      .groupBy('c.email')
      .orderBy('c.email')
      .getRawMany<{ email: string; total: string; n: string }>();
    expect(totals).toEqual([
      { email: 'ann@example.com', total: '19.75', n: '2' },
      { email: 'bob@example.com', total: '0', n: '0' },
    ]);
    expect(await ds.getRepository(Purchase).count({ where: { customerId: 1 } })).toBe(2);
  });

  it(`rolls a transaction back on error and maps constraint violations on ${label}`, async () => {
    const err = await ds
      .transaction(async (m) => {
        await m.getRepository(Customer).update({ email: 'bob@example.com' }, { name: 'Robert' });
        await m.getRepository(Customer).insert({ email: 'ann@example.com' });
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueryFailedError);
    expect((err as QueryFailedError & { driverError: { code: string } }).driverError.code).toBe('23505');
    const bob = await ds.getRepository(Customer).findOneBy({ email: 'bob@example.com' });
    expect(bob?.name).toBeNull();
  });

  it(`runs migrations, records them, and reverts the last one on ${label}`, async () => {
    const mds = new DataSource({ ...options(), entities: [], migrations: [CreateProducts1700000000001, AddStock1700000000002] });
    await mds.initialize();
    try {
      const ran = await mds.runMigrations({ transaction: 'each' });
      expect(ran.map((m) => m.name)).toEqual(['CreateProducts1700000000001', 'AddStock1700000000002']);
      expect(await mds.showMigrations()).toBe(false);
      await mds.query("INSERT INTO orm_products (sku, price, stock) VALUES ('x', 2.5, 3)");
      expect(await mds.query('SELECT sku, price, stock FROM orm_products')).toEqual([{ sku: 'x', price: '2.50', stock: 3 }]);
      await mds.undoLastMigration();
      expect(await mds.query('SELECT * FROM orm_products')).toEqual([{ id: 1, sku: 'x', price: '2.50' }]);
      const recorded = await mds.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id');
      expect(recorded.map((r) => r.name)).toEqual(['CreateProducts1700000000001']);
      expect((await mds.runMigrations()).map((m) => m.name)).toEqual(['AddStock1700000000002']);
    } finally {
      await mds.destroy();
    }
  });
});

describe.each(clientTargets(true))('Knex against %s', (kind) => {
  let server: SqlServer;
  let knex: Knex;
  const label = targetLabel(kind);

  // Migrations as objects (what a project's migrations/ directory holds, without the files).
  const migrations: Record<string, Knex.Migration> = {
    '20240101_accounts': {
      up: (k) =>
        k.schema.createTable('kx_accounts', (t) => {
          t.increments('id');
          t.string('owner', 60).notNullable().unique();
          t.decimal('balance', 12, 2).notNullable().defaultTo(0);
          t.timestamps(true, true);
        }),
      down: (k) => k.schema.dropTable('kx_accounts'),
    },
    '20240102_transfers': {
      up: async (k) => {
        await k.schema.createTable('kx_transfers', (t) => {
          t.bigIncrements('id');
          t.integer('from_id').notNullable().index();
          t.integer('to_id').notNullable();
          t.decimal('amount', 12, 2).notNullable();
        });
        await k.schema.alterTable('kx_accounts', (t) => t.boolean('frozen').notNullable().defaultTo(false));
      },
      down: async (k) => {
        await k.schema.dropTable('kx_transfers');
        await k.schema.alterTable('kx_accounts', (t) => t.dropColumn('frozen'));
      },
    },
  };
  const migrationSource: Knex.MigrationSource<string> = {
    getMigrations: async () => Object.keys(migrations),
    getMigrationName: (name) => name,
    getMigration: async (name) => migrations[name],
  };

  beforeAll(async () => {
    server = await startServer(kind);
    knex = knexFactory({
      client: 'pg',
      connection: { host: server.host, port: server.port, user: server.user, database: server.database },
      pool: { min: 0, max: 4 },
      migrations: { migrationSource },
    });
  });
  afterAll(async () => {
    await knex?.destroy();
    await server?.stop();
  });

  it(`applies migrations in order and records them on ${label}`, async () => {
    const [batch, applied] = (await knex.migrate.latest()) as [number, string[]];
    expect(batch).toBe(1);
    expect(applied).toEqual(['20240101_accounts', '20240102_transfers']);
    expect(await knex.migrate.currentVersion()).toBe('20240102');
    const cols = await knex('information_schema.columns').where({ table_name: 'kx_accounts' }).orderBy('ordinal_position').pluck('column_name');
    expect(cols).toEqual(['id', 'owner', 'balance', 'created_at', 'updated_at', 'frozen']);
    const [again] = (await knex.migrate.latest()) as [number, string[]];
    expect(again).toBe(1);
  });

  it(`inserts, updates and reads through the query builder on ${label}`, async () => {
    const ids = await knex('kx_accounts')
      .insert([{ owner: 'ann', balance: 100 }, { owner: 'bob' }])
      .returning('id');
    expect(ids).toEqual([{ id: 1 }, { id: 2 }]);
    await knex('kx_accounts').where({ owner: 'bob' }).increment('balance', 5.5);
    const rows = await knex('kx_accounts').select('owner', 'balance', 'frozen').orderBy('owner');
    expect(rows).toEqual([
      { owner: 'ann', balance: '100.00', frozen: false },
      { owner: 'bob', balance: '5.50', frozen: false },
    ]);
    const [{ n }] = await knex('kx_accounts').where('balance', '>', 50).count<{ n: string }[]>({ n: '*' });
    expect(n).toBe('1');
  });

  it(`commits a transfer atomically and rolls back a failing one on ${label}`, async () => {
    await knex.transaction(async (trx) => {
      await trx('kx_accounts').where({ id: 1 }).decrement('balance', 30);
      await trx('kx_accounts').where({ id: 2 }).increment('balance', 30);
      await trx('kx_transfers').insert({ from_id: 1, to_id: 2, amount: 30 });
    });
    const err = await knex
      .transaction(async (trx) => {
        await trx('kx_accounts').where({ id: 1 }).decrement('balance', 10);
        await trx('kx_accounts').insert({ owner: 'ann' });
      })
      .catch((e: { code?: string }) => e);
    expect(err).toMatchObject({ code: '23505' });
    const balances = await knex('kx_accounts').orderBy('id').pluck('balance');
    expect(balances).toEqual(['70.00', '35.50']);
    expect(await knex('kx_transfers').count<{ count: string }[]>('*')).toEqual([{ count: '1' }]);
  });

  it(`rolls back the last batch of migrations on ${label}`, async () => {
    const [, reverted] = (await knex.migrate.rollback()) as [number, string[]];
    expect(reverted.sort()).toEqual(['20240101_accounts', '20240102_transfers']);
    expect(await knex.schema.hasTable('kx_accounts')).toBe(false);
    expect(await knex.schema.hasTable('kx_transfers')).toBe(false);
    expect(await knex('knex_migrations').count<{ count: string }[]>('*')).toEqual([{ count: '0' }]);
  });
});
