/* The report document (reports/README.md): parse and validate it, fetch it from a
 * live diffd, merge several, recompute what is derived with diffd/regress, write it
 * back as JSON and gate on it. libcurl is used here (and in replay) rather than only in
 * upstream because `check --url` is a one-shot blocking GET outside any event loop
 * (DESIGN §1 lists libcurl for check --url). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "report.h"

/* Sample ids kept per field after a merge: at least this many, or the most any
 * input had (serve's --samples-per-field default is 5). */
#define REPORT_MIN_SAMPLES 5
/* Bigger live reports than this are refused (a runaway or hostile server). */
#define REPORT_MAX_FETCH (256u * 1024 * 1024)
/* Integers above 2^53 cannot be represented exactly by a JSON number in a double. */
#define REPORT_MAX_INT 9007199254740992.0

static const char *const leg_names[REPORT_LEGS] = {"primary", "secondary", "candidate"};
static const char *const skip_names[REPORT_SKIPS] = {"side_effect", "overload", "rule", "analysis"};

const char *report_leg_name(enum report_leg leg)
{
    return leg_names[leg];
}

const char *report_skip_name(enum report_skip s)
{
    return skip_names[s];
}

/* ---- lifetime ------------------------------------------------------------------ */

struct report *report_new(void)
{
    struct report *r = xcalloc(1, sizeof(*r));
    r->noise_subtraction = true;
    regress_thresholds_default(&r->thresholds);
    r->verdict = REGRESS_INSUFFICIENT;
    return r;
}

static void counts_free(struct report_counts *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].name);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static void field_free(struct report_field *f)
{
    free(f->path);
    counts_free(&f->kinds);
    counts_free(&f->noise_kinds);
    for (size_t i = 0; i < f->nsamples; i++)
        free(f->samples[i]);
    free(f->samples);
}

static void endpoint_free(struct report_endpoint *e)
{
    free(e->name);
    for (size_t i = 0; i < e->nfields; i++)
        field_free(&e->fields[i]);
    free(e->fields);
    for (int l = 0; l < REPORT_LEGS; l++) {
        free(e->hist[l]);
        counts_free(&e->status[l]);
    }
}

static void regressions_clear(struct report *r)
{
    for (size_t i = 0; i < r->nregressions; i++) {
        struct report_regression *g = &r->regressions[i];
        free(g->endpoint);
        free(g->path);
        free(g->quantile);
        free(g->detail);
    }
    free(r->regressions);
    r->regressions = NULL;
    r->nregressions = 0;
}

void report_free(struct report *r)
{
    if (!r)
        return;
    free(r->diffd);
    free(r->generated_at);
    for (int l = 0; l < REPORT_LEGS; l++)
        free(r->backends[l]);
    for (size_t i = 0; i < r->nendpoints; i++)
        endpoint_free(&r->endpoints[i]);
    free(r->endpoints);
    for (size_t i = 0; i < r->nrules; i++) {
        free(r->rules[i].file);
        free(r->rules[i].text);
    }
    free(r->rules);
    regressions_clear(r);
    free(r);
}

/* ---- small helpers --------------------------------------------------------------- */

static void counts_add(struct report_counts *c, const char *name, uint64_t n)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0) {
            c->v[i].n += n;
            return;
        }
    c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n].name = xstrdup(name);
    c->v[c->n].n = n;
    c->n++;
}

static void hist_add(struct report_endpoint *e, int leg, size_t bucket, uint64_t n)
{
    if (bucket >= e->hist_len[leg]) {
        e->hist[leg] = xrealloc(e->hist[leg], (bucket + 1) * sizeof(uint64_t));
        memset(e->hist[leg] + e->hist_len[leg], 0,
               (bucket + 1 - e->hist_len[leg]) * sizeof(uint64_t));
        e->hist_len[leg] = bucket + 1;
    }
    e->hist[leg][bucket] += n;
}

static struct report_endpoint *endpoint_get(struct report *r, const char *name)
{
    for (size_t i = 0; i < r->nendpoints; i++)
        if (strcmp(r->endpoints[i].name, name) == 0)
            return &r->endpoints[i];
    r->endpoints = xrealloc(r->endpoints, (r->nendpoints + 1) * sizeof(*r->endpoints));
    struct report_endpoint *e = &r->endpoints[r->nendpoints++];
    memset(e, 0, sizeof(*e));
    e->name = xstrdup(name);
    return e;
}

static struct report_field *field_get(struct report_endpoint *e, const char *path)
{
    for (size_t i = 0; i < e->nfields; i++)
        if (strcmp(e->fields[i].path, path) == 0)
            return &e->fields[i];
    e->fields = xrealloc(e->fields, (e->nfields + 1) * sizeof(*e->fields));
    struct report_field *f = &e->fields[e->nfields++];
    memset(f, 0, sizeof(*f));
    f->path = xstrdup(path);
    return f;
}

static void field_add_sample(struct report_field *f, const char *id, size_t cap)
{
    for (size_t i = 0; i < f->nsamples; i++)
        if (strcmp(f->samples[i], id) == 0)
            return;
    if (f->nsamples >= cap)
        return;
    f->samples = xrealloc(f->samples, (f->nsamples + 1) * sizeof(char *));
    f->samples[f->nsamples++] = xstrdup(id);
}

