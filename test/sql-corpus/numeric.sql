-- Exact numeric arithmetic and the result types and scales PostgreSQL gives integer and
-- numeric expressions and aggregates.
CREATE TABLE num_t (id int PRIMARY KEY, i int, b bigint, n numeric(12, 4), f float8);
INSERT INTO num_t VALUES (1, 2147483647, 9223372036854775807, 1.0001, 0.1), (2, 2147483647, 1, 2.5, 0.2), (3, -7, -3, -0.0005, 1e-10);
SELECT sum(i), pg_typeof(sum(i)), sum(b::numeric), avg(i), pg_typeof(avg(i)) FROM num_t;
SELECT sum(b), pg_typeof(sum(b)) FROM num_t;
SELECT sum(n), avg(n), min(n), max(n), sum(f) FROM num_t;
SELECT 1 / 3, 1.0 / 3, 1 / 3.0, 10::numeric / 3, 2::numeric / 3 * 3, 1 / 7::numeric(10, 4);
SELECT 123456789.123456789::numeric * 1000000, 0.000001::numeric * 0.000001, 1e-20::numeric + 1;
SELECT round(1.5), round(2.5), round(-1.5), round(1.25, 1), round(1.35, 1), round(-1.25, 1), round(1234.5678, -2);
SELECT round(1.5::float8), round(2.5::float8), round(-0.5::float8), trunc(1.99::float8), ceil(-0.5), floor(0.5);
SELECT 7 / 2, -7 / 2, 7 % -3, -7 % 3, (-7)::numeric % 3, 7.5 % 2;
SELECT 2147483647::int8 + 1, (-32768)::int2 - 0, 9223372036854775807::numeric + 1;
-- @error 22003
SELECT 9223372036854775807::int8 + 1;
-- @error 22003
SELECT (-2147483648)::int4 * -1;
-- @error 22012
SELECT 1.0 / 0;
-- @error 22012
SELECT 5 % 0;
-- @error 22012
SELECT 1::float8 / 0;
SELECT 3.0::numeric(5, 1), 3::numeric(5, 2), 1.005::numeric(5, 2), -1.005::numeric(5, 2), 0.5::numeric(3, 0);
SELECT 12345.678::numeric::int, 2.5::numeric::int, 3.5::numeric::int, (-2.5)::numeric::int, 2.5::float8::int, 3.5::float8::int;
SELECT '1e3'::numeric, '  12.30  '::numeric, '-0'::numeric, '1.2300'::numeric, 'NaN'::numeric;
SELECT 1e100::float8 * 1e100, 1.7976931348623157e308::float8, 5e-324::float8, 0.1::float4, 1e40::float8::text;
-- Cube roots: PostgreSQL calls the C library's cbrt(), and glibc's is not correctly rounded
-- (||/ 27 gives 3.0000000000000004 there, 3 on other platforms); Weft gives the correctly
-- rounded result. The inputs below are ones where the two agree.
SELECT abs(-9223372036854775807), -(-2147483647), @ -5, |/ 25, ||/ 64, ||/ -8, cbrt(1000), ||/ 0.001;
SELECT i::text, b::text, n::text, f::text FROM num_t ORDER BY id;
SELECT n, n * 2, n + 0.00001, n::numeric(12, 2) FROM num_t ORDER BY id;
DROP TABLE num_t;
