/* Normalization of a response into the comparable form of DESIGN §5, and its
 * redaction for storage.
 *
 * Rules are applied in one walk over the JSON tree: each `ignore`/`replace`
 * JSONPath is an NFA whose state set (a 64-bit mask, see jsonpath.h) is
 * stepped from parent to child. When every mask is 0 below a node, no rule
 * can match deeper and the walk stops stepping there. Array indices that
 * rules see are the original ones; elements removed by `ignore` shift the
 * later ones (equally on both sides, so comparisons stay aligned). */
#include "normalize.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define NORM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NORM_ASAN 1
#endif
#endif
#ifdef NORM_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* ---- the body arena (normalize.h) ----------------------------------------------
 * Chunks from malloc(), newest first; allocations are bumped in 16-byte steps.
 * The first chunk is sized from the body (a parsed JSON body takes about eight
 * times its length in nodes and strings), each next one twice the previous.
 * Under AddressSanitizer every allocation is followed by a poisoned red zone and
 * the unused rest of a chunk stays poisoned, so an overflow inside the arena is
 * still caught. */
struct norm_chunk {
    struct norm_chunk *next;
    size_t size, used;
    alignas(16) unsigned char data[];
};

struct arena_ctx {
    struct norm_chunk **head;
    size_t next_size;
};

#define ARENA_MIN ((size_t)4 << 10)
#define ARENA_FIRST_MAX ((size_t)1 << 20)
#define ARENA_GROW_MAX ((size_t)64 << 20)
#ifdef NORM_ASAN
#define ARENA_REDZONE 16
#else
#define ARENA_REDZONE 0
#endif

static _Thread_local struct arena_ctx *arena_cur;

static void *hook_malloc(size_t n)
{
    struct arena_ctx *a = arena_cur;
    if (!a)
        return malloc(n);
    size_t need = ((n ? n : 1) + 15) / 16 * 16 + ARENA_REDZONE;
    struct norm_chunk *c = *a->head;
    if (!c || c->size - c->used < need) {
        size_t size = a->next_size > need ? a->next_size : need;
        c = malloc(sizeof(*c) + size);
        if (!c)
            return NULL; /* cJSON fails the parse */
        c->size = size;
        c->used = 0;
        c->next = *a->head;
        *a->head = c;
        a->next_size = size < ARENA_GROW_MAX / 2 ? size * 2 : ARENA_GROW_MAX;
#ifdef NORM_ASAN
        ASAN_POISON_MEMORY_REGION(c->data, size);
#endif
    }
    void *p = c->data + c->used;
    c->used += need;
#ifdef NORM_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
    return p;
}

static bool arena_owns(const struct arena_ctx *a, const void *p)
{
    for (const struct norm_chunk *c = *a->head; c; c = c->next)
        if ((const unsigned char *)p >= c->data && (const unsigned char *)p < c->data + c->size)
            return true;
    return false;
}

/* Inside the arena a free is a no-op: the chunks go at normalize_free(). */
static void hook_free(void *p)
{
    struct arena_ctx *a = arena_cur;
    if (p && a && arena_owns(a, p))
        return;
    free(p);
}

static void arena_release(struct norm_chunk *c)
{
    while (c) {
        struct norm_chunk *next = c->next;
#ifdef NORM_ASAN
        ASAN_UNPOISON_MEMORY_REGION(c->data, c->size);
#endif
        free(c);
        c = next;
    }
}

void normalize_install_hooks(void)
{
    cJSON_Hooks hooks = {hook_malloc, hook_free};
    cJSON_InitHooks(&hooks);
}

__attribute__((constructor)) static void install_hooks_at_start(void)
{
    normalize_install_hooks();
}

/* One JSONPath-bearing rule argument that applies to bodies. */
struct prule {
    const struct jsonpath *path;
    const struct rule *rule;
};

#define WALK_STACK_RULES 16
#define WALK_STACK_MASKS 512

