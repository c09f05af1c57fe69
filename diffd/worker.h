/* A proxy worker thread: its own libevent loop, SO_REUSEPORT listener, client
 * connections (server.h), outbound pools (upstream.h) and trials (proxy.h).
 * Nothing on the request path is shared between workers, so nothing there
 * takes a lock; the worker's counters are atomics written only by it, and its
 * statistics shard is read through collections it serves between two events
 * (collect.h). Comparison happens elsewhere (analysis.h). */
#ifndef DIFFD_WORKER_H
#define DIFFD_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "serve.h"

struct event_base;
struct event;
struct evconnlistener;
struct upstream;
struct server;
struct proxy;
struct collect;

struct worker {
    int idx;
    pthread_t thread;
    struct serve_ctx *ctx;
    struct event_base *base;
    int listen_fd;
    struct evconnlistener *listener;
    struct upstream *up;
    struct server *srv;
    struct proxy *px;
    int ctl[2]; /* control pipe: pointers to collections; NULL asks to drain */
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

/* Posts collection c to the worker (its part is `part`, see collect.h). */
void worker_post_collect(struct worker *w, struct collect *c, int part);

#endif
