-- Secondary indexes stay consistent through inserts, updates of indexed columns, deletes and
-- re-inserts; lookups and ranges through them return exactly the table's rows.
CREATE TABLE idx_t (id int PRIMARY KEY, email text, region text, score int, created date);
CREATE UNIQUE INDEX idx_t_email ON idx_t (email);
CREATE INDEX idx_t_region_score ON idx_t (region, score DESC);
CREATE INDEX idx_t_created ON idx_t (created);
INSERT INTO idx_t SELECT g, 'u' || g || '@x.io', CASE g % 3 WHEN 0 THEN 'eu' WHEN 1 THEN 'us' ELSE NULL END, (g * 37) % 101, DATE '2024-01-01' + g FROM generate_series(1, 300) g;
SELECT id, email FROM idx_t WHERE email = 'u42@x.io';
SELECT count(*) FROM idx_t WHERE region = 'eu';
SELECT id, score FROM idx_t WHERE region = 'us' AND score > 90 ORDER BY score DESC, id;
SELECT id FROM idx_t WHERE region IS NULL AND score < 5 ORDER BY id;
SELECT count(*), min(created), max(created) FROM idx_t WHERE created BETWEEN '2024-03-01' AND '2024-03-31';
UPDATE idx_t SET email = 'moved' || id || '@x.io' WHERE id % 50 = 0;
SELECT id FROM idx_t WHERE email LIKE 'moved%' ORDER BY id;
SELECT count(*) FROM idx_t WHERE email = 'u50@x.io';
INSERT INTO idx_t (id, email) VALUES (1000, 'u50@x.io');
-- @error 23505
INSERT INTO idx_t (id, email) VALUES (1001, 'u50@x.io');
-- @error 23505
UPDATE idx_t SET email = 'u1@x.io' WHERE id = 2;
UPDATE idx_t SET region = 'apac', score = score + 1000 WHERE region IS NULL AND id < 30;
SELECT id, score FROM idx_t WHERE region = 'apac' ORDER BY score DESC;
SELECT count(*) FROM idx_t WHERE region IS NULL;
DELETE FROM idx_t WHERE region = 'eu' AND score < 50;
SELECT count(*) FROM idx_t WHERE region = 'eu';
SELECT count(*) FROM idx_t WHERE region = 'eu' AND score < 50;
INSERT INTO idx_t (id, email, region, score) VALUES (3, 'u3@x.io', 'eu', 1) ON CONFLICT (id) DO UPDATE SET score = excluded.score;
SELECT id, email, region, score FROM idx_t WHERE id = 3;
INSERT INTO idx_t (id, email) VALUES (2000, NULL), (2001, NULL);
SELECT count(*) FROM idx_t WHERE email IS NULL;
CREATE UNIQUE INDEX idx_t_region_created ON idx_t (region, created);
-- @error 23505
INSERT INTO idx_t (id, region, created) VALUES (3000, 'us', DATE '2024-01-02');
DROP INDEX idx_t_region_score;
SELECT count(*) FROM idx_t WHERE region = 'us';
-- @error 23505
CREATE UNIQUE INDEX idx_t_score ON idx_t (score);
SELECT count(*) FROM idx_t;
DROP TABLE idx_t;
