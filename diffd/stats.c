/* Statistics shards: endpoints and fields in open-addressing hash tables,
 * fixed-size latency histograms, exact merging. */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

#include "regress.h"
#include "util.h"

static size_t hash_str(const char *s)
{
    return (size_t)hash64(s, strlen(s));
}

/* ---- endpoints ----------------------------------------------------------- */

static void index_rebuild(size_t **index, size_t *cap, size_t n,
                          const char *(*name_at)(void *, size_t), void *ctx)
{
    size_t newcap = *cap ? *cap : 16;
    while (newcap < n * 2 + 2)
        newcap *= 2;
    free(*index);
    *index = xcalloc(newcap, sizeof(**index));
    *cap = newcap;
    for (size_t i = 0; i < n; i++) {
        size_t h = hash_str(name_at(ctx, i)) & (newcap - 1);
        while ((*index)[h])
            h = (h + 1) & (newcap - 1);
        (*index)[h] = i + 1;
    }
}

static const char *ep_name_at(void *ctx, size_t i)
{
    return ((struct stats *)ctx)->eps[i].name;
}

static const char *field_name_at(void *ctx, size_t i)
{
    return ((struct stats_endpoint *)ctx)->fields[i].path;
}

struct stats *stats_new(size_t max_endpoints, size_t samples_per_field)
{
    struct stats *s = xcalloc(1, sizeof(*s));
    s->max_endpoints = max_endpoints ? max_endpoints : 1;
    s->samples_per_field = samples_per_field;
    return s;
}

static void field_free(struct stats_field *f)
{
    free(f->path);
    for (uint32_t i = 0; i < f->nsamples; i++)
        free(f->samples[i]);
    free(f->samples);
}

static void endpoint_free(struct stats_endpoint *e)
{
    free(e->name);
    for (int r = 0; r < ROLE_COUNT; r++)
        free(e->hist[r]);
    for (size_t i = 0; i < e->nfields; i++)
        field_free(&e->fields[i]);
    free(e->fields);
    free(e->field_index);
}

void stats_reset(struct stats *s)
{
    for (size_t i = 0; i < s->neps; i++)
        endpoint_free(&s->eps[i]);
    free(s->eps);
    free(s->index);
    size_t max = s->max_endpoints, spf = s->samples_per_field;
    memset(s, 0, sizeof(*s));
    s->max_endpoints = max;
    s->samples_per_field = spf;
}

void stats_free(struct stats *s)
{
    if (!s)
        return;
    stats_reset(s);
    free(s);
}

struct stats_endpoint *stats_find_endpoint(const struct stats *s, const char *name)
{
    if (!s->index_cap)
        return NULL;
    size_t h = hash_str(name) & (s->index_cap - 1);
    while (s->index[h]) {
        struct stats_endpoint *e = &s->eps[s->index[h] - 1];
        if (strcmp(e->name, name) == 0)
            return e;
        h = (h + 1) & (s->index_cap - 1);
    }
    return NULL;
}

static struct stats_endpoint *endpoint_add(struct stats *s, const char *name)
{
    if (s->neps == s->capeps) {
        s->capeps = s->capeps ? s->capeps * 2 : 16;
        s->eps = xrealloc(s->eps, s->capeps * sizeof(*s->eps));
    }
    struct stats_endpoint *e = &s->eps[s->neps++];
    memset(e, 0, sizeof(*e));
    e->name = xstrdup(name);
    if (s->neps * 2 + 2 > s->index_cap) {
        index_rebuild(&s->index, &s->index_cap, s->neps, ep_name_at, s);
    } else {
        size_t h = hash_str(name) & (s->index_cap - 1);
        while (s->index[h])
            h = (h + 1) & (s->index_cap - 1);
        s->index[h] = s->neps;
    }
    return e;
}

