/* Admin HTTP server on libevent's evhttp, in a thread of its own. */
#include "admin.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "assets.h"
#include "liverules.h"
#include "reportgen.h"
#include "state.h"
#include "stats.h"
#include "util.h"
#include "worker.h"

struct admin {
    struct serve_ctx *ctx;
    struct worker *workers;
    int n_workers;
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    bool started;
    int ctl[2];
    struct event *ctl_ev;
    struct event *snapshot_ev;
    atomic_bool quiet; /* shutting down: no more snapshots */
    char last_snapshot_error[256];
};

static void common_headers(struct evkeyvalq *h)
{
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
}

static void send_body(struct evhttp_request *req, int code, const char *type, const char *data,
                      size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    common_headers(h);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, data ? data : "", len);
    evhttp_send_reply(req, code, NULL, out);
    evbuffer_free(out);
}

static void send_error(struct evhttp_request *req, int code, const char *msg)
{
    struct buf b = {0};
    buf_puts(&b, "{\"error\": ");
    buf_json_string(&b, msg, strlen(msg));
    buf_puts(&b, "}\n");
    send_body(req, code, "application/json", b.data, b.len);
    buf_free(&b);
}

/* Liveness plus the request counters, read from the workers' and the
 * analysis threads' atomics (no round trip through their loops). */
static void healthz(struct admin *a, struct evhttp_request *req)
{
    struct api_env env = {a->ctx, a->workers, a->n_workers};
    struct api_live live;
    api_live(&env, &live);
    struct buf b = {0};
    buf_printf(&b,
               "{\"status\":\"ok\",\"inflight\":%lld,\"totals\":{\"received\":%llu,"
               "\"sampled\":%llu,\"compared\":%llu,\"skipped\":{",
               (long long)live.inflight, (unsigned long long)live.received,
               (unsigned long long)live.sampled, (unsigned long long)live.compared);
    for (int k = 0; k < STATS_SKIPS; k++)
        buf_printf(&b, "%s\"%s\":%llu", k ? "," : "", stats_skip_name((enum stats_skip)k),
                   (unsigned long long)live.skipped[k]);
    buf_printf(&b,
               "}},\"analysis\":{\"threads\":%d,\"queued\":%llu,\"queued_bytes\":%llu,"
               "\"pending\":%llu},\"legs\":{",
               a->ctx->cfg->analysis_threads, (unsigned long long)live.analysis.queued,
               (unsigned long long)live.analysis.queued_bytes,
               (unsigned long long)live.analysis.pending);
    for (int r = 0; r < ROLE_COUNT; r++) {
        buf_printf(&b, "%s\"%s\":{", r ? "," : "", role_name(r));
        for (int k = 0; k < STATUS_CLASSES; k++)
            buf_printf(&b, "%s\"%s\":%llu", k ? "," : "", status_class_name((enum status_class)k),
                       (unsigned long long)live.legs[r][k]);
        buf_puts(&b, "}");
    }
    buf_puts(&b, "}}\n");
    send_body(req, 200, "application/json", b.data, b.len);
    buf_free(&b);
}

/* Constant-time comparison of the Authorization header with the token: the
 * time taken does not depend on how many leading bytes match. */
static bool authorized(const struct admin *a, struct evhttp_request *req)
{
    const char *token = a->ctx->cfg->admin_token;
    if (!token)
        return true;
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!auth || ascii_ncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    size_t glen = strlen(given), tlen = strlen(token);
    unsigned diff = (unsigned)(glen ^ tlen);
    for (size_t i = 0; i < glen; i++)
        diff |= (unsigned char)given[i] ^ (unsigned char)token[i % tlen];
    return diff == 0;
}

static void serve_asset(struct evhttp_request *req, const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (size_t i = 0; i < n_assets; i++) {
        const struct asset *as = &assets[i];
        if (strcmp(as->path, path) != 0)
            continue;
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        common_headers(h);
        evhttp_add_header(h, "ETag", as->etag);
        /* Revalidate every time (cheap: 304 on a matching ETag), so a new
         * diffd binary never runs with an old dashboard script. */
        evhttp_add_header(h, "Cache-Control", "no-cache");
        evhttp_add_header(h, "X-Frame-Options", "DENY");
        evhttp_add_header(h, "Content-Security-Policy",
                          "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                          "script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
        const char *inm =
            evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
        if (inm && strcmp(inm, as->etag) == 0) {
            evhttp_send_reply(req, 304, "Not Modified", NULL);
            return;
        }
        evhttp_add_header(h, "Content-Type", as->mime);
        struct evbuffer *out = evbuffer_new();
        evbuffer_add_reference(out, as->data, as->len, NULL, NULL);
        evhttp_send_reply(req, 200, "OK", out);
        evbuffer_free(out);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof(msg), "no such page: %.200s", path);
    send_error(req, 404, msg);
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evhttp_uri *parsed = evhttp_uri_parse(uri);
    const char *path = parsed ? evhttp_uri_get_path(parsed) : NULL;
    const char *method = method_name(evhttp_request_get_command(req));
    bool api = path && (strncmp(path, "/api/", 5) == 0 || strcmp(path, "/metrics") == 0);
    if (!path) {
        send_error(req, 400, "malformed request URI");
    } else if (api && !authorized(a, req)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"diffd\"");
        send_error(req, 401, "this diffd requires 'Authorization: Bearer <token>' (--admin-token)");
    } else if (strcmp(path, "/healthz") == 0) {
        healthz(a, req);
    } else if (strcmp(path, "/metrics") == 0) {
        struct buf b = {0};
        struct api_env env = {a->ctx, a->workers, a->n_workers};
        if (api_metrics(&env, &b) == -1)
            send_error(req, 503, "a worker did not answer in time; try again");
        else
            send_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
        buf_free(&b);
    } else if (strncmp(path, "/api/v1/", 8) == 0) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        const char *body = len ? (const char *)evbuffer_pullup(in, -1) : "";
        struct api_env env = {a->ctx, a->workers, a->n_workers};
        struct api_response res = {0};
        const char *query = evhttp_uri_get_query(parsed);
        api_handle(&env, method, path, query ? query : "", body, len, &res);
        send_body(req, res.status, res.content_type, res.body.data, res.body.len);
        buf_free(&res.body);
    } else if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        serve_asset(req, path);
    } else {
        send_error(req, 405, "only GET and HEAD here");
    }
    if (parsed)
        evhttp_uri_free(parsed);
}

