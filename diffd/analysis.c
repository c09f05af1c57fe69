/* The analysis threads and their queue (analysis.h).
 *
 * The queue is a FIFO list of trials under one mutex, with its length and
 * bytes; submitting checks both bounds, links the trial and wakes a thread
 * only when one is waiting, so a busy pool costs a submitter one uncontended
 * lock and no system call. Each thread loops: serve a collection posted to it,
 * else take the oldest trial and compare it outside the lock, else sleep.
 * Collections are served between two trials, which is what makes a shard's
 * copy consistent without the shard ever being locked.
 *
 * Counters read by /healthz are atomics written by one thread each (compared
 * and per-leg counts per analysis thread) plus `pending`, which every trial
 * enters under the queue lock when submitted and leaves with release order
 * after its counts are published. */
#include "analysis.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "jsondiff.h"
#include "normalize.h"
#include "stats.h"
#include "trial.h"
#include "util.h"

/* Adds to a counter only its owner writes (relaxed load + store: there is no
 * other writer; readers need only a recent value). */
static void count(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* What one comparing thread owns: its shard, samples and diff scratch. */
struct analysis_worker {
    const struct config *cfg;
    struct sample_budget *sample_budget;
    int access_log_fd;
    struct stats *shard;
    struct sample_store samples;
    struct jsondiff *diff_raw;   /* primary vs candidate */
    struct jsondiff *diff_noise; /* primary vs secondary */
    atomic_uint_fast64_t compared;
    atomic_uint_fast64_t legs[ROLE_COUNT][STATUS_CLASSES];
    atomic_uint_fast64_t leg_latency_us[ROLE_COUNT];
};

struct analysis_thread {
    struct analysis *pool;
    int idx;
    pthread_t thread;
    bool started;
    struct analysis_worker *aw;
    /* Guarded by pool->mu. */
    struct collect *ctl; /* a collection posted to this thread */
    int ctl_part;
};

struct analysis {
    struct analysis_opts opts;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a trial or a collection arrived, or stop */
    pthread_cond_t idle; /* the queue emptied and nothing is being compared */
    /* Guarded by mu. */
    struct trial *head, *tail;
    size_t queued, queued_bytes;
    int busy;    /* threads comparing a trial */
    int waiting; /* threads asleep on `work` */
    bool stopping;
    bool closed; /* no more submissions */
    /* Read without the lock. */
    atomic_uint_fast64_t pending;
    atomic_uint_fast64_t queued_now, queued_bytes_now;
    atomic_uint_fast64_t refused, abandoned;
    struct analysis_thread *threads;
    int nthreads;
};

/* ---- comparing one trial ------------------------------------------------- */

struct analysis_worker *analysis_worker_new(const struct analysis_opts *opts)
{
    struct analysis_worker *aw = xcalloc(1, sizeof(*aw));
    aw->cfg = opts->cfg;
    aw->sample_budget = opts->sample_budget;
    aw->access_log_fd = opts->access_log_fd;
    aw->shard = stats_new((size_t)opts->cfg->max_endpoints, (size_t)opts->cfg->samples_per_field);
    aw->diff_raw = jsondiff_new();
    aw->diff_noise = jsondiff_new();
    return aw;
}

void analysis_worker_free(struct analysis_worker *aw)
{
    if (!aw)
        return;
    stats_free(aw->shard);
    samples_clear(&aw->samples);
    jsondiff_free(aw->diff_raw);
    jsondiff_free(aw->diff_noise);
    free(aw);
}

struct stats *analysis_worker_stats(struct analysis_worker *aw)
{
    return aw->shard;
}

struct sample_store *analysis_worker_samples(struct analysis_worker *aw)
{
    return &aw->samples;
}

/* Access log: one JSON line per trial, written with a single write() on an
 * O_APPEND descriptor so lines from several threads never interleave. */
static void access_log(int fd, const struct trial *t, size_t nraw, size_t nnoise)
{
    struct buf b = {0};
    buf_puts(&b, "{\"trial\":");
    buf_json_string(&b, t->id, strlen(t->id));
    buf_puts(&b, ",\"endpoint\":");
    buf_json_string(&b, t->route.name, strlen(t->route.name));
    buf_puts(&b, ",\"method\":");
    buf_json_string(&b, t->req.method, strlen(t->req.method));
    buf_puts(&b, ",\"target\":");
    buf_json_string(&b, t->req.target, strlen(t->req.target));
    buf_printf(&b, ",\"differences\":{\"raw\":%zu,\"noise\":%zu},\"legs\":{", nraw, nnoise);
    bool first = true;
    for (int r = 0; r < ROLE_COUNT; r++) {
        const struct trial_leg *l = &t->legs[r];
        if (!l->active)
            continue;
        const struct http_response *resp = &l->resp;
        buf_printf(&b, "%s\"%s\":{\"status\":%d,\"latency_ms\":%.3f,\"bytes\":%zu,\"error\":",
                   first ? "" : ",", role_name(r), resp->status, resp->latency_us / 1000.0,
                   resp->body.len);
        if (resp->error == LEG_OK)
            buf_puts(&b, "null");
        else
            buf_json_string(&b, leg_error_name(resp->error), strlen(leg_error_name(resp->error)));
        buf_puts(&b, "}");
        first = false;
    }
    buf_puts(&b, "}}\n");
    ssize_t n = write(fd, b.data, b.len);
    (void)n; /* a full disk must not stop the comparison */
    buf_free(&b);
}

/* Records one side's differences; returns whether any field of them still
 * wants a sample. */
static bool record(struct stats *shard, struct stats_endpoint *e, const struct jsondiff *d,
                   bool noise)
{
    bool wants = false;
    for (size_t i = 0; i < jsondiff_count(d); i++) {
        const struct jsondiff_entry *x = jsondiff_get(d, i);
        struct stats_field *f = stats_trial_diff(shard, e, noise, x->field, (int)x->kind);
        if (f && stats_field_wants_sample(shard, f))
            wants = true;
    }
    return wants;
}

static void attach_sample(struct stats *shard, struct stats_endpoint *e, const struct jsondiff *d,
                          const char *id)
{
    for (size_t i = 0; d && i < jsondiff_count(d); i++) {
        struct stats_field *f = stats_find_field(e, jsondiff_get(d, i)->field);
        if (f)
            stats_field_add_sample(shard, f, id);
    }
}

void analysis_worker_compare(struct analysis_worker *aw, const struct trial *t)
{
    const struct config *cfg = aw->cfg;
    const struct rules_view *view = &t->route.view;
    struct normalize_opts nopts = {.max_body = cfg->max_body};
    struct norm_response n[ROLE_COUNT];
    memset(n, 0, sizeof(n));
    for (int r = 0; r < ROLE_COUNT; r++)
        if (t->legs[r].active)
            normalize_response(view, &t->legs[r].resp, &nopts, &n[r]);

    struct stats_endpoint *e = stats_endpoint(aw->shard, t->route.name);
    stats_trial_begin(aw->shard, e);
    size_t nraw = jsondiff_responses(aw->diff_raw, view, &n[ROLE_PRIMARY], &n[ROLE_CANDIDATE]);
    bool has_noise = t->legs[ROLE_SECONDARY].active;
    size_t nnoise =
        has_noise ? jsondiff_responses(aw->diff_noise, view, &n[ROLE_PRIMARY], &n[ROLE_SECONDARY])
                  : 0;
    bool wants = record(aw->shard, e, aw->diff_raw, false);
    if (has_noise)
        wants |= record(aw->shard, e, aw->diff_noise, true);
    stats_trial_end(aw->shard, e, nraw > 0, nnoise > 0);

    for (int r = 0; r < ROLE_COUNT; r++) {
        const struct trial_leg *l = &t->legs[r];
        if (!l->active)
            continue;
        const struct http_response *resp = &l->resp;
        bool failed = resp->error != LEG_OK;
        count(&aw->legs[r][status_class_of(resp->status, failed)], 1);
        count(&aw->leg_latency_us[r], resp->latency_us);
        stats_leg(e, r, resp->status, failed, resp->latency_us);
    }
    /* Published after the per-leg counts (release; readers load it with
     * acquire), so a reader that sees the trial compared sees its legs too. */
    atomic_store_explicit(&aw->compared,
                          atomic_load_explicit(&aw->compared, memory_order_relaxed) + 1,
                          memory_order_release);

    if (wants && samples_budget_take(aw->sample_budget)) {
        const struct jsondiff *noise = has_noise ? aw->diff_noise : NULL;
        char *json = samples_build(t, view, aw->diff_raw, noise, cfg->max_body);
        samples_put(&aw->samples, t->id, t->route.name, json);
        attach_sample(aw->shard, e, aw->diff_raw, t->id);
        attach_sample(aw->shard, e, noise, t->id);
    }
    if (aw->access_log_fd != -1)
        access_log(aw->access_log_fd, t, nraw, nnoise);
    for (int r = 0; r < ROLE_COUNT; r++)
        normalize_free(&n[r]);
}

/* ---- the pool ------------------------------------------------------------ */

/* Lower this thread's CPU priority below the proxy workers': SCHED_BATCH
 * (the scheduler treats it as CPU-bound and does not let it preempt the
 * interactive workers on wake-up) plus a positive nice value (a weight of
 * about a tenth of a nice-0 thread at +10). Not SCHED_IDLE: that would starve
 * comparison entirely on a machine the proxy keeps busy. */
static void lower_priority(int nice)
{
    struct sched_param sp = {0};
    if (sched_setscheduler(0, SCHED_BATCH, &sp) == -1 && errno != EPERM)
        fprintf(stderr, "diffd: analysis thread: SCHED_BATCH: %s\n", strerror(errno));
    /* On Linux the nice value belongs to the thread (task) named by its id. */
    if (nice && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice) == -1)
        fprintf(stderr, "diffd: analysis thread: nice %d: %s\n", nice, strerror(errno));
}

