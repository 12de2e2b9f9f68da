#!/usr/bin/env node
// Prints the client compatibility table (client, version, PostgreSQL 15, Weft) generated from a
// jest JSON report (default .cache/jest-results.json, what .ci/run writes): a client passes on a
// server when every test of its "<client> against <server>" describe block passed there. Versions
// are read from the files that pin them. Usage: node tools/compat-table.js [report.json]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const read = (p) => fs.readFileSync(path.join(root, p), 'utf8');
const pkg = JSON.parse(read('package.json'));
const dep = (n) => (pkg.dependencies ?? {})[n] ?? (pkg.devDependencies ?? {})[n] ?? '?';
const pip = (n) => (new RegExp(`^${n}==(\\S+)`, 'mi').exec(read('test/clients-python/requirements.txt')) ?? [])[1] ?? '?';
const version = {
  'node-postgres (pg)': `pg ${dep('pg')}`,
  'postgres.js': `postgres ${dep('postgres')}`,
  TypeORM: `typeorm ${dep('typeorm')}`,
  Knex: `knex ${dep('knex')}`,
  Kysely: `kysely ${dep('kysely')}`,
  Sequelize: `sequelize ${dep('sequelize')} (pg ${dep('pg')})`,
  'Drizzle ORM': `drizzle-orm ${dep('drizzle-orm')} (pg ${dep('pg')})`,
  psql: 'psql 15 (Debian)',
  pgbench: 'pgbench 15 (Debian)',
  'Python clients': `asyncpg ${pip('asyncpg')}, psycopg ${pip('psycopg')}, psycopg2 ${pip('psycopg2-binary')}, SQLAlchemy ${pip('SQLAlchemy')}`,
  pg_dump: 'pg_dump 15 (Debian)',
  pgjdbc: `org.postgresql:postgresql ${(/PGJDBC_VERSION=(\S+)/.exec(read('tools/java/jdbc.sh')) ?? [])[1] ?? '?'}`,
  'Go pgx': `github.com/jackc/pgx/v5 ${(/jackc\/pgx\/v5 (\S+)/.exec(read('test/clients-go/go.mod')) ?? [])[1] ?? '?'}`,
};

const report = JSON.parse(fs.readFileSync(process.argv[2] ?? path.join(root, '.cache/jest-results.json'), 'utf8'));
const status = new Map(); // client -> { postgres, weft }
for (const file of report.testResults ?? []) {
  if (!/clients-[^/]*\.test\.ts$/.test(file.name ?? file.testFilePath ?? '')) continue;
  for (const t of file.assertionResults ?? []) {
    const m = /^(.*) against (postgres|weft)$/.exec(t.ancestorTitles?.[0] ?? '');
    if (!m) continue;
    const row = status.get(m[1]) ?? {};
    const ok = t.status === 'passed';
    row[m[2]] = row[m[2]] === undefined ? ok : row[m[2]] && ok;
    status.set(m[1], row);
  }
}
const cell = (v) => (v === undefined ? 'not run' : v ? 'passes' : 'FAILS');
const lines = ['| Client | Version | PostgreSQL 15 | Weft |', '| --- | --- | --- | --- |'];
for (const [client, row] of [...status].sort(([a], [b]) => a.localeCompare(b))) {
  lines.push(`| ${client} | ${version[client] ?? '?'} | ${cell(row.postgres)} | ${cell(row.weft)} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
