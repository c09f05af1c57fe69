/* Trials: decide, fan out, answer the client, complete.
 *
 * A request becomes either a trial (every configured leg is called and the
 * result compared) or a pass-through (only the --respond leg is called:
 * unsampled, side effects without --allow-side-effects, skip rules, or past
 * --max-inflight). Either way the client is answered from its leg the moment
 * that leg finishes, unless --wait-all holds the answer until the last leg.
 * The trial is freed when its last leg finishes; legs the client did not ask
 * for never hold the client, and a client that leaves never cuts a leg short. */
#include "proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liverules.h"
#include "rewrite.h"
#include "server.h"
#include "stats.h"
#include "util.h"
#include "worker.h"

static bool is_side_effect(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

static void trial_free(struct trial *t)
{
    for (int r = 0; r < ROLE_COUNT; r++) {
        struct leg *l = &t->legs[r];
        free(l->url);
        headers_free(&l->headers);
        upstream_call_release(&l->call);
    }
    http_request_free(&t->req);
    free(t);
}

/* Sends the leg's response (or a 502/504 naming the failure) to the client. */
static void answer_from_leg(struct trial *t, struct leg *l)
{
    struct conn *c = t->conn;
    t->answered = true;
    if (!c)
        return;
    t->conn = NULL;
    server_set_trial(c, NULL);
    const struct http_response *r = &l->call.resp;
    if (r->error == LEG_OK) {
        server_respond(c, r->status, l->call.reason, &r->headers, r->body.data, r->body.len);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "%s backend: %s (%s)", role_name(l->role),
             r->error == LEG_ERR_TIMEOUT ? "timed out" : leg_error_name(r->error),
             r->error_msg ? r->error_msg : "no response");
    server_respond_error(c, r->error == LEG_ERR_TIMEOUT ? 504 : 502, msg);
}

static void answer_accepted(struct trial *t)
{
    struct conn *c = t->conn;
    t->answered = true;
    if (!c)
        return;
    t->conn = NULL;
    server_set_trial(c, NULL);
    struct headers h = {0};
    headers_add(&h, "Content-Type", 12, "application/json", 16);
    char body[96];
    int n = snprintf(body, sizeof(body), "{\"accepted\": true, \"trial\": \"%s\"}\n", t->id);
    server_respond(c, 202, "Accepted", &h, body, (size_t)n);
    headers_free(&h);
}

/* Everything finished: hand the trial over, release it. */
static void trial_complete(struct trial *t)
{
    struct worker *w = t->w;
    if (!t->answered) {
        /* --wait-all, or the --respond leg was not part of this request. */
        if (t->respond == RESPOND_NONE)
            answer_accepted(t);
        else
            answer_from_leg(t, &t->legs[t->respond]);
    }
    if (t->compared) {
        trial_done(w, t);
        /* Only now is the trial out of flight: its counts are all published. */
        atomic_fetch_sub_explicit(&w->stats.inflight, 1, memory_order_release);
    }
    w->trials--;
    trial_free(t);
    worker_check_drained(w);
}

static void leg_done(struct upstream_call *call, void *arg)
{
    struct leg *l = arg;
    struct trial *t = l->trial;
    (void)call;
    l->done = true;
    t->pending--;
    if (l->role == t->respond && !t->answered && !t->w->cfg->wait_all)
        answer_from_leg(t, l);
    if (t->pending == 0)
        trial_complete(t);
}

static void leg_start(struct trial *t, int role, const char *const *strip, size_t n_strip)
{
    struct worker *w = t->w;
    const struct config *cfg = w->cfg;
    const struct backend *b = &cfg->backends[role];
    struct leg *l = &t->legs[role];
    l->trial = t;
    l->role = role;
    l->active = true;
    size_t blen = strlen(b->base), tlen = strlen(t->req.target);
    l->url = xmalloc(blen + tlen + 1);
    memcpy(l->url, b->base, blen);
    memcpy(l->url + blen, t->req.target, tlen + 1);
    /* Request headers a rule strips are kept from the legs that do not
     * answer the client (the client-facing leg needs them to work). */
    bool answers_client = role == t->respond;
    rewrite_leg_headers(&t->req, b->hostport, cfg->preserve_host, role_name(role), t->id,
                        answers_client ? NULL : strip, answers_client ? 0 : n_strip, &l->headers);
    l->call.method = t->req.method;
    l->call.url = l->url;
    l->call.headers = &l->headers;
    l->call.body = t->req.body.data;
    l->call.body_len = t->req.body.len;
    t->pending++;
    if (upstream_submit(w->up, &l->call, leg_done, l) == -1) {
        /* Could not even start: record it as a failed leg, finish later in
         * this function's caller (never re-enter the trial from here). */
        l->call.resp.error = LEG_ERR_OTHER;
        l->done = true;
        t->pending--;
    }
}

void proxy_conn_gone(struct trial *t)
{
    t->conn = NULL;
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
 * overload, and received = sampled + unsampled + skipped by rule. */
static bool decide(struct worker *w, const struct trial *t)
{
    const struct config *cfg = w->cfg;
    struct stats_endpoint *e = stats_endpoint(w->shard, t->route.name);
    stats_count_received(w->shard, e);
    if (t->route.skip) {
        stat_add(&w->stats.skipped_rule, 1);
        stats_count_skipped(w->shard, e, STATS_SKIP_RULE);
        return false;
    }
    if (atomic_load_explicit(&w->ctx->paused, memory_order_relaxed))
        return false; /* paused from the admin API: proxy only */
    double percent =
        t->route.sample >= 0
            ? t->route.sample
            : (double)atomic_load_explicit(&w->ctx->sample_ppm, memory_order_relaxed) / 1e4;
    size_t klen = 0;
    const char *key = sample_key(cfg, &t->req, &klen);
    /* A request without the key is sampled at random, like the rest. */
    if (!sample_decide(percent, key, klen, &w->rng))
        return false;
    stat_add(&w->stats.sampled, 1);
    stats_count_sampled(w->shard, e);
    if (!cfg->allow_side_effects && is_side_effect(t->req.method)) {
        stat_add(&w->stats.skipped_side_effect, 1);
        stats_count_skipped(w->shard, e, STATS_SKIP_SIDE_EFFECT);
        return false;
    }
    if (atomic_load_explicit(&w->stats.inflight, memory_order_relaxed) >= w->max_inflight) {
        stat_add(&w->stats.skipped_overload, 1);
        stats_count_skipped(w->shard, e, STATS_SKIP_OVERLOAD);
        return false;
    }
    return true;
}

void proxy_handle(struct worker *w, struct conn *c, struct http_request *req)
{
    const struct config *cfg = w->cfg;
    struct trial *t = xcalloc(1, sizeof(*t));
    t->w = w;
    t->req = *req;
    memset(req, 0, sizeof(*req));
    t->respond = cfg->respond;
    t->started_us = now_us();
    snprintf(t->id, sizeof(t->id), "t-%s-%d-%llx", w->ctx->id_prefix, w->idx,
             (unsigned long long)++w->seq);
    stat_add(&w->stats.received, 1);

    if (strcmp(t->req.target, "*") == 0) {
        /* OPTIONS * asks about the server, not a resource: answered here,
         * since a mirror has no single backend to speak for. */
        struct headers h = {0};
        headers_add(&h, "Allow", 5, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", 44);
        server_respond(c, 200, "OK", &h, "", 0);
        headers_free(&h);
        http_request_free(&t->req);
        free(t);
        return;
    }
    rewrite_original_uri(&t->req);
    const struct ruleset *rs = w->ctx->rules ? liverules_current(w->ctx->rules) : NULL;
    route_resolve(rs, t->req.method, t->req.target,
                  headers_get(&t->req.headers, "Canonical-Resource"), &t->route);

    bool compare = decide(w, t);
    t->compared = compare;
    t->conn = c;
    server_set_trial(c, t);
    w->trials++;
    if (compare)
        atomic_fetch_add_explicit(&w->stats.inflight, 1, memory_order_relaxed);

    /* Answer a mirror at once; the legs go on without it. */
    if (t->respond == RESPOND_NONE && !cfg->wait_all)
        answer_accepted(t);

    t->pending = 1; /* held while legs start, so none completes the trial early */
    for (int r = 0; r < ROLE_COUNT; r++) {
        bool wanted = compare ? cfg->backends[r].configured : r == t->respond;
        if (wanted)
            leg_start(t, r, t->route.strip, t->route.nstrip);
    }
    if (t->respond != RESPOND_NONE && !t->answered && t->legs[t->respond].done && !cfg->wait_all)
        answer_from_leg(t, &t->legs[t->respond]);
    if (--t->pending == 0)
        trial_complete(t);
}

enum status_class status_class_of(int status)
{
    if (status >= 200 && status < 300)
        return SC_2XX;
    if (status >= 300 && status < 400)
        return SC_3XX;
    if (status >= 400 && status < 500)
        return SC_4XX;
    if (status >= 500 && status < 600)
        return SC_5XX;
    return status <= 0 ? SC_ERROR : SC_1XX;
}
