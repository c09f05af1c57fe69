/* A small HTTP/1.1 client for plain-http backends, on the worker's libevent
 * loop and llhttp. It exists because the proxy's hot path is dominated by
 * per-transfer system calls in libcurl (see README, "Performance"): here a
 * kept-alive connection stays registered with epoll for its whole life, so a
 * leg costs one send() and one recv() in the common case. https backends, and
 * the CLI, use libcurl (upstream.c), behind the same struct upstream_call. */
#ifndef DIFFD_H1CLIENT_H
#define DIFFD_H1CLIENT_H

#include <stddef.h>

#include "upstream.h"

struct event_base;
struct h1client;

/* Creates a client on base. Caller frees with h1client_free() (which
 * completes every call in flight with LEG_ERR_OTHER) before freeing base. */
struct h1client *h1client_new(struct event_base *base, const struct upstream_opts *opts);
void h1client_free(struct h1client *hc);

/* Starts call (call->url must be http://). Same contract as upstream_submit:
 * done is called exactly once, never from inside this function. Returns -1
 * only when the URL cannot be used (message in call->resp.error_msg). */
int h1client_submit(struct h1client *hc, struct upstream_call *call);

/* Calls in flight. */
size_t h1client_active(const struct h1client *hc);

#endif
