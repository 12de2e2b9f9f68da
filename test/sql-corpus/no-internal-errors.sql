-- Queries that reached clients as XX000 with a JavaScript message (issue 12): quantified
-- LIKE/regex (op ANY/ALL with a non-comparison operator), untyped literals for integer,
-- numeric, timestamp and json parameters, format/to_char/timezone argument types, to_char of
-- an interval, bitwise operators on oid/reg types, @ on non-numbers, unknown -> json.
CREATE SEQUENCE nie_seq;
SELECT sequence_name, data_type, start_value FROM information_schema.sequences WHERE sequence_name = 'nie_seq';
SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema NOT LIKE ALL (ARRAY['pg_%', 'information_schema']) AND sequence_name LIKE 'nie%';
SELECT 'abc' LIKE ANY (ARRAY['a%', 'x']), 'abc' NOT LIKE ALL (ARRAY['a%', 'x']), 'abc' ILIKE ANY (ARRAY['A%']);
SELECT 'abc' ~ ANY (ARRAY['^a', 'x']), 'abc' ~* ALL (ARRAY['^A', 'C$']), 'abc' !~ ANY (ARRAY['^a']);
SELECT 'abc' ILIKE ANY (SELECT 'A%'), 'abc' LIKE ALL (SELECT 'a%' UNION ALL SELECT '%c');
SELECT NULL::text LIKE ANY (ARRAY['a']), 'a' LIKE ANY (ARRAY[NULL, 'b']), 'a' LIKE ANY ('{}'::text[]);
-- @error 42809
SELECT 1 + ANY (ARRAY[1]);
-- @error 22P02
SELECT chr('x');
-- @error 22P02
SELECT factorial('x');
-- @error 22P02
SELECT gcd('x', 1);
-- @error 22P02
SELECT round(1.5, 'x');
-- @error 22P02
SELECT setval('nie_seq', 'x');
SELECT setval('nie_seq', '5'), gcd('12', 18), round(2.567, '2'), chr('65');
-- @error 22007
SELECT age('x', now());
-- @error 22007
SELECT date_trunc('day', 'x'::timestamp);
-- @error 42883
SELECT date_trunc(1, now());
-- @error 42883
SELECT format('1 day'::interval);
-- @error 42883
SELECT to_char(1, 1);
-- @error 42883
SELECT timezone(1, now());
-- @error 22P02
SELECT jsonb_extract_path('x', 'a') IS NULL;
-- @error 22P02
SELECT json_extract_path_text('x', 'a');
SELECT jsonb_extract_path('{"a":{"b":2}}', 'a', 'b'), json_extract_path_text('{"a":1}', 'a');
SELECT to_char(interval '1 day 02:03:04', 'HH24:MI:SS'), to_char(interval '30 hours 5 minutes', 'HH24:MI'), to_char(interval '-3 hours', 'HH24:MI:SS');
SELECT to_char(interval '1 year 2 mons 3 days 04:05:06', 'YYYY MM DD HH24 MI SS'), to_char(interval '1 day', 'x');
-- @error 42883
SELECT 'x' & 'pg_class'::regclass;
-- @error 42883
SELECT 1::oid | 2;
-- @error 42883
SELECT @ '1 day'::interval;
-- @error 42883
SELECT @ ARRAY[1];
SELECT @ -1.5, @ -2::int8;
-- @error 42725
SELECT '{"a":1}' -> 'a';
-- @error 42725
SELECT 'x' ->> 1;
DROP SEQUENCE nie_seq;
