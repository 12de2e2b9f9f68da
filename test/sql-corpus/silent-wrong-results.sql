-- Wrong results without an error (issue 12): untyped NULLs in INSERT ... SELECT, text ||
-- boolean, integer shifts and negative literals, JOIN USING/NATURAL column merging, RETURNING
-- rel.*, generate_series (zero step, numeric start and scale), short VALUES lists.
CREATE TABLE swr_big (a bigint, b bigint, c text);
INSERT INTO swr_big SELECT g, NULL, 'x' FROM generate_series(1, 3) g;
INSERT INTO swr_big SELECT 4, '5', 'y';
INSERT INTO swr_big (a, b) SELECT 6, NULL;
-- @error 22P02
INSERT INTO swr_big SELECT 7, 'abc', 'z';
-- @error 42804
INSERT INTO swr_big SELECT 8, NULL, 'u' UNION ALL SELECT 9, NULL, 'v';
-- @error 42804
INSERT INTO swr_big (b) SELECT * FROM (SELECT NULL) s;
-- @error 42601
INSERT INTO swr_big (a, b) SELECT 1;
-- @error 42601
INSERT INTO swr_big (a, b) VALUES (1);
-- @error 42601
INSERT INTO swr_big VALUES (1), (1, 2);
INSERT INTO swr_big VALUES (10);
INSERT INTO swr_big VALUES (11, 12);
SELECT * FROM swr_big ORDER BY a;
-- text || anything casts to text: a boolean is 'true'
SELECT true || 'x', 'x' || false, true::text, true::varchar, false::varchar(3), true::char(1), concat(true, 'x'), format('%s', true);
SELECT 1 || 'x', 'x' || 1.50, 'x' || NULL::bool, 'x' || 2::int8;
-- @error 42883
SELECT 1 || 2;
-- @error 42883
SELECT true || 1;
-- shifts and negative literals
SELECT (-1::int8 << 63)::text, pg_typeof(-1::int8), -1::int8 << 63, 1::int8 << 63, 1::int8 << 64, 1::int8 << 65, 1::int8 << -1;
SELECT 1 << 31, 1 << 32, 5 >> 33, -8 >> 1, -16 >> 2, 1 << -1;
SELECT 1::int2 << 15, 1::int2 << 16, 255::int2 << 8, -16::int2 >> 1, pg_typeof(1::int2 << 1);
SELECT -2147483648, pg_typeof(-2147483648), -9223372036854775808, pg_typeof(-9223372036854775808), pg_typeof(-2147483649), - 0, -1.5, -(1)::int8;
-- JOIN USING / NATURAL: one merged column, first
CREATE TABLE swr_j1 (i int, a int);
CREATE TABLE swr_j2 (i int, b int);
CREATE TABLE swr_j3 (i bigint, a int);
INSERT INTO swr_j1 VALUES (1, 2), (2, 20);
INSERT INTO swr_j2 VALUES (1, 3), (3, 30);
INSERT INTO swr_j3 VALUES (1, 200), (3, 300);
SELECT * FROM swr_j1 JOIN swr_j2 USING (i);
SELECT * FROM swr_j1 LEFT JOIN swr_j2 USING (i) ORDER BY i;
SELECT * FROM swr_j1 RIGHT JOIN swr_j2 USING (i) ORDER BY i;
SELECT * FROM swr_j1 FULL JOIN swr_j2 USING (i) ORDER BY i;
SELECT i, swr_j1.i AS l, swr_j2.i AS r FROM swr_j1 FULL JOIN swr_j2 USING (i) ORDER BY 1;
SELECT * FROM swr_j1 NATURAL JOIN swr_j2;
SELECT * FROM swr_j1 NATURAL JOIN swr_j3;
SELECT * FROM swr_j1 JOIN swr_j2 USING (i) JOIN swr_j3 USING (i);
SELECT swr_j1.*, swr_j2.* FROM swr_j1 JOIN swr_j2 USING (i);
SELECT * FROM swr_j1 JOIN swr_j2 AS x(i, c) USING (i);
SELECT * FROM swr_j1 JOIN swr_j3 USING (i, a);
SELECT i FROM swr_j1 JOIN swr_j2 USING (i) WHERE i = 1;
SELECT count(*) FROM swr_j1 FULL JOIN swr_j2 USING (i) WHERE i = 3;
SELECT * FROM (SELECT * FROM swr_j1 JOIN swr_j2 USING (i)) s;
-- @error 42703
SELECT * FROM swr_j1 JOIN swr_j2 USING (nope);
-- @error 42702
SELECT a FROM swr_j1 JOIN swr_j2 USING (i) JOIN swr_j3 USING (i);
-- RETURNING rel.* is that relation's columns only
CREATE TABLE swr_r (id int PRIMARY KEY, v int);
INSERT INTO swr_r AS foo VALUES (1, 10), (2, 20) RETURNING foo.*;
UPDATE swr_r SET v = v + 1 FROM swr_j1 WHERE swr_j1.i = swr_r.id RETURNING swr_r.*;
UPDATE swr_r AS r SET v = v + 1 FROM swr_j1 WHERE swr_j1.i = r.id RETURNING r.*, swr_j1.*;
UPDATE swr_r SET v = v + 1 FROM swr_j1 WHERE swr_j1.i = swr_r.id RETURNING *;
DELETE FROM swr_r USING swr_j2 WHERE swr_j2.i = swr_r.id RETURNING swr_r.*;
-- @error 42P01
INSERT INTO swr_r VALUES (3, 30) RETURNING nope.*;
-- generate_series
SELECT * FROM generate_series(1.5, 3.5, 0.5);
SELECT * FROM generate_series(1, 3, 0.5);
SELECT * FROM generate_series(1.25, 3);
SELECT * FROM generate_series(3.5, 1, -1);
SELECT * FROM generate_series(1.0, 2.00, 0.25);
SELECT generate_series(1, 3), generate_series(1::int8, 2);
SELECT * FROM generate_series(2147483646, 2147483647);
SELECT * FROM generate_series('2020-01-03'::timestamp, '2020-01-01', '-1 day');
-- @error 22023
SELECT generate_series(1, 10, 0);
-- @error 22023
SELECT * FROM generate_series(1::int8, 10, 0);
-- @error 22023
SELECT * FROM generate_series(1.0, 10, 0);
-- @error 22023
SELECT * FROM generate_series('2020-01-01'::timestamp, '2020-01-02', '0 days');
-- @error 22023
SELECT * FROM generate_series('2020-01-01'::timestamptz, '2020-01-02', '0 days');
-- @error 22023
SELECT * FROM generate_series('2020-01-01'::timestamp, '2020-01-02', '1 month -30 days');
-- @error 22023
SELECT * FROM generate_series(1, 'NaN'::numeric);
DROP TABLE swr_r;
DROP TABLE swr_j1;
DROP TABLE swr_j2;
DROP TABLE swr_j3;
DROP TABLE swr_big;
