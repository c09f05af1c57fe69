/* Outbound HTTP for the legs of a trial, on one worker's libevent loop. Plain
 * http:// goes through the built-in HTTP/1.1 client (h1client.c), which keeps
 * each pooled connection registered with epoll; https:// (and http:// when the
 * environment sets DIFFD_UPSTREAM=curl) goes through libcurl's multi_socket
 * interface (curl's hiperfifo model), whose connection cache keeps
 * connections alive per backend, with easy handles recycled. Each worker owns
 * one upstream. Only this module includes curl. */
#ifndef DIFFD_UPSTREAM_H
#define DIFFD_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

struct event_base;
struct upstream;
struct upstream_call;

typedef void (*upstream_done_cb)(struct upstream_call *call, void *arg);

/* One outbound request. The caller owns the struct and fills the inputs; the
 * upstream fills resp and calls done exactly once (never from inside
 * upstream_submit). After done, the upstream no longer touches the call. */
struct upstream_call {
    /* inputs, borrowed until done */
    const char *method;
    const char *url;               /* absolute URL */
    const struct headers *headers; /* sent as given (Host included) */
    const char *body;
    size_t body_len;
    /* outputs */
    struct http_response resp;
    char *reason; /* reason phrase of the status line, or NULL; freed with the call */
    /* private */
    upstream_done_cb done;
    void *arg;
    void *easy;
    void *slist;
    struct upstream_call *prev, *next;
    uint64_t started_us;
    size_t max_body;
    bool too_large;
};

struct upstream_opts {
    long timeout_ms;
    long connect_timeout_ms;
    size_t max_body;
    const char *ca_file; /* CA bundle for https, or NULL for the system's; borrowed */
};

/* Global libcurl setup; call once before any thread starts. */
int upstream_global_init(void);
void upstream_global_cleanup(void);

/* Creates an upstream on base. Caller frees with upstream_free() before
 * freeing base. */
struct upstream *upstream_new(struct event_base *base, const struct upstream_opts *opts);
/* Completes every call in flight with LEG_ERR_OTHER ("aborted"), then frees. */
void upstream_free(struct upstream *up);

/* Starts a call. Returns 0, or -1 when the request could not even be set up
 * (then done is not called and call->resp.error_msg says why). */
int upstream_submit(struct upstream *up, struct upstream_call *call, upstream_done_cb done,
                    void *arg);
/* Frees what a finished call still holds (response, reason). */
void upstream_call_release(struct upstream_call *call);

/* Calls in flight on this upstream. */
size_t upstream_active(const struct upstream *up);

#endif
