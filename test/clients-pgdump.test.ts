import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { libpqEnv, PG_BIN, startPostgres, stopStartedServers, type SqlServer } from './support/postgres';
import { clientTargets, startServer, targetLabel } from './support/weft-server';

// pg_dump 15 (Debian's postgresql-client-15) as a team uses it to back up, migrate in or leave:
// a plain-SQL dump of a database with tables, primary keys, unique and secondary indexes,
// serial columns and a standalone sequence, defaults, NOT NULL, CHECK, a foreign key and a view,
// restored with psql into a fresh database on Weft and on PostgreSQL 15. The restored copies
// must answer the same queries as the original (data, view, sequence state) and enforce the same
// constraints; a dump of the copy on the same kind of server must equal the original dump.
jest.setTimeout(300_000);
afterAll(() => stopStartedServers());

const exec = promisify(execFile);

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a PostgreSQL 15 client binary against `db` on `server`; never throws. */
async function run(bin: 'psql' | 'pg_dump', server: SqlServer, db: string, args: string[], input?: string): Promise<RunResult> {
  try {
    const p = exec(path.join(PG_BIN, bin), args, {
      // PGTZ: timestamptz values print in UTC on both servers.
      env: { ...process.env, ...libpqEnv({ ...server, database: db }), PGTZ: 'UTC' },
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (input !== undefined) p.child.stdin?.end(input);
    const { stdout, stderr } = await p;
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
  }
}

/** psql with ON_ERROR_STOP; fails with psql's stderr unless it exits 0. */
async function psql(server: SqlServer, db: string, args: string[], input?: string): Promise<string> {
  const r = await run('psql', server, db, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...args], input);
  if (r.code !== 0) throw new Error(`psql ${args.join(' ')} on ${server.kind}/${db} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const SCHEMA = `
CREATE TABLE customers (
  id serial PRIMARY KEY,
  email varchar(100) NOT NULL UNIQUE,
  name text NOT NULL DEFAULT 'anon',
  joined date DEFAULT '2024-01-01',
  balance numeric(12,2) NOT NULL DEFAULT 0 CHECK (balance > -1000),
  active boolean DEFAULT true,
  profile jsonb
);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers (id),
  amount numeric(10,2) NOT NULL,
  note text,
  placed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_customer ON orders (customer_id, placed_at DESC);
CREATE UNIQUE INDEX orders_note_key ON orders (note);
CREATE SEQUENCE invoice_no START 1000 INCREMENT 5;
CREATE TABLE invoices (no int PRIMARY KEY DEFAULT nextval('invoice_no'), order_id bigint NOT NULL, total numeric(10,2) CONSTRAINT total_nonnegative CHECK (total >= 0));
CREATE TABLE events (kind text NOT NULL, payload bytea, at timestamp);
CREATE VIEW big_orders AS SELECT o.id, c.email, o.amount FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.amount > 100;
INSERT INTO customers (email, name, balance, profile) VALUES
  ('ann@example.com', 'Ann', 10.5, '{"tier": "gold", "tags": ["a", "b"]}'),
  ('bob@example.com', DEFAULT, 0, NULL),
  ('zoë@example.com', E'Tab\\there, "quoted", back\\\\slash', -3.25, '[1, 2.5, null]');
INSERT INTO orders (customer_id, amount, note, placed_at) VALUES
  (1, 150.00, 'first', '2024-02-03 04:05:06+00'),
  (1, 20.00, NULL, '2024-02-04 00:00:00+00'),
  (2, 300.10, E'multi\\nline', '2024-03-01 12:00:00.123456+00'),
  (3, 99.99, '', '2024-03-02 00:00:00+00');
INSERT INTO invoices (order_id, total) VALUES (1, 150), (3, 300.10);
INSERT INTO events VALUES ('login', '\\x00ff10', '2024-01-01 10:00:00'), ('login', NULL, NULL), ('logout', '\\x', '2024-01-02 11:30:00');
`;

/** Queries whose answers the restored copies must share with the original (unaligned, UTC). */
const CHECKS = [
  'SELECT id, email, name, joined, balance, active, profile FROM customers ORDER BY id',
  'SELECT id, customer_id, amount, note, placed_at FROM orders ORDER BY id',
  'SELECT no, order_id, total FROM invoices ORDER BY no',
  'SELECT kind, payload, at FROM events ORDER BY kind, at NULLS FIRST',
  'SELECT id, email, amount FROM big_orders ORDER BY id',
  'SELECT last_value, is_called FROM customers_id_seq',
  'SELECT last_value, is_called FROM orders_id_seq',
  'SELECT last_value, is_called FROM invoice_no',
];

/**
 * The dump without what differs between any two runs (psql's \restrict key, server version),
 * with each COPY block's rows sorted: a table without a primary key has no row order.
 */
function normalizeDump(sql: string): string {
  const out: string[] = [];
  let rows: string[] | undefined;
  for (const l of sql.split('\n')) {
    if (/^\\(un)?restrict /.test(l) || /^-- Dumped (from|by) /.test(l)) continue;
    if (rows && l === '\\.') {
      out.push(...rows.sort(), l);
      rows = undefined;
    } else if (rows) rows.push(l);
    else {
      out.push(l);
      if (/^COPY .* FROM stdin;$/.test(l)) rows = [];
    }
  }
  return out.join('\n');
}

describe.each(clientTargets(true))('pg_dump against %s', (kind) => {
  const label = targetLabel(kind);
  const SRC = 'pgdump_src';
  let source: SqlServer;
  let weft: SqlServer;
  let postgres: SqlServer;
  let dump = '';

  beforeAll(async () => {
    source = await startServer(kind);
    weft = kind === 'weft' ? source : await startServer('weft');
    postgres = kind === 'postgres' ? source : await startPostgres();
    await psql(source, source.database, ['-c', `CREATE DATABASE ${SRC}`]);
    await psql(source, SRC, [], SCHEMA);
  });
  afterAll(async () => {
    await source?.stop();
    if (kind !== 'postgres') await postgres?.stop();
  });

  it(`dumps tables, indexes, constraints, sequences and a view with pg_dump 15 from ${label}`, async () => {
    const r = await run('pg_dump', source, SRC, ['--no-password']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    dump = r.stdout;
    for (const piece of [
      'CREATE TABLE public.customers (',
      '    email character varying(100) NOT NULL,',
      "    balance numeric(12,2) DEFAULT 0 NOT NULL,",
      'CREATE SEQUENCE public.customers_id_seq',
      'ALTER SEQUENCE public.customers_id_seq OWNED BY public.customers.id;',
      "ALTER TABLE ONLY public.customers ALTER COLUMN id SET DEFAULT nextval('public.customers_id_seq'::regclass);",
      "    no integer DEFAULT nextval('public.invoice_no'::regclass) NOT NULL,",
      '    START WITH 1000\n    INCREMENT BY 5',
      'CREATE VIEW public.big_orders AS',
      'COPY public.customers (id, email, name, joined, balance, active, profile) FROM stdin;',
      'COPY public.events (kind, payload, at) FROM stdin;',
      "SELECT pg_catalog.setval('public.customers_id_seq', 3, true);",
      "SELECT pg_catalog.setval('public.orders_id_seq', 4, true);",
      "SELECT pg_catalog.setval('public.invoice_no', 1005, true);",
      '    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);',
      '    ADD CONSTRAINT customers_email_key UNIQUE (email);',
      'CREATE INDEX orders_by_customer ON public.orders USING btree (customer_id, placed_at DESC);',
      'CREATE UNIQUE INDEX orders_note_key ON public.orders USING btree (note);',
      '    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers(id);',
    ]) {
      expect(dump).toContain(piece);
    }
    expect(dump).toMatch(/CONSTRAINT total_nonnegative CHECK \(\(total >= (\(0\)::numeric|0)\)\)/);
    // PostgreSQL prints the constant as ('-1000'::integer)::numeric, Weft as written.
    expect(dump).toMatch(/CONSTRAINT customers_balance_check CHECK \(\(balance > \S*-1000\S*\)\)/);
    // The view comes after the tables it reads (psql would fail on it otherwise).
    expect(dump.indexOf('CREATE VIEW public.big_orders')).toBeGreaterThan(dump.indexOf('CREATE TABLE public.orders ('));
    expect(dump.indexOf('CREATE VIEW public.big_orders')).toBeGreaterThan(dump.indexOf('CREATE TABLE public.customers ('));
  });

  describe.each([
    ['weft', 'Weft'],
    ['postgres', 'PostgreSQL 15'],
  ] as const)(`restored with psql into %s`, (targetKind, targetName) => {
    const DB = `pgdump_from_${kind}_${targetKind === kind ? 'same' : 'other'}`;
    const target = (): SqlServer => (targetKind === 'weft' ? weft : postgres);

    it(`restores into a fresh database on ${targetName} and answers every query as the ${label} original`, async () => {
      expect(dump).not.toBe('');
      await psql(target(), target().database, ['-c', `CREATE DATABASE ${DB}`]);
      await psql(target(), DB, [], dump);
      for (const q of CHECKS) {
        const want = await psql(source, SRC, ['-tA', '-c', q]);
        const got = await psql(target(), DB, ['-tA', '-c', q]);
        expect({ q, got }).toEqual({ q, got: want });
      }
    });

    it(`keeps constraints, defaults and sequences working in the copy on ${targetName}`, async () => {
      const errOf = async (sql: string): Promise<string> => {
        const r = await run('psql', target(), DB, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-c', sql]);
        expect(r.code).not.toBe(0);
        return /ERROR:\s+([0-9A-Z]{5})/.exec(r.stderr)?.[1] ?? r.stderr;
      };
      // The sequences continue after the restored values instead of handing out used ids.
      const out = await psql(target(), DB, ['-tA', '-c', "INSERT INTO customers (email) VALUES ('new@example.com') RETURNING id, name, balance, active"]);
      expect(out.trim()).toBe('4|anon|0.00|t');
      expect((await psql(target(), DB, ['-tA', '-c', 'INSERT INTO orders (customer_id, amount) VALUES (4, 5) RETURNING id'])).trim()).toBe('5');
      expect((await psql(target(), DB, ['-tA', '-c', 'INSERT INTO invoices (order_id) VALUES (5) RETURNING no'])).trim()).toBe('1010');
      // Each failed INSERT below used a sequence value, as in PostgreSQL: checked after the ids above.
      expect(await errOf("INSERT INTO customers (email) VALUES ('ann@example.com')")).toBe('23505');
      expect(await errOf('INSERT INTO orders (customer_id, amount) VALUES (999, 1)')).toBe('23503');
      expect(await errOf('INSERT INTO orders (customer_id, amount) VALUES (1, NULL)')).toBe('23502');
      expect(await errOf('INSERT INTO invoices (order_id, total) VALUES (1, -1)')).toBe('23514');
      expect(await errOf("INSERT INTO orders (customer_id, amount, note) VALUES (1, 1, 'first')")).toBe('23505');
    });
  });

  it(`dumps the copy restored on ${label} to the same SQL as the original`, async () => {
    const same = kind === 'weft' ? weft : postgres;
    const copy = `pgdump_copy_${kind}`;
    await psql(same, same.database, ['-c', `CREATE DATABASE ${copy}`]);
    await psql(same, copy, [], dump);
    const r = await run('pg_dump', same, copy, ['--no-password']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(normalizeDump(r.stdout)).toBe(normalizeDump(dump));
  });
});
