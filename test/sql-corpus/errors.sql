-- The SQLSTATEs a client sees for common mistakes; the session stays usable after each one.
-- @error 42601
SELEC 1;
-- @error 42601
SELECT 1 +;
-- @error 42P01
SELECT * FROM no_such_table_errors;
-- @error 42703
SELECT no_such_column;
-- @error 22012
SELECT 1 / 0;
-- @error 22P02
SELECT 'abc'::int;
-- @error 22003
SELECT 2147483647::int4 + 1;
-- @error 22003
SELECT 40000::int2;
-- @error 42883
SELECT 'a'::text + 1;
-- @error 22P02
SELECT 'a' + 1;
CREATE TABLE err_t (id int PRIMARY KEY, v text NOT NULL, n int CHECK (n > 0), u int UNIQUE);
INSERT INTO err_t VALUES (1, 'a', 1, 1);
-- @error 23505
INSERT INTO err_t VALUES (1, 'b', 2, 2);
-- @error 23505
INSERT INTO err_t VALUES (2, 'b', 2, 1);
-- @error 23502
INSERT INTO err_t VALUES (3, NULL, 3, 3);
-- @error 23514
INSERT INTO err_t VALUES (4, 'd', 0, 4);
-- @error 42804
INSERT INTO err_t VALUES (5, 'e', true, 5);
-- @error 42703
INSERT INTO err_t (id, nope) VALUES (6, 1);
-- @error 42601
INSERT INTO err_t VALUES (7, 'g', 7, 7, 8);
-- @error 42P07
CREATE TABLE err_t (id int);
-- @error 42703
UPDATE err_t SET nope = 1;
-- @error 23502
UPDATE err_t SET v = NULL WHERE id = 1;
SELECT * FROM err_t;
-- @error 42P01
DROP TABLE no_such_table_errors;
DROP TABLE IF EXISTS no_such_table_errors;
DROP TABLE err_t;
SELECT 'still usable' AS status;
