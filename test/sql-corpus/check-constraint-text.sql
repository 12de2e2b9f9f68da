-- CHECK constraints and partial-index predicates as pg_get_constraintdef (plain and pretty) /
-- pg_get_indexdef print them (what pg_dump writes and SQLAlchemy/Alembic reflect): PostgreSQL shows the
-- constant of `column op constant` coerced to the column's type.
CREATE TABLE cktx (a numeric, b text, c varchar(10), d int, e int8, f float8, g date, h boolean);
ALTER TABLE cktx ADD CONSTRAINT k01 CHECK (a >= 0), ADD CONSTRAINT k02 CHECK (a > -1.5), ADD CONSTRAINT k03 CHECK (b <> ''),
  ADD CONSTRAINT k04 CHECK (c <> 'x'), ADD CONSTRAINT k05 CHECK (d > 0), ADD CONSTRAINT k06 CHECK (d > -1), ADD CONSTRAINT k07 CHECK (e > 0),
  ADD CONSTRAINT k08 CHECK (f > 0), ADD CONSTRAINT k09 CHECK (g > '2020-01-01'), ADD CONSTRAINT k10 CHECK (a >= 0.5),
  ADD CONSTRAINT k11 CHECK (h = true), ADD CONSTRAINT k12 CHECK (e <> 5000000000), ADD CONSTRAINT k13 CHECK (a > -1000),
  ADD CONSTRAINT k14 CHECK (0 <= a), ADD CONSTRAINT k15 CHECK (d > '5'), ADD CONSTRAINT k16 CHECK (f < 2.5);
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'cktx'::regclass ORDER BY conname;
-- Pretty mode (pg_get_constraintdef(oid, true), what SQLAlchemy reflects) drops parentheses.
ALTER TABLE cktx ADD CONSTRAINT k17 CHECK (b <> 'it''s');
SELECT conname, pg_get_constraintdef(oid, true) FROM pg_constraint WHERE conrelid = 'cktx'::regclass ORDER BY conname;
CREATE INDEX cktx_b ON cktx (b) WHERE b <> '';
CREATE INDEX cktx_a ON cktx (a) WHERE a > 0;
SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cktx' ORDER BY 1;
-- What pg_dump wrote for such CHECKs restores and prints the same again.
ALTER TABLE cktx ADD CONSTRAINT k20 CHECK (a > ('-1000'::integer)::numeric), ADD CONSTRAINT k21 CHECK ((c)::text <> 'x'::text),
  ADD CONSTRAINT k22 CHECK ((a >= (0)::numeric)), ADD CONSTRAINT k23 CHECK ((g > '2020-01-01'::date));
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'cktx'::regclass AND conname IN ('k20', 'k21', 'k22', 'k23') ORDER BY conname;
INSERT INTO cktx VALUES (1, 'y', 'z', 6, 1, 1, '2021-01-01', true);
-- @error 23514
INSERT INTO cktx VALUES (-1, 'y', 'z', 6, 1, 1, '2021-01-01', true);
DROP TABLE cktx;
