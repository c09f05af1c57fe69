/* Worker threads: event loop, listener, upstream and drain on shutdown. */
#include "worker.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsondiff.h"
#include "server.h"
#include "stats.h"
#include "upstream.h"
#include "util.h"

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)l;
    (void)sa;
    (void)socklen;
    server_accept(arg, fd);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    (void)l;
    struct worker *w = arg;
    /* EMFILE and friends: keep running; the listener retries on the next
     * readiness. Logged so an operator can raise the fd limit. */
    fprintf(stderr, "diffd: worker %d: accept: %s\n", w->idx,
            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

void worker_check_drained(struct worker *w)
{
    if (w->draining && w->trials == 0 && w->n_conns == 0)
        event_base_loopbreak(w->base);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct worker *w = arg;
    /* Legs still running past --timeout + 1 s: give up on them. */
    event_base_loopbreak(w->base);
}

/* Messages on the control pipe are one pointer each (atomic: shorter than
 * PIPE_BUF): NULL asks the worker to drain, anything else is a
 * struct worker_collect to serve. */
struct worker_collect {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;      /* the requester + each worker not yet done */
    int remaining; /* workers not yet done */
    enum { COLLECT_MERGE, COLLECT_RESET } op;
    bool want_samples;
    /* One part per worker, merged by the requester in worker order so the
     * result (sample ids kept under the caps) does not depend on timing. */
    struct stats **parts;
    struct sample_store *part_samples;
    int nparts;
};

static void collect_unref(struct worker_collect *c)
{
    pthread_mutex_lock(&c->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (!last)
        return;
    for (int i = 0; i < c->nparts; i++) {
        stats_free(c->parts[i]);
        samples_clear(&c->part_samples[i]);
    }
    free(c->parts);
    free(c->part_samples);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

static void start_drain(struct worker *w)
{
    if (w->draining)
        return;
    w->draining = true;
    if (w->listener) {
        evconnlistener_free(w->listener);
        w->listener = NULL;
    }
    server_close_idle(w);
    long ms = w->cfg->timeout_ms + 1000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    w->drain_deadline = evtimer_new(w->base, deadline_cb, w);
    evtimer_add(w->drain_deadline, &tv);
    worker_check_drained(w);
}

static void ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct worker *w = arg;
    struct worker_collect *c;
    while (read(fd, &c, sizeof(c)) == (ssize_t)sizeof(c)) {
        if (!c) {
            start_drain(w);
            continue;
        }
        if (c->op == COLLECT_MERGE) {
            /* parts[idx] is this worker's alone: no lock needed to fill it. */
            stats_merge(c->parts[w->idx], w->shard);
            if (c->want_samples)
                samples_copy_into(&c->part_samples[w->idx], &w->samples);
        }
        pthread_mutex_lock(&c->mu);
        if (c->op == COLLECT_RESET) {
            stats_reset(w->shard);
            samples_clear(&w->samples);
        }
        c->remaining--;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        collect_unref(c);
    }
}

/* Posts c to every worker and waits up to timeout_ms for all of them. */
/* c must hold one reference for the caller (refs == 1) with its mutex and
 * condition initialized; the caller's reference is left for it to drop. */
static int collect_run(struct worker *ws, int n, struct worker_collect *c, long timeout_ms)
{
    c->refs += n + 1; /* each worker, and this function's own */
    c->remaining = n;
    for (int i = 0; i < n; i++)
        if (write(ws[i].ctl[1], &c, sizeof(c)) != (ssize_t)sizeof(c)) {
            pthread_mutex_lock(&c->mu);
            c->remaining--;
            c->refs--;
            pthread_mutex_unlock(&c->mu);
        }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (c->remaining > 0)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) != 0)
            break;
    int rc = c->remaining > 0 ? -1 : 0;
    pthread_mutex_unlock(&c->mu);
    collect_unref(c);
    return rc;
}