struct stats_endpoint *stats_endpoint(struct stats *s, const char *name)
{
    struct stats_endpoint *e = stats_find_endpoint(s, name);
    if (e)
        return e;
    /* OTHER does not count against the limit. */
    size_t named = s->neps - (stats_find_endpoint(s, STATS_OTHER) ? 1 : 0);
    if (named < s->max_endpoints || strcmp(name, STATS_OTHER) == 0)
        return endpoint_add(s, name);
    e = stats_find_endpoint(s, STATS_OTHER);
    return e ? e : endpoint_add(s, STATS_OTHER);
}

void stats_count_received(struct stats *s, struct stats_endpoint *e)
{
    s->totals_received++;
    e->received++;
}

void stats_count_sampled(struct stats *s, struct stats_endpoint *e)
{
    s->totals_sampled++;
    e->sampled++;
}

const char *stats_skip_name(enum stats_skip why)
{
    static const char *const names[STATS_SKIPS] = {"side_effect", "overload", "rule", "analysis"};
    return why >= 0 && why < STATS_SKIPS ? names[why] : "?";
}

void stats_count_skipped(struct stats *s, struct stats_endpoint *e, enum stats_skip why)
{
    s->totals_skipped[why]++;
    e->skipped[why]++;
}

/* ---- fields -------------------------------------------------------------- */

static struct stats_field *field_find(const struct stats_endpoint *e, const char *path)
{
    if (!e->field_index_cap)
        return NULL;
    size_t h = hash_str(path) & (e->field_index_cap - 1);
    while (e->field_index[h]) {
        struct stats_field *f = &e->fields[e->field_index[h] - 1];
        if (strcmp(f->path, path) == 0)
            return f;
        h = (h + 1) & (e->field_index_cap - 1);
    }
    return NULL;
}

struct stats_field *stats_find_field(const struct stats_endpoint *e, const char *path)
{
    return field_find(e, path);
}

/* The field, created if the endpoint has room; NULL past STATS_MAX_FIELDS. */
static struct stats_field *field_get(struct stats_endpoint *e, const char *path)
{
    struct stats_field *f = field_find(e, path);
    if (f || e->nfields >= STATS_MAX_FIELDS)
        return f;
    if (e->nfields == e->capfields) {
        e->capfields = e->capfields ? e->capfields * 2 : 8;
        e->fields = xrealloc(e->fields, e->capfields * sizeof(*e->fields));
    }
    f = &e->fields[e->nfields++];
    memset(f, 0, sizeof(*f));
    f->path = xstrdup(path);
    if (e->nfields * 2 + 2 > e->field_index_cap) {
        index_rebuild(&e->field_index, &e->field_index_cap, e->nfields, field_name_at, e);
    } else {
        size_t h = hash_str(path) & (e->field_index_cap - 1);
        while (e->field_index[h])
            h = (h + 1) & (e->field_index_cap - 1);
        e->field_index[h] = e->nfields;
    }
    return f;
}

struct stats_field *stats_field_get(struct stats_endpoint *e, const char *path)
{
    return field_get(e, path);
}

void stats_trial_begin(struct stats *s, struct stats_endpoint *e)
{
    (void)e;
    s->trial_seq++;
}

struct stats_field *stats_trial_diff(struct stats *s, struct stats_endpoint *e, bool noise,
                                     const char *field, int kind)
{
    struct stats_field *f = field_get(e, field);
    if (!f) {
        e->fields_dropped++;
        return NULL;
    }
    uint64_t *seen = noise ? &f->seen_noise : &f->seen_raw;
    uint8_t *mask = noise ? &f->kinds_noise_mask : &f->kinds_raw_mask;
    if (*seen != s->trial_seq) {
        *seen = s->trial_seq;
        *mask = 0;
        if (noise)
            f->noise++;
        else
            f->raw++;
    }
    if (kind >= 0 && kind < STATS_KINDS && !(*mask & (1u << kind))) {
        *mask |= (uint8_t)(1u << kind);
        if (noise)
            f->noise_kinds[kind]++;
        else
            f->kinds[kind]++;
    }
    return f;
}

