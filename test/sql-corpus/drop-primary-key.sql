-- ALTER TABLE ... DROP CONSTRAINT <primary key> (pg_restore --clean sends it before DROP TABLE):
-- refused while a foreign key depends on it, dropped with CASCADE; the rows, the other indexes
-- and the NOT NULL of the key columns stay; duplicates of the old key are then allowed, and a
-- new primary key can be added.
CREATE TABLE dpk (id int PRIMARY KEY, v text UNIQUE, n int);
CREATE INDEX dpk_n ON dpk (n);
INSERT INTO dpk VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', NULL);
CREATE TABLE dpk_child (id int PRIMARY KEY, p int REFERENCES dpk);
INSERT INTO dpk_child VALUES (1, 1);
-- @error 2BP01
ALTER TABLE dpk DROP CONSTRAINT dpk_pkey;
ALTER TABLE dpk DROP CONSTRAINT dpk_pkey CASCADE;
SELECT conname, contype FROM pg_constraint WHERE conrelid IN ('dpk'::regclass, 'dpk_child'::regclass) ORDER BY 1;
SELECT indexname FROM pg_indexes WHERE tablename = 'dpk' ORDER BY 1;
SELECT id, v, n FROM dpk ORDER BY id;
SELECT id FROM dpk WHERE n = 20;
SELECT id FROM dpk WHERE v = 'c';
INSERT INTO dpk VALUES (1, 'd', 30);
-- @error 23502
INSERT INTO dpk VALUES (NULL, 'e', 40);
-- @error 23505
INSERT INTO dpk VALUES (5, 'a', 50);
SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'dpk'::regclass AND attnum > 0 ORDER BY attnum;
UPDATE dpk SET n = n + 1 WHERE id = 1;
DELETE FROM dpk WHERE v = 'b';
SELECT id, v, n FROM dpk ORDER BY id, v;
SELECT count(*) FROM dpk WHERE id = 1;
INSERT INTO dpk_child VALUES (2, 99);
ALTER TABLE dpk ADD PRIMARY KEY (v);
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'dpk'::regclass AND contype = 'p';
-- @error 23505
INSERT INTO dpk VALUES (7, 'a', 70);
-- @error 42704
ALTER TABLE dpk DROP CONSTRAINT dpk_nope;
ALTER TABLE dpk DROP CONSTRAINT IF EXISTS dpk_nope;
DROP TABLE dpk_child;
DROP TABLE dpk;
