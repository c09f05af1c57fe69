/* The diff engine: a recursive walk over two cJSON trees (depth is bounded by
 * cJSON's parse nesting limit of 1000), with rule paths matched incrementally
 * as in normalize.c. Path strings are only built when a difference is
 * emitted; they live in one string buffer per result, reused across calls, so
 * a comparison of equal trees allocates nothing. */
#include "jsondiff.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prule {
    const struct jsonpath *path;
    const struct rule *rule;
};

/* Scratch memory for the walk: blocks that never move, handed out and taken
 * back in LIFO order (mark/release around each array or object that needs
 * room), kept across comparisons so that steady-state diffs do not allocate. */
struct scratch_block {
    struct scratch_block *next;
    size_t cap, used;
    max_align_t data[];
};

struct scratch_mark {
    struct scratch_block *block;
    size_t used;
};

/* Summary of the rule masks at one depth, so that most nodes skip the loops. */
struct level {
    bool live; /* some mask is non-zero: a rule may match here or below */
    bool hit;  /* some rule matches exactly here */
};

struct jsondiff {
    struct scratch_block *first, *cur;
    struct jsondiff_entry *v;
    size_t (*off)[3]; /* path, field, pointer offsets into str (SIZE_MAX: none) */
    size_t n, cap;
    struct buf str;
    struct jsonpath_elem *elems; /* the exact path of the node being compared */
    size_t elems_cap;
    struct prule *pr; /* tolerance, unordered and redact paths of the view */
    size_t k, pr_cap;
    uint32_t *counts;     /* matches per pr entry, added to the rules' counters once per call */
    uint64_t *masks;      /* masks[depth * k + i] */
    size_t masks_cap;     /* in uint64_t */
    struct level *levels; /* per depth: what the masks there say, levels_cap = elems_cap + 1 */
    bool has_json_redact;
};

const char *jsondiff_kind_name(enum jsondiff_kind k)
{
    switch (k) {
    case JSONDIFF_VALUE:
        return "value";
    case JSONDIFF_TYPE:
        return "type";
    case JSONDIFF_MISSING:
        return "missing";
    case JSONDIFF_EXTRA:
        return "extra";
    case JSONDIFF_LENGTH:
        return "length";
    case JSONDIFF_ERROR:
        return "error";
    }
    return "?";
}

struct jsondiff *jsondiff_new(void)
{
    return xcalloc(1, sizeof(struct jsondiff));
}

static void *scratch_alloc(struct jsondiff *d, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct scratch_block *b = d->cur;
    if (b && b->cap - b->used >= size) {
        void *p = (char *)b->data + b->used;
        b->used += size;
        return p;
    }
    struct scratch_block *next = b ? b->next : d->first;
    if (!next || next->cap < size) {
        size_t cap = size > 65536 ? size : 65536;
        struct scratch_block *nb = xmalloc(sizeof(*nb) + cap);
        nb->cap = cap;
        nb->next = next;
        if (b)
            b->next = nb;
        else
            d->first = nb;
        next = nb;
    }
    next->used = size;
    d->cur = next;
    return next->data;
}

static struct scratch_mark scratch_mark(const struct jsondiff *d)
{
    return (struct scratch_mark){d->cur, d->cur ? d->cur->used : 0};
}

static void scratch_release(struct jsondiff *d, struct scratch_mark m)
{
    d->cur = m.block;
    if (m.block)
        m.block->used = m.used;
}

