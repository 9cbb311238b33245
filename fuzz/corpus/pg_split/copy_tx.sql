CREATE TABLE t (a int, b text);
COPY t (a, b) FROM STDIN;
1	one
2	two
\.
CREATE INDEX CONCURRENTLY ti ON t (a);
BEGIN; VACUUM t; COMMIT;
;;
SELECT $x$ ; $x$ /* a /* nested */ ; */ , E'\';'