int worker_collect(struct worker *ws, int n, struct stats *acc, struct sample_store *samples,
                   long timeout_ms)
{
    struct worker_collect *c = xcalloc(1, sizeof(*c));
    c->op = COLLECT_MERGE;
    c->want_samples = samples != NULL;
    c->nparts = n;
    c->parts = xcalloc((size_t)n, sizeof(*c->parts));
    c->part_samples = xcalloc((size_t)n, sizeof(*c->part_samples));
    for (int i = 0; i < n; i++)
        c->parts[i] = stats_new(acc->max_endpoints, acc->samples_per_field);
    /* Keep c alive past collect_run() to read the parts. */
    c->refs = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    int rc = collect_run(ws, n, c, timeout_ms);
    if (rc == 0)
        for (int i = 0; i < n; i++) {
            stats_merge(acc, c->parts[i]);
            if (samples)
                samples_copy_into(samples, &c->part_samples[i]);
        }
    collect_unref(c);
    return rc;
}

int worker_reset_all(struct worker *ws, int n, long timeout_ms)
{
    struct worker_collect *c = xcalloc(1, sizeof(*c));
    c->op = COLLECT_RESET;
    c->refs = 1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    int rc = collect_run(ws, n, c, timeout_ms);
    collect_unref(c);
    return rc;
}

int worker_init(struct worker *w, int idx, struct serve_ctx *ctx, int listen_fd, char *err,
                size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->idx = idx;
    w->ctx = ctx;
    w->cfg = ctx->cfg;
    w->listen_fd = listen_fd;
    w->ctl[0] = w->ctl[1] = -1;
    w->rng.s = hash64(&w, sizeof(&w)) ^ now_us() ^ ((uint64_t)idx << 32);
    long threads = w->cfg->threads;
    w->max_inflight = (w->cfg->max_inflight + threads - 1) / threads;

    w->shard = stats_new((size_t)w->cfg->max_endpoints, (size_t)w->cfg->samples_per_field);
    w->diff_raw = jsondiff_new();
    w->diff_noise = jsondiff_new();
    w->base = event_base_new();
    if (!w->base)
        return errf(err, errlen, "worker %d: cannot create event loop", idx);
    struct upstream_opts uo = {.timeout_ms = w->cfg->timeout_ms,
                               .connect_timeout_ms = w->cfg->connect_timeout_ms,
                               .max_body = w->cfg->max_body,
                               .ca_file = w->cfg->ca_file};
    w->up = upstream_new(w->base, &uo);
    if (!w->up)
        return errf(err, errlen, "worker %d: cannot create the outbound client", idx);
    if (pipe2(w->ctl, O_CLOEXEC | O_NONBLOCK) == -1)
        return errf(err, errlen, "worker %d: pipe: %m", idx);
    w->ctl_ev = event_new(w->base, w->ctl[0], EV_READ | EV_PERSIST, ctl_cb, w);
    event_add(w->ctl_ev, NULL);
    w->listener = evconnlistener_new(w->base, accept_cb, w, LEV_OPT_CLOSE_ON_FREE, -1, listen_fd);
    if (!w->listener)
        return errf(err, errlen, "worker %d: cannot listen", idx);
    w->listen_fd = -1; /* owned by the listener now */
    evconnlistener_set_error_cb(w->listener, accept_error_cb);
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

int worker_start(struct worker *w)
{
    return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

void worker_drain(struct worker *w)
{
    struct worker_collect *none = NULL;
    if (write(w->ctl[1], &none, sizeof(none)) != (ssize_t)sizeof(none))
        fprintf(stderr, "diffd: worker %d: cannot signal drain\n", w->idx);
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
}

void worker_free(struct worker *w)
{
    if (w->listener)
        evconnlistener_free(w->listener);
    if (w->listen_fd != -1)
        close(w->listen_fd);
    /* Connections first (they unlink from trials), then the upstream, whose
     * aborted calls complete and free the remaining trials. */
    w->draining = false; /* no loopbreak calls from the teardown */
    server_close_all(w);
    upstream_free(w->up);
    if (w->ctl_ev)
        event_free(w->ctl_ev);
    if (w->drain_deadline)
        event_free(w->drain_deadline);
    for (int i = 0; i < 2; i++)
        if (w->ctl[i] != -1)
            close(w->ctl[i]);
    if (w->base)
        event_base_free(w->base);
    stats_free(w->shard);
    samples_clear(&w->samples);
    jsondiff_free(w->diff_raw);
    jsondiff_free(w->diff_noise);
    memset(w, 0, sizeof(*w));
}