void jsondiff_free(struct jsondiff *d)
{
    if (!d)
        return;
    for (struct scratch_block *b = d->first, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(d->v);
    free(d->off);
    buf_free(&d->str);
    free(d->elems);
    free(d->pr);
    free(d->counts);
    free(d->masks);
    free(d->levels);
    free(d);
}

size_t jsondiff_count(const struct jsondiff *d)
{
    return d->n;
}

const struct jsondiff_entry *jsondiff_get(const struct jsondiff *d, size_t i)
{
    return i < d->n ? &d->v[i] : NULL;
}

static void reset(struct jsondiff *d, const struct rules_view *view)
{
    d->n = 0;
    buf_reset(&d->str);
    d->k = 0;
    d->has_json_redact = false;
    if (!view)
        return;
    for (size_t s = 0; s < view->nsec; s++) {
        const struct rules_section *sec = view->sec[s];
        for (size_t r = 0; r < sec->nrules; r++) {
            const struct rule *rule = sec->rules[r];
            if (rule->kind != RULE_TOLERANCE && rule->kind != RULE_UNORDERED &&
                rule->kind != RULE_REDACT)
                continue;
            for (size_t a = 0; a < rule->nargs; a++) {
                if (rule->args[a].target != RULE_TARGET_JSON)
                    continue;
                if (d->k == d->pr_cap) {
                    d->pr_cap = d->pr_cap ? d->pr_cap * 2 : 8;
                    d->pr = xrealloc(d->pr, d->pr_cap * sizeof(*d->pr));
                    d->counts = xrealloc(d->counts, d->pr_cap * sizeof(*d->counts));
                }
                d->counts[d->k] = 0;
                d->pr[d->k].path = rule->args[a].path;
                d->pr[d->k].rule = rule;
                d->k++;
                if (rule->kind == RULE_REDACT)
                    d->has_json_redact = true;
            }
        }
    }
}

/* Room for the path and the masks of depths 0..depth. */
static void ensure_depth(struct jsondiff *d, size_t depth)
{
    if (depth >= d->elems_cap) {
        size_t cap = d->elems_cap ? d->elems_cap * 2 : 32;
        while (cap <= depth)
            cap *= 2;
        d->elems = xrealloc(d->elems, cap * sizeof(*d->elems));
        d->levels = xrealloc(d->levels, (cap + 1) * sizeof(*d->levels));
        d->elems_cap = cap;
    }
    size_t need = (d->elems_cap + 1) * (d->k ? d->k : 1);
    if (need > d->masks_cap) {
        d->masks = xrealloc(d->masks, need * sizeof(uint64_t));
        d->masks_cap = need;
    }
}

/* Sets elems[depth] and computes the masks of depth + 1 from those of depth
 * (left unwritten when no rule is live at depth: levels[depth + 1] says so). */
static void enter(struct jsondiff *d, size_t depth, const struct jsonpath_elem *e)
{
    if (depth + 1 >= d->elems_cap)
        ensure_depth(d, depth + 1);
    d->elems[depth] = *e;
    struct level *cl = &d->levels[depth + 1];
    cl->live = cl->hit = false;
    if (!d->levels[depth].live)
        return;
    const uint64_t *pm = d->masks + depth * d->k;
    uint64_t *cm = d->masks + (depth + 1) * d->k;
    for (size_t i = 0; i < d->k; i++) {
        cm[i] = pm[i] ? jsonpath_step(d->pr[i].path, pm[i], e) : 0;
        if (cm[i]) {
            cl->live = true;
            cl->hit |= jsonpath_state_matches(d->pr[i].path, cm[i]);
        }
    }
}

static struct jsonpath_elem name_elem(const cJSON *c)
{
    const char *s = c->string ? c->string : "";
    return (struct jsonpath_elem){.name = s, .len = strlen(s)};
}

static struct jsonpath_elem index_elem(size_t i)
{
    return (struct jsonpath_elem){.index = i, .is_index = true};
}

static bool is_container(const cJSON *v)
{
    return v && (cJSON_IsArray(v) || cJSON_IsObject(v));
}

/* Is the node at depth covered by a redact rule (or, for a container, could a
 * redact rule match inside it)? */
static bool redacted_at(const struct jsondiff *d, size_t depth, bool sticky, const cJSON *a,
                        const cJSON *b)
{
    if (sticky)
        return true;
    if (!d->levels[depth].live)
        return false;
    const uint64_t *m = d->masks + depth * d->k;
    bool container = is_container(a) || is_container(b);
    for (size_t i = 0; i < d->k; i++) {
        if (d->pr[i].rule->kind != RULE_REDACT || !m[i])
            continue;
        if (container || jsonpath_state_matches(d->pr[i].path, m[i]))
            return true;
    }
    return false;
}

static struct jsondiff_entry *new_entry(struct jsondiff *d, enum jsondiff_kind kind, const cJSON *a,
                                        const cJSON *b)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
        d->off = xrealloc(d->off, d->cap * sizeof(*d->off));
    }
    struct jsondiff_entry *e = &d->v[d->n];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->left = a;
    e->right = b;
    d->off[d->n][0] = d->off[d->n][1] = d->off[d->n][2] = SIZE_MAX;
    d->n++;
    return e;
}

/* Stores a NUL-terminated string and returns its offset. */
static size_t put_str(struct jsondiff *d, const char *s)
{
    size_t off = d->str.len;
    buf_append(&d->str, s, strlen(s) + 1);
    return off;
}

/* A difference inside the JSON body at the path elems[0..depth). */
static struct jsondiff_entry *emit_body(struct jsondiff *d, enum jsondiff_kind kind, const cJSON *a,
                                        const cJSON *b, size_t depth, bool redacted, bool append)
{
    struct jsondiff_entry *e = new_entry(d, kind, a, b);
    e->redacted = redacted;
    size_t *off = d->off[d->n - 1];
    off[0] = d->str.len;
    buf_append(&d->str, "$", 1);
    for (size_t i = 0; i < depth; i++)
        jsonpath_append_elem(&d->str, &d->elems[i], false);
    buf_append(&d->str, "", 1);
    off[1] = d->str.len;
    buf_append(&d->str, "$", 1);
    for (size_t i = 0; i < depth; i++)
        jsonpath_append_elem(&d->str, &d->elems[i], true);
    buf_append(&d->str, "", 1);
    off[2] = d->str.len;
    for (size_t i = 0; i + (append ? 1 : 0) < depth; i++)
        jsonpath_append_pointer(&d->str, &d->elems[i]);
    if (append)
        buf_append(&d->str, "/-", 2);
    buf_append(&d->str, "", 1);
    return e;
}

static struct jsondiff_entry *emit_field(struct jsondiff *d, enum jsondiff_kind kind,
                                         const char *prefix, const char *name, const cJSON *a,
                                         const cJSON *b, bool pointer)
{
    struct jsondiff_entry *e = new_entry(d, kind, a, b);
    size_t *off = d->off[d->n - 1];
    off[0] = off[1] = d->str.len;
    buf_puts(&d->str, prefix);
    buf_append(&d->str, name, strlen(name) + 1);
    if (pointer)
        off[2] = put_str(d, "");
    return e;
}

static int jtype(const cJSON *v)
{
    int t = v->type & 0xff;
    return t == cJSON_True ? cJSON_False : t;
}

