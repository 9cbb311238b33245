/*
 * pg_digest.c - the SQL of PostgreSQL's digest cache; see pg_digest.h.
 */
#include "pg_digest.h"

#include "../strata_int.h"

#include <string.h>

/* The state digest of the rows of a module, as strata__state_hash computes
 * it: SHA-256 of "VERSION CHECKSUM STATE\n" lines in byte order of version
 * (COLLATE "C"). sha256() needs PostgreSQL 11; the text is ASCII, so
 * convert_to() changes nothing. */
#define DIGEST_EXPR                                                            \
    "encode(sha256(convert_to(coalesce(string_agg(version || ' ' || "          \
    "checksum || ' ' || state || chr(10), '' ORDER BY version COLLATE "        \
    "\"C\"), ''), 'UTF8')), 'hex')"

/* The rows of cache %s.%s (at most 1,000: one a module) as JSON, so that a
 * table of that name with other columns is merely never trusted, with
 * their xmin and age(xmin); beside them, from the same snapshot, the rows
 * of tracking table %s.%s: how many, the least of their age(xmin) that is
 * not negative, and their least and greatest tableoid. A format() string
 * inside an SQL literal; pg_proof.c weighs what it reads and picks the
 * module's row. Each function and operator costs a new backend a catalog
 * lookup, hence no more of them than the facts need: picking the module's
 * row here would cost 0.15 ms (a module past the first 1,000 rows has its
 * rows digested on every start, as without a cache). The LIMIT keeps the
 * planner's estimate, and so JIT, away from a cache it has never analysed. */
#define FACTS                                                                  \
    "SELECT k.j, k.x, age(k.x) AS a, r.n, r.m, r.lo, r.hi FROM (SELECT "       \
    "to_jsonb(k) AS j, k.xmin AS x FROM %s.%s AS k LIMIT 1000) AS k, (SELECT " \
    "count(*) AS n, min(age(xmin)) FILTER (WHERE age(xmin) >= 0) AS m, "       \
    "min(tableoid) AS lo, max(tableoid) AS hi FROM %s.%s) AS r"

/* Whether the cache has strata's columns: a format() string taking the
 * cache's OID, evaluated inside FRESH. Planning a scan of pg_attribute
 * costs a new backend about 0.5 ms, so only a look that will store
 * carries it. */
#define SHAPED "$k$" STRATA__PG_DIGEST_SHAPED("%s") "$k$"

/* The cache exists and this role may read it, outside recovery (an
 * unlogged table cannot be read on a standby). Strict functions all, so
 * a NULL anywhere is false, not an error. */
#define USABLE                                                                 \
    "cr IS NOT NULL AND NOT pg_is_in_recovery() AND has_table_privilege(cr, "  \
    "'SELECT')"

/* From one snapshot, what the cache stores beside a digest: p.h, the
 * horizon; r.n, the rows of tracking table %s (qualified); r.y, how many of
 * them were written after the horizon (pg_digest.h), by 32-bit distance from
 * it, which holds whatever transaction id the session has; r.o, the table
 * the rows were read from (0 for none), named by the rows themselves so
 * that it is the table digested even if a rename swaps another in at the
 * same moment. For format() and for sprintf() alike: both read %s and %%. */
#define SNAPSHOT                                                               \
    " FROM (SELECT h, txid_snapshot_xmax(s) - h AS w FROM (SELECT s, "         \
    "txid_snapshot_xmin(s) - 1 AS h FROM (SELECT txid_current_snapshot() AS "  \
    "s) AS s) AS x) AS p, LATERAL (SELECT count(*) AS n, count(*) FILTER "     \
    "(WHERE ((xmin::text::bigint - p.h) %% 4294967296 + 4294967296) %% "       \
    "4294967296 BETWEEN 1 AND p.w) AS y, coalesce(max(tableoid)::bigint, 0) "  \
    "AS o FROM %s) AS r"

/* The digest of module %L's rows of tracking table %s.%s, computed, and,
 * where the condition %s (SHAPED) holds, the rest of SNAPSHOT (%s: the same
 * table, qualified), for sessions that may store. A format() string inside
 * an SQL literal. */
