-- Interval output as PostgreSQL prints it (IntervalStyle postgres): only exactly 1 is singular,
-- and after a negative field the positive ones carry a '+'. Weft printed "-1 day 02:00:00".
SELECT '-1 day'::interval, '1 day'::interval, '-1 days 2 hours'::interval, '-1 mon 3 days'::interval;
SELECT '-1 year 2 mons -3 days 04:05:06'::interval, '1 year -1 mon'::interval, '-00:00:01'::interval, '3 days -02:00:00'::interval;
SELECT interval '1 day' - interval '3 days' AS d, interval '-2 hours' * 2 AS h;