/* Order-independent for object members, order-dependent for arrays. */
static uint64_t canon_hash(const cJSON *v)
{
    switch (jtype(v)) {
    case cJSON_False:
        return v->type & cJSON_True ? 0x9e3779b97f4a7c15ull : 0x7f4a7c159e3779b9ull;
    case cJSON_NULL:
        return 0x2545f4914f6cdd1dull;
    case cJSON_Number: {
        double x = v->valuedouble == 0 ? 0 : v->valuedouble; /* -0 equals 0 */
        return hash64(&x, sizeof(x)) ^ 0x1;
    }
    case cJSON_String:
        return v->valuestring ? hash64(v->valuestring, strlen(v->valuestring)) : 0x3;
    case cJSON_Array: {
        uint64_t h = 0x5bd1e995;
        for (const cJSON *c = v->child; c; c = c->next)
            h = (h ^ canon_hash(c)) * 0x100000001b3ull;
        return h;
    }
    case cJSON_Object: {
        uint64_t h = 0xc2b2ae3d27d4eb4full;
        for (const cJSON *c = v->child; c; c = c->next) {
            const char *k = c->string ? c->string : "";
            h += hash64(k, strlen(k)) * 31 + canon_hash(c);
        }
        return h;
    }
    }
    return 0;
}

static bool deep_equal(const cJSON *a, const cJSON *b)
{
    if (jtype(a) != jtype(b))
        return false;
    switch (jtype(a)) {
    case cJSON_False:
        return (a->type & 0xff) == (b->type & 0xff);
    case cJSON_NULL:
        return true;
    case cJSON_Number:
        return a->valuedouble == b->valuedouble;
    case cJSON_String:
        return strcmp(a->valuestring ? a->valuestring : "", b->valuestring ? b->valuestring : "") ==
               0;
    case cJSON_Array: {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if (!deep_equal(x, y))
                return false;
        return !x && !y;
    }
    case cJSON_Object: {
        size_t na = 0, nb = 0;
        for (const cJSON *x = a->child; x; x = x->next)
            na++;
        for (const cJSON *y = b->child; y; y = y->next)
            nb++;
        if (na != nb)
            return false;
        for (const cJSON *x = a->child; x; x = x->next) {
            const cJSON *y = b->child;
            while (y && strcmp(y->string ? y->string : "", x->string ? x->string : "") != 0)
                y = y->next;
            if (!y || !deep_equal(x, y))
                return false;
        }
        return true;
    }
    }
    return false;
}

static void diff_node(struct jsondiff *d, const cJSON *a, const cJSON *b, size_t depth,
                      bool sticky);

/* A member of b found for a member of a. */
struct keyref {
    const char *key;
    size_t j;
    const cJSON *node;
};

static int cmp_keyref(const void *x, const void *y)
{
    const struct keyref *p = x, *q = y;
    int c = strcmp(p->key, q->key);
    if (c)
        return c;
    return p->j < q->j ? -1 : p->j > q->j;
}

#define LINEAR_SEARCH_MAX 16

static const char *key_of(const cJSON *c)
{
    return c->string ? c->string : "";
}

/* Members of a from a_first on, against members of b from b_first on (the
 * earlier ones are already paired): each left member finds the first unpaired
 * right member with its name, by scanning or, for large objects, through a
 * sorted index. */
static void diff_members(struct jsondiff *d, const cJSON *a_first, const cJSON *b_first,
                         size_t depth, bool sticky)
{
    size_t nb = 0;
    for (const cJSON *c = b_first; c; c = c->next)
        nb++;
    uint64_t small = 0;
    struct scratch_mark mark = scratch_mark(d);
    uint8_t *big = NULL;
    if (nb > 64) {
        big = scratch_alloc(d, nb);
        memset(big, 0, nb);
    }
    struct keyref *index = NULL;
#define MARKED(j) (big ? big[j] : (small >> (j)) & 1)
#define MARK(j) (big ? (void)(big[j] = 1) : (void)(small |= (uint64_t)1 << (j)))
    const cJSON *cursor = b_first;
    size_t ci = 0;
    for (const cJSON *ca = a_first; ca; ca = ca->next) {
        const char *ka = ca->string ? ca->string : "";
        const cJSON *cb = NULL;
        size_t jb = 0;
        if (cursor && !MARKED(ci) && strcmp(cursor->string ? cursor->string : "", ka) == 0) {
            cb = cursor;
            jb = ci;
        } else if (nb <= LINEAR_SEARCH_MAX) {
            size_t j = 0;
            for (const cJSON *c = b_first; c; c = c->next, j++)
                if (!MARKED(j) && strcmp(c->string ? c->string : "", ka) == 0) {
                    cb = c;
                    jb = j;
                    break;
                }
        } else {
            if (!index) {
                index = scratch_alloc(d, nb * sizeof(*index));
                size_t j = 0;
                for (const cJSON *c = b_first; c; c = c->next, j++)
                    index[j] = (struct keyref){c->string ? c->string : "", j, c};
                qsort(index, nb, sizeof(*index), cmp_keyref);
            }
            size_t lo = 0, hi = nb;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(index[mid].key, ka) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (; lo < nb && strcmp(index[lo].key, ka) == 0; lo++)
                if (!MARKED(index[lo].j)) {
                    cb = index[lo].node;
                    jb = index[lo].j;
                    break;
                }
        }
        struct jsonpath_elem e = name_elem(ca);
        enter(d, depth, &e);
        if (cb) {
            MARK(jb);
            cursor = cb->next;
            ci = jb + 1;
            diff_node(d, ca, cb, depth + 1, sticky);
        } else {
            emit_body(d, JSONDIFF_MISSING, ca, NULL, depth + 1,
                      redacted_at(d, depth + 1, sticky, ca, NULL), false);
        }
    }
    size_t j = 0;
    for (const cJSON *cb = b_first; cb; cb = cb->next, j++) {
        if (MARKED(j))
            continue;
        struct jsonpath_elem e = name_elem(cb);
        enter(d, depth, &e);
        emit_body(d, JSONDIFF_EXTRA, NULL, cb, depth + 1,
                  redacted_at(d, depth + 1, sticky, NULL, cb), false);
    }
#undef MARKED
#undef MARK
    scratch_release(d, mark);
}

