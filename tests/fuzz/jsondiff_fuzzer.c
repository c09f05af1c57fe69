/* Fuzz target: normalization and the diff engine. The input holds two bodies
 * separated by a line "===" (or is cut in half). Both go through
 * normalize_response() and jsondiff_responses() with a fixed rule set; when
 * both are JSON, the RFC 6902 patch of a rule-less diff must turn the left
 * tree into one with no difference from the right tree. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsondiff.h"
#include "normalize.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rules_text[] = "[*]\n"
                                 "ignore $..ts $.meta['request id']\n"
                                 "replace $..id /[0-9a-f]{8}-[0-9a-f-]{27}/ UUID\n"
                                 "tolerance $..price 1%\n"
                                 "tolerance $.n 0.5\n"
                                 "unordered $..tags\n"
                                 "unordered $.items by id\n"
                                 "redact $..secret\n"
                                 "ignore-header date\n";

static bool has_duplicate_keys(const cJSON *v)
{
    for (const cJSON *c = v->child; c; c = c->next) {
        if (cJSON_IsObject(v))
            for (const cJSON *d = c->next; d; d = d->next)
                if (c->string && d->string && strcmp(c->string, d->string) == 0)
                    return true;
        if (has_duplicate_keys(c))
            return true;
    }
    return false;
}

static size_t depth(const cJSON *v)
{
    size_t max = 0;
    for (const cJSON *c = v->child; c; c = c->next) {
        size_t d = depth(c);
        if (d > max)
            max = d;
    }
    return max + 1;
}

static void check_patch(struct jsondiff *d, const cJSON *a, const cJSON *b)
{
    if (has_duplicate_keys(a) || has_duplicate_keys(b))
        return; /* a pointer cannot tell duplicates apart */
    if (depth(a) > 990 || depth(b) > 990)
        return; /* the patch (two levels more) would pass cJSON's nesting limit */
    jsondiff_trees(d, NULL, a, b);
    struct buf out = {0};
    jsondiff_write_patch(d, &out);
    cJSON *patch = cJSON_Parse(out.data);
    if (!patch)
        abort();
    cJSON *doc = cJSON_Duplicate(a, true);
    char err[256];
    if (jsondiff_apply_patch(&doc, patch, err, sizeof(err)) != 0)
        abort();
    if (jsondiff_trees(d, NULL, doc, b) != 0)
        abort();
    cJSON_Delete(doc);
    cJSON_Delete(patch);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ruleset *rs;
    if (!rs) {
        rs = rules_new();
        if (rules_add_text(rs, "fuzz.rules", rules_text, sizeof(rules_text) - 1, NULL, 0) != 0 ||
            rules_finish(rs, NULL, 0) != 0)
            abort();
    }
    const char *s = (const char *)data;
    const char *sep = memmem(s, size, "\n===\n", 5);
    size_t llen = sep ? (size_t)(sep - s) : size / 2;
    const char *r = sep ? sep + 5 : s + llen;
    size_t rlen = size - (size_t)(r - s);

    struct http_response resp[2];
    memset(resp, 0, sizeof(resp));
    buf_append(&resp[0].body, s, llen);
    buf_append(&resp[1].body, r, rlen);
    resp[0].status = resp[1].status = 200;
    headers_add(&resp[0].headers, "Date", 4, "a", 1);
    headers_add(&resp[1].headers, "Date", 4, "b", 1);
    struct rules_view view;
    rules_view_for_endpoint(rs, "GET /x", &view);
    struct normalize_opts opts = {.max_body = 1 << 16};
    struct norm_response n[2];
    normalize_response(&view, &resp[0], &opts, &n[0]);
    normalize_response(&view, &resp[1], &opts, &n[1]);
    struct jsondiff *d = jsondiff_new();
    size_t count = jsondiff_responses(d, &view, &n[0], &n[1]);
    struct buf out = {0};
    jsondiff_write_lines(d, &out);
    jsondiff_write_patch(d, &out);
    for (size_t i = 0; i < count; i++) {
        const struct jsondiff_entry *e = jsondiff_get(d, i);
        if (!e->path || !e->field || strlen(e->field) > strlen(e->path) + 3 * 64 * 1024)
            abort();
    }
    /* A response always equals itself. */
    if (jsondiff_responses(d, &view, &n[0], &n[0]) != 0)
        abort();
    if (n[0].body_kind == NORM_BODY_JSON && n[1].body_kind == NORM_BODY_JSON)
        check_patch(d, n[0].body, n[1].body);
    normalize_redact(&view, &resp[0], 1 << 16);
    buf_free(&out);
    jsondiff_free(d);
    normalize_free(&n[0]);
    normalize_free(&n[1]);
    http_response_free(&resp[0]);
    http_response_free(&resp[1]);
    return 0;
}
