/* Trials: what happens to a request once it is read (DESIGN §3 steps 2–5).
 * The proxy decides whether the request is compared (skip rules, sampling,
 * side effects, --max-inflight), sends its legs concurrently, answers the
 * client from the --respond leg as soon as that leg finishes, and hands the
 * finished trial to the analysis threads (analysis.h). It knows the server
 * only through the exchange it answers (server.h) and comparison only through
 * analysis_submit().
 *
 * One proxy per worker, on the worker's event loop; it owns the worker's
 * request counters and the statistics shard they go to (received, sampled,
 * skipped), nothing else is shared, so nothing here takes a lock. */
#ifndef DIFFD_PROXY_H
#define DIFFD_PROXY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "server.h"
#include "stats.h"

struct serve_ctx;
struct upstream;
struct proxy;

/* Counters of one proxy, written only by its worker's thread (atomics so the
 * admin thread can read them at any time). */
struct proxy_counters {
    atomic_uint_fast64_t received;
    atomic_uint_fast64_t sampled;
    atomic_uint_fast64_t skipped[STATS_SKIPS];
    /* Trials whose legs are running (not yet handed to analysis or shed).
     * /healthz adds the analysis pool's pending trials. */
    atomic_int_fast64_t inflight;
};

struct proxy_opts {
    int idx; /* the worker's number, part of trial ids */
    struct serve_ctx *ctx;
    struct upstream *up;
    /* Called when the last request in progress finished (drain checks). */
    void (*on_idle)(void *arg);
    void *idle_arg;
};

/* Creates a proxy; borrows everything in opts for its life. Caller frees with
 * proxy_free() after the upstream (whose aborted calls finish the trials in
 * flight) is freed. */
struct proxy *proxy_new(const struct proxy_opts *opts);
void proxy_free(struct proxy *px);

/* The handler the server calls (server.h). */
struct server_handler proxy_handler(struct proxy *px);

/* Requests (trials and pass-throughs) in progress. */
long proxy_active(const struct proxy *px);
/* The proxy's counters and statistics shard (received, sampled, skipped per
 * endpoint). The shard is the worker thread's: read it only from there. */
struct proxy_counters *proxy_counters(struct proxy *px);
struct stats *proxy_shard(struct proxy *px);

#endif
