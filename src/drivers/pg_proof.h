/*
 * pg_proof.h - whether a cached state digest still describes the tracking
 * table, decided in C from the facts the look gathers (pg_digest.h).
 *
 * The server only reads: each cache row as JSON with its xmin and age, and,
 * from the same snapshot, the tracking table's row count, the least
 * non-negative age() of its rows' xmin and their least and greatest
 * tableoid. Weighing those here instead of in SQL spares a new backend a
 * catalog lookup per function and operator the checks would use, which is
 * most of what a no-op start costs the server.
 */
#ifndef STRATA_DRIVERS_PG_PROOF_H
#define STRATA_DRIVERS_PG_PROOF_H

#include <stddef.h>

/* Decides whether a cache row proves module's digest.
 *
 * `facts` is query_to_xml() text (tableforest, NULLs left out): one <row>
 * per cache row, each holding
 *   <j>  the row as to_jsonb() gave it: module, digest, horizon, row_count,
 *        rel, writer;
 *   <x>  its xmin, and <a> age() of it;
 *   <n>  the tracking table's rows, <m> the least age() of their xmins that
 *        is not negative (absent when none is), <lo> and <hi> the least and
 *        greatest tableoid among them (absent when there are none).
 * `xmax` is the snapshot's xmax, a 64-bit txid in decimal.
 *
 * A row proves the digest when, as pg_digest.h argues: its module is
 * `module`; its digest is 64 lowercase hex digits; its xmin is the writer it
 * names (mod 2^32); its horizon is at most 2^30 transactions before xmax;
 * the tracking table has row_count rows, all in table rel (an empty table
 * names none, but rel must be there); and no row's age() lies in
 * [0, age(horizon)), age(horizon) being worked out from the cache row's own
 * xmin and age, which share the base that every age() of one transaction
 * counts from.
 *
 * Returns 1 and writes the digest, NUL-terminated, into out when a row
 * proves it; returns 0, leaving out alone, when none does or the text is
 * not as described (the digest must then be computed from the rows). Never
 * fails otherwise; allocates nothing that outlives the call. */
int strata__pg_proof(const char *facts, const char *module, const char *xmax,
                     char out[65]);

/* The text between <tag> and </tag> in [row, end) (tag at most 4 bytes),
 * its length in *len; NULL when there is no such element. The text is
 * query_to_xml()'s, escapes and all. */
const char *strata__pg_xml_element(const char *row, const char *end,
                                   const char *tag, size_t *len);

#endif
