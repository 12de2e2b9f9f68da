-- Constraints that were silently weakened (issue 12): ON CONFLICT DO UPDATE touching a row
-- twice, TRUNCATE of a table referenced by a foreign key, MATCH FULL foreign keys.
CREATE TABLE ce_oc (k int PRIMARY KEY, v int);
INSERT INTO ce_oc VALUES (1, 1);
-- @error 21000
INSERT INTO ce_oc VALUES (1, 10), (1, 20) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
-- @error 21000
INSERT INTO ce_oc VALUES (2, 10), (2, 20) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
-- @error 21000
INSERT INTO ce_oc SELECT 6, g FROM generate_series(1, 2) g ON CONFLICT (k) DO UPDATE SET v = excluded.v;
INSERT INTO ce_oc VALUES (3, 10), (3, 20) ON CONFLICT (k) DO NOTHING;
INSERT INTO ce_oc VALUES (1, 10), (1, 20) ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE false;
INSERT INTO ce_oc VALUES (4, 1), (5, 2) ON CONFLICT (k) DO UPDATE SET v = excluded.v RETURNING *;
INSERT INTO ce_oc VALUES (4, 1), (5, 2) ON CONFLICT (k) DO UPDATE SET v = ce_oc.v + excluded.v RETURNING *;
SELECT * FROM ce_oc ORDER BY k;
-- TRUNCATE and foreign keys
CREATE TABLE ce_p (id int PRIMARY KEY);
CREATE TABLE ce_c (id int PRIMARY KEY, p int REFERENCES ce_p);
CREATE TABLE ce_gc (id int PRIMARY KEY, c int REFERENCES ce_c);
CREATE TABLE ce_self (id int PRIMARY KEY, parent int REFERENCES ce_self);
INSERT INTO ce_p VALUES (1), (2);
INSERT INTO ce_c VALUES (10, 1);
INSERT INTO ce_gc VALUES (100, 10);
INSERT INTO ce_self VALUES (1, NULL), (2, 1);
-- @error 0A000
TRUNCATE ce_p;
-- @error 0A000
TRUNCATE ce_p, ce_c;
-- @error 0A000
TRUNCATE ce_c;
SELECT (SELECT count(*) FROM ce_p) AS p, (SELECT count(*) FROM ce_c) AS c, (SELECT count(*) FROM ce_gc) AS gc;
TRUNCATE ce_gc, ce_c, ce_p;
SELECT (SELECT count(*) FROM ce_p) AS p, (SELECT count(*) FROM ce_c) AS c, (SELECT count(*) FROM ce_gc) AS gc;
INSERT INTO ce_p VALUES (1), (2);
INSERT INTO ce_c VALUES (10, 1);
INSERT INTO ce_gc VALUES (100, 10);
TRUNCATE ce_p CASCADE;
SELECT (SELECT count(*) FROM ce_p) AS p, (SELECT count(*) FROM ce_c) AS c, (SELECT count(*) FROM ce_gc) AS gc;
TRUNCATE ce_self;
SELECT count(*) FROM ce_self;
-- MATCH FULL
CREATE TABLE ce_mp (a int, b int, PRIMARY KEY (a, b));
INSERT INTO ce_mp VALUES (1, 1);
CREATE TABLE ce_mf (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES ce_mp MATCH FULL ON DELETE SET NULL);
CREATE TABLE ce_ms (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES ce_mp ON UPDATE CASCADE ON DELETE RESTRICT);
-- @error 23503
INSERT INTO ce_mf VALUES (1, 1, NULL);
-- @error 23503
INSERT INTO ce_mf VALUES (2, NULL, 1);
INSERT INTO ce_mf VALUES (3, NULL, NULL);
INSERT INTO ce_mf VALUES (4, 1, 1);
-- @error 23503
INSERT INTO ce_mf VALUES (5, 2, 2);
-- @error 23503
UPDATE ce_mf SET b = NULL WHERE id = 4;
INSERT INTO ce_ms VALUES (1, 1, NULL), (2, 9, NULL);
SELECT conname, confmatchtype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid IN ('ce_mf'::regclass, 'ce_ms'::regclass) AND contype = 'f' ORDER BY 1;
-- @error 0A000
CREATE TABLE ce_mpart (a int, b int, FOREIGN KEY (a, b) REFERENCES ce_mp MATCH PARTIAL);
CREATE TABLE ce_ma (id int PRIMARY KEY, a int, b int);
INSERT INTO ce_ma VALUES (1, 1, NULL);
-- @error 23503
ALTER TABLE ce_ma ADD CONSTRAINT ce_ma_fk FOREIGN KEY (a, b) REFERENCES ce_mp MATCH FULL;
DROP TABLE ce_ms;
DROP TABLE ce_ma;
DELETE FROM ce_mp;
SELECT * FROM ce_mf ORDER BY id;
DROP TABLE ce_mf;
DROP TABLE ce_mp;
DROP TABLE ce_self;
DROP TABLE ce_gc;
DROP TABLE ce_c;
DROP TABLE ce_p;
DROP TABLE ce_oc;