static void diff_object(struct jsondiff *d, const cJSON *a, const cJSON *b, size_t depth,
                        bool sticky)
{
    /* Members usually come in the same order on both sides: pair them in step
     * until the names part, then search for the rest. */
    const cJSON *ca = a->child, *cb = b->child;
    while (ca && cb && strcmp(key_of(ca), key_of(cb)) == 0) {
        struct jsonpath_elem e = name_elem(ca);
        enter(d, depth, &e);
        diff_node(d, ca, cb, depth + 1, sticky);
        ca = ca->next;
        cb = cb->next;
    }
    if (ca || cb)
        diff_members(d, ca, cb, depth, sticky);
}

static void diff_array(struct jsondiff *d, const cJSON *a, const cJSON *b, size_t depth,
                       bool sticky)
{
    const cJSON *x = a->child, *y = b->child;
    size_t i = 0;
    for (; x && y; x = x->next, y = y->next, i++) {
        struct jsonpath_elem e = index_elem(i);
        enter(d, depth, &e);
        diff_node(d, x, y, depth + 1, sticky);
    }
    if (!x && !y)
        return;
    size_t na = i, nb = i;
    for (; x; x = x->next)
        na++;
    for (; y; y = y->next)
        nb++;
    struct jsondiff_entry *e =
        emit_body(d, JSONDIFF_LENGTH, a, b, depth, redacted_at(d, depth, sticky, a, b), false);
    e->left_len = na;
    e->right_len = nb;
}

/* An element of an unordered array with the hash of its key. Elements
 * without the key (or all, without `by`) are keyed by their whole value. */
struct uel {
    uint64_t h;
    size_t i;
    const cJSON *node;
    const cJSON *key;
    bool whole; /* keyed by the whole value */
    bool paired;
};

static int cmp_uel(const void *x, const void *y)
{
    const struct uel *p = x, *q = y;
    if (p->h != q->h)
        return p->h < q->h ? -1 : 1;
    return p->i < q->i ? -1 : p->i > q->i;
}

static const cJSON *follow_key(const struct jsonpath *key, const cJSON *v)
{
    for (size_t s = 0; v && s < key->nseg; s++) {
        const struct jsonpath_seg *g = &key->seg[s];
        const cJSON *c = v->child;
        if (g->sel == JSONPATH_INDEX) {
            if (!cJSON_IsArray(v))
                return NULL;
            for (size_t k = 0; c && k < g->index; k++)
                c = c->next;
        } else {
            if (!cJSON_IsObject(v))
                return NULL;
            while (c && !(c->string && strlen(c->string) == g->name_len &&
                          memcmp(c->string, g->name, g->name_len) == 0))
                c = c->next;
        }
        v = c;
    }
    return v;
}

static size_t count_children(const cJSON *v)
{
    size_t n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        n++;
    return n;
}

static struct uel *unordered_elems(struct jsondiff *d, const cJSON *arr, const struct jsonpath *key,
                                   size_t cnt, bool hash)
{
    struct uel *v = scratch_alloc(d, (cnt ? cnt : 1) * sizeof(*v));
    size_t i = 0;
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        v[i].i = i;
        v[i].node = c;
        v[i].key = key ? follow_key(key, c) : NULL;
        v[i].whole = v[i].key == NULL;
        v[i].paired = false;
        if (v[i].whole)
            v[i].key = c;
        /* Salted so a key value never pairs with a whole element. */
        v[i].h = hash ? canon_hash(v[i].key) ^ (v[i].whole ? 0x5851f42d4c957f2dull : 0) : 0;
    }
    return v;
}

/* Elements are paired by equal keys (by KEYPATH) or as equal values (multiset).
 * Paired elements keyed by a KEYPATH are then compared field by field. What
 * is left without a partner: elements that had no key pair up in order and
 * are compared (so a changed tag shows as a value difference); keyed ones are
 * missing or extra. */
