-- Common string, math, date/time and JSONB functions and operators.
SET TimeZone = 'UTC';
SELECT lower('MiXeD'), upper('MiXeD'), initcap('hello world'), length('héllo'), octet_length('héllo'), char_length('abc');
SELECT substr('abcdef', 2, 3), substring('abcdef' from 3), substring('abcdef' from 2 for 2), left('abcdef', 2), right('abcdef', 2);
SELECT position('cd' in 'abcdef'), strpos('abcdef', 'e'), replace('a-b-c', '-', '+'), reverse('abc'), repeat('ab', 3);
SELECT trim('  x  '), ltrim('  x'), rtrim('x  '), btrim('xxaxx', 'x'), lpad('7', 3, '0'), rpad('ab', 4, '.');
SELECT concat('a', 1, NULL, true), concat_ws('-', 'a', NULL, 'b'), split_part('a,b,c', ',', 2), format('%s is %s', 'x', 42);
SELECT md5('abc'), to_hex(255), ascii('A'), chr(66), 'abc' ~ 'b', 'abc' ~* 'B', regexp_replace('a1b22', '[0-9]+', '#', 'g');
SELECT starts_with('hello', 'he'), string_to_array('a,b', ','), array_to_string(ARRAY[1, 2], '|');
SELECT abs(-3), abs(-2.5), ceil(1.2), floor(-1.2), round(3.14159, 2), round(2.5::float8), trunc(-1.7), sign(-4);
SELECT mod(10, 3), power(2, 10), sqrt(16), exp(0), ln(1), log(100), pi() > 3.14, 10 / 3, 10.0 / 3;
SELECT div(7, 2), 7 & 3, 7 | 8, 5 # 1, ~1, 1 << 4, 256 >> 2, gcd(12, 18), lcm(4, 6), factorial(5);
SELECT date_trunc('month', '2024-05-17 10:11:12'::timestamp), date_trunc('hour', '2024-05-17 10:11:12+00'::timestamptz);
SELECT extract(year FROM '2024-05-17'::date), extract(dow FROM '2024-05-17'::date), date_part('hour', '2024-05-17 10:11:12'::timestamp);
SELECT extract(epoch FROM '2024-01-01 00:00:00+00'::timestamptz), to_timestamp(0), make_date(2024, 2, 29);
SELECT age('2024-05-17'::timestamp, '2023-01-01'::timestamp), '2024-05-17'::date - 30, justify_hours(interval '30 hours');
SELECT to_char('2024-05-17 10:11:12'::timestamp, 'YYYY-MM-DD HH24:MI:SS'), to_char(1234.5, '9999.99'), to_date('2024-05-17', 'YYYY-MM-DD');
-- @columns-only
SELECT now(), current_timestamp, current_date, clock_timestamp(), localtimestamp;
SELECT now() = current_timestamp, now() >= '2020-01-01'::timestamptz;
SELECT '{"a": {"b": [1, 2, 3]}, "c": "x"}'::jsonb -> 'a', '{"a": 1, "c": "x"}'::jsonb ->> 'c', '{"a": {"b": [1, 2]}}'::jsonb #> '{a,b}', '{"a": {"b": [1, 2]}}'::jsonb #>> '{a,b,1}';
SELECT '[1, 2, 3]'::jsonb -> 1, '[1, 2, 3]'::jsonb ->> -1, '{"a": 1}'::jsonb ? 'a', '{"a": 1, "b": 2}'::jsonb @> '{"a": 1}', '{"a": 1}'::jsonb || '{"b": 2}';
SELECT '{"a": 1, "b": 2}'::jsonb - 'a', jsonb_typeof('[1]'), jsonb_array_length('[1, 2, 3]'), jsonb_build_object('k', 1, 'v', ARRAY[1, 2]), jsonb_build_array(1, 'x', NULL);
SELECT to_jsonb('text'::text), to_json(ARRAY[1, 2]), jsonb_set('{"a": 1}', '{a}', '2'), jsonb_pretty('{"a": 1}'), json_build_object('x', 1);
SELECT key, value FROM jsonb_each('{"a": 1, "b": [2]}');
SELECT * FROM jsonb_array_elements('[1, "two", null]');
SELECT jsonb_object_keys('{"x": 1, "y": 2}');
SELECT * FROM generate_series(1, 5);
SELECT generate_series(1, 10, 3);
SELECT * FROM unnest(ARRAY['a', 'b', 'c']) WITH ORDINALITY;
SELECT version() LIKE 'PostgreSQL%', current_database(), current_schema(), current_user, session_user;
-- @columns-only
SELECT pg_backend_pid(), gen_random_uuid(), random();
SELECT length(gen_random_uuid()::text), random() < 1.0;
SELECT current_setting('server_version_num')::int >= 150000, current_setting('standard_conforming_strings');
SELECT format_type('int4'::regtype, NULL), 'int8'::regtype, 'pg_class'::regclass, has_table_privilege('pg_class', 'SELECT');
SELECT coalesce(nullif(trim('  '), ''), 'blank');