/* ---- parsing ------------------------------------------------------------------------ */

struct pctx {
    const char *source;
    char *err;
    size_t errlen;
};

/* Error at a JSON path, e.g. "r.json: endpoints[2].compared: expected ...". */
static int perr(struct pctx *c, const char *path, const char *msg)
{
    return errf(c->err, c->errlen, "%s: %s%s%s", c->source, path, *path ? ": " : "", msg);
}

static const cJSON *member(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* A non-negative integer counter; absent or null is 0. */
static int get_count(struct pctx *c, const cJSON *obj, const char *key, const char *path,
                     uint64_t *out)
{
    const cJSON *v = member(obj, key);
    char where[512];
    snprintf(where, sizeof(where), "%s%s%s", path, *path ? "." : "", key);
    *out = 0;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > REPORT_MAX_INT ||
        floor(v->valuedouble) != v->valuedouble)
        return perr(c, where, "expected a non-negative integer");
    *out = (uint64_t)v->valuedouble;
    return 0;
}

static int get_number(struct pctx *c, const cJSON *obj, const char *key, const char *path,
                      double *out)
{
    const cJSON *v = member(obj, key);
    char where[512];
    snprintf(where, sizeof(where), "%s%s%s", path, *path ? "." : "", key);
    if (!v || cJSON_IsNull(v))
        return 0; /* keep the default */
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return perr(c, where, "expected a non-negative number");
    *out = v->valuedouble;
    return 0;
}

/* An optional string: *out is a copy or NULL. */
static int get_string(struct pctx *c, const cJSON *obj, const char *key, const char *path,
                      char **out)
{
    const cJSON *v = member(obj, key);
    char where[512];
    snprintf(where, sizeof(where), "%s%s%s", path, *path ? "." : "", key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return perr(c, where, "expected a string");
    *out = xstrdup(v->valuestring);
    return 0;
}

/* An object of name -> count, added into counts. */
static int get_counts(struct pctx *c, const cJSON *obj, const char *key, const char *path,
                      struct report_counts *counts)
{
    const cJSON *v = member(obj, key);
    char where[512];
    snprintf(where, sizeof(where), "%s.%s", path, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v))
        return perr(c, where, "expected an object of counters");
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        uint64_t n;
        if (get_count(c, v, item->string, where, &n) == -1)
            return -1;
        counts_add(counts, item->string, n);
    }
    return 0;
}

static int parse_skipped(struct pctx *c, const cJSON *obj, const char *path, uint64_t *skipped)
{
    const cJSON *v = member(obj, "skipped");
    char where[512];
    snprintf(where, sizeof(where), "%s%sskipped", path, *path ? "." : "");
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v))
        return perr(c, where, "expected an object");
    for (int s = 0; s < REPORT_SKIPS; s++)
        if (get_count(c, v, skip_names[s], where, &skipped[s]) == -1)
            return -1;
    return 0;
}

static int parse_field(struct pctx *c, const cJSON *jf, const char *path, struct report_endpoint *e)
{
    if (!cJSON_IsObject(jf))
        return perr(c, path, "expected an object");
    const cJSON *jp = member(jf, "path");
    if (!cJSON_IsString(jp) || !*jp->valuestring) {
        char where[512];
        snprintf(where, sizeof(where), "%s.path", path);
        return perr(c, where, "expected a non-empty string");
    }
    uint64_t raw, noise;
    if (get_count(c, jf, "raw", path, &raw) == -1 || get_count(c, jf, "noise", path, &noise) == -1)
        return -1;
    struct report_field *f = field_get(e, jp->valuestring);
    f->raw += raw;
    f->noise += noise;
    if (get_counts(c, jf, "kinds", path, &f->kinds) == -1 ||
        get_counts(c, jf, "noise_kinds", path, &f->noise_kinds) == -1)
        return -1;
    const cJSON *js = member(jf, "samples");
    if (js && !cJSON_IsNull(js)) {
        char where[512];
        snprintf(where, sizeof(where), "%s.samples", path);
        if (!cJSON_IsArray(js))
            return perr(c, where, "expected an array of sample ids");
        const cJSON *id;
        cJSON_ArrayForEach(id, js)
        {
            if (!cJSON_IsString(id))
                return perr(c, where, "expected an array of sample ids");
            field_add_sample(f, id->valuestring, (size_t)-1);
        }
    }
    return 0;
}

static int parse_histogram(struct pctx *c, const cJSON *jh, const char *path,
                           struct report_endpoint *e, int leg)
{
    char where[512];
    snprintf(where, sizeof(where), "%s.latency_histogram.%s", path, leg_names[leg]);
    if (!jh || cJSON_IsNull(jh))
        return 0;
    if (!cJSON_IsArray(jh))
        return perr(c, where, "expected an array of [bucket, count] pairs");
    const cJSON *pair;
    int i = 0;
    cJSON_ArrayForEach(pair, jh)
    {
        char at[600];
        snprintf(at, sizeof(at), "%s[%d]", where, i++);
        const cJSON *b = cJSON_GetArrayItem(pair, 0), *n = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsNumber(b) ||
            !cJSON_IsNumber(n))
            return perr(c, at, "expected a [bucket, count] pair");
        double bd = b->valuedouble, nd = n->valuedouble;
        if (bd < 0 || bd >= REGRESS_BUCKETS || floor(bd) != bd)
            return perr(c, at, "bucket out of range");
        if (nd < 0 || nd > REPORT_MAX_INT || floor(nd) != nd)
            return perr(c, at, "count must be a non-negative integer");
        if (nd > 0)
            hist_add(e, leg, (size_t)bd, (uint64_t)nd);
    }
    return 0;
}

