-- ALTER TYPE ... RENAME VALUE follows the label into stored expressions, as PostgreSQL's do
-- (they hold the label, not its spelling): CHECK constraints, DEFAULTs, partial index predicates
-- and views keep working and now name the new label. A literal compared with a text column is
-- not a label and stays as written.
CREATE TYPE erv_status AS ENUM ('new', 'paid', 'cancelled');
CREATE TABLE erv_orders (
  id int PRIMARY KEY,
  status erv_status NOT NULL DEFAULT 'new',
  note text,
  CHECK (status <> 'cancelled' OR note IS NOT NULL),
  CHECK (status IN ('new', 'paid', 'cancelled')),
  CHECK (note IS NULL OR note <> 'cancelled')
);
CREATE INDEX erv_open ON erv_orders (id) WHERE status = 'new';
CREATE VIEW erv_cancelled AS SELECT id, note FROM erv_orders WHERE status = 'cancelled';
CREATE VIEW erv_settled AS SELECT id FROM erv_orders WHERE status = ANY (ARRAY['paid', 'cancelled']::erv_status[]) OR 'cancelled'::erv_status = status;
INSERT INTO erv_orders VALUES (1, 'new', NULL), (2, 'paid', NULL), (3, 'cancelled', 'changed mind');
ALTER TYPE erv_status RENAME VALUE 'cancelled' TO 'canceled';
ALTER TYPE erv_status RENAME VALUE 'new' TO 'open';
-- Inserts work again, and the constraints still mean what they meant.
INSERT INTO erv_orders (id) VALUES (4);
INSERT INTO erv_orders VALUES (5, 'canceled', 'late');
-- @error 23514
INSERT INTO erv_orders VALUES (6, 'canceled', NULL);
-- The text column's literal is still the text 'cancelled'.
-- @error 23514
INSERT INTO erv_orders VALUES (7, 'paid', 'cancelled');
INSERT INTO erv_orders VALUES (8, 'paid', 'canceled');
SELECT id, status, note FROM erv_orders ORDER BY id;
SELECT * FROM erv_cancelled ORDER BY id;
SELECT * FROM erv_settled ORDER BY id;
-- The partial index still serves (and only serves) the renamed label.
SELECT id FROM erv_orders WHERE status = 'open' ORDER BY id;
-- CHECK constraints are named after their column only when they reference exactly one.
SELECT conname FROM pg_constraint WHERE conrelid = 'erv_orders'::regclass AND contype = 'c' ORDER BY conname;
SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'erv_orders_check';
SELECT column_default FROM information_schema.columns WHERE table_name = 'erv_orders' AND column_name = 'status';
-- The old spelling is gone everywhere.
-- @error 22P02
SELECT 'cancelled'::erv_status;
DROP VIEW erv_settled;
DROP VIEW erv_cancelled;
DROP TABLE erv_orders;
DROP TYPE erv_status;
