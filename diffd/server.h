/* Client connections of the proxy listener: reading and parsing requests,
 * writing responses in order, keep-alive, pipelining, timeouts and the error
 * answers of DESIGN §3. The server owns its connections; it hands each
 * complete request to a handler (h2o's on_req model: the server never names
 * the code it calls) together with the exchange to answer. One request per
 * connection is handed over at a time; the next pipelined one is parsed once
 * it is answered. */
#ifndef DIFFD_SERVER_H
#define DIFFD_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

struct event_base;
struct server;
/* One request waiting for its answer. Valid from on_request until it is
 * answered or on_gone is called for it. */
struct server_exchange;

struct server_handler {
    /* A complete request: takes ownership of *req (moved out). Answer x now
     * or later with server_respond(); attach a context with server_attach()
     * to hear of a client that leaves first. */
    void (*on_request)(void *arg, struct server_exchange *x, struct http_request *req);
    /* The client of an attached exchange went away before its answer: ctx
     * is what was attached; the exchange no longer exists. */
    void (*on_gone)(void *arg, void *ctx);
    void *arg;
};

struct server_opts {
    size_t max_body;
    /* Called after a connection closed (drain checks); may be NULL. */
    void (*on_closed)(void *arg);
    void *closed_arg;
};

/* Creates a server on base; borrows handler and opts' callbacks. Caller frees
 * with server_free() before freeing base. */
struct server *server_new(struct event_base *base, const struct server_handler *handler,
                          const struct server_opts *opts);
/* Frees every connection at once (teardown), then the server. Accepts NULL. */
void server_free(struct server *s);

/* Takes ownership of an accepted socket. */
void server_accept(struct server *s, int fd);

/* Answers x: status line, headers (hop-by-hop and Content-Length dropped,
 * Content-Length set from body_len unless the request was HEAD or the status
 * has no body), body. Borrows everything; x is gone afterwards. */
void server_respond(struct server_exchange *x, int status, const char *reason,
                    const struct headers *h, const char *body, size_t body_len);
/* Answers with a JSON {"error": msg} body. */
void server_respond_error(struct server_exchange *x, int status, const char *msg);

/* Attaches the handler's context to x (NULL detaches): on_gone gets it when
 * the client leaves first. */
void server_attach(struct server_exchange *x, void *ctx);

/* Draining: closes idle connections, answers a request half received with
 * 503, and closes every other connection after its current answer. */
void server_drain(struct server *s);

/* Open connections. */
size_t server_conn_count(const struct server *s);

#endif
