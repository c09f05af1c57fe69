/* Worker threads: event loop, listener, and drain on shutdown. */
#include "worker.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect.h"
#include "proxy.h"
#include "server.h"
#include "upstream.h"
#include "util.h"

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    (void)l;
    (void)sa;
    (void)socklen;
    struct worker *w = arg;
    server_accept(w->srv, fd);
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

/* Exits the loop once a draining worker has nothing left. */
static void check_drained(void *arg)
{
    struct worker *w = arg;
    if (w->draining && proxy_active(w->px) == 0 && server_conn_count(w->srv) == 0)
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

static void start_drain(struct worker *w)
{
    if (w->draining)
        return;
    w->draining = true;
    if (w->listener) {
        evconnlistener_free(w->listener);
        w->listener = NULL;
    }
    server_drain(w->srv);
    long ms = w->ctx->cfg->timeout_ms + 1000;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    w->drain_deadline = evtimer_new(w->base, deadline_cb, w);
    evtimer_add(w->drain_deadline, &tv);
    check_drained(w);
}

/* Messages on the control pipe are one pointer each (atomic: shorter than
 * PIPE_BUF): NULL asks the worker to drain, anything else is a collection to
 * serve, part number = worker number. */
static void ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct worker *w = arg;
    struct collect *c;
    while (read(fd, &c, sizeof(c)) == (ssize_t)sizeof(c)) {
        if (!c) {
            start_drain(w);
            continue;
        }
        /* The worker's samples live in the analysis threads; its shard holds
         * the request counters. */
        struct sample_store none = {0};
        collect_serve(c, w->idx, proxy_shard(w->px), &none);
    }
}

void worker_post_collect(struct worker *w, struct collect *c, int part)
{
    (void)part; /* a worker's part is its number (ctl_cb) */
    collect_post(c, w->idx);
    if (write(w->ctl[1], &c, sizeof(c)) != (ssize_t)sizeof(c))
        collect_unpost(c, w->idx);
}

int worker_init(struct worker *w, int idx, struct serve_ctx *ctx, int listen_fd, char *err,
                size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->idx = idx;
    w->ctx = ctx;
    w->listen_fd = listen_fd;
    w->ctl[0] = w->ctl[1] = -1;
    const struct config *cfg = ctx->cfg;
    w->base = event_base_new();
    if (!w->base)
        return errf(err, errlen, "worker %d: cannot create event loop", idx);
    struct upstream_opts uo = {.timeout_ms = cfg->timeout_ms,
                               .connect_timeout_ms = cfg->connect_timeout_ms,
                               .max_body = cfg->max_body,
                               .ca_file = cfg->ca_file};
    w->up = upstream_new(w->base, &uo);
    if (!w->up)
        return errf(err, errlen, "worker %d: cannot create the outbound client", idx);
    struct proxy_opts po = {
        .idx = idx, .ctx = ctx, .up = w->up, .on_idle = check_drained, .idle_arg = w};
    w->px = proxy_new(&po);
    struct server_handler h = proxy_handler(w->px);
    struct server_opts so = {
        .max_body = cfg->max_body, .on_closed = check_drained, .closed_arg = w};
    w->srv = server_new(w->base, &h, &so);
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
    struct collect *none = NULL;
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
    /* Connections first (they unlink from their flights), then the upstream,
     * whose aborted calls complete and free the remaining flights, then the
     * proxy. */
    w->draining = false; /* no loopbreak calls from the teardown */
    server_free(w->srv);
    upstream_free(w->up);
    proxy_free(w->px);
    if (w->ctl_ev)
        event_free(w->ctl_ev);
    if (w->drain_deadline)
        event_free(w->drain_deadline);
    /* A collection still in the pipe: give its reference back. */
    struct collect *c;
    while (w->ctl[0] != -1 && read(w->ctl[0], &c, sizeof(c)) == (ssize_t)sizeof(c))
        if (c)
            collect_unpost(c, w->idx);
    for (int i = 0; i < 2; i++)
        if (w->ctl[i] != -1)
            close(w->ctl[i]);
    if (w->base)
        event_base_free(w->base);
    memset(w, 0, sizeof(*w));
}