#define FRESH                                                                  \
    "SELECT (SELECT %s FROM %s.%s WHERE module = %L) AS d, CASE WHEN %s "      \
    "THEN p.h END AS h, r.n, r.y, r.o" SNAPSHOT

/* What both statements start from: s, the quoted schema (current_schema()
 * when none is given), t and c, the quoted tracking and cache tables, m,
 * the module, e, DIGEST_EXPR; tr and cr, the tables, NULL where missing;
 * u, whether the cache may be read (USABLE). */
#define TARGET                                                                 \
    "(SELECT *, " USABLE " AS u FROM (SELECT *, to_regclass(s || '.' || t) "   \
    "AS tr, CASE WHEN c IS NOT NULL THEN to_regclass(s || '.' || c) END AS "   \
    "cr FROM (SELECT coalesce(?, quote_ident(current_schema())) AS s, "        \
    "?::text AS t, ?::text AS c, ?::text AS m, $e$" DIGEST_EXPR "$e$ AS e) "   \
    "AS p) AS p) AS target"

/* The statement that digests the module's rows, alone. */
#define DIGEST_ONLY                                                            \
    "format('SELECT %s AS d FROM %s.%s WHERE module = %L', e, s, t, m)"

/* query_to_xml() reaches the tables only once to_regclass() has found
 * them. Where the cache cannot be read, the rows are digested at once. */
const char strata__pg_digest_look[] =
    "SELECT CASE WHEN tr IS NOT NULL THEN query_to_xml(CASE WHEN u THEN "
    "format('" FACTS "', s, c, s, t) ELSE " DIGEST_ONLY " END, false, true, "
    "'')::text END, current_schema(), "
    "txid_snapshot_xmax(txid_current_snapshot()) FROM " TARGET;

/* has_table_privilege() with a list of privileges asks for any of them,
 * hence one call each. */
const char strata__pg_digest_fresh[] =
    "SELECT CASE WHEN tr IS NOT NULL THEN query_to_xml(CASE WHEN u AND NOT "
    "current_setting('transaction_read_only')::bool AND "
    "has_table_privilege(cr, 'INSERT') AND has_table_privilege(cr, 'UPDATE') "
    "THEN format('" FRESH "', e, s, t, m, format(" SHAPED
    ", cr::oid), s || '.' || t) ELSE " DIGEST_ONLY " END, false, true, "
    "'')::text END, current_schema() FROM " TARGET;

/* Both stores replace the module's row, naming the tracking table's OID
 * ($2 or $5: its quoted, qualified name) and their own transaction. */
#define UPSERT                                                                 \
    " ON CONFLICT (module) DO UPDATE SET horizon = excluded.horizon, "         \
    "row_count = excluded.row_count, digest = excluded.digest, rel = "         \
    "excluded.rel, writer = excluded.writer"

int strata__pg_digest_name(const char *table, char out[64])
{
    static const char suffix[] = "_digest";
    size_t n = strlen(table);
    out[0] = '\0';
    if (n + sizeof suffix > 64)
        return 0;
    memcpy(out, table, n);
    memcpy(out + n, suffix, sizeof suffix);
    return 1;
}

char *strata__pg_digest_create(const char *cache)
{
    return strata__sprintf(
        "CREATE UNLOGGED TABLE IF NOT EXISTS %s (module text PRIMARY KEY, "
        "horizon bigint NOT NULL, row_count bigint NOT NULL, digest text NOT "
        "NULL CHECK (digest ~ '^[0-9a-f]{64}$'), rel bigint NOT NULL, writer "
        "bigint NOT NULL)",
        cache);
}

char *strata__pg_digest_store(const char *table, const char *cache)
{
    return strata__sprintf(
        "INSERT INTO %s (module, horizon, row_count, digest, rel, writer) "
        "SELECT $1, p.h, r.n, (SELECT " DIGEST_EXPR " FROM %s WHERE "
        "module = $1), r.o, txid_current()" SNAPSHOT " WHERE r.y = 0" UPSERT,
        cache, table, table);
}

char *strata__pg_digest_store_values(const char *cache)
{
    return strata__sprintf(
        "INSERT INTO %s (module, horizon, row_count, digest, rel, writer) "
        "VALUES ($1, $2, $3, $4, $5, txid_current())" UPSERT,
        cache);
}