static void *thread_main(void *arg)
{
    struct analysis_thread *th = arg;
    struct analysis *a = th->pool;
    lower_priority(a->opts.nice);
    pthread_mutex_lock(&a->mu);
    for (;;) {
        if (th->ctl) {
            struct collect *c = th->ctl;
            int part = th->ctl_part;
            th->ctl = NULL;
            pthread_mutex_unlock(&a->mu);
            collect_serve(c, part, th->aw->shard, &th->aw->samples);
            pthread_mutex_lock(&a->mu);
            continue;
        }
        if (a->head && !a->stopping) {
            struct trial *t = a->head;
            a->head = t->next;
            if (!a->head)
                a->tail = NULL;
            a->queued--;
            a->queued_bytes -= t->bytes;
            atomic_store_explicit(&a->queued_now, a->queued, memory_order_relaxed);
            atomic_store_explicit(&a->queued_bytes_now, a->queued_bytes, memory_order_relaxed);
            a->busy++;
            pthread_mutex_unlock(&a->mu);
            analysis_worker_compare(th->aw, t);
            trial_free(t);
            atomic_fetch_sub_explicit(&a->pending, 1, memory_order_release);
            pthread_mutex_lock(&a->mu);
            a->busy--;
            if (!a->head && a->busy == 0)
                pthread_cond_broadcast(&a->idle);
            continue;
        }
        if (a->stopping)
            break;
        a->waiting++;
        pthread_cond_wait(&a->work, &a->mu);
        a->waiting--;
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

struct analysis *analysis_new(const struct analysis_opts *opts, char *err, size_t errlen)
{
    if (opts->threads < 1) {
        errf(err, errlen, "--analysis-threads must be at least 1");
        return NULL;
    }
    struct analysis *a = xcalloc(1, sizeof(*a));
    a->opts = *opts;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->work, NULL);
    pthread_cond_init(&a->idle, NULL);
    a->nthreads = opts->threads;
    a->threads = xcalloc((size_t)a->nthreads, sizeof(*a->threads));
    for (int i = 0; i < a->nthreads; i++) {
        a->threads[i].pool = a;
        a->threads[i].idx = i;
        a->threads[i].aw = analysis_worker_new(opts);
    }
    return a;
}

int analysis_start(struct analysis *a, char *err, size_t errlen)
{
    for (int i = 0; i < a->nthreads; i++) {
        int rc = pthread_create(&a->threads[i].thread, NULL, thread_main, &a->threads[i]);
        if (rc != 0)
            return errf(err, errlen, "cannot start analysis thread %d: %s", i, strerror(rc));
        a->threads[i].started = true;
    }
    return 0;
}

bool analysis_submit(struct analysis *a, struct trial *t)
{
    t->bytes = trial_bytes(t);
    t->next = NULL;
    pthread_mutex_lock(&a->mu);
    /* An empty queue takes any one trial, however large: a trial bigger than
     * the whole byte bound is still compared when nothing else waits. */
    bool fits = !a->closed && (long)a->queued < a->opts.max_trials &&
                (a->queued == 0 || a->queued_bytes + t->bytes <= a->opts.max_bytes);
    if (fits) {
        if (a->tail)
            a->tail->next = t;
        else
            a->head = t;
        a->tail = t;
        a->queued++;
        a->queued_bytes += t->bytes;
        atomic_store_explicit(&a->queued_now, a->queued, memory_order_relaxed);
        atomic_store_explicit(&a->queued_bytes_now, a->queued_bytes, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->pending, 1, memory_order_relaxed);
        if (a->waiting)
            pthread_cond_signal(&a->work);
    }
    pthread_mutex_unlock(&a->mu);
    if (!fits)
        atomic_fetch_add_explicit(&a->refused, 1, memory_order_relaxed);
    return fits;
}

int analysis_threads(const struct analysis *a)
{
    return a->nthreads;
}

int analysis_post_collect(struct analysis *a, struct collect *c, int first_part)
{
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < a->nthreads; i++) {
        struct analysis_thread *th = &a->threads[i];
        collect_post(c, first_part + i);
        if (!th->started || a->stopping || th->ctl) {
            /* Not running (or still serving an earlier request that timed
             * out): it cannot answer this one. */
            collect_unpost(c, first_part + i);
            continue;
        }
        th->ctl = c;
        th->ctl_part = first_part + i;
    }
    pthread_cond_broadcast(&a->work);
    pthread_mutex_unlock(&a->mu);
    return a->nthreads;
}

