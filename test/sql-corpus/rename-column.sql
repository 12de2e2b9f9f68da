-- RENAME COLUMN keeps the stored expressions that name the column working: a CHECK constraint
-- (Weft used to keep the old name, and every INSERT then failed with 42703) and its definition
-- as the catalog prints it.
CREATE TABLE rncol (id int PRIMARY KEY, score int CHECK (score >= 0), CONSTRAINT rncol_pair CHECK (score < id * 100));
ALTER TABLE rncol RENAME score TO points;
INSERT INTO rncol VALUES (1, 5);
-- @error 23514
INSERT INTO rncol VALUES (2, -5);
-- @error 23514
INSERT INTO rncol VALUES (3, 1000);
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'rncol'::regclass AND contype = 'c' ORDER BY conname;
ALTER TABLE rncol RENAME COLUMN id TO ident;
INSERT INTO rncol VALUES (4, 300);
-- @error 23514
INSERT INTO rncol VALUES (5, 600);
SELECT ident, points FROM rncol ORDER BY ident;
DROP TABLE rncol;
