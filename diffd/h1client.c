/* HTTP/1.1 client connections to plain-http backends.
 *
 * Each backend (host:port) has a pool of connections per worker. A connection
 * is in one of three states:
 *   CONNECTING  non-blocking connect() in progress (write event armed);
 *   BUSY        one call in flight: request written (write event armed only
 *               while a partial write is pending), response parsed by llhttp;
 *   IDLE        in the pool's idle list, kept alive for the next call.
 * The read event stays registered for the connection's whole life: in IDLE it
 * notices a backend closing the connection, in BUSY it reads the response.
 * One timer per connection bounds connect (--connect-timeout) and the whole
 * call (--timeout); failures are completed from the loop, never from inside
 * h1client_submit(). A reused connection that dies before any byte of the
 * answer arrived (the backend closed it while idle) is retried once on a new
 * connection, as curl and nginx do. */
#include "h1client.h"

#include <errno.h>
#include <event2/event.h>
#include <llhttp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

#define IDLE_MAX 512
#define READ_CHUNK 16384

enum h1state { H1_CONNECTING, H1_BUSY, H1_IDLE };

struct h1pool;

struct h1conn {
    struct h1pool *pool;
    int fd;
    enum h1state state;
    struct event *rev, *wev, *timer;
    llhttp_t parser;
    struct upstream_call *call;
    struct buf out; /* request bytes not yet written */
    size_t out_off;
    struct buf hname, hvalue; /* header being parsed */
    bool got_bytes;           /* any response byte for the current call */
    bool reused;              /* the current call runs on a kept-alive connection */
    bool complete;            /* response message complete */
    bool in_trailers;         /* header block done: further fields are trailers */
    bool keep_alive;
    bool head;          /* current call is HEAD: no response body */
    bool fail_deferred; /* completed from the timer (connect failed at once) */
    enum leg_error deferred_error;
    const char *deferred_msg;
    struct h1conn *next; /* idle list */
};

struct h1pool {
    struct h1client *hc;
    char *hostport; /* key */
    char *host, *port;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool resolved;
    struct h1conn *idle;
    size_t n_idle;
    struct h1pool *next;
};

struct h1client {
    struct event_base *base;
    struct upstream_opts opts;
    struct h1pool *pools;
    size_t active;
    struct h1conn **busy; /* every non-idle connection, for teardown */
    size_t n_busy, cap_busy;
};

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static int start_on_new_conn(struct h1pool *pool, struct upstream_call *call);

static void busy_add(struct h1client *hc, struct h1conn *c)
{
    if (hc->n_busy == hc->cap_busy) {
        hc->cap_busy = hc->cap_busy ? hc->cap_busy * 2 : 64;
        hc->busy = xrealloc(hc->busy, hc->cap_busy * sizeof(*hc->busy));
    }
    hc->busy[hc->n_busy++] = c;
}

static void busy_remove(struct h1client *hc, struct h1conn *c)
{
    for (size_t i = hc->n_busy; i-- > 0;)
        if (hc->busy[i] == c) {
            hc->busy[i] = hc->busy[--hc->n_busy];
            return;
        }
}

static void conn_destroy(struct h1conn *c)
{
    event_free(c->rev);
    event_free(c->wev);
    event_free(c->timer);
    if (c->fd != -1)
        close(c->fd);
    buf_free(&c->out);
    buf_free(&c->hname);
    buf_free(&c->hvalue);
    free(c);
}

static void idle_remove(struct h1pool *pool, struct h1conn *c)
{
    for (struct h1conn **p = &pool->idle; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            pool->n_idle--;
            c->next = NULL;
            return;
        }
}

/* Finishes the connection's call and hands it to its owner. keep: the
 * connection is reusable (response complete, keep-alive). */
