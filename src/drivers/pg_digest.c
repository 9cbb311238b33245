/*
 * pg_digest.c - the SQL of PostgreSQL's digest cache; see pg_digest.h.
 */
#include "pg_digest.h"

#include "../strata_int.h"

#include <stdlib.h>
#include <string.h>

/* The state digest of the rows of a module, as strata__state_hash computes
 * it: SHA-256 of "VERSION CHECKSUM STATE\n" lines in byte order of version
 * (COLLATE "C"). sha256() needs PostgreSQL 11; the text is ASCII, so
 * convert_to() changes nothing. */
#define DIGEST_EXPR                                                            \
    "encode(sha256(convert_to(coalesce(string_agg(version || ' ' || "          \
    "checksum || ' ' || state || chr(10), '' ORDER BY version COLLATE "        \
    "\"C\"), ''), 'UTF8')), 'hex')"

/* query_to_xml() yields '' for no row, hence nullif(): an empty cache
 * falls through to the rows. */
#define TRUSTED STRATA__PG_DIGEST_TRUSTED("to_regclass(s || '.' || t)")
#define CACHED " AND to_regclass(s || '.' || c) IS NOT NULL"
const char strata__pg_digest_look[] =
    "SELECT coalesce(nullif(CASE WHEN " TRUSTED CACHED
    " THEN query_to_xml(format('SELECT digest AS c FROM %s.%s WHERE module = "
    "%L', s, c, m), false, true, '')::text END, ''), CASE WHEN to_regclass(s "
    "|| '.' || t) IS NOT NULL THEN query_to_xml(format('SELECT %s AS d FROM "
    "%s.%s WHERE module = %L', e, s, t, m), false, true, '')::text "
    "END), " TRUSTED CACHED ", current_setting('transaction_read_only')::bool, "
    "current_schema() FROM (SELECT coalesce(?, quote_ident(current_schema())) "
    "AS s, ?::text AS t, ?::text AS c, ?::text AS m, $e$" DIGEST_EXPR
    "$e$ AS e) AS target";
#undef TRUSTED
#undef CACHED

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

static void free_all(char **stmts)
{
    if (stmts == NULL)
        return;
    for (char **s = stmts; *s != NULL; s++)
        free(*s);
    free(stmts);
}

char **strata__pg_digest_store(const char *schema, const char *table,
                               const char *cache, int create)
{
    enum { MAX = 8 };
    char **out = calloc(MAX + 1, sizeof *out);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    int ok = 1;
#define ADD(...) ok = ok && (out[n++] = strata__sprintf(__VA_ARGS__)) != NULL
    if (create) {
        /* DROP TRIGGER IF EXISTS notices that it skipped. */
        ADD("SET LOCAL client_min_messages = warning");
        ADD("CREATE TABLE IF NOT EXISTS %s (module text PRIMARY KEY, "
            "digest text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'))",
            cache);
        /* The cache's name follows from the table's, so one function
         * serves every tracking table of the schema. */
        ADD("CREATE OR REPLACE FUNCTION %s." STRATA__PG_DIGEST_TRIGGER
            "() RETURNS trigger LANGUAGE plpgsql SET search_path = "
            "pg_catalog AS $f$BEGIN EXECUTE format('DELETE FROM %%I.%%I', "
            "TG_TABLE_SCHEMA, TG_TABLE_NAME || '_digest'); RETURN NULL; "
            "END$f$",
            schema);
        ADD("DROP TRIGGER IF EXISTS " STRATA__PG_DIGEST_TRIGGER " ON %s",
            table);
        ADD("CREATE TRIGGER " STRATA__PG_DIGEST_TRIGGER " AFTER INSERT OR "
            "UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE "
            "FUNCTION %s." STRATA__PG_DIGEST_TRIGGER "()",
            table, schema);
        ADD("ALTER TABLE %s ENABLE ALWAYS TRIGGER " STRATA__PG_DIGEST_TRIGGER,
            table);
    }
    ADD("LOCK TABLE %s IN SHARE MODE", table);
    ADD("INSERT INTO %s (module, digest) SELECT $1, " DIGEST_EXPR
        " FROM %s WHERE module = $1 ON CONFLICT (module) DO UPDATE SET "
        "digest = excluded.digest",
        cache, table);
#undef ADD
    if (!ok) {
        free_all(out);
        return NULL;
    }
    return out;
}
