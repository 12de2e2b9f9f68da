-- What pg_dump 15 reads from the catalog (issue 12: pg_dump stopped at its first query, and
-- once it ran, its output did not restore). Every wrong answer found has a case here.
-- Settings pg_dump sets for its session.
SET synchronize_seqscans TO off;
SHOW synchronize_seqscans;
SET quote_all_identifiers = false;
SHOW quote_all_identifiers;
RESET synchronize_seqscans;
RESET quote_all_identifiers;
-- tableoid: the system column pg_dump selects from every catalog it reads, bare or qualified.
SELECT DISTINCT tableoid FROM pg_class;
SELECT n.tableoid, n.nspname FROM pg_namespace n WHERE n.nspname = 'public';
SELECT x.tableoid, x.extname FROM pg_extension x WHERE x.extname = 'plpgsql';
SELECT tableoid, oid FROM pg_opfamily WHERE false;
SELECT tableoid, oid FROM pg_ts_parser WHERE false;
SELECT tableoid, oid, trftype FROM pg_transform WHERE false;
-- name is a fixed-length char array: subscripts from 0 give "char" (pg_dump's array-type test).
SELECT typname, typname[0] AS first, typname[1] AS second FROM pg_type WHERE typname IN ('_int4', 'int4') ORDER BY typname;
SELECT count(*) > 0 AS some_arrays FROM pg_type WHERE typname[0] = '_' AND typelem != 0;
-- array_remove, pg_options_to_table, acldefault
SELECT array_remove(ARRAY[1, 2, 1, NULL], 1) AS a, array_remove(ARRAY[1, NULL, 3], NULL) AS b, array_remove(ARRAY['x', 'y'], 'y') AS c, array_remove(NULL::int[], 1) IS NULL AS d;
SELECT * FROM pg_options_to_table(ARRAY['fetch_size=100', 'a=b=c']) ORDER BY 1;
SELECT acldefault('n', 6171)::text AS schema_default;
-- The public schema as PostgreSQL 15's initdb makes it (pg_dump leaves it out of the dump).
SELECT nspname, nspowner, nspacl::text FROM pg_namespace WHERE nspname = 'public';
SELECT d.description FROM pg_description d JOIN pg_namespace n ON n.oid = d.objoid WHERE n.nspname = 'public' AND d.classoid = 'pg_namespace'::regclass;
SELECT p.privtype, p.initprivs::text FROM pg_init_privs p JOIN pg_namespace n ON n.oid = p.objoid WHERE n.nspname = 'public';
SELECT rolname FROM pg_roles WHERE oid = 6171;
-- Foreign keys are triggers in PostgreSQL: both tables have relhastriggers (pg_dump reads a
-- table's foreign keys only then; it used to leave every foreign key out of the dump).
CREATE TABLE pdc_parent (id serial PRIMARY KEY, name text DEFAULT 'x');
CREATE TABLE pdc_child (id int PRIMARY KEY, pid int REFERENCES pdc_parent (id));
CREATE TABLE pdc_alone (id int PRIMARY KEY);
SELECT relname, relhastriggers FROM pg_class WHERE relname IN ('pdc_parent', 'pdc_child', 'pdc_alone') ORDER BY relname;
SELECT c.tableoid, c.conname, c.contype FROM pg_constraint c WHERE c.conname IN ('pdc_child_pkey', 'pdc_child_pid_fkey') ORDER BY c.conname;
-- A default that calls nextval depends on its sequence (pg_dump orders them by it).
SELECT d.classid = 'pg_attrdef'::regclass AS from_attrdef, d.refclassid = 'pg_class'::regclass AS to_class, d.deptype FROM pg_depend d JOIN pg_attrdef a ON a.oid = d.objid WHERE d.classid = 'pg_attrdef'::regclass AND a.adrelid = 'pdc_parent'::regclass AND d.refobjid = 'pdc_parent_id_seq'::regclass;
SELECT d.deptype, d.refobjsubid FROM pg_depend d WHERE d.objid = 'pdc_parent_id_seq'::regclass AND d.refobjid = 'pdc_parent'::regclass;
-- Under pg_dump's empty search_path, definitions name relations schema-qualified.
SET search_path = '';
SELECT a.adnum, pg_catalog.pg_get_expr(a.adbin, a.adrelid) AS adsrc FROM pg_catalog.pg_attrdef a WHERE a.adrelid = 'public.pdc_parent'::pg_catalog.regclass AND a.adnum = 1;
SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c WHERE c.conrelid = 'public.pdc_child'::pg_catalog.regclass AND c.contype = 'f';
RESET search_path;
SELECT pg_get_expr(a.adbin, a.adrelid) AS adsrc FROM pg_attrdef a WHERE a.adrelid = 'pdc_parent'::regclass AND a.adnum = 1;
SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.conrelid = 'pdc_child'::regclass AND c.contype = 'f';
-- OWNED BY was parsed and ignored: the sequence is now owned (dropped with its table).
CREATE SEQUENCE pdc_s OWNED BY pdc_alone.id;
SELECT pg_get_serial_sequence('pdc_alone', 'id');
ALTER SEQUENCE pdc_s OWNED BY NONE;
SELECT pg_get_serial_sequence('pdc_alone', 'id') IS NULL AS unowned;
ALTER SEQUENCE pdc_s OWNED BY pdc_alone.id;
-- @error 42703
ALTER SEQUENCE pdc_s OWNED BY pdc_alone.nope;
-- @error 42P01
ALTER SEQUENCE pdc_s OWNED BY pdc_nope.id;
-- @error 42601
ALTER SEQUENCE pdc_s OWNED BY pdc_alone;
CREATE SCHEMA pdc_other;
CREATE TABLE pdc_other.t (id int PRIMARY KEY);
-- @error 55000
ALTER SEQUENCE pdc_s OWNED BY pdc_other.t.id;
DROP TABLE pdc_alone;
SELECT count(*) AS seq_left FROM pg_class WHERE relname = 'pdc_s';
-- ALTER TABLE ... OWNER TO applies to views and sequences too (pg_dump emits it for each).
CREATE VIEW pdc_v AS SELECT id FROM pdc_parent;
ALTER TABLE pdc_v OWNER TO CURRENT_USER;
ALTER TABLE pdc_parent_id_seq OWNER TO CURRENT_USER;
-- @error 42P01
ALTER TABLE pdc_nope OWNER TO CURRENT_USER;
DROP VIEW pdc_v;
-- Identity columns: no pg_attrdef row, the sequence depends on the column with deptype 'i', and
-- ADD GENERATED ... AS IDENTITY (how pg_dump restores one) works on a NOT NULL column.
CREATE TABLE pdc_other.idn (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, labels varchar(10)[], n int NOT NULL);
SELECT count(*) AS defaults FROM pg_attrdef WHERE adrelid = 'pdc_other.idn'::regclass;
SELECT attname, atthasdef, attidentity, atttypmod, format_type(atttypid, atttypmod), attstorage FROM pg_attribute WHERE attrelid = 'pdc_other.idn'::regclass AND attnum > 0 ORDER BY attnum;
SELECT d.deptype FROM pg_depend d WHERE d.objid = 'pdc_other.idn_id_seq'::regclass AND d.refobjid = 'pdc_other.idn'::regclass;
ALTER TABLE pdc_other.idn ALTER COLUMN n ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME pdc_other.idn_n_seq START WITH 10 INCREMENT BY 10);
SELECT attname, attidentity FROM pg_attribute WHERE attrelid = 'pdc_other.idn'::regclass AND attname = 'n';
INSERT INTO pdc_other.idn (labels) VALUES ('{a,b}'), (NULL);
SELECT id, labels, n FROM pdc_other.idn ORDER BY id;
-- @error 55000
ALTER TABLE pdc_other.idn ALTER COLUMN n ADD GENERATED ALWAYS AS IDENTITY;
-- @error 22023
ALTER TABLE pdc_other.idn ALTER COLUMN labels ADD GENERATED ALWAYS AS IDENTITY;
CREATE TABLE pdc_other.nn (a int);
-- @error 55000
ALTER TABLE pdc_other.nn ALTER COLUMN a ADD GENERATED ALWAYS AS IDENTITY;
DROP TABLE pdc_other.nn;
ALTER TABLE ONLY pdc_other.idn ALTER COLUMN labels SET STORAGE PLAIN;
-- reg* input reads a number as the OID; regclass output qualifies names off the search path.
SELECT '1259'::regclass AS by_number, 'pdc_other.idn'::regclass AS qualified, 'pdc_parent'::regclass AS visible;
SELECT count(*) AS ancestors FROM pg_partition_ancestors('pdc_parent');
DROP TABLE pdc_other.idn;
DROP TABLE pdc_other.t;
DROP SCHEMA pdc_other;
DROP TABLE pdc_child;
DROP TABLE pdc_parent;