static void finish(struct h1conn *c, enum leg_error err, const char *msg, bool keep)
{
    struct h1client *hc = c->pool->hc;
    struct upstream_call *call = c->call;
    evtimer_del(c->timer);
    event_del(c->wev);
    c->call = NULL;
    busy_remove(hc, c);
    if (keep && c->pool->n_idle < IDLE_MAX) {
        c->state = H1_IDLE;
        c->next = c->pool->idle;
        c->pool->idle = c;
        c->pool->n_idle++;
    } else {
        conn_destroy(c);
    }
    if (!call)
        return;
    hc->active--;
    call->resp.latency_us = now_us() - call->started_us;
    call->resp.error = err;
    if (err != LEG_OK) {
        call->resp.status = 0;
        free(call->resp.error_msg);
        call->resp.error_msg = xstrdup(msg);
    }
    call->done(call, call->arg);
}

/* A failure on a connection. A reused connection that had not answered yet
 * is retried once on a fresh one (the backend closed it while idle). */
static void fail(struct h1conn *c, enum leg_error err, const char *msg)
{
    struct upstream_call *call = c->call;
    if (call && c->reused && !c->got_bytes && (err == LEG_ERR_RESET)) {
        struct h1pool *pool = c->pool;
        c->call = NULL;
        busy_remove(pool->hc, c);
        evtimer_del(c->timer);
        conn_destroy(c);
        if (start_on_new_conn(pool, call) == 0)
            return;
        pool->hc->active--;
        call->resp.latency_us = now_us() - call->started_us;
        call->resp.error = LEG_ERR_REFUSED;
        call->resp.status = 0;
        free(call->resp.error_msg);
        call->resp.error_msg = xstrdup("cannot open a connection");
        call->done(call, call->arg);
        return;
    }
    finish(c, err, msg, false);
}

/* ---- response parsing ---------------------------------------------------- */

static struct h1conn *C(llhttp_t *p)
{
    return p->data;
}

static int on_message_begin(llhttp_t *p)
{
    struct h1conn *c = C(p);
    c->complete = false;
    c->in_trailers = false;
    headers_free(&c->call->resp.headers);
    buf_reset(&c->call->resp.body);
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t len)
{
    struct upstream_call *call = C(p)->call;
    size_t old = call->reason ? strlen(call->reason) : 0;
    call->reason = xrealloc(call->reason, old + len + 1);
    memcpy(call->reason + old, at, len);
    call->reason[old + len] = '\0';
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    buf_append(&C(p)->hname, at, len);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    buf_append(&C(p)->hvalue, at, len);
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct h1conn *c = C(p);
    /* Trailers (after a chunked body) are not merged into the headers. */
    if (!c->in_trailers)
        headers_add(&c->call->resp.headers, c->hname.data ? c->hname.data : "", c->hname.len,
                    c->hvalue.data ? c->hvalue.data : "", c->hvalue.len);
    buf_reset(&c->hname);
    buf_reset(&c->hvalue);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct h1conn *c = C(p);
    c->in_trailers = true;
    c->call->resp.status = p->status_code;
    /* HEAD answers, 1xx, 204 and 304 have no body whatever they announce. */
    if (c->head || p->status_code < 200 || p->status_code == 204 || p->status_code == 304)
        return 1;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct h1conn *c = C(p);
    struct upstream_call *call = c->call;
    if (call->resp.body.len + len > call->max_body) {
        call->too_large = true;
        return HPE_USER;
    }
    buf_append(&call->resp.body, at, len);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct h1conn *c = C(p);
    int status = p->status_code;
    if (status >= 100 && status < 200 && status != 101) {
        /* Interim answer (100 Continue, 103 Early Hints): the real one
         * follows on the same connection. */
        free(c->call->reason);
        c->call->reason = NULL;
        return 0;
    }
    c->complete = true;
    c->keep_alive = llhttp_should_keep_alive(p) && status != 101;
    return HPE_PAUSED;
}

static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void settings_init(void)
{
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_status = on_status;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_header_value_complete = on_header_value_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
}

