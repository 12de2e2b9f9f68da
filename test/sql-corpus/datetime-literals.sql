-- Untyped literals next to date/time operands resolve as Postgres resolves them (found by the
-- SQL fuzz test: these used to fail with XX000).
SELECT '2024-01-02 03:04:05'::timestamp + '90 minutes' AS later;
SELECT '90 minutes' + '2024-01-02 03:04:05+00'::timestamptz AS later_tz;
SELECT '2024-01-02 03:04:05'::timestamp - '2024-01-01' AS elapsed;
SELECT '10:00'::time + '1 hour' AS t;
SELECT '2024-01-02'::date - '2024-01-01' AS days;
-- @error 22007
SELECT '2024-01-02 03:04:05'::timestamp - '90 minutes';
-- @error 22007
SELECT '2024-01-02'::date - '1 day';
-- @error 42725
SELECT '2024-01-02'::date + '1 day';
SELECT '2024-01-02'::date + interval '1 day' AS next_day;