static void stop_threads(struct analysis *a)
{
    pthread_mutex_lock(&a->mu);
    a->closed = true;
    a->stopping = true;
    pthread_cond_broadcast(&a->work);
    pthread_mutex_unlock(&a->mu);
    for (int i = 0; i < a->nthreads; i++)
        if (a->threads[i].started) {
            pthread_join(a->threads[i].thread, NULL);
            a->threads[i].started = false;
        }
    /* A collection posted but never served: give its reference back. */
    for (int i = 0; i < a->nthreads; i++)
        if (a->threads[i].ctl) {
            collect_unpost(a->threads[i].ctl, a->threads[i].ctl_part);
            a->threads[i].ctl = NULL;
        }
}

size_t analysis_drain(struct analysis *a, long timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    a->closed = true;
    while ((a->head || a->busy) && a->threads[0].started)
        if (pthread_cond_timedwait(&a->idle, &a->mu, &deadline) != 0)
            break;
    pthread_mutex_unlock(&a->mu);
    stop_threads(a);

    /* The threads are gone: their shards are this thread's now. What is
     * still queued was not compared in time. */
    size_t left = 0;
    struct stats *shard = a->threads[0].aw->shard;
    while (a->head) {
        struct trial *t = a->head;
        a->head = t->next;
        stats_count_skipped(shard, stats_endpoint(shard, t->route.name), STATS_SKIP_ANALYSIS);
        trial_free(t);
        atomic_fetch_sub_explicit(&a->pending, 1, memory_order_release);
        left++;
    }
    a->tail = NULL;
    a->queued = a->queued_bytes = 0;
    atomic_store(&a->queued_now, 0);
    atomic_store(&a->queued_bytes_now, 0);
    atomic_fetch_add(&a->abandoned, left);
    return left;
}

