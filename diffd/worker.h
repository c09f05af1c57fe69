/* A worker thread: its own libevent loop, SO_REUSEPORT listener, client
 * connections, outbound pools and counters. Nothing on the request path is
 * shared between workers, so nothing there takes a lock; counters are atomics
 * written only by their owner and read by the admin thread. */
#ifndef DIFFD_WORKER_H
#define DIFFD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "sample.h"
#include "samples.h"

struct event_base;
struct event;
struct evconnlistener;
struct upstream;
struct conn;
struct stats;
struct jsondiff;

/* Status classes counted per leg: 2xx 3xx 4xx 5xx, other (1xx or nonsense),
 * error (no response). */
enum status_class { SC_1XX, SC_2XX, SC_3XX, SC_4XX, SC_5XX, SC_ERROR, SC_COUNT };

struct worker_stats {
    atomic_uint_fast64_t received;
    atomic_uint_fast64_t sampled;
    atomic_uint_fast64_t compared;
    atomic_uint_fast64_t skipped_side_effect;
    atomic_uint_fast64_t skipped_overload;
    atomic_uint_fast64_t skipped_rule;
    atomic_uint_fast64_t legs[ROLE_COUNT][SC_COUNT];
    atomic_uint_fast64_t leg_latency_us[ROLE_COUNT]; /* sum, for means */
    atomic_int_fast64_t inflight;                    /* trials in progress */
};

/* Adds 1 to a counter only its owning worker writes (a relaxed load+store is
 * enough: there is no other writer, readers only need a recent value). */
static inline void stat_add(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t stat_get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* State shared read-only by all workers for the life of the server. */
struct serve_ctx {
    const struct config *cfg;
    struct liverules *rules; /* the rules in force (reloadable) */
    /* Runtime settings (PATCH /api/v1/config): read by workers per request. */
    atomic_uint_fast64_t sample_ppm; /* sampling rate, parts per million */
    atomic_bool paused;              /* true: nothing is compared */
    struct sample_budget sample_budget;
    /* Results restored from --state (or NULL): added to every report. Only
     * the admin thread touches them after start. */
    struct stats *base;
    struct sample_store base_samples;
    int access_log_fd; /* -1 when off */
    char id_prefix[16];
};

struct worker {
    int idx;
    pthread_t thread;
    struct serve_ctx *ctx;
    const struct config *cfg;
    struct event_base *base;
    int listen_fd;
    struct evconnlistener *listener;
    struct upstream *up;
    struct worker_stats stats;
    struct stats *shard;         /* this worker's statistics (stats.h) */
    struct sample_store samples; /* this worker's stored samples */
    struct jsondiff *diff_raw;   /* scratch for primary vs candidate */
    struct jsondiff *diff_noise; /* scratch for primary vs secondary */
    struct sample_rng rng;
    long max_inflight; /* this worker's share of --max-inflight */
    long trials;       /* trials and pass-through requests in progress */
    uint64_t seq;
    struct conn *conns; /* open client connections, doubly linked */
    long n_conns;
    int ctl[2]; /* control pipe: a byte 'd' asks the worker to drain */
    struct event *ctl_ev;
    struct event *drain_deadline;
    bool draining;
};

/* Sets up a worker on an already-bound listening socket (taken over). */
int worker_init(struct worker *w, int idx, struct serve_ctx *ctx, int listen_fd, char *err,
                size_t errlen);
int worker_start(struct worker *w);
/* Asks the worker to stop accepting and finish what is in flight; returns at
 * once. worker_join() waits for its thread. */
void worker_drain(struct worker *w);
void worker_join(struct worker *w);
void worker_free(struct worker *w);

/* Merges every worker's shard (and, when samples is not NULL, copies their
 * samples) into acc, each on its own thread between two events, so nothing on
 * the request path takes a lock. Waits up to timeout_ms; returns -1 when some
 * worker did not answer in time (acc then lacks its part). Any thread. */
int worker_collect(struct worker *ws, int n, struct stats *acc, struct sample_store *samples,
                   long timeout_ms);
/* Empties every worker's shard and samples (POST /api/v1/clear). */
int worker_reset_all(struct worker *ws, int n, long timeout_ms);

/* Called by connections and trials when something finished: exits the loop
 * once a draining worker has nothing left. */
void worker_check_drained(struct worker *w);

enum status_class status_class_of(int status);

#endif
