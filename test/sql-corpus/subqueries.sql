-- Correlated and uncorrelated subqueries, ANY/ALL, derived tables, CTE reuse, set operations
-- with ORDER BY/LIMIT, UPDATE ... FROM and DELETE ... USING.
CREATE TABLE sq_dept (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE sq_emp (id int PRIMARY KEY, dept_id int, name text NOT NULL, salary int NOT NULL, manager_id int);
INSERT INTO sq_dept VALUES (1, 'eng'), (2, 'ops'), (3, 'empty');
INSERT INTO sq_emp VALUES (1, 1, 'ada', 300, NULL), (2, 1, 'bo', 200, 1), (3, 1, 'cy', 150, 1), (4, 2, 'di', 180, NULL), (5, 2, 'ed', 120, 4), (6, NULL, 'fi', 90, NULL);
SELECT name FROM sq_emp e WHERE salary > (SELECT avg(salary) FROM sq_emp x WHERE x.dept_id = e.dept_id);
SELECT d.name, (SELECT max(salary) FROM sq_emp e WHERE e.dept_id = d.id) AS top FROM sq_dept d;
SELECT name FROM sq_emp WHERE salary >= ALL (SELECT salary FROM sq_emp WHERE dept_id = 2);
SELECT name FROM sq_emp WHERE salary > ANY (SELECT salary FROM sq_emp WHERE dept_id = 1);
SELECT name FROM sq_emp WHERE dept_id NOT IN (SELECT id FROM sq_dept WHERE name = 'eng');
SELECT name FROM sq_emp WHERE (dept_id, salary) IN (SELECT dept_id, max(salary) FROM sq_emp GROUP BY dept_id);
-- @error 21000
SELECT (SELECT id FROM sq_emp) AS too_many;
SELECT (SELECT id FROM sq_emp WHERE false) AS none;
SELECT dept_id, total FROM (SELECT dept_id, sum(salary) AS total FROM sq_emp GROUP BY dept_id) AS t WHERE total > 200;
SELECT m.name AS manager, e.name AS report FROM sq_emp e JOIN sq_emp m ON m.id = e.manager_id;
SELECT d.name, count(e.id) FROM sq_dept d LEFT JOIN sq_emp e ON e.dept_id = d.id GROUP BY d.name HAVING count(e.id) < 3;
WITH totals AS (SELECT dept_id, sum(salary) AS s FROM sq_emp GROUP BY dept_id)
SELECT a.dept_id, b.dept_id FROM totals a JOIN totals b ON a.s > b.s;
WITH RECURSIVE chain(id, depth) AS (SELECT id, 0 FROM sq_emp WHERE manager_id IS NULL UNION ALL SELECT e.id, c.depth + 1 FROM sq_emp e JOIN chain c ON e.manager_id = c.id)
SELECT id, depth FROM chain ORDER BY id;
(SELECT name FROM sq_emp ORDER BY salary DESC LIMIT 2) UNION ALL (SELECT name FROM sq_emp ORDER BY salary LIMIT 1);
SELECT name FROM sq_emp WHERE dept_id = 1 UNION SELECT name FROM sq_emp WHERE salary < 100 ORDER BY name DESC LIMIT 3;
SELECT e.name, d.name FROM sq_emp e, LATERAL (SELECT name FROM sq_dept WHERE id = e.dept_id) d;
UPDATE sq_emp e SET salary = e.salary + 10 FROM sq_dept d WHERE d.id = e.dept_id AND d.name = 'ops';
SELECT name, salary FROM sq_emp WHERE dept_id = 2 ORDER BY name;
DELETE FROM sq_emp e USING sq_dept d WHERE d.id = e.dept_id AND d.name = 'eng' AND e.salary < 200;
SELECT name FROM sq_emp ORDER BY id;
WITH moved AS (DELETE FROM sq_emp WHERE dept_id IS NULL RETURNING id, name) SELECT * FROM moved;
INSERT INTO sq_emp (id, dept_id, name, salary) SELECT 100 + id, 3, 'new-' || name, 1 FROM sq_dept WHERE id < 3;
SELECT id, name FROM sq_emp WHERE dept_id = 3 ORDER BY id;
DROP TABLE sq_emp;
DROP TABLE sq_dept;
