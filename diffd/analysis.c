/* What happens to a completed trial (DESIGN §3 step 5, §5, §6): its three
 * responses are normalized with the endpoint's rules, the primary is diffed
 * against the candidate (raw) and against the secondary (noise), and the
 * differences, statuses and latencies go into the worker's statistics shard;
 * the first trials showing a field are kept as samples. Runs on the worker's
 * thread, touching only that worker's data. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsondiff.h"
#include "normalize.h"
#include "proxy.h"
#include "stats.h"
#include "util.h"
#include "worker.h"

/* Access log: one JSON line per trial, written with a single write() on an
 * O_APPEND descriptor so lines from several workers never interleave. */
static void access_log(struct worker *w, const struct trial *t, size_t nraw, size_t nnoise)
{
    struct buf b = {0};
    buf_puts(&b, "{\"trial\":");
    buf_json_string(&b, t->id, strlen(t->id));
    buf_puts(&b, ",\"endpoint\":");
    buf_json_string(&b, t->route.name, strlen(t->route.name));
    buf_puts(&b, ",\"method\":");
    buf_json_string(&b, t->req.method, strlen(t->req.method));
    buf_puts(&b, ",\"target\":");
    buf_json_string(&b, t->req.target, strlen(t->req.target));
    buf_printf(&b, ",\"differences\":{\"raw\":%zu,\"noise\":%zu},\"legs\":{", nraw, nnoise);
    bool first = true;
    for (int r = 0; r < ROLE_COUNT; r++) {
        const struct leg *l = &t->legs[r];
        if (!l->active)
            continue;
        const struct http_response *resp = &l->call.resp;
        buf_printf(&b, "%s\"%s\":{\"status\":%d,\"latency_ms\":%.3f,\"bytes\":%zu,\"error\":",
                   first ? "" : ",", role_name(r), resp->status, resp->latency_us / 1000.0,
                   resp->body.len);
        if (resp->error == LEG_OK)
            buf_puts(&b, "null");
        else
            buf_json_string(&b, leg_error_name(resp->error), strlen(leg_error_name(resp->error)));
        buf_puts(&b, "}");
        first = false;
    }
    buf_puts(&b, "}}\n");
    ssize_t n = write(w->ctx->access_log_fd, b.data, b.len);
    (void)n; /* a full disk must not stop the proxy */
    buf_free(&b);
}

/* Records one side's differences; returns whether any field of them still
 * wants a sample. */
static bool record(struct worker *w, struct stats_endpoint *e, const struct jsondiff *d, bool noise)
{
    bool wants = false;
    for (size_t i = 0; i < jsondiff_count(d); i++) {
        const struct jsondiff_entry *x = jsondiff_get(d, i);
        struct stats_field *f = stats_trial_diff(w->shard, e, noise, x->field, (int)x->kind);
        if (f && stats_field_wants_sample(w->shard, f))
            wants = true;
    }
    return wants;
}

static void attach_sample(struct worker *w, struct stats_endpoint *e, const struct jsondiff *d,
                          const char *id)
{
    for (size_t i = 0; d && i < jsondiff_count(d); i++) {
        struct stats_field *f = stats_find_field(e, jsondiff_get(d, i)->field);
        if (f)
            stats_field_add_sample(w->shard, f, id);
    }
}

void trial_done(struct worker *w, const struct trial *t)
{
    const struct config *cfg = w->cfg;
    const struct rules_view *view = &t->route.view;
    struct normalize_opts nopts = {.max_body = cfg->max_body};
    struct norm_response n[ROLE_COUNT];
    memset(n, 0, sizeof(n));
    for (int r = 0; r < ROLE_COUNT; r++)
        if (t->legs[r].active)
            normalize_response(view, &t->legs[r].call.resp, &nopts, &n[r]);

    struct stats_endpoint *e = stats_endpoint(w->shard, t->route.name);
    stats_trial_begin(w->shard, e);
    size_t nraw = jsondiff_responses(w->diff_raw, view, &n[ROLE_PRIMARY], &n[ROLE_CANDIDATE]);
    bool has_noise = t->legs[ROLE_SECONDARY].active;
    size_t nnoise =
        has_noise ? jsondiff_responses(w->diff_noise, view, &n[ROLE_PRIMARY], &n[ROLE_SECONDARY])
                  : 0;
    bool wants = record(w, e, w->diff_raw, false);
    if (has_noise)
        wants |= record(w, e, w->diff_noise, true);
    stats_trial_end(w->shard, e, nraw > 0, nnoise > 0);

    for (int r = 0; r < ROLE_COUNT; r++) {
        const struct leg *l = &t->legs[r];
        if (!l->active)
            continue;
        const struct http_response *resp = &l->call.resp;
        bool failed = resp->error != LEG_OK;
        enum status_class sc = failed ? SC_ERROR : status_class_of(resp->status);
        stat_add(&w->stats.legs[r][sc], 1);
        stat_add(&w->stats.leg_latency_us[r], resp->latency_us);
        stats_leg(e, r, resp->status, failed, resp->latency_us);
    }
    /* Published after the per-leg counts (release; /healthz reads it with
     * acquire), so a reader that sees the trial compared sees its legs too. */
    atomic_store_explicit(&w->stats.compared,
                          atomic_load_explicit(&w->stats.compared, memory_order_relaxed) + 1,
                          memory_order_release);

    if (wants && samples_budget_take(&w->ctx->sample_budget)) {
        const struct jsondiff *noise = has_noise ? w->diff_noise : NULL;
        char *json = samples_build(t, view, w->diff_raw, noise, cfg->max_body);
        samples_put(&w->samples, t->id, t->route.name, json);
        attach_sample(w, e, w->diff_raw, t->id);
        attach_sample(w, e, noise, t->id);
    }
    if (w->ctx->access_log_fd != -1)
        access_log(w, t, nraw, nnoise);
    for (int r = 0; r < ROLE_COUNT; r++)
        normalize_free(&n[r]);
}