static void diff_unordered(struct jsondiff *d, const cJSON *a, const cJSON *b, size_t depth,
                           bool sticky, const struct rule *rule)
{
    size_t na = count_children(a), nb = count_children(b);
    /* Small arrays (tags) pair by direct comparison; larger ones by hash. */
    bool hashed = na * nb > 64;
    struct scratch_mark mark = scratch_mark(d);
    struct uel *ea = unordered_elems(d, a, rule->key, na, hashed);
    struct uel *eb = unordered_elems(d, b, rule->key, nb, hashed);
    struct uel **sb = scratch_alloc(d, (nb ? nb : 1) * sizeof(*sb));
    size_t *pair = scratch_alloc(d, (na ? na : 1) * sizeof(*pair)); /* left i -> sorted right */
    /* Sort b by key hash (ties by position) to find partners in O(log n). */
    if (hashed)
        qsort(eb, nb, sizeof(*eb), cmp_uel);
    for (size_t i = 0; i < na; i++) {
        pair[i] = SIZE_MAX;
        if (!hashed) {
            for (size_t j = 0; j < nb; j++) {
                if (eb[j].paired || eb[j].whole != ea[i].whole || !deep_equal(ea[i].key, eb[j].key))
                    continue;
                eb[j].paired = ea[i].paired = true;
                pair[i] = j;
                break;
            }
            continue;
        }
        size_t lo = 0, hi = nb;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (eb[mid].h < ea[i].h)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < nb && eb[lo].h == ea[i].h; lo++) {
            if (eb[lo].paired || eb[lo].whole != ea[i].whole || !deep_equal(ea[i].key, eb[lo].key))
                continue;
            eb[lo].paired = true;
            ea[i].paired = true;
            pair[i] = lo;
            break;
        }
    }
    /* Back to right-side order for the leftovers. */
    for (size_t j = 0; j < nb; j++)
        sb[eb[j].i] = &eb[j];
    for (size_t i = 0; i < na; i++) {
        if (pair[i] == SIZE_MAX || ea[i].whole)
            continue; /* whole-value pairs are equal */
        struct jsonpath_elem e = index_elem(i);
        enter(d, depth, &e);
        diff_node(d, ea[i].node, eb[pair[i]].node, depth + 1, sticky);
    }
    size_t li = 0, rj = 0;
    for (;;) {
        while (li < na && (ea[li].paired || !ea[li].whole))
            li++;
        while (rj < nb && (sb[rj]->paired || !sb[rj]->whole))
            rj++;
        if (li == na || rj == nb)
            break;
        struct jsonpath_elem e = index_elem(li);
        enter(d, depth, &e);
        diff_node(d, ea[li].node, sb[rj]->node, depth + 1, sticky);
        ea[li++].paired = true;
        sb[rj++]->paired = true;
    }
    for (size_t i = 0; i < na; i++) {
        if (ea[i].paired)
            continue;
        struct jsonpath_elem e = index_elem(i);
        enter(d, depth, &e);
        emit_body(d, JSONDIFF_MISSING, ea[i].node, NULL, depth + 1,
                  redacted_at(d, depth + 1, sticky, ea[i].node, NULL), false);
    }
    for (size_t j = 0; j < nb; j++) {
        if (sb[j]->paired)
            continue;
        struct jsonpath_elem e = index_elem(j);
        enter(d, depth, &e);
        emit_body(d, JSONDIFF_EXTRA, NULL, sb[j]->node, depth + 1,
                  redacted_at(d, depth + 1, sticky, NULL, sb[j]->node), true);
    }
    scratch_release(d, mark);
}

static bool within_tolerance(const struct rule *r, double x, double y)
{
    double diff = fabs(x - y);
    double limit = r->percent ? r->number / 100.0 * fmax(fabs(x), fabs(y)) : r->number;
    return diff <= limit;
}

static void diff_node(struct jsondiff *d, const cJSON *a, const cJSON *b, size_t depth, bool sticky)
{
    const struct rule *tol = NULL, *unord = NULL;
    size_t tol_i = 0;
    const uint64_t *m = d->masks + depth * d->k;
    for (size_t i = 0; d->levels[depth].hit && i < d->k; i++) {
        if (!m[i] || !jsonpath_state_matches(d->pr[i].path, m[i]))
            continue;
        const struct rule *r = d->pr[i].rule;
        if (r->kind == RULE_TOLERANCE && !tol) {
            tol = r;
            tol_i = i;
        } else if (r->kind == RULE_UNORDERED && !unord) {
            unord = r;
            d->counts[i]++;
        } else if (r->kind == RULE_REDACT) {
            sticky = true;
        }
    }
    int ta = jtype(a), tb = jtype(b);
    if (ta != tb) {
        emit_body(d, JSONDIFF_TYPE, a, b, depth, redacted_at(d, depth, sticky, a, b), false);
        return;
    }
    switch (ta) {
    case cJSON_False:
        if ((a->type & 0xff) != (b->type & 0xff))
            emit_body(d, JSONDIFF_VALUE, a, b, depth, sticky, false);
        return;
    case cJSON_NULL:
        return;
    case cJSON_Number:
        if (a->valuedouble == b->valuedouble)
            return;
        if (tol && within_tolerance(tol, a->valuedouble, b->valuedouble)) {
            d->counts[tol_i]++;
            return;
        }
        emit_body(d, JSONDIFF_VALUE, a, b, depth, redacted_at(d, depth, sticky, a, b), false);
        return;
    case cJSON_String:
        if (strcmp(a->valuestring ? a->valuestring : "", b->valuestring ? b->valuestring : "") != 0)
            emit_body(d, JSONDIFF_VALUE, a, b, depth, redacted_at(d, depth, sticky, a, b), false);
        return;
    case cJSON_Array:
        if (unord)
            diff_unordered(d, a, b, depth, sticky, unord);
        else
            diff_array(d, a, b, depth, sticky);
        return;
    case cJSON_Object:
        diff_object(d, a, b, depth, sticky);
        return;
    default:
        return;
    }
}

static void finish(struct jsondiff *d)
{
    /* Counters are shared by all threads: one atomic add per rule and call. */
    for (size_t i = 0; i < d->k; i++)
        if (d->counts[i]) {
            rules_count(d->pr[i].rule, d->counts[i]);
            d->counts[i] = 0;
        }
    for (size_t i = 0; i < d->n; i++) {
        d->v[i].path = d->off[i][0] == SIZE_MAX ? NULL : d->str.data + d->off[i][0];
        d->v[i].field = d->off[i][1] == SIZE_MAX ? NULL : d->str.data + d->off[i][1];
        d->v[i].pointer = d->off[i][2] == SIZE_MAX ? NULL : d->str.data + d->off[i][2];
    }
}

