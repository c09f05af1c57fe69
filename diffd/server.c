/* Client connections: a small state machine per connection.
 *
 *   READING  bytes are parsed; a complete request is handed to the proxy and
 *            the connection becomes WAITING (reading stops, so pipelined
 *            requests stay queued in the input buffer, in order).
 *   WAITING  the proxy answers with server_respond(); the answer is queued
 *            for writing and parsing resumes with the next buffered request.
 *   CLOSING  after an error answer, Connection: close, or drain: the output
 *            is flushed, then the connection is freed.
 *
 * Timers: 10 s for a started request to deliver its headers (408), 60 s of
 * silence in the middle of a body (408), 75 s idle keep-alive (closed
 * silently). A connection is only freed from libevent callbacks, never from
 * inside server_respond(), so callers up the stack stay valid. */
#include "server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy.h"
#include "reqparser.h"
#include "util.h"
#include "worker.h"

#define HEADER_TIMEOUT_US (10 * 1000000ull)
#define BODY_IDLE_TIMEOUT_S 60
#define KEEPALIVE_IDLE_S 75

enum conn_state { CONN_READING, CONN_WAITING, CONN_CLOSING };

struct conn {
    struct worker *w;
    struct bufferevent *bev;
    struct reqparser rp;
    struct event *timer;
    enum conn_state state;
    struct trial *trial; /* the trial that will answer the current request */
    bool head;           /* current request is HEAD */
    bool keep_alive;     /* current request allows reuse */
    uint64_t msg_started_us;
    struct conn *prev, *next;
};

static void process_input(struct conn *c);
static void arm_timer(struct conn *c);

static void conn_free(struct conn *c)
{
    struct worker *w = c->w;
    if (c->trial) {
        proxy_conn_gone(c->trial);
        c->trial = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->n_conns--;
    event_free(c->timer);
    bufferevent_free(c->bev);
    reqparser_free(&c->rp);
    free(c);
    worker_check_drained(w);
}

/* Stops reading and frees the connection once its output is flushed. */
static void conn_close_after_write(struct conn *c)
{
    c->state = CONN_CLOSING;
    bufferevent_disable(c->bev, EV_READ);
    evtimer_del(c->timer);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        /* Nothing to flush: free on the next loop turn via a zero timer. */
        struct timeval zero = {0, 0};
        evtimer_add(c->timer, &zero);
    }
}

static bool status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

static void write_response(struct conn *c, int status, const char *reason, const struct headers *h,
                           const char *body, size_t body_len, bool close)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct buf b = {0};
    buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, reason && *reason ? reason : "Unknown");
    bool has_cl = false;
    if (h) {
        const char *connection = headers_get(h, "Connection");
        for (size_t i = 0; i < h->n; i++) {
            const char *name = h->v[i].name;
            if (http_is_hop_by_hop(name))
                continue;
            if (http_connection_lists(connection, name))
                continue;
            if (ascii_casecmp(name, "content-length") == 0) {
                /* HEAD answers carry the backend's length of the body they
                 * would have had; everything else gets the real length. */
                if (!c->head || has_cl)
                    continue;
                has_cl = true;
            }
            buf_printf(&b, "%s: %s\r\n", name, h->v[i].value);
        }
    }
    if (!c->head && status_has_body(status))
        buf_printf(&b, "Content-Length: %zu\r\n", body_len);
    else if (c->head && !has_cl && status_has_body(status))
        buf_printf(&b, "Content-Length: %zu\r\n", body_len);
    if (close)
        buf_puts(&b, "Connection: close\r\n");
    buf_puts(&b, "\r\n");
    evbuffer_add(out, b.data, b.len);
    buf_free(&b);
    if (!c->head && status_has_body(status) && body_len)
        evbuffer_add(out, body, body_len);
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
    }
    return "Unknown";
}

/* An error found while reading: answer and close (the rest of the stream
 * cannot be trusted to be framed correctly). */
static void reject(struct conn *c, int status, const char *msg)
{
    struct buf body = {0};
    buf_puts(&body, "{\"error\": ");
    buf_json_string(&body, msg, strlen(msg));
    buf_puts(&body, "}\n");
    struct headers h = {0};
    headers_add(&h, "Content-Type", 12, "application/json", 16);
    c->head = false;
    write_response(c, status, reason_of(status), &h, body.data, body.len, true);
    headers_free(&h);
    buf_free(&body);
    conn_close_after_write(c);
}

