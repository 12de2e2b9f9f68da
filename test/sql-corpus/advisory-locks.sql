-- Advisory locks within one session (issue 12): they stack, unlock returns whether one was held
-- (with a WARNING when not), transaction-level locks end with the transaction. Waiting between
-- sessions is tested in libs/sql/src/advisory-locks.spec.ts.
SELECT pg_advisory_lock(42);
SELECT pg_advisory_lock(42);
SELECT pg_try_advisory_lock(42);
SELECT pg_advisory_unlock(42);
SELECT pg_advisory_unlock(42);
SELECT pg_advisory_unlock(42);
SELECT pg_advisory_unlock(42);
SELECT pg_advisory_unlock(43);
SELECT pg_advisory_lock(1, 2), pg_try_advisory_lock_shared(7), pg_advisory_lock_shared(7);
SELECT pg_advisory_unlock(1, 2), pg_advisory_unlock(2, 1);
SELECT pg_advisory_unlock_shared(7), pg_advisory_unlock_shared(7), pg_advisory_unlock_shared(7);
SELECT pg_advisory_unlock_all();
BEGIN;
SELECT pg_advisory_xact_lock(5);
SELECT pg_try_advisory_xact_lock(5);
-- transaction-level locks cannot be released by pg_advisory_unlock
SELECT pg_advisory_unlock(5);
COMMIT;
SELECT pg_try_advisory_xact_lock(9::bigint);
SELECT pg_advisory_lock(-9223372036854775808);
SELECT pg_advisory_unlock(-9223372036854775808);
SELECT pg_advisory_unlock_all();
CLOSE ALL;
UNLISTEN *;
RESET ALL;
