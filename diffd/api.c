/* Admin API handlers and Prometheus metrics. Views of the statistics are cut
 * from the report document itself (reportgen), so the dashboard, the CI gate
 * and the metrics can never disagree about a number. */
#include "api.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsondiff.h"
#include "liverules.h"
#include "normalize.h"
#include "regress.h"
#include "reportgen.h"
#include "rules.h"
#include "samples.h"
#include "collect.h"
#include "proxy.h"
#include "serve.h"
#include "stats.h"
#include "worker.h"

#define COLLECT_TIMEOUT_MS 5000
/* Suggested rules: a field whose primary and secondary differ in at least this
 * share of an endpoint's compared trials is noise worth silencing. */
#define SUGGEST_NOISE_PCT 10.0

static const char JSON[] = "application/json";

static void reply_error(struct api_response *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_error(struct api_response *out, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    buf_reset(&out->body);
    buf_puts(&out->body, "{\"error\": ");
    buf_json_string(&out->body, msg, strlen(msg));
    buf_puts(&out->body, "}\n");
    out->status = status;
    out->content_type = JSON;
}

static void reply_json(struct api_response *out, cJSON *doc)
{
    char *text = cJSON_PrintUnformatted(doc);
    buf_reset(&out->body);
    buf_puts(&out->body, text ? text : "null");
    buf_puts(&out->body, "\n");
    cJSON_free(text);
    out->status = 200;
    out->content_type = JSON;
}

/* Percent-decoding; with plus, '+' means a space (query strings). Returns a
 * new string, or NULL when an escape is malformed or decodes to NUL. */
static char *url_decode(const char *s, size_t n, bool plus)
{
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int v = 0;
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            for (int k = 1; k <= 2; k++) {
                char h = s[i + (size_t)k];
                int d = (h >= '0' && h <= '9')   ? h - '0'
                        : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                        : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                 : -1;
                if (d < 0) {
                    free(out);
                    return NULL;
                }
                v = v * 16 + d;
            }
            if (v == 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = (plus && c == '+') ? ' ' : c;
        }
    }
    out[o] = '\0';
    return out;
}

/* The decoded value of query parameter name, or NULL. Caller frees. */
static char *query_param(const char *query, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = query; p && *p;) {
        size_t len = strcspn(p, "&");
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=')
            return url_decode(p + nlen + 1, len - nlen - 1, true);
        p += len;
        if (*p == '&')
            p++;
    }
    return NULL;
}

/* ---- data -------------------------------------------------------------- */

struct stats *api_collect(const struct api_env *env, struct sample_store *samples)
{
    const struct config *cfg = env->ctx->cfg;
    struct stats *acc = stats_new((size_t)cfg->max_endpoints, (size_t)cfg->samples_per_field);
    if (env->ctx->base)
        stats_merge(acc, env->ctx->base);
    if (samples)
        samples_copy_into(samples, &env->ctx->base_samples);
    struct analysis *an = env->ctx->analysis;
    int nw = env->n_workers, na = an ? analysis_threads(an) : 0;
    struct collect *c = collect_new(COLLECT_MERGE, nw + na, samples != NULL,
                                    (size_t)cfg->max_endpoints, (size_t)cfg->samples_per_field);
    for (int i = 0; i < nw; i++)
        worker_post_collect(&env->workers[i], c, i);
    if (an)
        analysis_post_collect(an, c, nw);
    int rc = collect_wait(c, COLLECT_TIMEOUT_MS);
    if (rc == 0)
        collect_result(c, acc, samples);
    collect_unref(c);
    if (rc == -1) {
        stats_free(acc);
        return NULL;
    }
    return acc;
}

int api_reset(const struct api_env *env)
{
    struct analysis *an = env->ctx->analysis;
    int nw = env->n_workers, na = an ? analysis_threads(an) : 0;
    struct collect *c = collect_new(COLLECT_RESET, nw + na, false, 0, 0);
    for (int i = 0; i < nw; i++)
        worker_post_collect(&env->workers[i], c, i);
    if (an)
        analysis_post_collect(an, c, nw);
    int rc = collect_wait(c, COLLECT_TIMEOUT_MS);
    collect_unref(c);
    return rc;
}