/* --snapshot-interval: write the state file from the admin thread, so the
 * workers only pay for merging their shard. Errors are logged when they
 * change, not every interval. */
static void snapshot_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct admin *a = arg;
    if (atomic_load(&a->quiet))
        return;
    struct sample_store samples = {0};
    struct api_env env = {a->ctx, a->workers, a->n_workers};
    struct stats *s = api_collect(&env, &samples);
    char err[256] = "";
    if (!s)
        snprintf(err, sizeof(err), "state file %s: snapshot skipped: a worker did not answer",
                 a->ctx->cfg->state_file);
    else
        state_save(a->ctx->cfg->state_file, s, &samples, liverules_current(a->ctx->rules), err,
                   sizeof(err));
    if (strcmp(err, a->last_snapshot_error) != 0 && err[0])
        fprintf(stderr, "diffd: %s\n", err);
    snprintf(a->last_snapshot_error, sizeof(a->last_snapshot_error), "%s", err);
    stats_free(s);
    samples_clear(&samples);
}

void admin_quiesce(struct admin *a)
{
    if (a)
        atomic_store(&a->quiet, true);
}

static void ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct admin *a = arg;
    char c;
    if (read(fd, &c, 1) == 1)
        event_base_loopbreak(a->base);
}

static void *admin_main(void *arg)
{
    struct admin *a = arg;
    event_base_dispatch(a->base);
    return NULL;
}

struct admin *admin_start(struct serve_ctx *ctx, struct worker *workers, int n_workers,
                          const char *addr, int port, int *bound_port, char *err, size_t errlen)
{
    struct admin *a = xcalloc(1, sizeof(*a));
    a->ctx = ctx;
    a->workers = workers;
    a->n_workers = n_workers;
    a->ctl[0] = a->ctl[1] = -1;
    a->base = event_base_new();
    a->http = a->base ? evhttp_new(a->base) : NULL;
    if (!a->http) {
        errf(err, errlen, "admin: cannot create the HTTP server");
        goto fail;
    }
    evhttp_set_gencb(a->http, dispatch, a);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_max_headers_size(a->http, 64 * 1024);
    evhttp_set_max_body_size(a->http, 1 << 20);
    evhttp_set_timeout(a->http, 30);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(a->http, addr, (uint16_t)port);
    if (!bs) {
        errf(err, errlen, "--admin: cannot listen on %s:%d: %m", addr, port);
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0)
        *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    if (pipe2(a->ctl, O_CLOEXEC | O_NONBLOCK) == -1) {
        errf(err, errlen, "admin: pipe: %m");
        goto fail;
    }
    a->ctl_ev = event_new(a->base, a->ctl[0], EV_READ | EV_PERSIST, ctl_cb, a);
    event_add(a->ctl_ev, NULL);
    if (ctx->cfg->state_file) {
        struct timeval tv = {ctx->cfg->snapshot_interval_s, 0};
        a->snapshot_ev = event_new(a->base, -1, EV_PERSIST, snapshot_cb, a);
        event_add(a->snapshot_ev, &tv);
    }
    if (pthread_create(&a->thread, NULL, admin_main, a) != 0) {
        errf(err, errlen, "admin: cannot start thread");
        goto fail;
    }
    a->started = true;
    return a;
fail:
    admin_stop(a);
    return NULL;
}

void admin_stop(struct admin *a)
{
    if (!a)
        return;
    if (a->started) {
        char c = 'q';
        if (write(a->ctl[1], &c, 1) == 1)
            pthread_join(a->thread, NULL);
    }
    if (a->ctl_ev)
        event_free(a->ctl_ev);
    if (a->snapshot_ev)
        event_free(a->snapshot_ev);
    if (a->http)
        evhttp_free(a->http);
    if (a->base)
        event_base_free(a->base);
    for (int i = 0; i < 2; i++)
        if (a->ctl[i] != -1)
            close(a->ctl[i]);
    free(a);
}