struct walk {
    struct prule *pr;
    size_t k;
    uint64_t *masks; /* masks[depth * k + i]; stack_masks until it outgrows them */
    size_t masks_cap;
    struct buf tmp;
    size_t changed;                /* redact: values masked */
    struct rules_matcher *matcher; /* created at the first replace */
    uint32_t *counts;              /* matches per rule path, added to the counters at the end */
    struct prule stack_pr[WALK_STACK_RULES];
    uint32_t stack_counts[WALK_STACK_RULES];
    uint64_t stack_masks[WALK_STACK_MASKS];
};

/* Points w->pr at room for k rules (on the walk's own stack when few). */
static void walk_init(struct walk *w, size_t k)
{
    w->k = k;
    w->pr = k <= WALK_STACK_RULES ? w->stack_pr : xcalloc(k, sizeof(*w->pr));
    w->counts = k <= WALK_STACK_RULES ? w->stack_counts : xmalloc(k * sizeof(*w->counts));
    memset(w->counts, 0, k * sizeof(*w->counts));
    w->masks = w->stack_masks;
    w->masks_cap = WALK_STACK_MASKS;
    w->changed = 0;
    w->matcher = NULL;
    memset(&w->tmp, 0, sizeof(w->tmp));
}

static const char *media_type(const char *ct, size_t *len)
{
    if (!ct) {
        *len = 0;
        return "";
    }
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = 0;
    while (ct[n] && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t')
        n++;
    *len = n;
    return ct;
}

static bool mt_is(const char *mt, size_t n, const char *want)
{
    size_t w = strlen(want);
    return n == w && ascii_ncasecmp(mt, want, n) == 0;
}

static bool mt_prefix(const char *mt, size_t n, const char *want)
{
    size_t w = strlen(want);
    return n >= w && ascii_ncasecmp(mt, want, w) == 0;
}

static bool mt_suffix(const char *mt, size_t n, const char *want)
{
    size_t w = strlen(want);
    return n >= w && ascii_ncasecmp(mt + n - w, want, w) == 0;
}

static bool is_json_type(const char *mt, size_t n)
{
    return mt_is(mt, n, "application/json") || mt_is(mt, n, "text/json") ||
           mt_suffix(mt, n, "+json");
}

static bool is_binary_type(const char *mt, size_t n)
{
    return mt_prefix(mt, n, "image/") || mt_prefix(mt, n, "audio/") || mt_prefix(mt, n, "video/") ||
           mt_prefix(mt, n, "font/") || mt_is(mt, n, "application/octet-stream") ||
           mt_is(mt, n, "application/pdf") || mt_is(mt, n, "application/zip") ||
           mt_is(mt, n, "application/gzip") || mt_prefix(mt, n, "application/grpc") ||
           mt_is(mt, n, "application/x-protobuf") || mt_is(mt, n, "application/protobuf");
}

/* Valid UTF-8 without NUL bytes: what we treat as text. */
static bool is_text(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x01 && c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3;
        else
            return false;
        if (i + n >= len)
            return false;
        for (size_t k = 1; k <= n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        /* Overlongs and surrogates. */
        if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0) ||
            (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90))
            return false;
        i += n + 1;
    }
    return true;
}

static bool looks_like_json(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    if (i == len)
        return false;
    return strchr("{[\"-0123456789tfn", s[i]) != NULL;
}