static void diff_root(struct jsondiff *d, const cJSON *left, const cJSON *right)
{
    ensure_depth(d, 0);
    d->levels[0].live = d->k > 0;
    d->levels[0].hit = false;
    for (size_t i = 0; i < d->k; i++) {
        d->masks[i] = jsonpath_start(d->pr[i].path);
        d->levels[0].hit |= jsonpath_state_matches(d->pr[i].path, d->masks[i]);
    }
    diff_node(d, left, right, 0, false);
}

size_t jsondiff_trees(struct jsondiff *d, const struct rules_view *view, const cJSON *left,
                      const cJSON *right)
{
    reset(d, view);
    diff_root(d, left, right);
    finish(d);
    return d->n;
}

static bool rule_names_header(const struct rules_view *view, enum rule_kind kind,
                              enum rule_target target, const char *name)
{
    if (!view)
        return false;
    for (size_t s = 0; s < view->nsec; s++)
        for (size_t r = 0; r < view->sec[s]->nrules; r++) {
            const struct rule *rule = view->sec[s]->rules[r];
            if (rule->kind != kind)
                continue;
            for (size_t a = 0; a < rule->nargs; a++)
                if (rule->args[a].target == target &&
                    (!name || strcmp(rule->args[a].name, name) == 0))
                    return true;
        }
    return false;
}

static void diff_headers(struct jsondiff *d, const struct rules_view *view,
                         const struct norm_response *l, const struct norm_response *r)
{
    size_t i = 0, j = 0;
    while (i < l->nheaders || j < r->nheaders) {
        int c = i == l->nheaders   ? 1
                : j == r->nheaders ? -1
                                   : strcmp(l->headers[i].name, r->headers[j].name);
        const char *name = c <= 0 ? l->headers[i].name : r->headers[j].name;
        struct jsondiff_entry *e = NULL;
        if (c < 0)
            e = emit_field(d, JSONDIFF_MISSING, "header.", name, l->headers[i].value, NULL, false);
        else if (c > 0)
            e = emit_field(d, JSONDIFF_EXTRA, "header.", name, NULL, r->headers[j].value, false);
        else if (strcmp(l->headers[i].value->valuestring, r->headers[j].value->valuestring) != 0)
            e = emit_field(d, JSONDIFF_VALUE, "header.", name, l->headers[i].value,
                           r->headers[j].value, false);
        if (e)
            e->redacted = rule_names_header(view, RULE_REDACT_HEADER, RULE_TARGET_HEADER, name);
        i += c <= 0;
        j += c >= 0;
    }
}

static void diff_body(struct jsondiff *d, const struct rules_view *view,
                      const struct norm_response *l, const struct norm_response *r)
{
    if (l->body_kind == NORM_BODY_JSON && r->body_kind == NORM_BODY_JSON) {
        diff_root(d, l->body, r->body);
        return;
    }
    enum jsondiff_kind kind;
    if (l->body_kind == r->body_kind) {
        if (l->body_kind == NORM_BODY_NONE ||
            strcmp(l->body->valuestring, r->body->valuestring) == 0)
            return;
        kind = JSONDIFF_VALUE;
    } else if (r->body_kind == NORM_BODY_NONE) {
        kind = JSONDIFF_MISSING;
    } else if (l->body_kind == NORM_BODY_NONE) {
        kind = JSONDIFF_EXTRA;
    } else {
        kind = JSONDIFF_TYPE;
    }
    struct jsondiff_entry *e = emit_field(d, kind, "", "body", l->body, r->body, true);
    bool json = l->body_kind == NORM_BODY_JSON || r->body_kind == NORM_BODY_JSON;
    e->redacted = rule_names_header(view, RULE_REDACT, RULE_TARGET_BODY, NULL) ||
                  (json && d->has_json_redact);
}

size_t jsondiff_responses(struct jsondiff *d, const struct rules_view *view,
                          const struct norm_response *left, const struct norm_response *right)
{
    reset(d, view);
    if (left->error != LEG_OK || right->error != LEG_OK) {
        if (left->error != right->error) {
            struct jsondiff_entry *e =
                emit_field(d, JSONDIFF_ERROR, "", "error", NULL, NULL, false);
            e->left_error = left->error;
            e->right_error = right->error;
        }
        finish(d);
        return d->n;
    }
    if (left->status && right->status && left->status->valuedouble != right->status->valuedouble)
        emit_field(d, JSONDIFF_VALUE, "", "status", left->status, right->status, false);
    diff_headers(d, view, left, right);
    diff_body(d, view, left, right);
    finish(d);
    return d->n;
}

/* ---- writers ------------------------------------------------------------ */

static void write_string(struct buf *out, const char *s)
{
    buf_append(out, "\"", 1);
    size_t run = 0;
    size_t i = 0;
    for (; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        buf_append(out, s + i - run, run);
        run = 0;
        switch (c) {
        case '"':
            buf_append(out, "\\\"", 2);
            break;
        case '\\':
            buf_append(out, "\\\\", 2);
            break;
        case '\n':
            buf_append(out, "\\n", 2);
            break;
        case '\r':
            buf_append(out, "\\r", 2);
            break;
        case '\t':
            buf_append(out, "\\t", 2);
            break;
        case '\b':
            buf_append(out, "\\b", 2);
            break;
        case '\f':
            buf_append(out, "\\f", 2);
            break;
        default:
            buf_printf(out, "\\u%04x", c);
            break;
        }
    }
    buf_append(out, s + i - run, run);
    buf_append(out, "\"", 1);
}

