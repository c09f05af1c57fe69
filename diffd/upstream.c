/* libcurl multi_socket on a libevent loop.
 *
 * curl tells us which sockets to watch (sock_cb) and when to call it back
 * (timer_cb); libevent tells curl when a socket is ready (event_cb) or the
 * timer fired (timeout_cb). After each curl_multi_socket_action we drain
 * curl_multi_info_read for finished transfers and hand them to their owners.
 * curl is never re-entered from a callback curl itself invoked: a timeout of
 * 0 arms a zero-delay libevent timer instead of acting at once. */
#include "upstream.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1client.h"
#include "util.h"

struct sockinfo {
    struct event *ev;
    curl_socket_t fd;
};

#define EASY_POOL_MAX 256

struct upstream {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    struct upstream_opts opts;
    struct upstream_call *calls; /* in flight, doubly linked */
    size_t n_active;
    CURL *pool[EASY_POOL_MAX]; /* idle easy handles for reuse */
    size_t n_pool;
    struct h1client *h1; /* plain http, unless DIFFD_UPSTREAM=curl */
};

int upstream_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void upstream_global_cleanup(void)
{
    curl_global_cleanup();
}

static enum leg_error map_error(CURLcode rc, bool too_large)
{
    switch (rc) {
    case CURLE_OK:
        return LEG_OK;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return LEG_ERR_REFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return LEG_ERR_TIMEOUT;
    case CURLE_WRITE_ERROR:
        return too_large ? LEG_ERR_TOO_LARGE : LEG_ERR_OTHER;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return LEG_ERR_RESET;
    default:
        return LEG_ERR_OTHER;
    }
}

static void unlink_call(struct upstream *up, struct upstream_call *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        up->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    up->n_active--;
}

/* Detaches the finished call from curl, recycles its easy handle, then calls
 * its owner. */
static void finish_call(struct upstream *up, struct upstream_call *c, CURLcode rc)
{
    CURL *easy = c->easy;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_multi_remove_handle(up->multi, easy);
    curl_slist_free_all(c->slist);
    c->slist = NULL;
    c->easy = NULL;
    if (up->n_pool < EASY_POOL_MAX)
        up->pool[up->n_pool++] = easy;
    else
        curl_easy_cleanup(easy);
    unlink_call(up, c);

    c->resp.latency_us = now_us() - c->started_us;
    c->resp.error = map_error(rc, c->too_large);
    if (c->resp.error == LEG_OK) {
        if (code > 0)
            c->resp.status = (int)code;
    } else {
        c->resp.status = 0;
        free(c->resp.error_msg);
        c->resp.error_msg =
            xstrdup(c->too_large ? "response body larger than --max-body" : curl_easy_strerror(rc));
    }
    c->done(c, c->arg);
}

static void check_multi_info(struct upstream *up)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct upstream_call *c = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        CURLcode rc = msg->data.result;
        if (c)
            finish_call(up, c, rc);
    }
}

static void event_cb(evutil_socket_t fd, short kind, void *arg)
{
    struct upstream *up = arg;
    int action =
        ((kind & EV_READ) ? CURL_CSELECT_IN : 0) | ((kind & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(up->multi, fd, action, &running);
    check_multi_info(up);
}

static void timeout_cb(evutil_socket_t fd, short kind, void *arg)
{
    (void)fd;
    (void)kind;
    struct upstream *up = arg;
    int running = 0;
    curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(up);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct upstream *up = userp;
    evtimer_del(up->timer);
    if (timeout_ms >= 0) {
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        evtimer_add(up->timer, &tv);
    }
    return 0;
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    struct upstream *up = userp;
    struct sockinfo *si = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (si) {
            event_free(si->ev);
            free(si);
        }
        curl_multi_assign(up->multi, s, NULL);
        return 0;
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (!si) {
        si = xcalloc(1, sizeof(*si));
        si->fd = s;
        si->ev = event_new(up->base, s, kind, event_cb, up);
        curl_multi_assign(up->multi, s, si);
    } else {
        event_del(si->ev);
        event_assign(si->ev, up->base, s, kind, event_cb, up);
    }
    event_add(si->ev, NULL);
    return 0;
}

struct upstream *upstream_new(struct event_base *base, const struct upstream_opts *opts)
{
    struct upstream *up = xcalloc(1, sizeof(*up));
    up->base = base;
    up->opts = *opts;
    up->multi = curl_multi_init();
    if (!up->multi) {
        free(up);
        return NULL;
    }
    up->timer = evtimer_new(base, timeout_cb, up);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    /* Keep enough idle connections for three backends under load. */
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, 1024L);
    const char *force = getenv("DIFFD_UPSTREAM");
    if (!force || strcmp(force, "curl") != 0)
        up->h1 = h1client_new(base, opts);
    return up;
}

void upstream_free(struct upstream *up)
{
    if (!up)
        return;
    h1client_free(up->h1);
    while (up->calls) {
        struct upstream_call *c = up->calls;
        c->too_large = false;
        free(c->resp.error_msg);
        c->resp.error_msg = NULL;
        finish_call(up, c, CURLE_ABORTED_BY_CALLBACK);
    }
    for (size_t i = 0; i < up->n_pool; i++)
        curl_easy_cleanup(up->pool[i]);
    curl_multi_cleanup(up->multi);
    event_free(up->timer);
    free(up);
}

size_t upstream_active(const struct upstream *up)
{
    return up->n_active + (up->h1 ? h1client_active(up->h1) : 0);
}

static size_t header_cb(char *line, size_t size, size_t n, void *arg)
{
    struct upstream_call *c = arg;
    size_t len = size * n;
    size_t end = len;
    while (end > 0 && (line[end - 1] == '\r' || line[end - 1] == '\n'))
        end--;
    if (end >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new status line: an interim 1xx answer may precede the final one,
         * so start over. */
        headers_free(&c->resp.headers);
        free(c->reason);
        c->reason = NULL;
        const char *sp = memchr(line, ' ', end);
        if (sp && (size_t)(sp - line) + 4 <= end) {
            c->resp.status = atoi(sp + 1);
            const char *r = sp + 4;
            while (r < line + end && *r == ' ')
                r++;
            if (r < line + end)
                c->reason = xstrndup(r, (size_t)(line + end - r));
        }
        return len;
    }
    const char *colon = memchr(line, ':', end);
    if (!colon)
        return len; /* blank line ending the block, or a folded continuation */
    if (c->resp.body.len > 0)
        return len; /* a trailer after the body: not a header */
    const char *v = colon + 1;
    while (v < line + end && (*v == ' ' || *v == '\t'))
        v++;
    size_t vlen = (size_t)(line + end - v);
    headers_add(&c->resp.headers, line, (size_t)(colon - line), v, vlen);
    return len;
}

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
    struct upstream_call *c = arg;
    size_t len = size * n;
    if (c->resp.body.len + len > c->max_body) {
        c->too_large = true;
        return 0;
    }
    buf_append(&c->resp.body, data, len);
    return len;
}

