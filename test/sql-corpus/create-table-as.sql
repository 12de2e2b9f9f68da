-- CREATE TABLE ... AS and SELECT ... INTO (issue 12): the query's column names and types, its
-- rows, WITH NO DATA, IF NOT EXISTS, explicit column names; the new table is an ordinary table.
CREATE TABLE ctas_src (id int PRIMARY KEY, name varchar(20), price numeric(8, 2), tags text[]);
INSERT INTO ctas_src VALUES (1, 'a', 1.50, '{x}'), (2, 'b', 2.25, NULL), (3, 'c', NULL, '{y,z}');
CREATE TABLE ctas_1 AS SELECT id, name, price * 2 AS double_price, tags FROM ctas_src WHERE id < 3;
SELECT * FROM ctas_1 ORDER BY id;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'ctas_1'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
CREATE TABLE ctas_2 (k, label) AS SELECT id, 'row ' || id FROM ctas_src;
SELECT * FROM ctas_2 ORDER BY k;
CREATE TABLE ctas_3 AS SELECT * FROM ctas_src WITH NO DATA;
SELECT count(*) FROM ctas_3;
INSERT INTO ctas_3 SELECT * FROM ctas_src;
SELECT count(*) FROM ctas_3;
CREATE TABLE IF NOT EXISTS ctas_3 AS SELECT 1 AS one;
-- @error 42P07
CREATE TABLE ctas_3 AS SELECT 1 AS one;
SELECT id, name INTO ctas_4 FROM ctas_src WHERE price IS NOT NULL;
SELECT * FROM ctas_4 ORDER BY id;
CREATE TABLE ctas_5 AS SELECT 1 AS n, 'lit' AS s, now() IS NOT NULL AS b;
SELECT n, s, pg_typeof(s), b FROM ctas_5;
CREATE TABLE ctas_6 AS VALUES (1, 'x'), (2, 'y');
SELECT * FROM ctas_6 ORDER BY column1;
BEGIN;
CREATE TABLE ctas_7 AS SELECT g FROM generate_series(1, 5) g;
SELECT sum(g) FROM ctas_7;
ROLLBACK;
-- @error 42P01
SELECT * FROM ctas_7;
DROP TABLE ctas_1, ctas_2, ctas_3, ctas_4, ctas_5, ctas_6, ctas_src;