static int parse_endpoint(struct pctx *c, const cJSON *je, int idx, struct report *r)
{
    char path[64];
    snprintf(path, sizeof(path), "endpoints[%d]", idx);
    if (!cJSON_IsObject(je))
        return perr(c, path, "expected an object");
    const cJSON *jn = member(je, "name");
    if (!cJSON_IsString(jn) || !*jn->valuestring) {
        char where[128];
        snprintf(where, sizeof(where), "%s.name", path);
        return perr(c, where, "expected a non-empty string");
    }
    uint64_t received, sampled, compared, fd;
    uint64_t skipped[REPORT_SKIPS] = {0};
    if (get_count(c, je, "received", path, &received) == -1 ||
        get_count(c, je, "sampled", path, &sampled) == -1 ||
        get_count(c, je, "compared", path, &compared) == -1 ||
        get_count(c, je, "fields_dropped", path, &fd) == -1 ||
        parse_skipped(c, je, path, skipped) == -1)
        return -1;
    struct report_endpoint *e = endpoint_get(r, jn->valuestring);
    e->received += received;
    e->sampled += sampled;
    e->compared += compared;
    e->fields_dropped += fd;
    for (int s = 0; s < REPORT_SKIPS; s++)
        e->skipped[s] += skipped[s];

    const cJSON *jd = member(je, "differing");
    if (jd && !cJSON_IsNull(jd)) {
        char where[128];
        snprintf(where, sizeof(where), "%s.differing", path);
        uint64_t raw, noise;
        if (!cJSON_IsObject(jd))
            return perr(c, where, "expected an object");
        if (get_count(c, jd, "raw", where, &raw) == -1 ||
            get_count(c, jd, "noise", where, &noise) == -1)
            return -1;
        e->differing_raw += raw;
        e->differing_noise += noise;
    }

    const cJSON *jfs = member(je, "fields");
    if (jfs && !cJSON_IsNull(jfs)) {
        char where[128];
        snprintf(where, sizeof(where), "%s.fields", path);
        if (!cJSON_IsArray(jfs))
            return perr(c, where, "expected an array");
        const cJSON *jf;
        int i = 0;
        cJSON_ArrayForEach(jf, jfs)
        {
            char at[160];
            snprintf(at, sizeof(at), "%s[%d]", where, i++);
            if (parse_field(c, jf, at, e) == -1)
                return -1;
        }
    }

    const cJSON *jh = member(je, "latency_histogram");
    if (jh && !cJSON_IsNull(jh)) {
        if (!cJSON_IsObject(jh)) {
            char where[128];
            snprintf(where, sizeof(where), "%s.latency_histogram", path);
            return perr(c, where, "expected an object");
        }
        for (int l = 0; l < REPORT_LEGS; l++)
            if (parse_histogram(c, member(jh, leg_names[l]), path, e, l) == -1)
                return -1;
    }

    const cJSON *jst = member(je, "status");
    if (jst && !cJSON_IsNull(jst)) {
        char where[128];
        snprintf(where, sizeof(where), "%s.status", path);
        if (!cJSON_IsObject(jst))
            return perr(c, where, "expected an object");
        for (int l = 0; l < REPORT_LEGS; l++)
            if (get_counts(c, jst, leg_names[l], where, &e->status[l]) == -1)
                return -1;
    }
    return 0;
}

static int parse_rules(struct pctx *c, const cJSON *jr, struct report *r)
{
    if (!jr || cJSON_IsNull(jr))
        return 0;
    if (!cJSON_IsArray(jr))
        return perr(c, "rules", "expected an array");
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, jr)
    {
        char path[64];
        snprintf(path, sizeof(path), "rules[%d]", i++);
        if (!cJSON_IsObject(item))
            return perr(c, path, "expected an object");
        char *file = NULL, *text = NULL;
        uint64_t line = 0, matched = 0;
        if (get_string(c, item, "file", path, &file) == -1 ||
            get_string(c, item, "text", path, &text) == -1 ||
            get_count(c, item, "line", path, &line) == -1 ||
            get_count(c, item, "matched", path, &matched) == -1) {
            free(file);
            free(text);
            return -1;
        }
        r->rules = xrealloc(r->rules, (r->nrules + 1) * sizeof(*r->rules));
        struct report_rule *rule = &r->rules[r->nrules++];
        rule->file = file ? file : xstrdup("");
        rule->text = text ? text : xstrdup("");
        rule->line = (long)line;
        rule->matched = matched;
    }
    return 0;
}

