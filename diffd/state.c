/* State file: serialize statistics and samples, write atomically, restore. */
#include "state.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rules.h"
#include "samples.h"
#include "stats.h"
#include "util.h"

#define MAGIC "DIFFD-STATE 1 "

static void write_u64s(struct buf *b, const uint64_t *v, size_t n)
{
    buf_puts(b, "[");
    for (size_t i = 0; i < n; i++)
        buf_printf(b, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
    buf_puts(b, "]");
}

static void serialize(struct buf *b, const struct stats *s, const struct sample_store *samples,
                      const struct ruleset *rules)
{
    buf_puts(b, "{\"totals\":{\"received\":");
    buf_printf(b, "%llu,\"sampled\":%llu,\"compared\":%llu,\"skipped\":",
               (unsigned long long)s->totals_received, (unsigned long long)s->totals_sampled,
               (unsigned long long)s->totals_compared);
    write_u64s(b, s->totals_skipped, STATS_SKIPS);
    buf_puts(b, "},\"endpoints\":[");
    for (size_t i = 0; i < s->neps; i++) {
        const struct stats_endpoint *e = &s->eps[i];
        buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        buf_json_string(b, e->name, strlen(e->name));
        buf_printf(b,
                   ",\"received\":%llu,\"sampled\":%llu,\"compared\":%llu,\"differing_raw\":%llu,"
                   "\"differing_noise\":%llu,\"fields_dropped\":%llu,\"skipped\":",
                   (unsigned long long)e->received, (unsigned long long)e->sampled,
                   (unsigned long long)e->compared, (unsigned long long)e->differing_raw,
                   (unsigned long long)e->differing_noise, (unsigned long long)e->fields_dropped);
        write_u64s(b, e->skipped, STATS_SKIPS);
        buf_puts(b, ",\"status\":[");
        for (int r = 0; r < ROLE_COUNT; r++) {
            if (r)
                buf_puts(b, ",");
            write_u64s(b, e->status[r], STATUS_CLASSES);
        }
        buf_puts(b, "],\"hist\":[");
        for (int r = 0; r < ROLE_COUNT; r++) {
            if (r)
                buf_puts(b, ",");
            stats_write_hist(b, e->hist[r]);
        }
        buf_puts(b, "],\"fields\":[");
        for (size_t k = 0; k < e->nfields; k++) {
            const struct stats_field *f = &e->fields[k];
            buf_puts(b, k ? ",{\"path\":" : "{\"path\":");
            buf_json_string(b, f->path, strlen(f->path));
            buf_printf(b, ",\"raw\":%llu,\"noise\":%llu,\"kinds\":", (unsigned long long)f->raw,
                       (unsigned long long)f->noise);
            write_u64s(b, f->kinds, STATS_KINDS);
            buf_puts(b, ",\"noise_kinds\":");
            write_u64s(b, f->noise_kinds, STATS_KINDS);
            buf_puts(b, ",\"samples\":[");
            for (uint32_t j = 0; j < f->nsamples; j++) {
                if (j)
                    buf_puts(b, ",");
                buf_json_string(b, f->samples[j], strlen(f->samples[j]));
            }
            buf_puts(b, "]}");
        }
        buf_puts(b, "]}");
    }
    buf_puts(b, "],\"samples\":[");
    for (size_t i = 0; samples && i < samples->n; i++) {
        const struct sample *sm = &samples->v[i];
        buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
        buf_json_string(b, sm->id, strlen(sm->id));
        buf_puts(b, ",\"endpoint\":");
        buf_json_string(b, sm->endpoint, strlen(sm->endpoint));
        buf_puts(b, ",\"doc\":");
        buf_puts(b, sm->json); /* already a JSON document */
        buf_puts(b, "}");
    }
    buf_puts(b, "],\"rules\":[");
    bool first = true;
    for (size_t i = 0; rules && i < rules_rule_count(rules); i++) {
        struct rules_rule_info ri;
        rules_rule_info(rules, i, &ri);
        if (!ri.matched)
            continue;
        buf_puts(b, first ? "{\"file\":" : ",{\"file\":");
        first = false;
        buf_json_string(b, ri.file, strlen(ri.file));
        buf_printf(b, ",\"line\":%u,\"text\":", ri.line);
        buf_json_string(b, ri.text, strlen(ri.text));
        buf_printf(b, ",\"matched\":%llu}", (unsigned long long)ri.matched);
    }
    buf_puts(b, "]}\n");
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int state_save(const char *path, const struct stats *s, const struct sample_store *samples,
               const struct ruleset *rules, char *err, size_t errlen)
{
    struct buf body = {0};
    serialize(&body, s, samples, rules);
    char header[96];
    int hlen = snprintf(header, sizeof(header), MAGIC "%zu %08lx\n", body.len,
                        crc32(0L, (const Bytef *)body.data, (uInt)body.len));
    char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1) {
        errf(err, errlen, "state file %s: cannot create %s: %s", path, tmp, strerror(errno));
        goto out;
    }
    if (write_all(fd, header, (size_t)hlen) == -1 || write_all(fd, body.data, body.len) == -1 ||
        fsync(fd) == -1) {
        errf(err, errlen, "state file %s: cannot write %s: %s", path, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) == -1) {
        errf(err, errlen, "state file %s: cannot rename %s into place: %s", path, tmp,
             strerror(errno));
        unlink(tmp);
        goto out;
    }
    /* Make the rename itself durable. */
    char *dir = xstrdup(path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd != -1) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    rc = 0;
out:
    free(tmp);
    buf_free(&body);
    return rc;
}

/* ---- loading ------------------------------------------------------------------ */

static int get_u64(const cJSON *o, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0)
        return -1;
    *out = (uint64_t)v->valuedouble;
    return 0;
}

