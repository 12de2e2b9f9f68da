-- Foreign keys between columns of different types: which pairs PostgreSQL accepts (same btree
-- family, or an implicit cast to the referenced type), and that a key value matches only a value
-- equal to it (a numeric 1.5 never references the integer 2; deleting a float8 parent 1.5 does not
-- cascade to the child of the parent 2).
CREATE TABLE fkt_p (id int4 PRIMARY KEY);
INSERT INTO fkt_p VALUES (1), (2);
-- @error 42804
CREATE TABLE fkt_bad_numeric (id int PRIMARY KEY, pid numeric REFERENCES fkt_p(id));
-- @error 42804
CREATE TABLE fkt_bad_text (id int PRIMARY KEY, pid text REFERENCES fkt_p(id));
-- @error 42804
CREATE TABLE fkt_bad_float (id int PRIMARY KEY, pid float8 REFERENCES fkt_p(id));
-- @error 42804
CREATE TABLE fkt_bad_bool (id int PRIMARY KEY, pid bool REFERENCES fkt_p(id));
CREATE TABLE fkt_late (id int PRIMARY KEY, pid text, pnum numeric);
-- @error 42804
ALTER TABLE fkt_late ADD FOREIGN KEY (pid) REFERENCES fkt_p(id);
-- @error 42804
ALTER TABLE fkt_late ADD CONSTRAINT fkt_late_num FOREIGN KEY (pnum) REFERENCES fkt_p(id);
-- The integer family: int8 and int2 children of an int4 key.
CREATE TABLE fkt_c8 (id int PRIMARY KEY, pid int8 REFERENCES fkt_p(id));
CREATE TABLE fkt_c2 (id int PRIMARY KEY, pid int2 REFERENCES fkt_p(id));
INSERT INTO fkt_c8 VALUES (1, 1);
INSERT INTO fkt_c2 VALUES (1, 2);
-- @error 23503
INSERT INTO fkt_c8 VALUES (2, 3);
-- A value no int4 can hold references nothing: 23503, not an overflow error.
-- @error 23503
INSERT INTO fkt_c8 VALUES (3, 10000000000);
-- @error 23503
DELETE FROM fkt_p WHERE id = 2;
SELECT * FROM fkt_c8 ORDER BY id;
-- An int8 key with an int4 child: a parent beyond int4 has no children to check.
CREATE TABLE fkt_p8 (id int8 PRIMARY KEY);
CREATE TABLE fkt_c4 (id int PRIMARY KEY, pid int4 REFERENCES fkt_p8(id) ON DELETE CASCADE);
INSERT INTO fkt_p8 VALUES (5), (10000000000);
INSERT INTO fkt_c4 VALUES (1, 5);
DELETE FROM fkt_p8 WHERE id = 10000000000;
SELECT * FROM fkt_c4 ORDER BY id;
-- An implicit cast to the key's type: int4 children of float8 and numeric keys.
CREATE TABLE fkt_pf (v float8 PRIMARY KEY);
CREATE TABLE fkt_cf (id int PRIMARY KEY, v int4 REFERENCES fkt_pf(v) ON DELETE CASCADE ON UPDATE CASCADE);
INSERT INTO fkt_pf VALUES (1.5), (2), (7);
INSERT INTO fkt_cf VALUES (1, 2), (2, 7);
-- @error 23503
INSERT INTO fkt_cf VALUES (3, 1);
DELETE FROM fkt_pf WHERE v = 1.5;
SELECT * FROM fkt_cf ORDER BY id;
DELETE FROM fkt_pf WHERE v = 2;
SELECT * FROM fkt_cf ORDER BY id;
CREATE TABLE fkt_pn (v numeric PRIMARY KEY);
CREATE TABLE fkt_cn (id int PRIMARY KEY, v int REFERENCES fkt_pn(v) ON DELETE CASCADE);
INSERT INTO fkt_pn VALUES (1.5), (2.0), (3);
INSERT INTO fkt_cn VALUES (1, 2), (2, 3);
DELETE FROM fkt_pn WHERE v = 1.5;
SELECT * FROM fkt_cn ORDER BY id;
DELETE FROM fkt_pn WHERE v = 2;
SELECT * FROM fkt_cn ORDER BY id;
-- String types: varchar and text reference each other; a key longer than the child's varchar(n)
-- has no children.
CREATE TABLE fkt_pt (k text PRIMARY KEY);
CREATE TABLE fkt_ct (id int PRIMARY KEY, k varchar(3) REFERENCES fkt_pt(k) ON DELETE CASCADE);
INSERT INTO fkt_pt VALUES ('abc'), ('abcdef');
INSERT INTO fkt_ct VALUES (1, 'abc');
-- @error 23503
INSERT INTO fkt_ct VALUES (2, 'b');
DELETE FROM fkt_pt WHERE k = 'abcdef';
SELECT * FROM fkt_ct ORDER BY id;
-- Dates reference timestamps (one family).
CREATE TABLE fkt_pts (t timestamp PRIMARY KEY);
CREATE TABLE fkt_cd (id int PRIMARY KEY, d date REFERENCES fkt_pts(t));
INSERT INTO fkt_pts VALUES ('2024-01-02 00:00'), ('2024-01-03 12:00');
INSERT INTO fkt_cd VALUES (1, '2024-01-02');
-- @error 23503
INSERT INTO fkt_cd VALUES (2, '2024-01-03');
SELECT * FROM fkt_cd ORDER BY id;
DROP TABLE fkt_cd;
DROP TABLE fkt_pts;
DROP TABLE fkt_ct;
DROP TABLE fkt_pt;
DROP TABLE fkt_cn;
DROP TABLE fkt_pn;
DROP TABLE fkt_cf;
DROP TABLE fkt_pf;
DROP TABLE fkt_c4;
DROP TABLE fkt_p8;
DROP TABLE fkt_c2;
DROP TABLE fkt_c8;
DROP TABLE fkt_late;
DROP TABLE fkt_p;
