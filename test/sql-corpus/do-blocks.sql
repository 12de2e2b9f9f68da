-- DO blocks: the PL/pgSQL subset migration tools (drizzle-kit, Sequelize, TypeORM) generate.
DO $$ BEGIN CREATE TYPE do_status AS ENUM ('active', 'inactive'); EXCEPTION WHEN duplicate_object THEN null; END $$;
DO $$ BEGIN CREATE TYPE do_status AS ENUM ('active', 'inactive'); EXCEPTION WHEN duplicate_object THEN null; END $$;
-- @error 42710
DO $$ BEGIN CREATE TYPE do_status AS ENUM ('x'); END $$;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'do_kind') THEN
    CREATE TYPE do_kind AS ENUM ('a', 'b');
  END IF;
END
$$;
DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'do_kind') THEN CREATE TYPE do_kind AS ENUM ('c'); END IF; END $$;
SELECT t.typname, e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typname LIKE 'do\_%' ORDER BY t.typname, e.enumsortorder;
CREATE TABLE do_t (id int PRIMARY KEY, s do_status);
-- A caught error leaves none of the block's effects behind; the handler's stay.
DO $$ BEGIN INSERT INTO do_t VALUES (1, 'active'); INSERT INTO do_t VALUES (1, 'inactive'); EXCEPTION WHEN unique_violation THEN INSERT INTO do_t VALUES (2, 'inactive'); END $$;
SELECT * FROM do_t ORDER BY id;
DO $$ BEGIN INSERT INTO do_t VALUES (3, 'active'); CREATE TABLE do_gone (a int); INSERT INTO do_t VALUES (4, 'nope'); EXCEPTION WHEN SQLSTATE '22P02' THEN NULL; END $$;
SELECT * FROM do_t ORDER BY id;
SELECT count(*) FROM pg_class WHERE relname = 'do_gone';
DO $$ BEGIN INSERT INTO do_t VALUES (5, 'x'); EXCEPTION WHEN unique_violation OR data_exception THEN INSERT INTO do_t VALUES (6, 'active'); END $$;
DO $$ BEGIN ALTER TABLE do_t ADD COLUMN n int; EXCEPTION WHEN duplicate_column THEN NULL; END $$;
DO $$ BEGIN ALTER TABLE do_t ADD COLUMN n int; EXCEPTION WHEN duplicate_column THEN NULL; END $$;
DO $$ BEGIN ALTER TABLE do_t ADD CONSTRAINT do_t_n_check CHECK (n > 0); EXCEPTION WHEN duplicate_object THEN NULL; END $$;
SELECT * FROM do_t ORDER BY id;
-- An unhandled error fails the statement; nothing it did stays.
-- @error 23505
DO $$ BEGIN INSERT INTO do_t VALUES (7, 'active'); INSERT INTO do_t VALUES (7, 'active'); EXCEPTION WHEN foreign_key_violation THEN NULL; END $$;
SELECT count(*) FROM do_t;
-- Nested blocks, ELSIF/ELSE, PERFORM, RETURN
DO $$
BEGIN
  IF (SELECT count(*) FROM do_t) > 100 THEN
    INSERT INTO do_t VALUES (100, 'active');
  ELSIF EXISTS (SELECT 1 FROM do_t WHERE id = 2) THEN
    PERFORM 1;
    BEGIN
      INSERT INTO do_t VALUES (2, 'active');
    EXCEPTION WHEN unique_violation THEN
      INSERT INTO do_t VALUES (20, 'active');
    END;
    RETURN;
  ELSE
    INSERT INTO do_t VALUES (200, 'active');
  END IF;
  INSERT INTO do_t VALUES (300, 'active');
END $$;
SELECT id FROM do_t ORDER BY id;
BEGIN;
DO $$ BEGIN INSERT INTO do_t VALUES (8, 'active'); END $$;
SELECT count(*) FROM do_t WHERE id = 8;
ROLLBACK;
SELECT count(*) FROM do_t WHERE id = 8;
-- Errors
-- @error 42601
DO $$ BEGIN SELECT 1; END $$;
-- @error P0001
DO $$ BEGIN RAISE EXCEPTION 'boom'; END $$;
-- @error 22012
DO $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '22012'; END $$;
-- @error 42704
DO $$ BEGIN NULL; EXCEPTION WHEN no_such_condition THEN NULL; END $$;
-- @error 42601
DO $$ BEGIN NOT VALID PLPGSQL; END $$;
-- @error 0A000
DO LANGUAGE sql $$ SELECT 1 $$;
-- @error 42704
DO LANGUAGE plperl $$ 1 $$;
DROP TABLE do_t;
DROP TYPE do_status;
DROP TYPE do_kind;