static void write_number(struct buf *out, double v)
{
    if (isinf(v)) {
        buf_puts(out, v > 0 ? "1e999" : "-1e999");
        return;
    }
    if (isnan(v)) {
        buf_puts(out, "null");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e21) {
        buf_printf(out, "%.0f", v);
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    buf_puts(out, tmp);
}

void jsondiff_write_value(struct buf *out, const cJSON *v)
{
    if (!v) {
        buf_puts(out, "null");
        return;
    }
    switch (v->type & 0xff) {
    case cJSON_False:
        buf_puts(out, "false");
        return;
    case cJSON_True:
        buf_puts(out, "true");
        return;
    case cJSON_NULL:
        buf_puts(out, "null");
        return;
    case cJSON_Number:
        write_number(out, v->valuedouble);
        return;
    case cJSON_String:
        write_string(out, v->valuestring ? v->valuestring : "");
        return;
    case cJSON_Array:
        buf_append(out, "[", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            jsondiff_write_value(out, c);
            if (c->next)
                buf_append(out, ",", 1);
        }
        buf_append(out, "]", 1);
        return;
    case cJSON_Object:
        buf_append(out, "{", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            write_string(out, c->string ? c->string : "");
            buf_append(out, ":", 1);
            jsondiff_write_value(out, c);
            if (c->next)
                buf_append(out, ",", 1);
        }
        buf_append(out, "}", 1);
        return;
    default:
        buf_puts(out, "null");
        return;
    }
}

static const char *error_name(enum leg_error e)
{
    return e == LEG_OK ? "ok" : leg_error_name(e);
}

void jsondiff_write_lines(const struct jsondiff *d, struct buf *out)
{
    for (size_t i = 0; i < d->n; i++) {
        const struct jsondiff_entry *e = &d->v[i];
        buf_puts(out, "{\"path\":");
        write_string(out, e->path);
        buf_puts(out, ",\"field\":");
        write_string(out, e->field);
        buf_printf(out, ",\"kind\":\"%s\"", jsondiff_kind_name(e->kind));
        switch (e->kind) {
        case JSONDIFF_LENGTH:
            buf_printf(out, ",\"left\":%zu,\"right\":%zu", e->left_len, e->right_len);
            break;
        case JSONDIFF_ERROR:
            buf_printf(out, ",\"left\":\"%s\",\"right\":\"%s\"", error_name(e->left_error),
                       error_name(e->right_error));
            break;
        default:
            if (e->kind != JSONDIFF_EXTRA) {
                buf_puts(out, ",\"left\":");
                jsondiff_write_value(out, e->left);
            }
            if (e->kind != JSONDIFF_MISSING) {
                buf_puts(out, ",\"right\":");
                jsondiff_write_value(out, e->right);
            }
            break;
        }
        buf_puts(out, "}\n");
    }
}

static void patch_op(struct buf *out, bool *first, const char *op, const char *ptr,
                     const char *suffix, const cJSON *value, bool with_value)
{
    buf_puts(out, *first ? "\n" : ",\n");
    *first = false;
    buf_printf(out, "{\"op\":\"%s\",\"path\":", op);
    struct buf p = {0};
    buf_puts(&p, ptr);
    if (suffix)
        buf_puts(&p, suffix);
    write_string(out, p.data);
    buf_free(&p);
    if (with_value) {
        buf_puts(out, ",\"value\":");
        jsondiff_write_value(out, value);
    }
    buf_puts(out, "}");
}

/* Length of the parent pointer when the last token is an array index. */
static size_t index_parent(const char *ptr)
{
    const char *slash = strrchr(ptr, '/');
    if (!slash || !slash[1])
        return SIZE_MAX;
    for (const char *c = slash + 1; *c; c++)
        if (*c < '0' || *c > '9')
            return SIZE_MAX;
    return (size_t)(slash - ptr);
}

void jsondiff_write_patch(const struct jsondiff *d, struct buf *out)
{
    bool first = true;
    buf_puts(out, "[");
    for (size_t i = 0; i < d->n; i++) {
        const struct jsondiff_entry *e = &d->v[i];
        if (!e->pointer || e->kind == JSONDIFF_ERROR)
            continue;
        bool root = e->pointer[0] == '\0';
        if (root) {
            /* The whole body changes: one replace of the document. */
            patch_op(out, &first, "replace", "", NULL, e->right, true);
            continue;
        }
        switch (e->kind) {
        case JSONDIFF_VALUE:
        case JSONDIFF_TYPE:
            patch_op(out, &first, "replace", e->pointer, NULL, e->right, true);
            break;
        case JSONDIFF_EXTRA:
            patch_op(out, &first, "add", e->pointer, NULL, e->right, true);
            break;
        case JSONDIFF_MISSING: {
            /* Elements removed from one array go last index first, so the
             * earlier indices stay valid. */
            size_t plen = index_parent(e->pointer);
            size_t j = i;
            while (plen != SIZE_MAX && j + 1 < d->n && d->v[j + 1].kind == JSONDIFF_MISSING &&
                   d->v[j + 1].pointer && index_parent(d->v[j + 1].pointer) == plen &&
                   strncmp(d->v[j + 1].pointer, e->pointer, plen) == 0)
                j++;
            for (size_t k = j + 1; k-- > i;)
                patch_op(out, &first, "remove", d->v[k].pointer, NULL, NULL, false);
            i = j;
            break;
        }
        case JSONDIFF_LENGTH: {
            char suffix[32];
            if (e->left_len > e->right_len) {
                for (size_t k = e->left_len; k-- > e->right_len;) {
                    snprintf(suffix, sizeof(suffix), "/%zu", k);
                    patch_op(out, &first, "remove", e->pointer, suffix, NULL, false);
                }
            } else {
                size_t k = 0;
                for (const cJSON *c = e->right->child; c; c = c->next, k++) {
                    if (k < e->left_len)
                        continue;
                    snprintf(suffix, sizeof(suffix), "/%zu", k);
                    patch_op(out, &first, "add", e->pointer, suffix, c, true);
                }
            }
            break;
        }
        default:
            break;
        }
    }
    buf_puts(out, first ? "]\n" : "\n]\n");
}

/* ---- patch application (tests and fuzzing) --------------------------------- */

/* Next reference token of a pointer, unescaped into tok; returns the rest. */
static const char *next_token(const char *p, struct buf *tok)
{
    buf_reset(tok);
    p++; /* '/' */
    while (*p && *p != '/') {
        if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
            buf_append(tok, p[1] == '0' ? "~" : "/", 1);
            p += 2;
            continue;
        }
        buf_append(tok, p, 1);
        p++;
    }
    if (!tok->data)
        buf_append(tok, "", 0);
    return p;
}

