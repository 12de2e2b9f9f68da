-- pg_depend rows of constraints, as pg_dump reads them to order its output: a primary key's index
-- depends on its constraint ('i'); a foreign key on the referenced table's unique index and
-- columns ('n') and on its own columns ('a'). pg_restore -j relies on these to add a foreign key
-- only after the key it references.
CREATE TABLE pgd_a (id int PRIMARY KEY, code text UNIQUE);
CREATE TABLE pgd_b (id int PRIMARY KEY, a int REFERENCES pgd_a (id), c text REFERENCES pgd_a (code));
SELECT d.classid::regclass::text AS classid, d.refclassid::regclass::text AS refclassid, d.objsubid, d.refobjsubid, d.deptype,
       CASE WHEN d.classid = 'pg_constraint'::regclass THEN (SELECT conname FROM pg_constraint WHERE oid = d.objid) ELSE (SELECT relname FROM pg_class WHERE oid = d.objid) END AS obj,
       CASE WHEN d.refclassid = 'pg_constraint'::regclass THEN (SELECT conname FROM pg_constraint WHERE oid = d.refobjid) ELSE (SELECT relname FROM pg_class WHERE oid = d.refobjid) END AS ref
FROM pg_depend d
WHERE (d.classid = 'pg_constraint'::regclass AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid IN ('pgd_a'::regclass, 'pgd_b'::regclass)))
   OR (d.classid = 'pg_class'::regclass AND d.objid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN ('pgd_a'::regclass, 'pgd_b'::regclass)))
ORDER BY obj, ref, d.deptype, d.refobjsubid;
DROP TABLE pgd_b;
DROP TABLE pgd_a;
