-- DO blocks: labels with EXIT/CONTINUE naming them, FOREACH over arrays, and RAISE with
-- condition names, USING options and a bare re-raise, as migration scripts write them.
CREATE TABLE dolf_log (n int PRIMARY KEY, msg text);
-- Nested labelled loops: EXIT and CONTINUE name the outer loop from the inner one.
DO $$
DECLARE i int := 0; j int;
BEGIN
  <<outer>> LOOP
    i := i + 1;
    j := 0;
    <<inner>> LOOP
      j := j + 1;
      CONTINUE outer WHEN i = 2;
      EXIT outer WHEN i = 4;
      EXIT inner WHEN j = 2;
      INSERT INTO dolf_log VALUES (i * 10 + j, 'i=' || i || ' j=' || j);
    END LOOP inner;
    INSERT INTO dolf_log VALUES (i * 10 + 9, 'after inner, i=' || i);
  END LOOP outer;
  INSERT INTO dolf_log VALUES (100, 'left outer at i=' || i);
END $$;
SELECT * FROM dolf_log ORDER BY n;
-- EXIT from a labelled block skips the rest of it; labelled WHILE and FOR loops.
DO $$
DECLARE k int := 0;
BEGIN
  <<setup>> BEGIN
    INSERT INTO dolf_log VALUES (200, 'in block');
    EXIT setup WHEN k = 0;
    INSERT INTO dolf_log VALUES (201, 'never');
  END setup;
  <<w>> WHILE k < 10 LOOP
    k := k + 1;
    <<f>> FOR x IN 1..5 LOOP
      CONTINUE w WHEN x = 2;
      INSERT INTO dolf_log VALUES (210 + k, 'w k=' || k || ' x=' || x);
    END LOOP f;
    EXIT w WHEN k >= 3;
  END LOOP w;
END $$;
SELECT * FROM dolf_log WHERE n >= 200 ORDER BY n;
-- FOREACH over arrays: integers into an int variable, text into text, numeric into int (rounded
-- by assignment), NULL elements, an empty array, and EXIT / CONTINUE inside.
DO $$
DECLARE v int; s text; total int := 0; seen text := '';
BEGIN
  FOREACH v IN ARRAY ARRAY[3, 1, 4, 1, 5] LOOP
    total := total + v;
  END LOOP;
  FOREACH s IN ARRAY string_to_array('a,b,,c', ',') LOOP
    CONTINUE WHEN s = '';
    seen := seen || s;
  END LOOP;
  INSERT INTO dolf_log VALUES (300, 'total ' || total || ', seen ' || seen);
  FOREACH v IN ARRAY ARRAY[1.4, 2.6]::numeric[] LOOP
    INSERT INTO dolf_log VALUES (300 + v, 'numeric element as int ' || v);
  END LOOP;
  FOREACH s IN ARRAY ARRAY['x', NULL, 'zz'] LOOP
    INSERT INTO dolf_log VALUES (310 + length(coalesce(s, 'null')), coalesce(s, 'a null element'));
  END LOOP;
  FOREACH v IN ARRAY '{}'::int[] LOOP
    INSERT INTO dolf_log VALUES (320, 'never');
  END LOOP;
  <<each>> FOREACH v IN ARRAY ARRAY[10, 20, 30] LOOP
    EXIT each WHEN v = 30;
    INSERT INTO dolf_log VALUES (330 + v / 10, 'each ' || v);
  END LOOP;
END $$;
SELECT * FROM dolf_log WHERE n >= 300 ORDER BY n;
-- FOREACH over what is not an array, or over NULL.
-- @error 42804
DO $$ DECLARE v int; BEGIN FOREACH v IN ARRAY 5 LOOP NULL; END LOOP; END $$;
-- @error 22004
DO $$ DECLARE v int; BEGIN FOREACH v IN ARRAY NULL::int[] LOOP NULL; END LOOP; END $$;
-- An element that does not fit the variable's type.
-- @error 22P02
DO $$ DECLARE v int; BEGIN FOREACH v IN ARRAY ARRAY['1', 'x'] LOOP NULL; END LOOP; END $$;
-- Labels nothing encloses, and CONTINUE naming a block.
-- @error 42601
DO $$ BEGIN LOOP EXIT nowhere; END LOOP; END $$;
-- @error 42601
DO $$ BEGIN <<b>> BEGIN LOOP CONTINUE b; END LOOP; END; END $$;
-- RAISE with a condition name, and with USING ERRCODE by name or code: the error's SQLSTATE.
-- @error 22012
DO $$ BEGIN RAISE division_by_zero; END $$;
-- @error 23505
DO $$ BEGIN RAISE EXCEPTION 'duplicate order %', 7 USING ERRCODE = 'unique_violation'; END $$;
-- @error 23514
DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '23514'; END $$;
-- @error 42704
DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'no_such_condition'; END $$;
-- @error 22004
DO $$ BEGIN RAISE EXCEPTION 'x' USING HINT = NULL; END $$;
-- What a handler sees of a raised error: message, detail, hint, names, computed options.
DO $$
DECLARE st text; msg text; det text; hin text; con text; tab text; code text := 'check_violation';
BEGIN
  BEGIN
    RAISE EXCEPTION 'order % is short by %', 42, 3.5
      USING DETAIL = 'needed ' || 10, HINT = 'top up the stock', CONSTRAINT = 'stock_ok', TABLE = 'orders', ERRCODE = code;
  EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hin = PG_EXCEPTION_HINT, con = CONSTRAINT_NAME, tab = TABLE_NAME;
    INSERT INTO dolf_log VALUES (400, concat_ws(' | ', st, msg, det, hin, con, tab));
  END;
  BEGIN
    RAISE EXCEPTION USING MESSAGE = 'built ' || 'message', ERRCODE = 'P0004';
  EXCEPTION WHEN assert_failure THEN
    INSERT INTO dolf_log VALUES (401, SQLSTATE || ' ' || SQLERRM);
  END;
  BEGIN
    RAISE unique_violation;
  EXCEPTION WHEN unique_violation THEN
    INSERT INTO dolf_log VALUES (402, SQLSTATE || ' ' || SQLERRM);
  END;
  BEGIN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation';
  EXCEPTION WHEN others THEN
    INSERT INTO dolf_log VALUES (403, SQLSTATE || ' ' || SQLERRM);
  END;
