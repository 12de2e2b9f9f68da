-- Server-side cursors (issue 12): DECLARE / FETCH / MOVE / CLOSE, WITH HOLD, SCROLL, pg_cursors,
-- as psycopg's named cursors, SQLAlchemy's yield_per and asyncpg's pool reset use them.
-- pg_cursors is read WHERE name <> '': PostgreSQL also lists the protocol-level (unnamed) portal
-- that runs the query itself under the extended protocol; Weft lists DECLAREd cursors only.
CREATE TABLE cur_t (id int PRIMARY KEY, v text);
INSERT INTO cur_t SELECT g, 'v' || g FROM generate_series(1, 25) g;
-- @error 25P01
DECLARE c0 CURSOR FOR SELECT id FROM cur_t;
BEGIN;
-- (a cursor without SCROLL is forward-only in Weft; PostgreSQL may allow backward moves on simple plans)
DECLARE c1 NO SCROLL CURSOR FOR SELECT id, v FROM cur_t ORDER BY id;
FETCH c1;
FETCH NEXT FROM c1;
FETCH 3 FROM c1;
FETCH FORWARD 2 IN c1;
MOVE FORWARD 5 IN c1;
FETCH c1;
MOVE 2 IN c1;
FETCH RELATIVE 2 FROM c1;
FETCH ABSOLUTE 20 FROM c1;
FETCH ALL FROM c1;
FETCH c1;
MOVE 3 IN c1;
SELECT name, is_holdable, is_binary, is_scrollable FROM pg_cursors WHERE name <> '' ORDER BY name;
-- @error 42P03
DECLARE c1 CURSOR FOR SELECT 1;
ROLLBACK;
SELECT count(*) FROM pg_cursors WHERE name <> '';
BEGIN;
DECLARE c2 NO SCROLL CURSOR FOR SELECT id FROM cur_t ORDER BY id;
FETCH 2 FROM c2;
-- @error 55000
FETCH PRIOR FROM c2;
ROLLBACK;
BEGIN;
DECLARE s SCROLL CURSOR FOR SELECT id FROM cur_t WHERE id <= 6 ORDER BY id;
FETCH LAST FROM s;
FETCH PRIOR FROM s;
FETCH BACKWARD 2 FROM s;
FETCH FIRST FROM s;
FETCH ABSOLUTE -2 FROM s;
FETCH RELATIVE 0 FROM s;
FETCH RELATIVE -1 FROM s;
FETCH FORWARD ALL FROM s;
FETCH BACKWARD ALL FROM s;
MOVE ABSOLUTE 3 IN s;
FETCH s;
FETCH ABSOLUTE 100 FROM s;
FETCH PRIOR FROM s;
CLOSE s;
-- @error 34000
FETCH s;
ROLLBACK;
-- WITH HOLD survives COMMIT, with the rows of its snapshot
BEGIN;
DECLARE h CURSOR WITH HOLD FOR SELECT id, v FROM cur_t WHERE id > 20 ORDER BY id;
DECLARE nh CURSOR FOR SELECT id FROM cur_t;
FETCH h;
COMMIT;
SELECT name, is_holdable FROM pg_cursors WHERE name <> '' ORDER BY name;
UPDATE cur_t SET v = 'changed' WHERE id > 20;
FETCH ALL FROM h;
-- @error 34000
FETCH nh;
BEGIN;
DECLARE h2 CURSOR WITH HOLD FOR SELECT 1 AS one;
ROLLBACK;
SELECT name FROM pg_cursors WHERE name <> '' ORDER BY name;
-- WITH HOLD outside a transaction block
DECLARE h3 CURSOR WITH HOLD FOR SELECT id FROM cur_t WHERE id < 4 ORDER BY id;
FETCH 2 FROM h3;
CLOSE h3;
-- @error 34000
CLOSE h3;
CLOSE ALL;
SELECT count(*) FROM pg_cursors WHERE name <> '';
-- an error in the block closes its cursors
BEGIN;
DECLARE e CURSOR FOR SELECT id FROM cur_t;
-- @error 22012
DECLARE e2 CURSOR FOR SELECT 1 / 0;
-- @error 25P02
FETCH e;
ROLLBACK;
SELECT count(*) FROM pg_cursors WHERE name <> '';
DROP TABLE cur_t;