void analysis_merge_into(struct analysis *a, struct stats *acc, struct sample_store *samples)
{
    for (int i = 0; i < a->nthreads; i++) {
        stats_merge(acc, a->threads[i].aw->shard);
        if (samples)
            samples_copy_into(samples, &a->threads[i].aw->samples);
    }
}

void analysis_read(const struct analysis *a, struct analysis_view *out)
{
    memset(out, 0, sizeof(*out));
    struct analysis *m = (struct analysis *)a; /* atomics only */
    out->pending = atomic_load_explicit(&m->pending, memory_order_acquire);
    out->queued = atomic_load_explicit(&m->queued_now, memory_order_relaxed);
    out->queued_bytes = atomic_load_explicit(&m->queued_bytes_now, memory_order_relaxed);
    out->refused = atomic_load_explicit(&m->refused, memory_order_relaxed);
    out->abandoned = atomic_load_explicit(&m->abandoned, memory_order_relaxed);
    for (int i = 0; i < a->nthreads; i++) {
        struct analysis_worker *aw = a->threads[i].aw;
        out->compared += atomic_load_explicit(&aw->compared, memory_order_acquire);
        for (int r = 0; r < ROLE_COUNT; r++) {
            out->leg_latency_us[r] +=
                atomic_load_explicit(&aw->leg_latency_us[r], memory_order_relaxed);
            for (int k = 0; k < STATUS_CLASSES; k++)
                out->legs[r][k] += atomic_load_explicit(&aw->legs[r][k], memory_order_relaxed);
        }
    }
}

void analysis_free(struct analysis *a)
{
    if (!a)
        return;
    stop_threads(a);
    while (a->head) {
        struct trial *t = a->head;
        a->head = t->next;
        trial_free(t);
    }
    for (int i = 0; i < a->nthreads; i++)
        analysis_worker_free(a->threads[i].aw);
    free(a->threads);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->work);
    pthread_cond_destroy(&a->idle);
    free(a);
}