int normalize_decode(const char *encoding, const char *data, size_t len, size_t max_body,
                     struct buf *out)
{
    if (!encoding)
        return 0;
    while (*encoding == ' ' || *encoding == '\t')
        encoding++;
    size_t n = strlen(encoding);
    while (n && (encoding[n - 1] == ' ' || encoding[n - 1] == '\t'))
        n--;
    int wbits;
    if (n == 0 || (n == 8 && ascii_ncasecmp(encoding, "identity", 8) == 0))
        return 0;
    if ((n == 4 && ascii_ncasecmp(encoding, "gzip", 4) == 0) ||
        (n == 6 && ascii_ncasecmp(encoding, "x-gzip", 6) == 0))
        wbits = 16 + MAX_WBITS;
    else if (n == 7 && ascii_ncasecmp(encoding, "deflate", 7) == 0)
        wbits = MAX_WBITS;
    else
        return -1;
    if (len == 0)
        return 0;
    buf_reset(out);
    /* "deflate" is meant to be zlib-wrapped, but raw deflate is common: retry raw. */
    for (int attempt = 0; attempt < 2; attempt++) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (inflateInit2(&z, attempt ? -MAX_WBITS : wbits) != Z_OK)
            return -1;
        z.next_in = (Bytef *)(uintptr_t)data;
        z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
        int rc = Z_OK;
        buf_reset(out);
        while (rc != Z_STREAM_END) {
            buf_reserve(out, 16384);
            size_t room = out->cap - 1 - out->len;
            z.next_out = (Bytef *)out->data + out->len;
            z.avail_out = (uInt)(room > 65536 ? 65536 : room);
            uInt before = z.avail_out;
            rc = inflate(&z, Z_NO_FLUSH);
            out->len += before - z.avail_out;
            out->data[out->len] = '\0';
            if (out->len > max_body) {
                inflateEnd(&z);
                return -2;
            }
            if (rc == Z_STREAM_END && wbits > MAX_WBITS && z.avail_in > 0) {
                /* Concatenated gzip members. */
                if (inflateReset(&z) != Z_OK)
                    break;
                rc = Z_OK;
                continue;
            }
            if (rc == Z_BUF_ERROR && z.avail_in == 0)
                break; /* truncated stream */
            if (rc != Z_OK && rc != Z_STREAM_END)
                break;
        }
        inflateEnd(&z);
        if (rc == Z_STREAM_END)
            return 1;
        if (wbits != MAX_WBITS || attempt == 1)
            break;
    }
    buf_reset(out);
    return -1;
}

static void describe_binary(struct buf *b, const char *what, const char *data, size_t len)
{
    buf_reset(b);
    buf_printf(b, "<%s %zu bytes hash %016llx>", what, len, (unsigned long long)hash64(data, len));
}

/* Collects the rule arguments of the given kind and target from a view. */
static size_t collect(const struct rules_view *view, enum rule_kind kind, enum rule_target target,
                      struct prule *out, size_t cap, const struct rule **first)
{
    size_t n = 0;
    if (first)
        *first = NULL;
    if (!view)
        return 0;
    for (size_t s = 0; s < view->nsec; s++) {
        const struct rules_section *sec = view->sec[s];
        for (size_t r = 0; r < sec->nrules; r++) {
            const struct rule *rule = sec->rules[r];
            if (rule->kind != kind)
                continue;
            for (size_t a = 0; a < rule->nargs; a++) {
                if (rule->args[a].target != target)
                    continue;
                if (first && !*first)
                    *first = rule;
                if (out && n < cap) {
                    out[n].path = rule->args[a].path;
                    out[n].rule = rule;
                }
                n++;
            }
        }
    }
    return n;
}

static uint64_t *masks_at(struct walk *w, size_t depth)
{
    size_t need = (depth + 1) * w->k;
    if (need > w->masks_cap) {
        size_t cap = w->masks_cap * 2;
        while (cap < need)
            cap *= 2;
        if (w->masks == w->stack_masks) {
            w->masks = xmalloc(cap * sizeof(uint64_t));
            memcpy(w->masks, w->stack_masks, sizeof(w->stack_masks));
        } else {
            w->masks = xrealloc(w->masks, cap * sizeof(uint64_t));
        }
        w->masks_cap = cap;
    }
    return w->masks + depth * w->k;
}

enum walk_mode { WALK_NORMALIZE, WALK_REDACT };

