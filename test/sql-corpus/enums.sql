-- Enum types: CREATE/ALTER/DROP TYPE, enum columns ordered by declaration, casts, catalog rows.
CREATE TYPE en_mood AS ENUM ('sad', 'ok', 'happy');
-- @error 42710
CREATE TYPE en_mood AS ENUM ('x');
-- @error 23505
CREATE TYPE en_dup AS ENUM ('a', 'b', 'a');
CREATE TABLE en_people (id int PRIMARY KEY, name text, mood en_mood NOT NULL DEFAULT 'ok');
-- @error 42710
CREATE TYPE en_people AS ENUM ('x');
INSERT INTO en_people VALUES (1, 'ann', 'happy'), (2, 'bob', 'sad'), (3, 'cy', 'ok'), (4, 'di', 'happy');
INSERT INTO en_people (id, name) VALUES (5, 'ed');
-- @error 22P02
INSERT INTO en_people VALUES (6, 'fay', 'meh');
-- @error 22P02
INSERT INTO en_people VALUES (6, 'fay', 'Happy');
SELECT * FROM en_people ORDER BY mood, id;
SELECT id, mood FROM en_people ORDER BY mood DESC, id;
SELECT id FROM en_people WHERE mood > 'sad' ORDER BY id;
SELECT id FROM en_people WHERE mood BETWEEN 'sad' AND 'ok' ORDER BY id;
SELECT id FROM en_people WHERE mood IN ('ok', 'happy') ORDER BY id;
SELECT mood, count(*) FROM en_people GROUP BY mood ORDER BY mood;
SELECT min(mood), max(mood) FROM en_people;
SELECT DISTINCT mood FROM en_people ORDER BY 1;
SELECT mood::text AS t FROM en_people ORDER BY t;
SELECT 'happy'::en_mood > 'sad'::en_mood AS gt, 'ok'::en_mood::text AS txt, CAST('sad' AS en_mood) AS c;
SELECT 'happy'::text::en_mood AS from_text, 'ok'::varchar::en_mood AS from_varchar;
-- @error 22P02
SELECT 'meh'::en_mood;
-- @error 22P02
SELECT id FROM en_people WHERE mood = 'meh';
-- @error 42883
SELECT id FROM en_people WHERE mood = name;
-- @error 42846
SELECT 'ok'::en_mood::int;
-- @error 42846
SELECT 1::en_mood;
SELECT enum_range(NULL::en_mood) AS r, enum_first(NULL::en_mood) AS f, enum_last(NULL::en_mood) AS l;
SELECT enum_range('ok'::en_mood, NULL) AS upper_open, enum_range('sad'::en_mood, 'ok'::en_mood) AS closed;
UPDATE en_people SET mood = 'sad' WHERE mood = 'happy' AND id = 4;
SELECT id, mood FROM en_people ORDER BY id;
-- Secondary index and primary key on an enum column: index order is declaration order.
CREATE INDEX en_people_mood ON en_people (mood);
SELECT id FROM en_people WHERE mood = 'sad' ORDER BY id;
SELECT id FROM en_people WHERE mood >= 'ok' ORDER BY mood, id;
CREATE TABLE en_keyed (m en_mood PRIMARY KEY, n int);
INSERT INTO en_keyed VALUES ('happy', 3), ('sad', 1), ('ok', 2);
-- @error 23505
INSERT INTO en_keyed VALUES ('ok', 9);
SELECT * FROM en_keyed ORDER BY m;
SELECT * FROM en_keyed WHERE m < 'happy' ORDER BY m;
SELECT n FROM en_keyed WHERE m = 'ok';
-- ALTER TYPE ... ADD VALUE / RENAME VALUE / RENAME TO
ALTER TYPE en_mood ADD VALUE 'ecstatic';
ALTER TYPE en_mood ADD VALUE 'meh' BEFORE 'ok';
ALTER TYPE en_mood ADD VALUE 'fine' AFTER 'meh';
ALTER TYPE en_mood ADD VALUE IF NOT EXISTS 'ok';
-- @error 42710
ALTER TYPE en_mood ADD VALUE 'ok';
-- @error 22023
ALTER TYPE en_mood ADD VALUE 'x' BEFORE 'nope';
SELECT enum_range(NULL::en_mood);
INSERT INTO en_people VALUES (6, 'fay', 'meh'), (7, 'gus', 'fine'), (8, 'hal', 'ecstatic');
INSERT INTO en_keyed VALUES ('meh', 0), ('fine', 1);
SELECT id, mood FROM en_people ORDER BY mood, id;
SELECT * FROM en_keyed ORDER BY m;
SELECT id FROM en_people WHERE mood < 'ok' ORDER BY id;
CREATE TABLE en_defaults (id int PRIMARY KEY, d en_mood DEFAULT 'meh');
INSERT INTO en_defaults (id) VALUES (1);
ALTER TABLE en_defaults ADD COLUMN later en_mood DEFAULT 'meh';
ALTER TYPE en_mood RENAME VALUE 'meh' TO 'so-so';
INSERT INTO en_defaults (id) VALUES (2);
SELECT id, d, later FROM en_defaults ORDER BY id;
DROP TABLE en_defaults;
-- @error 22023
ALTER TYPE en_mood RENAME VALUE 'nope' TO 'x';
-- @error 42710
ALTER TYPE en_mood RENAME VALUE 'sad' TO 'ok';
SELECT id, mood FROM en_people WHERE mood = 'so-so';
-- @error 22P02
SELECT 'meh'::en_mood;
SELECT * FROM en_keyed WHERE m = 'so-so';
SELECT e.enumlabel, e.enumsortorder FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = 'en_mood' ORDER BY e.enumsortorder;
SELECT typname, typtype, typcategory, typlen, typbyval, typalign, typstorage, typelem = 0 AS no_elem, typarray <> 0 AS has_array FROM pg_type WHERE typname = 'en_mood';
SELECT a.typname, a.typcategory, a.typelem = t.oid AS elem_ok FROM pg_type a JOIN pg_type t ON t.typarray = a.oid WHERE t.typname = 'en_mood';
SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = 'en_people'::regclass AND a.attname = 'mood';
SELECT 'en_mood'::regtype::text;
SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_name = 'en_people' ORDER BY ordinal_position;
ALTER TYPE en_mood RENAME TO en_feeling;
SELECT 'ok'::en_feeling;
-- @error 42704
SELECT 'ok'::en_mood;
SELECT id, mood FROM en_people WHERE id = 1;
SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = 'en_people'::regclass AND a.attname = 'mood';
-- Arrays of an enum
CREATE TABLE en_arr (id int PRIMARY KEY, ms en_feeling[]);
INSERT INTO en_arr VALUES (1, '{sad,ok}'), (2, ARRAY['happy']::en_feeling[]), (3, NULL);
-- @error 22P02
INSERT INTO en_arr VALUES (4, '{sad,nope}');
SELECT id, ms FROM en_arr ORDER BY id;
SELECT id FROM en_arr WHERE 'ok' = ANY (ms) ORDER BY id;
SELECT id, unnest(ms) AS m FROM en_arr ORDER BY id, m;
-- Transactional DDL: a rolled-back CREATE TYPE and ADD VALUE leave nothing behind.
BEGIN;
CREATE TYPE en_tmp AS ENUM ('a');
ALTER TYPE en_feeling ADD VALUE 'zen';
SELECT 'a'::en_tmp, enum_range(NULL::en_tmp);
ROLLBACK;
-- @error 42704
SELECT 'a'::en_tmp;
-- @error 22P02
SELECT 'zen'::en_feeling;
-- Enum types in another schema
CREATE SCHEMA en_s;
CREATE TYPE en_s.color AS ENUM ('red', 'green');
CREATE TABLE en_s.paint (c en_s.color);
INSERT INTO en_s.paint VALUES ('green'), ('red');
SELECT c FROM en_s.paint ORDER BY c;
-- @error 42704
CREATE TABLE en_bad (c color);
-- DROP TYPE
-- @error 2BP01
DROP TYPE en_feeling;
-- @error 42704
DROP TYPE en_nope;
DROP TYPE IF EXISTS en_nope;
CREATE TYPE en_unused AS ENUM ();
-- @error 55000
SELECT enum_first(NULL::en_unused);
DROP TYPE en_unused;
DROP TABLE en_keyed;
DROP TABLE en_arr;
DROP TYPE en_feeling CASCADE;
SELECT * FROM en_people ORDER BY id;
-- @error 2BP01
DROP SCHEMA en_s;
DROP SCHEMA en_s CASCADE;
DROP TABLE en_people;
