-- Catalog queries drivers, ORMs and psql issue: information_schema and pg_catalog by name
-- (never by OID of user objects, which differ between servers).
CREATE TABLE cat_parent (id int PRIMARY KEY, code varchar(10) NOT NULL UNIQUE, amount numeric(9, 2) DEFAULT 0, note text);
CREATE TABLE cat_child (id bigint PRIMARY KEY, parent_id int NOT NULL, created timestamptz NOT NULL DEFAULT now());
CREATE INDEX cat_child_parent ON cat_child (parent_id);
SELECT current_schema(), current_database();
SELECT schema_name FROM information_schema.schemata WHERE schema_name IN ('public', 'pg_catalog', 'information_schema');
SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_name LIKE 'cat\_%';
SELECT column_name, ordinal_position, data_type, is_nullable, column_default, character_maximum_length, numeric_precision, numeric_scale, udt_name
  FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'cat_parent' ORDER BY ordinal_position;
SELECT column_name, data_type, datetime_precision FROM information_schema.columns WHERE table_name = 'cat_child' ORDER BY ordinal_position;
SELECT constraint_name, constraint_type FROM information_schema.table_constraints WHERE table_name = 'cat_parent' AND constraint_type IN ('PRIMARY KEY', 'UNIQUE');
SELECT kcu.constraint_name, kcu.column_name, kcu.ordinal_position FROM information_schema.key_column_usage kcu WHERE kcu.table_name = 'cat_parent';
SELECT c.relname, c.relkind, n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname LIKE 'cat\_%';
SELECT a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = 'cat_parent' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;
SELECT i.relname AS index_name, x.indisunique, x.indisprimary FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = 'cat_child';
SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cat_child';
SELECT conname, contype FROM pg_constraint WHERE conrelid = 'cat_parent'::regclass;
SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid WHERE c.relname = 'cat_parent';
SELECT typname, typlen, typtype FROM pg_type WHERE typname IN ('int4', 'int8', 'text', 'numeric', 'bool', 'timestamptz', 'uuid', 'jsonb', '_int4');
SELECT oid, typname FROM pg_type WHERE oid IN (16, 20, 21, 23, 25, 700, 701, 1043, 1082, 1114, 1184, 1700, 2950, 3802);
SELECT datname FROM pg_database WHERE datname = current_database();
SELECT nspname FROM pg_namespace WHERE nspname IN ('public', 'pg_catalog');
SELECT name, setting FROM pg_settings WHERE name IN ('standard_conforming_strings', 'integer_datetimes', 'client_encoding');
SELECT to_regclass('cat_parent') IS NOT NULL, to_regclass('cat_nope') IS NULL;
SELECT EXISTS (SELECT FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'cat_child');
DROP TABLE cat_child;
DROP TABLE cat_parent;
