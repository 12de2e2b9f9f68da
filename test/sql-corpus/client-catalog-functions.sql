-- Catalog functions ORMs and drivers call on connect and for reflection (issue 12): SQLAlchemy
-- 2 on psycopg (to_regtype, pg_collation_is_visible, generate_subscripts), asyncpg's type
-- introspection (pg_range's columns).
SELECT to_regtype('integer'), to_regtype('int4[]')::oid, to_regtype('no_such_type') IS NULL;
SELECT to_regtype('hstore') IS NULL AS no_hstore;
SELECT to_regnamespace('pg_catalog')::oid, to_regnamespace('nope') IS NULL;
SELECT pg_collation_is_visible(100);
SELECT generate_subscripts(ARRAY[10, 20, 30], 1) AS s;
SELECT generate_subscripts(ARRAY[10, 20, 30], 1, true) AS s;
SELECT count(*) FROM generate_subscripts(ARRAY['a', 'b'], 2);
SELECT x.s, (ARRAY['a', 'b', 'c'])[x.s] FROM generate_subscripts(ARRAY['a', 'b', 'c'], 1) AS x(s) ORDER BY x.s;
SELECT rngtypid, rngsubtype, rngmultitypid, rngcollation, rngsubopc FROM pg_range WHERE false;
SHOW default_table_access_method;
SELECT current_setting('max_index_keys'), current_setting('max_identifier_length');
SELECT setting FROM pg_settings WHERE name = 'max_index_keys';
-- jsonb subscripting (PostgreSQL 14+)
SELECT ('{"a": {"b": [10, 20, 30]}, "n": null}'::jsonb)['a']['b'][1] AS v, ('{"a": 1}'::jsonb)['zz'] IS NULL AS missing;
SELECT ('{"n": null}'::jsonb)['n'] AS json_null, ('[1, 2, 3]'::jsonb)[-1] AS last_elem, ('"s"'::jsonb)['a'] IS NULL AS scalar;
CREATE TABLE ccf_j (id int PRIMARY KEY, j jsonb);
INSERT INTO ccf_j VALUES (1, '{"tags": ["x", "y"], "k": "v"}'), (2, '{"k": "w"}');
SELECT id, j['k'] AS k, j['tags'][0] AS first_tag FROM ccf_j ORDER BY id;
SELECT id FROM ccf_j WHERE j['k'] = '"w"' ORDER BY id;
-- @error 42804
SELECT ('{"a": 1}'::json)['a'];
DROP TABLE ccf_j;
-- array slices (a slice used to return one element)
SELECT (ARRAY[1, 2, 3, 4])[2:3] AS mid, (ARRAY[1, 2, 3, 4])[:2] AS head, (ARRAY[1, 2, 3, 4])[3:] AS tail, (ARRAY[1, 2, 3])[5:6] AS none;
-- int2vector / oidvector catalog columns print as PostgreSQL prints them, subscripts from 0
CREATE TABLE ccf_ix (a int, b int, c int, PRIMARY KEY (a));
CREATE INDEX ccf_ix_cb ON ccf_ix (c, b DESC);
SELECT i.indkey, i.indoption, pg_typeof(i.indkey) AS t, i.indkey[0] AS k0, i.indkey[1] AS k1, i.indnatts FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'ccf_ix_cb';
SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE c.relname = 'ccf_ix_cb' ORDER BY a.attname;
SELECT pg_typeof(i.indkey::int2[]) AS as_array FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'ccf_ix_pkey';
DROP TABLE ccf_ix;
-- information_schema._pg_expandarray (pgjdbc's DatabaseMetaData): records and their fields
SELECT information_schema._pg_expandarray(ARRAY[10, 20]) AS r;
SELECT (information_schema._pg_expandarray(ARRAY['a', 'b c'])).x AS x, (information_schema._pg_expandarray(ARRAY['a', 'b c'])).n AS n;
SELECT s.k, (s.r).x, (s.r).n FROM (SELECT 'k' AS k, information_schema._pg_expandarray(ARRAY[5, 6, 7]) AS r) s WHERE (s.r).n > 1 ORDER BY (s.r).n;
SELECT * FROM information_schema._pg_expandarray(ARRAY[true, false]) ORDER BY n;
-- comma joins over catalog tables (pgjdbc getImportedKeys): the foreign key's conindid is the referenced key's index
CREATE TABLE ccf_o (id bigint PRIMARY KEY);
CREATE TABLE ccf_i (id bigint PRIMARY KEY, o bigint REFERENCES ccf_o (id));
SELECT pkc.relname AS pk_table, pka.attname AS pk_col, fkc.relname AS fk_table, fka.attname AS fk_col, pos.n AS key_seq, pkic.relname AS pk_name
FROM pg_catalog.pg_namespace pkn, pg_catalog.pg_class pkc, pg_catalog.pg_attribute pka, pg_catalog.pg_namespace fkn, pg_catalog.pg_class fkc,
     pg_catalog.pg_attribute fka, pg_catalog.pg_constraint con, pg_catalog.generate_series(1, 32) pos(n), pg_catalog.pg_class pkic
WHERE pkn.oid = pkc.relnamespace AND pkc.oid = pka.attrelid AND pka.attnum = con.confkey[pos.n] AND con.confrelid = pkc.oid
  AND fkn.oid = fkc.relnamespace AND fkc.oid = fka.attrelid AND fka.attnum = con.conkey[pos.n] AND con.conrelid = fkc.oid
  AND con.contype = 'f' AND (pkic.relkind = 'i' OR pkic.relkind = 'I') AND pkic.oid = con.conindid AND fkn.nspname = 'public' AND fkc.relname = 'ccf_i'
ORDER BY pkc.relname, key_seq;
DROP TABLE ccf_i;
DROP TABLE ccf_o;
-- pg_statio_all_tables (Sequelize's describeTable joins it to pg_description for comments)
CREATE TABLE ccf_sio (id int PRIMARY KEY);
SELECT relid = 'ccf_sio'::regclass AS same_oid, schemaname, relname FROM pg_statio_all_tables WHERE relname = 'ccf_sio';
SELECT count(*) FROM pg_statio_user_tables WHERE relname = 'ccf_sio';
SELECT pgd.description FROM pg_catalog.pg_statio_all_tables AS st INNER JOIN pg_catalog.pg_description pgd ON (pgd.objoid = st.relid) WHERE st.relname = 'ccf_sio';
DROP TABLE ccf_sio;
