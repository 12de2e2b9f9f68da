-- ALTER COLUMN TYPE on columns in foreign keys, as id-widening migrations do: the referencing
-- column, the referenced column, incompatible types (42804), and conversions that would leave a
-- child without its parent (23503).
CREATE TABLE actf_customers (id int PRIMARY KEY, name text);
CREATE TABLE actf_orders (id int PRIMARY KEY, customer_id int REFERENCES actf_customers (id), note text);
INSERT INTO actf_customers VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
INSERT INTO actf_orders VALUES (10, 1, 'a'), (11, 2, 'b'), (12, 2, 'c'), (13, NULL, 'none');
-- Widen the referencing column, then the referenced one: both sides int8, data and the key intact.
ALTER TABLE actf_orders ALTER COLUMN customer_id TYPE bigint;
ALTER TABLE actf_customers ALTER COLUMN id TYPE bigint;
SELECT o.id, o.customer_id, c.name FROM actf_orders o LEFT JOIN actf_customers c ON c.id = o.customer_id ORDER BY o.id;
SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_name IN ('actf_customers', 'actf_orders') AND column_name IN ('id', 'customer_id') ORDER BY table_name, column_name;
-- The key still holds after the change, both ways.
-- @error 23503
INSERT INTO actf_orders VALUES (14, 99, 'no such customer');
-- @error 23503
DELETE FROM actf_customers WHERE id = 1;
INSERT INTO actf_orders VALUES (14, 3, 'new');
DELETE FROM actf_orders WHERE customer_id = 3;
DELETE FROM actf_customers WHERE id = 3;
-- A type the key cannot pair: 42804, on either side.
-- @error 42804
ALTER TABLE actf_orders ALTER COLUMN customer_id TYPE text;
-- @error 42804
ALTER TABLE actf_customers ALTER COLUMN id TYPE text;
-- A conversion that changes key values: children must still find their parents.
CREATE TABLE actf_p (k numeric PRIMARY KEY);
CREATE TABLE actf_c (id int PRIMARY KEY, pk numeric REFERENCES actf_p (k));
INSERT INTO actf_p VALUES (1.5), (3), (4.25);
INSERT INTO actf_c VALUES (1, 1.5), (2, 3);
-- Parent 1.5 would become 2: child 1 would lose its parent.
-- @error 23503
ALTER TABLE actf_p ALTER COLUMN k TYPE numeric(5,0);
SELECT k FROM actf_p ORDER BY k;
-- Child 4.25 would become 4, which is no parent.
INSERT INTO actf_c VALUES (3, 4.25);
DELETE FROM actf_c WHERE id = 1;
-- @error 23503
ALTER TABLE actf_c ALTER COLUMN pk TYPE numeric(5,0);
SELECT id, pk FROM actf_c ORDER BY id;
-- Once 4 is a parent too, the child's 4.25 may become 4.
INSERT INTO actf_p VALUES (4);
ALTER TABLE actf_c ALTER COLUMN pk TYPE numeric(5,0);
SELECT id, pk FROM actf_c ORDER BY id;
-- @error 23503
INSERT INTO actf_c VALUES (4, 5);
-- Multi-column key: widen one column of it.
CREATE TABLE actf_mp (a int, b int, PRIMARY KEY (a, b));
CREATE TABLE actf_mc (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES actf_mp (a, b));
INSERT INTO actf_mp VALUES (1, 1), (1, 2);
INSERT INTO actf_mc VALUES (1, 1, 2);
ALTER TABLE actf_mc ALTER COLUMN b TYPE bigint;
ALTER TABLE actf_mp ALTER COLUMN b TYPE bigint;
-- @error 23503
INSERT INTO actf_mc VALUES (2, 1, 3);
SELECT * FROM actf_mc ORDER BY id;
DROP TABLE actf_mc;
DROP TABLE actf_mp;
DROP TABLE actf_c;
DROP TABLE actf_p;
DROP TABLE actf_orders;
DROP TABLE actf_customers;
