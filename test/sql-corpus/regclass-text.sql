-- reg* values print as the names they stand for wherever PostgreSQL prints them: output, ::text,
-- || and format()/concat() (migration scripts build DDL with format('%s', t::regclass)); an OID
-- cast to regclass is a regclass (type and order), not a name.
CREATE TABLE rgt_a (id int PRIMARY KEY);
CREATE TABLE rgt_b (id int PRIMARY KEY);
SELECT 'rgt_a'::regclass, 'rgt_a'::regclass::text;
SELECT 'rgt_a'::regclass || '_suffix', 'prefix_' || 'rgt_b'::regclass;
SELECT format('%s', 'rgt_a'::regclass), format('ALTER TABLE %s ADD COLUMN x int', 'rgt_b'::regclass);
SELECT concat('t=', 'rgt_a'::regclass), concat_ws(',', 'rgt_a'::regclass, 'rgt_b'::regclass);
SELECT 'int4'::regtype || '!', format('%s', 'text'::regtype);
SELECT c.oid::regclass, c.relname FROM pg_class c WHERE c.relname IN ('rgt_a', 'rgt_b') ORDER BY c.relname;
SELECT c.oid::regclass::text FROM pg_class c WHERE c.relname = 'rgt_b';
SELECT c.oid::regclass = 'rgt_a'::regclass FROM pg_class c WHERE c.relname = 'rgt_a';
SELECT pg_typeof(c.oid::regclass) FROM pg_class c WHERE c.relname = 'rgt_a';
SELECT count(*) FROM pg_class c WHERE c.oid::regclass::text LIKE 'rgt_%';
SELECT 23::regtype, 23::regtype::text, pg_typeof(23::regtype);
SELECT attrelid::regclass, attname FROM pg_attribute WHERE attrelid = 'rgt_a'::regclass AND attnum > 0;
DO $$
DECLARE t regclass := 'rgt_a'::regclass;
BEGIN
  EXECUTE format('INSERT INTO %s VALUES (7)', t);
END $$;
SELECT * FROM rgt_a;
DROP TABLE rgt_b;
DROP TABLE rgt_a;