void api_live(const struct api_env *env, struct api_live *out)
{
    memset(out, 0, sizeof(*out));
    /* Flights first, with acquire: a trial that left a worker's flight was
     * already pending in the pool (or counted as skipped) — see proxy.c. */
    for (int i = 0; i < env->n_workers; i++) {
        struct proxy_counters *pc = proxy_counters(env->workers[i].px);
        out->inflight += atomic_load_explicit(&pc->inflight, memory_order_acquire);
    }
    if (env->ctx->analysis)
        analysis_read(env->ctx->analysis, &out->analysis);
    out->inflight += (int64_t)out->analysis.pending;
    out->compared = out->analysis.compared;
    memcpy(out->legs, out->analysis.legs, sizeof(out->legs));
    memcpy(out->leg_latency_us, out->analysis.leg_latency_us, sizeof(out->leg_latency_us));
    for (int i = 0; i < env->n_workers; i++) {
        struct proxy_counters *pc = proxy_counters(env->workers[i].px);
        out->received += atomic_load_explicit(&pc->received, memory_order_relaxed);
        out->sampled += atomic_load_explicit(&pc->sampled, memory_order_relaxed);
        for (int k = 0; k < STATS_SKIPS; k++)
            out->skipped[k] += atomic_load_explicit(&pc->skipped[k], memory_order_relaxed);
    }
    out->skipped[STATS_SKIP_ANALYSIS] += out->analysis.abandoned;
}

static const struct ruleset *rules_now(const struct api_env *env)
{
    return env->ctx->rules ? liverules_current(env->ctx->rules) : NULL;
}

/* Appends the report to b. Returns -1 (with the error in out) when a worker
 * did not answer. */
static int report_text(const struct api_env *env, struct buf *b, struct api_response *out)
{
    struct stats *s = api_collect(env, NULL);
    if (!s) {
        reply_error(out, 503, "a worker did not answer in time; try again");
        return -1;
    }
    reportgen_write(b, s, env->ctx->cfg, rules_now(env));
    stats_free(s);
    return 0;
}

/* The report as a cJSON document, or NULL (error already in out). */
static cJSON *report_doc(const struct api_env *env, struct api_response *out)
{
    struct buf b = {0};
    if (report_text(env, &b, out) == -1)
        return NULL;
    cJSON *doc = cJSON_ParseWithLength(b.data, b.len);
    buf_free(&b);
    if (!doc)
        reply_error(out, 500, "internal error: the report is not valid JSON");
    return doc;
}

static int count_regressions(const cJSON *doc, const char *endpoint)
{
    int n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "regressions"))
    {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "endpoint");
        if (cJSON_IsString(e) && strcmp(e->valuestring, endpoint) == 0)
            n++;
    }
    return n;
}

static cJSON *find_endpoint(const cJSON *doc, const char *name)
{
    cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(doc, "endpoints"))
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return e;
    }
    return NULL;
}

/* ---- handlers ---------------------------------------------------------- */

static void get_report(const struct api_env *env, struct api_response *out)
{
    buf_reset(&out->body);
    if (report_text(env, &out->body, out) == -1)
        return;
    out->status = 200;
    out->content_type = JSON;
}