void server_respond(struct conn *c, int status, const char *reason, const struct headers *h,
                    const char *body, size_t body_len)
{
    if (c->state != CONN_WAITING)
        return;
    c->trial = NULL;
    bool close = !c->keep_alive || c->w->draining;
    write_response(c, status, reason ? reason : reason_of(status), h, body, body_len, close);
    if (close) {
        conn_close_after_write(c);
        return;
    }
    c->state = CONN_READING;
    bufferevent_enable(c->bev, EV_READ);
    process_input(c);
}

void server_respond_error(struct conn *c, int status, const char *msg)
{
    struct buf body = {0};
    buf_puts(&body, "{\"error\": ");
    buf_json_string(&body, msg, strlen(msg));
    buf_puts(&body, "}\n");
    struct headers h = {0};
    headers_add(&h, "Content-Type", 12, "application/json", 16);
    server_respond(c, status, reason_of(status), &h, body.data, body.len);
    headers_free(&h);
    buf_free(&body);
}

void server_set_trial(struct conn *c, struct trial *t)
{
    c->trial = t;
}

/* Parses buffered input until a request is handed over, more bytes are
 * needed, or an error. */
static void process_input(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (c->state == CONN_READING) {
        struct evbuffer_iovec v;
        enum reqparser_result res = RP_NEED_MORE;
        size_t used = 0;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) {
            /* Nothing buffered; still give a paused parser its resume. */
            used = reqparser_feed(&c->rp, "", 0, &res);
            if (res != RP_ERROR)
                break;
        } else {
            used = reqparser_feed(&c->rp, v.iov_base, v.iov_len, &res);
            evbuffer_drain(in, used);
        }
        if (c->rp.in_message && c->msg_started_us == 0)
            c->msg_started_us = now_us();
        if (res == RP_ERROR) {
            reject(c, c->rp.error_status, c->rp.error_msg);
            return;
        }
        if (res == RP_NEED_MORE) {
            if (c->rp.expect_continue && evbuffer_get_length(in) == 0) {
                c->rp.expect_continue = false;
                evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
            }
            continue;
        }
        /* A complete request. */
        struct http_request req;
        reqparser_take(&c->rp, &req);
        c->msg_started_us = 0;
        c->keep_alive = c->rp.keep_alive;
        c->head = strcmp(req.method, "HEAD") == 0;
        c->state = CONN_WAITING;
        bufferevent_disable(c->bev, EV_READ);
        proxy_handle(c->w, c, &req);
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
    struct timeval tv = {KEEPALIVE_IDLE_S, 0};
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
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
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

static void read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    process_input(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (c->state == CONN_CLOSING)
        conn_free(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (what & BEV_EVENT_ERROR) {
        /* Reset: a request already handed to the proxy still completes as a
         * trial; its answer has nowhere to go. */
        conn_free(c);
    } else if (what & BEV_EVENT_EOF) {
        /* The client finished sending (maybe only half-closed): flush what
         * is owed to it, then close. */
        if (c->state == CONN_WAITING) {
            c->keep_alive = false; /* answer, then close */
            return;
        }
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
            conn_close_after_write(c);
        else
            conn_free(c);
    }
}

void server_accept(struct worker *w, int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct conn *c = xcalloc(1, sizeof(*c));
    c->w = w;
    c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        close(fd);
        free(c);
        return;
    }
    c->timer = evtimer_new(w->base, timer_cb, c);
    reqparser_init(&c->rp, w->cfg->max_body);
    c->state = CONN_READING;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->n_conns++;
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    arm_timer(c);
}

void server_close_idle(struct worker *w)
{
    struct conn *c = w->conns;
    while (c) {
        struct conn *next = c->next;
        if (c->state == CONN_READING) {
            if (c->rp.in_message)
                reject(c, 503, "server shutting down");
            else
                conn_close_after_write(c);
        }
        c = next;
    }
}

void server_close_all(struct worker *w)
{
    while (w->conns)
        conn_free(w->conns);
}