static int parse_top(struct pctx *c, const cJSON *root, struct report *r)
{
    if (!cJSON_IsObject(root))
        return perr(c, "", "not a diffd report (expected a JSON object)");
    const cJSON *eps = member(root, "endpoints");
    if (!cJSON_IsArray(eps))
        return perr(c, "", "not a diffd report (no \"endpoints\" array)");
    if (get_string(c, root, "diffd", "", &r->diffd) == -1 ||
        get_string(c, root, "generated_at", "", &r->generated_at) == -1)
        return -1;
    const cJSON *jb = member(root, "backends");
    if (jb && !cJSON_IsNull(jb)) {
        if (!cJSON_IsObject(jb))
            return perr(c, "backends", "expected an object");
        for (int l = 0; l < REPORT_LEGS; l++)
            if (get_string(c, jb, leg_names[l], "backends", &r->backends[l]) == -1)
                return -1;
    }
    const cJSON *jns = member(root, "noise_subtraction");
    if (jns && !cJSON_IsNull(jns)) {
        if (!cJSON_IsBool(jns))
            return perr(c, "noise_subtraction", "expected true or false");
        r->noise_subtraction = cJSON_IsTrue(jns);
    }
    const cJSON *jt = member(root, "thresholds");
    if (jt && !cJSON_IsNull(jt)) {
        struct regress_thresholds *t = &r->thresholds;
        if (!cJSON_IsObject(jt))
            return perr(c, "thresholds", "expected an object");
        if (get_number(c, jt, "relative", "thresholds", &t->relative) == -1 ||
            get_number(c, jt, "absolute", "thresholds", &t->absolute) == -1 ||
            get_number(c, jt, "latency_factor", "thresholds", &t->latency_factor) == -1 ||
            get_number(c, jt, "latency_min_ms", "thresholds", &t->latency_min_ms) == -1)
            return -1;
        if (member(jt, "min_compared") &&
            get_count(c, jt, "min_compared", "thresholds", &t->min_compared) == -1)
            return -1;
    }
    const cJSON *jh = member(root, "histogram");
    if (jh && !cJSON_IsNull(jh)) {
        const cJSON *unit = member(jh, "unit"), *growth = member(jh, "growth");
        if (!cJSON_IsObject(jh))
            return perr(c, "histogram", "expected an object");
        if (unit && (!cJSON_IsString(unit) || strcmp(unit->valuestring, "us") != 0))
            return perr(c, "histogram.unit", "only \"us\" is supported");
        if (growth &&
            (!cJSON_IsNumber(growth) || fabs(growth->valuedouble - REGRESS_GROWTH) > 1e-9))
            return perr(c, "histogram.growth", "only 1.04 is supported");
    }
    const cJSON *jtot = member(root, "totals");
    if (jtot && !cJSON_IsNull(jtot)) {
        if (!cJSON_IsObject(jtot))
            return perr(c, "totals", "expected an object");
        if (get_count(c, jtot, "received", "totals", &r->received) == -1 ||
            get_count(c, jtot, "sampled", "totals", &r->sampled) == -1 ||
            get_count(c, jtot, "compared", "totals", &r->compared) == -1 ||
            parse_skipped(c, jtot, "totals", r->skipped) == -1)
            return -1;
    }
    const cJSON *je;
    int i = 0;
    cJSON_ArrayForEach(je, eps)
    {
        if (parse_endpoint(c, je, i++, r) == -1)
            return -1;
    }
    if (parse_rules(c, member(root, "rules"), r) == -1)
        return -1;
    const cJSON *jv = member(root, "verdict");
    enum regress_verdict v;
    if (cJSON_IsString(jv) && regress_verdict_parse(jv->valuestring, &v) == 0)
        r->verdict = v;
    return 0;
}

struct report *report_parse(const char *json, size_t len, const char *source, char *err,
                            size_t errlen)
{
    struct pctx c = {source, err, errlen};
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (root && end) {
        /* One document only: anything but whitespace after it is an error. */
        while (end < json + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
            end++;
        if (end < json + len) {
            cJSON_Delete(root);
            root = NULL;
        }
    }
    if (!root) {
        /* cJSON reports where it stopped: turn that into line:column. */
        const char *at = end ? end : cJSON_GetErrorPtr();
        int line = 1, col = 1;
        if (at && at >= json && at <= json + len) {
            for (const char *p = json; p < at; p++) {
                if (*p == '\n') {
                    line++;
                    col = 1;
                } else {
                    col++;
                }
            }
        }
        if (len == 0)
            errf(err, errlen, "%s: empty file, not a JSON report", source);
        else
            errf(err, errlen, "%s:%d:%d: invalid JSON", source, line, col);
        return NULL;
    }
    struct report *r = report_new();
    if (parse_top(&c, root, r) == -1) {
        report_free(r);
        r = NULL;
    }
    cJSON_Delete(root);
    return r;
}

struct report *report_load_file(const char *path, char *err, size_t errlen)
{
    struct buf b = {0};
    struct report *r = NULL;
    if (buf_read_file(&b, path, err, errlen) == 0)
        r = report_parse(b.data, b.len, path, err, errlen);
    buf_free(&b);
    return r;
}

/* ---- fetching ------------------------------------------------------------------------ */

static size_t fetch_write(char *p, size_t size, size_t nmemb, void *userdata)
{
    struct buf *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > REPORT_MAX_FETCH)
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    buf_append(b, p, n);
    return n;
}

