/* Trials: decide, fan out, answer the client, hand over.
 *
 * A request becomes either a trial (every configured leg is called and the
 * result compared) or a pass-through (only the --respond leg is called:
 * unsampled, side effects without --allow-side-effects, skip rules, or past
 * --max-inflight). Either way the client is answered from its leg the moment
 * that leg finishes, unless --wait-all holds the answer until the last leg.
 *
 * Lifecycle of a struct flight (one request in progress): created per
 * request; each leg's upstream call fills the trial record's leg when it
 * finishes; when the last leg is done the record goes to the analysis queue
 * (or, refused, counts as skipped.analysis) and the flight is freed. The
 * client exchange and the flight point at each other while the client waits;
 * whichever goes first unlinks itself (on_gone, or server_attach(x, NULL) as
 * the answer goes out), so neither is ever left with a dangling pointer. Legs
 * the client did not ask for never hold the client, and a client that leaves
 * never cuts a leg short. */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "liverules.h"
#include "rewrite.h"
#include "route.h"
#include "sample.h"
#include "serve.h"
#include "trial.h"
#include "upstream.h"
#include "util.h"

struct proxy {
    struct proxy_opts opts;
    const struct config *cfg;
    struct proxy_counters counters;
    struct stats *shard;
    struct sample_rng rng;
    long max_inflight; /* this worker's share of --max-inflight */
    long active;       /* flights in progress */
    uint64_t seq;
};

struct flight;

struct flight_leg {
    struct flight *f;
    int role;
    bool done;
    char *url;
    struct headers headers;
    struct upstream_call call;
};

struct flight {
    struct proxy *px;
    struct trial *t;           /* the record legs fill; handed to analysis */
    struct server_exchange *x; /* the client, while it waits */
    bool compared;             /* a real trial (all configured legs); else a pass-through */
    int respond;               /* role answering the client, or RESPOND_NONE */
    bool answered;
    int pending; /* legs not finished */
    struct flight_leg legs[ROLE_COUNT];
};

