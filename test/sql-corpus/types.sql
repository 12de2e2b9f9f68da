-- Each supported type: storage round trip, text output, and the type OID clients see.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
CREATE TABLE typ_all (
  id int PRIMARY KEY,
  b boolean, i2 smallint, i4 integer, i8 bigint, n numeric, n2 numeric(8, 3), f4 real, f8 double precision,
  t text, vc varchar(5), c char(3), by bytea, u uuid, d date, tm time, ts timestamp, tz timestamptz, iv interval,
  j json, jb jsonb, ai int[], at text[]
);
INSERT INTO typ_all VALUES (1, true, 1, 2, 3, 1.5, 2.25, 1.25, 2.5, 'text', 'vc', 'ab', '\x0102ff',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', '13:14:15', '2024-01-02 03:04:05.678', '2024-01-02 03:04:05+02',
  '1 day 2 hours', '{"a": [1, 2]}', '{"b": 1, "a": [1, 2]}', '{1,2,3}', '{"x","y z",NULL}');
INSERT INTO typ_all (id) VALUES (2);
INSERT INTO typ_all (id, b, i2, i4, i8, n, f8, t) VALUES (3, false, -32768, -2147483648, -9223372036854775808, -0.000001, -1e300, '');
SELECT * FROM typ_all ORDER BY id;
SELECT id, c, length(c), c || '|' AS padded FROM typ_all WHERE id = 1;
-- @error 22001
INSERT INTO typ_all (id, vc) VALUES (4, 'toolong');
-- @error 22003
INSERT INTO typ_all (id, i2) VALUES (4, 32768);
-- @error 22003
INSERT INTO typ_all (id, n2) VALUES (4, 123456.7);
-- @error 22P02
INSERT INTO typ_all (id, u) VALUES (4, 'not-a-uuid');
-- @error 22008
INSERT INTO typ_all (id, d) VALUES (4, '2024-13-01');
-- @error 22007
INSERT INTO typ_all (id, d) VALUES (4, 'yesterday-ish');
-- @error 22008
INSERT INTO typ_all (id, d) VALUES (4, '2023-02-29');
-- @error 22P02
INSERT INTO typ_all (id, jb) VALUES (4, '{bad json');
INSERT INTO typ_all (id, n2) VALUES (5, 1.23456);
SELECT n2 FROM typ_all WHERE id = 5;
SELECT 0.1::numeric + 0.2::numeric, 0.1::float8 + 0.2::float8, 1e20::numeric * 1e20::numeric;
SELECT 123.456::numeric(6, 2), round(2.5::numeric), round(-2.5::numeric), trunc(2.99::numeric);
SELECT 'NaN'::float8, 'Infinity'::float8, '-Infinity'::float8, 1.0::float4 / 3;
SELECT true::text, 't'::boolean, 'off'::boolean, 1::int2 + 1::int8;
SELECT '\xdeadbeef'::bytea, 'abc'::bytea, length('\x0102'::bytea);
SELECT 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid;
SELECT '2024-01-31'::date + 1, '2024-03-01'::date - '2024-02-01'::date, '2024-01-01'::date + interval '1 month';
SELECT '2024-01-02 03:04:05'::timestamp + interval '90 minutes', '2024-01-02 03:04:05+00'::timestamptz - interval '1 day';
SELECT '10:00'::time + interval '3 hours', interval '1 day' * 3, interval '36 hours', interval '1 year 2 months 3 days';
SELECT '2024-01-02 03:04:05+05:30'::timestamptz, '2024-01-02'::timestamp, 'epoch'::timestamp;
SELECT '{"a":1,"b":[true,null]}'::json, '{"b":2,"a":1, "a":3}'::jsonb, '[1, "x", {"y": null}]'::jsonb;
SELECT ARRAY[1, 2, 3], ARRAY['a', NULL], '{}'::int[], (ARRAY[10, 20, 30])[2], array_length(ARRAY[1, 2], 1);
SELECT 1 = ANY (ARRAY[1, 2]), 3 = ANY ('{1,2}'::int[]), 5 > ALL (ARRAY[1, 2]);
SELECT id FROM typ_all WHERE 2 = ANY (ai);
SELECT pg_typeof(1), pg_typeof(1.5), pg_typeof('x'::text), pg_typeof(now()), pg_typeof(1::int8 + 1::int4);
DROP TABLE typ_all;