/* ---- I/O ----------------------------------------------------------------- */

static void try_write(struct h1conn *c)
{
    int rc = sock_send_pending(c->fd, &c->out, &c->out_off);
    if (rc == 0)
        event_add(c->wev, NULL);
    else if (rc == -1)
        fail(c, LEG_ERR_RESET, strerror(errno));
    else
        event_del(c->wev);
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct h1conn *c = arg;
    char chunk[READ_CHUNK];
    ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (c->state != H1_BUSY) {
        /* An idle connection that becomes readable was closed by the backend
         * (or talks out of turn): drop it. */
        if (c->state == H1_IDLE) {
            idle_remove(c->pool, c);
            conn_destroy(c);
        }
        return;
    }
    if (n <= 0) {
        if (n == 0 && c->got_bytes && llhttp_message_needs_eof(&c->parser)) {
            llhttp_errno_t fe = llhttp_finish(&c->parser);
            if ((fe != HPE_OK && fe != HPE_PAUSED) || !c->complete) {
                fail(c, LEG_ERR_RESET, "backend closed the connection mid-response");
                return;
            }
            finish(c, LEG_OK, NULL, false); /* body delimited by close */
            return;
        }
        fail(c, LEG_ERR_RESET,
             n == 0 ? "backend closed the connection before a complete response" : strerror(errno));
        return;
    }
    c->got_bytes = true;
    llhttp_errno_t e = llhttp_execute(&c->parser, chunk, (size_t)n);
    if (e == HPE_OK)
        return;
    if (e == HPE_PAUSED && c->complete) {
        /* Bytes after the response on a connection we did not ask anything
         * else of cannot be trusted: do not reuse it then. */
        const char *pos = llhttp_get_error_pos(&c->parser);
        bool trailing = pos && pos < chunk + n;
        llhttp_resume(&c->parser);
        finish(c, LEG_OK, NULL, c->keep_alive && !trailing);
        return;
    }
    if (c->call && c->call->too_large) {
        finish(c, LEG_ERR_TOO_LARGE, "response body larger than --max-body", false);
        return;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "malformed response: %s",
             llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser)
                                                 : llhttp_errno_name(e));
    finish(c, LEG_ERR_OTHER, msg, false);
}

static void conn_connected(struct h1conn *c)
{
    c->state = H1_BUSY;
    struct timeval tv = {c->pool->hc->opts.timeout_ms / 1000,
                         (c->pool->hc->opts.timeout_ms % 1000) * 1000};
    /* The call's timeout counts from submit; what is left of it now. */
    uint64_t spent = now_us() - c->call->started_us;
    uint64_t total = (uint64_t)c->pool->hc->opts.timeout_ms * 1000u;
    uint64_t left = total > spent ? total - spent : 0;
    tv.tv_sec = (time_t)(left / 1000000u);
    tv.tv_usec = (suseconds_t)(left % 1000000u);
    evtimer_add(c->timer, &tv);
    event_add(c->rev, NULL);
    try_write(c);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct h1conn *c = arg;
    if (c->state == H1_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
            err = errno;
        if (err) {
            event_del(c->wev);
            c->reused = false;
            finish(c, LEG_ERR_REFUSED, strerror(err), false);
            return;
        }
        conn_connected(c);
        return;
    }
    try_write(c);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct h1conn *c = arg;
    if (c->fail_deferred) {
        finish(c, c->deferred_error, c->deferred_msg, false);
        return;
    }
    if (c->state == H1_CONNECTING)
        finish(c, LEG_ERR_TIMEOUT, "connect timed out (--connect-timeout)", false);
    else
        finish(c, LEG_ERR_TIMEOUT, "no complete response within --timeout", false);
}

/* ---- requests ------------------------------------------------------------ */

