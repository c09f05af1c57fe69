/* Client connections of the proxy listener: reading and parsing requests,
 * writing responses in order, keep-alive, pipelining, timeouts and the
 * error answers of DESIGN §3. One request per connection is handed to the
 * proxy at a time; the next pipelined one is parsed once it is answered. */
#ifndef DIFFD_SERVER_H
#define DIFFD_SERVER_H

#include <stddef.h>

#include "http.h"

struct worker;
struct conn;
struct trial;

/* Accept callback target: takes ownership of fd. */
void server_accept(struct worker *w, int fd);

/* Answers the request the proxy holds for c: status line, headers (hop-by-hop
 * and Content-Length dropped, Content-Length set from body_len unless the
 * request was HEAD or the status has no body), body. Borrows everything. */
void server_respond(struct conn *c, int status, const char *reason, const struct headers *h,
                    const char *body, size_t body_len);
/* Answers with a JSON {"error": msg} body. */
void server_respond_error(struct conn *c, int status, const char *msg);

/* Links c to the trial that will answer it (NULL to unlink). When the client
 * goes away first, the server calls proxy_conn_gone() on that trial. */
void server_set_trial(struct conn *c, struct trial *t);

/* Closes every idle connection (draining). */
void server_close_idle(struct worker *w);
/* Frees every connection at once (teardown). */
void server_close_all(struct worker *w);

#endif
