-- Settings follow transactions as in PostgreSQL (issue 12): SET LOCAL ends with the transaction,
-- SET in a rolled-back transaction or savepoint is undone, set_config/current_setting, client
-- encoding names, and the statements asyncpg's pool runs to reset a connection.
SET TimeZone = 'UTC';
SET client_encoding = 'utf-8';
SHOW client_encoding;
SET client_encoding = unicode;
SET client_encoding = 'UTF_8';
SHOW client_encoding;
-- @error 22023
SET client_encoding = 'no-such-encoding';
SET issue12.x = 'base';
BEGIN;
SET LOCAL issue12.x = 'local';
SHOW issue12.x;
COMMIT;
SHOW issue12.x;
BEGIN;
SET LOCAL issue12.x = 'local';
ROLLBACK;
SHOW issue12.x;
BEGIN;
SET issue12.x = 'inside';
SHOW issue12.x;
ROLLBACK;
SHOW issue12.x;
BEGIN;
SET issue12.x = 'kept';
COMMIT;
SHOW issue12.x;
SET TimeZone = 'Europe/Paris';
BEGIN;
SET LOCAL TimeZone = 'Asia/Tokyo';
SELECT '2024-01-01 00:00:00+00'::timestamptz::text;
COMMIT;
SELECT '2024-01-01 00:00:00+00'::timestamptz::text;
SET TimeZone = 'UTC';
-- a SET followed by SET LOCAL: COMMIT keeps the SET value
BEGIN;
SET issue12.x = 'set';
SET LOCAL issue12.x = 'then-local';
SHOW issue12.x;
COMMIT;
SHOW issue12.x;
-- savepoints
BEGIN;
SET issue12.x = 'before-sp';
SAVEPOINT s1;
SET issue12.x = 'in-sp';
ROLLBACK TO SAVEPOINT s1;
SHOW issue12.x;
SAVEPOINT s2;
SET LOCAL issue12.x = 'local-in-sp';
RELEASE SAVEPOINT s2;
SHOW issue12.x;
COMMIT;
SHOW issue12.x;
-- a failed transaction block undoes its SETs
BEGIN;
SET issue12.x = 'doomed';
-- @error 22012
SELECT 1 / 0;
ROLLBACK;
SHOW issue12.x;
-- SET LOCAL outside a block warns and changes nothing
SET LOCAL issue12.x = 'ignored';
SHOW issue12.x;
-- custom settings stay defined (empty) once used
BEGIN;
SET LOCAL issue12.never_committed = 'v';
COMMIT;
SELECT current_setting('issue12.never_committed');
-- set_config / current_setting
SELECT set_config('issue12.y', 'session', false);
SELECT current_setting('issue12.y');
BEGIN;
SELECT set_config('issue12.y', 'txn-local', true);
SELECT current_setting('issue12.y');
COMMIT;
SELECT current_setting('issue12.y');
SELECT set_config('issue12.y', 'statement-local', true), current_setting('issue12.y');
SELECT current_setting('issue12.y');
SELECT set_config('issue12.z', NULL, false);
SELECT set_config('issue12.w', 'a', NULL);
SELECT current_setting('issue12.absent', true);
SELECT current_setting('issue12.absent', true) IS NULL AS missing;
-- @error 42704
SELECT current_setting('issue12.absent');
-- @error 42704
SELECT current_setting('no_such_setting');
-- @error 42704
SELECT set_config('no_such_setting', 'x', false);
-- @error 22004
SELECT set_config(NULL, 'x', false);
SELECT set_config('TimeZone', 'Asia/Tokyo', false), current_setting('TimeZone');
SET TimeZone = 'UTC';
-- COMMIT/ROLLBACK AND CHAIN
-- @error 25P01
COMMIT AND CHAIN;
-- @error 25P01
ROLLBACK AND CHAIN;
BEGIN READ ONLY;
SET issue12.x = 'chained';
COMMIT AND CHAIN;
SHOW transaction_read_only;
SHOW issue12.x;
SET LOCAL issue12.x = 'chained-local';
ROLLBACK AND CHAIN;
SHOW issue12.x;
SHOW transaction_read_only;
ROLLBACK;
-- asyncpg's connection reset
SELECT pg_advisory_unlock_all();
CLOSE ALL;
UNLISTEN *;
RESET ALL;
SHOW issue12.x;
-- @error 34000
CLOSE no_such_cursor;
-- DISCARD (pgbouncer's server_reset_query is DISCARD ALL): settings do not leak past it
CREATE SEQUENCE issue12_dsq;
SET issue12.x = 'before-discard';
SET TimeZone = 'Asia/Tokyo';
PREPARE issue12_p AS SELECT 1 AS one;
SELECT nextval('issue12_dsq');
DISCARD PLANS;
EXECUTE issue12_p;
DISCARD SEQUENCES;
-- @error 55000
SELECT currval('issue12_dsq');
BEGIN;
-- @error 25001
DISCARD ALL;
ROLLBACK;
DISCARD ALL;
SHOW issue12.x;
SELECT '2024-01-01 00:00:00+00'::timestamptz::text;
-- @error 26000
EXECUTE issue12_p;
DROP SEQUENCE issue12_dsq;