static void serialize(struct h1conn *c, const struct upstream_call *call, const char *path)
{
    struct buf *o = &c->out;
    buf_reset(o);
    c->out_off = 0;
    /* Plain appends: this runs for every leg, and printf is measurably slower. */
    buf_puts(o, call->method);
    buf_append(o, " ", 1);
    buf_puts(o, path);
    buf_append(o, " HTTP/1.1\r\n", 11);
    for (size_t i = 0; i < call->headers->n; i++) {
        buf_puts(o, call->headers->v[i].name);
        buf_append(o, ": ", 2);
        buf_puts(o, call->headers->v[i].value);
        buf_append(o, "\r\n", 2);
    }
    bool body_method = strcmp(call->method, "POST") == 0 || strcmp(call->method, "PUT") == 0 ||
                       strcmp(call->method, "PATCH") == 0;
    if (call->body_len || body_method)
        buf_printf(o, "Content-Length: %zu\r\n", call->body_len);
    buf_puts(o, "\r\n");
    if (call->body_len)
        buf_append(o, call->body, call->body_len);
}

/* Splits "http://host[:port]/path?q" into pool key and path. */
static int split_url(const char *url, char *hostport, size_t hplen, const char **path)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7;
    size_t n = strcspn(h, "/?");
    if (n == 0 || n >= hplen)
        return -1;
    memcpy(hostport, h, n);
    hostport[n] = '\0';
    *path = h[n] ? h + n : "/";
    return 0;
}

static int resolve(struct h1pool *pool)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(pool->host, pool->port, &hints, &res) != 0 || !res)
        return -1;
    memcpy(&pool->addr, res->ai_addr, res->ai_addrlen);
    pool->addrlen = res->ai_addrlen;
    pool->resolved = true;
    freeaddrinfo(res);
    return 0;
}

static struct h1pool *pool_get(struct h1client *hc, const char *hostport)
{
    for (struct h1pool *p = hc->pools; p; p = p->next)
        if (strcmp(p->hostport, hostport) == 0)
            return p;
    struct h1pool *p = xcalloc(1, sizeof(*p));
    p->hc = hc;
    p->hostport = xstrdup(hostport);
    const char *colon = strrchr(hostport, ':');
    const char *bracket = strrchr(hostport, ']');
    if (colon && (!bracket || colon > bracket)) {
        p->host = xstrndup(hostport, (size_t)(colon - hostport));
        p->port = xstrdup(colon + 1);
    } else {
        p->host = xstrdup(hostport);
        p->port = xstrdup("80");
    }
    if (p->host[0] == '[') {
        size_t l = strlen(p->host);
        char *h = xstrndup(p->host + 1, l >= 2 ? l - 2 : 0);
        free(p->host);
        p->host = h;
    }
    p->next = hc->pools;
    hc->pools = p;
    return p;
}

static void begin_call(struct h1conn *c, struct upstream_call *call, bool reused)
{
    c->call = call;
    c->reused = reused;
    c->got_bytes = false;
    c->complete = false;
    c->fail_deferred = false;
    c->head = strcmp(call->method, "HEAD") == 0;
    llhttp_init(&c->parser, HTTP_RESPONSE, &settings);
    c->parser.data = c;
    buf_reset(&c->hname);
    buf_reset(&c->hvalue);
    busy_add(c->pool->hc, c);
}

/* Defers a failure to the next loop turn (the caller is inside submit). */
static void fail_soon(struct h1conn *c, enum leg_error err, const char *msg)
{
    c->fail_deferred = true;
    c->deferred_error = err;
    c->deferred_msg = msg;
    struct timeval zero = {0, 0};
    evtimer_add(c->timer, &zero);
}

static struct h1conn *conn_new(struct h1pool *pool)
{
    struct h1conn *c = xcalloc(1, sizeof(*c));
    c->pool = pool;
    c->fd = -1;
    c->state = H1_CONNECTING;
    c->timer = evtimer_new(pool->hc->base, conn_timer_cb, c);
    return c;
}

