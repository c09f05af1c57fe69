/* Client connections: a small state machine per connection.
 *
 *   READING  bytes are parsed; a complete request is handed to the proxy and
 *            the connection becomes WAITING.
 *   WAITING  the proxy answers with server_respond(); the answer is written
 *            and parsing resumes with the next buffered (pipelined) request.
 *            Bytes that arrive meanwhile are buffered, not parsed, so answers
 *            go out in request order.
 *   CLOSING  after an error answer, Connection: close, or drain: the output
 *            is flushed, then the connection is freed.
 *
 * The socket is used directly rather than through a bufferevent: its read
 * event stays registered for the connection's whole life and the write event
 * is added only when a write would block, so a request costs one recv() and
 * one send() — no epoll_ctl churn (see README, "Performance").
 *
 * Timers: 10 s for a started request to deliver its headers (408), 60 s of
 * silence in the middle of a body (408), 10 s for a new connection to start
 * its first request and 75 s idle keep-alive between requests (both closed
 * silently). A connection is only freed from libevent callbacks, never from
 * inside server_respond(), so callers up the stack stay valid. */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reqparser.h"
#include "util.h"

#define HEADER_TIMEOUT_US (10 * 1000000ull)
#define BODY_IDLE_TIMEOUT_S 60
#define KEEPALIVE_IDLE_S 75
#define READ_CHUNK 16384
/* Pipelined bytes buffered while a request is being answered; past this the
 * connection stops reading until the answer is out. */
#define MAX_BUFFERED (1024 * 1024)

enum conn_state { CONN_READING, CONN_WAITING, CONN_CLOSING };

struct server {
    struct event_base *base;
    struct server_handler handler;
    struct server_opts opts;
    struct conn *conns; /* open connections, doubly linked */
    size_t n_conns;
    bool draining;
};

/* A request waiting for its answer. On HTTP/1.1 a connection has at most one
 * at a time, so it is part of the connection. */
struct server_exchange {
    struct conn *c;
    void *ctx; /* the handler's, see server_attach() */
};

struct conn {
    struct server *srv;
    int fd;
    struct event *rev, *wev, *timer;
    bool reading; /* rev is added */
    struct buf in;
    size_t in_off; /* bytes of `in` already parsed */
    struct buf out;
    size_t out_off; /* bytes of `out` already written */
    struct reqparser rp;
    enum conn_state state;
    struct server_exchange x; /* the current request, while WAITING */
    bool head;                /* current request is HEAD */
    bool keep_alive;          /* current request allows reuse */
    bool http10;              /* current request is HTTP/1.0 (keep-alive must be said) */
    unsigned long requests;   /* requests read on this connection */
    bool eof;                 /* the client finished sending */
    bool write_blocked;       /* parsing paused until the output drains */
    bool in_process;          /* process_input() is running (answers can be synchronous) */
    uint64_t msg_started_us;
    struct conn *prev, *next;
};

static void process_input(struct conn *c);
static void arm_timer(struct conn *c);