static void set_string(cJSON *node, const char *s, size_t len)
{
    if (node->valuestring && !(node->type & cJSON_IsReference) &&
        strlen(node->valuestring) >= len) {
        /* Most replacements shorten (a timestamp becomes "<time>"): reuse. */
        memmove(node->valuestring, s, len);
        node->valuestring[len] = '\0';
        return;
    }
    char *v = cJSON_malloc(len + 1);
    memcpy(v, s, len);
    v[len] = '\0';
    cJSON_free(node->valuestring);
    node->valuestring = v;
}

/* Makes node a string node holding s (used to mask any value). */
static void mask_node(cJSON *node)
{
    cJSON_Delete(node->child);
    node->child = NULL;
    if (!(node->type & cJSON_IsReference))
        cJSON_free(node->valuestring);
    node->valuestring = NULL;
    node->type = cJSON_String;
    set_string(node, NORMALIZE_REDACTED, strlen(NORMALIZE_REDACTED));
    node->valueint = 0;
    node->valuedouble = 0;
}

/* Applies matching rules to one node whose masks are at depth; returns true
 * when the node must be removed. */
static bool visit(struct walk *w, cJSON *node, size_t depth, enum walk_mode mode)
{
    uint64_t *m = masks_at(w, depth);
    bool active = false;
    for (size_t i = 0; i < w->k; i++) {
        if (!m[i])
            continue;
        active = true;
        if (!jsonpath_state_matches(w->pr[i].path, m[i]))
            continue;
        const struct rule *r = w->pr[i].rule;
        if (mode == WALK_REDACT) {
            w->counts[i]++;
            mask_node(node);
            w->changed++;
            return false;
        }
        if (r->kind == RULE_IGNORE) {
            w->counts[i]++;
            return true;
        }
        if (r->kind == RULE_REPLACE && (node->type & 0xff) == cJSON_String && node->valuestring) {
            const char *s = node->valuestring;
            if (!w->matcher)
                w->matcher = rules_matcher_new();
            if (rules_replace(r, s, strlen(s), &w->tmp, w->matcher) == 1) {
                w->counts[i]++; /* a replace counts when it changed something */
                set_string(node, w->tmp.data, w->tmp.len);
            }
        }
    }
    int type = node->type & 0xff;
    if (!active || (type != cJSON_Array && type != cJSON_Object))
        return false;
    masks_at(w, depth + 1); /* room for the children's masks, once */
    bool array = type == cJSON_Array;
    size_t index = 0;
    cJSON *c = node->child;
    while (c) {
        cJSON *next = c->next;
        struct jsonpath_elem e;
        if (array) {
            e = (struct jsonpath_elem){.index = index, .is_index = true};
        } else {
            const char *name = c->string ? c->string : "";
            e = (struct jsonpath_elem){.name = name, .len = strlen(name)};
        }
        /* Pointers again after each child: a deeper visit may move the masks. */
        const uint64_t *pm = w->masks + depth * w->k;
        uint64_t *cm = w->masks + (depth + 1) * w->k;
        bool child_active = false;
        for (size_t i = 0; i < w->k; i++) {
            cm[i] = pm[i] ? jsonpath_step(w->pr[i].path, pm[i], &e) : 0;
            child_active |= cm[i] != 0;
        }
        /* A child no rule can reach, at it or below, is not visited. */
        if (child_active && visit(w, c, depth + 1, mode)) {
            cJSON_DetachItemViaPointer(node, c);
            cJSON_Delete(c);
        }
        c = next;
        index++;
    }
    return false;
}

/* Runs the walk from the root; returns true when the root itself is removed. */
static bool walk_tree(struct walk *w, cJSON *root, enum walk_mode mode)
{
    if (w->k == 0)
        return false;
    uint64_t *m = masks_at(w, 0);
    for (size_t i = 0; i < w->k; i++)
        m[i] = jsonpath_start(w->pr[i].path);
    return visit(w, root, 0, mode);
}

static void walk_free(struct walk *w)
{
    /* Counters are shared by all threads: one atomic add per rule and walk. */
    for (size_t i = 0; i < w->k; i++)
        if (w->counts[i])
            rules_count(w->pr[i].rule, w->counts[i]);
    if (w->counts != w->stack_counts)
        free(w->counts);
    if (w->pr != w->stack_pr)
        free(w->pr);
    if (w->masks != w->stack_masks)
        free(w->masks);
    buf_free(&w->tmp);
    rules_matcher_free(w->matcher);
}

