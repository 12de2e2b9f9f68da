-- DO blocks: CASE, EXECUTE ... INTO and GET [STACKED] DIAGNOSTICS, as migration scripts use them.
CREATE TABLE docd_t (id int PRIMARY KEY, kind text NOT NULL, qty int);
INSERT INTO docd_t VALUES (1, 'a', 10), (2, 'b', NULL), (3, 'c', 30), (4, 'a', 40);
CREATE TABLE docd_log (n int PRIMARY KEY, msg text);
-- Simple CASE with lists of values and ELSE; searched CASE; CASE inside a loop.
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id, kind, qty FROM docd_t ORDER BY id LOOP
    CASE r.kind
      WHEN 'a', 'x' THEN INSERT INTO docd_log VALUES (r.id, 'kind a or x');
      WHEN 'b' THEN INSERT INTO docd_log VALUES (r.id, 'kind b');
      ELSE INSERT INTO docd_log VALUES (r.id, 'other kind ' || r.kind);
    END CASE;
    CASE
      WHEN r.qty IS NULL THEN INSERT INTO docd_log VALUES (10 + r.id, 'no qty');
      WHEN r.qty > 25 THEN INSERT INTO docd_log VALUES (10 + r.id, 'big');
      ELSE NULL;
    END CASE;
  END LOOP;
END $$;
SELECT * FROM docd_log ORDER BY n;
-- A simple CASE's subject is evaluated once, with its own type (numeric here, text below).
DO $$
DECLARE x numeric := 2.5; s text := 'b';
BEGIN
  CASE x * 2 WHEN 5 THEN INSERT INTO docd_log VALUES (20, 'five'); ELSE INSERT INTO docd_log VALUES (20, 'not five'); END CASE;
  CASE s || 'c' WHEN 'bc' THEN INSERT INTO docd_log VALUES (21, 'bc'); END CASE;
  CASE NULL::int WHEN 1 THEN NULL; ELSE INSERT INTO docd_log VALUES (22, 'null subject goes to else'); END CASE;
END $$;
SELECT * FROM docd_log WHERE n >= 20 ORDER BY n;
-- No WHEN matches and no ELSE: 20000 (case not found).
-- @error 20000
DO $$ DECLARE n int := 7; BEGIN CASE n WHEN 1 THEN NULL; WHEN 2 THEN NULL; END CASE; END $$;
-- @error 20000
DO $$ BEGIN CASE WHEN false THEN NULL; END CASE; END $$;
-- ... unless a handler catches it.
DO $$ BEGIN CASE WHEN false THEN NULL; END CASE; EXCEPTION WHEN case_not_found THEN INSERT INTO docd_log VALUES (23, 'caught case_not_found'); END $$;
SELECT * FROM docd_log WHERE n = 23;
-- EXECUTE ... INTO: variables, a record, STRICT, USING, no row, a command without rows.
DO $$
DECLARE c int; k text; q int; r record; missing int := 5;
BEGIN
  EXECUTE 'SELECT count(*) FROM docd_t WHERE kind = $1' INTO c USING 'a';
  EXECUTE format('SELECT kind, qty FROM %I WHERE id = $1', 'docd_t') INTO STRICT k, q USING 3;
  EXECUTE 'SELECT id, kind FROM docd_t WHERE id = 4' INTO r;
  EXECUTE 'SELECT qty FROM docd_t WHERE id = 999' INTO missing;
  INSERT INTO docd_log VALUES (30, c || ' ' || k || ' ' || q || ' ' || r.id || r.kind || ' ' || coalesce(missing::text, 'null'));
  IF NOT FOUND THEN INSERT INTO docd_log VALUES (31, 'not found after an empty EXECUTE INTO'); END IF;
  EXECUTE 'SELECT id FROM docd_t ORDER BY id' INTO c;
  INSERT INTO docd_log VALUES (32, 'first row ' || c);
END $$;
SELECT * FROM docd_log WHERE n BETWEEN 30 AND 39 ORDER BY n;
-- @error P0002
DO $$ DECLARE c int; BEGIN EXECUTE 'SELECT id FROM docd_t WHERE id < 0' INTO STRICT c; END $$;
-- @error P0003
DO $$ DECLARE c int; BEGIN EXECUTE 'SELECT id FROM docd_t' INTO STRICT c; END $$;
-- @error 42601
DO $$ DECLARE c int; BEGIN EXECUTE 'UPDATE docd_t SET qty = qty WHERE id = 1' INTO c; END $$;
-- @error 22P02
DO $$ DECLARE c int; BEGIN EXECUTE 'SELECT kind FROM docd_t WHERE id = 1' INTO c; END $$;
-- GET DIAGNOSTICS ROW_COUNT after UPDATE, DELETE, INSERT ... SELECT, EXECUTE, PERFORM and a FOR loop.
DO $$
DECLARE n int; big bigint; t text;
BEGIN
  UPDATE docd_t SET qty = coalesce(qty, 0) + 1 WHERE kind = 'a';
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO docd_log VALUES (40, 'updated ' || n);
  INSERT INTO docd_log SELECT 100 + id, kind FROM docd_t;
  GET DIAGNOSTICS big = ROW_COUNT;
  INSERT INTO docd_log VALUES (41, 'inserted ' || big);
  EXECUTE 'DELETE FROM docd_log WHERE n > $1' USING 102;
  GET DIAGNOSTICS t = ROW_COUNT;
  INSERT INTO docd_log VALUES (42, 'deleted ' || t);
  PERFORM id FROM docd_t WHERE qty IS NOT NULL;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO docd_log VALUES (43, 'perform saw ' || n);
  UPDATE docd_t SET qty = qty WHERE id < 0;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO docd_log VALUES (44, 'updated ' || n || ', found ' || FOUND);
END $$;
SELECT * FROM docd_log WHERE n BETWEEN 40 AND 49 OR n > 100 ORDER BY n;
-- GET STACKED DIAGNOSTICS in a handler: the error's code, message, detail, hint and constraint.
DO $$
DECLARE st text; msg text; det text; hnt text; con text; tbl text;
BEGIN
  INSERT INTO docd_t VALUES (1, 'dup', 0);
EXCEPTION WHEN unique_violation THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, con = CONSTRAINT_NAME;
  INSERT INTO docd_log VALUES (50, st || ' / ' || msg || ' / ' || det || ' / ' || con);
END $$;
DO $$
DECLARE st text; msg text; hnt text;
BEGIN
  RAISE EXCEPTION 'custom failure %', 42 USING ERRCODE = '22023';
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
  INSERT INTO docd_log VALUES (51, st || ' / ' || msg || ' / [' || hnt || ']');
END $$;
SELECT * FROM docd_log WHERE n BETWEEN 50 AND 59 ORDER BY n;
-- @error 0Z002
DO $$ DECLARE st text; BEGIN GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE; END $$;
-- Nothing above left a partial effect behind.
SELECT count(*) FROM docd_log;
SELECT id, kind, qty FROM docd_t ORDER BY id;
DROP TABLE docd_log;
DROP TABLE docd_t;
