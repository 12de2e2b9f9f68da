-- Text ordering and comparison (the reference cluster uses the C.UTF-8 locale: code-point order).
CREATE TABLE col_t (id int PRIMARY KEY, s text);
INSERT INTO col_t VALUES (1, 'b'), (2, 'B'), (3, 'a'), (4, 'A'), (5, 'ä'), (6, ''), (7, 'aa'), (8, 'a b'), (9, '10'), (10, '9'), (11, 'Z'), (12, 'é');
SELECT s FROM col_t ORDER BY s;
SELECT s FROM col_t ORDER BY s DESC;
SELECT min(s), max(s) FROM col_t;
SELECT s FROM col_t WHERE s > 'a' ORDER BY s;
SELECT s FROM col_t WHERE s BETWEEN 'A' AND 'a' ORDER BY s;
SELECT 'a' < 'B', 'a' < 'b', 'Z' < 'a', '' < 'a', 'ab' > 'a';
SELECT upper('äé'), lower('ÄÉ'), length('äé'), octet_length('äé');
SELECT s, count(*) FROM col_t GROUP BY s ORDER BY s LIMIT 3;
SELECT DISTINCT lower(s) AS l FROM col_t ORDER BY l;
DROP TABLE col_t;
