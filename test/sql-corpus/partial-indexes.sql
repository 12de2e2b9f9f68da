-- Partial indexes (CREATE [UNIQUE] INDEX ... WHERE pred), as Alembic/SQLAlchemy migrations write
-- them (postgresql_where): a unique partial index is unique among the rows its predicate holds
-- only, rows move in and out of it on UPDATE, queries return every matching row whether or not
-- they can read the index, ON CONFLICT infers it only with its predicate, the catalog shows the
-- predicate, it follows RENAME COLUMN and goes with DROP COLUMN; bad predicates are refused.
CREATE TABLE pidx (id int PRIMARY KEY, email text, deleted boolean NOT NULL DEFAULT false, n int);
INSERT INTO pidx VALUES (1, 'a@x', false, 1), (2, 'a@x', true, 2), (3, 'b@x', false, NULL), (4, NULL, false, 4);
CREATE UNIQUE INDEX pidx_live_email ON pidx (email) WHERE NOT deleted;
CREATE INDEX pidx_n ON pidx (n) WHERE n IS NOT NULL;
INSERT INTO pidx VALUES (5, 'a@x', true, 5);
-- @error 23505
INSERT INTO pidx VALUES (6, 'a@x', false, 6);
-- @error 23505
UPDATE pidx SET deleted = false WHERE id = 2;
UPDATE pidx SET deleted = true WHERE id = 1;
UPDATE pidx SET deleted = false WHERE id = 2;
SELECT id, email, deleted FROM pidx WHERE email = 'a@x' AND NOT deleted ORDER BY id;
SELECT id FROM pidx p WHERE p.email = 'a@x' AND NOT p.deleted ORDER BY id;
SELECT id FROM pidx WHERE email = 'a@x' ORDER BY id;
SELECT id FROM pidx WHERE n = 4;
SELECT id FROM pidx WHERE n IS NULL ORDER BY id;
SELECT id FROM pidx WHERE n > 1 AND n IS NOT NULL ORDER BY id;
UPDATE pidx SET n = NULL WHERE id = 4;
SELECT id FROM pidx WHERE n = 4;
DELETE FROM pidx WHERE id = 5;
SELECT id FROM pidx WHERE n = 5;
INSERT INTO pidx VALUES (7, 'c@x', false, 7) ON CONFLICT (email) WHERE NOT deleted DO UPDATE SET n = 70;
INSERT INTO pidx VALUES (8, 'c@x', false, 8) ON CONFLICT (email) WHERE NOT deleted DO UPDATE SET n = 80;
-- @error 42P10
INSERT INTO pidx VALUES (9, 'c@x', false, 9) ON CONFLICT (email) DO NOTHING;
-- Without a conflict target, DO NOTHING skips rows that conflict on a partial unique index.
INSERT INTO pidx VALUES (9, 'c@x', false, 9) ON CONFLICT DO NOTHING;
INSERT INTO pidx VALUES (9, 'c@x', true, 9) ON CONFLICT DO NOTHING;
SELECT id, n FROM pidx WHERE email = 'c@x' ORDER BY id;
SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'pidx' ORDER BY 1;
SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'pidx'::regclass ORDER BY 1;
-- An index name is a regclass too (pg_get_indexdef('ix'::regclass)).
SELECT 'pidx_n'::regclass, 'public.pidx_pkey'::regclass;
SELECT relname, relkind FROM pg_class WHERE oid = 'pidx_n'::regclass;
SELECT pg_get_indexdef('pidx_n'::regclass);
ALTER TABLE pidx RENAME deleted TO removed;
INSERT INTO pidx VALUES (10, 'd@x', false, 10);
-- @error 23505
INSERT INTO pidx VALUES (11, 'a@x', false, 11);
INSERT INTO pidx VALUES (12, 'a@x', true, 12);
SELECT indexdef FROM pg_indexes WHERE indexname = 'pidx_live_email';
ALTER TABLE pidx DROP COLUMN removed;
SELECT indexname FROM pg_indexes WHERE tablename = 'pidx' ORDER BY 1;
INSERT INTO pidx VALUES (13, 'a@x', 13);
SELECT count(*) FROM pidx WHERE email = 'a@x';
-- @error 42804
CREATE INDEX pidx_bad ON pidx (n) WHERE n;
-- @error 42703
CREATE INDEX pidx_bad ON pidx (n) WHERE nope > 1;
-- @error 0A000
CREATE INDEX pidx_bad ON pidx (n) WHERE n > (SELECT 1);
-- @error 42P17
CREATE INDEX pidx_bad ON pidx (n) WHERE n > random();
-- @error 42803
CREATE INDEX pidx_bad ON pidx (n) WHERE count(*) > 1;
CREATE UNIQUE INDEX pidx_email_big ON pidx (email) WHERE n > 100;
-- @error 42830
CREATE TABLE pidx_child (id int PRIMARY KEY, e text REFERENCES pidx (email));
DROP INDEX pidx_email_big;
-- A partial unique index created over rows that already repeat inside its predicate fails.
INSERT INTO pidx VALUES (20, 'z@x', 200), (21, 'z@x', 201);
-- @error 23505
CREATE UNIQUE INDEX pidx_dup ON pidx (email) WHERE n > 150;
CREATE UNIQUE INDEX pidx_ok ON pidx (email) WHERE n > 200;
-- @error 23505
INSERT INTO pidx VALUES (22, 'z@x', 300);
-- A foreign key's cascade finds every child row, not only those a partial index holds.
CREATE TABLE pidx_parent (id int PRIMARY KEY);
CREATE TABLE pidx_kid (id int PRIMARY KEY, parent int REFERENCES pidx_parent ON DELETE CASCADE, flag boolean);
CREATE INDEX pidx_kid_flagged ON pidx_kid (parent) WHERE flag;
INSERT INTO pidx_parent VALUES (1);
INSERT INTO pidx_kid VALUES (1, 1, true), (2, 1, false), (3, 1, NULL);
DELETE FROM pidx_parent WHERE id = 1;
SELECT count(*) FROM pidx_kid;
DROP TABLE pidx_kid;
DROP TABLE pidx_parent;
DROP TABLE pidx;
