-- DO blocks with variables, loops and dynamic SQL, as hand-written migration scripts use them.
CREATE TABLE dov_t (id int PRIMARY KEY, name text NOT NULL, qty int);
INSERT INTO dov_t VALUES (1, 'a', 10), (2, 'b', NULL), (3, 'c', 30);
CREATE TABLE dov_log (n int PRIMARY KEY, msg text);
-- Declarations with defaults, assignment (:= and =), SELECT INTO, variables in INSERT/UPDATE/WHERE.
DO $$
DECLARE
  total int := 0;
  k int;
  label text = 'sum';
  big bigint;
BEGIN
  SELECT sum(qty) INTO total FROM dov_t;
  k := total / 10;
  big = k::bigint * 1000000000;
  INSERT INTO dov_log VALUES (k, label || '=' || total);
  UPDATE dov_t SET qty = qty + k WHERE id = 1;
  INSERT INTO dov_log VALUES (big / 1000000000 + 100, 'big');
END $$;
SELECT * FROM dov_log ORDER BY n;
SELECT id, qty FROM dov_t ORDER BY id;
-- FOR over a range (REVERSE, BY), CONTINUE WHEN, EXIT WHEN; the loop variable is an integer.
DO $$
DECLARE acc int := 0;
BEGIN
  FOR i IN 1..10 LOOP
    CONTINUE WHEN i % 2 = 0;
    EXIT WHEN i > 7;
    acc := acc + i;
  END LOOP;
  INSERT INTO dov_log VALUES (10, 'odd sum ' || acc);
  FOR i IN REVERSE 10..1 BY 3 LOOP
    INSERT INTO dov_log VALUES (20 + i, 'rev');
  END LOOP;
  FOR i IN 5..1 LOOP
    INSERT INTO dov_log VALUES (999, 'never');
  END LOOP;
END $$;
SELECT * FROM dov_log WHERE n >= 10 ORDER BY n;
-- FOR over a query into a record; record fields in statements; NULL fields; FOUND.
DO $$
DECLARE r record; seen int := 0;
BEGIN
  FOR r IN SELECT id, name, qty FROM dov_t ORDER BY id LOOP
    seen := seen + 1;
    INSERT INTO dov_log VALUES (100 + r.id, r.name || ':' || coalesce(r.qty::text, 'null'));
  END LOOP;
  IF FOUND THEN INSERT INTO dov_log VALUES (200, 'found after loop ' || seen); END IF;
  FOR r IN SELECT id FROM dov_t WHERE id < 0 LOOP
    INSERT INTO dov_log VALUES (998, 'never');
  END LOOP;
  IF NOT FOUND THEN INSERT INTO dov_log VALUES (201, 'not found after empty loop'); END IF;
  UPDATE dov_t SET qty = 0 WHERE id = 12345;
  IF NOT FOUND THEN INSERT INTO dov_log VALUES (202, 'update hit nothing'); END IF;
  SELECT id, name INTO r FROM dov_t WHERE id = 3;
  INSERT INTO dov_log VALUES (203, r.name);
END $$;
SELECT * FROM dov_log WHERE n >= 100 ORDER BY n;
-- WHILE and a bare LOOP with EXIT.
DO $$
DECLARE n int := 3; m int := 0;
BEGIN
  WHILE n > 0 LOOP
    n := n - 1;
    m := m + 10;
  END LOOP;
  LOOP
    m := m + 1;
    EXIT WHEN m >= 35;
  END LOOP;
  INSERT INTO dov_log VALUES (300, 'm=' || m);
END $$;
SELECT * FROM dov_log WHERE n = 300;
-- Dynamic SQL: EXECUTE a built string, with USING parameters, and format(%I, %L).
DO $$
DECLARE tbl text := 'dov_dyn'; v int := 7;
BEGIN
  EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text)', tbl);
  EXECUTE format('INSERT INTO %I VALUES ($1, $2)', tbl) USING v, 'seven';
  EXECUTE 'INSERT INTO dov_dyn VALUES (' || v + 1 || ', ' || quote_literal('eight') || ')';
END $$;
SELECT * FROM dov_dyn ORDER BY id;
-- The usual migration idiom: drop every constraint of a kind found in the catalog.
ALTER TABLE dov_t ADD CONSTRAINT dov_t_qty_check CHECK (qty >= 0);
ALTER TABLE dov_t ADD CONSTRAINT dov_t_name_check CHECK (name <> '');
DO $$
DECLARE c record;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'dov_t'::regclass AND contype = 'c' ORDER BY conname LOOP
    EXECUTE format('ALTER TABLE dov_t DROP CONSTRAINT %I', c.conname);
  END LOOP;