static void get_endpoints(const struct api_env *env, struct api_response *out)
{
    cJSON *doc = report_doc(env, out);
    if (!doc)
        return;
    cJSON *res = cJSON_CreateObject();
    static const char *const keep[] = {"verdict", "noise_subtraction", "totals", "thresholds"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        cJSON_AddItemToObject(res, keep[i], cJSON_DetachItemFromObject(doc, keep[i]));
    cJSON *eps = cJSON_DetachItemFromObject(doc, "endpoints");
    cJSON *e;
    cJSON_ArrayForEach(e, eps)
    {
        cJSON_DeleteItemFromObject(e, "fields");
        cJSON_DeleteItemFromObject(e, "latency_histogram");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        cJSON_AddNumberToObject(e, "regressions", count_regressions(doc, name->valuestring));
    }
    cJSON_AddItemToObject(res, "endpoints", eps);
    reply_json(out, res);
    cJSON_Delete(res);
    cJSON_Delete(doc);
}

static void get_fields(const struct api_env *env, const char *name, struct api_response *out)
{
    cJSON *doc = report_doc(env, out);
    if (!doc)
        return;
    cJSON *e = find_endpoint(doc, name);
    if (!e) {
        reply_error(out, 404, "no endpoint named \"%s\"", name);
    } else {
        cJSON_DeleteItemFromObject(e, "received");
        cJSON_AddNumberToObject(e, "regressions", count_regressions(doc, name));
        /* The report's own wording of each regression of this endpoint. */
        cJSON *details = cJSON_AddArrayToObject(e, "regression_details");
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "regressions"))
        {
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(r, "endpoint");
            if (cJSON_IsString(en) && strcmp(en->valuestring, name) == 0)
                cJSON_AddItemToArray(details, cJSON_Duplicate(r, true));
        }
        reply_json(out, e);
    }
    cJSON_Delete(doc);
}

static cJSON *string_set_add(cJSON *arr, const char *s)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, arr)
    {
        if (strcmp(x->valuestring, s) == 0)
            return arr;
    }
    cJSON_AddItemToArray(arr, cJSON_CreateString(s));
    return arr;
}

/* Summary of one stored sample for the list view; NULL when it does not
 * match the filters. */
static cJSON *sample_summary(const struct sample *sm, const char *field)
{
    cJSON *doc = cJSON_Parse(sm->json);
    if (!doc)
        return NULL;
    cJSON *res = cJSON_CreateObject();
    cJSON_AddStringToObject(res, "id", sm->id);
    cJSON_AddStringToObject(res, "endpoint", sm->endpoint);
    const cJSON *time_ = cJSON_GetObjectItemCaseSensitive(doc, "time");
    cJSON_AddStringToObject(res, "time", cJSON_IsString(time_) ? time_->valuestring : "");
    cJSON *status = cJSON_AddObjectToObject(res, "status");
    const cJSON *leg;
    cJSON_ArrayForEach(leg, cJSON_GetObjectItemCaseSensitive(doc, "responses"))
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(leg, "status");
        cJSON_AddNumberToObject(status, leg->string, cJSON_IsNumber(st) ? st->valuedouble : 0);
    }
    bool matched = field == NULL;
    static const char *const sides[2] = {"raw", "noise"};
    static const char *const keys[2] = {"fields", "noise_fields"};
    const cJSON *diffs = cJSON_GetObjectItemCaseSensitive(doc, "differences");
    for (int k = 0; k < 2; k++) {
        cJSON *set = cJSON_AddArrayToObject(res, keys[k]);
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(diffs, sides[k]))
        {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(d, "field");
            if (!cJSON_IsString(f))
                continue;
            string_set_add(set, f->valuestring);
            if (field && strcmp(field, f->valuestring) == 0)
                matched = true;
        }
    }
    cJSON_Delete(doc);
    if (!matched) {
        cJSON_Delete(res);
        return NULL;
    }
    return res;
}

/* Every stored sample into *samples; false (error in out) when a worker did
 * not answer. */
static bool collect_samples(const struct api_env *env, struct sample_store *samples,
                            struct api_response *out)
{
    struct stats *s = api_collect(env, samples);
    if (!s) {
        samples_clear(samples);
        reply_error(out, 503, "a worker did not answer in time; try again");
        return false;
    }
    stats_free(s);
    return true;
}

static void get_samples(const struct api_env *env, const char *query, struct api_response *out)
{
    struct sample_store samples = {0};
    if (!collect_samples(env, &samples, out))
        return;
    char *endpoint = query_param(query, "endpoint");
    char *field = query_param(query, "field");
    cJSON *res = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(res, "samples");
    for (size_t i = 0; i < samples.n; i++) {
        if (endpoint && strcmp(endpoint, samples.v[i].endpoint) != 0)
            continue;
        cJSON *sum = sample_summary(&samples.v[i], field);
        if (sum)
            cJSON_AddItemToArray(list, sum);
    }
    reply_json(out, res);
    cJSON_Delete(res);
    free(endpoint);
    free(field);
    samples_clear(&samples);
}

