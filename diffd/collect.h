/* Asking the owners of statistics shards for their numbers. Each proxy worker
 * and each analysis thread owns a shard (stats.h) and its samples, and is the
 * only thread that touches them; the admin thread gets a consistent copy by
 * posting one request to every owner, which serves it on its own thread
 * between two units of work (merging its shard into its own part of the
 * request, or emptying it), then waiting for all of them. Nothing on the
 * request path takes a lock; a collection costs each owner one merge.
 *
 * Lifetime: the request is reference-counted. collect_new() returns it with
 * the requester's reference; collect_post() takes one for an owner, released
 * by that owner's collect_serve() (or by collect_unpost() when the request
 * could not be delivered). So a requester that stops waiting (timeout) never
 * frees what a slow owner is still writing into. */
#ifndef DIFFD_COLLECT_H
#define DIFFD_COLLECT_H

#include <stdbool.h>
#include <stddef.h>

struct stats;
struct sample_store;
struct collect;

enum collect_op {
    COLLECT_MERGE, /* copy the shard (and samples, if wanted) into the owner's part */
    COLLECT_RESET, /* empty the shard and its samples (POST /api/v1/clear) */
};

/* A request for nparts owners, numbered 0..nparts-1. max_endpoints and
 * samples_per_field size the parts of a merge. */
struct collect *collect_new(enum collect_op op, int nparts, bool want_samples, size_t max_endpoints,
                            size_t samples_per_field);

/* Takes a reference for the owner of part idx, before the request is handed
 * to it; collect_unpost() gives it back when the hand-over failed (the
 * collection then fails: its result would lack that part). */
void collect_post(struct collect *c, int idx);
void collect_unpost(struct collect *c, int idx);

/* Called by the owner of part idx on its own thread: does the work with the
 * owner's shard and samples (borrowed), marks it done and drops the owner's
 * reference. */
void collect_serve(struct collect *c, int idx, struct stats *shard, struct sample_store *samples);

/* Waits up to timeout_ms for every posted owner. Returns 0 when all served,
 * -1 when one did not in time or could not be asked. */
int collect_wait(struct collect *c, long timeout_ms);

/* After a successful wait: merges the parts into acc and, when samples is not
 * NULL, copies their samples, in part order (so which sample ids survive the
 * caps does not depend on timing). */
void collect_result(struct collect *c, struct stats *acc, struct sample_store *samples);

/* Drops the requester's reference (accepts NULL). */
void collect_unref(struct collect *c);

#endif
