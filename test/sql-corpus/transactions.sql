-- Transaction control, savepoints, failed transaction blocks, session settings, prepared statements.
CREATE TABLE tx_t (id int PRIMARY KEY, v int NOT NULL);
BEGIN;
INSERT INTO tx_t VALUES (1, 10);
SELECT * FROM tx_t;
COMMIT;
BEGIN;
INSERT INTO tx_t VALUES (2, 20);
ROLLBACK;
SELECT * FROM tx_t;
START TRANSACTION;
UPDATE tx_t SET v = v + 1 WHERE id = 1;
END;
SELECT v FROM tx_t WHERE id = 1;
BEGIN;
INSERT INTO tx_t VALUES (3, 30);
SAVEPOINT s1;
INSERT INTO tx_t VALUES (4, 40);
ROLLBACK TO SAVEPOINT s1;
INSERT INTO tx_t VALUES (5, 50);
SAVEPOINT s2;
UPDATE tx_t SET v = 0;
RELEASE SAVEPOINT s2;
COMMIT;
SELECT * FROM tx_t ORDER BY id;
BEGIN;
INSERT INTO tx_t VALUES (6, 60);
-- @error 23505
INSERT INTO tx_t VALUES (6, 61);
-- @error 25P02
SELECT 1;
-- @error 25P02
INSERT INTO tx_t VALUES (7, 70);
ROLLBACK;
SELECT count(*) FROM tx_t WHERE id >= 6;
BEGIN;
SAVEPOINT a;
-- @error 22012
SELECT 1 / 0;
ROLLBACK TO a;
INSERT INTO tx_t VALUES (8, 80);
COMMIT;
SELECT id FROM tx_t WHERE id = 8;
BEGIN;
-- @error 23505
INSERT INTO tx_t VALUES (8, 81);
COMMIT;
SELECT v FROM tx_t WHERE id = 8;
COMMIT;
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SHOW transaction_isolation;
COMMIT;
BEGIN;
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM tx_t;
COMMIT;
BEGIN READ ONLY;
-- @error 25006
INSERT INTO tx_t VALUES (9, 90);
ROLLBACK;
SET application_name = 'corpus';
SHOW application_name;
RESET application_name;
SHOW application_name;
SET search_path TO public;
SHOW search_path;
SET statement_timeout = 0;
SHOW client_encoding;
SELECT current_setting('server_version_num')::int / 100 AS major;
SHOW standard_conforming_strings;
SHOW integer_datetimes;
PREPARE get_v (int) AS SELECT v FROM tx_t WHERE id = $1;
EXECUTE get_v(1);
EXECUTE get_v(5);
PREPARE put_v (int, int) AS INSERT INTO tx_t VALUES ($1, $2);
EXECUTE put_v(10, 100);
-- @error 23505
EXECUTE put_v(10, 101);
DEALLOCATE get_v;
-- @error 26000
EXECUTE get_v(1);
DEALLOCATE ALL;
SELECT sum(v) FROM tx_t;
DROP TABLE tx_t;
-- An error while planning (constant folding at Parse under the extended protocol) aborts the block too.
BEGIN;
-- @error 22012
SELECT 1 / 0;
-- @error 25P02
SELECT 1;
ROLLBACK;
