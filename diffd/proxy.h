/* Trials: what happens to a request once it is read (DESIGN §3 steps 2–5).
 * The proxy decides whether the request is compared (sampling, side effects,
 * skip rules, --max-inflight), sends its legs concurrently, answers the client
 * from the --respond leg as soon as that leg finishes, and hands the completed
 * trial to trial_done().
 *
 * Lifecycle: a trial is created per request and freed when its last leg has
 * finished. The client connection and the trial point at each other while the
 * client waits; whichever goes first unlinks itself (proxy_conn_gone() or
 * server_set_trial(c, NULL)), so neither is ever left with a dangling pointer. */
#ifndef DIFFD_PROXY_H
#define DIFFD_PROXY_H

#include <stdbool.h>

#include "config.h"
#include "http.h"
#include "route.h"
#include "upstream.h"

struct worker;
struct conn;

struct leg {
    struct trial *trial;
    int role;
    bool active; /* sent */
    bool done;
    char *url;
    struct headers headers;
    struct upstream_call call; /* call.resp is the leg's response */
};

struct trial {
    struct worker *w;
    char id[48];
    struct http_request req;
    struct route_result route; /* endpoint name and the rules that apply */
    bool compared;             /* a real trial (all configured legs); else a pass-through */
    int respond;               /* role answering the client, or RESPOND_NONE */
    bool answered;
    int pending; /* legs not finished */
    struct conn *conn;
    uint64_t started_us;
    struct leg legs[ROLE_COUNT];
};

/* Takes ownership of req (read on connection c). Answers c now or later. */
void proxy_handle(struct worker *w, struct conn *c, struct http_request *req);
/* The client connection of t closed before it was answered. */
void proxy_conn_gone(struct trial *t);

/* The seam where analysis plugs in: called once per completed trial, on the
 * worker's thread, with every configured leg finished (ok or error). Borrows t. */
void trial_done(struct worker *w, const struct trial *t);

#endif