/* One leg of a sample normalized with the endpoint's rules, as it was
 * compared. Returns false when its body is not complete text. */
static bool sample_leg(const cJSON *doc, const char *role, const struct rules_view *view,
                       struct norm_response *out)
{
    const cJSON *leg =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "responses"), role);
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(leg, "body");
    if (!cJSON_IsString(body) ||
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(leg, "body_truncated")))
        return false;
    struct http_response r = {0};
    r.status = 200;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(leg, "headers"))
    {
        const cJSON *n = cJSON_GetArrayItem(h, 0), *v = cJSON_GetArrayItem(h, 1);
        if (cJSON_IsString(n) && cJSON_IsString(v))
            headers_add(&r.headers, n->valuestring, strlen(n->valuestring), v->valuestring,
                        strlen(v->valuestring));
    }
    /* Stored bodies are already decoded text. */
    headers_remove(&r.headers, "Content-Encoding");
    buf_puts(&r.body, body->valuestring);
    normalize_response(view, &r, NULL, out);
    http_response_free(&r);
    return out->body_kind == NORM_BODY_JSON;
}

static void get_sample(const struct api_env *env, const char *id, const char *query,
                       struct api_response *out)
{
    struct sample_store samples = {0};
    if (!collect_samples(env, &samples, out))
        return;
    const struct sample *sm = samples_get(&samples, id);
    char *format = query_param(query, "format");
    if (!sm) {
        reply_error(out, 404, "no sample with id \"%s\" (samples are kept up to --max-samples)",
                    id);
    } else if (!format || strcmp(format, "json") == 0) {
        buf_reset(&out->body);
        buf_puts(&out->body, sm->json);
        buf_puts(&out->body, "\n");
        out->status = 200;
        out->content_type = JSON;
    } else if (strcmp(format, "patch") == 0) {
        /* RFC 6902: the candidate's body from the primary's, as compared
         * (the endpoint's rules applied). */
        cJSON *doc = cJSON_Parse(sm->json);
        struct rules_view view;
        rules_view_for_endpoint(rules_now(env), sm->endpoint, &view);
        struct norm_response left = {0}, right = {0};
        bool ok = doc && sample_leg(doc, "primary", &view, &left) &&
                  sample_leg(doc, "candidate", &view, &right);
        if (!ok) {
            reply_error(out, 422,
                        "sample %s: the primary and candidate bodies are not both complete JSON",
                        id);
        } else {
            struct jsondiff *d = jsondiff_new();
            jsondiff_trees(d, &view, left.body, right.body);
            buf_reset(&out->body);
            jsondiff_write_patch(d, &out->body);
            out->status = 200;
            out->content_type = "application/json-patch+json";
            jsondiff_free(d);
        }
        normalize_free(&left);
        normalize_free(&right);
        cJSON_Delete(doc);
    } else {
        reply_error(out, 400, "format \"%s\": use json or patch", format);
    }
    free(format);
    samples_clear(&samples);
}

static void config_json(const struct api_env *env, struct api_response *out)
{
    const struct serve_ctx *ctx = env->ctx;
    const struct config *cfg = ctx->cfg;
    cJSON *res = cJSON_CreateObject();
    double pct = (double)atomic_load(&((struct serve_ctx *)ctx)->sample_ppm) / 1e4;
    cJSON_AddNumberToObject(res, "sample_percent", pct);
    cJSON_AddBoolToObject(res, "paused", atomic_load(&((struct serve_ctx *)ctx)->paused));
    cJSON_AddStringToObject(res, "respond", role_name(cfg->respond));
    cJSON_AddBoolToObject(res, "wait_all", cfg->wait_all);
    cJSON_AddBoolToObject(res, "allow_side_effects", cfg->allow_side_effects);
    cJSON *b = cJSON_AddObjectToObject(res, "backends");
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (cfg->backends[r].configured)
            cJSON_AddStringToObject(b, role_name(r), cfg->backends[r].url);
        else
            cJSON_AddNullToObject(b, role_name(r));
    }
    cJSON_AddNumberToObject(res, "threads", cfg->threads);
    cJSON_AddNumberToObject(res, "max_inflight", (double)cfg->max_inflight);
    cJSON_AddNumberToObject(res, "timeout_ms", (double)cfg->timeout_ms);
    reply_json(out, res);
    cJSON_Delete(res);
}