/* Appends "Name: value" to the curl header list; curl needs "Name;" to send a
 * header with an empty value, and "Name:" to suppress one it adds itself. */
static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value)
{
    char *line = *value ? xasprintf("%s: %s", name, value) : xasprintf("%s;", name);
    struct curl_slist *n = curl_slist_append(l, line);
    free(line);
    return n ? n : l;
}

int upstream_submit(struct upstream *up, struct upstream_call *c, upstream_done_cb done, void *arg)
{
    if (up->h1 && strncmp(c->url, "http://", 7) == 0) {
        c->done = done;
        c->arg = arg;
        return h1client_submit(up->h1, c);
    }
    CURL *e = up->n_pool ? up->pool[--up->n_pool] : curl_easy_init();
    if (!e) {
        c->resp.error_msg = xstrdup("cannot create a curl handle");
        return -1;
    }
    curl_easy_reset(e);
    c->done = done;
    c->arg = arg;
    c->easy = e;
    c->too_large = false;
    c->max_body = up->opts.max_body;

    struct curl_slist *l = NULL;
    bool has_accept = false, has_ctype = false;
    for (size_t i = 0; i < c->headers->n; i++) {
        const struct header *h = &c->headers->v[i];
        if (ascii_casecmp(h->name, "accept") == 0)
            has_accept = true;
        else if (ascii_casecmp(h->name, "content-type") == 0)
            has_ctype = true;
        l = add_header(l, h->name, h->value);
    }
    /* Send only what the client sent: suppress curl's own defaults. */
    l = curl_slist_append(l, "Expect:");
    if (!has_accept)
        l = curl_slist_append(l, "Accept:");
    if (!has_ctype)
        l = curl_slist_append(l, "Content-Type:");
    c->slist = l;

    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, l);
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, up->opts.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, up->opts.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (up->opts.ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, up->opts.ca_file);
    if (strcmp(c->method, "GET") == 0 && c->body_len == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(c->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        bool sends_body = c->body_len > 0 || strcmp(c->method, "POST") == 0 ||
                          strcmp(c->method, "PUT") == 0 || strcmp(c->method, "PATCH") == 0;
        if (sends_body) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body_len ? c->body : "");
        }
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
    }

    c->prev = NULL;
    c->next = up->calls;
    if (up->calls)
        up->calls->prev = c;
    up->calls = c;
    up->n_active++;
    c->started_us = now_us();
    CURLMcode mc = curl_multi_add_handle(up->multi, e);
    if (mc != CURLM_OK) {
        unlink_call(up, c);
        curl_slist_free_all(l);
        c->slist = NULL;
        c->easy = NULL;
        curl_easy_cleanup(e);
        c->resp.error_msg = xstrdup(curl_multi_strerror(mc));
        return -1;
    }
    return 0;
}

void upstream_call_release(struct upstream_call *c)
{
    http_response_free(&c->resp);
    free(c->reason);
    c->reason = NULL;
}