/* Adds to a counter only this proxy's thread writes. */
static void count(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void count_skip(struct proxy *px, struct stats_endpoint *e, enum stats_skip why)
{
    count(&px->counters.skipped[why], 1);
    stats_count_skipped(px->shard, e, why);
}

static bool is_side_effect(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

static void flight_free(struct flight *f)
{
    for (int r = 0; r < ROLE_COUNT; r++) {
        struct flight_leg *l = &f->legs[r];
        free(l->url);
        headers_free(&l->headers);
        upstream_call_release(&l->call);
    }
    trial_free(f->t);
    free(f);
}

/* Sends the leg's response (or a 502/504 naming the failure) to the client. */
static void answer_from_leg(struct flight *f, int role)
{
    struct server_exchange *x = f->x;
    f->answered = true;
    if (!x)
        return;
    f->x = NULL;
    server_attach(x, NULL);
    const struct trial_leg *l = &f->t->legs[role];
    const struct http_response *r = &l->resp;
    if (r->error == LEG_OK) {
        server_respond(x, r->status, l->reason, &r->headers, r->body.data, r->body.len);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "%s backend: %s (%s)", role_name(role),
             r->error == LEG_ERR_TIMEOUT ? "timed out" : leg_error_name(r->error),
             r->error_msg ? r->error_msg : "no response");
    server_respond_error(x, r->error == LEG_ERR_TIMEOUT ? 504 : 502, msg);
}

static void answer_accepted(struct flight *f)
{
    struct server_exchange *x = f->x;
    f->answered = true;
    if (!x)
        return;
    f->x = NULL;
    server_attach(x, NULL);
    struct headers h = {0};
    headers_add(&h, "Content-Type", 12, "application/json", 16);
    char body[96];
    int n = snprintf(body, sizeof(body), "{\"accepted\": true, \"trial\": \"%s\"}\n", f->t->id);
    server_respond(x, 202, "Accepted", &h, body, (size_t)n);
    headers_free(&h);
}

/* Every leg finished: answer if not done yet, hand the trial over, release. */
static void flight_complete(struct flight *f)
{
    struct proxy *px = f->px;
    if (!f->answered) {
        /* --wait-all, or the --respond leg was not part of this request. */
        if (f->respond == RESPOND_NONE)
            answer_accepted(f);
        else
            answer_from_leg(f, f->respond);
    }
    if (f->compared) {
        struct trial *t = f->t;
        if (analysis_submit(px->opts.ctx->analysis, t)) {
            f->t = NULL; /* the analysis threads own it now */
        } else {
            count_skip(px, stats_endpoint(px->shard, t->route.name), STATS_SKIP_ANALYSIS);
        }
        /* Out of this worker's flight only once the trial is either queued
         * (the pool's pending count holds it) or counted as skipped. */
        atomic_fetch_sub_explicit(&px->counters.inflight, 1, memory_order_release);
    }
    px->active--;
    flight_free(f);
    if (px->active == 0 && px->opts.on_idle)
        px->opts.on_idle(px->opts.idle_arg);
}

static void leg_done(struct upstream_call *call, void *arg)
{
    struct flight_leg *l = arg;
    struct flight *f = l->f;
    /* The response moves into the trial record. */
    struct trial_leg *tl = &f->t->legs[l->role];
    tl->resp = call->resp;
    tl->reason = call->reason;
    memset(&call->resp, 0, sizeof(call->resp));
    call->reason = NULL;
    l->done = true;
    f->pending--;
    if (l->role == f->respond && !f->answered && !f->px->cfg->wait_all)
        answer_from_leg(f, l->role);
    if (f->pending == 0)
        flight_complete(f);
}

static void leg_start(struct flight *f, int role)
{
    struct proxy *px = f->px;
    const struct config *cfg = px->cfg;
    const struct backend *b = &cfg->backends[role];
    struct trial *t = f->t;
    struct flight_leg *l = &f->legs[role];
    l->f = f;
    l->role = role;
    t->legs[role].active = true;
    size_t blen = strlen(b->base), tlen = strlen(t->req.target);
    l->url = xmalloc(blen + tlen + 1);
    memcpy(l->url, b->base, blen);
    memcpy(l->url + blen, t->req.target, tlen + 1);
    /* Request headers a rule strips are kept from the legs that do not
     * answer the client (the client-facing leg needs them to work). */
    bool answers_client = role == f->respond;
    rewrite_leg_headers(&t->req, b->hostport, cfg->preserve_host, role_name(role), t->id,
                        answers_client ? NULL : t->route.strip,
                        answers_client ? 0 : t->route.nstrip, &l->headers);
    l->call.method = t->req.method;
    l->call.url = l->url;
    l->call.headers = &l->headers;
    l->call.body = t->req.body.data;
    l->call.body_len = t->req.body.len;
    f->pending++;
    if (upstream_submit(px->opts.up, &l->call, leg_done, l) == -1) {
        /* Could not even start: record it as a failed leg, finish later in
         * this function's caller (never re-enter the flight from here). */
        struct trial_leg *tl = &t->legs[role];
        tl->resp = l->call.resp;
        memset(&l->call.resp, 0, sizeof(l->call.resp));
        tl->resp.error = LEG_ERR_OTHER;
        l->done = true;
        f->pending--;
    }
}

static void on_gone(void *arg, void *ctx)
{
    (void)arg;
    struct flight *f = ctx;
    f->x = NULL;
}

/* Where the sampling key of a request is, per --sample-key. */
static const char *sample_key(const struct config *cfg, const struct http_request *req, size_t *len)
{
    const char *v = NULL;
    switch (cfg->sample_key_kind) {
    case SAMPLE_KEY_HEADER:
        v = headers_get(&req->headers, cfg->sample_key_name);
        if (v)
            *len = strlen(v);
        return v;
    case SAMPLE_KEY_QUERY:
        return sample_query_value(req->target, cfg->sample_key_name, len);
    case SAMPLE_KEY_NONE:
        break;
    }
    return NULL;
}

/* Decides whether a request is compared, counting why not: skip rules, then
 * sampling (an endpoint's `sample` rule overrides --sample), then side
 * effects, then --max-inflight. So sampled = compared + side_effect +
 * overload + analysis, and received = sampled + unsampled + skipped by rule. */
static bool decide(struct proxy *px, const struct trial *t)
{
    const struct config *cfg = px->cfg;
    struct serve_ctx *ctx = px->opts.ctx;
    struct stats_endpoint *e = stats_endpoint(px->shard, t->route.name);
    stats_count_received(px->shard, e);
    if (t->route.skip) {
        count_skip(px, e, STATS_SKIP_RULE);
        return false;
    }
    if (atomic_load_explicit(&ctx->paused, memory_order_relaxed))
        return false; /* paused from the admin API: proxy only */
    double percent =
        t->route.sample >= 0
            ? t->route.sample
            : (double)atomic_load_explicit(&ctx->sample_ppm, memory_order_relaxed) / 1e4;
    size_t klen = 0;
    const char *key = sample_key(cfg, &t->req, &klen);
    /* A request without the key is sampled at random, like the rest. */
    if (!sample_decide(percent, key, klen, &px->rng))
        return false;
    count(&px->counters.sampled, 1);
    stats_count_sampled(px->shard, e);
    if (!cfg->allow_side_effects && is_side_effect(t->req.method)) {
        count_skip(px, e, STATS_SKIP_SIDE_EFFECT);
        return false;
    }
    if (atomic_load_explicit(&px->counters.inflight, memory_order_relaxed) >= px->max_inflight) {
        count_skip(px, e, STATS_SKIP_OVERLOAD);
        return false;
    }
    return true;
}

static void on_request(void *arg, struct server_exchange *x, struct http_request *req)
{
    struct proxy *px = arg;
    const struct config *cfg = px->cfg;
    count(&px->counters.received, 1);

    if (strcmp(req->target, "*") == 0) {
        /* OPTIONS * asks about the server, not a resource: answered here,
         * since a mirror has no single backend to speak for. */
        struct headers h = {0};
        headers_add(&h, "Allow", 5, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", 44);
        server_respond(x, 200, "OK", &h, "", 0);
        headers_free(&h);
        http_request_free(req);
        return;
    }
    struct flight *f = xcalloc(1, sizeof(*f));
    struct trial *t = f->t = trial_new();
    f->px = px;
    t->req = *req;
    memset(req, 0, sizeof(*req));
    t->source = TRIAL_SOURCE_PROXY;
    t->started_us = now_us();
    snprintf(t->id, sizeof(t->id), "t-%s-%d-%llx", px->opts.ctx->id_prefix, px->opts.idx,
             (unsigned long long)++px->seq);
    f->respond = cfg->respond;

    rewrite_original_uri(&t->req);
    struct liverules *lr = px->opts.ctx->rules;
    const struct ruleset *rs = lr ? liverules_current(lr) : NULL;
    route_resolve(rs, t->req.method, t->req.target,
                  headers_get(&t->req.headers, "Canonical-Resource"), &t->route);

    bool compare = decide(px, t);
    f->compared = compare;
    f->x = x;
    server_attach(x, f);
    px->active++;
    if (compare)
        atomic_fetch_add_explicit(&px->counters.inflight, 1, memory_order_relaxed);

    /* Answer a mirror at once; the legs go on without it. */
    if (f->respond == RESPOND_NONE && !cfg->wait_all)
        answer_accepted(f);

    f->pending = 1; /* held while legs start, so none completes the flight early */
    for (int r = 0; r < ROLE_COUNT; r++) {
        bool wanted = compare ? cfg->backends[r].configured : r == f->respond;
        if (wanted)
            leg_start(f, r);
    }
    if (f->respond != RESPOND_NONE && !f->answered && f->legs[f->respond].done && !cfg->wait_all)
        answer_from_leg(f, f->respond);
    if (--f->pending == 0)
        flight_complete(f);
}

struct proxy *proxy_new(const struct proxy_opts *opts)
{
    struct proxy *px = xcalloc(1, sizeof(*px));
    px->opts = *opts;
    px->cfg = opts->ctx->cfg;
    px->shard = stats_new((size_t)px->cfg->max_endpoints, (size_t)px->cfg->samples_per_field);
    px->rng.s = hash64(&px, sizeof(&px)) ^ now_us() ^ ((uint64_t)opts->idx << 32);
    long threads = px->cfg->threads;
    px->max_inflight = (px->cfg->max_inflight + threads - 1) / threads;
    return px;
}

void proxy_free(struct proxy *px)
{
    if (!px)
        return;
    stats_free(px->shard);
    free(px);
}

struct server_handler proxy_handler(struct proxy *px)
{
    return (struct server_handler){.on_request = on_request, .on_gone = on_gone, .arg = px};
}

long proxy_active(const struct proxy *px)
{
    return px->active;
}

struct proxy_counters *proxy_counters(struct proxy *px)
{
    return &px->counters;
}

struct stats *proxy_shard(struct proxy *px)
{
    return px->shard;
}
