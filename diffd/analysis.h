/* Comparison, off the request path (DESIGN §3 step 5, §5, §6). The proxy
 * workers only proxy: a trial whose legs are done is handed, with its
 * buffers, to a pool of analysis threads through one bounded queue. Each
 * thread normalizes the three responses with the endpoint's rules, diffs the
 * primary against the candidate (raw) and the secondary (noise), and counts
 * the differences, statuses and latencies into a statistics shard that only
 * it writes; the first trials showing a field are kept as samples.
 *
 * The queue is bounded in trials and in bytes (bodies and headers held). A
 * trial that does not fit is refused at once (analysis_submit() returns
 * false): the worker counts it as skipped.analysis and frees it, so a slow
 * comparison never holds a client and never grows memory without bound.
 * Analysis threads run at a lower CPU priority than the workers (SCHED_BATCH
 * and nice +10, see analysis_new()): on a saturated machine the kernel runs
 * the client path first and the comparison is what gives.
 *
 * Threads: analysis_submit() from any worker; a short mutex section guards
 * the queue (no statistics are touched under it). Shards are read through
 * collections (collect.h) served by each thread between two trials, and
 * after analysis_drain() by the caller directly. */
#ifndef DIFFD_ANALYSIS_H
#define DIFFD_ANALYSIS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "samples.h"

struct analysis;
struct trial;
struct stats;
struct collect;

struct analysis_opts {
    const struct config *cfg;            /* borrowed for the pool's life */
    struct sample_budget *sample_budget; /* --max-samples, shared with other stores */
    int access_log_fd;                   /* -1 when off */
    int threads;                         /* --analysis-threads */
    size_t max_bytes;                    /* --analysis-queue-bytes */
    long max_trials;                     /* --analysis-queue-trials */
    int nice;                            /* added to the threads' nice value (0: none) */
};

/* What the pool has done so far, summed over its threads. The counts of a
 * compared trial are visible before `pending` stops counting it: read
 * pending first (analysis_read() does). */
struct analysis_view {
    uint64_t pending; /* queued + being compared */
    uint64_t queued;  /* waiting in the queue */
    uint64_t queued_bytes;
    uint64_t compared;
    uint64_t refused;   /* submissions refused: queue full (skipped.analysis) */
    uint64_t abandoned; /* left in the queue when a drain ran out of time */
    uint64_t legs[ROLE_COUNT][STATUS_CLASSES];
    uint64_t leg_latency_us[ROLE_COUNT]; /* sums, for means */
};

/* Creates the pool (threads not started). Returns NULL with a message on error. */
struct analysis *analysis_new(const struct analysis_opts *opts, char *err, size_t errlen);
/* Starts the threads. Returns 0, or -1 with a message. */
int analysis_start(struct analysis *a, char *err, size_t errlen);

/* Hands a finished trial over. Takes ownership of t when it returns true (it
 * will be compared); when the queue is full or the pool stopping, returns
 * false and t stays the caller's (count it as skipped.analysis). Any thread. */
bool analysis_submit(struct analysis *a, struct trial *t);

/* Posts collection c to every thread (their parts are first_part ...
 * first_part + n - 1; see collect.h). Returns the number of threads. */
int analysis_post_collect(struct analysis *a, struct collect *c, int first_part);
/* Number of threads (parts a collection needs). */
int analysis_threads(const struct analysis *a);

/* Stops taking trials, compares what is queued for up to timeout_ms, then
 * stops the threads. Trials still queued then are not compared: they count as
 * skipped.analysis in the pool's statistics. Returns how many that was. Call
 * once, after the workers stopped submitting. */
size_t analysis_drain(struct analysis *a, long timeout_ms);

/* After analysis_drain(): adds every thread's statistics into acc and, when
 * samples is not NULL, copies their samples. */
void analysis_merge_into(struct analysis *a, struct stats *acc, struct sample_store *samples);

/* Current counters. Any thread. */
void analysis_read(const struct analysis *a, struct analysis_view *out);

/* Stops the threads if running (without comparing what is queued) and frees
 * everything. Accepts NULL. */
void analysis_free(struct analysis *a);

/* Compares one trial into a shard, exactly as an analysis thread does:
 * normalize, diff, count, keep a sample when a field wants one. Borrows
 * everything. Exposed for the benchmarks and tests that drive the analysis
 * without threads (tests/bench/trial_bench.c). */
struct analysis_worker;
struct analysis_worker *analysis_worker_new(const struct analysis_opts *opts);
void analysis_worker_compare(struct analysis_worker *aw, const struct trial *t);
struct stats *analysis_worker_stats(struct analysis_worker *aw);
struct sample_store *analysis_worker_samples(struct analysis_worker *aw);
void analysis_worker_free(struct analysis_worker *aw);

#endif
