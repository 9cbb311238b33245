/*
 * pg_digest.h - the SQL of PostgreSQL's digest cache (pg_digest.c).
 *
 * A no-op start compares the state digest of the tracking rows with the
 * source's. Computing it on the server formats, sorts and hashes every
 * row: about 18 ms at 10,000 rows in a fresh backend. So the driver keeps
 * it in an UNLOGGED table `T_digest` beside the tracking table `T`, one row
 * per module, and trusts a cached row only while `T` provably holds what
 * it held when the row was written. No trigger is involved; the proof
 * rests on transaction ids, which PostgreSQL gives every row version:
 *
 *   stored  in one statement, so from one snapshot S: the module's digest,
 *           the number of rows in T, and the horizon H = S's xmin - 1 (a
 *           64-bit txid), only if no row of T was written after H. Every
 *           transaction S cannot see has an id after H. The row also names
 *           the table T's rows were read from (their tableoid; 0 when there
 *           were none) and the transaction that wrote it.
 *   trusted when every row of T names that table (an empty T names none,
 *           but then the digest is of no rows, whatever table it was),
 *           the cache row still belongs to the transaction it names, T has
 *           that many rows and none written after H (compared with age(),
 *           so across the 32-bit wrap, and only while H is less than 2^30
 *           transactions old).
 *
 * A row the look sees and S did not was written by a transaction S could
 * not see, so after H, and fails the check; with no such row, the rows
 * the look sees are a subset of S's, and equal in number, so the same.
 * That needs T's rows and the cache row to share one history of
 * transaction ids: a table swapped in for T (a renamed copy) has another
 * OID, and a cache row copied in by a restore belongs to the restoring
 * transaction, so neither is trusted. Within that, it holds whoever edits
 * T and however (UPDATE, DELETE then INSERT, TRUNCATE, COPY, logical
 * replication's apply, triggers disabled), and after VACUUM FREEZE, which
 * keeps the raw xmin this reads. The check costs a scan of T (ids and a
 * count, no sorting or hashing); the server gathers the facts and the
 * client weighs them (pg_proof.h). The cache is unlogged, so it is neither
 * replicated (a standby computes the digest) nor kept by crash recovery
 * (which empties it).
 */
#ifndef STRATA_DRIVERS_PG_DIGEST_H
#define STRATA_DRIVERS_PG_DIGEST_H

#include <stddef.h>

/* An SQL condition: the relation R (a regclass expression) has the columns
 * strata gives the cache. A table of that name with other columns is never
 * written. */
#define STRATA__PG_DIGEST_SHAPED(R)                                            \
    "(SELECT count(*) FROM pg_attribute WHERE attrelid = " R " AND attname "   \
    "IN ('module', 'horizon', 'row_count', 'digest', 'rel', 'writer') AND "    \
    "attnum > 0 AND NOT attisdropped) = 6"

/* Writes the cache table's unquoted name for tracking table `table`
 * ("<table>_digest") into out. Returns 0, leaving out empty, when that name
 * would be longer than PostgreSQL's 63 bytes: the table then has no cache. */
int strata__pg_digest_name(const char *table, char out[64]);

/* The look and, where its facts do not prove the cached digest, the
 * fresh look: one statement each, `?` parameters in order: the quoted
 * schema (NULL for current_schema()), the quoted tracking table, the
 * quoted cache table (NULL for none), the module. Both reach the tables
 * only through query_to_xml(), once to_regclass() has found them, so a
 * database not yet migrated answers without an error in the server's log;
 * and they read the cache's columns through to_jsonb(), so a table of that
 * name with other columns is merely never trusted.
 *
 * The look yields one row:
 *   1. NULL when the tracking table does not exist; else, where this role
 *      may read the cache outside recovery (an unlogged table cannot be
 *      read on a standby), query_to_xml() text holding the facts that
 *      strata__pg_proof() weighs (pg_proof.h), which may be no row at all;
 *      else <d>64 hex digits</d>, the digest computed from the rows;
 *   2. current_schema();
 *   3. the snapshot's xmax, a 64-bit txid.
 * The fresh look yields one row:
 *   1. NULL when the tracking table does not exist, else query_to_xml()
 *      text holding <d>64 hex digits</d>, the digest computed from the
 *      rows, followed, where this session may store the digest (the cache
 *      table exists, this role may read and write it, and the session is
 *      neither read-only nor on a standby), by what the cache would store,
 *      from the same snapshot: <h> the horizon (only where the cache has
 *      strata's columns), <n> the number of rows in the tracking table, <y>
 *      how many of them were written after the horizon and <o> the table
 *      they were read from (store only when all four came and <y> is 0);
 *   2. current_schema(). */
extern const char strata__pg_digest_look[];
extern const char strata__pg_digest_fresh[];

/* The statements below take quoted, schema-qualified names: the tracking
 * table `table` and its cache table `cache`. Each returns a malloc'ed
 * string, or NULL when out of memory. */

/* Creates the cache table. */
char *strata__pg_digest_create(const char *cache);

/* Stores the digest of a module's rows ($1, the only parameter) as
 * described above; it stores nothing when a row of the tracking table was
 * written after the horizon (a transaction that started before the last
 * change to it is still open somewhere in the cluster). It needs no lock:
 * whatever snapshot it runs in, what it stores is true of that snapshot. */
char *strata__pg_digest_store(const char *table, const char *cache);

/* Stores what a look computed (column 1 above): parameters $1 the module,
 * $2 <h>, $3 <n>, $4 the digest, $5 <o>. True of the look's snapshot, so
 * as good as the store above, and it reads nothing. */
char *strata__pg_digest_store_values(const char *cache);

#endif /* STRATA_DRIVERS_PG_DIGEST_H */