static void conn_free(struct conn *c)
{
    struct server *srv = c->srv;
    if (c->x.ctx) {
        void *ctx = c->x.ctx;
        c->x.ctx = NULL;
        srv->handler.on_gone(srv->handler.arg, ctx);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->n_conns--;
    event_free(c->rev);
    event_free(c->wev);
    event_free(c->timer);
    close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    reqparser_free(&c->rp);
    free(c);
    if (srv->opts.on_closed)
        srv->opts.on_closed(srv->opts.closed_arg);
}

static void set_reading(struct conn *c, bool on)
{
    if (on == c->reading)
        return;
    if (on)
        event_add(c->rev, NULL);
    else
        event_del(c->rev);
    c->reading = on;
}

/* Frees the connection on the next loop turn (from a callback). */
static void free_soon(struct conn *c)
{
    evtimer_del(c->timer);
    struct timeval zero = {0, 0};
    evtimer_add(c->timer, &zero);
}

/* Writes as much pending output as the socket takes. Returns -1 when the
 * connection is dead (then it was scheduled for freeing). */
static int flush_out(struct conn *c)
{
    int rc = sock_send_pending(c->fd, &c->out, &c->out_off);
    if (rc == 0) {
        event_add(c->wev, NULL);
        return 0;
    }
    if (rc == -1) {
        /* The client is gone: nothing more can be delivered. */
        c->state = CONN_CLOSING;
        set_reading(c, false);
        event_del(c->wev);
        free_soon(c);
        return -1;
    }
    event_del(c->wev);
    if (c->state == CONN_CLOSING) {
        free_soon(c);
    } else if (c->write_blocked) {
        c->write_blocked = false;
        process_input(c);
    }
    return 0;
}

/* Stops reading and frees the connection once its output is flushed. */
static void conn_close_after_write(struct conn *c)
{
    c->state = CONN_CLOSING;
    set_reading(c, false);
    evtimer_del(c->timer);
    if (flush_out(c) == 0 && c->out_off < c->out.len) {
        /* A client that does not read its answer is not waited for long. */
        struct timeval linger = {10, 0};
        evtimer_add(c->timer, &linger);
    }
}

static bool status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

static void put_header(struct buf *b, const char *name, const char *value)
{
    buf_puts(b, name);
    buf_append(b, ": ", 2);
    buf_puts(b, value);
    buf_append(b, "\r\n", 2);
}

static void write_response(struct conn *c, int status, const char *reason, const struct headers *h,
                           const char *body, size_t body_len, bool close)
{
    struct buf *b = &c->out;
    buf_printf(b, "HTTP/1.1 %d %s\r\n", status, reason && *reason ? reason : "Unknown");
    bool has_cl = false;
    if (h) {
        const char *connection = headers_get(h, "Connection");
        for (size_t i = 0; i < h->n; i++) {
            const char *name = h->v[i].name;
            if (http_is_hop_by_hop(name) || http_connection_lists(connection, name))
                continue;
            if (ascii_casecmp(name, "content-length") == 0) {
                /* HEAD answers carry the backend's length of the body they
                 * would have had; everything else gets the real length. */
                if (!c->head || has_cl)
                    continue;
                has_cl = true;
            }
            put_header(b, name, h->v[i].value);
        }
    }
    if (status_has_body(status) && !has_cl)
        buf_printf(b, "Content-Length: %zu\r\n", body_len);
    if (close)
        buf_puts(b, "Connection: close\r\n");
    else if (c->http10)
        buf_puts(b, "Connection: keep-alive\r\n");
    buf_append(b, "\r\n", 2);
    if (!c->head && status_has_body(status) && body_len)
        buf_append(b, body, body_len);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Unknown";
}

static void error_body(struct buf *body, const char *msg)
{
    buf_puts(body, "{\"error\": ");
    buf_json_string(body, msg, strlen(msg));
    buf_puts(body, "}\n");
}

/* An error found while reading: answer and close (the rest of the stream
 * cannot be trusted to be framed correctly). */
static void reject(struct conn *c, int status, const char *msg)
{
    struct buf body = {0};
    error_body(&body, msg);
    struct headers h = {0};
    headers_add(&h, "Content-Type", 12, "application/json", 16);
    c->head = false;
    write_response(c, status, reason_of(status), &h, body.data, body.len, true);
    headers_free(&h);
    buf_free(&body);
    conn_close_after_write(c);
}

void server_respond(struct server_exchange *x, int status, const char *reason,
                    const struct headers *h, const char *body, size_t body_len)
{
    struct conn *c = x->c;
    if (c->state != CONN_WAITING)
        return;
    c->x.ctx = NULL;
    bool close = !c->keep_alive || c->srv->draining;
    write_response(c, status, reason ? reason : reason_of(status), h, body, body_len, close);
    if (close) {
        conn_close_after_write(c);
        return;
    }
    if (flush_out(c) == -1)
        return;
    c->state = CONN_READING;
    process_input(c);
}

void server_respond_error(struct server_exchange *x, int status, const char *msg)
{
    struct buf body = {0};
    error_body(&body, msg);
    struct headers h = {0};
    headers_add(&h, "Content-Type", 12, "application/json", 16);
    server_respond(x, status, reason_of(status), &h, body.data, body.len);
    headers_free(&h);
    buf_free(&body);
}

void server_attach(struct server_exchange *x, void *ctx)
{
    x->ctx = ctx;
}

/* Drops parsed bytes from the front of the input buffer. */
static void compact_input(struct conn *c)
{
    if (c->in_off == 0)
        return;
    size_t left = c->in.len - c->in_off;
    memmove(c->in.data, c->in.data + c->in_off, left);
    c->in.len = left;
    c->in_off = 0;
}

/* Parses buffered input until a request is handed over, more bytes are
 * needed, or an error. */
static void process_input(struct conn *c)
{
    /* An answer given synchronously from inside on_request() (202 for
     * --respond none) lands here again: the loop below is already running
     * and picks the next request up, so pipelines never recurse. */
    if (c->in_process)
        return;
    c->in_process = true;
    while (c->state == CONN_READING) {
        if (c->out.len - c->out_off > MAX_BUFFERED) {
            /* A client that pipelines without reading: stop until the
             * answers it owes us room for are taken. */
            c->write_blocked = true;
            set_reading(c, false);
            evtimer_del(c->timer);
            c->in_process = false;
            return;
        }
        enum reqparser_result res = RP_NEED_MORE;
        size_t avail = c->in.len - c->in_off;
        /* An empty feed still gives a paused parser its resume. */
        size_t used = reqparser_feed(&c->rp, avail ? c->in.data + c->in_off : "", avail, &res);
        c->in_off += used;
        if (c->rp.in_message && c->msg_started_us == 0)
            c->msg_started_us = now_us();
        if (res == RP_ERROR) {
            c->in_process = false;
            reject(c, c->rp.error_status, c->rp.error_msg);
            return;
        }
        if (res == RP_NEED_MORE) {
            if (c->rp.expect_continue) {
                c->rp.expect_continue = false;
                buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
                if (flush_out(c) == -1) {
                    c->in_process = false;
                    return;
                }
            }
            if (c->eof) {
                /* The client sent all it will: answer what was complete,
                 * then close; a partial request gets nothing more. */
                c->in_process = false;
                conn_close_after_write(c);
                return;
            }
            break;
        }
        /* A complete request. */
        struct http_request req;
        reqparser_take(&c->rp, &req);
        c->msg_started_us = 0;
        c->keep_alive = c->rp.keep_alive;
        c->http10 = c->rp.http10;
        c->requests++;
        c->head = strcmp(req.method, "HEAD") == 0;
        c->state = CONN_WAITING;
        c->x.ctx = NULL;
        c->srv->handler.on_request(c->srv->handler.arg, &c->x, &req);
    }
    c->in_process = false;
    if (c->state == CONN_READING) {
        compact_input(c);
        set_reading(c, !c->eof);
    }
    arm_timer(c);
}

static void arm_timer(struct conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    evtimer_del(c->timer);
    if (c->state == CONN_WAITING)
        return; /* the legs' --timeout bounds the wait */
    /* A new connection gets as long for its first request as a started
     * request gets for its headers (slowloris); between requests, keep-alive. */
    struct timeval tv = {c->requests ? KEEPALIVE_IDLE_S : HEADER_TIMEOUT_US / 1000000u, 0};
    if (c->rp.in_message && !c->rp.headers_done) {
        uint64_t now = now_us();
        uint64_t deadline = c->msg_started_us + HEADER_TIMEOUT_US;
        uint64_t left = deadline > now ? deadline - now : 0;
        tv.tv_sec = (time_t)(left / 1000000u);
        tv.tv_usec = (suseconds_t)(left % 1000000u);
    } else if (c->rp.in_message) {
        tv.tv_sec = BODY_IDLE_TIMEOUT_S;
    }
    evtimer_add(c->timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (c->state == CONN_CLOSING) {
        conn_free(c);
        return;
    }
    if (c->state == CONN_READING && c->rp.in_message) {
        reject(c, 408,
               c->rp.headers_done ? "request body not received in time"
                                  : "request headers not complete within 10 s");
        return;
    }
    conn_free(c);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct conn *c = arg;
    if (c->state == CONN_CLOSING)
        return;
    compact_input(c);
    buf_reserve(&c->in, READ_CHUNK);
    ssize_t n = recv(fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n == -1) {
        /* Reset: a request already handed to the proxy still completes as a
         * trial; its answer has nowhere to go. */
        conn_free(c);
        return;
    }
    if (n == 0) {
        /* Answer every complete request already received, then close. */
        c->eof = true;
        set_reading(c, false);
        if (c->state == CONN_READING)
            process_input(c);
        return;
    }
    c->in.len += (size_t)n;
    if (c->state == CONN_WAITING) {
        /* Pipelined bytes wait their turn; stop reading if they pile up. */
        if (c->in.len - c->in_off > MAX_BUFFERED)
            set_reading(c, false);
        return;
    }
    process_input(c);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    flush_out(arg);
}

struct server *server_new(struct event_base *base, const struct server_handler *handler,
                          const struct server_opts *opts)
{
    struct server *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->handler = *handler;
    s->opts = *opts;
    return s;
}

void server_free(struct server *s)
{
    if (!s)
        return;
    s->opts.on_closed = NULL; /* teardown: no drain checks */
    while (s->conns)
        conn_free(s->conns);
    free(s);
}

size_t server_conn_count(const struct server *s)
{
    return s->n_conns;
}

void server_accept(struct server *s, int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->fd = fd;
    c->x.c = c;
    c->rev = event_new(s->base, fd, EV_READ | EV_PERSIST, read_cb, c);
    c->wev = event_new(s->base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
    c->timer = evtimer_new(s->base, timer_cb, c);
    reqparser_init(&c->rp, s->opts.max_body);
    c->state = CONN_READING;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    set_reading(c, true);
    arm_timer(c);
}

void server_drain(struct server *s)
{
    s->draining = true;
    for (struct conn *c = s->conns; c; c = c->next) {
        if (c->state != CONN_READING)
            continue;
        if (c->rp.in_message)
            reject(c, 503, "server shutting down");
        else
            conn_close_after_write(c);
    }
}
