-- Sequence state as PostgreSQL reports it (issue 12): last_value/is_called read from the
-- sequence relation and pg_sequences.last_value, through nextval, setval and restarts; and
-- sequence bounds refused as PostgreSQL refuses them.
CREATE TABLE seqst_t (id serial PRIMARY KEY, v text);
SELECT last_value, is_called FROM seqst_t_id_seq;
SELECT last_value FROM pg_sequences WHERE sequencename = 'seqst_t_id_seq';
INSERT INTO seqst_t (v) VALUES ('a');
INSERT INTO seqst_t (v) VALUES ('b');
INSERT INTO seqst_t (v) VALUES ('c');
SELECT last_value, is_called FROM seqst_t_id_seq;
SELECT last_value FROM pg_sequences WHERE sequencename = 'seqst_t_id_seq';
INSERT INTO seqst_t (v) VALUES ('d'), ('e');
SELECT last_value, is_called FROM seqst_t_id_seq;
CREATE SEQUENCE seqst_down INCREMENT -2 START 100 MAXVALUE 100;
SELECT last_value, is_called FROM seqst_down;
SELECT nextval('seqst_down'), nextval('seqst_down');
SELECT last_value, is_called FROM seqst_down;
SELECT setval('seqst_down', 10);
SELECT last_value, is_called FROM seqst_down;
SELECT last_value FROM pg_sequences WHERE sequencename = 'seqst_down';
SELECT setval('seqst_down', 20, false);
SELECT last_value, is_called FROM seqst_down;
SELECT last_value FROM pg_sequences WHERE sequencename = 'seqst_down';
SELECT nextval('seqst_down');
SELECT last_value, is_called FROM seqst_down;
ALTER SEQUENCE seqst_down RESTART;
SELECT last_value, is_called FROM seqst_down;
SELECT nextval('seqst_down');
TRUNCATE seqst_t RESTART IDENTITY;
SELECT last_value, is_called FROM seqst_t_id_seq;
INSERT INTO seqst_t (v) VALUES ('again');
SELECT last_value, is_called FROM seqst_t_id_seq;
SELECT sequencename, last_value FROM pg_sequences WHERE sequencename LIKE 'seqst%' ORDER BY 1;
-- bounds
-- @error 22003
CREATE SEQUENCE seqst_bad1 MAXVALUE 99999999999999999999;
-- @error 22023
CREATE SEQUENCE seqst_bad2 AS int MAXVALUE 3000000000;
-- @error 22023
CREATE SEQUENCE seqst_bad3 AS smallint MINVALUE -40000;
-- @error 22023
CREATE SEQUENCE seqst_bad4 START 10 MAXVALUE 5;
-- @error 22023
CREATE SEQUENCE seqst_bad5 START 1 MINVALUE 5;
-- @error 22023
CREATE SEQUENCE seqst_bad6 MINVALUE 10 MAXVALUE 5;
-- @error 22023
CREATE SEQUENCE seqst_bad7 INCREMENT 0;
-- @error 22023
CREATE SEQUENCE seqst_bad8 CACHE 0;
CREATE SEQUENCE seqst_small AS smallint;
SELECT max_value FROM pg_sequences WHERE sequencename = 'seqst_small';
-- @error 22023
ALTER SEQUENCE seqst_small MAXVALUE 70000;
-- @error 22023
ALTER SEQUENCE seqst_small RESTART WITH 0;
-- @error 22003
SELECT setval('seqst_small', 40000);
DROP SEQUENCE seqst_small;
DROP SEQUENCE seqst_down;
DROP TABLE seqst_t;