struct report *report_fetch(const char *admin_url, const char *token, char *err, size_t errlen)
{
    static const char suffix[] = "/api/v1/report";
    struct report *r = NULL;
    struct buf body = {0};
    struct curl_slist *hdrs = NULL;
    char *url = NULL, *auth = NULL;
    char curlerr[CURL_ERROR_SIZE] = "";
    CURL *h = NULL;

    size_t ulen = strlen(admin_url);
    while (ulen > 0 && admin_url[ulen - 1] == '/')
        ulen--;
    if (ulen >= sizeof(suffix) - 1 &&
        strncmp(admin_url + ulen - (sizeof(suffix) - 1), suffix, sizeof(suffix) - 1) == 0)
        url = xstrndup(admin_url, ulen);
    else
        url = xasprintf("%.*s%s", (int)ulen, admin_url, suffix);

    h = curl_easy_init();
    if (!h) {
        errf(err, errlen, "%s: cannot initialise libcurl", url);
        goto out;
    }
    if (token) {
        auth = xasprintf("Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        if (rc == CURLE_WRITE_ERROR)
            errf(err, errlen, "%s: report larger than %u MiB", url, REPORT_MAX_FETCH >> 20);
        else
            errf(err, errlen, "%s: unreachable: %s", url,
                 curlerr[0] ? curlerr : curl_easy_strerror(rc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 401 || status == 403) {
        errf(err, errlen, "%s: HTTP %ld: the admin token is %s (--token)", url, status,
             token ? "wrong" : "missing");
        goto out;
    }
    if (status != 200) {
        errf(err, errlen, "%s: HTTP %ld, expected 200 with a report", url, status);
        goto out;
    }
    r = report_parse(body.data ? body.data : "", body.len, url, err, errlen);
out:
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    free(auth);
    free(url);
    buf_free(&body);
    return r;
}

/* ---- merging --------------------------------------------------------------------------- */

static void counts_merge(struct report_counts *into, const struct report_counts *from)
{
    for (size_t i = 0; i < from->n; i++)
        counts_add(into, from->v[i].name, from->v[i].n);
}

static void endpoint_merge(struct report_endpoint *e, const struct report_endpoint *f)
{
    e->received += f->received;
    e->sampled += f->sampled;
    e->compared += f->compared;
    for (int s = 0; s < REPORT_SKIPS; s++)
        e->skipped[s] += f->skipped[s];
    e->differing_raw += f->differing_raw;
    e->differing_noise += f->differing_noise;
    e->fields_dropped += f->fields_dropped;
    for (size_t i = 0; i < f->nfields; i++) {
        const struct report_field *ff = &f->fields[i];
        struct report_field *ef = field_get(e, ff->path);
        size_t cap = ef->nsamples > ff->nsamples ? ef->nsamples : ff->nsamples;
        if (cap < REPORT_MIN_SAMPLES)
            cap = REPORT_MIN_SAMPLES;
        ef->raw += ff->raw;
        ef->noise += ff->noise;
        counts_merge(&ef->kinds, &ff->kinds);
        counts_merge(&ef->noise_kinds, &ff->noise_kinds);
        for (size_t k = 0; k < ff->nsamples; k++)
            field_add_sample(ef, ff->samples[k], cap);
    }
    for (int l = 0; l < REPORT_LEGS; l++) {
        for (size_t b = 0; b < f->hist_len[l]; b++)
            if (f->hist[l][b])
                hist_add(e, l, b, f->hist[l][b]);
        counts_merge(&e->status[l], &f->status[l]);
    }
}

void report_merge(struct report *into, const struct report *from)
{
    into->received += from->received;
    into->sampled += from->sampled;
    into->compared += from->compared;
    for (int s = 0; s < REPORT_SKIPS; s++)
        into->skipped[s] += from->skipped[s];
    /* Noise was subtracted for the whole only if it was for every part. */
    into->noise_subtraction = into->noise_subtraction && from->noise_subtraction;
    for (int l = 0; l < REPORT_LEGS; l++)
        if (!into->backends[l] && from->backends[l])
            into->backends[l] = xstrdup(from->backends[l]);
    if (!into->diffd && from->diffd)
        into->diffd = xstrdup(from->diffd);
    /* ISO 8601 UTC timestamps of one format order as strings: keep the newest. */
    if (from->generated_at &&
        (!into->generated_at || strcmp(from->generated_at, into->generated_at) > 0)) {
        free(into->generated_at);
        into->generated_at = xstrdup(from->generated_at);
    }
    for (size_t i = 0; i < from->nendpoints; i++)
        endpoint_merge(endpoint_get(into, from->endpoints[i].name), &from->endpoints[i]);
    for (size_t i = 0; i < from->nrules; i++) {
        const struct report_rule *fr = &from->rules[i];
        size_t k;
        for (k = 0; k < into->nrules; k++)
            if (into->rules[k].line == fr->line && strcmp(into->rules[k].file, fr->file) == 0)
                break;
        if (k < into->nrules) {
            into->rules[k].matched += fr->matched;
            continue;
        }
        into->rules = xrealloc(into->rules, (into->nrules + 1) * sizeof(*into->rules));
        struct report_rule *nr = &into->rules[into->nrules++];
        nr->file = xstrdup(fr->file);
        nr->text = xstrdup(fr->text);
        nr->line = fr->line;
        nr->matched = fr->matched;
    }
}

/* ---- recomputation ---------------------------------------------------------------------- */

static struct report_regression *regression_add(struct report *r, enum report_regression_type t,
                                                const char *endpoint)
{
    r->regressions = xrealloc(r->regressions, (r->nregressions + 1) * sizeof(*r->regressions));
    struct report_regression *g = &r->regressions[r->nregressions++];
    memset(g, 0, sizeof(*g));
    g->type = t;
    g->endpoint = xstrdup(endpoint);
    return g;
}

void report_fmt_ms(char *out, size_t outlen, double ms)
{
    if (ms < 10)
        snprintf(out, outlen, "%.3f", ms);
    else if (ms < 1000)
        snprintf(out, outlen, "%.1f", ms);
    else
        snprintf(out, outlen, "%.0f", ms);
}

static struct regress_hist leg_hist(const struct report_endpoint *e, int leg)
{
    struct regress_hist h = {e->hist[leg], e->hist_len[leg]};
    return h;
}

void report_recompute(struct report *r)
{
    const struct regress_thresholds *t = &r->thresholds;
    uint64_t max_compared = 0;
    regressions_clear(r);
    for (size_t i = 0; i < r->nendpoints; i++) {
        struct report_endpoint *e = &r->endpoints[i];
        if (e->compared > max_compared)
            max_compared = e->compared;
        for (size_t k = 0; k < e->nfields; k++) {
            struct report_field *f = &e->fields[k];
            struct regress_field_result fr = regress_field(f->raw, f->noise, e->compared, t);
            f->relative = fr.relative;
            f->absolute = fr.absolute;
            f->regression = fr.regression;
            if (!fr.regression)
                continue;
            struct report_regression *g = regression_add(r, REPORT_REG_FIELD, e->name);
            g->path = xstrdup(f->path);
            g->raw = f->raw;
            g->noise = f->noise;
            g->compared = e->compared;
            g->relative = fr.relative;
            g->absolute = fr.absolute;
            g->detail = xasprintf("raw %llu / noise %llu of %llu compared: relative %.1f%% > "
                                  "%g%%, absolute %.3f%% > %g%%",
                                  (unsigned long long)f->raw, (unsigned long long)f->noise,
                                  (unsigned long long)e->compared, fr.relative, t->relative,
                                  fr.absolute, t->absolute);
        }
        for (int l = 0; l < REPORT_LEGS; l++) {
            struct report_latency *lat = &e->latency[l];
            lat->n = regress_hist_total(e->hist[l], e->hist_len[l]);
            lat->p50 = regress_hist_quantile_us(e->hist[l], e->hist_len[l], 0.50) / 1000.0;
            lat->p90 = regress_hist_quantile_us(e->hist[l], e->hist_len[l], 0.90) / 1000.0;
            lat->p99 = regress_hist_quantile_us(e->hist[l], e->hist_len[l], 0.99) / 1000.0;
        }
        e->latency_regression = false;
        static const struct {
            double q;
            const char *name;
        } qs[] = {{0.50, "p50"}, {0.99, "p99"}};
        for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
            struct regress_latency_result lr =
                regress_latency(e->compared, qs[k].q, leg_hist(e, REPORT_PRIMARY),
                                leg_hist(e, REPORT_SECONDARY), leg_hist(e, REPORT_CANDIDATE), t);
            if (!lr.regression)
                continue;
            e->latency_regression = true;
            struct report_regression *g = regression_add(r, REPORT_REG_LATENCY, e->name);
            char cand[32], base[32];
            report_fmt_ms(cand, sizeof(cand), lr.candidate_ms);
            report_fmt_ms(base, sizeof(base), lr.baseline_ms);
            g->quantile = xstrdup(qs[k].name);
            g->compared = e->compared;
            g->candidate_ms = lr.candidate_ms;
            g->baseline_ms = lr.baseline_ms;
            g->detail = xasprintf("%s over %llu trials: candidate at least %s ms vs baseline at "
                                  "most %s ms (factor %g, margin %g ms)",
                                  qs[k].name, (unsigned long long)e->compared, cand, base,
                                  t->latency_factor, t->latency_min_ms);
        }
    }
    r->verdict = regress_verdict_of(r->nregressions, max_compared, t->min_compared);
}

/* ---- JSON output -------------------------------------------------------------------------- */

static void add_counts(cJSON *obj, const char *key, const struct report_counts *c)
{
    cJSON *o = cJSON_AddObjectToObject(obj, key);
    for (size_t i = 0; i < c->n; i++)
        cJSON_AddNumberToObject(o, c->v[i].name, (double)c->v[i].n);
}

static void add_skipped(cJSON *obj, const uint64_t *skipped)
{
    cJSON *o = cJSON_AddObjectToObject(obj, "skipped");
    for (int s = 0; s < REPORT_SKIPS; s++)
        cJSON_AddNumberToObject(o, skip_names[s], (double)skipped[s]);
}

static void add_string_or_null(cJSON *obj, const char *key, const char *s)
{
    if (s)
        cJSON_AddStringToObject(obj, key, s);
    else
        cJSON_AddNullToObject(obj, key);
}

static cJSON *endpoint_json(const struct report_endpoint *e)
{
    cJSON *je = cJSON_CreateObject();
    cJSON_AddStringToObject(je, "name", e->name);
    cJSON_AddNumberToObject(je, "received", (double)e->received);
    cJSON_AddNumberToObject(je, "sampled", (double)e->sampled);
    cJSON_AddNumberToObject(je, "compared", (double)e->compared);
    add_skipped(je, e->skipped);
    cJSON *jd = cJSON_AddObjectToObject(je, "differing");
    cJSON_AddNumberToObject(jd, "raw", (double)e->differing_raw);
    cJSON_AddNumberToObject(jd, "noise", (double)e->differing_noise);
    cJSON *jfs = cJSON_AddArrayToObject(je, "fields");
    for (size_t k = 0; k < e->nfields; k++) {
        const struct report_field *f = &e->fields[k];
        cJSON *jf = cJSON_CreateObject();
        cJSON_AddStringToObject(jf, "path", f->path);
        cJSON_AddNumberToObject(jf, "raw", (double)f->raw);
        cJSON_AddNumberToObject(jf, "noise", (double)f->noise);
        cJSON_AddNumberToObject(jf, "relative", f->relative);
        cJSON_AddNumberToObject(jf, "absolute", f->absolute);
        add_counts(jf, "kinds", &f->kinds);
        add_counts(jf, "noise_kinds", &f->noise_kinds);
        cJSON_AddBoolToObject(jf, "regression", f->regression);
        cJSON *js = cJSON_AddArrayToObject(jf, "samples");
        for (size_t s = 0; s < f->nsamples; s++)
            cJSON_AddItemToArray(js, cJSON_CreateString(f->samples[s]));
        cJSON_AddItemToArray(jfs, jf);
    }
    cJSON_AddNumberToObject(je, "fields_dropped", (double)e->fields_dropped);
    cJSON *jl = cJSON_AddObjectToObject(je, "latency_ms");
    cJSON *jh = cJSON_AddObjectToObject(je, "latency_histogram");
    for (int l = 0; l < REPORT_LEGS; l++) {
        cJSON *q = cJSON_AddObjectToObject(jl, leg_names[l]);
        cJSON_AddNumberToObject(q, "n", (double)e->latency[l].n);
        cJSON_AddNumberToObject(q, "p50", e->latency[l].p50);
        cJSON_AddNumberToObject(q, "p90", e->latency[l].p90);
        cJSON_AddNumberToObject(q, "p99", e->latency[l].p99);
        cJSON *pairs = cJSON_AddArrayToObject(jh, leg_names[l]);
        for (size_t b = 0; b < e->hist_len[l]; b++) {
            if (!e->hist[l][b])
                continue;
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)b));
            cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)e->hist[l][b]));
            cJSON_AddItemToArray(pairs, pair);
        }
    }
    cJSON_AddBoolToObject(je, "latency_regression", e->latency_regression);
    cJSON *jst = cJSON_AddObjectToObject(je, "status");
    for (int l = 0; l < REPORT_LEGS; l++)
        add_counts(jst, leg_names[l], &e->status[l]);
    return je;
}