static int start_on_new_conn(struct h1pool *pool, struct upstream_call *call)
{
    struct h1client *hc = pool->hc;
    char hostport[256];
    const char *path;
    if (split_url(call->url, hostport, sizeof(hostport), &path) == -1)
        return -1;
    struct h1conn *c = conn_new(pool);
    begin_call(c, call, false);
    serialize(c, call, path);
    if (!pool->resolved && resolve(pool) == -1) {
        c->rev = event_new(hc->base, -1, 0, conn_read_cb, c);
        c->wev = event_new(hc->base, -1, 0, conn_write_cb, c);
        fail_soon(c, LEG_ERR_REFUSED, "cannot resolve backend host");
        return 0;
    }
    c->fd = socket(pool->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->rev = event_new(hc->base, c->fd, EV_READ | EV_PERSIST, conn_read_cb, c);
    c->wev = event_new(hc->base, c->fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
    if (c->fd == -1) {
        fail_soon(c, LEG_ERR_OTHER, "cannot create a socket");
        return 0;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(c->fd, (struct sockaddr *)&pool->addr, pool->addrlen);
    if (rc == -1 && errno != EINPROGRESS) {
        /* Re-resolve next time: the address may have moved. */
        pool->resolved = false;
        fail_soon(c, LEG_ERR_REFUSED,
                  errno == ECONNREFUSED ? "connection refused" : "connect failed");
        return 0;
    }
    /* Even an immediate success goes through the write event, so that no
     * failure can complete the call from inside submit. */
    long ms = hc->opts.connect_timeout_ms < hc->opts.timeout_ms ? hc->opts.connect_timeout_ms
                                                                : hc->opts.timeout_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    event_add(c->wev, NULL);
    return 0;
}

int h1client_submit(struct h1client *hc, struct upstream_call *call)
{
    char hostport[256];
    const char *path;
    if (split_url(call->url, hostport, sizeof(hostport), &path) == -1) {
        call->resp.error_msg = xstrdup("not an http:// URL the built-in client can use");
        return -1;
    }
    pthread_once(&settings_once, settings_init);
    struct h1pool *pool = pool_get(hc, hostport);
    call->started_us = now_us();
    call->too_large = false;
    call->max_body = hc->opts.max_body;
    hc->active++;
    struct h1conn *c = pool->idle;
    if (!c)
        return start_on_new_conn(pool, call);
    pool->idle = c->next;
    pool->n_idle--;
    c->next = NULL;
    c->state = H1_BUSY;
    begin_call(c, call, true);
    serialize(c, call, path);
    struct timeval tv = {hc->opts.timeout_ms / 1000, (hc->opts.timeout_ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    /* A failed write here must not complete the call inside submit: send
     * once, and leave errors to the loop (the read event reports them). */
    ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
    if (n > 0)
        c->out_off = (size_t)n;
    if (c->out_off < c->out.len)
        event_add(c->wev, NULL);
    else {
        buf_reset(&c->out);
        c->out_off = 0;
    }
    return 0;
}

struct h1client *h1client_new(struct event_base *base, const struct upstream_opts *opts)
{
    struct h1client *hc = xcalloc(1, sizeof(*hc));
    hc->base = base;
    hc->opts = *opts;
    return hc;
}

void h1client_free(struct h1client *hc)
{
    if (!hc)
        return;
    while (hc->n_busy > 0)
        finish(hc->busy[hc->n_busy - 1], LEG_ERR_OTHER, "aborted: shutting down", false);
    while (hc->pools) {
        struct h1pool *p = hc->pools;
        hc->pools = p->next;
        while (p->idle) {
            struct h1conn *c = p->idle;
            p->idle = c->next;
            conn_destroy(c);
        }
        free(p->hostport);
        free(p->host);
        free(p->port);
        free(p);
    }
    free(hc->busy);
    free(hc);
}

size_t h1client_active(const struct h1client *hc)
{
    return hc->active;
}