/* Adds the n counters of arr to out; an array of min..n entries is taken
 * (counters added since the file was written are 0 in it). */
static int get_u64s_since(const cJSON *arr, uint64_t *out, size_t min, size_t n)
{
    size_t have = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
    if (!cJSON_IsArray(arr) || have < min || have > n)
        return -1;
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0)
            return -1;
        out[i++] += (uint64_t)v->valuedouble;
    }
    return 0;
}

static int get_u64s(const cJSON *arr, uint64_t *out, size_t n)
{
    return get_u64s_since(arr, out, n, n);
}

/* skipped.analysis came with format 1's analysis threads: older files have
 * the first three reasons only. */
static int get_skipped(const cJSON *arr, uint64_t *out)
{
    return get_u64s_since(arr, out, STATS_SKIP_ANALYSIS, STATS_SKIPS);
}

static int load_endpoint(struct stats *s, const cJSON *je)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(je, "name");
    if (!cJSON_IsString(name))
        return -1;
    struct stats_endpoint tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (get_u64(je, "received", &tmp.received) || get_u64(je, "sampled", &tmp.sampled) ||
        get_u64(je, "compared", &tmp.compared) ||
        get_u64(je, "differing_raw", &tmp.differing_raw) ||
        get_u64(je, "differing_noise", &tmp.differing_noise) ||
        get_u64(je, "fields_dropped", &tmp.fields_dropped) ||
        get_skipped(cJSON_GetObjectItemCaseSensitive(je, "skipped"), tmp.skipped))
        return -1;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(je, "status");
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(je, "hist");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(je, "fields");
    if (cJSON_GetArraySize(status) != ROLE_COUNT || cJSON_GetArraySize(hist) != ROLE_COUNT ||
        !cJSON_IsArray(fields))
        return -1;
    for (int r = 0; r < ROLE_COUNT; r++)
        if (get_u64s(cJSON_GetArrayItem(status, r), tmp.status[r], STATUS_CLASSES))
            return -1;

    struct stats_endpoint *e = stats_endpoint(s, name->valuestring);
    e->received += tmp.received;
    e->sampled += tmp.sampled;
    e->compared += tmp.compared;
    e->differing_raw += tmp.differing_raw;
    e->differing_noise += tmp.differing_noise;
    e->fields_dropped += tmp.fields_dropped;
    for (int k = 0; k < STATS_SKIPS; k++)
        e->skipped[k] += tmp.skipped[k];
    for (int r = 0; r < ROLE_COUNT; r++) {
        for (int c = 0; c < STATUS_CLASSES; c++)
            e->status[r][c] += tmp.status[r][c];
        const cJSON *pair;
        cJSON_ArrayForEach(pair, cJSON_GetArrayItem(hist, r))
        {
            const cJSON *bk = cJSON_GetArrayItem(pair, 0), *ct = cJSON_GetArrayItem(pair, 1);
            if (!cJSON_IsNumber(bk) || !cJSON_IsNumber(ct) || bk->valueint < 0 ||
                bk->valueint >= STATS_HIST_BUCKETS || ct->valuedouble < 0)
                return -1;
            if (!e->hist[r])
                e->hist[r] = xcalloc(STATS_HIST_BUCKETS, sizeof(uint32_t));
            e->hist[r][bk->valueint] += (uint32_t)ct->valuedouble;
        }
    }
    const cJSON *jf;
    cJSON_ArrayForEach(jf, fields)
    {
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(jf, "path");
        uint64_t raw, noise, kinds[STATS_KINDS] = {0}, nkinds[STATS_KINDS] = {0};
        if (!cJSON_IsString(path) || get_u64(jf, "raw", &raw) || get_u64(jf, "noise", &noise) ||
            get_u64s(cJSON_GetObjectItemCaseSensitive(jf, "kinds"), kinds, STATS_KINDS) ||
            get_u64s(cJSON_GetObjectItemCaseSensitive(jf, "noise_kinds"), nkinds, STATS_KINDS))
            return -1;
        struct stats_field *f = stats_field_get(e, path->valuestring);
        if (!f) {
            e->fields_dropped += raw + noise;
            continue;
        }
        f->raw += raw;
        f->noise += noise;
        for (int k = 0; k < STATS_KINDS; k++) {
            f->kinds[k] += kinds[k];
            f->noise_kinds[k] += nkinds[k];
        }
        const cJSON *id;
        cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(jf, "samples"))
        {
            if (!cJSON_IsString(id))
                return -1;
            stats_field_add_sample(s, f, id->valuestring);
        }
    }
    return 0;
}

