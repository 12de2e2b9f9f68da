-- Session time zones other than UTC change how timestamptz is printed and how local times are read.
SET TimeZone = 'UTC';
CREATE TABLE tz_t (id int PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO tz_t VALUES (1, '2024-01-02 03:04:05+02'), (2, '2024-07-01 12:00:00+00');
SET TimeZone = 'America/New_York';
SHOW TimeZone;
SELECT id, at FROM tz_t ORDER BY id;
SELECT '2024-01-02 03:04:05'::timestamptz, '2024-07-01 00:00:00'::timestamptz;
SELECT date_trunc('day', at) FROM tz_t ORDER BY id;
SET TimeZone = '+05:30';
SELECT at FROM tz_t ORDER BY id;
SELECT '2024-01-02 03:04:05+00'::timestamptz AT TIME ZONE 'Asia/Tokyo';
RESET TimeZone;
SET TimeZone = 'UTC';
SELECT at FROM tz_t ORDER BY id;
DROP TABLE tz_t;
