-- Scalar functions used as a FROM item (one row, the column named after the function):
-- TypeORM's first query on connect is `SELECT * FROM current_schema()`.
SELECT * FROM current_schema();
SELECT * FROM current_database();
SELECT version LIKE 'PostgreSQL 15%' AS is_pg15 FROM version();
SELECT s.x FROM abs(-3) AS s(x);
SELECT * FROM lower('ABC') AS l;
SELECT * FROM current_schema() AS cs, current_database() AS cd;