static bool header_ruled(const struct rules_view *view, enum rule_kind kind, const char *name,
                         bool count)
{
    if (!view)
        return false;
    for (size_t s = 0; s < view->nsec; s++) {
        const struct rules_section *sec = view->sec[s];
        for (size_t r = 0; r < sec->nrules; r++) {
            const struct rule *rule = sec->rules[r];
            bool header_kind = rule->kind == kind;
            bool ignore_pseudo = kind == RULE_IGNORE_HEADER && rule->kind == RULE_IGNORE;
            if (!header_kind && !ignore_pseudo)
                continue;
            for (size_t a = 0; a < rule->nargs; a++)
                if (rule->args[a].target == RULE_TARGET_HEADER &&
                    strcmp(rule->args[a].name, name) == 0) {
                    if (count)
                        rules_count(rule, 1);
                    return true;
                }
        }
    }
    return false;
}

static int lower_c(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Header rules of a view (ignore-header, ignore header.NAME, replace
 * header.NAME), gathered once per response. */
struct header_rule {
    const char *name;
    const struct rule *rule;
    uint32_t count; /* matches in this response */
};

struct header_rules {
    struct header_rule *v;
    size_t n, cap;
    struct header_rule stack[32];
};

static void header_rules_collect(const struct rules_view *view, struct header_rules *hr)
{
    hr->v = hr->stack;
    hr->n = 0;
    hr->cap = sizeof(hr->stack) / sizeof(hr->stack[0]);
    if (!view)
        return;
    for (size_t s = 0; s < view->nsec; s++) {
        const struct rules_section *sec = view->sec[s];
        for (size_t r = 0; r < sec->nrules; r++) {
            const struct rule *rule = sec->rules[r];
            if (rule->kind != RULE_IGNORE_HEADER && rule->kind != RULE_IGNORE &&
                rule->kind != RULE_REPLACE)
                continue;
            for (size_t a = 0; a < rule->nargs; a++) {
                if (rule->args[a].target != RULE_TARGET_HEADER)
                    continue;
                if (hr->n == hr->cap) {
                    struct header_rule *v = xmalloc(hr->cap * 2 * sizeof(*v));
                    memcpy(v, hr->v, hr->n * sizeof(*v));
                    if (hr->v != hr->stack)
                        free(hr->v);
                    hr->v = v;
                    hr->cap *= 2;
                }
                hr->v[hr->n++] = (struct header_rule){rule->args[a].name, rule, 0};
            }
        }
    }
}

static void header_rules_free(struct header_rules *hr)
{
    for (size_t i = 0; i < hr->n; i++)
        if (hr->v[i].count)
            rules_count(hr->v[i].rule, hr->v[i].count);
    if (hr->v != hr->stack)
        free(hr->v);
}

/* Takes a lowercase name. */
static bool dropped_header(const char *lname)
{
    /* Every hop-by-hop name and content-length start with one of these. */
    char c = lname[0];
    if (c != 'c' && c != 'k' && c != 'p' && c != 't' && c != 'u')
        return false;
    return strcmp(lname, "content-length") == 0 || http_is_hop_by_hop(lname);
}

/* Status and headers. Names are lowercased, sorted and merged (repeated
 * headers joined with ", " in arrival order); hop-by-hop headers and
 * Content-Length are dropped, then ignore-header and replace header.NAME
 * apply. All strings go to one block and all nodes to another, so a response
 * costs a handful of allocations however many headers it has. The raw
 * Content-Type and Content-Encoding (first of each) are returned for the body. */
static void normalize_head(const struct rules_view *view, const struct http_response *resp,
                           bool keep_status, struct norm_response *out, const char **ctype,
                           const char **cenc)
{
    const struct headers *h = &resp->headers;
    size_t stack_idx[64], stack_lo[64];
    size_t *idx = h->n <= 64 ? stack_idx : xmalloc(h->n * sizeof(*idx));
    size_t *lo = h->n <= 64 ? stack_lo : xmalloc(h->n * sizeof(*lo)); /* lowercase name offsets */
    size_t total = 1;
    for (size_t i = 0; i < h->n; i++)
        total += strlen(h->v[i].name) + strlen(h->v[i].value) + 4;
    struct buf str = {0};
    struct buf tmp = {0};
    buf_reserve(&str, total);
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        lo[i] = str.len;
        buf_append(&str, h->v[i].name, strlen(h->v[i].name) + 1);
        char *lname = str.data + lo[i];
        for (char *c = lname; *c; c++)
            *c = (char)lower_c((unsigned char)*c);
        if (!*ctype && strcmp(lname, "content-type") == 0)
            *ctype = h->v[i].value;
        else if (!*cenc && strcmp(lname, "content-encoding") == 0)
            *cenc = h->v[i].value;
        if (dropped_header(lname))
            continue;
        /* Insertion sort by name: stable, so repeated headers keep arrival order. */
        size_t j = n++;
        while (j > 0 && strcmp(str.data + lo[idx[j - 1]], lname) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    struct header_rules hr;
    header_rules_collect(view, &hr);
    size_t stack_off[64][2];
    size_t(*off)[2] = n <= 64 ? stack_off : xmalloc(n * sizeof(*off));
    size_t nout = 0;
    for (size_t i = 0; i < n;) {
        size_t name_off = lo[idx[i]];
        size_t j = i + 1;
        while (j < n && strcmp(str.data + lo[idx[j]], str.data + name_off) == 0)
            j++;
        bool ignored = false;
        for (size_t k = 0; k < hr.n && !ignored; k++)
            if (hr.v[k].rule->kind != RULE_REPLACE &&
                strcmp(hr.v[k].name, str.data + name_off) == 0) {
                hr.v[k].count++;
                ignored = true;
            }
        if (ignored) {
            i = j;
            continue;
        }
        size_t value_off = str.len;
        for (size_t k = i; k < j; k++) {
            if (k > i)
                buf_append(&str, ", ", 2);
            buf_puts(&str, h->v[idx[k]].value);
        }
        buf_append(&str, "", 1);
        /* replace header.NAME: the result goes after the original value. */
        for (size_t k = 0; k < hr.n; k++) {
            if (hr.v[k].rule->kind != RULE_REPLACE || strcmp(hr.v[k].name, str.data + name_off))
                continue;
            const char *v = str.data + value_off;
            if (rules_replace(hr.v[k].rule, v, strlen(v), &tmp, NULL) == 1) {
                hr.v[k].count++;
                value_off = str.len;
                buf_append(&str, tmp.data, tmp.len + 1);
            }
        }
        off[nout][0] = name_off;
        off[nout][1] = value_off;
        nout++;
        i = j;
    }
    out->nodes_ = xcalloc(nout + 1, sizeof(cJSON));
    out->headers = xcalloc(nout ? nout : 1, sizeof(*out->headers));
    out->strings_ = str.data ? buf_steal(&str) : xstrdup("");
    for (size_t i = 0; i < nout; i++) {
        cJSON *node = &out->nodes_[i];
        node->type = cJSON_String | cJSON_IsReference;
        node->valuestring = out->strings_ + off[i][1];
        out->headers[i].name = out->strings_ + off[i][0];
        out->headers[i].value = node;
    }
    out->nheaders = nout;
    if (keep_status) {
        cJSON *st = &out->nodes_[nout];
        st->type = cJSON_Number;
        st->valuedouble = resp->status;
        st->valueint = resp->status;
        out->status = st;
    }
    header_rules_free(&hr);
    buf_free(&tmp);
    if (off != stack_off)
        free(off);
    if (idx != stack_idx)
        free(idx);
    if (lo != stack_lo)
        free(lo);
}

static void replace_string_node(const struct rules_view *view, enum rule_target target, cJSON *node,
                                struct buf *tmp)
{
    if (!view || !node || !node->valuestring)
        return;
    for (size_t s = 0; s < view->nsec; s++) {
        const struct rules_section *sec = view->sec[s];
        for (size_t r = 0; r < sec->nrules; r++) {
            const struct rule *rule = sec->rules[r];
            if (rule->kind != RULE_REPLACE || rule->args[0].target != target)
                continue;
            const char *v = node->valuestring;
            if (rules_replace(rule, v, strlen(v), tmp, NULL) == 1) {
                rules_count(rule, 1);
                set_string(node, tmp->data, tmp->len);
            }
        }
    }
}

static bool target_ruled(const struct rules_view *view, enum rule_kind kind,
                         enum rule_target target)
{
    const struct rule *first;
    collect(view, kind, target, NULL, 0, &first);
    if (first)
        rules_count(first, 1);
    return first != NULL;
}

static void normalize_body(const struct rules_view *view, const struct http_response *resp,
                           size_t max_body, const char *ctype, const char *cenc,
                           struct norm_response *out)
{
    const char *data = resp->body.data ? resp->body.data : "";
    size_t len = resp->body.len;
    struct buf decoded = {0};
    struct buf tmp = {0};
    size_t first = len < ARENA_FIRST_MAX / 8 ? len * 8 : ARENA_FIRST_MAX;
    struct arena_ctx arena = {&out->arena_, first > ARENA_MIN ? first : ARENA_MIN};
    arena_cur = &arena;
    out->body_kind = NORM_BODY_NONE;
    if (len == 0 || target_ruled(view, RULE_IGNORE, RULE_TARGET_BODY))
        goto out;
    int dec = normalize_decode(cenc, data, len, max_body, &decoded);
    if (dec == 1) {
        data = decoded.data;
        len = decoded.len;
    } else if (dec < 0) {
        out->oversized = dec == -2;
        out->undecodable = dec == -1;
        describe_binary(&tmp, dec == -2 ? "oversized encoded" : "undecodable", data, len);
        out->body_len = len;
        out->body_kind = NORM_BODY_BINARY;
        out->body = cJSON_CreateString(tmp.data);
        goto out;
    }
    out->body_len = len;
    if (len == 0)
        goto out;
    if (len > max_body) {
        out->oversized = true;
        describe_binary(&tmp, "oversized", data, len);
        out->body_kind = NORM_BODY_BINARY;
        out->body = cJSON_CreateString(tmp.data);
        goto out;
    }
    size_t mtlen;
    const char *mt = media_type(ctype, &mtlen);
    bool json_type = is_json_type(mt, mtlen);
    if (json_type || (!is_binary_type(mt, mtlen) && looks_like_json(data, len))) {
        cJSON *tree = cJSON_ParseWithLength(data, len);
        if (tree) {
            out->body_kind = NORM_BODY_JSON;
            out->body = tree;
            size_t k = collect(view, RULE_IGNORE, RULE_TARGET_JSON, NULL, 0, NULL) +
                       collect(view, RULE_REPLACE, RULE_TARGET_JSON, NULL, 0, NULL);
            if (k) {
                struct walk w;
                walk_init(&w, k);
                /* Both kinds in one walk, in the view's order within each kind. */
                size_t a = collect(view, RULE_IGNORE, RULE_TARGET_JSON, w.pr, k, NULL);
                collect(view, RULE_REPLACE, RULE_TARGET_JSON, w.pr + a, k - a, NULL);
                if (walk_tree(&w, tree, WALK_NORMALIZE)) {
                    cJSON_Delete(tree);
                    out->body = NULL;
                    out->body_kind = NORM_BODY_NONE;
                }
                walk_free(&w);
            }
            goto out;
        }
    }
    if (!is_binary_type(mt, mtlen) && is_text((const unsigned char *)data, len)) {
        out->body_kind = NORM_BODY_TEXT;
        out->body = cJSON_CreateString(data);
        replace_string_node(view, RULE_TARGET_BODY, out->body, &tmp);
        goto out;
    }
    describe_binary(&tmp, "binary", data, len);
    out->body_kind = NORM_BODY_BINARY;
    out->body = cJSON_CreateString(tmp.data);
out:
    arena_cur = NULL;
    buf_free(&decoded);
    buf_free(&tmp);
}

void normalize_response(const struct rules_view *view, const struct http_response *resp,
                        const struct normalize_opts *opts, struct norm_response *out)
{
    size_t max_body = opts && opts->max_body ? opts->max_body : NORMALIZE_DEFAULT_MAX_BODY;
    memset(out, 0, sizeof(*out));
    out->error = resp->error;
    if (resp->error != LEG_OK)
        return;
    const char *ctype = NULL, *cenc = NULL;
    normalize_head(view, resp, !target_ruled(view, RULE_IGNORE, RULE_TARGET_STATUS), out, &ctype,
                   &cenc);
    normalize_body(view, resp, max_body, ctype, cenc, out);
}

void normalize_free(struct norm_response *n)
{
    free(n->nodes_);
    free(n->strings_);
    free(n->headers);
    if (n->arena_)
        arena_release(n->arena_); /* the whole tree */
    else
        cJSON_Delete(n->body); /* made under other hooks (normalize_install_hooks()) */
    memset(n, 0, sizeof(*n));
}

static void set_content_length(struct http_response *resp)
{
    if (headers_remove(&resp->headers, "content-length") == 0)
        return;
    char num[32];
    int n = snprintf(num, sizeof(num), "%zu", resp->body.len);
    headers_add(&resp->headers, "Content-Length", 14, num, (size_t)n);
}

size_t normalize_redact(const struct rules_view *view, struct http_response *resp, size_t max_body)
{
    size_t masked = 0;
    if (!max_body)
        max_body = NORMALIZE_DEFAULT_MAX_BODY;
    for (size_t i = 0; i < resp->headers.n; i++) {
        struct header *h = &resp->headers.v[i];
        char *lname = xstrdup(h->name);
        for (char *p = lname; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        if (header_ruled(view, RULE_REDACT_HEADER, lname, true)) {
            free(h->value);
            h->value = xstrdup(NORMALIZE_REDACTED);
            masked++;
        }
        free(lname);
    }
    if (resp->body.len == 0)
        return masked;
    if (target_ruled(view, RULE_REDACT, RULE_TARGET_BODY)) {
        buf_reset(&resp->body);
        buf_puts(&resp->body, NORMALIZE_REDACTED);
        headers_remove(&resp->headers, "content-encoding");
        set_content_length(resp);
        return masked + 1;
    }
    size_t k = collect(view, RULE_REDACT, RULE_TARGET_JSON, NULL, 0, NULL);
    if (k == 0)
        return masked;
    struct buf decoded = {0};
    const char *data = resp->body.data;
    size_t len = resp->body.len;
    int dec = normalize_decode(headers_get(&resp->headers, "content-encoding"), data, len, max_body,
                               &decoded);
    if (dec == 1) {
        data = decoded.data;
        len = decoded.len;
    }
    cJSON *tree = dec >= 0 ? cJSON_ParseWithLength(data, len) : NULL;
    if (tree) {
        struct walk w;
        walk_init(&w, k);
        collect(view, RULE_REDACT, RULE_TARGET_JSON, w.pr, k, NULL);
        walk_tree(&w, tree, WALK_REDACT);
        if (w.changed) {
            char *text = cJSON_PrintUnformatted(tree);
            buf_reset(&resp->body);
            buf_puts(&resp->body, text);
            cJSON_free(text);
            headers_remove(&resp->headers, "content-encoding");
            set_content_length(resp);
            masked += w.changed;
        }
        walk_free(&w);
        cJSON_Delete(tree);
    }
    buf_free(&decoded);
    return masked;
}
