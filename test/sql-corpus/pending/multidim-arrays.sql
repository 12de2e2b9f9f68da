-- Arrays of more than one dimension (issue 12): literals, constructors, subscripts and the
-- dimension functions. Weft refuses them with 0A000 for now (libs/sql/src/multidim-arrays.spec.ts);
-- this file holds PostgreSQL's answers for when they are built.
SELECT '{{1,2},{3,4}}'::int[] AS a;
SELECT ARRAY[[1,2],[3,4]] AS a;
SELECT ARRAY[ARRAY['a','b'], ARRAY['c',NULL]] AS a;
SELECT ('{{1,2},{3,4}}'::int[])[2][1] AS x, ('{{1,2},{3,4}}'::int[])[1] AS y;
SELECT ('{{1,2,3},{4,5,6}}'::int[])[1:2][2:3] AS s;
SELECT array_ndims('{{1,2},{3,4}}'::int[]), array_dims('{{1,2},{3,4},{5,6}}'::int[]), array_length('{{1,2},{3,4},{5,6}}'::int[], 2), cardinality('{{1,2},{3,4}}'::int[]);
SELECT unnest('{{1,2},{3,4}}'::int[]) AS e;
SELECT 3 = ANY('{{1,2},{3,4}}'::int[]) AS found;
CREATE TABLE mdarr_t (id int PRIMARY KEY, m int[]);
INSERT INTO mdarr_t VALUES (1, '{{1,2},{3,4}}'), (2, ARRAY[[5,6]]);
SELECT id, m, m[1][2] FROM mdarr_t ORDER BY id;
-- @error 22P02
SELECT '{{1,2},{3}}'::int[];
-- @error 2202E
SELECT ARRAY[[1,2],[3]];
DROP TABLE mdarr_t;