void stats_trial_end(struct stats *s, struct stats_endpoint *e, bool differing_raw,
                     bool differing_noise)
{
    s->totals_compared++;
    e->compared++;
    e->differing_raw += differing_raw;
    e->differing_noise += differing_noise;
}

void stats_leg(struct stats_endpoint *e, int role, int status, bool failed, uint64_t latency_us)
{
    e->status[role][status_class_of(status, failed)]++;
    if (failed)
        return;
    if (!e->hist[role])
        e->hist[role] = xcalloc(STATS_HIST_BUCKETS, sizeof(uint32_t));
    size_t b = regress_bucket_of(latency_us);
    e->hist[role][b < STATS_HIST_BUCKETS ? b : STATS_HIST_BUCKETS - 1]++;
}

bool stats_field_wants_sample(const struct stats *s, const struct stats_field *f)
{
    return f->nsamples < s->samples_per_field;
}

bool stats_field_add_sample(const struct stats *s, struct stats_field *f, const char *id)
{
    if (!stats_field_wants_sample(s, f))
        return false;
    for (uint32_t i = 0; i < f->nsamples; i++)
        if (strcmp(f->samples[i], id) == 0)
            return false;
    f->samples = xrealloc(f->samples, (f->nsamples + 1) * sizeof(*f->samples));
    f->samples[f->nsamples++] = xstrdup(id);
    return true;
}

void stats_write_hist(struct buf *b, const uint32_t *h)
{
    buf_puts(b, "[");
    bool first = true;
    for (int k = 0; h && k < STATS_HIST_BUCKETS; k++)
        if (h[k]) {
            buf_printf(b, "%s[%d,%u]", first ? "" : ",", k, h[k]);
            first = false;
        }
    buf_puts(b, "]");
}

/* ---- merging --------------------------------------------------------------- */

static void merge_endpoint(const struct stats *dst, struct stats_endpoint *d,
                           const struct stats_endpoint *e)
{
    d->received += e->received;
    d->sampled += e->sampled;
    d->compared += e->compared;
    for (int k = 0; k < STATS_SKIPS; k++)
        d->skipped[k] += e->skipped[k];
    d->differing_raw += e->differing_raw;
    d->differing_noise += e->differing_noise;
    d->fields_dropped += e->fields_dropped;
    for (int r = 0; r < ROLE_COUNT; r++) {
        for (int c = 0; c < STATUS_CLASSES; c++)
            d->status[r][c] += e->status[r][c];
        if (!e->hist[r])
            continue;
        if (!d->hist[r])
            d->hist[r] = xcalloc(STATS_HIST_BUCKETS, sizeof(uint32_t));
        for (int b = 0; b < STATS_HIST_BUCKETS; b++)
            d->hist[r][b] += e->hist[r][b];
    }
    for (size_t i = 0; i < e->nfields; i++) {
        const struct stats_field *f = &e->fields[i];
        struct stats_field *g = field_get(d, f->path);
        if (!g) {
            /* Over the cap: these differences are counted, not listed. */
            d->fields_dropped += f->raw + f->noise;
            continue;
        }
        g->raw += f->raw;
        g->noise += f->noise;
        for (int k = 0; k < STATS_KINDS; k++) {
            g->kinds[k] += f->kinds[k];
            g->noise_kinds[k] += f->noise_kinds[k];
        }
        for (uint32_t k = 0; k < f->nsamples; k++)
            stats_field_add_sample(dst, g, f->samples[k]);
    }
}

void stats_merge(struct stats *dst, const struct stats *src)
{
    dst->totals_received += src->totals_received;
    dst->totals_sampled += src->totals_sampled;
    dst->totals_compared += src->totals_compared;
    for (int k = 0; k < STATS_SKIPS; k++)
        dst->totals_skipped[k] += src->totals_skipped[k];
    for (size_t i = 0; i < src->neps; i++) {
        const struct stats_endpoint *e = &src->eps[i];
        merge_endpoint(dst, stats_endpoint(dst, e->name), e);
    }
}