END $$;
SELECT conname FROM pg_constraint WHERE conrelid = 'dov_t'::regclass ORDER BY conname;
-- EXCEPTION handlers see SQLSTATE and SQLERRM; variables keep what the block set before the error.
DO $$
DECLARE step int := 0;
BEGIN
  step := 1;
  BEGIN
    INSERT INTO dov_log VALUES (4, 'dup');
  EXCEPTION WHEN unique_violation THEN
    INSERT INTO dov_log VALUES (400, 'caught ' || SQLSTATE || ' at step ' || step);
  END;
END $$;
SELECT * FROM dov_log WHERE n = 400;
-- Variables of other types, NULL handling and CONSTANT.
DO $$
DECLARE
  d date := '2024-02-28';
  ts timestamptz;
  flag boolean := NULL;
  pi CONSTANT numeric := 3.14159;
  tags text[] := ARRAY['x', 'y'];
BEGIN
  d := d + 1;
  INSERT INTO dov_log VALUES (500, d::text);
  INSERT INTO dov_log VALUES (501, coalesce(flag::text, 'null flag'));
  INSERT INTO dov_log VALUES (502, (pi * 2)::text);
  INSERT INTO dov_log VALUES (503, array_to_string(tags, ','));
  INSERT INTO dov_log VALUES (504, coalesce(ts::text, 'null ts'));
END $$;
SELECT * FROM dov_log WHERE n >= 500 ORDER BY n;
-- SELECT INTO STRICT and row counts.
-- @error P0002
DO $$ DECLARE x int; BEGIN SELECT id INTO STRICT x FROM dov_t WHERE id = 999; END $$;
-- @error P0003
DO $$ DECLARE x int; BEGIN SELECT id INTO STRICT x FROM dov_t; END $$;
DO $$ DECLARE x int := 5; BEGIN SELECT id INTO x FROM dov_t WHERE id = 999; INSERT INTO dov_log VALUES (600, coalesce(x::text, 'null after no row')); END $$;
SELECT * FROM dov_log WHERE n = 600;
-- A variable named like the INSERT target's column is no ambiguity (the target's columns are not
-- in scope in VALUES); INSERT ... RETURNING ... INTO.
DO $$ DECLARE n int := 650; m text; BEGIN INSERT INTO dov_log VALUES (n, 'named like the column'); INSERT INTO dov_log VALUES (651, 'r') RETURNING msg || '!' INTO m; INSERT INTO dov_log VALUES (652, m); END $$;
SELECT * FROM dov_log WHERE n >= 650 AND n < 700 ORDER BY n;
-- Errors: a name that is both a variable and a column is ambiguous; assignment to a CONSTANT;
-- a NOT NULL variable set to NULL; a bad cast on assignment; EXECUTE of NULL; a record used
-- before it has a row; RAISE with parameters.
-- @error 42702
DO $$ DECLARE id int := 1; BEGIN DELETE FROM dov_t WHERE id = id; END $$;
SELECT count(*) FROM dov_t;
-- @error 42702
DO $$ DECLARE n int := 1; k int; BEGIN INSERT INTO dov_log VALUES (660, 'x') RETURNING n INTO k; END $$;
-- @error 22004
DO $$ DECLARE n int NOT NULL := 1; BEGIN n := NULL; END $$;
-- @error 22P02
DO $$ DECLARE n int; BEGIN n := 'abc'; END $$;
-- @error 22004
DO $$ DECLARE q text; BEGIN EXECUTE q; END $$;
-- @error 55000
DO $$ DECLARE r record; BEGIN INSERT INTO dov_log VALUES (700, r.name); END $$;
-- @error 42703
DO $$ DECLARE r record; BEGIN SELECT id INTO r FROM dov_t WHERE id = 1; INSERT INTO dov_log VALUES (701, r.nope); END $$;
-- @error P0001
DO $$ DECLARE n int := 42; BEGIN RAISE EXCEPTION 'n is % and %', n, n + 1; END $$;
-- @error 22023
DO $$ DECLARE n int := 0; BEGIN RAISE EXCEPTION 'bad n %', n USING ERRCODE = '22023'; END $$;
-- @error 42601
DO $$ BEGIN RAISE NOTICE 'x % %', 1; END $$;
-- @error 42601
DO $$ BEGIN EXIT; END $$;
-- @error 42601
DO $$ DECLARE n int := 0; BEGIN IF n = 0 THEN CONTINUE; END IF; END $$;
DO $$ DECLARE n int := 0; BEGIN LOOP BEGIN n := n + 1; IF n >= 3 THEN EXIT; END IF; END; END LOOP; INSERT INTO dov_log VALUES (800, 'exit from a nested block after ' || n); END $$;
SELECT * FROM dov_log WHERE n = 800;
SELECT count(*) FROM dov_log;
DROP TABLE dov_dyn;
DROP TABLE dov_log;
DROP TABLE dov_t;
