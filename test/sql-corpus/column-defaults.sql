-- Column defaults as the catalog reports them (pg_get_expr over pg_attrdef, atthasdef,
-- information_schema.columns): what ORMs reflect (SQLAlchemy, Alembic's compare_server_default)
-- and pg_dump writes. PostgreSQL keeps the default coerced to the column type, so a string
-- literal comes back normalised and labelled with the type ('1'::numeric, '2024-01-01'::date),
-- and DEFAULT NULL is no default at all.
CREATE TABLE coldef_t (
  a bigint DEFAULT 5, b smallint DEFAULT 5, c numeric DEFAULT 5, d numeric(10,2) DEFAULT '1',
  e text DEFAULT 'x', f varchar(10) DEFAULT 'it''s', g boolean DEFAULT 'true', h boolean DEFAULT false,
  i date DEFAULT '2024-1-2', j jsonb DEFAULT '{"b": 1,"a":[1, 2]}', k int DEFAULT '7', l numeric DEFAULT 1.5,
  m float8 DEFAULT 2, n int DEFAULT -1, p timestamptz DEFAULT now(), q int[] DEFAULT '{}', r char(2) DEFAULT 'ab',
  s float8 DEFAULT 1.5, t uuid DEFAULT NULL, u int DEFAULT NULL, v int8 DEFAULT 10000000000, w numeric DEFAULT '-2.5',
  x int4 DEFAULT ' 08 ', y text[] DEFAULT '{a,"b c"}', z timestamp DEFAULT '2024-01-02 03:04:05'
);
SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'coldef_t'::regclass ORDER BY d.adnum;
SELECT attname, atthasdef FROM pg_attribute WHERE attrelid = 'coldef_t'::regclass AND attnum > 0 ORDER BY attnum;
SELECT column_name, column_default FROM information_schema.columns WHERE table_name = 'coldef_t' ORDER BY ordinal_position;
INSERT INTO coldef_t DEFAULT VALUES;
SELECT a, b, c, d, e, f, g, h, i, j, k, l, m, n, q, r, s, t, u, v, w, x, y, z FROM coldef_t;
ALTER TABLE coldef_t ALTER COLUMN e SET DEFAULT 'changed';
ALTER TABLE coldef_t ALTER COLUMN a SET DEFAULT NULL;
SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = 'coldef_t'::regclass AND a.attname IN ('a', 'e') ORDER BY d.adnum;
DROP TABLE coldef_t;