static void patch_config(const struct api_env *env, const char *body, size_t len,
                         struct api_response *out)
{
    cJSON *doc = cJSON_ParseWithLength(body ? body : "", len);
    if (!cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        reply_error(out, 400, "the body must be a JSON object like {\"sample_percent\": 10}");
        return;
    }
    /* Validate everything before changing anything. */
    const cJSON *pct = NULL, *paused = NULL, *item;
    cJSON_ArrayForEach(item, doc)
    {
        if (strcmp(item->string, "sample_percent") == 0) {
            if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0 && item->valuedouble <= 100)) {
                reply_error(out, 400, "sample_percent must be a number from 0 to 100");
                cJSON_Delete(doc);
                return;
            }
            pct = item;
        } else if (strcmp(item->string, "paused") == 0) {
            if (!cJSON_IsBool(item)) {
                reply_error(out, 400, "paused must be true or false");
                cJSON_Delete(doc);
                return;
            }
            paused = item;
        } else {
            reply_error(out, 400, "unknown setting \"%s\" (settable: sample_percent, paused)",
                        item->string);
            cJSON_Delete(doc);
            return;
        }
    }
    if (pct)
        atomic_store(&env->ctx->sample_ppm, (uint_fast64_t)(pct->valuedouble * 1e4 + 0.5));
    if (paused)
        atomic_store(&env->ctx->paused, cJSON_IsTrue(paused));
    cJSON_Delete(doc);
    config_json(env, out);
}

static void post_clear(const struct api_env *env, struct api_response *out)
{
    if (api_reset(env) == -1) {
        reply_error(out, 503, "a worker did not answer in time; try again");
        return;
    }
    if (env->ctx->base)
        stats_reset(env->ctx->base);
    samples_clear(&env->ctx->base_samples);
    atomic_store(&env->ctx->sample_budget.used, 0);
    buf_reset(&out->body);
    buf_puts(&out->body, "{\"cleared\": true}\n");
    out->status = 200;
    out->content_type = JSON;
}

static void post_reload(const struct api_env *env, struct api_response *out)
{
    char err[512];
    buf_reset(&out->body);
    out->content_type = JSON;
    if (liverules_reload(env->ctx->rules, err, sizeof(err)) == -1) {
        buf_puts(&out->body, "{\"ok\": false, \"error\": ");
        buf_json_string(&out->body, err, strlen(err));
        buf_puts(&out->body, "}\n");
        out->status = 400;
        return;
    }
    buf_printf(&out->body, "{\"ok\": true, \"rules\": %zu}\n",
               rules_rule_count(liverules_current(env->ctx->rules)));
    out->status = 200;
}

/* A field path as the directive that silences it, or NULL when no rule can
 * (a failed leg is not noise to hide). */
static char *silencing_rule(const char *field)
{
    if (strncmp(field, "header.", 7) == 0)
        return xasprintf("ignore-header %s", field + 7);
    if (strcmp(field, "status") == 0 || strcmp(field, "body") == 0 || field[0] == '$')
        return xasprintf("ignore %s", field);
    return NULL;
}

