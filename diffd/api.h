/* The admin JSON API (DESIGN §8) and the Prometheus metrics, independent of
 * the HTTP server that carries them (admin.c): a request is a method, a path
 * (still URL-encoded), a query and a body; a response is a status, a content
 * type and a body. Runs on the admin thread; reaches the workers' data only
 * through collections (collect.h) served by the workers and analysis threads. */
#ifndef DIFFD_API_H
#define DIFFD_API_H

#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "config.h"
#include "http.h"
#include "stats.h"
#include "util.h"

struct serve_ctx;
struct worker;
struct stats;
struct sample_store;

struct api_env {
    struct serve_ctx *ctx;
    struct worker *workers;
    int n_workers;
};

struct api_response {
    int status;
    const char *content_type; /* static string */
    struct buf body;          /* caller frees with buf_free() */
};

/* Handles a request under /api/v1/. Always fills out (errors are JSON
 * {"error": ...} with a 4xx/5xx status). */
void api_handle(const struct api_env *env, const char *method, const char *path, const char *query,
                const char *body, size_t body_len, struct api_response *out);

/* Everything measured so far: the restored base plus every worker's shard
 * (and, when samples is not NULL, all stored samples). NULL when a worker did
 * not answer in time. Caller frees with stats_free(). */
struct stats *api_collect(const struct api_env *env, struct sample_store *samples);

/* The request counters of the workers and the analysis pool, read from
 * their atomics without a round trip through any thread: what /healthz shows
 * and SIGTERM prints. Ordered so that a trial no longer counted in flight has
 * its compared and per-leg counts visible. */
struct api_live {
    uint64_t received, sampled, compared;
    uint64_t skipped[STATS_SKIPS];
    int64_t inflight; /* legs running + waiting for or in comparison */
    uint64_t legs[ROLE_COUNT][STATUS_CLASSES];
    uint64_t leg_latency_us[ROLE_COUNT];
    struct analysis_view analysis;
};
void api_live(const struct api_env *env, struct api_live *out);

/* Empties every shard and stored sample (POST /api/v1/clear). Returns -1
 * when a thread did not answer in time. */
int api_reset(const struct api_env *env);

/* The Prometheus text exposition of everything measured so far. Returns -1
 * (out untouched) when a worker did not answer in time. */
int api_metrics(const struct api_env *env, struct buf *out);

#endif
