/* Sample documents: building (with redaction) and per-worker storage. */
#include "samples.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsondiff.h"
#include "normalize.h"
#include "trial-t.h"
#include "util.h"

bool samples_budget_take(struct sample_budget *b)
{
    long used = atomic_load_explicit(&b->used, memory_order_relaxed);
    while (used < b->max) {
        if (atomic_compare_exchange_weak_explicit(&b->used, &used, used + 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
    return false;
}

static void copy_headers(struct headers *dst, const struct headers *src)
{
    for (size_t i = 0; i < src->n; i++)
        headers_add(dst, src->v[i].name, strlen(src->v[i].name), src->v[i].value,
                    strlen(src->v[i].value));
}

static void write_headers(struct buf *b, const struct headers *h)
{
    buf_puts(b, "[");
    for (size_t i = 0; i < h->n; i++) {
        buf_puts(b, i ? ",[" : "[");
        buf_json_string(b, h->v[i].name, strlen(h->v[i].name));
        buf_puts(b, ",");
        buf_json_string(b, h->v[i].value, strlen(h->v[i].value));
        buf_puts(b, "]");
    }
    buf_puts(b, "]");
}

/* "body" as text when it is UTF-8, else "body_base64"; capped. */
static void write_body(struct buf *b, const struct buf *body)
{
    size_t len = body->len < SAMPLES_BODY_CAP ? body->len : SAMPLES_BODY_CAP;
    const char *data = body->data ? body->data : "";
    /* Do not cut a UTF-8 sequence in two. */
    while (len < body->len && len > 0 && ((unsigned char)data[len] & 0xc0) == 0x80)
        len--;
    if (utf8_valid(data, len)) {
        buf_puts(b, "\"body\":");
        buf_json_string(b, data, len);
    } else {
        buf_puts(b, "\"body_base64\":\"");
        buf_base64(b, data, len);
        buf_puts(b, "\"");
    }
    buf_printf(b, ",\"body_bytes\":%zu,\"body_truncated\":%s", body->len,
               len < body->len ? "true" : "false");
}

/* Appends a difference's value, or, past SAMPLES_VALUE_CAP bytes of JSON, a
 * string saying how large it was (a removed subtree can be the whole body). */
static void write_value(struct buf *b, const cJSON *v)
{
    size_t mark = b->len;
    jsondiff_write_value(b, v);
    size_t n = b->len - mark;
    if (n <= SAMPLES_VALUE_CAP)
        return;
    b->len = mark;
    b->data[mark] = '\0';
    buf_printf(b, "\"<value of %zu bytes of JSON, not stored>\"", n);
}

/* The differences of one side, at most SAMPLES_DIFFS_PER_FIELD per field
 * path and SAMPLES_MAX_DIFFS in all: what a person reads, not every element
 * of a 10,000-element array that changed. Returns how many were left out. */
static size_t write_diffs(struct buf *b, const struct jsondiff *d)
{
    struct seen {
        const char *field;
        uint64_t hash;
        size_t n;
    } *seen = NULL;
    size_t nseen = 0, cap = 0, listed = 0, left_out = 0;
    buf_puts(b, "[");
    size_t n = d ? jsondiff_count(d) : 0;
    for (size_t i = 0; i < n; i++) {
        const struct jsondiff_entry *e = jsondiff_get(d, i);
        uint64_t h = hash64(e->field, strlen(e->field));
        size_t k = 0;
        while (k < nseen && (seen[k].hash != h || strcmp(seen[k].field, e->field) != 0))
            k++;
        if (k == nseen) {
            if (nseen == cap) {
                cap = cap ? cap * 2 : 16;
                seen = xrealloc(seen, cap * sizeof(*seen));
            }
            seen[nseen++] = (struct seen){e->field, h, 0};
        }
        if (seen[k].n >= SAMPLES_DIFFS_PER_FIELD || listed >= SAMPLES_MAX_DIFFS) {
            left_out++;
            continue;
        }
        seen[k].n++;
        buf_puts(b, listed++ ? ",{\"path\":" : "{\"path\":");
        buf_json_string(b, e->path, strlen(e->path));
        buf_puts(b, ",\"field\":");
        buf_json_string(b, e->field, strlen(e->field));
        buf_printf(b, ",\"kind\":\"%s\"", jsondiff_kind_name(e->kind));
        if (e->kind == JSONDIFF_LENGTH)
            buf_printf(b, ",\"left_length\":%zu,\"right_length\":%zu", e->left_len, e->right_len);
        if (e->kind == JSONDIFF_ERROR)
            buf_printf(b, ",\"left\":\"%s\",\"right\":\"%s\"", leg_error_name(e->left_error),
                       leg_error_name(e->right_error));
        const cJSON *sides[2] = {e->left, e->right};
        const char *names[2] = {"left", "right"};
        for (int s = 0; s < 2 && e->kind != JSONDIFF_ERROR; s++) {
            if (!sides[s])
                continue;
            buf_printf(b, ",\"%s\":", names[s]);
            if (e->redacted)
                buf_puts(b, "\"" NORMALIZE_REDACTED "\"");
            else
                write_value(b, sides[s]);
        }
        buf_puts(b, "}");
    }
    buf_puts(b, "]");
    free(seen);
    return left_out;
}

char *samples_build(const struct trial *t, const struct rules_view *view,
                    const struct jsondiff *raw, const struct jsondiff *noise, size_t max_body)
{
    struct buf b = {0};
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_puts(&b, "{\"id\":");
    buf_json_string(&b, t->id, strlen(t->id));
    buf_puts(&b, ",\"endpoint\":");
    buf_json_string(&b, t->route.name, strlen(t->route.name));
    buf_printf(&b, ",\"time\":\"%s\",\"request\":{\"method\":", when);
    buf_json_string(&b, t->req.method, strlen(t->req.method));
    buf_puts(&b, ",\"target\":");
    buf_json_string(&b, t->req.target, strlen(t->req.target));

    /* The request goes through the same redaction as a response: its
     * headers by redact-header, a JSON body by redact paths. */
    struct http_response req = {0};
    copy_headers(&req.headers, &t->req.headers);
    buf_append(&req.body, t->req.body.data ? t->req.body.data : "", t->req.body.len);
    normalize_redact(view, &req, max_body);
    buf_puts(&b, ",\"headers\":");
    write_headers(&b, &req.headers);
    buf_puts(&b, ",");
    write_body(&b, &req.body);
    http_response_free(&req);
    buf_puts(&b, "},\"responses\":{");

    bool first = true;
    for (int r = 0; r < ROLE_COUNT; r++) {
        const struct trial_leg *l = &t->legs[r];
        if (!l->active)
            continue;
        const struct http_response *src = &l->resp;
        buf_printf(&b, "%s\"%s\":{\"status\":%d,\"latency_ms\":%.3f,\"error\":", first ? "" : ",",
                   role_name(r), src->status, src->latency_us / 1000.0);
        first = false;
        if (src->error == LEG_OK) {
            buf_puts(&b, "null");
        } else {
            const char *msg = src->error_msg ? src->error_msg : leg_error_name(src->error);
            buf_json_string(&b, msg, strlen(msg));
        }
        struct http_response copy = {0};
        copy_headers(&copy.headers, &src->headers);
        buf_append(&copy.body, src->body.data ? src->body.data : "", src->body.len);
        normalize_redact(view, &copy, max_body);
        buf_puts(&b, ",\"headers\":");
        write_headers(&b, &copy.headers);
        buf_puts(&b, ",");
        write_body(&b, &copy.body);
        http_response_free(&copy);
        buf_puts(&b, "}");
    }
    buf_puts(&b, "},\"differences\":{\"raw\":");
    size_t raw_out = write_diffs(&b, raw);
    buf_puts(&b, ",\"noise\":");
    size_t noise_out = write_diffs(&b, noise);
    buf_printf(&b, ",\"not_listed\":{\"raw\":%zu,\"noise\":%zu}}}", raw_out, noise_out);
    return buf_steal(&b);
}

void samples_put(struct sample_store *s, const char *id, const char *endpoint, char *json)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n].id = xstrdup(id);
    s->v[s->n].endpoint = xstrdup(endpoint);
    s->v[s->n].json = json;
    s->n++;
}

const struct sample *samples_get(const struct sample_store *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].id, id) == 0)
            return &s->v[i];
    return NULL;
}

void samples_copy_into(struct sample_store *dst, const struct sample_store *src)
{
    for (size_t i = 0; i < src->n; i++)
        samples_put(dst, src->v[i].id, src->v[i].endpoint, xstrdup(src->v[i].json));
}

void samples_clear(struct sample_store *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].id);
        free(s->v[i].endpoint);
        free(s->v[i].json);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}
