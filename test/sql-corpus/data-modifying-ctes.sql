-- INSERT / UPDATE / DELETE inside WITH: each runs once, RETURNING rows feed the rest of the
-- statement, and every part reads the snapshot taken when the statement started (no part sees
-- another part's writes).
CREATE TABLE dm_src (id int PRIMARY KEY, v int NOT NULL, tag text);
CREATE TABLE dm_dst (id int PRIMARY KEY, v int NOT NULL, tag text);
CREATE TABLE dm_log (n serial PRIMARY KEY, what text, at_id int);
CREATE INDEX dm_src_tag ON dm_src (tag);
INSERT INTO dm_src VALUES (1, 10, 'a'), (2, 20, 'a'), (3, 30, 'b'), (4, 40, 'b'), (5, 50, NULL);
-- Move rows: the DELETE's RETURNING rows are what the INSERT inserts.
WITH moved AS (DELETE FROM dm_src WHERE tag = 'a' RETURNING *) INSERT INTO dm_dst SELECT * FROM moved;
SELECT id, v, tag FROM dm_src ORDER BY id;
SELECT id, v, tag FROM dm_dst ORDER BY id;
-- The main query reads the table as it was before the CTE changed it.
WITH u AS (UPDATE dm_src SET v = v + 1 RETURNING id, v) SELECT u.id, u.v AS new_v, s.v AS old_v FROM u JOIN dm_src s ON s.id = u.id ORDER BY u.id;
WITH u AS (UPDATE dm_src SET v = v + 1 WHERE id = 3 RETURNING v) SELECT (SELECT v FROM dm_src WHERE id = 3) AS seen, (SELECT v FROM u) AS returned;
WITH i AS (INSERT INTO dm_src VALUES (6, 60, 'c') RETURNING id) SELECT count(*) FROM dm_src;
WITH d AS (DELETE FROM dm_src WHERE tag = 'c' RETURNING id) SELECT id FROM dm_src WHERE tag = 'c';
SELECT id, v, tag FROM dm_src ORDER BY id;
-- A CTE nobody reads still runs, exactly once; one referenced twice returns the same rows.
WITH l AS (INSERT INTO dm_log (what, at_id) VALUES ('unread', 0)) SELECT 1 AS one;
WITH l AS (INSERT INTO dm_log (what, at_id) VALUES ('twice', 1) RETURNING n, what) SELECT a.what, b.what FROM l a, l b;
SELECT what, at_id FROM dm_log ORDER BY n;
-- Several CTEs, one feeding another, and the main statement a DML with RETURNING.
WITH d AS (DELETE FROM dm_dst WHERE id = 2 RETURNING id, v),
     l AS (INSERT INTO dm_log (what, at_id) SELECT 'deleted', id FROM d RETURNING at_id)
UPDATE dm_src SET v = v * 100 WHERE id IN (SELECT at_id + 1 FROM l) RETURNING id, v;
SELECT what, at_id FROM dm_log ORDER BY n;
-- A row an earlier part already changed is skipped by a later UPDATE/DELETE.
WITH d AS (DELETE FROM dm_src WHERE id = 4 RETURNING id) UPDATE dm_src SET v = -1 WHERE id IN (SELECT id FROM d);
SELECT id, v FROM dm_src ORDER BY id;
-- Deleting and re-inserting the same key in one statement.
WITH d AS (DELETE FROM dm_dst WHERE id = 1 RETURNING id, v, tag) INSERT INTO dm_dst SELECT id, v + 5, 'again' FROM d RETURNING *;
-- A WITH query named like the target table does not replace it.
WITH dm_dst AS (SELECT 1 AS id) DELETE FROM dm_dst WHERE id = 1;
SELECT count(*) FROM dm_dst;
WITH x AS (UPDATE dm_src SET tag = 'z' WHERE id = 5 RETURNING id AS changed) SELECT * FROM x;
-- @error 0A000
WITH d AS (DELETE FROM dm_src WHERE id = 1) SELECT * FROM d;
-- @error 0A000
SELECT * FROM (WITH d AS (DELETE FROM dm_src RETURNING *) SELECT * FROM d) s;
-- @error 42P01
WITH i AS (INSERT INTO dm_missing VALUES (1) RETURNING *) SELECT * FROM i;
-- @error 23505
WITH i AS (INSERT INTO dm_dst VALUES (9, 9, 'x')) INSERT INTO dm_dst VALUES (9, 10, 'y');
SELECT count(*) FROM dm_dst WHERE id = 9;
-- Plain DML reads one snapshot too: subqueries in SET and RETURNING do not see the
-- statement's own writes.
CREATE TABLE dm_chain (id int PRIMARY KEY, v int);
INSERT INTO dm_chain VALUES (1, 1), (2, 2), (3, 3);
UPDATE dm_chain c SET v = (SELECT v FROM dm_chain p WHERE p.id = c.id - 1) RETURNING id, v;
DELETE FROM dm_chain WHERE id > 1 RETURNING id, (SELECT count(*) FROM dm_chain) AS seen;
UPDATE dm_chain SET v = 5 RETURNING id, (SELECT v FROM dm_chain) AS before;
INSERT INTO dm_chain VALUES (2, 0) ON CONFLICT (id) DO NOTHING RETURNING id, (SELECT count(*) FROM dm_chain) AS seen;
DROP TABLE dm_chain;
-- Column aliases, DEFAULT VALUES, ON CONFLICT, USING, WITH RECURSIVE beside a DML CTE, LIMIT 0
-- (the CTE still runs), duplicate names and alias counts.
CREATE TABLE dm_x (id serial PRIMARY KEY, v int DEFAULT 7, u int UNIQUE);
INSERT INTO dm_x (v, u) VALUES (1, 1), (2, 2), (3, 3);
WITH d(a, b) AS (DELETE FROM dm_x WHERE id = 1 RETURNING id, v) SELECT a, b FROM d;
WITH i AS (INSERT INTO dm_x DEFAULT VALUES RETURNING *) SELECT v FROM i;
WITH i AS (INSERT INTO dm_x (id, v, u) VALUES (2, 9, 9) ON CONFLICT (id) DO UPDATE SET v = excluded.v * 10 RETURNING id, v) SELECT * FROM i;
WITH x AS (UPDATE dm_x SET v = v + 1 WHERE id = 3 RETURNING id) DELETE FROM dm_x USING x WHERE dm_x.id = x.id + 1 RETURNING dm_x.id;
WITH RECURSIVE i AS (INSERT INTO dm_x (v, u) VALUES (100, 100) RETURNING v), r(n) AS (SELECT v FROM i UNION ALL SELECT n + 1 FROM r WHERE n < 103) SELECT n FROM r ORDER BY n;
WITH a AS (SELECT id FROM dm_x WHERE v = 100), d AS (DELETE FROM dm_x WHERE id IN (SELECT id FROM a) RETURNING id) SELECT count(*) FROM d;
WITH d AS (DELETE FROM dm_x RETURNING id) SELECT count(*) FROM d UNION ALL SELECT count(*) FROM dm_x;
WITH d AS (DELETE FROM dm_x RETURNING id) SELECT 1 FROM d LIMIT 0;
SELECT count(*) FROM dm_x;
-- @error 42703
WITH d AS (DELETE FROM dm_x RETURNING nope) SELECT 1;
-- @error 42712
WITH d AS (DELETE FROM dm_x RETURNING id), d AS (DELETE FROM dm_x RETURNING id) SELECT 1;
-- @error 42P10
WITH d(a, b) AS (SELECT 1) SELECT * FROM d;
-- @error 42P10
WITH d(a, b) AS (DELETE FROM dm_x RETURNING id) SELECT 1;
-- @error 42P10
WITH d(a) AS (DELETE FROM dm_x) SELECT 1;
-- @error 42P10
WITH RECURSIVE r(a, b) AS (SELECT 1 UNION ALL SELECT a + 1 FROM r WHERE a < 3) SELECT * FROM r;
WITH d(a) AS (SELECT 1, 2) SELECT * FROM d;
DROP TABLE dm_x;
DROP TABLE dm_log;
DROP TABLE dm_dst;
DROP TABLE dm_src;