/* Rule match counts: checked whole before any is applied. A file written
 * before they were saved has none. */
static int load_rule_counts(const cJSON *arr, const struct ruleset *rules)
{
    if (!arr)
        return 0;
    if (!cJSON_IsArray(arr))
        return -1;
    const cJSON *jr;
    cJSON_ArrayForEach(jr, arr)
    {
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(jr, "file");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(jr, "text");
        uint64_t line, matched;
        if (!cJSON_IsString(file) || !cJSON_IsString(text) || get_u64(jr, "line", &line) ||
            line > UINT_MAX || get_u64(jr, "matched", &matched))
            return -1;
    }
    cJSON_ArrayForEach(jr, arr)
    {
        uint64_t line = 0, matched = 0;
        get_u64(jr, "line", &line);
        get_u64(jr, "matched", &matched);
        rules_add_matched(rules, cJSON_GetObjectItemCaseSensitive(jr, "file")->valuestring,
                          (unsigned)line, cJSON_GetObjectItemCaseSensitive(jr, "text")->valuestring,
                          matched);
    }
    return 0;
}

static int load_doc(const cJSON *doc, struct stats *s, struct sample_store *samples,
                    const struct ruleset *rules)
{
    const cJSON *totals = cJSON_GetObjectItemCaseSensitive(doc, "totals");
    uint64_t rec, sam, cmp, skipped[STATS_SKIPS] = {0};
    if (get_u64(totals, "received", &rec) || get_u64(totals, "sampled", &sam) ||
        get_u64(totals, "compared", &cmp) ||
        get_skipped(cJSON_GetObjectItemCaseSensitive(totals, "skipped"), skipped))
        return -1;
    s->totals_received += rec;
    s->totals_sampled += sam;
    s->totals_compared += cmp;
    for (int k = 0; k < STATS_SKIPS; k++)
        s->totals_skipped[k] += skipped[k];
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(doc, "endpoints");
    if (!cJSON_IsArray(eps))
        return -1;
    const cJSON *je;
    cJSON_ArrayForEach(je, eps)
    {
        if (load_endpoint(s, je) == -1)
            return -1;
    }
    const cJSON *sm;
    cJSON_ArrayForEach(sm, cJSON_GetObjectItemCaseSensitive(doc, "samples"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(sm, "id");
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(sm, "endpoint");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(sm, "doc");
        if (!cJSON_IsString(id) || !cJSON_IsString(ep) || !cJSON_IsObject(d))
            return -1;
        char *json = cJSON_PrintUnformatted(d);
        if (!json)
            return -1;
        samples_put(samples, id->valuestring, ep->valuestring, xstrdup(json));
        cJSON_free(json);
    }
    return load_rule_counts(cJSON_GetObjectItemCaseSensitive(doc, "rules"), rules);
}

int state_load(const char *path, struct stats *s, struct sample_store *samples,
               const struct ruleset *rules, char *err, size_t errlen)
{
    if (access(path, F_OK) == -1 && errno == ENOENT)
        return 1;
    struct buf b = {0};
    int rc = -1;
    cJSON *doc = NULL;
    char why[512];
    if (buf_read_file(&b, path, why, sizeof(why)) == -1) {
        errf(err, errlen, "state file %s", why);
        goto out;
    }
    size_t mlen = strlen(MAGIC);
    unsigned long long len = 0;
    unsigned long crc = 0;
    char *nl = b.data ? memchr(b.data, '\n', b.len) : NULL;
    if (!nl || b.len < mlen || memcmp(b.data, MAGIC, mlen) != 0 ||
        sscanf(b.data + mlen, "%llu %lx", &len, &crc) != 2) {
        errf(err, errlen,
             "state file %s is not a diffd state file (bad header); move it away or start "
             "with --reset-state",
             path);
        goto out;
    }
    const char *body = nl + 1;
    size_t blen = b.len - (size_t)(body - b.data);
    if (blen != len || crc32(0L, (const Bytef *)body, (uInt)blen) != crc) {
        errf(err, errlen, "state file %s is corrupt (%s); move it away or start with --reset-state",
             path, blen != len ? "truncated or extended" : "checksum mismatch");
        goto out;
    }
    doc = cJSON_ParseWithLength(body, blen);
    if (!doc || load_doc(doc, s, samples, rules) == -1) {
        errf(err, errlen,
             "state file %s has an invalid document; move it away or start with --reset-state",
             path);
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(doc);
    buf_free(&b);
    return rc;
}
