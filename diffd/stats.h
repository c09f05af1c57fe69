/* Statistics (DESIGN §6): per-endpoint counters, per-field raw/noise counts by
 * kind, per-leg status classes and latency histograms. Each worker owns one
 * shard and is its only writer, so recording takes no lock; the admin thread
 * gets a consistent copy by asking each worker to merge its shard into an
 * accumulator (worker.h), which is exact: every number is a sum.
 *
 * Memory is bounded whatever the traffic: a shard tracks at most
 * max_endpoints endpoints (others count under "OTHER"), at most
 * STATS_MAX_FIELDS fields per endpoint (differences on further fields are
 * counted in fields_dropped), at most samples_per_field sample ids per field,
 * and fixed-size histograms. */
#ifndef DIFFD_STATS_H
#define DIFFD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "util.h"

#define STATS_MAX_FIELDS 512
#define STATS_OTHER "OTHER"

/* Latency histograms use regress.h's buckets (1.04 growth, within 2%); a
 * shard keeps the first STATS_HIST_BUCKETS of them (up to about 25 minutes;
 * longer latencies count in the last one), 4 bytes each, allocated per leg on
 * first use. */
#define STATS_HIST_BUCKETS 540

/* Kinds of difference, in jsondiff's order (value type missing extra length
 * error). */
#define STATS_KINDS 6

/* Why a received request was not compared (DESIGN §6): a side-effect method,
 * --max-inflight reached, a skip rule, or the analysis queue full. */
enum stats_skip {
    STATS_SKIP_SIDE_EFFECT,
    STATS_SKIP_OVERLOAD,
    STATS_SKIP_RULE,
    STATS_SKIP_ANALYSIS,
    STATS_SKIPS,
};

/* "side_effect", "overload", "rule", "analysis": the report's names. */
const char *stats_skip_name(enum stats_skip why);

struct stats_field {
    char *path; /* generalized field path, owned */
    uint64_t raw, noise;
    uint64_t kinds[STATS_KINDS], noise_kinds[STATS_KINDS];
    char **samples; /* sample ids, owned, at most samples_per_field */
    uint32_t nsamples;
    /* per-trial de-duplication (not merged) */
    uint64_t seen_raw, seen_noise;
    uint8_t kinds_raw_mask, kinds_noise_mask;
};

struct stats_endpoint {
    char *name;
    uint64_t received, sampled, compared;
    uint64_t skipped[STATS_SKIPS];
    uint64_t differing_raw, differing_noise;
    uint64_t fields_dropped;
    uint64_t status[ROLE_COUNT][STATUS_CLASSES]; /* per leg, by enum status_class */
    uint32_t *hist[ROLE_COUNT]; /* STATS_HIST_BUCKETS counts each, allocated on first use */
    struct stats_field *fields;
    size_t nfields, capfields;
    size_t *field_index; /* open-addressing table of field positions + 1 */
    size_t field_index_cap;
};

struct stats {
    struct stats_endpoint *eps; /* OTHER is eps[0] once created */
    size_t neps, capeps;
    size_t *index; /* open addressing: positions + 1 */
    size_t index_cap;
    size_t max_endpoints;
    size_t samples_per_field;
    uint64_t totals_received, totals_sampled, totals_compared;
    uint64_t totals_skipped[STATS_SKIPS];
    uint64_t trial_seq; /* for per-trial de-duplication */
};

/* A new, empty shard; caller frees with stats_free() (accepts NULL). */
struct stats *stats_new(size_t max_endpoints, size_t samples_per_field);
void stats_free(struct stats *s);
/* Empties s, keeping its limits. */
void stats_reset(struct stats *s);

/* The endpoint called name, created when there is room, else OTHER. Never
 * NULL. Borrows name. */
struct stats_endpoint *stats_endpoint(struct stats *s, const char *name);
/* Looks up without creating; NULL when absent. */
struct stats_endpoint *stats_find_endpoint(const struct stats *s, const char *name);

/* Request counters (DESIGN §6), endpoint and totals together. */
void stats_count_received(struct stats *s, struct stats_endpoint *e);
void stats_count_sampled(struct stats *s, struct stats_endpoint *e);
void stats_count_skipped(struct stats *s, struct stats_endpoint *e, enum stats_skip why);

/* Recording a compared trial: stats_trial_begin(), then any number of
 * stats_trial_diff() calls (a field is counted at most once per trial and
 * side, each kind at most once), then stats_trial_end(). */
void stats_trial_begin(struct stats *s, struct stats_endpoint *e);
/* noise: primary-vs-secondary (else primary-vs-candidate). kind: index in
 * jsondiff order. Returns the field, NULL when over the field cap. Field
 * pointers stay valid only until the next call that may add a field. */
struct stats_field *stats_trial_diff(struct stats *s, struct stats_endpoint *e, bool noise,
                                     const char *field, int kind);
/* differing_raw/noise: whether the trial had any difference on that side. */
void stats_trial_end(struct stats *s, struct stats_endpoint *e, bool differing_raw,
                     bool differing_noise);
/* Per-leg outcome of a compared trial: status class and, when the leg
 * answered, its latency. */
void stats_leg(struct stats_endpoint *e, int role, int status, bool failed, uint64_t latency_us);

/* The field of e called path, created when the endpoint has room; NULL past
 * STATS_MAX_FIELDS. */
struct stats_field *stats_field_get(struct stats_endpoint *e, const char *path);
/* The field of e called path, or NULL. */
struct stats_field *stats_find_field(const struct stats_endpoint *e, const char *path);

/* Attaches a sample id (copied) to f if it has room; returns whether it did. */
bool stats_field_add_sample(const struct stats *s, struct stats_field *f, const char *id);
/* Whether f still wants a sample. */
bool stats_field_wants_sample(const struct stats *s, const struct stats_field *f);

/* Appends a histogram as sparse [[bucket,count],...] JSON (h may be NULL). */
void stats_write_hist(struct buf *b, const uint32_t *h);

/* Adds every counter of src into dst (endpoints and fields matched by name;
 * new ones created within dst's limits, the rest folded into OTHER; sample
 * lists united up to dst's per-field cap). */
void stats_merge(struct stats *dst, const struct stats *src);

#endif