END $$;
SELECT * FROM dolf_log WHERE n >= 400 ORDER BY n;
-- A bare RAISE in a handler re-throws the error being handled, unchanged; the outer handler sees it.
DO $$
BEGIN
  BEGIN
    BEGIN
      INSERT INTO dolf_log VALUES (400, 'duplicate key');
    EXCEPTION WHEN unique_violation THEN
      INSERT INTO dolf_log VALUES (410, 'inner handler ran, then re-raised');
      RAISE;
    END;
  EXCEPTION WHEN unique_violation THEN
    INSERT INTO dolf_log VALUES (411, 'outer handler caught ' || SQLSTATE);
  END;
END $$;
SELECT * FROM dolf_log WHERE n >= 410 ORDER BY n;
-- Re-raised and not caught: the statement fails with the original SQLSTATE.
-- @error 23505
DO $$ BEGIN INSERT INTO dolf_log VALUES (400, 'dup'); EXCEPTION WHEN unique_violation THEN RAISE; END $$;
-- @error 0Z002
DO $$ BEGIN RAISE; END $$;
-- RAISE NOTICE with USING options still only notifies.
DO $$ BEGIN RAISE NOTICE 'just a notice' USING HINT = 'nothing to do'; INSERT INTO dolf_log VALUES (420, 'after notice'); END $$;
SELECT * FROM dolf_log WHERE n = 420;
-- %TYPE (of a column, schema-qualified or not, and of another variable) and %ROWTYPE.
CREATE TABLE dolf_orders (id int PRIMARY KEY, amount numeric(8,2), note varchar(5));
INSERT INTO dolf_orders VALUES (1, 12.345, 'ab');
DO $$
DECLARE a dolf_orders.amount%TYPE := 3.14159; n public.dolf_orders.note%TYPE := 'xyz'; b a%TYPE; r dolf_orders%ROWTYPE;
BEGIN
  INSERT INTO dolf_log VALUES (500, 'r.id before: ' || coalesce(r.id::text, 'null'));
  SELECT * INTO r FROM dolf_orders WHERE id = 1;
  b := a * 2.5;
  INSERT INTO dolf_log VALUES (501, a || ' ' || b || ' ' || n || ' ' || r.id || ' ' || r.amount || ' ' || r.note);
END $$;
SELECT * FROM dolf_log WHERE n >= 500 ORDER BY n;
-- A value that does not fit the column's type, assigned to a %TYPE variable.
-- @error 22001
DO $$ DECLARE n dolf_orders.note%TYPE; BEGIN n := 'abcdefgh'; END $$;
-- @error 42601
DO $$ DECLARE n dolf_nowhere.note%TYPE; BEGIN NULL; END $$;
-- @error 42601
DO $$ DECLARE n dolf_orders.nothing%TYPE; BEGIN NULL; END $$;
-- Assignment to varchar(n)/char(n) variables: extra trailing spaces are cut, anything else is
-- 22001 (an explicit cast would cut it silently).
DO $$ DECLARE v varchar(3); c char(4) := 'ab'; BEGIN v := 'xy   '; INSERT INTO dolf_log VALUES (510, '[' || v || '][' || c || '] ' || length(v)); END $$;
SELECT * FROM dolf_log WHERE n = 510;
-- @error 22001
DO $$ DECLARE v varchar(3); BEGIN SELECT 'abcd' INTO v; END $$;
-- @error 22001
DO $$ DECLARE v varchar(3) := 'abcd'; BEGIN NULL; END $$;
DROP TABLE dolf_orders;
DROP TABLE dolf_log;