static void get_suggested(const struct api_env *env, struct api_response *out)
{
    struct stats *s = api_collect(env, NULL);
    if (!s) {
        reply_error(out, 503, "a worker did not answer in time; try again");
        return;
    }
    const struct config *cfg = env->ctx->cfg;
    struct buf *b = &out->body;
    buf_reset(b);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_printf(b,
               "# Rules suggested by diffd at %s.\n"
               "# Each silences a field where the primary and the secondary (two instances of\n"
               "# the same version) differed in at least %.0f%% of compared trials: noise such as\n"
               "# timestamps and random ids. Review before use: an ignored field is never\n"
               "# compared again, so a real regression there would go unseen.\n",
               when, SUGGEST_NOISE_PCT);
    if (!cfg->backends[ROLE_SECONDARY].configured)
        buf_puts(b, "# diffd runs without --secondary: noise cannot be measured, nothing to "
                    "suggest.\n");
    size_t suggested = 0;
    for (size_t i = 0; i < s->neps; i++) {
        const struct stats_endpoint *e = &s->eps[i];
        if (e->compared < (uint64_t)cfg->min_compared || e->compared == 0 ||
            strcmp(e->name, STATS_OTHER) == 0)
            continue;
        bool header_written = false;
        for (size_t k = 0; k < e->nfields; k++) {
            const struct stats_field *f = &e->fields[k];
            double noise_pct = 100.0 * (double)f->noise / (double)e->compared;
            if (noise_pct < SUGGEST_NOISE_PCT)
                continue;
            char *rule = silencing_rule(f->path);
            if (!rule)
                continue;
            if (!header_written) {
                buf_printf(b, "\n[%s]\n", e->name);
                header_written = true;
            }
            buf_printf(b, "# noise in %.1f%% of %llu trials, raw (candidate) in %.1f%%\n%s\n",
                       noise_pct, (unsigned long long)e->compared,
                       100.0 * (double)f->raw / (double)e->compared, rule);
            free(rule);
            suggested++;
        }
    }
    if (!suggested)
        buf_puts(b, "\n# Nothing to suggest yet: no field is that noisy (or too few trials).\n");
    stats_free(s);
    out->status = 200;
    out->content_type = "text/plain; charset=utf-8";
}

void api_handle(const struct api_env *env, const char *method, const char *path, const char *query,
                const char *body, size_t body_len, struct api_response *out)
{
    out->status = 500;
    out->content_type = JSON;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    const char *p = path + strlen("/api/v1");
    if (strcmp(p, "/report") == 0 && get) {
        get_report(env, out);
    } else if (strcmp(p, "/endpoints") == 0 && get) {
        get_endpoints(env, out);
    } else if (strncmp(p, "/endpoints/", 11) == 0 && strlen(p) > 18 &&
               strcmp(p + strlen(p) - 7, "/fields") == 0 && get) {
        char *name = url_decode(p + 11, strlen(p) - 11 - 7, false);
        if (!name)
            reply_error(out, 400, "malformed percent-encoding in the endpoint name");
        else
            get_fields(env, name, out);
        free(name);
    } else if (strcmp(p, "/samples") == 0 && get) {
        get_samples(env, query, out);
    } else if (strncmp(p, "/samples/", 9) == 0 && p[9] && get) {
        char *id = url_decode(p + 9, strlen(p + 9), false);
        if (!id)
            reply_error(out, 400, "malformed percent-encoding in the sample id");
        else
            get_sample(env, id, query, out);
        free(id);
    } else if (strcmp(p, "/config") == 0 && get) {
        config_json(env, out);
    } else if (strcmp(p, "/config") == 0 && strcmp(method, "PATCH") == 0) {
        patch_config(env, body, body_len, out);
    } else if (strcmp(p, "/clear") == 0 && post) {
        post_clear(env, out);
    } else if (strcmp(p, "/rules") == 0 && get) {
        buf_reset(&out->body);
        liverules_write_json(env->ctx->rules, &out->body);
        out->status = 200;
    } else if (strcmp(p, "/rules/reload") == 0 && post) {
        post_reload(env, out);
    } else if (strcmp(p, "/rules/suggested") == 0 && get) {
        get_suggested(env, out);
    } else {
        static const char *const known[] = {"/report",       "/endpoints",      "/samples",
                                            "/config",       "/clear",          "/rules",
                                            "/rules/reload", "/rules/suggested"};
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            if (strcmp(p, known[i]) == 0) {
                reply_error(out, 405, "%s does not accept %s", path, method);
                return;
            }
        reply_error(out, 404, "no such API route: %s %s", method, path);
    }
}

/* ---- metrics ------------------------------------------------------------- */

