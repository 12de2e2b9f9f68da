import {
  DataTypes,
  ForeignKeyConstraintError,
  Model,
  Op,
  QueryTypes,
  Sequelize,
  Transaction,
  UniqueConstraintError,
  type CreationOptional,
  type ForeignKey,
  type InferAttributes,
  type InferCreationAttributes,
  type NonAttribute,
} from 'sequelize';
import { stopStartedServers, type SqlServer } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// Sequelize (over node-postgres) as applications use it: models with associations and a
// database foreign key (ON DELETE CASCADE), sync() (which reads pg_class, pg_index and
// information_schema to decide what to create), queryInterface migrations, finders with
// include (joins) and Op operators, bulkCreate/upsert/increment (RETURNING, ON CONFLICT),
// paranoid rows, managed transactions, and the JavaScript types the app gets back.
jest.setTimeout(120_000);
afterAll(() => stopStartedServers());

class User extends Model<InferAttributes<User>, InferCreationAttributes<User>> {
  declare id: CreationOptional<number>;
  declare email: string;
  declare name: string;
  declare balance: CreationOptional<string>;
  declare visits: CreationOptional<string>;
  declare tags: CreationOptional<string[] | null>;
  declare profile: CreationOptional<Record<string, unknown> | null>;
  declare birthday: CreationOptional<string | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare deletedAt: CreationOptional<Date | null>;
  declare posts?: NonAttribute<Post[]>;
}

class Post extends Model<InferAttributes<Post>, InferCreationAttributes<Post>> {
  declare id: CreationOptional<string>;
  declare title: string;
  declare published: CreationOptional<boolean>;
  declare score: CreationOptional<number>;
  declare userId: ForeignKey<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
  declare user?: NonAttribute<User>;
}

function defineModels(sequelize: Sequelize): void {
  User.init(
    {
      id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
      email: { type: DataTypes.STRING(120), allowNull: false, unique: true },
      name: { type: DataTypes.STRING(80), allowNull: false },
      balance: { type: DataTypes.DECIMAL(10, 2), allowNull: false, defaultValue: '0' },
      visits: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
      tags: { type: DataTypes.ARRAY(DataTypes.STRING), allowNull: true },
      profile: { type: DataTypes.JSONB, allowNull: true },
      birthday: { type: DataTypes.DATEONLY, allowNull: true },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
      deletedAt: DataTypes.DATE,
    },
    { sequelize, tableName: 'sq_users', paranoid: true, indexes: [{ fields: ['name'] }] },
  );
  Post.init(
    {
      id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
      title: { type: DataTypes.TEXT, allowNull: false },
      published: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      score: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      createdAt: DataTypes.DATE,
      updatedAt: DataTypes.DATE,
    },
    { sequelize, tableName: 'sq_posts', indexes: [{ fields: ['userId', 'score'] }] },
  );
  User.hasMany(Post, { as: 'posts', foreignKey: { name: 'userId', allowNull: false }, onDelete: 'CASCADE' });
  Post.belongsTo(User, { as: 'user', foreignKey: { name: 'userId', allowNull: false }, onDelete: 'CASCADE' });
}

/** What a rejected promise was, for comparing errors between servers. */
async function failure(p: Promise<unknown>): Promise<Error & { parent?: { code?: string; message?: string } }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { parent?: { code?: string; message?: string } };
  }
  throw new Error('expected the operation to fail');
}