static bool parse_index(const char *s, size_t *out)
{
    if (!*s || (s[0] == '0' && s[1]))
        return false;
    size_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return true;
}

static cJSON *object_member(cJSON *obj, const char *key)
{
    for (cJSON *c = obj->child; c; c = c->next)
        if (strcmp(c->string ? c->string : "", key) == 0)
            return c;
    return NULL;
}

static int apply_op(cJSON **doc, const char *op, const char *path, const cJSON *value, char *err,
                    size_t errlen)
{
    if (path[0] == '\0') {
        if (strcmp(op, "remove") == 0)
            return errf(err, errlen, "cannot remove the document root");
        cJSON_Delete(*doc);
        *doc = cJSON_Duplicate(value, true);
        return 0;
    }
    if (path[0] != '/')
        return errf(err, errlen, "bad pointer \"%s\"", path);
    struct buf tok = {0};
    cJSON *parent = *doc;
    const char *p = path;
    int rc = -1;
    for (;;) {
        p = next_token(p, &tok);
        if (!*p)
            break;
        size_t idx;
        cJSON *child = NULL;
        if (cJSON_IsArray(parent) && parse_index(tok.data, &idx))
            child = cJSON_GetArrayItem(parent, (int)idx);
        else if (cJSON_IsObject(parent))
            child = object_member(parent, tok.data);
        if (!child) {
            errf(err, errlen, "pointer \"%s\" does not resolve", path);
            goto out;
        }
        parent = child;
    }
    bool add = strcmp(op, "add") == 0, rem = strcmp(op, "remove") == 0;
    if (cJSON_IsObject(parent)) {
        cJSON *old = object_member(parent, tok.data);
        if ((rem || !add) && !old) {
            errf(err, errlen, "no member at \"%s\"", path);
            goto out;
        }
        if (old)
            cJSON_Delete(cJSON_DetachItemViaPointer(parent, old));
        if (!rem)
            cJSON_AddItemToObject(parent, tok.data, cJSON_Duplicate(value, true));
    } else if (cJSON_IsArray(parent)) {
        size_t idx;
        int size = cJSON_GetArraySize(parent);
        if (add && strcmp(tok.data, "-") == 0) {
            cJSON_AddItemToArray(parent, cJSON_Duplicate(value, true));
        } else if (!parse_index(tok.data, &idx) || idx > (size_t)size ||
                   (!add && idx == (size_t)size)) {
            errf(err, errlen, "bad array index at \"%s\"", path);
            goto out;
        } else if (add) {
            cJSON_InsertItemInArray(parent, (int)idx, cJSON_Duplicate(value, true));
        } else if (rem) {
            cJSON_DeleteItemFromArray(parent, (int)idx);
        } else {
            cJSON_ReplaceItemInArray(parent, (int)idx, cJSON_Duplicate(value, true));
        }
    } else {
        errf(err, errlen, "pointer \"%s\" goes through a scalar", path);
        goto out;
    }
    rc = 0;
out:
    buf_free(&tok);
    return rc;
}

int jsondiff_apply_patch(cJSON **doc, const cJSON *patch, char *err, size_t errlen)
{
    if (!cJSON_IsArray(patch))
        return errf(err, errlen, "a patch is a JSON array");
    for (const cJSON *op = patch->child; op; op = op->next) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(op, "op");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(op, "path");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(op, "value");
        if (!cJSON_IsString(o) || !cJSON_IsString(p))
            return errf(err, errlen, "patch op without op or path");
        if (strcmp(o->valuestring, "remove") != 0 && !v)
            return errf(err, errlen, "%s without value", o->valuestring);
        if (strcmp(o->valuestring, "add") != 0 && strcmp(o->valuestring, "remove") != 0 &&
            strcmp(o->valuestring, "replace") != 0)
            return errf(err, errlen, "unsupported op \"%s\"", o->valuestring);
        if (apply_op(doc, o->valuestring, p->valuestring, v, err, errlen) == -1)
            return -1;
    }
    return 0;
}