/* Label values escaped per the exposition format: \\, \" and \n. */
static void label(struct buf *b, const char *name, const char *value)
{
    buf_printf(b, "%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            buf_puts(b, "\\\\");
        else if (*p == '"')
            buf_puts(b, "\\\"");
        else if (*p == '\n')
            buf_puts(b, "\\n");
        else
            buf_append(b, p, 1);
    }
    buf_puts(b, "\"");
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Prometheus buckets (seconds) the fine latency histogram is folded into. */
static const double le_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};

int api_metrics(const struct api_env *env, struct buf *b)
{
    struct stats *s = api_collect(env, NULL);
    if (!s)
        return -1;
    struct buf rep = {0};
    reportgen_write(&rep, s, env->ctx->cfg, rules_now(env));
    cJSON *doc = cJSON_ParseWithLength(rep.data, rep.len);
    buf_free(&rep);

    head(b, "diffd_requests_total", "counter",
         "Responses of each leg of compared trials, by status class.");
    for (int r = 0; r < ROLE_COUNT; r++)
        for (int c = 0; c < STATUS_CLASSES; c++) {
            uint64_t n = 0;
            for (size_t i = 0; i < s->neps; i++)
                n += s->eps[i].status[r][c];
            buf_puts(b, "diffd_requests_total{");
            label(b, "leg", role_name(r));
            buf_puts(b, ",");
            label(b, "class", status_class_name((enum status_class)c));
            buf_printf(b, "} %llu\n", (unsigned long long)n);
        }

    head(b, "diffd_request_duration_seconds", "histogram",
         "Latency of each leg per endpoint (answered legs of compared trials).");
    for (size_t i = 0; i < s->neps; i++) {
        const struct stats_endpoint *e = &s->eps[i];
        for (int r = 0; r < ROLE_COUNT; r++) {
            if (!e->hist[r])
                continue;
            uint64_t cum[sizeof(le_s) / sizeof(le_s[0])] = {0};
            uint64_t total = 0;
            double sum = 0;
            for (int k = 0; k < STATS_HIST_BUCKETS; k++) {
                uint64_t c = e->hist[r][k];
                if (!c)
                    continue;
                double v = regress_bucket_value_us((size_t)k) / 1e6;
                total += c;
                sum += v * (double)c;
                for (size_t q = 0; q < sizeof(le_s) / sizeof(le_s[0]); q++)
                    if (v <= le_s[q])
                        cum[q] += c;
            }
            for (size_t q = 0; q <= sizeof(le_s) / sizeof(le_s[0]); q++) {
                buf_puts(b, "diffd_request_duration_seconds_bucket{");
                label(b, "leg", role_name(r));
                buf_puts(b, ",");
                label(b, "endpoint", e->name);
                if (q < sizeof(le_s) / sizeof(le_s[0]))
                    buf_printf(b, ",le=\"%g\"} %llu\n", le_s[q], (unsigned long long)cum[q]);
                else
                    buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)total);
            }
            buf_puts(b, "diffd_request_duration_seconds_sum{");
            label(b, "leg", role_name(r));
            buf_puts(b, ",");
            label(b, "endpoint", e->name);
            buf_printf(b, "} %.6f\n", sum);
            buf_puts(b, "diffd_request_duration_seconds_count{");
            label(b, "leg", role_name(r));
            buf_puts(b, ",");
            label(b, "endpoint", e->name);
            buf_printf(b, "} %llu\n", (unsigned long long)total);
        }
    }

    head(b, "diffd_received_total", "counter", "Requests received, per endpoint.");
    for (size_t i = 0; i < s->neps; i++) {
        buf_puts(b, "diffd_received_total{");
        label(b, "endpoint", s->eps[i].name);
        buf_printf(b, "} %llu\n", (unsigned long long)s->eps[i].received);
    }
    head(b, "diffd_trials_total", "counter", "Trials compared (all legs finished), per endpoint.");
    for (size_t i = 0; i < s->neps; i++) {
        buf_puts(b, "diffd_trials_total{");
        label(b, "endpoint", s->eps[i].name);
        buf_printf(b, "} %llu\n", (unsigned long long)s->eps[i].compared);
    }
    head(b, "diffd_skipped_total", "counter",
         "Requests proxied but not compared, by reason (side_effect, overload, rule, "
         "analysis).");
    for (int k = 0; k < STATS_SKIPS; k++) {
        buf_puts(b, "diffd_skipped_total{");
        label(b, "reason", stats_skip_name((enum stats_skip)k));
        buf_printf(b, "} %llu\n", (unsigned long long)s->totals_skipped[k]);
    }
    head(b, "diffd_differing_trials_total", "counter",
         "Trials with any difference: raw (primary vs candidate) or noise (primary vs "
         "secondary).");
    for (size_t i = 0; i < s->neps; i++)
        for (int side = 0; side < 2; side++) {
            buf_puts(b, "diffd_differing_trials_total{");
            label(b, "endpoint", s->eps[i].name);
            buf_puts(b, ",");
            label(b, "side", side ? "noise" : "raw");
            buf_printf(
                b, "} %llu\n",
                (unsigned long long)(side ? s->eps[i].differing_noise : s->eps[i].differing_raw));
        }
    head(b, "diffd_field_differences_total", "counter",
         "Trials in which a field differed, per endpoint, field path and side.");
    for (size_t i = 0; i < s->neps; i++)
        for (size_t k = 0; k < s->eps[i].nfields; k++)
            for (int side = 0; side < 2; side++) {
                const struct stats_field *f = &s->eps[i].fields[k];
                buf_puts(b, "diffd_field_differences_total{");
                label(b, "endpoint", s->eps[i].name);
                buf_puts(b, ",");
                label(b, "field", f->path);
                buf_puts(b, ",");
                label(b, "side", side ? "noise" : "raw");
                buf_printf(b, "} %llu\n", (unsigned long long)(side ? f->noise : f->raw));
            }
    head(b, "diffd_regressions", "gauge", "Regressions found now, per endpoint and type.");
    for (size_t i = 0; i < s->neps; i++) {
        int nf = 0, nl = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "regressions"))
        {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "endpoint");
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "type");
            if (!cJSON_IsString(e) || !cJSON_IsString(t) ||
                strcmp(e->valuestring, s->eps[i].name) != 0)
                continue;
            if (strcmp(t->valuestring, "latency") == 0)
                nl++;
            else
                nf++;
        }
        for (int t = 0; t < 2; t++) {
            buf_puts(b, "diffd_regressions{");
            label(b, "endpoint", s->eps[i].name);
            buf_puts(b, ",");
            label(b, "type", t ? "latency" : "field");
            buf_printf(b, "} %d\n", t ? nl : nf);
        }
    }
    head(b, "diffd_verdict", "gauge", "1 for the current verdict (pass, fail, insufficient).");
    const cJSON *verdict = cJSON_GetObjectItemCaseSensitive(doc, "verdict");
    static const char *const verdicts[] = {"pass", "fail", "insufficient"};
    for (int v = 0; v < 3; v++) {
        buf_puts(b, "diffd_verdict{");
        label(b, "verdict", verdicts[v]);
        buf_printf(b, "} %d\n",
                   cJSON_IsString(verdict) && strcmp(verdict->valuestring, verdicts[v]) == 0);
    }
    struct api_live live;
    api_live(env, &live);
    head(b, "diffd_inflight_trials", "gauge",
         "Trials in progress: legs running, or waiting for or in comparison.");
    buf_printf(b, "diffd_inflight_trials %lld\n", (long long)live.inflight);
    head(b, "diffd_analysis_queue_trials", "gauge",
         "Finished trials waiting for the analysis threads.");
    buf_printf(b, "diffd_analysis_queue_trials %llu\n", (unsigned long long)live.analysis.queued);
    head(b, "diffd_analysis_queue_bytes", "gauge",
         "Bytes of finished trials waiting for the analysis threads (--analysis-queue-bytes).");
    buf_printf(b, "diffd_analysis_queue_bytes %llu\n",
               (unsigned long long)live.analysis.queued_bytes);
    cJSON_Delete(doc);
    stats_free(s);
    return 0;
}