describe.each(clientTargets(true))('Sequelize against %s', (kind) => {
  let server: SqlServer;
  let sequelize: Sequelize;
  const label = targetLabel(kind);

  beforeAll(async () => {
    server = await startServer(kind);
    sequelize = new Sequelize({
      dialect: 'postgres',
      host: server.host,
      port: server.port,
      username: server.user,
      database: server.database,
      logging: false,
      pool: { max: 4 },
    });
    defineModels(sequelize);
  });
  afterAll(async () => {
    await sequelize?.close();
    await server?.stop();
  });

  it(`syncs the models (tables, foreign key, indexes), and a second sync finds them on ${label}`, async () => {
    await sequelize.sync();
    await sequelize.sync();
    const qi = sequelize.getQueryInterface();
    const tables = (await qi.showAllTables()).map(String).filter((t) => t.startsWith('sq_'));
    expect(tables.sort()).toEqual(['sq_posts', 'sq_users']);
    const users = await qi.describeTable('sq_users');
    expect(Object.fromEntries(Object.entries(users).map(([c, d]) => [c, [d.type, d.allowNull, d.primaryKey]]))).toEqual({
      id: ['INTEGER', false, true],
      email: ['CHARACTER VARYING(120)', false, false],
      name: ['CHARACTER VARYING(80)', false, false],
      balance: ['NUMERIC', false, false],
      visits: ['BIGINT', false, false],
      tags: ['ARRAY', true, false],
      profile: ['JSONB', true, false],
      birthday: ['DATE', true, false],
      createdAt: ['TIMESTAMP WITH TIME ZONE', true, false],
      updatedAt: ['TIMESTAMP WITH TIME ZONE', true, false],
      deletedAt: ['TIMESTAMP WITH TIME ZONE', true, false],
    });
    expect(users.id.defaultValue).toBe('nextval(sq_users_id_seq::regclass)');
    expect(users.balance.defaultValue).toBe('0');
    const indexes = (await qi.showIndex('sq_posts')) as { name: string; unique: boolean; primary: boolean; fields: { attribute: string }[] }[];
    expect(indexes.map((i) => [i.name, i.unique, i.primary, i.fields.map((f) => f.attribute)]).sort()).toEqual([
      ['sq_posts_pkey', true, true, ['id']],
      ['sq_posts_user_id_score', false, false, ['userId', 'score']],
    ]);
    const refs = (await qi.getForeignKeyReferencesForTable('sq_posts')) as { columnName: string; referencedTableName: string; referencedColumnName: string }[];
    expect(refs.map((r) => [r.columnName, r.referencedTableName, r.referencedColumnName])).toEqual([['userId', 'sq_users', 'id']]);
  });

  it(`alters a table in place with sync({ alter: true }) as a changed model asks on ${label}`, async () => {
    const attrs = {
      id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
      code: { type: DataTypes.STRING(10), allowNull: false, unique: true },
      price: { type: DataTypes.DECIMAL(10, 2), allowNull: true },
    };
    const V1 = sequelize.define('Item1', attrs, { tableName: 'sq_items', timestamps: false });
    await V1.sync({ force: true });
    await V1.bulkCreate([{ code: 'a1', price: '12.55' }, { code: 'b2', price: '7.04' }]);
    // Every column's type is restated (same type), a varchar widened, numeric scale cut, a column added.
    const V2 = sequelize.define(
      'Item2',
      { ...attrs, code: { type: DataTypes.STRING(40), allowNull: false, unique: true }, price: { type: DataTypes.DECIMAL(10, 1) }, stock: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 5 } },
      { tableName: 'sq_items', timestamps: false },
    );
    await V2.sync({ alter: true });
    const cols = await sequelize.getQueryInterface().describeTable('sq_items');
    expect(Object.entries(cols).map(([c, d]) => [c, d.type, d.allowNull])).toEqual([
      ['id', 'INTEGER', false],
      ['code', 'CHARACTER VARYING(40)', false],
      ['price', 'NUMERIC', true],
      ['stock', 'INTEGER', false],
    ]);
    const rows = await V2.findAll({ order: [['id', 'ASC']], raw: true });
    expect(rows).toEqual([
      { id: 1, code: 'a1', price: '12.6', stock: 5 },
      { id: 2, code: 'b2', price: '7.0', stock: 5 },
    ]);
    await sequelize.getQueryInterface().dropTable('sq_items');
  });

  it(`creates ENUM columns (the type in a DO block), round-trips, orders and validates them on ${label}`, async () => {
    const Mood = sequelize.define('Mood', { id: { type: DataTypes.INTEGER, primaryKey: true }, mood: DataTypes.ENUM('sad', 'ok', 'happy') }, { tableName: 'sq_moods', timestamps: false });
    await Mood.sync({ force: true });
    await Mood.sync(); // the type exists now: Sequelize's DO block must skip it
    await Mood.bulkCreate([{ id: 1, mood: 'happy' }, { id: 2, mood: 'sad' }, { id: 3, mood: 'ok' }]);
    expect(await Mood.findAll({ order: [['mood', 'ASC']], raw: true })).toEqual([
      { id: 2, mood: 'sad' },
      { id: 3, mood: 'ok' },
      { id: 1, mood: 'happy' },
    ]);
    expect(await Mood.findAll({ where: { mood: ['ok', 'happy'] }, order: [['id', 'ASC']], raw: true })).toEqual([
      { id: 1, mood: 'happy' },
      { id: 3, mood: 'ok' },
    ]);
    // Sequelize validates against its own list first; raw SQL reaches the server's check.
    const err = await failure(sequelize.query("INSERT INTO sq_moods (id, mood) VALUES (4, 'meh')"));
    expect([err.parent?.code, err.parent?.message]).toEqual(['22P02', 'invalid input value for enum enum_sq_moods_mood: "meh"']);
    // describeTable reads the enum's labels from pg_enum.
    const described = (await sequelize.getQueryInterface().describeTable('sq_moods')) as Record<string, { type: string; special?: unknown }>;
    expect([described.mood.type, described.mood.special]).toEqual(['USER-DEFINED', ['sad', 'ok', 'happy']]);
    // Sequelize's drop() drops the table's enum types too (DROP TYPE IF EXISTS ... CASCADE).
    await Mood.drop({});
    const [left] = await sequelize.query("SELECT typname FROM pg_type WHERE typname = 'enum_sq_moods_mood'");
    expect(left).toEqual([]);
  });

  it(`runs migration-style queryInterface calls on ${label}`, async () => {
    const qi = sequelize.getQueryInterface();
    await qi.createTable('sq_audit', {
      id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
      action: { type: DataTypes.STRING(40), allowNull: false },
      at: { type: DataTypes.DATE, allowNull: false, defaultValue: Sequelize.fn('now') },
    });
    await qi.addColumn('sq_audit', 'payload', { type: DataTypes.JSONB, allowNull: true });
    await qi.addColumn('sq_audit', 'note', { type: DataTypes.TEXT, allowNull: false, defaultValue: 'none' });
    await qi.addIndex('sq_audit', ['action', 'at'], { name: 'sq_audit_action_at' });
    await qi.addIndex('sq_audit', ['note'], { unique: true });
    let cols = await qi.describeTable('sq_audit');
    expect(Object.keys(cols)).toEqual(['id', 'action', 'at', 'payload', 'note']);
    expect(cols.note.defaultValue).toBe('none');
    await qi.bulkInsert('sq_audit', [{ action: 'a', note: 'n1' }, { action: 'b', note: 'n2' }]);
    await qi.removeIndex('sq_audit', 'sq_audit_action_at');
    await qi.removeColumn('sq_audit', 'payload');
    cols = await qi.describeTable('sq_audit');
    expect(Object.keys(cols)).toEqual(['id', 'action', 'at', 'note']);
    const indexes = (await qi.showIndex('sq_audit')) as { name: string; unique: boolean }[];
    expect(indexes.map((i) => [i.name, i.unique]).sort()).toEqual([
      ['sq_audit_note', true],
      ['sq_audit_pkey', true],
    ]);
    const rows = await sequelize.query<{ action: string; note: string }>('SELECT action, note FROM sq_audit ORDER BY id', { type: QueryTypes.SELECT });
    expect(rows).toEqual([
      { action: 'a', note: 'n1' },
      { action: 'b', note: 'n2' },
    ]);
    await qi.dropTable('sq_audit');
    expect((await qi.showAllTables()).map(String)).not.toContain('sq_audit');
  });

  it(`creates rows and returns the types the app expects on ${label}`, async () => {
    const ann = await User.create({
      email: 'ann@example.com',
      name: 'Ann',
      balance: '12.50',
      visits: '9007199254740993',
      tags: ['admin', 'ops'],
      profile: { theme: 'dark', langs: ['en', 'fr'], nested: { n: 1.5 } },
      birthday: '1990-02-28',
    });
    expect(ann.id).toBe(1);
    const users = await User.bulkCreate(
      [
        { email: 'bob@example.com', name: 'Bob', tags: [] },
        { email: 'cy@example.com', name: 'Cy', balance: '-3.10', profile: { theme: 'light' } },
      ],
      { returning: true },
    );
    expect(users.map((u) => [u.id, u.name])).toEqual([
      [2, 'Bob'],
      [3, 'Cy'],
    ]);
    const back = await User.findByPk(1, { rejectOnEmpty: true });
    expect(back.createdAt).toBeInstanceOf(Date);
    expect(back.createdAt.getTime()).toBe(ann.createdAt.getTime());
    expect([back.balance, back.visits, back.tags, back.profile, back.birthday, back.deletedAt]).toEqual([
      '12.50',
      '9007199254740993',
      ['admin', 'ops'],
      { theme: 'dark', langs: ['en', 'fr'], nested: { n: 1.5 } },
      '1990-02-28',
      null,
    ]);
    const bob = await User.findOne({ where: { email: 'bob@example.com' }, rejectOnEmpty: true });
    expect([bob.balance, bob.visits, bob.tags, bob.profile]).toEqual(['0.00', '0', [], null]);
    await Post.bulkCreate([
      { title: 'hello', published: true, score: 5, userId: 1 },
      { title: 'draft', score: 1, userId: 1 },
      { title: 'bob says', published: true, score: 3, userId: 2 },
    ]);
  });

  it(`finds with include, Op operators, ordering and counting on ${label}`, async () => {
    const withPosts = await User.findAll({
      include: [{ model: Post, as: 'posts', required: false, where: { published: true } }],
      order: [
        ['id', 'ASC'],
        [{ model: Post, as: 'posts' }, 'id', 'ASC'],
      ],
    });
    expect(withPosts.map((u) => [u.name, (u.posts ?? []).map((p) => p.title)])).toEqual([
      ['Ann', ['hello']],
      ['Bob', ['bob says']],
      ['Cy', []],
    ]);
    const posts = await Post.findAll({ include: [{ model: User, as: 'user', attributes: ['name'] }], where: { score: { [Op.gte]: 3 } }, order: [['score', 'DESC']] });
    expect(posts.map((p) => [p.title, p.user?.name, typeof p.id])).toEqual([
      ['hello', 'Ann', 'string'],
      ['bob says', 'Bob', 'string'],
    ]);
    const ops = await User.findAll({
      attributes: ['name'],
      where: {
        [Op.or]: [{ name: { [Op.iLike]: 'a%' } }, { balance: { [Op.lt]: 0 } }],
        email: { [Op.notIn]: ['nobody@example.com'] },
        tags: { [Op.or]: [{ [Op.contains]: ['ops'] }, { [Op.is]: null }] },
      },
      order: [['name', 'ASC']],
    });
    expect(ops.map((u) => u.name)).toEqual(['Ann', 'Cy']);
    const between = await User.findAll({ attributes: ['name'], where: { id: { [Op.between]: [2, 3] }, profile: { theme: 'light' } } });
    expect(between.map((u) => u.name)).toEqual(['Cy']);
    const page = await User.findAndCountAll({
      include: [{ model: Post, as: 'posts' }],
      distinct: true,
      limit: 1,
      offset: 0,
      order: [['id', 'ASC']],
    });
    expect([page.count, page.rows.map((u) => [u.name, (u.posts ?? []).length])]).toEqual([3, [['Ann', 2]]]);
    const stats = await Post.findAll({
      attributes: ['userId', [sequelize.fn('count', sequelize.col('id')), 'n'], [sequelize.fn('sum', sequelize.col('score')), 'total']],
      group: ['userId'],
      order: [['userId', 'ASC']],
      raw: true,
    });
    expect(stats).toEqual([
      { userId: 1, n: '2', total: '6' },
      { userId: 2, n: '1', total: '3' },
    ]);
    expect(await Post.count({ where: { published: true } })).toBe(2);
    expect(await User.max('balance')).toBe(12.5);
  });

  it(`upserts, increments, updates and reports constraint errors as Sequelize errors on ${label}`, async () => {
    const [row, created] = await User.upsert({ id: 2, email: 'bob@example.com', name: 'Robert' }, { returning: true });
    expect([row.id, row.name, created]).toEqual([2, 'Robert', null]);
    const [fresh] = await User.upsert({ email: 'dee@example.com', name: 'Dee' }, { returning: true });
    expect(fresh.id).toBe(4);
    const ann = await User.findByPk(1, { rejectOnEmpty: true });
    // Sequelize types the amounts as the attribute's type (strings here); it sends them as given.
    await ann.increment({ visits: '2', balance: '0.5' });
    await ann.reload();
    expect([ann.visits, ann.balance]).toEqual(['9007199254740995', '13.00']);
    const [count] = await Post.update({ score: 10 }, { where: { title: { [Op.like]: '%says' } } });
    expect(count).toBe(1);
    const dup = await failure(User.create({ email: 'ann@example.com', name: 'again' }));
    expect(dup).toBeInstanceOf(UniqueConstraintError);
    expect((dup as UniqueConstraintError).fields).toEqual({ email: 'ann@example.com' });
    expect((dup as UniqueConstraintError).errors.map((e) => [e.path, e.message])).toEqual([['email', 'email must be unique']]);
    const orphan = await failure(Post.create({ title: 'orphan', userId: 999 }));
    expect(orphan).toBeInstanceOf(ForeignKeyConstraintError);
    const fk = orphan as ForeignKeyConstraintError & { parent: { code: string; detail: string } };
    expect([fk.parent.code, fk.table, fk.index, fk.message, fk.parent.detail]).toEqual([
      '23503',
      'sq_posts',
      'sq_posts_userId_fkey',
      'insert or update on table "sq_posts" violates foreign key constraint "sq_posts_userId_fkey"',
      'Key (userId)=(999) is not present in table "sq_users".',
    ]);
  });

  it(`runs managed transactions: commit, rollback on throw, SERIALIZABLE on ${label}`, async () => {
    const made = await sequelize.transaction(async (t) => {
      const u = await User.create({ email: 'eve@example.com', name: 'Eve' }, { transaction: t });
      await Post.create({ title: 'eve post', userId: u.id }, { transaction: t });
      return u.id;
    });
    expect(await Post.count({ where: { userId: made } })).toBe(1);
    const err = await failure(
      sequelize.transaction(async (t) => {
        await Post.create({ title: 'lost', userId: made }, { transaction: t });
        await User.update({ name: 'renamed' }, { where: { id: made }, transaction: t });
        throw new Error('app decided to stop');
      }),
    );
    expect(err.message).toBe('app decided to stop');
    const eve = await User.findByPk(made, { include: [{ model: Post, as: 'posts' }], rejectOnEmpty: true });
    expect([eve.name, (eve.posts ?? []).map((p) => p.title)]).toEqual(['Eve', ['eve post']]);
    const level = await sequelize.transaction({ isolationLevel: Transaction.ISOLATION_LEVELS.SERIALIZABLE }, async (t) => {
      const [r] = await sequelize.query<{ transaction_isolation: string }>('SHOW transaction_isolation', { type: QueryTypes.SELECT, transaction: t });
      await User.increment('visits', { by: 1, where: { id: made }, transaction: t });
      return r.transaction_isolation;
    });
    expect(level).toBe('serializable');
    const inner = await failure(
      sequelize.transaction(async (t) => {
        await User.create({ email: 'fay@example.com', name: 'Fay' }, { transaction: t });
        await User.create({ email: 'fay@example.com', name: 'Fay twin' }, { transaction: t });
      }),
    );
    expect(inner.parent?.code).toBe('23505');
    expect(await User.count({ where: { email: 'fay@example.com' } })).toBe(0);
  });

  it(`soft-deletes paranoid rows, restores them, and cascades a hard delete on ${label}`, async () => {
    const cy = await User.findOne({ where: { name: 'Cy' }, rejectOnEmpty: true });
    await cy.destroy();
    expect(await User.findOne({ where: { name: 'Cy' } })).toBeNull();
    const gone = await User.findOne({ where: { name: 'Cy' }, paranoid: false, rejectOnEmpty: true });
    expect(gone.deletedAt).toBeInstanceOf(Date);
    await gone.restore();
    expect((await User.findOne({ where: { name: 'Cy' }, rejectOnEmpty: true })).deletedAt).toBeNull();
    const ann = await User.findByPk(1, { rejectOnEmpty: true });
    await ann.destroy({ force: true });
    // The database's ON DELETE CASCADE removed Ann's posts.
    expect(await Post.count({ where: { userId: 1 } })).toBe(0);
    expect(await User.count({ paranoid: false })).toBe(4);
  });
});
