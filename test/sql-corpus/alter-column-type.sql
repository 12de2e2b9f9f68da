-- ALTER TABLE ... ALTER COLUMN ... TYPE across storage types: rows and index entries rewritten.
CREATE TABLE act_t (id int PRIMARY KEY, n int, s text, v varchar(10), f float8, d numeric(8,3));
CREATE INDEX act_t_n ON act_t (n);
CREATE UNIQUE INDEX act_t_s ON act_t (s);
INSERT INTO act_t VALUES (1, 10, '5', 'abc', 1.4, 1.25), (2, 20, '7', 'abcdef', 2.6, 2.5), (3, NULL, NULL, NULL, 1.6, NULL);
ALTER TABLE act_t ALTER COLUMN id TYPE bigint;
SELECT pg_typeof(id)::text, id, n FROM act_t WHERE id = 2;
SELECT * FROM act_t ORDER BY id;
ALTER TABLE act_t ALTER COLUMN n SET DATA TYPE numeric(10,2);
SELECT id, n FROM act_t WHERE n = 20;
SELECT id, n FROM act_t ORDER BY n;
-- text to int needs USING
-- @error 42804
ALTER TABLE act_t ALTER COLUMN s TYPE int;
ALTER TABLE act_t ALTER COLUMN s TYPE int USING s::int;
SELECT id, s FROM act_t WHERE s = 7;
SELECT id, s FROM act_t ORDER BY s;
-- @error 23505
INSERT INTO act_t (id, s) VALUES (9, 7);
-- varchar(n): shrinking fails on a longer value, growing is fine
-- @error 22001
ALTER TABLE act_t ALTER COLUMN v TYPE varchar(3);
ALTER TABLE act_t ALTER COLUMN v TYPE varchar(20);
INSERT INTO act_t (id, v) VALUES (10, 'a fifteen chars');
ALTER TABLE act_t ALTER COLUMN v TYPE text;
ALTER TABLE act_t ALTER COLUMN v TYPE varchar(15);
SELECT id, v FROM act_t ORDER BY id;
-- int/numeric to text and back
ALTER TABLE act_t ALTER COLUMN n TYPE text;
SELECT id, n FROM act_t ORDER BY id;
SELECT id FROM act_t WHERE n = '20.00';
ALTER TABLE act_t ALTER COLUMN n TYPE int USING n::numeric::int;
SELECT id, n FROM act_t WHERE n = 20;
-- float to int rounds; numeric scale changes round
ALTER TABLE act_t ALTER COLUMN f TYPE int;
SELECT id, f FROM act_t ORDER BY id;
ALTER TABLE act_t ALTER COLUMN d TYPE numeric(8,1);
SELECT id, d FROM act_t ORDER BY id;
-- A row that does not convert fails the statement and leaves the table unchanged
UPDATE act_t SET v = 'x' WHERE id = 1;
-- @error 22P02
ALTER TABLE act_t ALTER COLUMN v TYPE int USING v::int;
SELECT id, v FROM act_t ORDER BY id;
-- @error 22003
ALTER TABLE act_t ALTER COLUMN id TYPE smallint USING id * 100000;
SELECT id FROM act_t ORDER BY id;
-- @error 42804
ALTER TABLE act_t ALTER COLUMN f TYPE boolean;
-- @error 42804
ALTER TABLE act_t ALTER COLUMN f TYPE int USING f::text;
-- @error 0A000
ALTER TABLE act_t ALTER COLUMN f TYPE int USING (SELECT 1);
-- A conversion that makes unique values equal
CREATE TABLE act_u (id int PRIMARY KEY, x float8 UNIQUE);
INSERT INTO act_u VALUES (1, 1.2), (2, 1.4);
-- @error 23505
ALTER TABLE act_u ALTER COLUMN x TYPE int;
SELECT id, x FROM act_u ORDER BY id;
CREATE TABLE act_pk (k float8 PRIMARY KEY);
INSERT INTO act_pk VALUES (1.2), (1.4);
-- @error 23505
ALTER TABLE act_pk ALTER COLUMN k TYPE int;
ALTER TABLE act_pk ALTER COLUMN k TYPE int USING (k * 10)::int;
SELECT k FROM act_pk WHERE k = 14;
SELECT k FROM act_pk ORDER BY k;
-- CHECK constraints are re-checked, defaults must convert
CREATE TABLE act_c (id int PRIMARY KEY, a int CHECK (a > 0), b text DEFAULT 'zz', c int DEFAULT 5);
INSERT INTO act_c (id, a) VALUES (1, 1);
-- @error 23514
ALTER TABLE act_c ALTER COLUMN a TYPE int USING a - 5;
-- @error 42804
ALTER TABLE act_c ALTER COLUMN b TYPE int USING b::int;
ALTER TABLE act_c ALTER COLUMN c TYPE text;
INSERT INTO act_c (id, a) VALUES (2, 2);
SELECT id, a, b, c FROM act_c ORDER BY id;
-- NOT NULL holds through the conversion
CREATE TABLE act_nn (id int PRIMARY KEY, s text NOT NULL);
INSERT INTO act_nn VALUES (1, '');
-- @error 23502
ALTER TABLE act_nn ALTER COLUMN s TYPE int USING nullif(s, '')::int;
-- A view over the column
CREATE VIEW act_v AS SELECT id, s FROM act_t;
-- @error 0A000
ALTER TABLE act_t ALTER COLUMN s TYPE bigint;
ALTER TABLE act_t ALTER COLUMN f TYPE bigint;
DROP VIEW act_v;
ALTER TABLE act_t ALTER COLUMN s TYPE bigint;
SELECT id, s, f FROM act_t ORDER BY id;
-- To and from an enum
CREATE TYPE act_level AS ENUM ('low', 'mid', 'high');
CREATE TABLE act_e (id int PRIMARY KEY, lvl text);
INSERT INTO act_e VALUES (1, 'high'), (2, 'low'), (3, 'mid');
-- @error 42804
ALTER TABLE act_e ALTER COLUMN lvl TYPE act_level;
ALTER TABLE act_e ALTER COLUMN lvl TYPE act_level USING lvl::act_level;
SELECT id, lvl FROM act_e ORDER BY lvl;
CREATE INDEX act_e_lvl ON act_e (lvl);
SELECT id FROM act_e WHERE lvl > 'low' ORDER BY id;
ALTER TABLE act_e ALTER COLUMN lvl TYPE text;
SELECT id, lvl FROM act_e ORDER BY lvl;
SELECT id FROM act_e WHERE lvl = 'mid';
INSERT INTO act_e VALUES (4, 'bad');
-- @error 22P02
ALTER TABLE act_e ALTER COLUMN lvl TYPE act_level USING lvl::act_level;
SELECT id, lvl FROM act_e ORDER BY id;
DROP TABLE act_t;
DROP TABLE act_u;
DROP TABLE act_pk;
DROP TABLE act_c;
DROP TABLE act_nn;
DROP TABLE act_e;
DROP TYPE act_level;
