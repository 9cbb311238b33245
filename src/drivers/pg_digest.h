/*
 * pg_digest.h - the SQL of PostgreSQL's digest cache (pg_digest.c).
 *
 * A no-op start compares the state digest of the tracking rows with the
 * source's. Computing it on the server reads and sorts every row: about a
 * millisecond per thousand. So the driver keeps it beside the tracking
 * table `T`, in the same schema:
 *
 *   T_digest                  one row per module: the digest of that
 *                             module's tracking rows, written under the
 *                             migration lock when a run ends;
 *   strata_digest_invalidate  a trigger on T, FOR EACH STATEMENT and
 *                             ENABLE ALWAYS (so replication and
 *                             session_replication_role = replica fire it
 *                             too), that empties T_digest whenever anything
 *                             changes T: a hand edit, a TRUNCATE, strata's
 *                             own runs.
 *
 * A cached digest is therefore either absent or the digest of the rows as
 * they are. The look trusts it only while the trigger exists on T and is
 * enabled ALWAYS; otherwise, and when no row is cached, it computes the
 * digest from the rows as before. A wrong cache could only come from
 * disabling the trigger, editing T and enabling it again.
 */
#ifndef STRATA_DRIVERS_PG_DIGEST_H
#define STRATA_DRIVERS_PG_DIGEST_H

#include <stddef.h>

/* The trigger's name on the tracking table, and the trigger function's in
 * its schema. */
#define STRATA__PG_DIGEST_TRIGGER "strata_digest_invalidate"

/* An SQL condition that holds when the cache may be trusted: the trigger
 * is on tracking table T (an expression for its regclass) and enabled
 * ALWAYS. */
#define STRATA__PG_DIGEST_TRUSTED(T)                                           \
    "EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid = " T             \
    " AND tgname = '" STRATA__PG_DIGEST_TRIGGER "' AND tgenabled = 'A')"

/* Writes the cache table's unquoted name for tracking table `table`
 * ("<table>_digest") into out. Returns 0, leaving out empty, when that name
 * would be longer than PostgreSQL's 63 bytes: the table then has no cache. */
int strata__pg_digest_name(const char *table, char out[64]);

/* The look: one statement, `?` parameters in order: the quoted schema
 * (NULL for current_schema()), the quoted tracking table, the quoted cache
 * table (NULL for none), the module. It yields one row:
 *   1. NULL when the tracking table does not exist, else query_to_xml()
 *      text holding <c>64 hex digits</c>, the cached digest, where the cache
 *      may be trusted and holds a row, else <d>64 hex digits</d>, the
 *      digest computed from the rows;
 *   2. whether the cache may be trusted (its table and trigger are there);
 *   3. whether the transaction is read-only (a standby, or
 *      default_transaction_read_only), where the cache cannot be written;
 *   4. current_schema().
 * It reaches the tables only through query_to_xml(), once to_regclass()
 * has found them, so a database not yet migrated answers without an error
 * in the server's log. */
extern const char strata__pg_digest_look[];

/* The statements, in order, that store the digest of a module's rows in
 * the cache (the last one takes the module as its one parameter, $1), to run in
 * a transaction of their own, under the migration lock. `table` and `cache` are
 * quoted and schema-qualified; `schema` is the quoted schema and `create`
 * non-zero when the cache table or the trigger must be created first (that adds
 * their DDL). The SHARE lock on the tracking table makes the digest see every
 * change committed before it and keeps out changes until it commits, so no
 * change can slip between the digest and the stored row.
 *
 * Returns a NULL-terminated array of malloc'ed strings (the caller frees
 * each and the array), or NULL when out of memory. */
char **strata__pg_digest_store(const char *schema, const char *table,
                               const char *cache, int create);

#endif /* STRATA_DRIVERS_PG_DIGEST_H */