void report_to_json(const struct report *r, struct buf *out)
{
    cJSON *root = cJSON_CreateObject();
    add_string_or_null(root, "diffd", r->diffd);
    add_string_or_null(root, "generated_at", r->generated_at);
    cJSON *jb = cJSON_AddObjectToObject(root, "backends");
    for (int l = 0; l < REPORT_LEGS; l++)
        add_string_or_null(jb, leg_names[l], r->backends[l]);
    cJSON_AddBoolToObject(root, "noise_subtraction", r->noise_subtraction);
    cJSON *jt = cJSON_AddObjectToObject(root, "thresholds");
    cJSON_AddNumberToObject(jt, "relative", r->thresholds.relative);
    cJSON_AddNumberToObject(jt, "absolute", r->thresholds.absolute);
    cJSON_AddNumberToObject(jt, "latency_factor", r->thresholds.latency_factor);
    cJSON_AddNumberToObject(jt, "latency_min_ms", r->thresholds.latency_min_ms);
    cJSON_AddNumberToObject(jt, "min_compared", (double)r->thresholds.min_compared);
    cJSON *jh = cJSON_AddObjectToObject(root, "histogram");
    cJSON_AddStringToObject(jh, "unit", "us");
    cJSON_AddNumberToObject(jh, "growth", REGRESS_GROWTH);
    cJSON *jtot = cJSON_AddObjectToObject(root, "totals");
    cJSON_AddNumberToObject(jtot, "received", (double)r->received);
    cJSON_AddNumberToObject(jtot, "sampled", (double)r->sampled);
    cJSON_AddNumberToObject(jtot, "compared", (double)r->compared);
    add_skipped(jtot, r->skipped);
    cJSON *jeps = cJSON_AddArrayToObject(root, "endpoints");
    for (size_t i = 0; i < r->nendpoints; i++)
        cJSON_AddItemToArray(jeps, endpoint_json(&r->endpoints[i]));
    cJSON *jr = cJSON_AddArrayToObject(root, "rules");
    for (size_t i = 0; i < r->nrules; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "file", r->rules[i].file);
        cJSON_AddNumberToObject(o, "line", (double)r->rules[i].line);
        cJSON_AddStringToObject(o, "text", r->rules[i].text);
        cJSON_AddNumberToObject(o, "matched", (double)r->rules[i].matched);
        cJSON_AddItemToArray(jr, o);
    }
    cJSON *jregs = cJSON_AddArrayToObject(root, "regressions");
    for (size_t i = 0; i < r->nregressions; i++) {
        const struct report_regression *g = &r->regressions[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "endpoint", g->endpoint);
        if (g->type == REPORT_REG_FIELD) {
            cJSON_AddStringToObject(o, "type", "field");
            cJSON_AddStringToObject(o, "path", g->path);
            cJSON_AddNumberToObject(o, "raw", (double)g->raw);
            cJSON_AddNumberToObject(o, "noise", (double)g->noise);
            cJSON_AddNumberToObject(o, "compared", (double)g->compared);
            cJSON_AddNumberToObject(o, "relative", g->relative);
            cJSON_AddNumberToObject(o, "absolute", g->absolute);
        } else {
            cJSON_AddStringToObject(o, "type", "latency");
            cJSON_AddStringToObject(o, "quantile", g->quantile);
            cJSON_AddNumberToObject(o, "compared", (double)g->compared);
            cJSON_AddNumberToObject(o, "candidate_ms", g->candidate_ms);
            cJSON_AddNumberToObject(o, "baseline_ms", g->baseline_ms);
        }
        cJSON_AddStringToObject(o, "detail", g->detail);
        cJSON_AddItemToArray(jregs, o);
    }
    cJSON_AddStringToObject(root, "verdict", regress_verdict_name(r->verdict));
    char *text = cJSON_Print(root);
    if (!text) {
        fprintf(stderr, "diffd: out of memory writing a report\n");
        abort();
    }
    buf_puts(out, text);
    buf_puts(out, "\n");
    cJSON_free(text);
    cJSON_Delete(root);
}

/* ---- gates ---------------------------------------------------------------------------------- */

void report_gates_default(struct report_gates *g)
{
    g->max_regressions = 0;
    g->fail_on_field = true;
    g->fail_on_latency = true;
    g->allow_insufficient = false;
}

size_t report_counted_regressions(const struct report *r, const struct report_gates *g)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nregressions; i++) {
        enum report_regression_type t = r->regressions[i].type;
        if ((t == REPORT_REG_FIELD && g->fail_on_field) ||
            (t == REPORT_REG_LATENCY && g->fail_on_latency))
            n++;
    }
    return n;
}

int report_gate(const struct report *r, const struct report_gates *g, char *why, size_t whylen)
{
    size_t n = report_counted_regressions(r, g);
    if (n > g->max_regressions) {
        snprintf(why, whylen, "%zu regression%s (at most %llu allowed)", n, n == 1 ? "" : "s",
                 (unsigned long long)g->max_regressions);
        return 1;
    }
    if (r->verdict == REGRESS_INSUFFICIENT) {
        snprintf(why, whylen, "insufficient data: no endpoint reached %llu compared trials",
                 (unsigned long long)r->thresholds.min_compared);
        return g->allow_insufficient ? 0 : 1;
    }
    if (n > 0)
        snprintf(why, whylen, "%zu regression%s, within --max-regressions %llu", n,
                 n == 1 ? "" : "s", (unsigned long long)g->max_regressions);
    else if (r->nregressions > 0)
        snprintf(why, whylen, "%zu regression%s, none of a type in --fail-on", r->nregressions,
                 r->nregressions == 1 ? "" : "s");
    else
        snprintf(why, whylen, "no regressions");
    return 0;
}

/* ---- escaping ----------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
            return 0; /* overlong or surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
            return 0;
        return 4;
    }
    return 0;
}

void report_xml_escape(struct buf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        switch (c) {
        case '&':
            buf_puts(out, "&amp;");
            break;
        case '<':
            buf_puts(out, "&lt;");
            break;
        case '>':
            buf_puts(out, "&gt;");
            break;
        case '"':
            buf_puts(out, "&quot;");
            break;
        case '\'':
            buf_puts(out, "&#39;");
            break;
        case '\t':
            buf_puts(out, "&#9;");
            break;
        case '\n':
            /* As a reference so attribute values keep it (XML normalises a raw one). */
            buf_puts(out, "&#10;");
            break;
        default:
            if (c < 0x20 || c == 0x7F) {
                buf_puts(out, "\xEF\xBF\xBD");
                break;
            }
            size_t n = utf8_len(p);
            if (n == 0) {
                buf_puts(out, "\xEF\xBF\xBD");
                break;
            }
            buf_append(out, p, n);
            p += n;
            continue;
        }
        p++;
    }
}

size_t report_endpoint_regressions(const struct report *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nregressions; i++)
        if (strcmp(r->regressions[i].endpoint, name) == 0)
            n++;
    return n;
}
